// Issue 15: an app whose quota is known spent is refused before its request is parsed or validated, unless a cached answer or an Idempotency-Key replay can still serve it.
import assert from 'node:assert/strict';
import request from 'supertest';
import { assertEnvelope, closeAll, gatewayEnv, KEYS, startGateway, startRedis, startTestSimulator, TEST_APPS, type TestGateway, type TestRedis, type TestSimulator } from './helpers/fixtures.js';
import { platformCallsSince } from './helpers/routes.js';

const task = { fileId: 'sw-pkg-0001', targets: { devices: ['dev-1'] } };
/** Well-formed JSON, refused by validation (devices and deviceGroups together). */
const invalidTask = { fileId: 'sw-pkg-0001', targets: { devices: ['dev-1'], deviceGroups: ['g-1'] } };

describe('quota: the refusal known before the request is read', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: TestGateway;
  const key = 'early-refusal-key-1';

  before(async () => {
    redis = await startRedis();
    sim = await startTestSimulator();
    // Four calls a minute for app-a: the login, one listed page (cached for a minute), one created task (with an
    // Idempotency-Key) and one more, after which the app is spent.
    gw = await startGateway(
      gatewayEnv(sim.url, redis.url, {
        PLATFORM_APPS: JSON.stringify(TEST_APPS.map((a) => ({ ...a, ratePerMinute: 4 }))),
        CACHE_TTL_SEC: '{"*":0,"listPackages":60}',
      }),
    );
    const api = request(gw.url);
    assert.equal((await api.get('/v1/apps/app-a/packages').set('X-Api-Key', KEYS.all)).status, 200);
    const created = await api.post('/v1/apps/app-a/upgrade-tasks/software').set('X-Api-Key', KEYS.all).set('Idempotency-Key', key).send(task);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal((await api.get('/v1/apps/app-a/upgrade-tasks').set('X-Api-Key', KEYS.all)).status, 200);
    // The first refusal comes from Redis; from then on the replica knows it without asking.
    assertEnvelope(await api.get('/v1/apps/app-a/upgrade-tasks').set('X-Api-Key', KEYS.all), 429, 'RATE_LIMITED');
  });
  after(() => closeAll(gw, sim, redis));

  it('answers an invalid body with the 429 (limits before the work they bound), and nothing reaches the platform', async () => {
    const since = Date.now();
    const res = await request(gw.url).post('/v1/apps/app-a/upgrade-tasks/software').set('X-Api-Key', KEYS.all).send(invalidTask);
    const e = assertEnvelope(res, 429, 'RATE_LIMITED');
    assert.equal(e.platformCode, '1010009');
    assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/);
    // Not even a body that is not JSON is read.
    const garbage = await request(gw.url).post('/v1/apps/app-a/upgrade-tasks/software').set('X-Api-Key', KEYS.all).set('Content-Type', 'application/json').send('{not json');
    assertEnvelope(garbage, 429, 'RATE_LIMITED');
    assert.deepEqual(await platformCallsSince(sim, since), []);
  });

  it('still serves a cached GET from the cache, spending nothing', async () => {
    const res = await request(gw.url).get('/v1/apps/app-a/packages').set('X-Api-Key', KEYS.all);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.match(String(res.headers['cache-status']), /^iot-bff; hit/);
  });

  it('still replays an Idempotency-Key answer', async () => {
    const res = await request(gw.url).post('/v1/apps/app-a/upgrade-tasks/software').set('X-Api-Key', KEYS.all).set('Idempotency-Key', key).send(task);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers['idempotent-replayed'], 'true');
  });

  it('leaves the other apps alone, and still tells a wrong route or method apart', async () => {
    assert.equal((await request(gw.url).get('/v1/apps/app-b/upgrade-tasks').set('X-Api-Key', KEYS.all)).status, 200);
    assertEnvelope(await request(gw.url).get('/v1/apps/app-a/no-such-route').set('X-Api-Key', KEYS.all), 404, 'NOT_FOUND');
    const wrong = await request(gw.url).delete('/v1/apps/app-a/upgrade-tasks').set('X-Api-Key', KEYS.all);
    assertEnvelope(wrong, 405, 'METHOD_NOT_ALLOWED');
    assert.equal(wrong.headers.allow, 'GET');
  });
});
