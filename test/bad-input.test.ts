// Bad input of named shapes (prototype keys, wrong content types, long headers, odd percent-encoding, deep or huge bodies): a 4xx envelope, never a platform call.
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  KEYS,
  type TestGateway,
  type TestRedis,
  type TestSimulator,
  assertEnvelope,
  closeAll,
  startStack,
} from './helpers/fixtures.js';

const SW = '/v1/apps/app-a/upgrade-tasks/software';
const TASK = '"fileId":"sw-pkg-0001","targets":{"devices":["dev-1"]}';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  body: { error?: Record<string, unknown> } | undefined;
}

/** A raw request, so that paths and bodies go out byte for byte (no client-side encoding or normalisation). */
function send(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const url = new URL(base);
  const all: Record<string, string | number> = { 'x-api-key': KEYS.all, ...headers };
  if (body !== undefined) all['content-length'] = Buffer.byteLength(body);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers: all }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: Answer['body'];
        try {
          parsed = JSON.parse(text) as Answer['body'];
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('bad input', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: TestGateway;

  before(async () => {
    ({ redis, sim, gw } = await startStack({ rate: 100_000 }));
    // A token in hand, so that "no platform call" below means no call at all.
    assert.equal((await send(gw.url, 'GET', '/v1/apps/app-a/packages')).status, 200);
  });
  after(() => closeAll(gw, sim, redis));
  beforeEach(() => sim.control('calls', undefined, 'DELETE'));

  /** Every case here must be refused before the platform: each test ends by checking that nothing reached it. */
  function it(title: string, fn: () => Promise<void> | void): void {
    globalThis.it(title, async () => {
      await fn();
      assert.equal((await sim.calls()).total, 0, 'a refused request reached the platform');
    });
  }

  describe('prototype keys', () => {
    for (const [where, text, field] of [
      ['at the top', `{"__proto__":{"isAdmin":true},${TASK}}`, '__proto__'],
      ['at the top, as an array', `{"__proto__":[],${TASK}}`, '__proto__'],
      ['in targets', `{"fileId":"sw-pkg-0001","targets":{"devices":["dev-1"],"__proto__":{"deviceGroups":["g"]}}}`, 'targets.__proto__'],
      ['in policy', `{${TASK},"policy":{"executeType":"now","__proto__":{"retryTimes":9}}}`, 'policy.__proto__'],
    ] as const) {
      it(`a "__proto__" key ${where}: 400 naming it, not silently dropped and forwarded`, async () => {
        const a = await send(gw.url, 'POST', SW, { 'content-type': 'application/json' }, text);
        const e = assertEnvelope(a, 400, 'VALIDATION_FAILED');
        assert.deepEqual(
          (e.details as Array<{ field: string }>).map((d) => d.field),
          [field],
        );
      });
    }

    it('"constructor" and "prototype" keys: 400, unknown fields', async () => {
      for (const key of ['constructor', 'prototype']) {
        const a = await send(gw.url, 'POST', SW, { 'content-type': 'application/json' }, `{"${key}":{"prototype":{"x":1}},${TASK}}`);
        assertEnvelope(a, 400, 'VALIDATION_FAILED');
      }
    });

    it('a "__proto__" query key: 400, on a route with a query schema and on one without', async () => {
      for (const path of ['/v1/apps/app-a/packages?__proto__=x', '/v1/apps/app-a/packages/sw-pkg-0001?__proto__=x', '/v1/apps/app-a/upgrade-tasks?constructor=x']) {
        assertEnvelope(await send(gw.url, 'GET', path), 400, 'VALIDATION_FAILED');
      }
    });

    it('leaves Object.prototype untouched', () => {
      assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
      assert.equal(({} as Record<string, unknown>).retryTimes, undefined);
    });
  });

  describe('content types and bodies', () => {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/merge-patch+json',
    ]) {
      it(`a valid task sent as ${type}: 415 UNSUPPORTED_MEDIA_TYPE`, async () => {
        assertEnvelope(await send(gw.url, 'POST', SW, { 'content-type': type }, `{${TASK}}`), 415, 'UNSUPPORTED_MEDIA_TYPE');
      });
    }

    it('a JSON body in a charset other than UTF-8: 415, or 400 when it is a UTF charset the bytes do not fit', async () => {
      const a = await send(gw.url, 'POST', SW, { 'content-type': 'application/json; charset=latin1' }, `{${TASK}}`);
      assertEnvelope(a, 415, 'UNSUPPORTED_MEDIA_TYPE');
      const b = await send(gw.url, 'POST', SW, { 'content-type': 'application/json; charset=utf-16' }, `{${TASK}}`);
      assertEnvelope(b, 400, 'VALIDATION_FAILED');
    });

    it('a POST without any body or content type: a 4xx envelope', async () => {
      const a = await send(gw.url, 'POST', SW);
      assert.ok(a.status === 400 || a.status === 415, a.text);
      assertEnvelope(a, a.status, a.status === 400 ? 'VALIDATION_FAILED' : 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('malformed JSON of several kinds: 400 VALIDATION_FAILED', async () => {
      for (const text of ['{', `{${TASK},}`, "{'fileId':'x'}", '{"a":1}{"b":2}', 'null', '"text"', '12', '\u0000']) {
        assertEnvelope(await send(gw.url, 'POST', SW, { 'content-type': 'application/json' }, text), 400, 'VALIDATION_FAILED');
      }
    });

    it('deeply nested JSON (50 000 levels) at the top and inside a field: 400, not a stack overflow', async () => {
      const arrays = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
      const objects = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
      for (const text of [arrays, objects, `{"fileId":"sw-pkg-0001","targets":{"devices":${arrays}}}`, `{${TASK},"policy":${objects}}`]) {
        assertEnvelope(await send(gw.url, 'POST', SW, { 'content-type': 'application/json' }, text), 400, 'VALIDATION_FAILED');
      }
    });

    it('a huge device list: 400 with 123024 within the body limit, 413 beyond it', async () => {
      const list = (n: number) => JSON.stringify({ fileId: 'sw-pkg-0001', targets: { devices: Array.from({ length: n }, (_, i) => `d${i}`) } });
      const e = assertEnvelope(await send(gw.url, 'POST', SW, { 'content-type': 'application/json' }, list(10_000)), 400, 'VALIDATION_FAILED');
      assert.equal(e.platformCode, '123024');
      assert.ok((e.details as unknown[]).length <= 100, 'details stay bounded');
      assertEnvelope(await send(gw.url, 'POST', SW, { 'content-type': 'application/json' }, list(60_000)), 413, 'PAYLOAD_TOO_LARGE');
    });
  });

  describe('methods', () => {
    it('regression: HEAD on a GET route spent a platform call — now 405 with Allow, nothing sent (issue 17, finding 9)', async () => {
      const before = (await sim.calls()).total;
      const res = await send(gw.url, 'HEAD', '/v1/apps/app-a/packages');
      assert.equal(res.status, 405);
      assert.match(String(res.headers.allow), /GET/);
      assert.equal((await sim.calls()).total, before);
    });
  });

  describe('headers', () => {
    it('a header over 16 KiB: 431 in the envelope, with its X-Request-Id', async () => {
      const a = await send(gw.url, 'POST', SW, { 'content-type': 'application/json', 'x-padding': 'p'.repeat(20_000) }, `{${TASK}}`);
      assertEnvelope(a, 431, 'VALIDATION_FAILED');
    });

    it('a very long or non-printable Idempotency-Key: 400', async () => {
      for (const key of ['k'.repeat(256), 'k'.repeat(8000), 'two words', '\u00e9t\u00e9']) {
        const a = await send(gw.url, 'POST', SW, { 'content-type': 'application/json', 'idempotency-key': key }, `{${TASK}}`);
        assertEnvelope(a, 400, 'VALIDATION_FAILED');
      }
    });

    it('a very long or malformed X-Api-Key: 401, and the key is not echoed', async () => {
      // (Trailing whitespace is not "malformed": HTTP strips it from every header value.)
      for (const key of ['k'.repeat(10_000), `${KEYS.all}x`, KEYS.all.toUpperCase(), KEYS.all.slice(0, -1)]) {
        const a = await send(gw.url, 'GET', '/v1/apps/app-a/packages', { 'x-api-key': key });
        assertEnvelope(a, 401, 'UNAUTHENTICATED');
        assert.ok(!a.text.includes(key.trim()));
      }
    });
  });

  describe('path parameters', () => {
    const ODD = [
      '..', '.', '%2e%2e', '%2E%2e%2F', '%2F', 'a%2Fb', '..%2F..%2Fetc%2Fpasswd', '%5C..', '%00', 'a%00b', '%', '%zz', '%E0%A4%A',
      '%C0%AF', '%FF', '%ED%A0%80', '%u002e', '%20', 'a%20b', '%0D%0AX-Injected%3A%201', '-lead', '_lead', 'a'.repeat(129),
      '%EF%BD%93w-pkg-0001', '%E2%80%AEevil', 'sw%E2%80%8B-pkg-0001', 'a%CC%81', '%F0%9F%92%A9', 'sw-pkg-0001%3F', 'x%23frag',
      ';a=b', 'a;b', '%252e%252e', 'a'.repeat(5000),
    ];
    for (const [method, template] of [
      ['GET', '/v1/apps/app-a/packages/{}'],
      ['DELETE', '/v1/apps/app-a/packages/{}'],
      ['GET', '/v1/apps/app-a/upgrade-tasks/{}'],
      ['GET', '/v1/apps/app-a/upgrade-tasks/{}/subtasks'],
    ] as const) {
      it(`${method} ${template}: ${ODD.length} odd values, each 400 VALIDATION_FAILED (or 404 when it changes the route)`, async () => {
        for (const v of ODD) {
          const a = await send(gw.url, method, template.replace('{}', v));
          assert.ok(a.status === 400 || a.status === 404, `${v}: ${a.status} ${a.text.slice(0, 200)}`);
          assertEnvelope(a, a.status, a.status === 400 ? 'VALIDATION_FAILED' : 'NOT_FOUND');
        }
      });
    }

    it('odd app IDs: 404 (unknown app), never a platform call', async () => {
      for (const v of ['..', '%2e%2e', 'app-a%00', 'app-a%2F..', 'APP-A', 'app%E2%80%8B-a', 'a'.repeat(300)]) {
        const a = await send(gw.url, 'GET', `/v1/apps/${v}/packages`);
        assert.ok(a.status === 400 || a.status === 404, `${v}: ${a.status}`);
        assertEnvelope(a, a.status, a.status === 400 ? 'VALIDATION_FAILED' : 'NOT_FOUND');
      }
    });
  });
});
