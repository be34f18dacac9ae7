// Idempotency-Key on the create routes: one platform call per key, replay, 409 while running, 422 on another body, scoped per client, across replicas.
import assert from 'node:assert/strict';
import request from 'supertest';
import {
  KEYS,
  TEST_APPS,
  freePort,
  gatewayEnv,
  sleep,
  startGateway,
  startRedis,
  startTestSimulator,
  type TestGateway,
  type TestRedis,
  type TestSimulator,
  assertEnvelope,
  closeAll,
  appsWithRate,
} from './helpers/fixtures.js';

const SW_ROUTE = 'POST /iodm/northbound/v1.5.0/operations/softwareUpgrade';
const FW_ROUTE = 'POST /iodm/northbound/v1.5.0/operations/firmwareUpgrade';
const swTask = { fileId: 'sw-pkg-0001', targets: { devices: ['dev-1', 'dev-2'] } };
const fwTask = { fileId: 'fw-pkg-0001', targets: { devices: ['dev-3'] } };
const highQuota = appsWithRate(10_000);

function create(url: string, key: string | undefined, body: unknown = swTask, opts: { kind?: 'software' | 'firmware'; apiKey?: string } = {}) {
  const r = request(url)
    .post(`/v1/apps/app-a/upgrade-tasks/${opts.kind ?? 'software'}`)
    .set('X-Api-Key', opts.apiKey ?? KEYS.all);
  if (key !== undefined) r.set('Idempotency-Key', key);
  return r.send(body as object);
}

function assertCreated(res: request.Response): string {
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(Object.keys(res.body), ['operationId']);
  assert.equal(typeof res.body.operationId, 'string');
  return res.body.operationId as string;
}

let seq = 0;
/** A key no other test uses (the store outlives tests within a gateway's prefix). */
const freshKey = (label: string) => `${label}-${process.pid}-${Date.now()}-${++seq}`;

describe('idempotency', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: TestGateway;
  const extra: TestGateway[] = [];

  before(async () => {
    redis = await startRedis({ own: true });
    sim = await startTestSimulator({ ratePerMinute: 10_000 });
    gw = await startGateway(gatewayEnv(sim.url, redis.url, { PLATFORM_APPS: highQuota, PLATFORM_TIMEOUT_MS: '2000' }));
  });
  after(() => closeAll(gw, sim, redis));
  // Not sim.reset(): that would revoke the gateway's token, and the 1010005 retry would add a call to the counts.
  beforeEach(async () => {
    await sim.control('calls', undefined, 'DELETE');
    await sim.control('faults', undefined, 'DELETE');
    await sim.control('latency', { ms: 0 });
  });
  afterEach(async () => {
    while (extra.length > 0) await extra.pop()?.close();
  });

  /** Create calls the platform may have acted on (a 1010005 token refusal, after another gateway logged in, created nothing). */
  const platformCreates = async () => {
    const { log } = await sim.calls();
    return log.filter((c) => [SW_ROUTE, FW_ROUTE].includes(`${c.method} ${c.path}`) && c.errorCode !== '1010005').length;
  };

  it('sequential duplicates: the repeat replays the stored 201 with Idempotent-Replayed and the same operationId, without a second platform call', async () => {
    const key = freshKey('seq');
    const first = await create(gw.url, key);
    const id = assertCreated(first);
    assert.equal(first.headers['idempotent-replayed'], undefined);
    for (let i = 0; i < 3; i++) {
      const again = await create(gw.url, key);
      assert.equal(assertCreated(again), id);
      assert.equal(again.headers['idempotent-replayed'], 'true');
    }
    // Key order in the body does not make it another request.
    const reordered = await create(gw.url, key, { targets: { devices: ['dev-1', 'dev-2'] }, fileId: 'sw-pkg-0001' });
    assert.equal(assertCreated(reordered), id);
    assert.equal(await platformCreates(), 1);
    // Without a key, every POST is a new task.
    const a = assertCreated(await create(gw.url, undefined));
    const b = assertCreated(await create(gw.url, undefined));
    assert.notEqual(a, b);
    assert.equal(await platformCreates(), 3);
  });

  it('concurrent duplicates: exactly one platform call and one stored 201; every other answer is that same 201 replayed or 409 CONFLICT', async () => {
    await sim.control('latency', { ms: 400, path: '/operations' });
    const key = freshKey('conc');
    const results = await Promise.all(Array.from({ length: 8 }, () => create(gw.url, key, fwTask, { kind: 'firmware' })));
    const fresh = results.filter((r) => r.status === 201 && r.headers['idempotent-replayed'] === undefined);
    assert.equal(fresh.length, 1, `statuses: ${results.map((r) => r.status)}`);
    const id = assertCreated(fresh[0] as request.Response);
    for (const r of results) {
      if (r === fresh[0]) continue;
      if (r.status === 201) {
        assert.equal(r.headers['idempotent-replayed'], 'true');
        assert.equal(assertCreated(r), id);
      } else {
        const e = assertEnvelope(r, 409, 'CONFLICT');
        assert.equal(e.retryable, true);
        assert.match(String(r.headers['retry-after']), /^[1-9]\d*$/);
      }
    }
    assert.equal(await platformCreates(), 1);
    // Once the first is done, a retry gets the stored answer.
    const later = await create(gw.url, key, fwTask, { kind: 'firmware' });
    assert.equal(assertCreated(later), id);
    assert.equal(later.headers['idempotent-replayed'], 'true');
    assert.equal(await platformCreates(), 1);
  });

  it('the same key with a different body: 422 IDEMPOTENCY_KEY_REUSED, nothing sent, and the first answer stays', async () => {
    const key = freshKey('reuse');
    const id = assertCreated(await create(gw.url, key));
    const other = await create(gw.url, key, { ...swTask, targets: { devices: ['dev-9'] } });
    const e = assertEnvelope(other, 422, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal(e.retryable, false);
    // Also while the first is still running: a different body is refused, not queued.
    await sim.control('latency', { ms: 400, path: '/operations' });
    const key2 = freshKey('reuse-running');
    const [a, b] = await Promise.all([create(gw.url, key2), sleep(100).then(() => create(gw.url, key2, { ...swTask, policy: { executeType: 'now' } }))]);
    assertCreated(a);
    assertEnvelope(b, 422, 'IDEMPOTENCY_KEY_REUSED');
    await sim.control('latency', { ms: 0 });
    assert.equal(assertCreated(await create(gw.url, key)), id);
    assert.equal(await platformCreates(), 2);
  });

  it('keys are scoped per client: another client using the same key and body gets its own task', async () => {
    const key = freshKey('scoped');
    const mine = assertCreated(await create(gw.url, key));
    const theirs = await create(gw.url, key, swTask, { apiKey: KEYS.onlyA });
    assert.notEqual(assertCreated(theirs), mine);
    assert.equal(theirs.headers['idempotent-replayed'], undefined);
    const theirsAgain = await create(gw.url, key, swTask, { apiKey: KEYS.onlyA });
    assert.equal(assertCreated(theirsAgain), theirs.body.operationId);
    assert.equal(await platformCreates(), 2);
  });

  it('a malformed Idempotency-Key: 400 VALIDATION_FAILED naming the header, and no platform call', async () => {
    for (const bad of ['', 'has space', 'x'.repeat(256), 'tab\there', 'caf\u00e9']) {
      const res = await create(gw.url, bad);
      const e = assertEnvelope(res, 400, 'VALIDATION_FAILED');
      assert.ok(JSON.stringify(e).includes('Idempotency-Key'), JSON.stringify(e));
    }
    assert.equal(await platformCreates(), 0);
    // The longest and the oddest printable keys are fine.
    assertCreated(await create(gw.url, `${'k'.repeat(230)}-${Date.now()}`));
    assertCreated(await create(gw.url, `!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~-${Date.now()}`));
  });

  it('a request refused for quota releases its key: the same key succeeds once the quota allows', async function () {
    this.timeout(15_000);
    const W = 1500;
    const apps = JSON.stringify([{ ...TEST_APPS[0], ratePerMinute: 2 }, TEST_APPS[1]]);
    const small = await startGateway(gatewayEnv(sim.url, redis.url, { PLATFORM_APPS: apps, QUOTA_WINDOW_MS: String(W) }));
    extra.push(small);
    assert.equal((await request(small.url).get('/v1/apps/app-a/packages').set('X-Api-Key', KEYS.all)).status, 200); // login + 1
    const key = freshKey('quota');
    const refused = await create(small.url, key);
    assertEnvelope(refused, 429, 'RATE_LIMITED');
    const wait = Number(refused.headers['retry-after']);
    assert.ok(wait >= 1 && wait <= 2, `Retry-After ${wait}`);
    assert.equal(await platformCreates(), 0);
    await sleep(W + 200);
    const retried = await create(small.url, key);
    assertCreated(retried);
    assert.equal(retried.headers['idempotent-replayed'], undefined, 'a refusal was stored and replayed');
    assert.equal(await platformCreates(), 1);
  });

  it('a platform refusal is stored and replayed too: a retry does not ask the platform again', async () => {
    const key = freshKey('refusal');
    const body = { fileId: 'sw-pkg-9999', targets: { devices: ['dev-1'] } };
    const first = await create(gw.url, key, body);
    const e = assertEnvelope(first, 404, 'NOT_FOUND');
    assert.equal(e.platformCode, '123002');
    const again = await create(gw.url, key, body);
    const e2 = assertEnvelope(again, 404, 'NOT_FOUND');
    assert.equal(e2.platformCode, '123002');
    assert.notEqual(e2.requestId, e.requestId, 'a replayed error carries its own requestId');
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(await platformCreates(), 1);
  });

  it('a create whose connection broke after it was sent keeps its key: a retry with it does not reach the platform again', async () => {
    await create(gw.url, undefined); // a token in hand, so the reset hits the create itself
    await sim.control('calls', undefined, 'DELETE');
    await sim.control('faults', { count: 1, mode: 'reset', path: '/operations' });
    const key = freshKey('reset');
    const first = await create(gw.url, key);
    assertEnvelope(first, 503, 'UPSTREAM_UNAVAILABLE');
    assert.equal(await platformCreates(), 1, 'the platform received the create');
    // The platform may have acted on it (the answer, not the request, was lost): a retry must not create a second task.
    const retry = await create(gw.url, key);
    assert.equal(await platformCreates(), 1, 'the retry reached the platform again');
    assert.equal(retry.headers['idempotent-replayed'], 'true');
    assert.equal(retry.status, 503);
    // Replayed, an unknown outcome is not "retryable": retrying the same key would only replay it again.
    assert.equal(retry.body.error.retryable, false);
    assert.match(retry.body.error.message, /without a known outcome/);
    assert.equal(retry.body.error.requestId, retry.headers['x-request-id']);
  });

  it('a create refused before sending (platform connection refused) releases its key', async () => {
    const dead = await startGateway(
      gatewayEnv(`http://127.0.0.1:${await freePort()}`, redis.url, { PLATFORM_APPS: highQuota, REDIS_KEY_PREFIX: gw.gateway.config.redisKeyPrefix }),
    );
    extra.push(dead);
    const key = freshKey('refused');
    assertEnvelope(await create(dead.url, key), 503, 'UPSTREAM_UNAVAILABLE');
    // Same store, a working platform: the key is free.
    const ok = await create(gw.url, key);
    assertCreated(ok);
    assert.equal(ok.headers['idempotent-replayed'], undefined);
  });

  it('regression: a create that timed out waiting for its token never reached the platform, so its key is released (review finding)', async function () {
    this.timeout(20_000);
    // A gateway of its own app (app-b): its cold login is slowed past the request's deadline.
    const cold = await startGateway(
      gatewayEnv(sim.url, redis.url, { PLATFORM_APPS: highQuota, PLATFORM_TIMEOUT_MS: '1000', REDIS_KEY_PREFIX: gw.gateway.config.redisKeyPrefix }),
    );
    extra.push(cold);
    const createB = (key: string) =>
      request(cold.url).post('/v1/apps/app-b/upgrade-tasks/software').set('X-Api-Key', KEYS.all).set('Idempotency-Key', key).send(swTask);
    await sim.control('latency', { ms: 1500, path: '/login' });
    const key = freshKey('token-timeout');
    assertEnvelope(await createB(key), 504, 'UPSTREAM_TIMEOUT');
    await sim.control('latency', { ms: 0 });
    await sleep(700); // the abandoned login lands; its token is the app's from then on
    const retry = await createB(key);
    assert.equal(retry.status, 201, JSON.stringify(retry.body));
    assert.equal(retry.headers['idempotent-replayed'], undefined, 'the first answer was stored although nothing was sent');
  });

  it('two replicas sharing Redis: a repeat on the other replica replays the first answer', async () => {
    const other = await startGateway(
      gatewayEnv(sim.url, redis.url, { PLATFORM_APPS: highQuota, REDIS_KEY_PREFIX: gw.gateway.config.redisKeyPrefix }),
    );
    extra.push(other);
    const key = freshKey('replicas');
    const id = assertCreated(await create(gw.url, key));
    const replay = await create(other.url, key);
    assert.equal(assertCreated(replay), id);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assertEnvelope(await create(other.url, key, fwTask), 422, 'IDEMPOTENCY_KEY_REUSED');
    // And concurrently across both: still one call.
    await sim.control('latency', { ms: 300, path: '/operations' });
    const key2 = freshKey('replicas-conc');
    const both = await Promise.all(Array.from({ length: 6 }, (_, i) => create(i % 2 ? other.url : gw.url, key2)));
    assert.equal(both.filter((r) => r.status === 201 && r.headers['idempotent-replayed'] === undefined).length, 1);
    for (const r of both) assert.ok(r.status === 201 || r.status === 409, `${r.status} ${r.text}`);
    assert.equal(await platformCreates(), 2);
  });

  it('Redis unreachable: a create with a key is refused with 503 rather than sent without a record', async function () {
    this.timeout(15_000);
    await redis.stop();
    try {
      const res = await create(gw.url, freshKey('no-redis'));
      const e = assertEnvelope(res, 503, 'SERVICE_UNAVAILABLE');
      assert.equal(e.retryable, true);
      assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/);
      assert.equal(await platformCreates(), 0);
    } finally {
      await redis.start();
    }
  });
});
