// The error catalogs: docs/errors.md against src/errors.ts, docs/platform-codes.md against the platform-code catalog, and the one envelope builder.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FAMILIES } from '../src/families/index.js';
import { UPGRADE_CODES } from '../src/families/upgrade/codes.js';
import { buildEnvelope, CATALOG, GatewayError, toEnvelope, type ErrorCode } from '../src/errors.js';
import { COMMON_CODES, createCodeCatalog, PLATFORM_CODE, type CodeMeaning } from '../src/platform/codes.js';
import { ROOT, ROUTES } from './helpers/fixtures.js';
import { validationCases } from './validation-cases.js';

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

  it('builds a replayed envelope (stored fields) exactly like a live one, with the new request id', () => {
    const err = new GatewayError('UPSTREAM_ERROR', { platformCode: '100001', message: 'm' });
    const stored = JSON.parse(JSON.stringify({ error: toEnvelope(err, 'first').error })).error;
    delete stored.requestId;
    assert.deepEqual(buildEnvelope(stored, 'second'), toEnvelope(err, 'second'));
    // Records written before the builder existed may hold `platformCode: undefined` or empty details.
    assert.deepEqual(buildEnvelope({ code: 'CONFLICT', message: 'x', retryable: true, platformCode: undefined, details: [] }, 'r'), {
      error: { code: 'CONFLICT', message: 'x', retryable: true, requestId: 'r' },
    });
  });
});

// ---- Platform codes ---------------------------------------------------------------------------------------

interface DocRow {
  platformCode: string;
  family: string;
  meaning: string;
  code: string;
  status: number;
  retryable: boolean;
}

function documentedCodes(): DocRow[] {
  const text = readFileSync(path.join(ROOT, 'docs/platform-codes.md'), 'utf8');
  const section = text.split(/^## /m).find((s) => s.startsWith('By platform code'));
  assert.ok(section, 'docs/platform-codes.md has a "By platform code" section');
  return section
    .split('\n')
    .filter((line) => /^\| \d+ \|/.test(line))
    .map((line) => {
      const cells = line.split('|').map((c) => c.trim());
      // | code | family | meaning | description | source | `gateway code` | HTTP | retryable |
      const [, platformCode, family, meaning, , , code, status, retryable] = cells;
      const unquote = (s: string | undefined) => (s ?? '').replace(/`/g, '');
      return {
        platformCode: platformCode as string,
        family: family as string,
        meaning: unquote(meaning),
        code: unquote(code),
        status: Number(status),
        retryable: retryable === 'yes',
      };
    });
}

describe('platform codes: docs/platform-codes.md and the catalog', () => {
  const catalog = createCodeCatalog(FAMILIES);

  it('list the same codes, each once', () => {
    const rows = documentedCodes();
    const codes = rows.map((r) => r.platformCode);
    assert.equal(new Set(codes).size, codes.length, 'no code documented twice');
    assert.deepEqual([...codes].sort(), catalog.entries().map(([c]) => c).sort());
  });

  it('agree on the family, meaning, gateway code, HTTP status and retryable of every code', () => {
    for (const row of documentedCodes()) {
      const entry = catalog.lookup(row.platformCode);
      const mapped = catalog.map(row.platformCode);
      assert.deepEqual(
        { family: entry?.family, meaning: entry?.meaning, code: mapped.code, status: CATALOG[mapped.code].status, retryable: mapped.retryable },
        { family: row.family, meaning: row.meaning, code: row.code, status: row.status, retryable: row.retryable },
        row.platformCode,
      );
    }
  });

  it('follow the mapping of the issue', () => {
    const expect = (codes: string[], code: ErrorCode, retryable: boolean) => {
      for (const c of codes) assert.deepEqual([c, catalog.map(c).code, catalog.map(c).retryable], [c, code, retryable]);
    };
    expect(['123002', '100403', '100418'], 'NOT_FOUND', false);
    expect(
      [
        ...['120015', '50400', '100022', '100405', '100216', '123016', '123019', '123020', '123021'],
        ...['123022', '123023', '123024', '123025', '123026', '123028', '123029', '123032', '123033', '123034'],
      ],
      'VALIDATION_FAILED',
      false,
    );
    expect(['1010009'], 'RATE_LIMITED', true);
    // 102202 (a login or refresh field empty: the gateway's own credentials) is a refused login; see codes.ts.
    expect(['1010005', '100208', '100247', '100025', '102202'], 'UPSTREAM_AUTH_FAILED', false);
    expect(['100001', '50252', '100023', '100220', '101016'], 'UPSTREAM_ERROR', true);
    assert.equal(CATALOG[catalog.map('1010009').code].status, 429);
  });

  it('answer an unknown code, even a prototype key, with UPSTREAM_ERROR', () => {
    for (const unknown of ['999999', '', 'constructor', '__proto__', 'toString']) {
      const mapped = catalog.map(unknown);
      assert.equal(mapped.code, 'UPSTREAM_ERROR', unknown);
      assert.equal(mapped.retryable, true);
      assert.equal(typeof mapped.message, 'string');
      assert.equal(catalog.lookup(unknown), undefined, unknown);
    }
  });

  it('know every code a route declares or a schema can answer', () => {
    for (const spec of ROUTES) {
      for (const code of spec.platformErrorCodes ?? []) assert.ok(catalog.lookup(code), `${spec.id}: ${code}`);
    }
    for (const c of validationCases) {
      for (const code of c.platformCodes) assert.equal(catalog.map(code).code, 'VALIDATION_FAILED', code);
    }
  });

  it('maps each meaning to its gateway code, with the message of the code table', () => {
    const expected: Record<CodeMeaning, ErrorCode> = {
      'credentials-refused': 'UPSTREAM_AUTH_FAILED',
      'token-invalid': 'UPSTREAM_AUTH_FAILED',
      throttled: 'RATE_LIMITED',
      'not-found': 'NOT_FOUND',
      conflict: 'CONFLICT',
      'invalid-input': 'VALIDATION_FAILED',
      'platform-failure': 'UPSTREAM_ERROR',
    };
    const probe = createCodeCatalog([
      {
        name: 'probe',
        codes: Object.fromEntries(Object.keys(expected).map((m, i) => [`99900${i}`, { meaning: m as CodeMeaning, message: `msg ${m}` }])),
      },
    ]);
    Object.keys(expected).forEach((m, i) => {
      const mapped = probe.map(`99900${i}`);
      assert.equal(mapped.code, expected[m as CodeMeaning], m);
      assert.equal(mapped.message, `msg ${m}`, 'the message comes from the code table');
    });
    // A platform conflict is no "Idempotency-Key in progress": not the catalog's message, and not retryable.
    assert.notEqual(probe.map('999004').message, CATALOG.CONFLICT.message);
    assert.equal(probe.map('999004').retryable, false);
  });

  it('names every code the logic branches on, with the meaning the logic expects', () => {
    assert.equal(catalog.lookup(PLATFORM_CODE.TOKEN_INVALID)?.meaning, 'token-invalid');
    assert.equal(catalog.lookup(PLATFORM_CODE.THROTTLED)?.meaning, 'throttled');
    for (const c of [PLATFORM_CODE.CREDENTIALS_REFUSED, PLATFORM_CODE.APP_FROZEN, PLATFORM_CODE.REQUIRED_PARAMETER_MISSING, PLATFORM_CODE.APP_ID_MISSING]) {
      assert.equal(catalog.lookup(c)?.meaning, 'credentials-refused', c);
    }
    for (const c of Object.values(PLATFORM_CODE)) assert.equal(catalog.lookup(c)?.family, 'common', c);
  });

  it('puts the common codes in family "common" and the upgrade codes in their family', () => {
    for (const c of Object.keys(COMMON_CODES)) assert.equal(catalog.lookup(c)?.family, 'common');
    for (const c of Object.keys(UPGRADE_CODES)) assert.equal(catalog.lookup(c)?.family, 'device-upgrade');
  });

  it('refuses to start with a code defined twice with different meanings; the same meaning twice keeps the first', () => {
    assert.throws(
      () => createCodeCatalog([{ name: 'devices', codes: { [PLATFORM_CODE.THROTTLED]: { meaning: 'not-found', message: 'x' } } }]),
      /platform code 1010009: defined as throttled by common and as not-found by devices/,
    );
    assert.throws(
      () =>
        createCodeCatalog([
          { name: 'a', codes: { '999999': { meaning: 'conflict', message: 'x' } } },
          { name: 'b', codes: { '999999': { meaning: 'conflict', message: 'y', retryable: true } } },
        ]),
      /999999/,
      'another retryable flag would answer differently too',
    );
    const twice = createCodeCatalog([{ name: 'devices', codes: { '100403': { meaning: 'not-found', message: 'No such device here.' } } }]);
    assert.equal(twice.lookup('100403')?.family, 'common');
    assert.equal(twice.map('100403').message, COMMON_CODES['100403']?.message);
  });
});
