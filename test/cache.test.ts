// The shared GET cache (src/cache): pure key and header rules, then two GetCache instances on one real Redis standing in for two replicas.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { GatewayError } from '../src/errors.js';
import { ageSeconds, cacheStatus, freshness, parseCacheControl } from '../src/cache/control.js';
import { gatewayErrorCodec } from '../src/cache/errors.js';
import { GetCache, createCacheMetrics, type FetchContext, type LoadResult } from '../src/cache/index.js';
import { cacheKey, canonical, keys, upgradeTags } from '../src/cache/key.js';
import { formatDone, parseDone } from '../src/cache/coalesce.js';
import { ttlFor, upgradeEventTags } from '../src/cache/policies.js';
import { upgradeRoutes } from '../src/families/upgrade/routes.js';
import { decodeEntry, encodeEntry } from '../src/cache/store.js';
import { sleep, startRedis, waitFor, type TestRedis } from './helpers/fixtures.js';

// ---------------------------------------------------------------------------------------------
// Pure rules

describe('cache: keys (pure)', () => {
  const base = { prefix: 'iotbff:', appId: 'app-a', opId: 'listPackages', params: {} };

  it('puts every key in the app slot and names the operation', () => {
    const k = cacheKey({ ...base, query: { pageNo: 0 } });
    assert.match(k, /^iotbff:cache:\{app-a\}:listPackages:[A-Za-z0-9_-]{22}$/);
    assert.equal(keys.lock(k), k.replace('iotbff:cache:{', 'iotbff:cache-lock:{'));
    assert.equal(keys.app(k), 'app-a');
    assert.equal(keys.tagSet('iotbff:', 'app-a', upgradeTags.packageList), 'iotbff:cache-tag:{app-a}:packages:list');
    assert.equal(keys.channel('iotbff:', 'app-a'), 'iotbff:cache-done:{app-a}');
  });

  it('does not depend on the order of query parameters (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string(), fc.integer(), fc.boolean())), (q) => {
        const reversed = Object.fromEntries(Object.entries(q).reverse());
        assert.equal(cacheKey({ ...base, query: q }), cacheKey({ ...base, query: reversed }));
      }),
    );
  });

  it('tells apart values, types, parameters and query, and drops undefined', () => {
    const k = (params: Record<string, string>, query: Record<string, unknown>) => cacheKey({ ...base, params, query });
    assert.notEqual(k({}, { pageNo: 1 }), k({}, { pageNo: '1' }));
    assert.notEqual(k({}, { pageNo: 1 }), k({}, { pageNo: 2 }));
    assert.notEqual(k({ fileId: 'x' }, {}), k({}, { fileId: 'x' }));
    assert.notEqual(k({}, { a: ['x', 'y'] }), k({}, { a: ['y', 'x'] }));
    assert.equal(k({}, { a: 1, b: undefined }), k({}, { a: 1 }));
    assert.notEqual(cacheKey({ ...base, appId: 'app-b', query: {} }), k({}, {}));
    assert.equal(canonical({ b: 1, a: { d: 2, c: 3 } }), canonical({ a: { c: 3, d: 2 }, b: 1 }));
  });

  it('refuses an app ID that would break the hash tag', () => {
    assert.throws(() => cacheKey({ ...base, appId: 'a}b', query: {} }), TypeError);
  });
});

describe('cache: Cache-Control, Cache-Status, Age (pure)', () => {
  it('reads no-cache and max-age, case-insensitively, skipping junk', () => {
    assert.deepEqual(parseCacheControl(undefined), { noCache: false, maxAgeSec: undefined });
    assert.deepEqual(parseCacheControl('No-Cache'), { noCache: true, maxAgeSec: undefined });
    assert.deepEqual(parseCacheControl('max-age=5'), { noCache: false, maxAgeSec: 5 });
    assert.deepEqual(parseCacheControl('MAX-AGE="7", foo=bar, =, ,,'), { noCache: false, maxAgeSec: 7 });
    assert.deepEqual(parseCacheControl('max-age=10, max-age=3'), { noCache: false, maxAgeSec: 3 });
    assert.deepEqual(parseCacheControl(['max-age=9', 'no-cache']), { noCache: true, maxAgeSec: 9 });
    assert.deepEqual(parseCacheControl('max-age=-1, max-age=1.5, max-age=abc, max-age='), { noCache: false, maxAgeSec: undefined });
    assert.equal(parseCacheControl('max-age=99999999999999999999').maxAgeSec, 2_147_483_648);
    assert.deepEqual(parseCacheControl(undefined, 'no-cache'), { noCache: true, maxAgeSec: undefined });
    assert.deepEqual(parseCacheControl('max-age=1', 'no-cache'), { noCache: false, maxAgeSec: 1 });
  });

  it('never throws and bounds its work on any header (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 3000 }), fc.array(fc.string())), (h) => {
        const d = parseCacheControl(h);
        assert.equal(typeof d.noCache, 'boolean');
        if (d.maxAgeSec !== undefined) assert.ok(Number.isInteger(d.maxAgeSec) && d.maxAgeSec >= 0 && d.maxAgeSec <= 2 ** 31);
      }),
    );
    // Only the first 1024 characters count: a directive past them is not read.
    assert.equal(parseCacheControl(`${' '.repeat(1100)},no-cache`).noCache, false);
  });

  it('judges freshness by the TTL and the caller max-age in whole seconds', () => {
    const none = { noCache: false, maxAgeSec: undefined };
    assert.equal(freshness(0, 5000, none), 'fresh');
    assert.equal(freshness(4999, 5000, none), 'fresh');
    assert.equal(freshness(5000, 5000, none), 'expired');
    assert.equal(freshness(999, 5000, { noCache: false, maxAgeSec: 0 }), 'fresh');
    assert.equal(freshness(1000, 5000, { noCache: false, maxAgeSec: 0 }), 'stale');
    assert.equal(freshness(2500, 5000, { noCache: false, maxAgeSec: 2 }), 'fresh');
    assert.equal(freshness(3000, 5000, { noCache: false, maxAgeSec: 2 }), 'stale');
    fc.assert(
      fc.property(fc.nat(100_000), fc.nat(100_000), fc.nat(200), (a, b, m) => {
        // An older answer is never fresher than a younger one.
        const rank = { fresh: 0, stale: 1, expired: 2 } as const;
        const d = { noCache: false, maxAgeSec: m };
        const [young, old] = a < b ? [a, b] : [b, a];
        assert.ok(rank[freshness(young, 60_000, d)] <= rank[freshness(old, 60_000, d)]);
      }),
    );
    assert.equal(ageSeconds(1999), 1);
    assert.equal(ageSeconds(-5), 0);
  });

  it('writes RFC 9211 members', () => {
    assert.equal(cacheStatus({ hit: true, ttlSec: 4 }), 'iot-bff; hit; ttl=4');
    assert.equal(cacheStatus({ fwd: 'miss', fwdStatus: 200, stored: true }), 'iot-bff; fwd=miss; fwd-status=200; stored');
    assert.equal(cacheStatus({ fwd: 'miss', collapsed: true }), 'iot-bff; fwd=miss; collapsed');
    assert.equal(cacheStatus({ fwd: 'request', stored: true }), 'iot-bff; fwd=request; stored');
    assert.equal(cacheStatus({ fwd: 'miss', detail: 'too-large' }), 'iot-bff; fwd=miss; detail=too-large');
    assert.equal(cacheStatus({ fwd: 'miss', detail: 'two words' }), 'iot-bff; fwd=miss; detail="two words"');
    // The grammar of one sf-item with parameters (RFC 8941): every value this cache can write fits it.
    const item = /^iot-bff(; [a-z][a-z0-9_.*-]*(=([A-Za-z*][A-Za-z0-9!#$%&'*+.^_`|~:/-]*|-?\d{1,15}|"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"))?)*$/;
    fc.assert(
      fc.property(
        fc.record(
          {
            hit: fc.boolean(),
            fwd: fc.constantFrom('miss', 'uri-miss', 'request', 'stale', 'bypass' as const),
            fwdStatus: fc.integer({ min: 100, max: 599 }),
            ttlSec: fc.nat(100_000),
            stored: fc.boolean(),
            collapsed: fc.boolean(),
            detail: fc.string({ maxLength: 20 }),
          },
          { requiredKeys: [] },
        ),
        (p) => assert.match(cacheStatus(p), item),
      ),
    );
  });

  it('encodes entries compactly and reads back only its own format', () => {
    const text = encodeEntry({ status: 200, body: { data: [1, 2], pageNo: 0 } }, 5000);
    assert.equal(text, '[1,200,5000,{"data":[1,2],"pageNo":0}]');
    assert.deepEqual(decodeEntry(text), { status: 200, ttlMs: 5000, body: { data: [1, 2], pageNo: 0 } });
    assert.equal(decodeEntry('{"old":true}'), undefined);
    assert.equal(decodeEntry('not json'), undefined);
  });

  it('shares a failure without its cause or any header but the quota headers', () => {
    const err = new GatewayError('NOT_FOUND', {
      platformCode: '123002',
      headers: { RateLimit: '"app";r=3;t=40', 'X-Secret': 'token-abc' },
      cause: new Error('Bearer token-abc'),
    });
    const shared = gatewayErrorCodec.encode(err);
    assert.deepEqual(shared, {
      code: 'NOT_FOUND',
      status: 404,
      message: err.message,
      retryable: false,
      platformCode: '123002',
      headers: { RateLimit: '"app";r=3;t=40' },
    });
    assert.doesNotMatch(JSON.stringify(shared), /token-abc/);
    const back = gatewayErrorCodec.decode(shared!, { 'Cache-Status': 'x' }) as GatewayError;
    assert.ok(back instanceof GatewayError);
    assert.equal(back.platformCode, '123002');
    assert.equal(back.headers?.['Cache-Status'], 'x');
    assert.equal(gatewayErrorCodec.encode(new Error('bug')), undefined);
  });
});

describe('cache: channel messages and policies (pure)', () => {
  it('round-trips every message and ignores anything else', () => {
    const err = { code: 'NOT_FOUND', status: 404, message: 'No such package.', retryable: false, platformCode: '123002' };
    fc.assert(
      fc.property(fc.string({ minLength: 1 }).filter((k) => !k.includes('\n')), fc.string({ minLength: 1 }), (k, e) => {
        assert.deepEqual(parseDone(formatDone({ k, o: 'ok', e }), 1e6), { k, o: 'ok', e });
        assert.deepEqual(parseDone(formatDone({ k, o: 'retry' }), 1e6), { k, o: 'retry' });
        assert.deepEqual(parseDone(formatDone({ k, o: 'err', x: err }), 1e6), { k, o: 'err', x: err });
      }),
    );
    fc.assert(fc.property(fc.string(), (junk) => void parseDone(junk, 1e6)));
    for (const junk of ['', 'ok', 'ok\nk', 'ok\n\n[1]', 'err\nk\n{}', 'err\nk\nnot json', 'what\nk\nx'])
      assert.equal(parseDone(junk, 1e6), undefined, junk);
    // Too long: not read at all.
    assert.equal(parseDone(formatDone({ k: 'k', o: 'ok', e: 'x'.repeat(100) }), 50), undefined);
  });

  it('gives the upgrade family its TTLs and tags (in its route descriptions), and configuration the last word', () => {
    const byId = new Map(upgradeRoutes.map((r) => [r.id, r]));
    const UPGRADE_CACHE = Object.fromEntries(upgradeRoutes.flatMap((r) => (r.cache ? [[r.id, r.cache]] : [])));
    const UPGRADE_INVALIDATES = Object.fromEntries(upgradeRoutes.flatMap((r) => (r.invalidates ? [[r.id, r.invalidates]] : [])));
    // Every GET of the family is cached and every write drops something: none was forgotten.
    for (const r of byId.values()) assert.equal(r.method === 'GET' ? !!r.cache : !!r.invalidates, true, r.id);
    assert.deepEqual(
      Object.fromEntries(Object.entries(UPGRADE_CACHE).map(([id, p]) => [id, p.ttlSec])),
      { listPackages: 60, getPackage: 300, listUpgradeTasks: 10, getUpgradeTask: 5, listUpgradeSubtasks: 5 },
    );
    assert.deepEqual(UPGRADE_CACHE.getUpgradeTask?.tags?.({ operationId: 'op-1' }, {}), ['upgrade-task:op-1']);
    assert.deepEqual(UPGRADE_CACHE.listUpgradeSubtasks?.tags?.({ operationId: 'op-1' }, {}), ['upgrade-task:op-1']);
    assert.deepEqual(UPGRADE_INVALIDATES.deletePackage?.({ fileId: 'sw-1' }, undefined), ['package:sw-1', 'packages:list']);
    assert.deepEqual(UPGRADE_CACHE.getPackage?.tags?.({ fileId: 'sw-1' }, {}), ['package:sw-1']);
    assert.deepEqual(UPGRADE_INVALIDATES.createSoftwareUpgradeTask?.({}, {}), ['upgrade-tasks:list']);
    assert.deepEqual(UPGRADE_INVALIDATES.createFirmwareUpgradeTask?.({}, {}), ['upgrade-tasks:list']);
    assert.deepEqual(upgradeEventTags('op-1'), ['upgrade-task:op-1', 'upgrade-tasks:list']);
    assert.equal(ttlFor('getUpgradeTask', UPGRADE_CACHE.getUpgradeTask), 5);
    assert.equal(ttlFor('getUpgradeTask', UPGRADE_CACHE.getUpgradeTask, { getUpgradeTask: 2 }), 2);
    assert.equal(ttlFor('getUpgradeTask', UPGRADE_CACHE.getUpgradeTask, { getUpgradeTask: 0 }), 0);
    assert.equal(ttlFor('getUpgradeTask', UPGRADE_CACHE.getUpgradeTask, { getUpgradeTask: -1 }), 0);
    assert.equal(ttlFor('listDevices', undefined), 0);
    assert.equal(ttlFor('listDevices', undefined, { listDevices: 30 }), 30);
    // `*` re-times every operation that has a policy, and only those; a named operation wins over it.
    assert.equal(ttlFor('getUpgradeTask', UPGRADE_CACHE.getUpgradeTask, { '*': 0 }), 0);
    assert.equal(ttlFor('getUpgradeTask', UPGRADE_CACHE.getUpgradeTask, { '*': 0, getUpgradeTask: 3 }), 3);
    assert.equal(ttlFor('listDevices', undefined, { '*': 30 }), 0);
    assert.throws(() => UPGRADE_CACHE.getPackage?.tags?.({}, {}), TypeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Against Redis, two replicas

describe('cache: two replicas on one Redis', function () {
  this.timeout(20_000);
  let redis: TestRedis;
  const conns: Redis[] = [];
  const caches: GetCache[] = [];
  let prefix = '';

  async function connect(url: string): Promise<Redis> {
    // As the gateway's own connections (src/redis.ts): no offline queue, a deadline per command.
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 500, retryStrategy: () => 50 });
    r.on('error', () => undefined);
    await r.connect();
    conns.push(r);
    return r;
  }

  async function replica(opts: Partial<ConstructorParameters<typeof GetCache>[0]> = {}): Promise<GetCache> {
    const cache = new GetCache({
      redis: await connect(redis.url),
      subscriber: await connect(redis.url),
      prefix,
      commandTimeoutMs: 500,
      lockTtlMs: 1000,
      ...opts,
    });
    caches.push(cache);
    return cache;
  }

  function counter(body: unknown = { data: [{ fileId: 'sw-1' }], totalCount: 1 }, delayMs = 50) {
    const c = {
      calls: 0,
      load: async (): Promise<LoadResult> => {
        c.calls += 1;
        await sleep(delayMs);
        return { status: 200, body, headers: { RateLimit: '"app";r=9;t=60' } };
      },
    };
    return c;
  }

  const ctx = (over: Partial<FetchContext> = {}): FetchContext => ({
    appId: 'app-a',
    opId: 'listPackages',
    params: {},
    query: { fileType: 'softwarePackage', pageNo: 0 },
    ttlSec: 30,
    tags: [upgradeTags.packageList],
    deadline: Date.now() + 3000,
    ...over,
  });

  before(async () => {
    redis = await startRedis({ own: true });
  });
  beforeEach(() => {
    prefix = `t${Math.random().toString(36).slice(2, 8)}:`;
  });
  afterEach(() => {
    for (const c of caches.splice(0)) c.close();
    for (const r of conns.splice(0)) r.disconnect();
  });
  after(async () => {
    await redis?.close();
  });

  it('30 concurrent identical GETs across two replicas: one platform call, everyone gets the answer', async () => {
    const [a, b] = [await replica(), await replica()];
    const c = counter(undefined, 150);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).fetch(ctx(), c.load)));
    assert.equal(c.calls, 1);
    for (const r of results) assert.deepEqual(r.body, { data: [{ fileId: 'sw-1' }], totalCount: 1 });
    const leaders = results.filter((r) => !r.collapsed && !r.fromCache);
    assert.equal(leaders.length, 1);
    assert.equal(leaders[0]?.cacheStatus, 'iot-bff; fwd=miss; fwd-status=200; stored');
    assert.deepEqual(leaders[0]?.headers, { RateLimit: '"app";r=9;t=60' });
    for (const r of results.filter((x) => x !== leaders[0])) {
      // The other replica's waiters were told by pub/sub or found the entry; none called the platform.
      assert.ok(r.collapsed || r.fromCache, r.cacheStatus);
      assert.deepEqual(r.headers, {});
    }
    assert.ok(results.some((r) => r.cacheStatus === 'iot-bff; fwd=miss; collapsed'));
  });

  it('waiters on another replica are told by pub/sub, without polling', async () => {
    // Polls so slow that only the channel can answer in time.
    const [a, b] = [await replica({ pollMinMs: 5000, pollMaxMs: 5000 }), await replica({ pollMinMs: 5000, pollMaxMs: 5000 })];
    const c = counter(undefined, 200);
    const leader = a.fetch(ctx(), c.load);
    await waitFor(() => c.calls === 1, 2000, 'the leader to call');
    const started = Date.now();
    const waiter = await b.fetch(ctx(), c.load);
    assert.ok(Date.now() - started < 2500, `waited ${Date.now() - started} ms`);
    assert.equal(waiter.cacheStatus, 'iot-bff; fwd=miss; collapsed');
    assert.equal(waiter.age, 0);
    assert.equal(c.calls, 1);
    await leader;
  });

  it('waiters without a subscription find the answer by polling', async () => {
    const [a, b] = [await replica({ subscriber: null }), await replica({ subscriber: null })];
    const c = counter(undefined, 200);
    const results = await Promise.all([a, b, a, b].map((x) => x.fetch(ctx(), c.load)));
    assert.equal(c.calls, 1);
    assert.equal(results.filter((r) => r.collapsed).length, 3);
  });

  it('without a shared store (REDIS_URL=memory) it only coalesces in process', async () => {
    const a = new GetCache({ redis: null, subscriber: null, prefix, commandTimeoutMs: 500 });
    caches.push(a);
    const c = counter();
    const [r1, r2] = await Promise.all([a.fetch(ctx(), c.load), a.fetch(ctx(), c.load)]);
    assert.equal(c.calls, 1);
    assert.equal(r1.storeAvailable, false);
    assert.equal(r2.cacheStatus, 'iot-bff; fwd=miss; collapsed; detail=store-unavailable');
    assert.deepEqual(await a.invalidate('app-a', ['x:list']), { ok: false, dropped: 0 });
  });

  it('repeats within the TTL: no platform call, Age grows, ttl shrinks', async () => {
    const [a, b] = [await replica(), await replica()];
    const c = counter();
    const first = await a.fetch(ctx(), c.load);
    assert.equal(first.age, 0);
    assert.equal(first.cacheHeaders.Age, '0');
    const hit = await b.fetch(ctx(), c.load);
    assert.equal(hit.fromCache, true);
    assert.match(hit.cacheStatus, /^iot-bff; hit; ttl=(29|30)$/);
    await sleep(1100);
    const later = await a.fetch(ctx(), c.load);
    assert.equal(c.calls, 1);
    assert.ok(later.age >= 1, `Age ${later.age}`);
    assert.equal(later.cacheHeaders.Age, String(later.age));
    assert.match(later.cacheStatus, /^iot-bff; hit; ttl=2[89]$/);
  });

  it('an entry expires with its TTL', async () => {
    const a = await replica();
    const c = counter();
    await a.fetch(ctx({ ttlSec: 0.3 }), c.load);
    await sleep(400);
    const r = await a.fetch(ctx({ ttlSec: 0.3 }), c.load);
    assert.equal(c.calls, 2);
    assert.equal(r.cacheStatus, 'iot-bff; fwd=miss; fwd-status=200; stored');
  });

  it('Cache-Control: no-cache makes one platform call and stores its answer', async () => {
    const [a, b] = [await replica(), await replica()];
    await a.fetch(ctx(), counter({ v: 1 }).load);
    const c = counter({ v: 2 });
    const r = await b.fetch(ctx({ cacheControl: 'no-cache' }), c.load);
    assert.equal(c.calls, 1);
    assert.deepEqual(r.body, { v: 2 });
    assert.equal(r.cacheStatus, 'iot-bff; fwd=request; fwd-status=200; stored');
    const next = await a.fetch(ctx(), c.load);
    assert.equal(c.calls, 1);
    assert.deepEqual(next.body, { v: 2 });
    assert.equal(next.fromCache, true);
  });

  it('Cache-Control: max-age=0 and max-age=N are honoured', async () => {
    const a = await replica();
    const c = counter();
    await a.fetch(ctx(), c.load);
    // Age 0 is not older than 0 seconds.
    assert.equal((await a.fetch(ctx({ cacheControl: 'max-age=0' }), c.load)).fromCache, true);
    await sleep(1100);
    const tooOld = await a.fetch(ctx({ cacheControl: 'max-age=0' }), c.load);
    assert.equal(c.calls, 2);
    assert.equal(tooOld.cacheStatus, 'iot-bff; fwd=stale; fwd-status=200; stored');
    const ok = await a.fetch(ctx({ cacheControl: 'max-age=60' }), c.load);
    assert.equal(ok.fromCache, true);
    await sleep(1100);
    const one = await a.fetch(ctx({ cacheControl: 'max-age=1' }), c.load);
    assert.equal(one.fromCache, true, one.cacheStatus);
    assert.equal(c.calls, 2);
  });

  it('query order does not matter; another query or app is another entry', async () => {
    const [a, b] = [await replica(), await replica()];
    const c = counter();
    await a.fetch(ctx({ query: { fileType: 'softwarePackage', pageNo: 0 } }), c.load);
    const same = await b.fetch(ctx({ query: { pageNo: 0, fileType: 'softwarePackage' } }), c.load);
    assert.equal(same.fromCache, true);
    assert.equal(c.calls, 1);
    await b.fetch(ctx({ query: { pageNo: 1, fileType: 'softwarePackage' } }), c.load);
    assert.equal(c.calls, 2);
    const other = counter({ app: 'b' });
    const rb = await b.fetch(ctx({ appId: 'app-b' }), other.load);
    assert.equal(other.calls, 1);
    assert.deepEqual(rb.body, { app: 'b' });
    assert.deepEqual((await a.fetch(ctx(), c.load)).body, { data: [{ fileId: 'sw-1' }], totalCount: 1 });
    const stored = await redis.client.keys(`${prefix}cache:*`);
    assert.ok(stored.some((k) => k.includes('{app-b}')) && stored.some((k) => k.includes('{app-a}')));
  });

  it('invalidation by tag drops the resource and its lists, and nothing else', async () => {
    const [a, b] = [await replica(), await replica()];
    const get = (opId: string, params: Record<string, string>, tags: string[]) =>
      ctx({ opId, params, query: {}, tags });
    const pkg = get('getPackage', { fileId: 'sw-1' }, [upgradeTags.packageOf('sw-1')]);
    const other = get('getPackage', { fileId: 'sw-2' }, [upgradeTags.packageOf('sw-2')]);
    const list = ctx();
    const tasks = get('listUpgradeTasks', {}, [upgradeTags.taskList]);
    const c = counter();
    for (const x of [pkg, other, list, tasks]) await a.fetch(x, c.load);
    assert.equal(c.calls, 4);
    // DELETE /packages/sw-1 invalidates the package and the package lists.
    const inv = await b.invalidate('app-a', [upgradeTags.packageOf('sw-1'), upgradeTags.packageList]);
    assert.deepEqual(inv, { ok: true, dropped: 2 });
    assert.equal((await a.fetch(pkg, c.load)).fromCache, false);
    assert.equal((await b.fetch(list, c.load)).fromCache, false);
    assert.equal(c.calls, 6);
    assert.equal((await a.fetch(other, c.load)).fromCache, true);
    assert.equal((await a.fetch(tasks, c.load)).fromCache, true);
    assert.equal(c.calls, 6);
    // The same tag of another app is another set.
    assert.deepEqual(await a.invalidate('app-b', [upgradeTags.packageList]), { ok: true, dropped: 0 });
    // Running it twice is harmless.
    assert.deepEqual(await a.invalidate('app-a', [upgradeTags.packageOf('sw-2')]), { ok: true, dropped: 1 });
    assert.deepEqual(await a.invalidate('app-a', [upgradeTags.packageOf('sw-2')]), { ok: true, dropped: 0 });
  });

  it('a hot tag set sheds members that already expired', async () => {
    const a = await replica();
    const c = counter({ small: true }, 0);
    for (let i = 0; i < 130; i++) await a.fetch(ctx({ query: { pageNo: i } }), c.load);
    const set = keys.tagSet(prefix, 'app-a', upgradeTags.packageList);
    const members = await redis.client.smembers(set);
    assert.equal(members.length, 130);
    // As if they had all expired: the next store drops 16 dead members (the set never expires while it is hot).
    await redis.client.del(...members);
    const r = await a.fetch(ctx({ query: { pageNo: 999 } }), c.load);
    assert.equal(r.stored, true);
    const left = await redis.client.scard(set);
    assert.ok(left >= 115 && left <= 116, `${left} members left`);
    // The set lives as long as its longest member.
    assert.ok((await redis.client.pttl(set)) > 29_000);
  });

  it('a write during a platform call keeps the answer it read before from being stored', async () => {
    const [a, b] = [await replica(), await replica()];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const load = async (): Promise<LoadResult> => {
      calls += 1;
      await gate;
      return { status: 200, body: { before: 'write' } };
    };
    const pending = a.fetch(ctx(), load);
    await waitFor(() => calls === 1, 2000, 'the load to start');
    await b.invalidate('app-a', [upgradeTags.packageList]);
    release();
    const r = await pending;
    assert.deepEqual(r.body, { before: 'write' });
    assert.equal(r.stored, false);
    assert.equal(r.cacheStatus, 'iot-bff; fwd=miss; fwd-status=200; detail=invalidated');
    const c = counter({ after: 'write' });
    assert.deepEqual((await b.fetch(ctx(), c.load)).body, { after: 'write' });
    assert.equal(c.calls, 1);
  });

  it('an answer over the size cap is served but not stored; errors and other statuses are not stored', async () => {
    const a = await replica({ maxEntryBytes: 1000 });
    const big = counter({ data: 'x'.repeat(2000) });
    const r = await a.fetch(ctx(), big.load);
    assert.equal(r.cacheStatus, 'iot-bff; fwd=miss; fwd-status=200; detail=too-large');
    assert.equal(r.stored, false);
    await a.fetch(ctx(), big.load);
    assert.equal(big.calls, 2);
    assert.deepEqual(await redis.client.keys(`${prefix}cache:*`), []);
    let failures = 0;
    const failing = async (): Promise<LoadResult> => {
      failures += 1;
      throw new GatewayError('NOT_FOUND', { platformCode: '123002' });
    };
    await assert.rejects(a.fetch(ctx({ opId: 'getPackage' }), failing), GatewayError);
    await assert.rejects(a.fetch(ctx({ opId: 'getPackage' }), failing), GatewayError);
    assert.equal(failures, 2);
    const partial = await a.fetch(ctx({ opId: 'x' }), async () => ({ status: 206, body: {} }));
    assert.equal(partial.stored, false);
    assert.match(partial.cacheStatus, /detail=status/);
  });

  it('when the first loader fails, every waiter on both replicas gets its error without calling the platform', async () => {
    const [a, b] = [await replica(), await replica()];
    let calls = 0;
    const load = async (): Promise<LoadResult> => {
      calls += 1;
      await sleep(150);
      throw new GatewayError('NOT_FOUND', {
        platformCode: '123002',
        message: 'No such package.',
        headers: { RateLimit: '"app";r=5;t=30', 'X-Internal': 'secret' },
        cause: new Error('secret token'),
      });
    };
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).fetch(ctx(), load)));
    assert.equal(calls, 1);
    const errors = outcomes.map((o) => {
      assert.equal(o.status, 'rejected');
      return (o as PromiseRejectedResult).reason as GatewayError;
    });
    for (const e of errors) {
      assert.ok(e instanceof GatewayError);
      assert.equal(e.code, 'NOT_FOUND');
      assert.equal(e.platformCode, '123002');
      assert.equal(e.message, 'No such package.');
      assert.equal(e.headers?.RateLimit, '"app";r=5;t=30');
      assert.match(e.headers?.['Cache-Status'] ?? '', /^iot-bff; fwd=miss/);
    }
    const waiters = errors.filter((e) => /collapsed/.test(e.headers?.['Cache-Status'] ?? ''));
    assert.equal(waiters.length, 11);
    for (const e of waiters) assert.equal(e.headers?.['X-Internal'], undefined);
    // Not cached: the next request asks again.
    await assert.rejects(a.fetch(ctx(), load));
    assert.equal(calls, 2);
  });

  it("a refusal of the loader's own quota share is not handed to the others: they ask for themselves", async () => {
    const [a, b] = [await replica(), await replica()];
    let calls = 0;
    const load = async (): Promise<LoadResult> => {
      calls += 1;
      await sleep(100);
      // The first caller's client has no quota left; the others' clients (with a reserve, §11) do.
      if (calls === 1) throw new GatewayError('RATE_LIMITED', { platformCode: '1010009', retryAfter: 7 });
      return { status: 200, body: { ok: true } };
    };
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).fetch(ctx(), load)));
    const refused = outcomes.filter((o) => o.status === 'rejected');
    assert.equal(refused.length, 1);
    assert.equal(((refused[0] as PromiseRejectedResult).reason as GatewayError).code, 'RATE_LIMITED');
    // One refused call, then one call that everyone else shared.
    assert.equal(calls, 2);
  });

  it('a lock holder that died: waiters take over after the lock expires, within their deadline', async () => {
    const [a, b] = [await replica({ lockTtlMs: 400 }), await replica({ lockTtlMs: 400 })];
    const key = cacheKey({ prefix, appId: 'app-a', opId: 'listPackages', params: {}, query: { fileType: 'softwarePackage', pageNo: 0 } });
    // A replica took the lock and was killed: no answer, no renewal.
    await redis.client.set(keys.lock(key), 'p:dead-replica', 'PX', 400);
    const c = counter(undefined, 50);
    const started = Date.now();
    const deadline = started + 2500;
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).fetch(ctx({ deadline }), c.load)));
    const took = Date.now() - started;
    assert.equal(c.calls, 1);
    assert.ok(took >= 300 && took < 2500, `took ${took} ms`);
    assert.equal(results.filter((r) => r.cacheStatus.includes('stored')).length, 1);
  });

  it('a live holder keeps its lock past the lock TTL, and a waiter never waits past its own deadline', async () => {
    const [a, b] = [await replica({ lockTtlMs: 300 }), await replica({ lockTtlMs: 300 })];
    const slow = counter({ slow: true }, 900);
    const leader = a.fetch(ctx({ deadline: Date.now() + 3000 }), slow.load);
    await waitFor(() => slow.calls === 1, 2000, 'the leader to call');
    const started = Date.now();
    const impatient = b.fetch(ctx({ deadline: Date.now() + 300 }), counter().load);
    await assert.rejects(impatient, (e: unknown) => e instanceof GatewayError && e.code === 'UPSTREAM_TIMEOUT' && /collapsed/.test(e.headers?.['Cache-Status'] ?? ''));
    const waited = Date.now() - started;
    assert.ok(waited >= 250 && waited < 1000, `waited ${waited} ms`);
    // A patient waiter gets the leader's answer although the call outlived three lock TTLs: renewal kept it.
    const patient = counter();
    const p = await b.fetch(ctx({ deadline: Date.now() + 3000 }), patient.load);
    assert.equal(patient.calls, 0);
    assert.deepEqual(p.body, { slow: true });
    assert.equal((await leader).stored, true);
  });

  it('identical requests in one replica share one flight', async () => {
    const registry = new Registry();
    const metrics = createCacheMetrics(registry);
    const a = await replica({ metrics });
    const c = counter(undefined, 100);
    const results = await Promise.all(Array.from({ length: 10 }, () => a.fetch(ctx(), c.load)));
    assert.equal(c.calls, 1);
    assert.equal(results.filter((r) => r.collapsed).length, 9);
    await a.fetch(ctx(), c.load);
    const text = await registry.metrics();
    assert.match(text, /iotbff_cache_coalesced_waits_total\{app="app-a",scope="local"\} 9/);
    assert.match(text, /iotbff_cache_platform_calls_saved_total\{app="app-a"\} 10/);
    assert.match(text, /iotbff_cache_lookups_total\{app="app-a",op="listPackages",outcome="hit"\} 1/);
    assert.match(text, /iotbff_cache_lookups_total\{app="app-a",op="listPackages",outcome="collapsed"\} 9/);
    assert.match(text, /iotbff_cache_lookups_total\{app="app-a",op="listPackages",outcome="miss"\} 1/);
    assert.match(text, /iotbff_cache_stored_bytes_total\{app="app-a"\} \d+/);
  });

  it('ttl 0 turns the cache off for the operation', async () => {
    const a = await replica();
    const c = counter();
    const r = await a.fetch(ctx({ ttlSec: 0 }), c.load);
    await a.fetch(ctx({ ttlSec: 0 }), c.load);
    assert.equal(c.calls, 2);
    assert.equal(r.cacheStatus, 'iot-bff; fwd=bypass; fwd-status=200; detail=off');
    assert.equal(r.storeAvailable, true);
    assert.deepEqual(await redis.client.keys(`${prefix}*`), []);
  });

  it('survives Redis forgetting its scripts (NOSCRIPT)', async () => {
    const a = await replica();
    const c = counter();
    await a.fetch(ctx(), c.load);
    await redis.client.script('FLUSH');
    assert.equal((await a.fetch(ctx(), c.load)).fromCache, true);
    await redis.client.script('FLUSH');
    await a.invalidate('app-a', [upgradeTags.packageList]);
    await redis.client.script('FLUSH');
    assert.equal((await a.fetch(ctx(), c.load)).stored, true);
    assert.equal(c.calls, 2);
  });

  it('Redis stopped: every fetch calls the platform and answers, none throws; back when Redis is', async () => {
    const logs: string[] = [];
    const [a, b] = [
      await replica({ log: { warn: (_o, msg) => logs.push(msg) } }),
      await replica(),
    ];
    const c = counter();
    await a.fetch(ctx(), c.load);
    await redis.stop();
    try {
      const started = Date.now();
      const results = await Promise.all([a, b, a, b].map((x) => x.fetch(ctx(), c.load)));
      assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
      for (const r of results) {
        assert.equal(r.storeAvailable, false);
        assert.deepEqual(r.body, { data: [{ fileId: 'sw-1' }], totalCount: 1 });
        assert.match(r.cacheStatus, /^iot-bff; fwd=miss.*detail=store-unavailable$/);
      }
      // Two replicas, each coalescing its own two requests in process.
      assert.equal(c.calls, 3);
      assert.deepEqual(await a.invalidate('app-a', [upgradeTags.packageList]), { ok: false, dropped: 0 });
      assert.equal(logs.length, 1);
    } finally {
      await redis.start();
    }
    await waitFor(() => conns.every((r) => r.status === 'ready'), 5000, 'clients to reconnect');
    const r = await a.fetch(ctx(), c.load);
    assert.equal(r.storeAvailable, true);
    assert.equal(r.stored, true);
  });
});
