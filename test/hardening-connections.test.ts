// Issue 17, finding 2 ("silent connections are never closed; file descriptors run out"): idle connections closed after HTTP_IDLE_TIMEOUT_MS, at most MAX_CONNECTIONS, and running out of file descriptors is the gateway's 503, never the platform's outage.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import {
  assertEnvelope,
  closeAll,
  freePort,
  gatewayEnv,
  KEYS,
  ROOT,
  sleep,
  startGateway,
  startRedis,
  startTestSimulator,
  waitFor,
  type TestGateway,
  type TestRedis,
  type TestSimulator,
} from './helpers/fixtures.js';

/** Resolves with how long the server took to close a connection that sends `bytes` (or nothing), or null if still open after `ms`. */
function closedWithin(url: string, ms: number, bytes?: string): Promise<number | null> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      if (bytes !== undefined) socket.write(bytes);
    });
    socket.resume();
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(null);
    }, ms);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
    socket.on('error', () => undefined);
  });
}

describe('issue 17 finding 2: connections are bounded', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: TestGateway;

  before(async () => {
    redis = await startRedis();
    sim = await startTestSimulator();
    gw = await startGateway(gatewayEnv(sim.url, redis.url, { HTTP_IDLE_TIMEOUT_MS: '1000', MAX_CONNECTIONS: '20' }));
  });
  after(() => closeAll(gw, sim, redis));
  afterEach(() => sim.control('latency', { ms: 0 }));

  it('regression: a connection that never sends a byte is closed after HTTP_IDLE_TIMEOUT_MS', async () => {
    const took = await Promise.all([closedWithin(gw.url, 5000), closedWithin(gw.url, 5000), closedWithin(gw.url, 5000)]);
    for (const ms of took) {
      assert.notEqual(ms, null, 'a silent connection is still open after 5 s');
      assert.ok((ms as number) >= 900, `closed too early (${ms} ms)`);
    }
  });

  it('a connection trickling its headers is closed too', async () => {
    const { port } = new URL(gw.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const closed = new Promise<number>((r) => socket.on('close', () => r(Date.now())));
    const started = Date.now();
    // One header byte every 300 ms: the idle timer never fires, the headers' deadline does.
    const drip = setInterval(() => socket.writable && socket.write('X'), 300);
    try {
      const at = await Promise.race([closed, sleep(5000).then(() => null)]);
      assert.notEqual(at, null, 'a trickling connection is still open after 5 s');
      assert.ok((at as number) - started < 3000, `closed after ${(at as number) - started} ms`);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  });

  it('a keep-alive connection is closed after HTTP_IDLE_TIMEOUT_MS between requests', async () => {
    const took = await closedWithin(gw.url, 5000, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.notEqual(took, null, 'an idle keep-alive connection is still open after 5 s');
  });

  it('a request in flight longer than the idle time is not cut by it', async () => {
    // Only the API call is slow (a slow login too would pass PLATFORM_TIMEOUT_MS).
    await sim.control('latency', { ms: 1600, path: '/iodm/northbound/v1.5.0/category' });
    const agent = new http.Agent({ keepAlive: false });
    const status = await new Promise<number>((resolve, reject) => {
      http
        .get(`${gw.url}/v1/apps/app-a/packages?fileType=softwarePackage`, { agent, headers: { 'x-api-key': KEYS.all } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    assert.equal(status, 200);
  });

  it('at most MAX_CONNECTIONS are open at once: the next one is closed at once', async () => {
    const { port } = new URL(gw.url);
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const s = net.connect(Number(port), '127.0.0.1');
        s.on('error', () => undefined);
        held.push(s);
        await new Promise((r) => s.once('connect', r));
      }
      await sleep(100);
      const took = await closedWithin(gw.url, 800);
      assert.notEqual(took, null, 'a connection over MAX_CONNECTIONS was kept');
    } finally {
      for (const s of held) s.destroy();
    }
    await waitFor(() => fetch(`${gw.url}/healthz`).then((r) => r.ok, () => false), 3000, 'the gateway to serve again');
  });
});

describe('issue 17 finding 2: out of file descriptors is the gateway\'s outage, not the platform\'s (EMFILE)', function () {
  this.timeout(40_000);
  let redis: TestRedis;
  let sim: TestSimulator;

  before(async () => {
    redis = await startRedis();
    sim = await startTestSimulator();
  });
  after(() => closeAll(sim, redis));

  /**
   * A real gateway process under `ulimit -n`: its descriptors are used up by silent connections (accepted
   * until none is left), while one keep-alive connection opened before still carries requests. Each call
   * to the platform then fails to open its socket with a real EMFILE: no injection, no mock.
   */
  it('regression: EMFILE on the way to the platform answers 503 SERVICE_UNAVAILABLE, spends no quota, opens no circuit, releases the Idempotency-Key', async () => {
    const port = await freePort();
    const env = {
      ...gatewayEnv(sim.url, redis.url, {
        BREAKER_FAILURES: '1',
        PLATFORM_KEEPALIVE_MS: '100',
        LOG_LEVEL: 'warn',
        MAX_CONNECTIONS: '100000',
      }),
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
    };
    const child = spawn('bash', ['-c', `ulimit -n 160 && exec "${process.execPath}" --import tsx src/main.ts`], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    const url = `http://127.0.0.1:${port}`;
    const held: net.Socket[] = [];
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const call = (method: 'GET' | 'POST', p: string, headers: Record<string, string> = {}, body?: unknown) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any; text: string }>((resolve, reject) => {
        const data = body === undefined ? undefined : JSON.stringify(body);
        const req = http.request(
          `${url}${p}`,
          { method, agent, headers: { 'x-api-key': KEYS.all, ...(data ? { 'content-type': 'application/json' } : {}), ...headers } },
          (res) => {
            let text = '';
            res.on('data', (c) => (text += String(c)));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: text ? JSON.parse(text) : null }));
          },
        );
        req.on('error', reject);
        req.end(data);
      });
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`gateway exited:\n${out}`);
          return fetch(`${url}/healthz`).then((r) => r.ok, () => false);
        },
        20_000,
        'the gateway under ulimit to listen',
      );
      const LIST = '/v1/apps/app-a/packages?fileType=softwarePackage';
      // A token first, and the one keep-alive connection; then let the pooled platform socket expire.
      assert.equal((await call('GET', LIST)).status, 200);
      // And one JSON body read (refused, nothing sent): the body parser loads its charset tables lazily,
      // from files, which it could not open once the descriptors are gone.
      assert.equal((await call('POST', '/v1/apps/app-a/upgrade-tasks/software', {}, { fileId: 'sw-pkg-0001' })).status, 400);
      await sleep(400);
      const before = await sim.calls();

      // Use up the gateway's descriptors: connections are accepted until none is left.
      for (let i = 0; i < 220; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        held.push(s);
      }
      await sleep(500);

      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await call('GET', LIST));
      const create = await call('POST', '/v1/apps/app-a/upgrade-tasks/software', { 'idempotency-key': 'emfile-1' }, {
        fileId: 'sw-pkg-0001',
        targets: { devices: ['d1'] },
      });
      for (const a of [...answers, create]) {
        const e = assertEnvelope(a, 503, 'SERVICE_UNAVAILABLE');
        assert.equal(e.retryable, true);
      }
      // No quota spent (contract §6): each call's slot is given back when no socket could be opened, so every
      // answer sees the same count (before the fix: one slot per call, 97, 96, 95).
      const remaining = answers.map((a) => Number(a.headers['ratelimit-remaining']));
      assert.deepEqual(remaining, [remaining[0], remaining[0], remaining[0]], `slots spent: ${remaining}`);
      assert.equal((await sim.calls()).total, before.total, 'something reached the platform');

      // Descriptors back: no circuit is open (BREAKER_FAILURES=1 would have opened it), and the
      // Idempotency-Key was released, so the same create now runs.
      for (const s of held) s.destroy();
      held.length = 0;
      await sleep(300);
      assert.equal((await call('GET', LIST)).status, 200);
      const again = await call('POST', '/v1/apps/app-a/upgrade-tasks/software', { 'idempotency-key': 'emfile-1' }, {
        fileId: 'sw-pkg-0001',
        targets: { devices: ['d1'] },
      });
      assert.equal(again.status, 201, again.text);
      assert.match(out, /EMFILE|ENFILE/, 'the cause is logged');
    } finally {
      for (const s of held) s.destroy();
      agent.destroy();
      child.kill('SIGKILL');
    }
  });
});

