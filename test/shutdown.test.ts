// SIGTERM on a real gateway process: requests in flight finish, new ones are refused, readyz says draining, Redis is closed, exit 0 in bounded time.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import {
  KEYS,
  gatewayEnv,
  sleep,
  spawnGateway,
  startRedis,
  startTestSimulator,
  type ChildGateway,
  type TestRedis,
  type TestSimulator,
  closeAll,
  appsWithRate,
} from './helpers/fixtures.js';

const SHUTDOWN_TIMEOUT_MS = 4000;
const highQuota = appsWithRate(10_000);

interface Answer {
  status: number;
  text: string;
}

/** One request on its own connection (no pooling, so that each in-flight request holds a socket of its own). */
function get(url: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}${path}`, { headers: { 'x-api-key': KEYS.all }, agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += String(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
  });
}

/**
 * One raw connection with a request in flight, on which a second request can be written later
 * (HTTP/1.1 pipelining): written after SIGTERM, it is read by a draining gateway although no new
 * connection is accepted any more. `done` resolves with the raw bytes the server sent.
 */
function heldConnection(url: string, first: string): { then(path: string): void; done: Promise<string> } {
  const { hostname, port } = new URL(url);
  const head = (p: string) => `GET ${p} HTTP/1.1\r\nHost: ${hostname}\r\nX-Api-Key: ${KEYS.all}\r\n\r\n`;
  const socket = net.connect(Number(port), hostname, () => socket.write(head(first)));
  let raw = '';
  socket.on('data', (c) => (raw += String(c)));
  const done = new Promise<string>((resolve, reject) => {
    socket.on('close', () => resolve(raw));
    socket.on('error', reject);
  });
  return { then: (p) => void socket.write(head(p)), done };
}

/** Exit code, or a timeout marker, within `ms`. */
async function exitWithin(child: ChildGateway, ms: number): Promise<number | string> {
  return Promise.race([child.exited, sleep(ms).then(() => 'still running')]);
}

describe('shutdown (SIGTERM on a child process)', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let sim: TestSimulator;
  let child: ChildGateway | undefined;

  before(async () => {
    redis = await startRedis({ own: true });
    sim = await startTestSimulator({ ratePerMinute: 10_000 });
  });
  after(() => closeAll(sim, redis));
  beforeEach(() => sim.reset());
  afterEach(async () => {
    if (child && child.proc.exitCode === null && child.proc.signalCode === null) {
      child.kill('SIGKILL');
      await child.exited;
    }
    child = undefined;
  });

  const spawn = (extra: Record<string, string> = {}) =>
    spawnGateway(
      gatewayEnv(sim.url, redis.url, {
        PLATFORM_APPS: highQuota,
        SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
        PLATFORM_TIMEOUT_MS: '8000',
        ...extra,
      }),
    );

  it('requests in flight complete with 200, new connections are refused, readyz is 503 while draining, and the process exits 0 promptly', async () => {
    child = await spawn();
    const gw = child;
    assert.equal((await get(gw.url, '/v1/apps/app-a/packages')).status, 200); // token in hand
    assert.equal((await get(gw.url, '/readyz')).status, 200);
    await sim.control('latency', { ms: 1000, path: '/category' });
    const inflight = Array.from({ length: 6 }, () => get(gw.url, '/v1/apps/app-a/packages'));
    const held = heldConnection(gw.url, '/v1/apps/app-a/packages');
    await sleep(300); // all of them have reached the simulator and wait there
    const signalledAt = Date.now();
    gw.kill('SIGTERM');
    await sleep(150);
    held.then('/readyz');
    // A new connection after the signal: refused, or answered 503.
    const late = await get(gw.url, '/v1/apps/app-a/packages').then(
      (a) => a.status,
      (err: NodeJS.ErrnoException) => err.code,
    );
    assert.ok(late === 'ECONNREFUSED' || late === 'ECONNRESET' || late === 503, `a new request after SIGTERM got ${late}`);
    const results = await Promise.all(inflight);
    assert.deepEqual(results.map((r) => r.status), Array(6).fill(200), 'a request in flight did not complete');
    for (const r of results) assert.ok(Array.isArray(JSON.parse(r.text).data));
    const code = await exitWithin(gw, SHUTDOWN_TIMEOUT_MS + 3000);
    assert.equal(code, 0, `exit: ${code}\n${gw.output().slice(-2000)}`);
    const took = Date.now() - signalledAt;
    assert.ok(took < SHUTDOWN_TIMEOUT_MS, `exiting took ${took} ms, although the last request ended after about 1 s`);
    // The held connection: its request in flight answered 200, then /readyz, asked after the signal, 503
    // "shutting down", and the connection was closed by the server (the test would time out otherwise).
    const raw = await held.done;
    const [first, second] = raw.split(/(?=HTTP\/1\.1 )/);
    assert.match(String(first), /^HTTP\/1\.1 200 /);
    assert.match(String(second), /^HTTP\/1\.1 503 /, raw);
    assert.match(String(second), /"shutting down"/);
    assert.match(String(second), /\r\nConnection: close\r\n/i, 'a draining gateway tells the client to close');
    // Redis was closed before the exit (the last log line comes after gateway.close()).
    assert.match(gw.output(), /"msg":"stopped"/);
    assert.deepEqual(
      (await clientNames(redis)).filter((n) => n.startsWith('iot-bff')),
      [],
      'the gateway left connections open on Redis',
    );
  });

  it('a request hung at the platform does not hold the process: exit 0 by SHUTDOWN_TIMEOUT_MS (+3 s)', async () => {
    child = await spawn({ SHUTDOWN_TIMEOUT_MS: '1000' });
    const gw = child;
    assert.equal((await get(gw.url, '/v1/apps/app-a/packages')).status, 200);
    await sim.control('faults', { count: 1, mode: 'hang', path: '/category' });
    const hung = get(gw.url, '/v1/apps/app-a/packages').then(
      (a) => a.status,
      (err: NodeJS.ErrnoException) => err.code,
    );
    await sleep(300);
    const t = Date.now();
    gw.kill('SIGTERM');
    const code = await exitWithin(gw, 1000 + 3000);
    assert.equal(code, 0, `exit: ${code}\n${gw.output().slice(-2000)}`);
    assert.ok(Date.now() - t >= 900, 'the process did not wait for the request in flight at all');
    // The caller of the hung request learns that its connection ended (no answer was possible).
    const outcome = await hung;
    assert.ok(outcome === 'ECONNRESET' || outcome === 504 || outcome === 503, `the hung request got ${outcome}`);
  });

  it('SIGTERM while Redis is down: still exits 0 promptly', async () => {
    child = await spawn();
    const gw = child;
    assert.equal((await get(gw.url, '/v1/apps/app-a/packages')).status, 200);
    await redis.stop();
    try {
      await sleep(300);
      assert.equal((await get(gw.url, '/readyz')).status, 503);
      const t = Date.now();
      gw.kill('SIGTERM');
      const code = await exitWithin(gw, SHUTDOWN_TIMEOUT_MS + 3000);
      assert.equal(code, 0, `exit: ${code}\n${gw.output().slice(-2000)}`);
      assert.ok(Date.now() - t < 2000, `exiting took ${Date.now() - t} ms with nothing in flight`);
    } finally {
      await redis.start();
    }
  });
});

async function clientNames(redis: TestRedis): Promise<string[]> {
  const list = String(await redis.client.call('CLIENT', 'LIST'));
  return [...list.matchAll(/\bname=(\S*)/g)].map((m) => m[1] as string);
}
