// Credentials never reach the log output: the field-name censor that replaced pino's path redaction (issue 15), checked on what pino really writes.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import express from 'express';
import fc from 'fast-check';
import request from 'supertest';
import { requestContext } from '../src/http/request-context.js';
import { createMetrics } from '../src/metrics.js';
import { CENSOR, censorSecrets, createLogger, SENSITIVE_FIELDS } from '../src/logger.js';

function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, logger: createLogger('debug', sink) };
}

const SECRET = 'sUp3r-s3cret-value-0123456789';

describe('logs: credentials censored by field name', () => {
  it('returns an object without sensitive fields as it is (the access log line costs one look per key)', () => {
    const line = { method: 'GET', path: '/apps/a/packages', route: 'listPackages', status: 429, ms: 0.7, nested: { a: [1, { b: 2 }] } };
    assert.equal(censorSecrets(line), line);
  });

  it('censors each sensitive name at the first three levels, copying only what it changes', () => {
    const given = {
      secret: SECRET,
      app: { appId: 'a', secret: SECRET },
      req: { headers: { 'x-api-key': SECRET, authorization: `Bearer ${SECRET}`, accept: 'json' } },
      tokens: [{ accessToken: SECRET, refreshToken: SECRET }],
      untouched: { x: 1 },
    };
    const out = censorSecrets(given);
    assert.deepEqual(out, {
      secret: CENSOR,
      app: { appId: 'a', secret: CENSOR },
      req: { headers: { 'x-api-key': CENSOR, authorization: CENSOR, accept: 'json' } },
      tokens: [{ accessToken: CENSOR, refreshToken: CENSOR }],
      untouched: { x: 1 },
    });
    assert.equal(out.untouched, given.untouched);
    assert.equal(given.app.secret, SECRET, 'the caller\'s object is not changed');
  });

  it('writes no credential, in a line\'s fields or at the top of a child\'s bindings', () => {
    const { lines, logger } = capture();
    logger.child({ key: SECRET, requestId: 'r1' }).info({ app: { secret: SECRET }, headers: { authorization: SECRET } }, 'hello');
    logger.warn({ client: { headers: { 'x-api-key': SECRET } } }, 'warned');
    const text = lines.join('');
    assert.ok(!text.includes(SECRET), text);
    assert.equal(JSON.parse(lines[0] as string).requestId, 'r1');
    assert.equal(JSON.parse(lines[0] as string).key, CENSOR);
  });

  it('property: whatever the object, a credential planted under a sensitive name within three levels is never written, and the rest is', () => {
    const name = fc.constantFrom(...SENSITIVE_FIELDS);
    const plain = fc.stringMatching(/^[a-z][a-zA-Z]{0,8}$/).filter((k) => !SENSITIVE_FIELDS.has(k) && k !== 'level' && k !== 'time' && k !== 'msg' && k !== 'service');
    const leaf = fc.oneof(fc.integer(), fc.boolean(), fc.stringMatching(/^[a-z ]{0,10}$/));
    const tree = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, fc.dictionary(plain, tie('node'), { maxKeys: 3 }), fc.array(tie('node'), { maxLength: 3 })),
    })).node;
    fc.assert(
      fc.property(fc.dictionary(plain, tree, { maxKeys: 4 }), fc.array(plain, { maxLength: 2 }), name, (obj, path, field) => {
        const { lines, logger } = capture();
        // The credential at depth path.length + 1 (at most 3), inside fresh objects along the path.
        const planted: Record<string, unknown> = structuredClone(obj);
        let at = planted;
        for (const k of path) at = (at[k] = {}) as Record<string, unknown>;
        at[field] = SECRET;
        logger.info(planted, 'm');
        assert.ok(!(lines[0] as string).includes(SECRET), lines[0]);
        // Nothing else is lost: without the credential the line holds the object as given.
        const clean = capture();
        clean.logger.info(obj, 'm');
        const { level: _l, time: _t, service: _s, msg: _m, ...rest } = JSON.parse(clean.lines[0] as string) as Record<string, unknown>;
        assert.deepEqual(rest, JSON.parse(JSON.stringify(obj)));
      }),
      { numRuns: 300 },
    );
  });

  it('regression: the access log showed a /v1 request\'s path without /v1 (cut by the mounted router), and never its query', async () => {
    const { lines, logger } = capture();
    const app = express();
    app.use(requestContext(logger, createMetrics()));
    const v1 = express.Router();
    v1.get('/apps/:appId/packages', (_req, res) => void res.status(429).json({}));
    app.use('/v1', v1);
    await request(app).get('/v1/apps/a/packages?pageNo=2');
    await new Promise((r) => setImmediate(r));
    const access = lines.map((l) => JSON.parse(l) as { msg: string; path?: string }).find((l) => l.msg === 'request');
    assert.equal(access?.path, '/v1/apps/a/packages');
  });
});
