// Contract §6 for real: a slow, hanging, dead, garbage-speaking or resetting platform, the circuit breaker, and Redis stopped or hung mid-stream.
import assert from 'node:assert/strict';
import net from 'node:net';
import request from 'supertest';
import {
  KEYS,
  LOGIN_ROUTE,
  TEST_APPS,
  freePort,
  gatewayEnv,
  sleep,
  startGateway,
  startRedis,
  startTestSimulator,
  waitFor,
  type TestGateway,
  type TestRedis,
  type TestSimulator,
  assertEnvelope,
  maxInAnyWindow,
  appsWithRate,
} from './helpers/fixtures.js';

const LIST_ROUTE = 'GET /iodm/northbound/v1.5.0/category';
const SW_ROUTE = 'POST /iodm/northbound/v1.5.0/operations/softwareUpgrade';
const validTask = { fileId: 'sw-pkg-0001', targets: { devices: ['dev-1'] } };
const highQuota = appsWithRate(10_000);
/** Every status the contract documents for a /v1 call that reached the forwarding stage. */
const DOCUMENTED = new Set([200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 502, 503, 504]);

const list = (url: string, app = 'app-a') => request(url).get(`/v1/apps/${app}/packages`).set('X-Api-Key', KEYS.all);
const create = (url: string, key?: string) => {
  const r = request(url).post('/v1/apps/app-a/upgrade-tasks/software').set('X-Api-Key', KEYS.all);
  if (key !== undefined) r.set('Idempotency-Key', key);
  return r.send(validTask);
};

/** Times one request; resolves with the response and its duration in ms. */
async function timed(req: PromiseLike<request.Response>): Promise<{ res: request.Response; ms: number }> {
  const t = Date.now();
  const res = await req;
  return { res, ms: Date.now() - t };
}

describe('faults', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  const gateways: TestGateway[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);

  /** A gateway for one test, closed after it; platform deadline 1 s, breaker out of the way unless asked. */
  async function gateway(extra: Record<string, string> = {}, platformUrl = sim.url): Promise<TestGateway> {
    const gw = await startGateway(
      gatewayEnv(platformUrl, redis.url, {
        PLATFORM_APPS: highQuota,
        PLATFORM_TIMEOUT_MS: '1000',
        BREAKER_FAILURES: '1000',
        ...extra,
      }),
    );
    gateways.push(gw);
    return gw;
  }

  before(async () => {
    redis = await startRedis({ own: true });
    sim = await startTestSimulator({ ratePerMinute: 10_000 });
    process.on('unhandledRejection', onUnhandled);
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await sim?.close();
    await redis?.close();
  });
  beforeEach(async () => {
    unhandled.length = 0;
    await sim.reset();
  });
  afterEach(async () => {
    while (gateways.length > 0) await gateways.pop()?.close();
    assert.deepEqual(unhandled, [], 'an unhandled promise rejection happened');
  });

  describe('platform slow, hanging, down or confused', () => {
    it('a platform slower than PLATFORM_TIMEOUT_MS: 504 UPSTREAM_TIMEOUT, retryable, answered by the deadline and not retried', async () => {
      const gw = await gateway();
      assert.equal((await list(gw.url)).status, 200); // token in hand
      await sim.control('latency', { ms: 3000, path: '/category' });
      const { res, ms } = await timed(list(gw.url));
      const e = assertEnvelope(res, 504, 'UPSTREAM_TIMEOUT');
      assert.equal(e.retryable, true);
      assert.ok(ms >= 900 && ms < 2500, `answered after ${ms} ms with a 1000 ms deadline`);
      // A timed-out GET may still be running at the platform: retrying it would only pile up.
      assert.equal((await sim.calls()).byRoute[LIST_ROUTE], 2);
    });

    it('a slow login counts against the same deadline: 504 by PLATFORM_TIMEOUT_MS', async () => {
      const gw = await gateway();
      await sim.control('latency', { ms: 1500, path: '/login' });
      const { res, ms } = await timed(list(gw.url));
      assertEnvelope(res, 504, 'UPSTREAM_TIMEOUT');
      assert.ok(ms < 2500, `answered after ${ms} ms with a 1000 ms deadline`);
      assert.equal((await sim.calls()).byRoute[LIST_ROUTE], undefined, 'no API call without a token');
      // The abandoned login still takes effect at the platform when its delay ends, superseding the
      // token of whatever gateway holds one then: let it land within this test.
      await waitFor(async () => (await sim.control('tokens/app-a')).issued === 1, 5000, 'the abandoned login to land');
    });

    it('a hanging platform (no answer at all): 504 UPSTREAM_TIMEOUT by the deadline, for GET and POST alike', async () => {
      const gw = await gateway();
      assert.equal((await list(gw.url)).status, 200);
      await sim.control('faults', { count: 2, mode: 'hang' });
      const [get, post] = await Promise.all([timed(list(gw.url)), timed(create(gw.url))]);
      assertEnvelope(get.res, 504, 'UPSTREAM_TIMEOUT');
      assertEnvelope(post.res, 504, 'UPSTREAM_TIMEOUT');
      for (const { ms } of [get, post]) assert.ok(ms >= 900 && ms < 2500, `answered after ${ms} ms`);
      const calls = await sim.calls();
      assert.equal(calls.byRoute[SW_ROUTE], 1);
    });

    it('a platform that refuses connections (closed port): 503 UPSTREAM_UNAVAILABLE with Retry-After, quickly', async () => {
      const port = await freePort();
      const gw = await gateway({}, `http://127.0.0.1:${port}`);
      const { res, ms } = await timed(list(gw.url));
      const e = assertEnvelope(res, 503, 'UPSTREAM_UNAVAILABLE');
      assert.equal(e.retryable, true);
      assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/);
      assert.ok(ms < 2000, `answered after ${ms} ms`);
    });

    it('the simulator closed after the gateway got its token: GET and POST both 503 UPSTREAM_UNAVAILABLE within the deadline', async () => {
      const own = await startTestSimulator({ ratePerMinute: 10_000 });
      let closed = false;
      try {
        const gw = await gateway({}, own.url);
        assert.equal((await list(gw.url)).status, 200);
        await own.close();
        closed = true;
        for (const { res, ms } of [await timed(list(gw.url)), await timed(create(gw.url))]) {
          const e = assertEnvelope(res, 503, 'UPSTREAM_UNAVAILABLE');
          assert.equal(e.retryable, true);
          assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/);
          assert.ok(ms < 2000, `answered after ${ms} ms`);
        }
      } finally {
        if (!closed) await own.close();
      }
    });

    it('a 200 answer that is not JSON (an HTML error page): 502 UPSTREAM_ERROR', async () => {
      const gw = await gateway();
      assert.equal((await list(gw.url)).status, 200);
      await sim.control('faults', { count: 1, mode: 'garbage', path: '/operations' });
      const res = await create(gw.url);
      assertEnvelope(res, 502, 'UPSTREAM_ERROR');
      assert.ok(!res.text.includes('<html'), "the platform's garbage is not passed on");
      assert.equal((await sim.calls()).byRoute[SW_ROUTE], 1, 'a create answered with garbage is not retried');
    });

    it('a connection reset on a GET: retried, the second attempt succeeds, the caller sees 200', async () => {
      const gw = await gateway();
      assert.equal((await list(gw.url)).status, 200);
      await sim.control('calls', undefined, 'DELETE');
      await sim.control('faults', { count: 1, mode: 'reset', path: '/category' });
      const res = await list(gw.url);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const calls = await sim.calls();
      const seen = JSON.stringify(calls.log.map((c) => ({ at: c.at, path: c.path, status: c.status, fault: (c as { fault?: string }).fault })));
      assert.equal(calls.byRoute[LIST_ROUTE], 2, seen);
      assert.equal(calls.log[0]?.status, 0, 'the first attempt got no answer');
    });

    it('a connection reset on a POST create: never retried (one platform call), the caller gets 503', async () => {
      const gw = await gateway();
      assert.equal((await list(gw.url)).status, 200);
      await sim.control('faults', { count: 1, mode: 'reset', path: '/operations' });
      const res = await create(gw.url);
      assertEnvelope(res, 503, 'UPSTREAM_UNAVAILABLE');
      await sleep(300); // a retry would be on its way by now
      assert.equal((await sim.calls()).byRoute[SW_ROUTE], 1);
    });

    it('GET retries stay inside the deadline: resets on every attempt end in 503 by PLATFORM_TIMEOUT_MS, at most 3 attempts', async () => {
      const gw = await gateway();
      assert.equal((await list(gw.url)).status, 200);
      await sim.control('faults', { count: 50, mode: 'reset', path: '/category' });
      const { res, ms } = await timed(list(gw.url));
      assertEnvelope(res, 503, 'UPSTREAM_UNAVAILABLE');
      assert.ok(ms < 2000, `answered after ${ms} ms`);
      const n = (await sim.calls()).byRoute[LIST_ROUTE] ?? 0;
      assert.ok(n >= 2 && n <= 4, `saw ${n} list calls (1 before the faults, then at most 3 attempts)`);
    });
  });

  describe('circuit breaker', () => {
    it('opens after BREAKER_FAILURES consecutive failures, then fails fast with 503 and Retry-After without calling the platform', async () => {
      const gw = await gateway({ BREAKER_FAILURES: '3', BREAKER_COOLDOWN_MS: '60000' });
      assert.equal((await list(gw.url)).status, 200);
      // POSTs are never retried, so each failed create is exactly one failure.
      await sim.control('faults', { count: 1000, status: 500, path: '/operations' });
      for (let i = 0; i < 3; i++) assertEnvelope(await create(gw.url), 502, 'UPSTREAM_ERROR');
      const before = await sim.calls();
      assert.equal(before.byRoute[SW_ROUTE], 3);
      const fast = await Promise.all(Array.from({ length: 10 }, (_, i) => timed(i % 2 ? list(gw.url) : create(gw.url))));
      for (const { res, ms } of fast) {
        const e = assertEnvelope(res, 503, 'UPSTREAM_UNAVAILABLE');
        assert.equal(e.retryable, true);
        assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/);
        assert.ok(Number(res.headers['retry-after']) <= 60);
        assert.ok(ms < 500, `failing fast took ${ms} ms`);
      }
      assert.equal((await sim.calls()).total, before.total, 'an open breaker let a call through');
    });

    it('after the cooldown one probe goes through; once the platform recovered it closes the circuit and traffic flows again', async () => {
      const gw = await gateway({ BREAKER_FAILURES: '2', BREAKER_COOLDOWN_MS: '400' });
      assert.equal((await list(gw.url)).status, 200);
      await sim.control('faults', { count: 1000, status: 503, path: '/operations' });
      for (let i = 0; i < 2; i++) assertEnvelope(await create(gw.url), 502, 'UPSTREAM_ERROR');
      assertEnvelope(await list(gw.url), 503, 'UPSTREAM_UNAVAILABLE');
      // Still failing after the cooldown: the probe fails and the circuit opens again.
      await sleep(450);
      assertEnvelope(await create(gw.url), 502, 'UPSTREAM_ERROR');
      const afterProbe = (await sim.calls()).total;
      assertEnvelope(await list(gw.url), 503, 'UPSTREAM_UNAVAILABLE');
      assert.equal((await sim.calls()).total, afterProbe, 'a failed probe re-opens the circuit');
      // The platform recovers: the next probe closes the circuit.
      await sim.control('faults', undefined, 'DELETE');
      await sleep(450);
      const probes = await Promise.all(Array.from({ length: 5 }, () => list(gw.url)));
      const ok = probes.filter((r) => r.status === 200).length;
      assert.ok(ok >= 1, 'the probe went through');
      for (const r of probes) if (r.status !== 200) assertEnvelope(r, 503, 'UPSTREAM_UNAVAILABLE');
      const later = await Promise.all(Array.from({ length: 10 }, () => list(gw.url)));
      assert.deepEqual(later.map((r) => r.status), Array(10).fill(200));
    });

    it('a platform down before the first login also opens the breaker: later requests fail fast without connecting', async () => {
      // A TCP server that resets every connection and counts them: the platform is "down" from the start.
      let connections = 0;
      const dead = net.createServer((s) => {
        connections += 1;
        s.resetAndDestroy();
      });
      await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
      try {
        const port = (dead.address() as net.AddressInfo).port;
        const gw = await gateway({ BREAKER_FAILURES: '3', BREAKER_COOLDOWN_MS: '60000' }, `http://127.0.0.1:${port}`);
        for (let i = 0; i < 3; i++) assertEnvelope(await list(gw.url), 503, 'UPSTREAM_UNAVAILABLE');
        const seen = connections;
        assert.ok(seen >= 3, `the first requests tried the platform (${seen} connections)`);
        for (let i = 0; i < 10; i++) assertEnvelope(await list(gw.url), 503, 'UPSTREAM_UNAVAILABLE');
        assert.equal(connections, seen, 'requests kept connecting to a platform known to be down');
      } finally {
        await new Promise<void>((r) => dead.close(() => r()));
      }
    });

    it('a login that hangs also counts: after BREAKER_FAILURES timed-out requests the next ones fail fast', async function () {
      this.timeout(10_000);
      const gw = await gateway({ BREAKER_FAILURES: '2', BREAKER_COOLDOWN_MS: '60000' });
      await sim.control('faults', { count: 100, mode: 'hang', path: '/login' });
      for (let i = 0; i < 2; i++) assertEnvelope(await list(gw.url), 504, 'UPSTREAM_TIMEOUT');
      const logins = (await sim.calls()).byRoute[LOGIN_ROUTE];
      for (let i = 0; i < 5; i++) {
        const { res, ms } = await timed(list(gw.url));
        assertEnvelope(res, 503, 'UPSTREAM_UNAVAILABLE');
        assert.ok(ms < 500, `failing fast took ${ms} ms`);
      }
      assert.equal((await sim.calls()).byRoute[LOGIN_ROUTE], logins, 'logins went on against a hanging platform');
    });
  });

  describe('Redis', () => {
    it('stopped and restarted mid-stream with two replicas: the quota holds in every interval, every answer is documented, readyz follows, all recover', async function () {
      this.timeout(30_000);
      const W = 1500;
      const RATE = 12;
      const apps = JSON.stringify([{ ...TEST_APPS[0], ratePerMinute: RATE }, { ...TEST_APPS[1], ratePerMinute: 10_000 }]);
      await sim.control('config', { ratePerMinute: RATE, windowMs: W });
      const env = gatewayEnv(sim.url, redis.url, {
        PLATFORM_APPS: apps,
        QUOTA_WINDOW_MS: String(W),
        GATEWAY_REPLICAS: '2',
        PLATFORM_TIMEOUT_MS: '1000',
      });
      const gws = [await startGateway(env), await startGateway(env)];
      gateways.push(...gws);
      const statuses = new Map<number, number>();
      const bad: string[] = [];
      let stop = false;
      let n = 0;
      // Two callers per replica: reads, and creates with their own Idempotency-Keys.
      const caller = async (g: TestGateway, kind: 'get' | 'post') => {
        while (!stop) {
          n += 1;
          const res = kind === 'get' ? await list(g.url) : await create(g.url, `stream-${n}`);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (!DOCUMENTED.has(res.status) || res.status === 500) bad.push(`${res.status} ${res.text}`);
          else if (res.status >= 400 && res.body?.error?.requestId !== res.headers['x-request-id']) bad.push(`no envelope: ${res.text}`);
          await sleep(15);
        }
      };
      const stream = Promise.all(gws.flatMap((g) => [caller(g, 'get'), caller(g, 'post')]));
      try {
        await sleep(1800);
        await redis.stop();
        // Both replicas notice and say so; /healthz stays 200.
        for (const g of gws) {
          await waitFor(async () => (await request(g.url).get('/readyz')).status === 503, 3000, 'readyz 503');
          assert.equal((await request(g.url).get('/healthz')).status, 200);
        }
        await sleep(W * 2 + 300); // past the blind window: each replica serves its share
        const degradedOk = statuses.get(200) ?? 0;
        await redis.start(); // empty: the replicas restore their logs and settle
        for (const g of gws) {
          await waitFor(async () => (await request(g.url).get('/readyz')).status === 200, 10_000, 'readyz 200 again');
          await waitFor(() => g.gateway.limiter.degraded === false, 10_000, 'limiter to trust Redis again');
        }
        const before = (statuses.get(200) ?? 0) + (statuses.get(201) ?? 0);
        await sleep(W + 500);
        stop = true;
        await stream;
        const after = (statuses.get(200) ?? 0) + (statuses.get(201) ?? 0);
        assert.deepEqual(bad, []);
        const { log } = await sim.calls();
        const worst = maxInAnyWindow(log, 'app-a', W);
        assert.ok(worst <= RATE, `the platform saw ${worst} calls of app-a in one ${W} ms interval (limit ${RATE})`);
        assert.ok(!log.some((c) => c.errorCode === '1010009'), 'the platform had to throttle us');
        assert.ok(degradedOk > 0, 'requests were served before and during the outage');
        assert.ok(after > before, 'requests were served again after Redis returned, without a restart');
        assert.ok((statuses.get(201) ?? 0) > 0, 'creates succeeded at some point');
        const unexpected = [...statuses.keys()].filter((s) => ![200, 201, 429, 503].includes(s));
        assert.deepEqual(unexpected, [], `statuses seen: ${JSON.stringify([...statuses])}`);
        assert.equal((await sim.calls()).byRoute[LOGIN_ROUTE], 1, 'tokens kept working from memory: one login');
      } finally {
        stop = true;
        await stream.catch(() => undefined);
        await sim.control('config', { ratePerMinute: 10_000, windowMs: 60_000 });
      }
    });

    it('hung rather than stopped (CLIENT PAUSE): every request is answered within a bounded time, and service resumes by itself', async function () {
      this.timeout(20_000);
      const gw = await gateway({ QUOTA_WINDOW_MS: '500', REDIS_COMMAND_TIMEOUT_MS: '200' });
      assert.equal((await list(gw.url)).status, 200);
      // A second connection pauses every client's commands on the server: the TCP connection stays up, Redis just stops answering.
      await redis.client.call('CLIENT', 'PAUSE', '2500', 'ALL');
      const t0 = Date.now();
      const during = await Promise.all(Array.from({ length: 20 }, (_, i) => timed(i % 2 ? list(gw.url) : create(gw.url, `hung-${i}`))));
      for (const { res, ms } of during) {
        assert.ok(ms < 1500, `a request waited ${ms} ms behind a hung Redis`);
        assert.ok([200, 201, 503].includes(res.status), `${res.status} ${res.text}`);
        if (res.status === 503) assertEnvelope(res, 503, 'SERVICE_UNAVAILABLE');
      }
      assert.ok(Date.now() - t0 < 2500, 'the batch finished while Redis was still paused');
      await waitFor(async () => (await list(gw.url)).status === 200, 8000, 'service to resume after the pause');
      // No 'ready' event follows a pause (the connection never dropped): the next decisions notice by themselves.
      await waitFor(async () => (await list(gw.url)).status === 200 && !gw.gateway.limiter.degraded, 8000, 'limiter to trust Redis again');
      assert.equal((await create(gw.url, 'after-hang')).status, 201);
    });
  });
});
