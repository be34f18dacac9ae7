// Property-based garbage at every route (fast-check): never a 5xx, always the envelope on errors, and nothing a gateway refuses ever reaches the platform.
import assert from 'node:assert/strict';
import http from 'node:http';
import fc from 'fast-check';
import { SAFE_ID } from '../src/config.js';
import {
  KEYS,
  type TestGateway,
  type TestRedis,
  type TestSimulator,
  startStack,
} from './helpers/fixtures.js';

// ---------------------------------------------------------------------------------------------
// What the gateway serves (contract §3), as the oracle sees it.

interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path below /v1/apps/{appId}, with the names of its parameters in braces. */
  path: string;
  query: readonly string[];
  body: boolean;
}
const PAGING = ['pageNo', 'pageSize'];
const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/packages', query: ['fileType', 'deviceType', 'model', 'manufacturerName', 'version', ...PAGING], body: false },
  { method: 'GET', path: '/packages/{fileId}', query: [], body: false },
  { method: 'DELETE', path: '/packages/{fileId}', query: [], body: false },
  { method: 'POST', path: '/upgrade-tasks/software', query: [], body: true },
  { method: 'POST', path: '/upgrade-tasks/firmware', query: [], body: true },
  {
    method: 'GET',
    path: '/upgrade-tasks',
    query: ['operationType', 'operationStatus', 'deviceType', 'model', 'manufacturerName', 'deviceId', ...PAGING],
    body: false,
  },
  { method: 'GET', path: '/upgrade-tasks/{operationId}', query: [], body: false },
  { method: 'GET', path: '/upgrade-tasks/{operationId}/subtasks', query: ['subOperationStatus', ...PAGING], body: false },
];
const ALL_QUERY_KEYS = [...new Set(ROUTES.flatMap((r) => r.query))];

// ---------------------------------------------------------------------------------------------
// Generators

/** A path segment as sent on the wire, and what it decodes to (null: not decodable). */
interface Segment {
  wire: string;
  decoded: string | null;
}

const decode = (wire: string): string | null => {
  try {
    return decodeURIComponent(wire);
  } catch {
    return null;
  }
};
/** Percent-encodes every byte outside the unreserved set: any string can travel, lone surrogates included. */
const encodeAll = (s: string): string =>
  [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
const segment = (wire: string): Segment => ({ wire, decoded: decode(wire) });

const ODD_SEGMENTS = [
  '..', '.', '%2e%2e', '%2E', '%2F', 'a%2Fb', '..%2F..%2Fetc%2Fpasswd', '%5C..%5C', '%00', 'a%00b', '%', '%zz', '%E0%A4%A',
  '%C0%AF', '%FF', '%u002e', '%20', 'a%20b', '%0D%0AX-Injected%3A%201', '-lead', '_lead', 'a'.repeat(129), '%EF%BC%B3w-pkg',
  '%E2%80%AEevil', 'sw%E2%80%8B-pkg', 'a%CC%81', '%F0%9F%92%A9', 'sw-pkg-0001%3F', 'x%23frag', ';a=b', 'a;b', '%252e%252e',
];
const segmentArb: fc.Arbitrary<Segment> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ODD_SEGMENTS).map(segment) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).map((s) => segment(encodeAll(s))) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map((s) => segment(encodeAll(s))) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 129, maxLength: 4000 }).map((s) => segment(encodeAll(s))) },
  // Well-formed IDs: these may well be forwarded (the platform then answers for them).
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,20}$/).map(segment) },
);
const appSegmentArb: fc.Arbitrary<Segment> = fc.oneof(
  { weight: 8, arbitrary: fc.constant(segment('app-a')) },
  { weight: 1, arbitrary: fc.constant(segment('app-b')) },
  { weight: 2, arbitrary: segmentArb },
);

const queryKeyArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ALL_QUERY_KEYS) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'pageNo[]', 'a[b]', 'fileType.x', ''),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }) },
);
const queryValueArb = fc.oneof(
  fc.constantFrom('', '0', '-1', '1', '100', '101', '2147483648', '1e3', '0x10', 'NaN', 'Infinity', '1.5', 'null', 'true', '[]', '{}'),
  fc.constantFrom('firmwarePackage', 'softwarePackage', 'wait', 'failed', 'fail', 'software_upgrade'),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 257, maxLength: 2000 }),
);
const queryArb = fc.array(fc.tuple(queryKeyArb, queryValueArb), { maxLength: 5 });

/** A request body as bytes, the Content-Type it is sent with, and whether it could possibly be a valid task. */
interface Body {
  contentType: string | undefined;
  text: string;
  maybeValid: boolean;
}
const validTask = { fileId: 'sw-pkg-0001', targets: { devices: ['dev-1'] } };
const looksLikeTask = (v: unknown): boolean => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return keys.includes('fileId') && keys.includes('targets') && keys.every((k) => ['fileId', 'targets', 'policy'].includes(k));
};
const jsonBody = (text: string, contentType = 'application/json'): Body => {
  let maybeValid = false;
  try {
    maybeValid = looksLikeTask(JSON.parse(text));
  } catch {
    // not JSON: certainly refused
  }
  const plainJson = /^application\/json\s*(;\s*charset=("?)utf-8\2\s*)?$/i.test(contentType);
  return { contentType, text, maybeValid: maybeValid && plainJson };
};
/** A key that Joi must refuse, spliced in as JSON text (an object literal would set the prototype instead). */
const POISON_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'isAdmin', ''];
const nearValid = fc
  .tuple(fc.constantFrom(...POISON_KEYS), fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('top', 'targets', 'policy'))
  .map(([key, value, where]): Body => {
    const v = JSON.stringify(value) ?? 'null';
    const inject = `${JSON.stringify(key)}:${v}`;
    const text =
      where === 'top'
        ? `{${inject},"fileId":"sw-pkg-0001","targets":{"devices":["dev-1"]}}`
        : where === 'targets'
          ? `{"fileId":"sw-pkg-0001","targets":{"devices":["dev-1"],${inject}}}`
          : `{"fileId":"sw-pkg-0001","targets":{"devices":["dev-1"]},"policy":{"executeType":"now",${inject}}}`;
    // Only the checks above decide: Joi must refuse every one of these.
    return { contentType: 'application/json', text, maybeValid: false };
  });
const deep = fc.tuple(fc.integer({ min: 100, max: 60_000 }), fc.constantFrom('array', 'object', 'devices')).map(([depth, kind]): Body => {
  const nested = kind === 'object' ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const text = kind === 'devices' ? `{"fileId":"sw-pkg-0001","targets":{"devices":${nested}}}` : nested;
  return { contentType: 'application/json', text, maybeValid: false };
});
const hugeArray = fc.integer({ min: 257, max: 30_000 }).map(
  (n): Body => ({
    contentType: 'application/json',
    text: JSON.stringify({ fileId: 'sw-pkg-0001', targets: { devices: Array.from({ length: n }, (_, i) => `d${i}`) } }),
    maybeValid: false,
  }),
);
const malformed = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom('{', '{"fileId": ', '{"fileId":"sw-pkg-0001",}', "{'fileId':'x'}", '{"a":1}{"b":2}', '\u0000', 'NaN', '[1,2', '"\\ud800"'),
  fc.jsonValue().map((v) => (JSON.stringify(v) ?? 'null').slice(0, -1)),
).map((text) => jsonBody(text));
const wrongType = fc
  .tuple(
    fc.constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/json; charset=utf-16',
      'application/json; charset=latin1',
      'application/merge-patch+json',
      'json',
      '*/*',
      '',
    ),
    fc.constantFrom(JSON.stringify(validTask), 'fileId=sw-pkg-0001', '<task/>'),
  )
  .map(([contentType, text]) => jsonBody(text, contentType));
const bodyArb: fc.Arbitrary<Body | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue().map((v) => jsonBody(JSON.stringify(v) ?? 'null')),
  fc.object().map((v) => jsonBody(JSON.stringify(v) ?? 'null')),
  { weight: 3, arbitrary: nearValid },
  deep,
  hugeArray,
  malformed,
  wrongType,
);

const headerValueArb = fc.string({ unit: 'binary-ascii', maxLength: 300 }).map((s) => s.replace(/[^\x20-\x7e]/g, ''));
const extraHeadersArb = fc.record(
  {
    idempotencyKey: fc.oneof(headerValueArb, fc.string({ unit: 'grapheme-ascii', minLength: 250, maxLength: 400 })),
    requestId: headerValueArb,
    long: fc.integer({ min: 1000, max: 40_000 }),
  },
  { requiredKeys: [] },
);

const requestArb = fc.record({
  route: fc.constantFrom(...ROUTES),
  method: fc.oneof({ weight: 6, arbitrary: fc.constant<string | null>(null) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS') }),
  app: appSegmentArb,
  params: fc.array(segmentArb, { minLength: 1, maxLength: 1 }),
  query: queryArb,
  body: bodyArb,
  headers: extraHeadersArb,
});
type Generated = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------------------------------------
// Sending and judging

interface Built {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
  /** False when the gateway must refuse it: then nothing may reach the platform. */
  maybeValid: boolean;
}

/** The values of a route's parameters if `rest` (the wire path below the app) matches its template, as Express would (case-insensitively). */
function matchRoute(r: Route, rest: string): string[] | null {
  const template = r.path.split('/');
  const segs = rest.split('/');
  if (template.length !== segs.length) return null;
  const values: string[] = [];
  for (let i = 0; i < segs.length; i++) {
    const t = template[i] as string;
    const s = segs[i] as string;
    if (t.startsWith('{')) values.push(s);
    else if (t.toLowerCase() !== s.toLowerCase()) return null;
  }
  return values;
}

function build(g: Generated): Built {
  const method = g.method ?? g.route.method;
  const param = g.params[0] as Segment;
  const rest = g.route.path.replace(/\{[A-Za-z]+\}/, param.wire);
  const path = `/v1/apps/${g.app.wire}${rest}`;
  const qs = g.query.map(([k, v]) => `${encodeAll(k)}=${encodeAll(v)}`).join('&');
  // The route that will really answer: a garbage parameter can turn one route's path into another's
  // (GET /upgrade-tasks/firmware is "query task 'firmware'"), and another method picks another route.
  const effective = ROUTES.find((r) => r.method === method && matchRoute(r, rest) !== null);
  const values = effective ? (matchRoute(effective, rest) as string[]) : [];
  const keys = g.query.map(([k]) => k);
  const paramsOk =
    (g.app.decoded === 'app-a' || g.app.decoded === 'app-b') &&
    values.every((v) => {
      const d = decode(v);
      return d !== null && SAFE_ID.test(d);
    });
  const queryOk = effective !== undefined && keys.every((k) => effective.query.includes(k)) && new Set(keys).size === keys.length;
  const bodyOk = effective !== undefined && (!effective.body || (g.body?.maybeValid ?? false));
  const headers: Record<string, string> = { 'x-api-key': KEYS.all };
  if (g.body?.contentType !== undefined && g.body.contentType !== '') headers['content-type'] = g.body.contentType;
  if (g.headers.idempotencyKey !== undefined) headers['idempotency-key'] = g.headers.idempotencyKey;
  if (g.headers.requestId !== undefined) headers['x-request-id'] = g.headers.requestId;
  if (g.headers.long !== undefined) headers['x-padding'] = 'p'.repeat(g.headers.long);
  const keyOk = g.headers.idempotencyKey === undefined || !effective?.body || /^[\x21-\x7e]{1,255}$/.test(g.headers.idempotencyKey);
  // Past Node's 16 KiB header limit the server refuses (431); below it the padding changes nothing.
  const headersOk = (g.headers.long ?? 0) <= 16_384 && keyOk;
  return {
    method,
    path: qs === '' ? path : `${path}?${qs}`,
    headers,
    body: g.body?.text,
    maybeValid: paramsOk && queryOk && bodyOk && headersOk,
  };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** 300 in CI; FUZZ_RUNS=5000 for a longer hunt. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** A raw request: the path and the body bytes go out exactly as built, with no client-side normalisation. */
function send(base: string, b: Built): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: b.method, path: b.path, headers: b.headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    // Framed explicitly: Node sends a GET's or DELETE's body unframed, and the server would read it as a next request.
    if (b.body !== undefined) req.setHeader('content-length', Buffer.byteLength(b.body));
    req.end(b.body);
  });
}

function judge(b: Built, a: Answer, platformCalls: number): void {
  const where = `${b.method} ${b.path.slice(0, 300)} [${b.headers['content-type'] ?? '-'}] ${String(b.body).slice(0, 200)}`;
  assert.ok(a.status < 500, `${a.status} for ${where}: ${a.text.slice(0, 300)}`);
  if (a.status >= 400) {
    assert.match(String(a.headers['content-type']), /^application\/json/, `no JSON error for ${where}`);
    const body = JSON.parse(a.text) as { error?: Record<string, unknown> };
    const e = body.error;
    assert.ok(e && typeof e === 'object', `no envelope for ${where}: ${a.text.slice(0, 300)}`);
    assert.equal(typeof e.code, 'string');
    assert.equal(typeof e.message, 'string');
    assert.equal(typeof e.retryable, 'boolean');
    assert.equal(typeof e.requestId, 'string');
    assert.equal(e.requestId, a.headers['x-request-id'], `requestId differs from X-Request-Id for ${where}`);
    assert.ok(!/\bat .*\.(ts|js):\d+/.test(a.text), `stack trace for ${where}`);
  }
  // Contract §3: quota headers on every answer of a forwarded call. An error without them was refused here.
  const forwarded = a.headers['ratelimit-policy'] !== undefined;
  if (!b.maybeValid) {
    assert.ok(a.status >= 400 && a.status < 500, `${a.status} for a request the gateway must refuse: ${where}`);
    assert.equal(platformCalls, 0, `a refused request reached the platform: ${where}`);
    assert.ok(!forwarded, `a refused request carries quota headers: ${where}`);
  } else if (a.status >= 400 && !forwarded) {
    assert.equal(platformCalls, 0, `a ${a.status} answered without forwarding still reached the platform: ${where}`);
  }
}

// ---------------------------------------------------------------------------------------------

describe('fuzz: garbage at every route', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: TestGateway;

  before(async () => {
    ({ redis, sim, gw } = await startStack({ rate: 1_000_000, env: { LOG_LEVEL: 'warn' } }));
    // A token in hand first, so that a forwarded request costs exactly its own call.
    assert.equal((await send(gw.url, { method: 'GET', path: '/v1/apps/app-a/packages', headers: { 'x-api-key': KEYS.all }, body: undefined, maybeValid: true })).status, 200);
    assert.equal((await send(gw.url, { method: 'GET', path: '/v1/apps/app-b/packages', headers: { 'x-api-key': KEYS.all }, body: undefined, maybeValid: true })).status, 200);
  });
  after(async () => {
    agent.destroy();
    await gw?.close();
    await sim?.close();
    await redis?.close();
  });

  it(`never answers 5xx, always answers errors in the envelope with the requestId, and refused requests never reach the platform (${RUNS} runs)`, async function () {
    this.timeout(60_000);
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(requestArb, async (g) => {
        const b = build(g);
        const before = (await sim.calls()).total;
        const a = await send(gw.url, b);
        const calls = (await sim.calls()).total - before;
        if (!b.maybeValid) refused += 1;
        judge(b, a, calls);
      }),
      { numRuns: RUNS },
    );
    // The generators must mostly produce garbage, or the property says little.
    assert.ok(refused > RUNS * 0.6, `only ${refused} of ${RUNS} generated requests had to be refused`);
    assert.ok(!gw.logs.some((l) => l.includes('"unexpected error"')), 'the gateway logged an unexpected error');
  });
});
