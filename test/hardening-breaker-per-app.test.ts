// Issue 17, finding 8 ("one circuit breaker for all apps"): one app's failing logins or calls open only that app's circuit.
import assert from 'node:assert/strict';
import request from 'supertest';
import { AppBreakers } from '../src/platform/breaker.js';
import { assertEnvelope, closeAll, gatewayEnv, KEYS, startGateway, startRedis, startTestSimulator, type TestRedis, type TestSimulator } from './helpers/fixtures.js';

const list = (url: string, app: string) => request(url).get(`/v1/apps/${app}/packages?fileType=softwarePackage`).set('X-Api-Key', KEYS.all);

describe('issue 17 finding 8: the circuit breaker is per app', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let sim: TestSimulator;

  before(async () => {
    redis = await startRedis();
    sim = await startTestSimulator();
  });
  beforeEach(() => sim.reset());
  after(() => closeAll(sim, redis));

  it('AppBreakers keeps one independent breaker per app', () => {
    const b = new AppBreakers({ failures: 1, cooldownMs: 1000 });
    b.for('a').failure(0);
    assert.equal(b.for('a').state, 'open');
    assert.equal(b.for('b').state, 'closed');
    assert.equal(b.for('a'), b.for('a'));
  });

  it("regression: one app's failing login opens its own circuit only; the other app keeps being served", async () => {
    const gw = await startGateway(gatewayEnv(sim.url, redis.url, { BREAKER_FAILURES: '2', BREAKER_COOLDOWN_MS: '60000' }));
    try {
      assert.equal((await list(gw.url, 'app-b')).status, 200);
      // app-a's logins fail as an outage would (HTTP 503 without a code).
      await sim.control('faults', { count: 50, appId: 'app-a', status: 503, mode: 'error' });
      for (let i = 0; i < 2; i++) assert.ok([502, 503].includes((await list(gw.url, 'app-a')).status));
      const calls = (await sim.calls()).total;
      const open = await list(gw.url, 'app-a');
      assertEnvelope(open, 503, 'UPSTREAM_UNAVAILABLE');
      assert.equal((await sim.calls()).total, calls, 'an open circuit let app-a call the platform');
      for (let i = 0; i < 3; i++) assert.equal((await list(gw.url, 'app-b')).status, 200, 'app-b paused by app-a');
      const metrics = await gw.gateway.metrics.registry.metrics();
      assert.match(metrics, /iotbff_platform_breaker_open\{app="app-a"\} 1/);
      assert.doesNotMatch(metrics, /iotbff_platform_breaker_open\{app="app-b"\} 1/);
    } finally {
      await gw.close();
    }
  });

  it("one app's failing calls open its own circuit only", async () => {
    const gw = await startGateway(gatewayEnv(sim.url, redis.url, { BREAKER_FAILURES: '2', BREAKER_COOLDOWN_MS: '60000' }));
    try {
      assert.equal((await list(gw.url, 'app-a')).status, 200);
      assert.equal((await list(gw.url, 'app-b')).status, 200);
      await sim.control('faults', { count: 50, appId: 'app-a', path: '/iodm/northbound/v1.5.0/category', status: 500, mode: 'error' });
      for (let i = 0; i < 2; i++) await list(gw.url, 'app-a');
      assertEnvelope(await list(gw.url, 'app-a'), 503, 'UPSTREAM_UNAVAILABLE');
      assert.equal((await list(gw.url, 'app-b')).status, 200);
    } finally {
      await gw.close();
    }
  });
});
