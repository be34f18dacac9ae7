// Real Redis topologies through the connection factory: slots, scripts and pub/sub on a 3-primary Cluster; failover on a Sentinel set.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { Cluster } from 'ioredis';
import { createLogger } from '../src/logger.js';
import {
  connectClientWithin,
  createRedisClient,
  describeRedis,
  parseHostPorts,
  type RedisClient,
  type RedisTopology,
} from '../src/redis.js';
import os from 'node:os';
import { ConfigError, loadConfig } from '../src/config.js';
import { storeFailureError } from '../src/http/outcomes.js';
import { isStoreUnavailable } from '../src/redis.js';
import { RedisIdempotencyBackend } from '../src/idempotency.js';
import { QuotaScripts } from '../src/quota/scripts.js';
import { RedisTokenStore } from '../src/tokens/store.js';
import { CLIENTS, TEST_APPS, startRedis, waitFor } from './helpers/fixtures.js';
import {
  ask,
  hostPort,
  startCluster,
  startSentinelSet,
  type HostPort,
  type TestCluster,
  type TestSentinelSet,
} from './helpers/redis-topologies.js';

const COMMAND_TIMEOUT_MS = 500;
/** How late a failing command may come back: its timeout plus scheduling slack on a shared 2-core machine. */
const LATEST_ANSWER_MS = COMMAND_TIMEOUT_MS + 400;

function open(topology: RedisTopology, name: string): { client: RedisClient; logs: string[] } {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const client = createRedisClient({ topology, commandTimeoutMs: COMMAND_TIMEOUT_MS, logger: createLogger('info', sink), name });
  return { client, logs };
}

/** `p`, or a rejection after `ms`: for the calls that have no deadline of their own (a cluster's subscribe). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function close(client: RedisClient | undefined): Promise<void> {
  if (!client) return;
  // quit() waits for an answer; a test that broke the topology must not wait on it.
  await Promise.race([client.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
  client.disconnect();
}

// The quota's take, reduced: a log and a hold key of one app, touched in one script.
const TAKE_LUA = `
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]), ARGV[2])
redis.call('SET', KEYS[2], '1', 'PX', 60000)
return redis.call('ZCARD', KEYS[1])`;
type Scripted = RedisClient & { topoTake(log: string, hold: string, score: number, member: string): Promise<number> };

const quotaKey = (app: string) => `iotbff:quota:{${app}}`;
const holdKey = (app: string) => `iotbff:quota-hold:{${app}}`;

describe('REDIS_SENTINELS / REDIS_CLUSTER_NODES parsing', () => {
  it('reads host:port lists, IPv6 in brackets, spaces around commas', () => {
    assert.deepEqual(parseHostPorts('10.0.0.1:26379, redis-b:26380,[::1]:7000', 'REDIS_SENTINELS'), [
      { host: '10.0.0.1', port: 26379 },
      { host: 'redis-b', port: 26380 },
      { host: '::1', port: 7000 },
    ]);
  });
  it('names the setting and the bad entry', () => {
    assert.throws(() => parseHostPorts('', 'REDIS_SENTINELS'), /REDIS_SENTINELS: expected host:port/);
    assert.throws(() => parseHostPorts('a:1,b', 'REDIS_CLUSTER_NODES'), /REDIS_CLUSTER_NODES: "b" is not host:port/);
    assert.throws(() => parseHostPorts('a:0', 'X'), /"a:0"/);
    assert.throws(() => parseHostPorts('a:65536', 'X'), /"a:65536"/);
    assert.throws(() => parseHostPorts('::1:7000', 'X'), /"::1:7000"/);
  });
});

describe('REDIS_SENTINELS, REDIS_SENTINEL_NAME, REDIS_CLUSTER_NODES in the configuration', () => {
  const base = { PLATFORM_URL: 'http://127.0.0.1:1', PLATFORM_APPS: JSON.stringify(TEST_APPS), GATEWAY_CLIENTS: JSON.stringify(CLIENTS) };
  const load = (env: Record<string, string>) => loadConfig({ ...base, ...env }, os.tmpdir());
  const problemsOf = (env: Record<string, string>): string[] => {
    try {
      load(env);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    assert.fail('expected a ConfigError');
  };

  it('one server by default, the in-process store with REDIS_URL=memory', () => {
    assert.deepEqual(load({}).redisTopology, { kind: 'single', url: 'redis://127.0.0.1:6379' });
    assert.equal(load({ REDIS_URL: 'memory' }).redisTopology, null);
  });

  it("Sentinel: the sentinels and the master name; REDIS_URL's default host is never used, a given REDIS_URL only lends credentials", () => {
    assert.deepEqual(load({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_NAME: 'iotbff' }).redisTopology, {
      kind: 'sentinel',
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }],
      name: 'iotbff',
    });
    const t = load({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'm', REDIS_URL: 'rediss://gw:pw@ignored:6379' }).redisTopology;
    assert.deepEqual(t, { kind: 'sentinel', sentinels: [{ host: 's1', port: 26379 }], name: 'm', url: 'rediss://gw:pw@ignored:6379' });
  });

  it('Cluster: the seed nodes, REDIS_URL for credentials only', () => {
    assert.deepEqual(load({ REDIS_CLUSTER_NODES: 'n1:7000, n2:7001,[::1]:7002' }).redisTopology, {
      kind: 'cluster',
      nodes: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }, { host: '::1', port: 7002 }],
    });
  });

  it('refuses to start with one clear line per conflict, never quoting an address', () => {
    assert.deepEqual(problemsOf({ REDIS_SENTINELS: 's1:1', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'n1:2' }), [
      'REDIS_SENTINELS, REDIS_CLUSTER_NODES: set one topology, not both',
    ]);
    assert.deepEqual(problemsOf({ REDIS_SENTINELS: 's1:1' }), ['REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS']);
    assert.deepEqual(problemsOf({ REDIS_SENTINEL_NAME: 'm' }), [
      'REDIS_SENTINEL_NAME: is only used with REDIS_SENTINELS; set REDIS_SENTINELS too',
    ]);
    assert.deepEqual(problemsOf({ REDIS_CLUSTER_NODES: 'n1:2', REDIS_URL: 'memory' }), [
      'REDIS_URL: "memory" cannot be combined with REDIS_CLUSTER_NODES',
    ]);
    const bad = problemsOf({ REDIS_CLUSTER_NODES: 'n1:7000,secret-host', REDIS_SENTINELS: 'x:99999', REDIS_SENTINEL_NAME: 'm' });
    assert.ok(bad.includes('REDIS_CLUSTER_NODES: entry 2 of 2 is not host:port (IPv6 as [addr]:port)'), bad.join('\n'));
    assert.ok(bad.includes('REDIS_SENTINELS: entry 1 of 1 is not host:port (IPv6 as [addr]:port)'), bad.join('\n'));
    assert.ok(!bad.join('\n').includes('secret-host'));
  });
});

describe('a store that is switching over is a 503 at the edge, never a 500', () => {
  const named = (name: string, message: string) => Object.assign(new Error(message), { name });
  it('tells "the store is away for a moment" from "this command is wrong"', () => {
    const away = [
      named('ReplyError', "READONLY You can't write against a read only replica."),
      named('ReplyError', 'LOADING Redis is loading the dataset in memory'),
      named('ReplyError', 'CLUSTERDOWN The cluster is down'),
      named('ReplyError', 'TRYAGAIN Multiple keys request during rehashing of slot'),
      named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 0).'),
      named('ClusterAllFailedError', 'Failed to refresh slots cache.'),
      named('AbortError', 'Command aborted due to connection close'),
      new Error('Connection is closed.'),
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
      new Error('Command timed out'),
      new Error("Cluster isn't ready and enableOfflineQueue options is false"),
      new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'),
    ];
    for (const e of away) assert.equal(isStoreUnavailable(e), true, e.message);
    const wrong = [
      named('ReplyError', 'ERR Error running script (call to f_1): @user_script:2: bad argument'),
      named('ReplyError', "CROSSSLOT Keys in request don't hash to the same slot"),
      named('ReplyError', 'WRONGTYPE Operation against a key holding the wrong kind of value'),
      named('AbortError', 'Possible CROSSSLOT error: All channels must hash to the same slot'),
      new Error('All the keys in a pipeline command should belong to the same slot'),
      new TypeError('x is undefined'),
      'a string',
    ];
    for (const e of wrong) assert.equal(isStoreUnavailable(e), false, String(e));
  });

  it('READONLY from a real replica (an old primary after a switch) maps to SERVICE_UNAVAILABLE with Retry-After', async function () {
    this.timeout(15_000);
    const primary = await startRedis({ own: true });
    const replica = await startRedis({ own: true });
    const { client } = open({ kind: 'single', url: replica.url }, 'iot-bff:readonly-test');
    try {
      const p = new URL(primary.url);
      await replica.client.replicaof(p.hostname, Number(p.port));
      assert.equal(await connectClientWithin(client, 3000), true);
      const err = await client.set('iotbff:token:{app-a}', 'x').then(
        () => assert.fail('a replica accepted a write'),
        (e: unknown) => e,
      );
      const gw = storeFailureError(err);
      assert.equal(gw?.code, 'SERVICE_UNAVAILABLE', String(err));
      assert.equal(gw?.status, 503);
      assert.equal(gw?.retryAfter, 1);
      // A script error on the same connection is a bug, not an outage: it stays a 500.
      const bug = await client.eval('return redis.call("NOPE")', 0).then(() => undefined, (e: unknown) => e);
      assert.equal(storeFailureError(bug), undefined, String(bug));
    } finally {
      await close(client);
      await replica.close();
      await primary.close();
    }
  });
});

describe('a single server through createRedisClient', () => {
  it('is createRedis as before, and describeRedis names the server once connected', async () => {
    const redis = await startRedis({ own: true });
    const { client } = open({ kind: 'single', url: redis.url }, 'iot-bff:test');
    try {
      assert.deepEqual(describeRedis(client), { topology: 'single', primary: null });
      assert.equal(await connectClientWithin(client, 3000), true);
      assert.deepEqual(describeRedis(client), { topology: 'single', primary: new URL(redis.url).host });
    } finally {
      await close(client);
      await redis.close();
    }
  });
});

describe('Redis Cluster, 3 primaries, through createRedisClient', function () {
  this.timeout(30_000);
  let cluster: TestCluster | undefined;
  let client: Scripted;
  let sub: RedisClient | undefined;
  let logs: string[];
  /** slot → the port of the primary that holds it. */
  let owner: (slot: number) => number;
  const slotOf = async (key: string): Promise<number> => Number(await client.cluster('KEYSLOT', key));
  /** The first of `name-0`, `name-1`, … whose slot lives on the primary `port`. */
  const nameOn = async (name: string, port: number): Promise<string> => {
    for (let i = 0; i < 1000; i++) if (owner(await slotOf(`{${name}-${i}}`)) === port) return `${name}-${i}`;
    throw new Error(`no ${name}-N on ${port}`);
  };

  before(async () => {
    cluster = await startCluster();
    const opened = open({ kind: 'cluster', nodes: cluster.nodes }, 'iot-bff:test');
    client = opened.client as Scripted;
    logs = opened.logs;
    client.defineCommand('topoTake', { numberOfKeys: 2, lua: TAKE_LUA });
    assert.equal(await connectClientWithin(client, 5000), true, 'cluster client ready');
    const ranges = (await client.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    owner = (slot) => {
      const r = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!r) throw new Error(`slot ${slot} unassigned`);
      return r[2][1];
    };
  });

  after(async () => {
    await close(sub);
    await close(client);
    await cluster?.stop();
  });

  it('names the topology and its three primaries, for /readyz and the logs', () => {
    const where = describeRedis(client);
    assert.equal(where.topology, 'cluster');
    assert.deepEqual(where.primaries, cluster!.nodes.map(hostPort).sort());
    assert.ok(logs.some((l) => l.includes('"redis connected"') && l.includes('"topology":"cluster"')), logs.join(''));
  });

  it("the gateway's own stores work on it: token hand-over by classic pub/sub, lock and compare-and-delete, idempotency claims, and quota scripts that count a resent take once", async function () {
    this.timeout(15_000);
    const subscriber = open({ kind: 'cluster', nodes: cluster!.nodes }, 'iot-bff:test:sub').client;
    const store = new RedisTokenStore(client, subscriber, 'iotbff-t:', []);
    try {
      assert.equal(await connectClientWithin(subscriber, 5000), true);
      const changed: string[] = [];
      store.onChange((appId) => changed.push(appId));
      // Apps on each primary: the token MULTI (with its keyless PUBLISH) runs wherever the app's slot is.
      const apps = await Promise.all(cluster!.nodes.map((n) => nameOn('tok', n.port)));
      const token = { accessToken: 'at', refreshToken: 'rt', issuedAt: Date.now(), expiresAt: Date.now() + 60_000, renewAt: Date.now() + 30_000 };
      await waitFor(async () => {
        await store.put(apps[0] as string, token);
        return changed.length > 0;
      }, 5000, 'the subscription');
      changed.length = 0;
      for (const app of apps) await store.put(app, token);
      await waitFor(() => apps.every((a) => changed.includes(a)), 3000, 'a change notice from every primary');
      for (const app of apps) {
        assert.equal((await store.get(app))?.accessToken, 'at');
        assert.equal(await store.tryLock(app, 'me', 5000), true);
        assert.equal(await store.tryLock(app, 'other', 5000), false);
        await store.unlock(app, 'me');
        await store.unlock(app, 'me'); // run twice: still fine
        assert.equal(await store.dropIfCurrent(app, 'not-it'), false);
        assert.equal(await store.dropIfCurrent(app, 'at'), true);
        assert.equal(await store.dropIfCurrent(app, 'at'), false); // run twice: nothing more is dropped
      }
      const idem = new RedisIdempotencyBackend(client);
      const key = `iotbff-t:idem:{${apps[1]}}:abc`;
      assert.equal(await idem.claim(key, 'fp', 5000), null);
      assert.deepEqual(await idem.claim(key, 'fp', 5000), { state: 'pending', fp: 'fp' });

      // A take resent after a switch (same member) counts once; so does a touch run twice.
      const scripts = new QuotaScripts(client);
      const log = `iotbff-t:quota:{${apps[2]}}`;
      const hold = `iotbff-t:hold:{${apps[2]}}`;
      await scripts.take(log, hold, 10, 60_000, 'replica-1:1');
      await scripts.take(log, hold, 10, 60_000, 'replica-1:1');
      await scripts.touch(log, 'replica-1:1', 60_000);
      await scripts.touch(log, 'replica-1:1', 60_000);
      assert.equal(await client.zcard(log), 1);
      await scripts.take(log, hold, 10, 60_000, 'replica-1:2');
      assert.equal(await client.zcard(log), 2);
    } finally {
      await store.close();
      await close(subscriber);
    }
  });

  it("keeps one app's keys in one slot, runs a multi-key script over them, and refuses one across apps", async () => {
    const [p0, p1] = cluster!.nodes.map((n) => n.port) as [number, number];
    const appA = await nameOn('app', p0);
    const appB = await nameOn('app', p1);
    for (const app of [appA, appB]) assert.equal(await slotOf(quotaKey(app)), await slotOf(holdKey(app)), app);
    assert.notEqual(owner(await slotOf(quotaKey(appA))), owner(await slotOf(quotaKey(appB))), 'the two apps on different primaries');

    assert.equal(await client.topoTake(quotaKey(appA), holdKey(appA), Date.now(), 'm1'), 1);
    assert.equal(await client.topoTake(quotaKey(appB), holdKey(appB), Date.now(), 'm1'), 1);
    // Each landed on its own primary, not wherever the client happened to be connected.
    assert.equal(await ask({ host: '127.0.0.1', port: p0 }, 'ZCARD', quotaKey(appA)), 1);
    assert.equal(await ask({ host: '127.0.0.1', port: p1 }, 'ZCARD', quotaKey(appB)), 1);
    // A script over two apps' keys is refused (by ioredis's auto-pipelining before Redis would say
    // CROSSSLOT): nothing may span apps.
    await assert.rejects(client.topoTake(quotaKey(appA), holdKey(appB), Date.now(), 'm2'), /CROSSSLOT|same slot/);
  });

  it('runs defineCommand scripts again after every node lost its script cache (NOSCRIPT, then EVAL)', async () => {
    const [p0, p1, p2] = cluster!.nodes.map((n) => n.port) as [number, number, number];
    const apps = [await nameOn('flush', p0), await nameOn('flush', p1), await nameOn('flush', p2)];
    for (const app of apps) assert.equal(await client.topoTake(quotaKey(app), holdKey(app), 1, 'a'), 1);
    // What a failover to a replica or a restart does to the cache, while ioredis believes it loaded.
    for (const n of cluster!.nodes) assert.equal(await ask(n, 'SCRIPT', 'FLUSH'), 'OK');
    for (const app of apps) assert.equal(await client.topoTake(quotaKey(app), holdKey(app), 2, 'b'), 2);
  });

  it("a keyless SCRIPT LOAD (rate-limit-redis's sendCommand via call) loads one primary only; loading on every primary fixes it", async () => {
    const lua = "return redis.call('INCR', KEYS[1])";
    for (const n of cluster!.nodes) await ask(n, 'SCRIPT', 'FLUSH');
    const keys = await Promise.all(cluster!.nodes.map(async (n) => `rl:{${await nameOn('ip', n.port)}}`));
    const sha = String(await client.call('SCRIPT', 'LOAD', lua));
    const first = await Promise.allSettled(keys.map((k) => client.call('EVALSHA', sha, '1', k)));
    const noscript = first.filter((r) => r.status === 'rejected' && /NOSCRIPT/.test(String(r.reason))).length;
    assert.equal(noscript, 2, 'loaded on exactly one of three primaries');

    // The workaround: a sendCommand that sends SCRIPT LOAD to every primary.
    const shas = await Promise.all((client as Cluster).nodes('master').map((n) => n.call('SCRIPT', 'LOAD', lua)));
    assert.deepEqual(new Set(shas), new Set([sha]));
    const second = await Promise.all(keys.map((k) => client.call('EVALSHA', sha, '1', k)));
    assert.equal(second.length, 3);
  });

  it("delivers classic pub/sub across primaries, published inside each app's MULTI (the token store's put)", async () => {
    const opened = open({ kind: 'cluster', nodes: cluster!.nodes }, 'iot-bff:test:sub');
    sub = opened.client;
    assert.equal(await connectClientWithin(sub, 5000), true);
    const channel = 'iotbff:token-events';
    const got: string[] = [];
    sub.on('message', (ch: string, msg: string) => {
      if (ch === channel) got.push(msg);
    });
    await within(sub.subscribe(channel), 2000, 'subscribe');
    const apps = await Promise.all(cluster!.nodes.map((n) => nameOn('pub', n.port)));
    for (const app of apps) {
      const key = `iotbff:token:{${app}}`;
      const res = await client.multi().del(key).hset(key, { at: 'x', exp: '1' }).pexpire(key, 60_000).publish(channel, app).exec();
      assert.ok(res && res.every(([err]) => err === null), JSON.stringify(res));
    }
    // Published on all three primaries; the subscriber listens on one of them: the bus carries the rest.
    await waitFor(() => got.length === apps.length, 3000, 'every publish delivered');
    assert.deepEqual([...got].sort(), [...apps].sort());
  });
});

describe('Redis Cluster: the primary under the subscriber lost', function () {
  this.timeout(30_000);
  let cluster: TestCluster | undefined;
  let client: RedisClient | undefined;
  let sub: RedisClient | undefined;
  after(async () => {
    await close(sub);
    await close(client);
    await cluster?.stop();
  });

  it('moves the classic subscription to a live primary within 10 s; the other slots keep answering', async () => {
    cluster = await startCluster();
    client = open({ kind: 'cluster', nodes: cluster.nodes }, 'iot-bff:test').client;
    sub = open({ kind: 'cluster', nodes: cluster.nodes }, 'iot-bff:test:sub').client;
    assert.equal(await connectClientWithin(client, 5000), true);
    assert.equal(await connectClientWithin(sub, 5000), true);
    const channel = 'iotbff:token-events';
    const got: string[] = [];
    sub.on('message', (ch: string, msg: string) => {
      if (ch === channel) got.push(msg);
    });
    await within(sub.subscribe(channel), 2000, 'subscribe');
    // The node ioredis chose for its subscriber connection (named after ours).
    let under: HostPort | undefined;
    for (const n of cluster.nodes) {
      if (String(await ask(n, 'CLIENT', 'LIST')).includes('ioredis-cluster(subscriber):iot-bff:test:sub')) under = n;
    }
    assert.ok(under, 'subscriber connection found');
    const live = cluster.nodes.filter((n) => n.port !== under!.port);
    // Chosen before the kill: keyless commands (CLUSTER KEYSLOT) may be sent to the dead node afterwards.
    const keysOnLive: string[] = [];
    for (const n of live) {
      for (let k = 0; ; k++) {
        const slot = Number(await ask(n, 'CLUSTER', 'KEYSLOT', `{s${k}}`));
        const owner = ((await ask(n, 'CLUSTER', 'SLOTS')) as [number, number, [string, number]][]).find(
          ([from, to]) => slot >= from && slot <= to,
        );
        if (owner?.[2][1] === n.port) {
          keysOnLive.push(`{s${k}}`);
          break;
        }
      }
    }
    await cluster.kill(under);

    const lostAt = Date.now();
    let i = 0;
    await waitFor(
      async () => {
        // Published straight to a live primary: this is about the subscriber, not the publisher.
        await ask(live[i++ % live.length] as HostPort, 'PUBLISH', channel, `m${i}`);
        return got.length > 0;
      },
      10_000,
      'a message after the subscriber node died',
    );
    assert.ok(Date.now() - lostAt < 10_000, `delivered again after ${Date.now() - lostAt} ms`);

    // Keys on the surviving primaries are still served (the lost slots are not: no replica in this test).
    for (const key of keysOnLive) {
      await waitFor(() => client!.set(key, 'v').then(() => true, () => false), 5000, `a write of ${key}`);
    }
  });
});

describe('Redis Sentinel (primary, replica, three sentinels) through createRedisClient', function () {
  this.timeout(60_000);

  /**
   * Sends SET/GET every 50 ms until `recovered` consecutive round trips succeed after `since`;
   * records how long each command took. Returns when recovered, or throws after `ms`.
   */
  async function probeUntilBack(client: RedisClient, since: number, ms: number) {
    const durations: number[] = [];
    let failures = 0;
    let streak = 0;
    let backAt = 0;
    for (let i = 0; Date.now() - since < ms; i++) {
      const t0 = Date.now();
      try {
        await client.set('probe', String(i));
        durations.push(Date.now() - t0);
        const t1 = Date.now();
        assert.equal(await client.get('probe'), String(i));
        durations.push(Date.now() - t1);
        if (streak++ === 0) backAt = Date.now();
        if (streak >= 5) return { backAfterMs: backAt - since, durations, failures };
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        durations.push(Date.now() - t0);
        failures++;
        streak = 0;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`not back within ${ms} ms (${failures} failures)`);
  }

  describe('a primary killed (SIGKILL)', () => {
    let set: TestSentinelSet | undefined;
    let client: RedisClient | undefined;
    let logs: string[];
    before(async () => {
      set = await startSentinelSet();
      const opened = open({ kind: 'sentinel', sentinels: set.sentinels, name: set.name }, 'iot-bff:test');
      client = opened.client;
      logs = opened.logs;
      assert.equal(await connectClientWithin(client, 5000), true, 'sentinel client ready');
    });
    after(async () => {
      await close(client);
      await set?.stop();
    });

    it('reads and writes on the primary the sentinels name, and says which', async () => {
      await client!.set('k', 'v');
      assert.equal(await client!.get('k'), 'v');
      const where = describeRedis(client!);
      assert.equal(where.topology, 'sentinel');
      assert.equal(where.primary, hostPort(await set!.primary()));
    });

    it('is back on the promoted replica within 20 s (contract §12; ~3 s alone); no command outlives its timeout; the restarted node gets no writes', async () => {
      const killedAt = Date.now();
      const old = await set!.killPrimary();
      const { backAfterMs, durations, failures } = await probeUntilBack(client!, killedAt, 20_000);
      // The contract's bound: on a quiet machine ~3 s; under a fully loaded shared 2-core run it took >12 s once.
      assert.ok(backAfterMs < 20_000, `back after ${backAfterMs} ms`);
      assert.ok(Math.max(...durations) <= LATEST_ANSWER_MS, `slowest command ${Math.max(...durations)} ms`);
      assert.ok(failures > 0, 'the kill was felt (else this test proves nothing)');
      const promoted = await set!.waitForPromotion(old, 1000);
      assert.notEqual(promoted.port, old.port);
      assert.equal(describeRedis(client!).primary, hostPort(promoted));
      assert.ok(logs.some((l) => l.includes('"redis connected"') && l.includes(`"primary":"${hostPort(promoted)}"`)), logs.join(''));

      // Restarted empty with its old command line, as a process manager does after a crash: it is a
      // primary of nothing until Sentinel demotes it (8 s or more, by Sentinel's design), and in the
      // meantime nobody is sent there: the sentinels and the client stay on the promoted replica.
      await set!.restart(old);
      await client!.set('after', 'restart');
      assert.equal(await ask(promoted, 'GET', 'after'), 'restart');
      assert.equal(await ask(old, 'GET', 'after'), null);
      assert.equal(hostPort(await set!.primary()), hostPort(promoted));
    });
  });

  describe('a graceful close', () => {
    let set: TestSentinelSet | undefined;
    after(async () => set?.stop());

    it("quit() also closes the failover detector's subscriptions on the sentinels (they would keep the process alive)", async () => {
      set = await startSentinelSet();
      const { client } = open({ kind: 'sentinel', sentinels: set.sentinels, name: set.name }, 'iot-bff:test');
      const subscribed = async () => {
        let n = 0;
        for (const s of set!.sentinels) n += (String(await ask(s, 'CLIENT', 'LIST')).match(/ cmd=subscribe /g) ?? []).length;
        return n;
      };
      assert.equal(await connectClientWithin(client, 5000), true);
      await waitFor(async () => (await subscribed()) === 3, 3000, 'the detector subscribed on the three sentinels');
      await client.quit();
      await waitFor(async () => (await subscribed()) === 0, 3000, 'no subscription left on the sentinels');
    });
  });

  describe('a primary frozen (SIGSTOP: connections stay open, nothing answers)', () => {
    let set: TestSentinelSet | undefined;
    let client: RedisClient | undefined;
    let frozen: { node: HostPort; resume(): void } | undefined;
    before(async () => {
      set = await startSentinelSet();
      client = open({ kind: 'sentinel', sentinels: set.sentinels, name: set.name }, 'iot-bff:test').client;
      assert.equal(await connectClientWithin(client, 5000), true, 'sentinel client ready');
    });
    after(async () => {
      await close(client);
      await set?.stop();
    });

    it('leaves it for the promoted replica within 20 s (failoverDetector; ~4 s alone, never without it), no command outliving its timeout', async () => {
      await client!.set('k', 'v');
      const frozenAt = Date.now();
      frozen = await set!.freezePrimary();
      const { backAfterMs, durations, failures } = await probeUntilBack(client!, frozenAt, 20_000);
      assert.ok(backAfterMs < 20_000, `back after ${backAfterMs} ms`);
      assert.ok(Math.max(...durations) <= LATEST_ANSWER_MS, `slowest command ${Math.max(...durations)} ms`);
      assert.ok(failures > 0, 'the freeze was felt');
      const promoted = await set!.waitForPromotion(frozen.node, 1000);
      assert.equal(describeRedis(client!).primary, hostPort(promoted));
    });
  });
});
