// The 1010009 rule: at most ratePerMinute platform calls per app in any window, across replicas, through Redis outages and restarts.
import assert from 'node:assert/strict';
import request from 'supertest';
import {
  KEYS,
  spawnGateway,
  assertEnvelope,
  LOGIN_ROUTE,
  TEST_APPS,
  gatewayEnv,
  sleep,
  startGateway,
  startRedis,
  startTestSimulator,
  waitFor,
  type TestGateway,
  type TestRedis,
  type TestSimulator,
  maxInAnyWindow,
  closeAll,
} from './helpers/fixtures.js';

const list = (url: string, app = 'app-a') => request(url).get(`/v1/apps/${app}/packages`).set('X-Api-Key', KEYS.all);

function assertRateLimited(res: request.Response) {
  assert.equal(res.status, 429, JSON.stringify(res.body));
  assert.equal(res.body.error.code, 'RATE_LIMITED');
  assert.equal(res.body.error.platformCode, '1010009');
  assert.equal(res.body.error.retryable, true);
  assert.equal(res.body.error.requestId, res.headers['x-request-id']);
  assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/);
  assert.match(String(res.headers['ratelimit-policy']), /^"app";q=\d+;w=\d+$/);
  assert.match(String(res.headers.ratelimit), /^"app";r=0;t=\d+$/);
}

describe('quota', () => {
  let redis: TestRedis;
  let sim: TestSimulator;

  before(async () => {
    redis = await startRedis({ own: true });
    sim = await startTestSimulator();
  });
  after(() => closeAll(sim, redis));
  beforeEach(async () => {
    await sim.reset();
    await redis.flush();
  });

  it('two replicas, 150 concurrent requests for one app: exactly 100 platform calls, logins included; the rest 429', async () => {
    const env = gatewayEnv(sim.url, redis.url, { GATEWAY_REPLICAS: '2' });
    const gws = [await startGateway(env), await startGateway(env)];
    try {
      const results = await Promise.all(Array.from({ length: 150 }, (_, i) => list((gws[i % 2] as TestGateway).url)));
      const ok = results.filter((r) => r.status === 200);
      const limited = results.filter((r) => r.status === 429);
      assert.equal(ok.length + limited.length, 150, `unexpected statuses: ${results.map((r) => r.status)}`);
      for (const r of limited) assertRateLimited(r);
      const calls = await sim.calls();
      assert.equal(calls.byApp['app-a'], 100);
      assert.equal(calls.byRoute[LOGIN_ROUTE], 1);
      assert.equal(ok.length, 99);
      assert.ok(!calls.log.some((c) => c.errorCode === '1010009'), 'the platform had to throttle us');
    } finally {
      for (const g of gws) await g.close();
    }
  });

  it('puts quota headers on every forwarded answer, with an exact Retry-After on refusal', async () => {
    const apps = JSON.stringify([{ ...TEST_APPS[0], ratePerMinute: 3 }, TEST_APPS[1]]);
    const gw = await startGateway(gatewayEnv(sim.url, redis.url, { PLATFORM_APPS: apps, QUOTA_WINDOW_MS: '10000' }));
    try {
      const first = await list(gw.url); // login + call: 2 of 3
      assert.equal(first.status, 200);
      assert.equal(first.headers['ratelimit-limit'], '3');
      assert.equal(first.headers['ratelimit-remaining'], '1');
      assert.match(String(first.headers.ratelimit), /^"app";r=1;t=(9|10)$/);
      assert.equal(first.headers['ratelimit-policy'], '"app";q=3;w=10');
      const notFound = await request(gw.url).get('/v1/apps/app-a/packages/none').set('X-Api-Key', KEYS.all);
      assert.equal(notFound.status, 404);
      assert.equal(notFound.headers['ratelimit-remaining'], '0', 'a forwarded call that failed still carries quota headers');
      const refused = await list(gw.url);
      assertRateLimited(refused);
      // The login was the first call of the window: its slot frees first, 10 s after it.
      assert.ok(Number(refused.headers['retry-after']) >= 9 && Number(refused.headers['retry-after']) <= 10);
    } finally {
      await gw.close();
    }
  });

  it('holds the boundary: calls spread across a fixed-window edge stay within the limit in every interval', async function () {
    this.timeout(20_000);
    const W = 2000;
    const apps = JSON.stringify([{ ...TEST_APPS[0], ratePerMinute: 10 }, TEST_APPS[1]]);
    await sim.control('config', { ratePerMinute: 10, windowMs: W });
    const gw = await startGateway(gatewayEnv(sim.url, redis.url, { PLATFORM_APPS: apps, QUOTA_WINDOW_MS: String(W) }));
    try {
      assert.equal((await list(gw.url)).status, 200); // login + 1
      await sleep(W + 50); // both leave the window
      const t0 = Date.now();
      const burst = async (n: number) => (await Promise.all(Array.from({ length: n }, () => list(gw.url)))).map((r) => r.status);
      const a = await burst(5);
      await sleep(Math.max(0, t0 + 1500 - Date.now()));
      const b = await burst(5);
      await sleep(Math.max(0, t0 + W + 400 - Date.now()));
      // A fixed window starting at t0 + W would allow 10 here; a sliding one at most what the first burst
      // freed (fewer if its calls ended late: a slot is held until one window after its call ended).
      const c = await burst(10);
      assert.deepEqual(a, Array(5).fill(200));
      assert.deepEqual(b, Array(5).fill(200));
      const admitted = c.filter((s) => s === 200).length;
      assert.ok(admitted >= 1 && admitted <= 5, `admitted ${admitted} at the edge`);
      assert.equal(c.filter((s) => s === 429).length, 10 - admitted);
      const { log } = await sim.calls();
      assert.ok(maxInAnyWindow(log, 'app-a', W) <= 10);
      assert.ok(!log.some((x) => x.errorCode === '1010009'));
    } finally {
      await gw.close();
      await sim.control('config', { ratePerMinute: 100, windowMs: 60_000 });
    }
  });

  it('isolates apps: exhausting app A leaves app B untouched', async () => {
    const apps = JSON.stringify([{ ...TEST_APPS[0], ratePerMinute: 5 }, { ...TEST_APPS[1], ratePerMinute: 5 }]);
    const gw = await startGateway(gatewayEnv(sim.url, redis.url, { PLATFORM_APPS: apps }));
    try {
      const a = await Promise.all(Array.from({ length: 10 }, () => list(gw.url, 'app-a')));
      assert.equal(a.filter((r) => r.status === 200).length, 4);
      const b = await Promise.all(Array.from({ length: 4 }, () => list(gw.url, 'app-b')));
      assert.deepEqual(b.map((r) => r.status), [200, 200, 200, 200]);
    } finally {
      await gw.close();
    }
  });

  it('answers an exhausted app from memory: no Redis round trip on the 429 path', async () => {
    const apps = JSON.stringify([{ ...TEST_APPS[0], ratePerMinute: 3 }, TEST_APPS[1]]);
    const gw = await startGateway(gatewayEnv(sim.url, redis.url, { PLATFORM_APPS: apps }));
    try {
      await Promise.all(Array.from({ length: 4 }, () => list(gw.url)));
      await sleep(50); // the admitted calls' touches are sent after their answers, without waiting
      const evalsBefore = await scriptCalls(redis);
      const refused = await Promise.all(Array.from({ length: 20 }, () => list(gw.url)));
      for (const r of refused) assertRateLimited(r);
      assert.equal(await scriptCalls(redis), evalsBefore);
    } finally {
      await gw.close();
    }
  });

  it('costs one awaited Redis round trip per forwarded call in the steady state (the Lua decision), plus one touch after it', async () => {
    const gw = await startGateway(gatewayEnv(sim.url, redis.url));
    try {
      assert.equal((await list(gw.url)).status, 200); // token in memory from here on
      await sleep(50);
      const before = await commandCounts(redis);
      for (let i = 0; i < 10; i++) assert.equal((await list(gw.url)).status, 200);
      await sleep(50);
      const after = await commandCounts(redis);
      const delta = Object.fromEntries(
        Object.keys(after)
          .filter((k) => k !== 'info' && after[k] !== before[k])
          .map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]),
      );
      // evalsha: the decision (awaited) and the touch when the call ended (not awaited). INFO also counts
      // the commands the scripts run inside Redis; no other command comes from the gateway (no token read).
      assert.equal(delta.evalsha, 20);
      const insideScripts = ['time', 'pttl', 'zremrangebyscore', 'zcard', 'zadd', 'pexpire', 'zrange'];
      assert.deepEqual(Object.keys(delta).filter((k) => k !== 'evalsha' && !insideScripts.includes(k)), []);
    } finally {
      await gw.close();
    }
  });

  it("the platform's own 1010009: 429 too, and the app is held back without calling the platform", async () => {
    const gw = await startGateway(gatewayEnv(sim.url, redis.url, { QUOTA_HOLD_MS: '1500' }));
    try {
      assert.equal((await list(gw.url)).status, 200);
      await sim.control('faults', { count: 1, path: '/category', status: 403, errorCode: '1010009', errorDesc: 'app throttle exceed.' });
      const first = await list(gw.url);
      assertRateLimited(first);
      assert.equal(first.headers['retry-after'], '2');
      const before = (await sim.calls()).total;
      const held = await Promise.all(Array.from({ length: 5 }, () => list(gw.url)));
      for (const r of held) assertRateLimited(r);
      assert.equal((await sim.calls()).total, before, 'held-back calls reached the platform');
      assert.equal((await list(gw.url, 'app-b')).status, 200, 'other apps are not held back');
      // A second replica, which never saw the 1010009, holds back too (the hold is in Redis).
      const other = await startGateway({ ...gatewayEnv(sim.url, redis.url), REDIS_KEY_PREFIX: gw.gateway.config.redisKeyPrefix });
      try {
        assertRateLimited(await list(other.url));
      } finally {
        await other.close();
      }
      await sleep(1600);
      assert.equal((await list(gw.url)).status, 200, 'calls resume after the hold');
    } finally {
      await gw.close();
    }
  });

  it('regression: NOSCRIPT after Redis lost its scripts (rate-limit-redis#71)', async () => {
    const gw = await startGateway(gatewayEnv(sim.url, redis.url));
    try {
      assert.equal((await list(gw.url)).status, 200);
      await redis.client.script('FLUSH');
      assert.equal((await list(gw.url)).status, 200);
      await request(gw.url).get('/v1/apps/app-a/packages/none').set('X-Api-Key', KEYS.all).expect(404);
    } finally {
      await gw.close();
    }
  });

  it('regression: a late Redis answer refuses that call, not every app for a whole window (load suite, F8)', async function () {
    this.timeout(20_000);
    const gw = await startGateway(gatewayEnv(sim.url, redis.url));
    try {
      assert.equal((await list(gw.url)).status, 200);
      // Redis stalls for longer than REDIS_COMMAND_TIMEOUT_MS (500 ms), on a connection that stays up.
      await redis.client.call('CLIENT', 'PAUSE', '800', 'ALL');
      const late = await list(gw.url);
      assertEnvelope(late, 503, 'SERVICE_UNAVAILABLE');
      await sleep(600);
      assert.equal(gw.gateway.limiter.degraded, false, 'one stall must not switch the replica to its blind window');
      const [a, b] = await Promise.all([list(gw.url), list(gw.url, 'app-b')]);
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(b.status, 200, JSON.stringify(b.body));
    } finally {
      await gw.close();
    }
  });

  it('Redis stopped and restarted mid-stream with two replicas: the limit holds in every interval', async function () {
    this.timeout(40_000);
    const W = 1500;
    const apps = JSON.stringify([{ ...TEST_APPS[0], ratePerMinute: 10 }, TEST_APPS[1]]);
    await sim.control('config', { ratePerMinute: 10, windowMs: W });
    const env = gatewayEnv(sim.url, redis.url, { PLATFORM_APPS: apps, QUOTA_WINDOW_MS: String(W), GATEWAY_REPLICAS: '2' });
    const gws = [await startGateway(env), await startGateway(env)];
    const statuses = new Map<number, number>();
    let stop = false;
    const stream = (async () => {
      let i = 0;
      while (!stop) {
        const r = await list((gws[i % 2] as TestGateway).url);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status >= 500) assert.equal(r.body.error.code, 'SERVICE_UNAVAILABLE');
        i++;
        await sleep(20);
      }
    })();
    try {
      await sleep(2000);
      await redis.stop();
      await sleep(W * 2 + 500); // past the blind window: each replica serves its share
      await redis.start(); // empty: the replicas restore their logs
      await sleep(2500);
      stop = true;
      await stream;
      const { log } = await sim.calls();
      assert.ok(maxInAnyWindow(log, 'app-a', W) <= 10, `saw ${maxInAnyWindow(log, 'app-a', W)} calls in one window`);
      assert.ok(!log.some((x) => x.errorCode === '1010009'), 'the platform had to throttle us');
      assert.ok((statuses.get(200) ?? 0) > 10, 'calls were served before, during and after the outage');
      assert.deepEqual([...statuses.keys()].filter((s) => ![200, 429, 503].includes(s)), []);
    } finally {
      stop = true;
      await stream.catch(() => undefined);
      for (const g of gws) await g.close();
      await sim.control('config', { ratePerMinute: 100, windowMs: 60_000 });
    }
  });

  it('Redis back with its data after an outage longer than a window: replicas settle before trusting it (review finding)', async function () {
    this.timeout(40_000);
    const W = 4000;
    const own = await startRedis({ own: true, persist: true });
    const apps = JSON.stringify([{ ...TEST_APPS[0], ratePerMinute: 10 }, TEST_APPS[1]]);
    await sim.control('config', { ratePerMinute: 10, windowMs: W });
    const env = gatewayEnv(sim.url, own.url, { PLATFORM_APPS: apps, QUOTA_WINDOW_MS: String(W), GATEWAY_REPLICAS: '2' });
    const a = await startGateway(env);
    const b = await spawnGateway(env);
    try {
      assert.equal((await list(a.url)).status, 200);
      assert.equal((await list(b.url)).status, 200);
      await own.stop();
      await sleep(W + 300); // past the blind window: each replica may use its share (5)
      for (let i = 0; i < 5; i++) {
        assert.equal((await list(a.url)).status, 200);
        assert.equal((await list(b.url)).status, 200);
      }
      // B is frozen while Redis comes back, so that its local calls reach Redis only later.
      b.proc.kill('SIGSTOP');
      await own.start();
      await waitFor(async () => (await request(a.url).get('/readyz')).status === 200, 5000, 'A to reach Redis again');
      await sleep(100); // A has written its own calls back
      const burst = await Promise.all(Array.from({ length: 5 }, () => list(a.url)));
      b.proc.kill('SIGCONT');
      await sleep(2500);
      const { log } = await sim.calls();
      assert.ok(maxInAnyWindow(log, 'app-a', W) <= 10, `saw ${maxInAnyWindow(log, 'app-a', W)} calls in one window`);
      assert.ok(!log.some((x) => x.errorCode === '1010009'), 'the platform had to throttle us');
      assert.deepEqual(burst.filter((r) => r.status === 200).length, 0);
    } finally {
      b.proc.kill('SIGCONT');
      b.kill('SIGKILL');
      await b.exited;
      await a.close();
      await own.close();
      await sim.control('config', { ratePerMinute: 100, windowMs: 60_000 });
    }
  });

  it('Redis restarted empty right after a burst: the restored log still holds the limit', async function () {
    this.timeout(30_000);
    const W = 3000;
    const apps = JSON.stringify([{ ...TEST_APPS[0], ratePerMinute: 10 }, TEST_APPS[1]]);
    await sim.control('config', { ratePerMinute: 10, windowMs: W });
    const env = gatewayEnv(sim.url, redis.url, { PLATFORM_APPS: apps, QUOTA_WINDOW_MS: String(W), GATEWAY_REPLICAS: '2' });
    const gws = [await startGateway(env), await startGateway(env)];
    try {
      // 9 of 10 used (login included), split over both replicas.
      for (let i = 0; i < 8; i++) assert.equal((await list((gws[i % 2] as TestGateway).url)).status, 200);
      await redis.stop();
      await redis.start();
      await waitFor(() => gws.every((g) => g.gateway.limiter.degraded === false), 10_000, 'replicas to trust Redis again');
      const after = await Promise.all(Array.from({ length: 6 }, (_, i) => list((gws[i % 2] as TestGateway).url)));
      const { log } = await sim.calls();
      assert.ok(maxInAnyWindow(log, 'app-a', W) <= 10, `saw ${maxInAnyWindow(log, 'app-a', W)} in one window`);
      assert.ok(after.filter((r) => r.status === 200).length <= 1);
    } finally {
      for (const g of gws) await g.close();
      await sim.control('config', { ratePerMinute: 100, windowMs: 60_000 });
    }
  });
});

async function commandCounts(redis: TestRedis): Promise<Record<string, number>> {
  const info = await redis.client.info('commandstats');
  return Object.fromEntries([...info.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)].map((m) => [m[1] as string, Number(m[2])]));
}

async function scriptCalls(redis: TestRedis): Promise<number> {
  const info = await redis.client.info('commandstats');
  let n = 0;
  for (const m of info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) n += Number(m[1]);
  return n;
}
