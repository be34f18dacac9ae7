// The error catalog: every code documented in docs/errors.md, with the status and retryable flag the code has.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CATALOG, GatewayError, toEnvelope } from '../src/errors.js';
import { ROOT } from './helpers/fixtures.js';

describe('error catalog', () => {
  const doc = readFileSync(path.join(ROOT, 'docs/errors.md'), 'utf8');
  const rows = new Map(
    [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \| (yes|no|usually) \|/gm)].map((m) => [m[1], { status: Number(m[2]), retryable: m[3] }]),
  );

  it('documents exactly the codes of src/errors.ts, with their HTTP status', () => {
    assert.deepEqual([...rows.keys()].sort(), Object.keys(CATALOG).sort());
    for (const [code, entry] of Object.entries(CATALOG)) {
      assert.equal(rows.get(code)?.status, entry.status, code);
      if (rows.get(code)?.retryable !== 'usually') assert.equal(rows.get(code)?.retryable === 'yes', entry.retryable, code);
    }
  });

  it('builds the envelope with optional fields only when present', () => {
    const plain = toEnvelope(new GatewayError('NOT_FOUND'), 'r1');
    assert.deepEqual(plain, { error: { code: 'NOT_FOUND', message: CATALOG.NOT_FOUND.message, retryable: false, requestId: 'r1' } });
    const full = toEnvelope(
      new GatewayError('VALIDATION_FAILED', { platformCode: '123023', details: [{ field: 'targets', message: 'm', platformCode: '123023' }] }),
      'r2',
    );
    assert.equal(full.error.platformCode, '123023');
    assert.equal(full.error.details?.length, 1);
  });
});
