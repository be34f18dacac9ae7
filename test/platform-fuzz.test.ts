// Property-based hostile platform (fast-check): random statuses, bodies, encodings, sizes, truncations and delays → the gateway answers only documented statuses, within the deadline, with bounded memory, and never dies.
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { CATALOG } from '../src/errors.js';
import { gatewayEnv, KEYS, spawnGateway, startRedis, type ChildGateway, type TestRedis } from './helpers/fixtures.js';
import { startHostilePlatform, type HostilePlatform } from './helpers/hostile-platform.js';

const LIMIT = 256 * 1024;
const TIMEOUT_MS = 1000;
/** What the gateway may answer a forwarded call with: success codes of the routes, and the catalog's statuses. */
const DOCUMENTED = new Set([200, 201, 204, ...Object.values(CATALOG).map((e) => e.status)]);

interface Answer {
  status: number;
  body: 'json' | 'error-code' | 'garbage' | 'empty' | 'huge' | 'deep';
  code: string;
  encoding: 'identity' | 'gzip' | 'deflate' | 'br' | 'lying-gzip';
  size: number;
  /** Cut the connection after this fraction of the body (1 = whole). */
  truncate: number;
  delayMs: number;
  contentLength: 'right' | 'none' | 'wrong';
}

const answerArb: fc.Arbitrary<Answer> = fc.record({
  status: fc.oneof(fc.constantFrom(200, 201, 204, 400, 401, 403, 404, 429, 500, 502, 503, 504), fc.integer({ min: 100, max: 599 })),
  body: fc.constantFrom('json', 'error-code', 'garbage', 'empty', 'huge', 'deep'),
  code: fc.oneof(fc.constantFrom('1010005', '1010009', '100208', '100403', '50252'), fc.string({ maxLength: 40 }), fc.nat().map(String)),
  encoding: fc.constantFrom('identity', 'gzip', 'deflate', 'br', 'lying-gzip'),
  size: fc.oneof(fc.integer({ min: 0, max: 2048 }), fc.integer({ min: LIMIT - 1024, max: LIMIT * 8 })),
  truncate: fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) }),
  // Mostly prompt (to keep the suite fast), sometimes slow, sometimes past the deadline.
  delayMs: fc.oneof({ weight: 10, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: TIMEOUT_MS + 300 }) }),
  // A Content-Length longer than the body holds the call to its deadline: rarer, to keep the suite fast.
  contentLength: fc.oneof({ weight: 4, arbitrary: fc.constantFrom<'right' | 'none'>('right', 'none') }, { weight: 1, arbitrary: fc.constant<'wrong'>('wrong') }),
});

function bodyOf(a: Answer): Buffer {
  switch (a.body) {
    case 'json':
      return Buffer.from(JSON.stringify({ data: 'x'.repeat(Math.min(a.size, 4096)), totalCount: 1 }));
    case 'error-code':
      return Buffer.from(JSON.stringify({ error_code: a.code, error_desc: 'hostile' }));
    case 'garbage':
      return Buffer.from(Array.from({ length: Math.min(a.size, 4096) }, (_, i) => (i * 131 + a.size) % 256));
    case 'empty':
      return Buffer.alloc(0);
    case 'huge':
      return Buffer.concat([Buffer.from('{"data":"'), Buffer.alloc(a.size, 'a'), Buffer.from('"}')]);
    case 'deep':
      return Buffer.from('['.repeat(Math.min(a.size, 100_000)) + ']'.repeat(Math.min(a.size, 100_000)));
  }
}

function encode(a: Answer, raw: Buffer): { data: Buffer; header?: string } {
  switch (a.encoding) {
    case 'identity':
      return { data: raw };
    case 'gzip':
      return { data: zlib.gzipSync(raw, { level: 1 }), header: 'gzip' };
    case 'deflate':
      return { data: zlib.deflateSync(raw, { level: 1 }), header: 'deflate' };
    case 'br':
      return { data: zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } }), header: 'br' };
    case 'lying-gzip':
      return { data: raw, header: 'gzip' };
  }
}

function serve(a: Answer, res: http.ServerResponse): void {
  const { data, header } = encode(a, bodyOf(a));
  const cut = Math.floor(data.length * a.truncate);
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
  if (header) headers['content-encoding'] = header;
  if (a.contentLength === 'right') headers['content-length'] = data.length;
  if (a.contentLength === 'wrong') headers['content-length'] = Math.max(0, data.length + (a.size % 2 === 0 ? 100 : -1));
  setTimeout(() => {
    if (res.destroyed) return;
    try {
      res.writeHead(a.status, headers);
      if (a.truncate < 1) {
        res.write(data.subarray(0, cut), () => res.destroy());
        return;
      }
      res.end(data);
    } catch {
      res.destroy();
    }
  }, a.delayMs);
}

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** One call through the gateway, with how long it took (a raw client: any status and body are taken as they come). */
function call(url: string, method: 'GET' | 'POST'): Promise<{ status: number; ms: number; body: string }> {
  const started = Date.now();
  const path = method === 'GET' ? '/v1/apps/app-a/packages?fileType=softwarePackage' : '/v1/apps/app-a/upgrade-tasks/software';
  const data = method === 'POST' ? JSON.stringify({ fileId: 'sw-pkg-0001', targets: { devices: ['d1'] } }) : undefined;
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}${path}`,
      { method, headers: { 'x-api-key': KEYS.all, ...(data ? { 'content-type': 'application/json' } : {}) } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c.length + body.length > 64 * 1024 * 1024 ? '' : c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - started, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

describe('hostile platform fuzz: documented statuses, within the deadline, bounded memory, never dies', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let hostile: HostilePlatform;
  let gw: ChildGateway;

  before(async () => {
    redis = await startRedis();
    hostile = await startHostilePlatform();
    gw = await spawnGateway(
      gatewayEnv(hostile.url, redis.url, {
        PLATFORM_TIMEOUT_MS: String(TIMEOUT_MS),
        PLATFORM_MAX_RESPONSE_BYTES: String(LIMIT),
        BREAKER_FAILURES: '1000',
        PLATFORM_APPS: JSON.stringify([{ appId: 'app-a', secret: 'secret-of-app-a-0123456789', ratePerMinute: 100_000 }, { appId: 'app-b', secret: 'secret-of-app-b-0123456789', ratePerMinute: 100_000 }]),
        LOG_LEVEL: 'error',
      }),
    );
  });
  after(async () => {
    gw?.kill('SIGKILL');
    await gw?.exited;
    await hostile?.close();
    await redis?.close();
  });

  it('any answer of a hostile platform: a documented status, an envelope on errors, by the deadline', async () => {
    const pid = gw.proc.pid as number;
    // A first call so that the baseline includes the process's warm-up (JIT, pools, the token).
    hostile.answer((_req, res) => serve({ status: 200, body: 'json', code: '', encoding: 'identity', size: 10, truncate: 1, delayMs: 0, contentLength: 'right' }, res));
    await call(gw.url, 'GET');
    const base = rss(pid);
    let peak = base;
    await fc.assert(
      fc.asyncProperty(answerArb, fc.constantFrom<'GET' | 'POST'>('GET', 'POST'), async (answer, method) => {
        hostile.answer((_req, res) => serve(answer, res));
        const res = await call(gw.url, method);
        assert.ok(DOCUMENTED.has(res.status), `undocumented status ${res.status} for ${JSON.stringify(answer)}`);
        // The deadline covers retries; the server adds its margin only if something hangs.
        assert.ok(res.ms < TIMEOUT_MS + 1500, `answered after ${res.ms} ms for ${JSON.stringify(answer)}`);
        if (res.status >= 400) {
          const e = JSON.parse(res.body).error;
          assert.ok(e && typeof e.code === 'string' && e.code in CATALOG, res.body.slice(0, 300));
          if (e.platformCode !== undefined) assert.match(e.platformCode, /^\d{1,10}$/);
        } else {
          assert.ok(res.body.length <= LIMIT + 1024, `passed through an answer of ${res.body.length} bytes`);
        }
        assert.equal(gw.proc.exitCode, null, 'the gateway died');
        peak = Math.max(peak, rss(pid));
      }),
      { numRuns: Number(process.env.PLATFORM_FUZZ_RUNS ?? 30), seed: process.env.PLATFORM_FUZZ_SEED ? Number(process.env.PLATFORM_FUZZ_SEED) : undefined },
    );
    assert.ok(peak - base < 96 * 1024 * 1024, `RSS grew by ${Math.round((peak - base) / 1e6)} MB`);
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
  });
});
