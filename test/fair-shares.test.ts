// Contract §11 across two replicas on one real Redis: a reserved client gets its reserve whatever a flooding client does, the app never exceeds its rate, and reserves over the rate stop the start.
import assert from 'node:assert/strict';
import request from 'supertest';
import { ConfigError, loadConfig } from '../src/config.js';
import {
  TEST_APPS,
  closeAll,
  gatewayEnv,
  maxInAnyWindow,
  startGateway,
  startRedis,
  startTestSimulator,
  type TestGateway,
  type TestRedis,
  type TestSimulator,
} from './helpers/fixtures.js';

export const FAIR_KEYS = { flood: 'key-of-the-flooding-client-000001', portal: 'key-of-the-reserved-portal-000002' };
const W = 4000;
const RATE = 20;

/** A flooding client without a reserve and a portal with a reserve of 8 of app-a's 20. */
export function fairEnv(simUrl: string, redisUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return gatewayEnv(simUrl, redisUrl, {
    PLATFORM_APPS: JSON.stringify([{ ...TEST_APPS[0], ratePerMinute: RATE }, TEST_APPS[1]]),
    GATEWAY_CLIENTS: JSON.stringify([
      { name: 'analytics', key: FAIR_KEYS.flood, apps: ['*'] },
      { name: 'ops-portal', key: FAIR_KEYS.portal, apps: ['app-a'], reserve: { 'app-a': 8 } },
    ]),
    QUOTA_WINDOW_MS: String(W),
    GATEWAY_REPLICAS: '2',
    // On this shared 2-core machine a burst can make a Redis answer late; a late answer is a 503 by design (quota.test.ts), not what this suite is about.
    REDIS_COMMAND_TIMEOUT_MS: '3000',
    ...extra,
  });
}

const list = (url: string, key: string) => request(url).get('/v1/apps/app-a/packages').set('X-Api-Key', key);

describe('fair shares (contract §11)', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  before(async () => {
    redis = await startRedis();
    sim = await startTestSimulator();
  });
  after(() => closeAll(sim, redis));

  it('two replicas: a flooding client cannot take the reserved 8 of 20; the reserved client gets its 8, and the app never exceeds 20 in any window', async function () {
    this.timeout(20_000);
    await sim.reset();
    await sim.control('config', { ratePerMinute: RATE, windowMs: W });
    const env = fairEnv(sim.url, redis.url);
    const gws = [await startGateway(env), await startGateway(env)];
    try {
      const url = (i: number) => (gws[i % 2] as TestGateway).url;
      // The flood spends everything it can: 12 slots (the login included), the rest 429.
      const flood = await Promise.all(Array.from({ length: 40 }, (_, i) => list(url(i), FAIR_KEYS.flood)));
      const floodOk = flood.filter((r) => r.status === 200).length;
      assert.equal(floodOk, RATE - 8 - 1, `flood got ${floodOk}`);
      for (const r of flood.filter((x) => x.status !== 200)) {
        assert.equal(r.status, 429, JSON.stringify(r.body));
        assert.equal(r.body.error.code, 'RATE_LIMITED');
      }
      // Interleaved with more flooding, on both replicas: the portal gets all of its 8.
      const mixed = await Promise.all(
        Array.from({ length: 16 }, (_, i) => list(url(i), i % 2 === 0 ? FAIR_KEYS.portal : FAIR_KEYS.flood)),
      );
      const portal = mixed.filter((_, i) => i % 2 === 0);
      assert.deepEqual(portal.map((r) => r.status), Array(8).fill(200));
      assert.ok(mixed.filter((_, i) => i % 2 === 1).every((r) => r.status === 429), 'the flood got slots kept for the portal');
      // Over its reserve the portal competes like everyone else: none left.
      assert.equal((await list(url(0), FAIR_KEYS.portal)).status, 429);
      const { log } = await sim.calls();
      assert.ok(maxInAnyWindow(log, 'app-a', W) <= RATE, `saw ${maxInAnyWindow(log, 'app-a', W)} calls in one window`);
      assert.ok(!log.some((c) => c.errorCode === '1010009'), 'the platform had to throttle us');
      const metrics = await request(url(0)).get('/metrics');
      assert.match(metrics.text, /iotbff_client_platform_calls_total\{client="ops-portal",app="app-a",part="reserve"\} \d+/);
      assert.match(metrics.text, /iotbff_client_refusals_total\{client="analytics",limit="app-quota"\} \d+/);
      assert.match(metrics.text, /iotbff_client_reserve_in_use\{client="ops-portal",app="app-a"\} [1-8]\n/);
    } finally {
      for (const g of gws) await g.close();
      await sim.control('config', { ratePerMinute: 100, windowMs: 60_000 });
    }
  });

  it('a login needed by the reserved client when nothing unreserved is left comes out of its reserve', async function () {
    this.timeout(20_000);
    await sim.reset();
    await sim.control('config', { ratePerMinute: RATE, windowMs: W });
    const env = fairEnv(sim.url, redis.url);
    const gw = await startGateway(env);
    try {
      // The portal's own first request: the login takes the unreserved part, the call its reserve.
      assert.equal((await list(gw.url, FAIR_KEYS.portal)).status, 200);
      const { log } = await sim.calls();
      assert.equal(log.length, 2);
    } finally {
      await gw.close();
      await sim.control('config', { ratePerMinute: 100, windowMs: 60_000 });
    }
  });

  it('reserves that sum to more than the rate are refused at start, naming the app', () => {
    const env = {
      PLATFORM_URL: 'http://127.0.0.1:1',
      PLATFORM_APPS: JSON.stringify([{ ...TEST_APPS[0], ratePerMinute: 10 }, TEST_APPS[1]]),
      GATEWAY_CLIENTS: JSON.stringify([
        { name: 'a', key: FAIR_KEYS.flood, apps: ['*'], reserve: { 'app-a': 6 } },
        { name: 'b', key: FAIR_KEYS.portal, apps: ['app-a'], reserve: { 'app-a': 5 } },
      ]),
    };
    assert.throws(
      () => loadConfig(env, '/nonexistent'),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.some((p) => p === 'GATEWAY_CLIENTS: the reserves of app app-a sum to 11, more than its ratePerMinute (10)'),
    );
    const fits = { ...env, GATEWAY_CLIENTS: env.GATEWAY_CLIENTS.replace('"app-a":6', '"app-a":5') };
    assert.equal(loadConfig(fits, '/nonexistent').clients[0]?.reserve.get('app-a'), 5);
  });

  it('a reserve on an app the client may not use is refused at start', () => {
    const env = {
      PLATFORM_URL: 'http://127.0.0.1:1',
      PLATFORM_APPS: JSON.stringify(TEST_APPS),
      GATEWAY_CLIENTS: JSON.stringify([{ name: 'a', key: FAIR_KEYS.flood, apps: ['app-a'], reserve: { 'app-b': 1 } }]),
    };
    assert.throws(() => loadConfig(env, '/nonexistent'), /reserve: names an app the client may not use: app-b/);
  });
});
