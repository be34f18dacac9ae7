// The quota across a Redis that comes back empty, with replicas that did not all see it go (issue 17, finding 3).
import assert from 'node:assert/strict';
import request from 'supertest';
import {
  KEYS,
  TEST_APPS,
  closeAll,
  gatewayEnv,
  maxInAnyWindow,
  sleep,
  spawnGateway,
  startGateway,
  startRedis,
  startTestSimulator,
  type TestSimulator,
} from './helpers/fixtures.js';

const list = (url: string) => request(url).get('/v1/apps/app-a/packages').set('X-Api-Key', KEYS.all);

describe('quota restore after an empty Redis', () => {
  let sim: TestSimulator;
  before(async () => {
    sim = await startTestSimulator();
  });
  after(() => closeAll(sim));

  it('regression: the quota can be exceeded when Redis comes back empty (issue 17, finding 3): a replica started during the outage settles too', async function () {
    this.timeout(40_000);
    const W = 6000;
    const redis = await startRedis({ own: true });
    await sim.control('config', { ratePerMinute: 10, windowMs: W });
    const env = gatewayEnv(sim.url, redis.url, {
      PLATFORM_APPS: JSON.stringify([{ ...TEST_APPS[0], ratePerMinute: 10 }, TEST_APPS[1]]),
      QUOTA_WINDOW_MS: String(W),
      GATEWAY_REPLICAS: '2',
    });
    const a = await spawnGateway(env);
    let b: Awaited<ReturnType<typeof startGateway>> | undefined;
    try {
      // A spends 9 of 10 (its login included), then Redis dies and comes back empty.
      for (let i = 0; i < 8; i++) assert.equal((await list(a.url)).status, 200);
      await redis.stop();
      // B is started during the outage: its first connection fails.
      const starting = startGateway(env);
      await sleep(500);
      // A is frozen while Redis comes back, inside the settle the design covers, so its calls reach Redis later.
      a.proc.kill('SIGSTOP');
      await redis.start();
      b = await starting;
      const early = await Promise.all(Array.from({ length: 5 }, () => list((b as { url: string }).url)));
      await sleep(500);
      a.proc.kill('SIGCONT');
      await sleep(2500);
      const late = await Promise.all(Array.from({ length: 5 }, () => list((b as { url: string }).url)));
      const { log } = await sim.calls();
      assert.ok(maxInAnyWindow(log, 'app-a', W) <= 10, `the platform saw ${maxInAnyWindow(log, 'app-a', W)} calls in one window`);
      assert.ok(!log.some((x) => x.errorCode === '1010009'), 'the platform had to throttle us');
      assert.ok([...early, ...late].filter((r) => r.status === 200).length <= 1);
    } finally {
      a.proc.kill('SIGCONT');
      a.kill('SIGKILL');
      await a.exited;
      await b?.close();
      await redis.close();
      await sim.control('config', { ratePerMinute: 100, windowMs: 60_000 });
    }
  });
});

describe('quota restore after a failover', () => {
  it('a promoted replica that missed the newest quota entries but kept the epoch markers: the changed replication ID makes every replica restore and settle', async function () {
    this.timeout(30_000);
    const sim = await startTestSimulator();
    const primary = await startRedis({ own: true });
    const stale = await startRedis({ own: true });
    const env = gatewayEnv(sim.url, primary.url, { QUOTA_WINDOW_MS: '20000' });
    const gw = await startGateway(env);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await list(gw.url)).status, 200);
      const prefix = env.REDIS_KEY_PREFIX as string;
      const logKey = `${prefix}quota:{app-a}`;
      assert.equal(await primary.client.zcard(logKey), 4, 'login + 3 calls');
      // The "replica" that will be promoted: it has the epoch markers (replicated long ago), not the newest calls.
      for (const app of ['app-a', 'app-b']) {
        await stale.client.set(`${prefix}epoch:{${app}}`, (await primary.client.get(`${prefix}epoch:{${app}}`)) as string);
      }
      // The failover, as the gateway sees it: the same address now serves the promoted replica's data and ID.
      const port = new URL(stale.url).port;
      // Diskless both ways: the sync writes no dump.rdb into the working directory.
      await stale.client.config('SET', 'repl-diskless-sync', 'yes');
      await stale.client.config('SET', 'repl-diskless-sync-delay', '0');
      await primary.client.config('SET', 'repl-diskless-load', 'swapdb');
      await primary.client.replicaof('127.0.0.1', port);
      await waitForSync(primary);
      await primary.client.replicaof('NO', 'ONE');
      assert.equal(await primary.client.zcard(logKey), 0, 'the promoted data lacks the calls');
      await primary.client.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await waitForLog(gw.logs, 'settling before trusting it');
      assert.equal(await primary.client.zcard(logKey), 4, 'the replica wrote its calls back');
    } finally {
      await gw.close();
      await closeAll(stale, primary, sim);
    }
  });
});

async function waitForSync(r: { client: { info(section: string): Promise<string> } }): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (/master_link_status:up/.test(await r.client.info('replication'))) return;
    await sleep(100);
  }
  throw new Error('replica never synced');
}

async function waitForLog(logs: string[], text: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (logs.some((l) => l.includes(text))) return;
    await sleep(100);
  }
  throw new Error(`no log line with "${text}"`);
}

describe('quota restore with reserves', () => {
  it("after an empty restart each share log gets its calls back, so every client's count is what it was", async function () {
    this.timeout(30_000);
    const sim = await startTestSimulator();
    const redis = await startRedis({ own: true });
    const portalKey = 'key-of-the-reserved-portal-000002';
    const env = gatewayEnv(sim.url, redis.url, {
      GATEWAY_CLIENTS: JSON.stringify([
        { name: 'analytics', key: KEYS.all, apps: ['*'] },
        { name: 'ops-portal', key: portalKey, apps: ['app-a'], reserve: { 'app-a': 8 } },
      ]),
      QUOTA_WINDOW_MS: '20000',
    });
    const gw = await startGateway(env);
    try {
      assert.equal((await list(gw.url)).status, 200); // analytics: login + call, both shared
      for (let i = 0; i < 3; i++) {
        assert.equal((await request(gw.url).get('/v1/apps/app-a/packages').set('X-Api-Key', portalKey)).status, 200);
      }
      const prefix = env.REDIS_KEY_PREFIX as string;
      const count = async () => [
        await redis.client.zcard(`${prefix}quota:{app-a}`),
        await redis.client.zcard(`${prefix}quota:{app-a}:shared`),
        await redis.client.zcard(`${prefix}quota:{app-a}:client:ops-portal`),
      ];
      assert.deepEqual(await count(), [5, 2, 3]);
      await redis.stop();
      await redis.start();
      await redis.client.ping().catch(() => undefined);
      for (let i = 0; i < 100 && (await count().catch(() => [0, 0, 0]))[0] !== 5; i++) await sleep(100);
      assert.deepEqual(await count(), [5, 2, 3]);
    } finally {
      await gw.close();
      await closeAll(redis, sim);
    }
  });
});
