// Operations: request ids, /healthz, /readyz following Redis down and back, /metrics, helmet headers.
import assert from 'node:assert/strict';
import request from 'supertest';
import {
  KEYS,
  gatewayEnv,
  startGateway,
  waitFor,
  type TestGateway,
  type TestRedis,
  type TestSimulator,
  closeAll,
  startStack,
} from './helpers/fixtures.js';

describe('operations endpoints', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: TestGateway;

  before(async () => {
    ({ redis, sim, gw } = await startStack({ ownRedis: true }));
  });
  after(() => closeAll(gw, sim, redis));

  it('echoes a well-formed X-Request-Id, replaces a malformed one, and logs it', async () => {
    const mine = await request(gw.url).get('/healthz').set('X-Request-Id', 'abc-123:x.y_z');
    assert.equal(mine.headers['x-request-id'], 'abc-123:x.y_z');
    const bad = await request(gw.url).get('/healthz').set('X-Request-Id', 'bad id with spaces');
    assert.match(String(bad.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    const long = await request(gw.url).get('/healthz').set('X-Request-Id', 'a'.repeat(129));
    assert.notEqual(long.headers['x-request-id'], 'a'.repeat(129));
    await request(gw.url).get('/v1/apps/app-a/packages').set('X-Api-Key', KEYS.all).set('X-Request-Id', 'trace-me-42');
    const lines = gw.logs.filter((l) => l.includes('trace-me-42'));
    assert.ok(lines.length >= 1);
    for (const l of lines) assert.equal(JSON.parse(l).requestId, 'trace-me-42');
  });

  it('/healthz is 200 and /readyz is 200 while Redis answers', async () => {
    assert.deepEqual((await request(gw.url).get('/healthz')).body, { status: 'ok' });
    const r = await request(gw.url).get('/readyz');
    assert.equal(r.status, 200);
    // The store's topology and current primary are named (issue 14).
    assert.deepEqual(r.body, { status: 'ready', redis: { topology: 'single', primary: new URL(redis.url).host } });
  });

  it('/readyz turns 503 with a reason when Redis stops, /healthz stays 200, and both recover', async function () {
    this.timeout(20_000);
    await redis.stop();
    await waitFor(async () => (await request(gw.url).get('/readyz')).status === 503, 5000, 'readyz 503');
    const r = await request(gw.url).get('/readyz');
    assert.deepEqual(r.body, { status: 'not ready', reasons: ['redis: unreachable'], redis: { topology: 'single', primary: null } });
    assert.equal((await request(gw.url).get('/healthz')).status, 200);
    await redis.start();
    await waitFor(async () => (await request(gw.url).get('/readyz')).status === 200, 10_000, 'readyz 200 again');
  });

  it('/metrics exposes request counts and latency by route and status, and no secrets', async () => {
    await request(gw.url).get('/v1/apps/app-a/packages').set('X-Api-Key', KEYS.all);
    const res = await request(gw.url).get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.text, /iotbff_http_requests_total\{method="GET",route="listPackages",status="200"\} \d+/);
    assert.match(res.text, /iotbff_http_request_duration_seconds_bucket\{.*route="listPackages"/);
    assert.match(res.text, /iotbff_platform_calls_total\{app="app-a",kind="login",outcome="ok"\} 1/);
    assert.ok(!res.text.includes(KEYS.all));
    assert.ok(!res.text.includes('secret-of-app-a'));
  });

  it('REDIS_URL=memory: says at start that it must run as one replica, and serves without Redis', async () => {
    const solo = await startGateway(gatewayEnv(sim.url, 'memory'));
    try {
      assert.ok(solo.logs.some((l) => /in-process store; run ONE replica only/.test(l)));
      assert.deepEqual((await request(solo.url).get('/readyz')).body, { status: 'ready' });
      assert.equal((await request(solo.url).get('/v1/apps/app-b/packages').set('X-Api-Key', KEYS.all)).status, 200);
    } finally {
      await solo.close();
    }
  });

  it('sets helmet headers and no x-powered-by or etag', async () => {
    const res = await request(gw.url).get('/healthz');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['x-powered-by'], undefined);
    assert.equal(res.headers.etag, undefined);
  });
});
