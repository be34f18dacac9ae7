// Issue 17, finding 4 ("no limit on the size of platform answers; gzip is inflated"): a hostile platform's gzip bomb and huge JSON are cut off at PLATFORM_MAX_RESPONSE_BYTES, answered 502, not retried, and the gateway's memory stays bounded.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';
import request from 'supertest';
import { assertEnvelope, gatewayEnv, KEYS, spawnGateway, startRedis, type ChildGateway, type TestRedis } from './helpers/fixtures.js';
import { startHostilePlatform, type HostilePlatform } from './helpers/hostile-platform.js';

const LIMIT = 1024 * 1024;
const LIST = '/v1/apps/app-a/packages?fileType=softwarePackage';

/** Resident memory of a process, in bytes (Linux). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** `{"data":"aaaa…"}` of `mb` megabytes, gzipped (about 1000:1). */
function gzipBomb(mb: number): Promise<Buffer> {
  const gz = zlib.createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const chunk = Buffer.alloc(1024 * 1024, 'a');
  gz.write('{"data":"');
  for (let i = 0; i < mb; i++) gz.write(chunk);
  gz.end('"}');
  return new Promise<Buffer>((resolve) => gz.on('end', () => resolve(Buffer.concat(out))));
}

describe('issue 17 finding 4: platform answers are bounded (PLATFORM_MAX_RESPONSE_BYTES)', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let hostile: HostilePlatform;
  let gw: ChildGateway;
  let bomb: Buffer;

  before(async () => {
    bomb = await gzipBomb(64);
    redis = await startRedis();
    hostile = await startHostilePlatform();
    gw = await spawnGateway(
      gatewayEnv(hostile.url, redis.url, {
        PLATFORM_MAX_RESPONSE_BYTES: String(LIMIT),
        PLATFORM_TIMEOUT_MS: '5000',
        BREAKER_FAILURES: '1000',
        LOG_LEVEL: 'warn',
      }),
    );
  });
  after(async () => {
    gw?.kill('SIGKILL');
    await gw?.exited;
    await hostile?.close();
    await redis?.close();
  });

  /** One GET through the gateway: 502 UPSTREAM_ERROR, within the deadline, and sent to the platform exactly once. */
  async function expectCutOff(): Promise<void> {
    const before = hostile.hits();
    const started = Date.now();
    const res = await request(gw.url).get(LIST).set('X-Api-Key', KEYS.all);
    assertEnvelope(res, 502, 'UPSTREAM_ERROR');
    assert.ok(Date.now() - started < 5000, 'answered after the deadline');
    assert.equal(hostile.hits() - before, 1, 'an oversized answer was retried');
  }

  it('a gzip bomb (64 KB inflating to 64 MB) is cut off after the limit: 502, not retried, memory bounded', async () => {
    hostile.answer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bomb.length });
      res.end(bomb);
    });
    const base = rss(gw.proc.pid as number);
    for (let i = 0; i < 4; i++) await expectCutOff();
    const grown = rss(gw.proc.pid as number) - base;
    // Before the fix the process took a gigabyte; now at most a few copies of the limit are held at once.
    assert.ok(grown < 64 * 1024 * 1024, `RSS grew by ${Math.round(grown / 1e6)} MB`);
  });

  it('a huge JSON answer streamed without Content-Length is cut off: 502, not retried, memory bounded', async () => {
    const piece = Buffer.alloc(64 * 1024, ' ');
    hostile.answer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"data":[');
      let sent = 0;
      // 150 MB unless the gateway hangs up first (it should, after 1 MiB).
      const pump = (): void => {
        while (sent < 150 * 16 && !res.destroyed) {
          sent += 1;
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end(']}');
      };
      res.on('close', () => (sent = Infinity));
      pump();
    });
    const base = rss(gw.proc.pid as number);
    await expectCutOff();
    await expectCutOff();
    const grown = rss(gw.proc.pid as number) - base;
    assert.ok(grown < 64 * 1024 * 1024, `RSS grew by ${Math.round(grown / 1e6)} MB`);
  });

  it('an answer declaring a Content-Length over the limit is refused before its body is read', async () => {
    hostile.answer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 50 * 1024 * 1024 });
      res.write('{"data":"');
      // Never finished: only the header can have told the gateway to stop.
    });
    await expectCutOff();
  });

  it('an answer just under the limit still passes, whole', async () => {
    const data = 'x'.repeat(LIMIT - 100);
    hostile.answer((_req, res) => {
      const text = JSON.stringify({ data });
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(zlib.gzipSync(text));
    });
    const res = await request(gw.url).get(LIST).set('X-Api-Key', KEYS.all);
    assert.equal(res.status, 200);
    assert.equal(res.body.data.length, data.length);
  });
});
