// The shared GET cache end to end (contract §13, issue 16): two gateway replicas on one real Redis, the simulator over real HTTP, its call log counting platform calls.
import assert from 'node:assert/strict';
import {
  KEYS,
  TEST_APPS,
  assertEnvelope,
  closeAll,
  gatewayEnv,
  sleep,
  startGateway,
  startRedis,
  startTestSimulator,
  type TestGateway,
  type TestRedis,
  type TestSimulator,
} from './helpers/fixtures.js';

const PLATFORM = '/iodm/northbound/v1.5.0';
const PKG = 'sw-pkg-0001';

/** One answer as a caller sees it (real HTTP, no supertest), with its envelope-compatible fields. */
interface Got {
  status: number;
  headers: Record<string, string>;
  body: any;
  text: string;
}

async function get(gw: TestGateway, path: string, headers: Record<string, string> = {}, key = KEYS.all): Promise<Got> {
  const res = await fetch(`${gw.url}/v1/apps/${path}`, {
    headers: { 'x-api-key': key, ...headers },
    // A hung answer fails the test instead of hanging the suite.
    signal: AbortSignal.timeout(15_000),
  });
  return shaped(res);
}

async function send(gw: TestGateway, method: 'DELETE' | 'POST', path: string, body?: unknown): Promise<Got> {
  const res = await fetch(`${gw.url}/v1/apps/${path}`, {
    method,
    headers: { 'x-api-key': KEYS.all, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  return shaped(res);
}

async function shaped(res: Response): Promise<Got> {
  const text = await res.text();
  const headers = Object.fromEntries(res.headers.entries());
  return { status: res.status, headers, text, body: text && headers['content-type']?.includes('json') ? JSON.parse(text) : undefined };
}

// Contract §13's Cache-Status members, exactly (RFC 9211 syntax; `ttl` is the seconds an entry has left).
const HIT = /^iot-bff; hit; ttl=\d+$/;
const STORED = 'iot-bff; fwd=miss; fwd-status=200; stored';
const COLLAPSED = 'iot-bff; fwd=miss; collapsed';
const REFRESHED = 'iot-bff; fwd=request; fwd-status=200; stored';

/**
 * Platform calls of one method and path (logins and everything else aside). A call the platform refused with
 * 1010005 is not counted: after `sim.reset()` the gateway's token is unknown there, and it renews and retries once.
 */
async function callsTo(sim: TestSimulator, method: string, path: string, appId = 'app-a'): Promise<number> {
  const { log } = await sim.calls();
  return log.filter((c) => c.method === method && c.path === path && c.appId === appId && c.errorCode !== '1010005').length;
}

/**
 * Redis, the simulator and two gateway replicas sharing them with the routes' own cache TTLs (the fixtures
 * turn the cache off for other suites), the apps at `ratePerMinute`.
 */
async function cachedReplicas(ratePerMinute: number, env: Record<string, string> = {}) {
  const redis = await startRedis({ own: true });
  const sim = await startTestSimulator({ ratePerMinute: 100_000 });
  // One environment for both: same Redis, same key prefix, as two replicas in production.
  const shared = gatewayEnv(sim.url, redis.url, {
    PLATFORM_APPS: JSON.stringify(TEST_APPS.map((x) => ({ ...x, ratePerMinute }))),
    GATEWAY_REPLICAS: '2',
    LOG_LEVEL: 'warn',
    CACHE_TTL_SEC: '{}',
    ...env,
  });
  const [a, b] = await Promise.all([startGateway(shared), startGateway(shared)]);
  return { redis, sim, a: a as TestGateway, b: b as TestGateway };
}

describe('cache through the gateway: two replicas on one Redis', function () {
  let redis: TestRedis;
  let sim: TestSimulator;
  let a: TestGateway;
  let b: TestGateway;

  before(async () => {
    ({ redis, sim, a, b } = await cachedReplicas(10_000));
  });
  after(async () => {
    await closeAll(a, b, sim, redis);
  });
  beforeEach(async () => {
    await sim.reset();
    // The entries of the previous test must not answer this one (the simulator was re-seeded).
    await redis.flush();
  });

  it('30 concurrent identical GETs over both replicas: one platform call; one stored, the others collapsed or hits', async () => {
    await get(a, 'app-a/upgrade-tasks', { 'cache-control': 'no-cache' }); // the token first: this test is about the GET
    // Slow enough that all 30 arrive while the first is on its way.
    await sim.control('latency', { path: `${PLATFORM}/category/${PKG}`, ms: 1000 });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => get(i % 2 ? b : a, `app-a/packages/${PKG}`)));
    assert.equal(await callsTo(sim, 'GET', `${PLATFORM}/category/${PKG}`), 1, 'platform calls');
    const statuses = answers.map((r) => r.headers['cache-status']);
    for (const r of answers) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.fileId, PKG);
      assert.deepEqual(r.body, answers[0]?.body);
      assert.match(r.headers.age ?? '', /^\d+$/);
      // Every answer shows the app's quota, also those that spent none.
      assert.match(r.headers.ratelimit ?? '', /^"app";r=\d+;t=\d+$/, String(r.headers['cache-status']));
    }
    assert.equal(statuses.filter((s) => s === STORED).length, 1, JSON.stringify(statuses));
    for (const s of statuses) assert.ok(s === STORED || s === COLLAPSED || HIT.test(s ?? ''), s);
    // Most arrive while the first is on its way (on a loaded machine some may come after it: those are hits).
    assert.ok(statuses.filter((s) => s === COLLAPSED).length >= 10, `few waited: ${JSON.stringify(statuses)}`);
  });

  it('repeats within the TTL reach no platform, on either replica, with a growing Age', async () => {
    const first = await get(a, 'app-a/packages');
    assert.equal(first.status, 200);
    assert.equal(first.headers['cache-status'], STORED);
    assert.equal(first.headers.age, '0');
    await sleep(1100);
    for (const gw of [a, b, a, b]) {
      const r = await get(gw, 'app-a/packages');
      assert.equal(r.status, 200);
      assert.match(r.headers['cache-status'] ?? '', HIT);
      assert.ok(Number(r.headers.age) >= 1, `Age ${r.headers.age}`);
      assert.deepEqual(r.body, first.body);
    }
    // The order of query parameters does not make another entry.
    const q1 = await get(a, 'app-a/packages?pageNo=0&pageSize=5');
    const q2 = await get(b, 'app-a/packages?pageSize=5&pageNo=0');
    assert.equal(q1.headers['cache-status'], STORED);
    assert.match(q2.headers['cache-status'] ?? '', HIT);
    assert.equal(await callsTo(sim, 'GET', `${PLATFORM}/category`), 2);
  });

  it('Cache-Control: no-cache (or Pragma: no-cache) asks the platform once and stores the new answer', async () => {
    await get(a, `app-a/packages/${PKG}`);
    const r = await get(b, `app-a/packages/${PKG}`, { 'cache-control': 'no-cache' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['cache-status'], REFRESHED);
    assert.equal(r.headers.age, '0');
    assert.equal(await callsTo(sim, 'GET', `${PLATFORM}/category/${PKG}`), 2);
    const p = await get(a, `app-a/packages/${PKG}`, { pragma: 'no-cache' });
    assert.equal(p.headers['cache-status'], REFRESHED);
    assert.equal(await callsTo(sim, 'GET', `${PLATFORM}/category/${PKG}`), 3);
    // The refreshed answer is what the next one gets.
    assert.match((await get(b, `app-a/packages/${PKG}`)).headers['cache-status'] ?? '', HIT);
    assert.equal(await callsTo(sim, 'GET', `${PLATFORM}/category/${PKG}`), 3);
  });

  it('Cache-Control: max-age=N accepts an answer at most N seconds old', async () => {
    await get(a, 'app-a/upgrade-tasks');
    await sleep(1100);
    const young = await get(b, 'app-a/upgrade-tasks', { 'cache-control': 'max-age=30' });
    assert.match(young.headers['cache-status'] ?? '', HIT);
    assert.equal(await callsTo(sim, 'GET', `${PLATFORM}/operations`), 1);
    const strict = await get(b, 'app-a/upgrade-tasks', { 'cache-control': 'max-age=0' });
    assert.equal(strict.headers['cache-status'], 'iot-bff; fwd=stale; fwd-status=200; stored');
    assert.equal(strict.headers.age, '0');
    assert.equal(await callsTo(sim, 'GET', `${PLATFORM}/operations`), 2);
  });

  it('a DELETE of a package: the next list and the next GET of it reach the platform', async () => {
    await get(a, 'app-a/packages');
    await get(a, `app-a/packages/${PKG}`);
    const other = await get(a, 'app-a/packages/sw-pkg-0002');
    assert.equal(other.headers['cache-status'], STORED);
    const del = await send(b, 'DELETE', `app-a/packages/${PKG}`);
    assert.equal(del.status, 204, del.text);

    const list = await get(a, 'app-a/packages');
    assert.equal(list.headers['cache-status'], STORED);
    assert.ok(!list.body.data.some((p: { fileId: string }) => p.fileId === PKG), 'the deleted package is still listed');
    const gone = await get(b, `app-a/packages/${PKG}`);
    assertEnvelope(gone, 404, 'NOT_FOUND');
    // An error is not cached but still says what the cache did.
    assert.equal(gone.headers['cache-status'], 'iot-bff; fwd=miss');
    assert.equal(gone.headers.age, '0');
    await get(a, `app-a/packages/${PKG}`);
    assert.equal(await callsTo(sim, 'GET', `${PLATFORM}/category/${PKG}`), 3, 'before, after the delete, and the 404 again');
    assert.equal(await callsTo(sim, 'GET', `${PLATFORM}/category`), 2);
    // Another package was not made stale by this delete.
    assert.match((await get(b, 'app-a/packages/sw-pkg-0002')).headers['cache-status'] ?? '', HIT);
  });

  it('creating a task drops the task list (also when sent through the other replica)', async () => {
    const before = await get(a, 'app-a/upgrade-tasks');
    const created = await send(b, 'POST', 'app-a/upgrade-tasks/software', { fileId: PKG, targets: { devices: ['dev-1'] } });
    assert.equal(created.status, 201, created.text);
    const after = await get(a, 'app-a/upgrade-tasks');
    assert.equal(after.headers['cache-status'], STORED);
    assert.equal(after.body.totalCount, before.body.totalCount + 1);
    const id = created.body.operationId as string;
    const t1 = await get(a, `app-a/upgrade-tasks/${id}`);
    const t2 = await get(b, `app-a/upgrade-tasks/${id}`);
    assert.equal(t1.headers['cache-status'], STORED);
    assert.match(t2.headers['cache-status'] ?? '', HIT);
  });

  it('an Idempotency-Key replay makes no platform call and drops nothing again', async () => {
    const body = JSON.stringify({ fileId: PKG, targets: { devices: ['dev-9'] } });
    const post = () =>
      fetch(`${b.url}/v1/apps/app-a/upgrade-tasks/software`, {
        method: 'POST',
        headers: { 'x-api-key': KEYS.all, 'content-type': 'application/json', 'idempotency-key': 'cache-replay-0001' },
        body,
        signal: AbortSignal.timeout(15_000),
      }).then(shaped);
    assert.equal((await post()).status, 201);
    assert.equal((await get(a, 'app-a/upgrade-tasks')).headers['cache-status'], STORED);
    const replay = await post();
    assert.equal(replay.status, 201);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.match((await get(a, 'app-a/upgrade-tasks')).headers['cache-status'] ?? '', HIT);
    assert.equal(await callsTo(sim, 'POST', `${PLATFORM}/operations/softwareUpgrade`), 1);
  });

  it('two apps never share an entry', async () => {
    const ra = await get(a, 'app-a/packages');
    const rb = await get(b, 'app-b/packages');
    assert.equal(ra.headers['cache-status'], STORED);
    assert.equal(rb.headers['cache-status'], STORED);
    await send(a, 'DELETE', `app-a/packages/${PKG}`);
    // app-b's entry survives app-a's write, and app-a's list no longer matches app-b's.
    const rb2 = await get(a, 'app-b/packages');
    assert.match(rb2.headers['cache-status'] ?? '', HIT);
    assert.ok(rb2.body.data.some((p: { fileId: string }) => p.fileId === PKG));
    const { log } = await sim.calls();
    const lists = log.filter((c) => c.method === 'GET' && c.path === `${PLATFORM}/category` && c.errorCode !== '1010005');
    assert.deepEqual(lists.map((c) => c.appId).sort(), ['app-a', 'app-b']);
  });

  it('authorization and validation come first: 401/403 and 400 whether or not an answer is cached', async () => {
    assert.equal((await get(a, 'app-b/packages')).headers['cache-status'], STORED);
    // The rollout client may use app-a only.
    const forbidden = await get(b, 'app-b/packages', {}, KEYS.onlyA);
    assertEnvelope(forbidden, 403, 'FORBIDDEN');
    assert.equal(forbidden.body.data, undefined);
    const anonymous = await fetch(`${a.url}/v1/apps/app-b/packages`);
    assert.equal(anonymous.status, 401);
    assert.doesNotMatch(await anonymous.text(), /sw-pkg/);
    // A valid request is cached; an invalid one of the same operation is refused all the same.
    const bad = await get(a, 'app-b/packages?pageSize=abc');
    assertEnvelope(bad, 400, 'VALIDATION_FAILED');
    const unknown = await get(b, 'app-b/packages?pagesize=5');
    assertEnvelope(unknown, 400, 'VALIDATION_FAILED');
    assert.equal(await callsTo(sim, 'GET', `${PLATFORM}/category`, 'app-b'), 1);
  });

  it('a platform failure is shared with those that waited, never cached, and marked on every answer', async () => {
    await get(a, 'app-a/upgrade-tasks', { 'cache-control': 'no-cache' }); // token first
    await sim.control('latency', { path: `${PLATFORM}/category/nope-1`, ms: 300 });
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => get(i % 2 ? b : a, 'app-a/packages/nope-1')));
    for (const r of answers) assertEnvelope(r, 404, 'NOT_FOUND');
    const statuses = answers.map((r) => r.headers['cache-status']).sort();
    assert.deepEqual(statuses, ['iot-bff; fwd=miss', ...Array(5).fill(COLLAPSED)], JSON.stringify(statuses));
    assert.equal(await callsTo(sim, 'GET', `${PLATFORM}/category/nope-1`), 1);
  });

  it('counts hits, waits and saved quota in /metrics', async () => {
    await get(a, 'app-a/packages');
    await get(a, 'app-a/packages');
    const text = await (await fetch(`${a.url}/metrics`)).text();
    assert.match(text, /iotbff_cache_lookups_total\{app="app-a",op="listPackages",outcome="hit"\} [1-9]/);
    assert.match(text, /iotbff_cache_platform_calls_saved_total\{app="app-a"\} [1-9]/);
    assert.match(text, /iotbff_cache_stores_total\{app="app-a"\} [1-9]/);
    // Labels are app ids and route ids only: no key, no token, no body.
    assert.doesNotMatch(text, new RegExp(KEYS.all));
  });
});

describe('cache through the gateway: an app at 5 calls a minute', function () {
  let redis: TestRedis;
  let sim: TestSimulator;
  let a: TestGateway;
  let b: TestGateway;

  before(async () => {
    ({ redis, sim, a, b } = await cachedReplicas(5));
  });
  after(async () => {
    await closeAll(a, b, sim, redis);
  });

  it('serves 50 identical GETs within a minute; hits spend nothing and show the current quota', async () => {
    const answers: Got[] = [];
    // Ten waves of five, spread over both replicas: the first wave coalesces, the rest are hits.
    for (let wave = 0; wave < 10; wave++) {
      answers.push(...(await Promise.all(Array.from({ length: 5 }, (_, i) => get(i % 2 ? b : a, 'app-a/upgrade-tasks')))));
    }
    assert.equal(answers.length, 50);
    for (const r of answers) assert.equal(r.status, 200, r.text);
    const { log } = await sim.calls();
    // The login and one GET: two of the five calls.
    assert.equal(log.filter((c) => c.appId === 'app-a').length, 2, JSON.stringify(log.map((c) => `${c.method} ${c.path}`)));
    const stored = answers.filter((r) => r.headers['cache-status'] === STORED);
    assert.equal(stored.length, 1);
    // The forwarded answer and every later hit show the same state (3 left): the hits took no slot.
    for (const r of answers.slice(5)) {
      assert.match(r.headers['cache-status'] ?? '', HIT);
      assert.equal(r.headers['ratelimit-remaining'], '3', JSON.stringify(r.headers));
      assert.match(r.headers['ratelimit-policy'] ?? '', /^"app";q=5;w=60$/);
      assert.match(r.headers.ratelimit ?? '', /^"app";r=3;t=\d+$/);
    }
    assert.equal(stored[0]?.headers['ratelimit-remaining'], '3');
    // The app's slots are still there for what the cache cannot answer.
    const other = await get(b, `app-a/packages/${PKG}`);
    assert.equal(other.status, 200);
    assert.equal(other.headers['ratelimit-remaining'], '2');
  });
});

describe('cache through the gateway: Redis stopped', function () {
  let redis: TestRedis;
  let sim: TestSimulator;
  let a: TestGateway;
  let b: TestGateway;
  const WINDOW = 1500;

  before(async () => {
    ({ redis, sim, a, b } = await cachedReplicas(1000, {
      // A short window: the blind 503 period after losing Redis (§6) is one window.
      QUOTA_WINDOW_MS: String(WINDOW),
      REDIS_COMMAND_TIMEOUT_MS: '300',
      LOG_LEVEL: 'error',
    }));
  });
  after(async () => {
    await closeAll(a, b, sim, redis);
  });

  it('nothing is cached or served from cache, no error comes from the cache, and it is back with Redis', async () => {
    assert.equal((await get(a, 'app-a/packages')).headers['cache-status'], STORED);
    assert.match((await get(b, 'app-a/packages')).headers['cache-status'] ?? '', HIT);
    // Both replicas hold a token before Redis goes: without Redis a login cannot be coordinated (503, §6), which
    // is the token store's behaviour, not the cache's.
    for (const gw of [a, b]) assert.equal((await get(gw, 'app-a/upgrade-tasks', { 'cache-control': 'no-cache' })).status, 200);
    await redis.stop();
    // §6: a replica refuses with 503 for one window after losing Redis; never a 500 from the cache.
    const blind = await get(a, 'app-a/packages');
    assert.ok(blind.status === 503 || blind.status === 200, blind.text);
    if (blind.status === 503) assertEnvelope(blind, 503, 'SERVICE_UNAVAILABLE');
    await sleep(WINDOW + 300);
    const before = await sim.calls();
    const answers: Got[] = [];
    for (const gw of [a, b, a, b]) answers.push(await get(gw, 'app-a/packages'));
    for (const r of answers) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['cache-status'], 'iot-bff; fwd=miss; fwd-status=200; detail=store-unavailable');
      assert.equal(r.headers.age, '0');
    }
    const after = await sim.calls();
    assert.equal(after.total - before.total, 4, 'each request called the platform');
    // A write still answers (its invalidation cannot run, and there is nothing cached to serve either).
    const del = await send(a, 'DELETE', `app-a/packages/${PKG}`);
    assert.equal(del.status, 204, del.text);

    await redis.start();
    let status = '';
    for (let i = 0; i < 60 && status !== STORED; i++) {
      await sleep(100);
      status = (await get(b, 'app-a/upgrade-tasks')).headers['cache-status'] ?? '';
    }
    assert.equal(status, STORED);
    assert.match((await get(a, 'app-a/upgrade-tasks')).headers['cache-status'] ?? '', HIT);
  });
});

describe('cache through the gateway: configuration', function () {
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: TestGateway | undefined;

  before(async () => {
    redis = await startRedis({ own: true });
    sim = await startTestSimulator({ ratePerMinute: 100_000 });
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });
  after(async () => {
    await closeAll(sim, redis);
  });

  it('CACHE_TTL_SEC: 0 turns an operation off (marked bypass), `*` sets the others', async () => {
    await sim.reset();
    gw = await startGateway(gatewayEnv(sim.url, redis.url, { CACHE_TTL_SEC: '{"*":0,"getPackage":30}', LOG_LEVEL: 'warn' }));
    for (let i = 0; i < 2; i++) {
      const r = await get(gw, 'app-a/packages');
      assert.equal(r.status, 200);
      assert.equal(r.headers['cache-status'], 'iot-bff; fwd=bypass; fwd-status=200; detail=off');
      assert.equal(r.headers.age, '0');
    }
    assert.equal(await callsTo(sim, 'GET', `${PLATFORM}/category`), 2);
    await get(gw, `app-a/packages/${PKG}`);
    assert.match((await get(gw, `app-a/packages/${PKG}`)).headers['cache-status'] ?? '', HIT);
  });

  it('CACHE_TTL_SEC naming an operation that is not a cached GET stops the start', async () => {
    await assert.rejects(
      startGateway(gatewayEnv(sim.url, redis.url, { CACHE_TTL_SEC: '{"deletePackage":5}' })),
      (err: Error & { problems?: string[] }) => {
        assert.match(err.problems?.join('\n') ?? '', /^CACHE_TTL_SEC: deletePackage is not a cached GET operation/m);
        return true;
      },
    );
  });

  it('REDIS_URL=memory: no cache at all (no Cache-Status), every GET forwarded', async () => {
    await sim.reset();
    gw = await startGateway(gatewayEnv(sim.url, 'memory', { LOG_LEVEL: 'error', CACHE_TTL_SEC: '{}' }));
    for (let i = 0; i < 2; i++) {
      const r = await get(gw, 'app-a/packages');
      assert.equal(r.status, 200);
      assert.equal(r.headers['cache-status'], undefined);
      assert.equal(r.headers.age, undefined);
    }
    assert.equal(await callsTo(sim, 'GET', `${PLATFORM}/category`), 2);
  });
});
