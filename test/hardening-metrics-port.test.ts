// Issue 17, finding 6 ("/metrics tells anyone which apps exist"): with METRICS_PORT set, /metrics is served only on that port, never on the API port.
import assert from 'node:assert/strict';
import request from 'supertest';
import { closeAll, freePort, gatewayEnv, KEYS, spawnGateway, startRedis, startTestSimulator, type ChildGateway, type TestRedis, type TestSimulator } from './helpers/fixtures.js';

describe('issue 17 finding 6: /metrics only on METRICS_PORT', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: ChildGateway;
  let metricsUrl: string;

  before(async () => {
    redis = await startRedis();
    sim = await startTestSimulator();
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}`;
    gw = await spawnGateway(gatewayEnv(sim.url, redis.url, { METRICS_PORT: String(port), LOG_LEVEL: 'warn' }));
  });
  after(async () => {
    gw?.kill('SIGTERM');
    await gw?.exited;
    await closeAll(sim, redis);
  });

  it('regression: the API port answers /metrics 404 (with or without a key), so callers cannot list the apps', async () => {
    assert.equal((await request(gw.url).get('/v1/apps/app-a/packages?fileType=softwarePackage').set('X-Api-Key', KEYS.onlyA)).status, 200);
    for (const key of [undefined, KEYS.onlyA, KEYS.all]) {
      const req = request(gw.url).get('/metrics');
      const res = key ? await req.set('X-Api-Key', key) : await req;
      assert.equal(res.status, 404);
      assert.doesNotMatch(res.text, /app-b|iotbff_/);
    }
    assert.equal((await request(gw.url).get('/healthz')).status, 200);
  });

  it('the metrics port serves /metrics, and nothing else', async () => {
    const res = await request(metricsUrl).get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.text, /iotbff_platform_calls_total\{app="app-a",kind="api",outcome="ok"\} 1/);
    for (const p of ['/healthz', '/v1/apps/app-a/packages', '/openapi.json']) assert.equal((await request(metricsUrl).get(p)).status, 404);
  });

  it('both listeners close on SIGTERM and the process exits 0', async () => {
    gw.kill('SIGTERM');
    assert.equal(await gw.exited, 0);
    await assert.rejects(fetch(`${metricsUrl}/metrics`));
  });
});
