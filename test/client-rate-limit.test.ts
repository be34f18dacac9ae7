// The per-client request rate (contract §11): shared by two replicas, applied before validation and without any platform call, its own RateLimit-Policy item, fail-open on a Redis outage, and its store working on a Redis Cluster.
import assert from 'node:assert/strict';
import { Cluster } from 'ioredis';
import { RedisStore } from 'rate-limit-redis';
import request from 'supertest';
import { clientKey, sendCommandFor } from '../src/http/client-rate-limit.js';
import {
  assertEnvelope,
  closeAll,
  gatewayEnv,
  startGateway,
  startRedis,
  startTestSimulator,
  waitFor,
  type TestRedis,
  type TestSimulator,
} from './helpers/fixtures.js';
import { startEventsGateway } from './helpers/events.js';
import { startCluster, type TestCluster } from './helpers/redis-topologies.js';

const KEY = 'key-of-the-runaway-caller-0000001';
const env = (simUrl: string, redisUrl: string) =>
  gatewayEnv(simUrl, redisUrl, {
    GATEWAY_CLIENTS: JSON.stringify([{ name: 'runaway', key: KEY, apps: ['*'], rateLimit: { requests: 3, windowSec: 30 } }]),
    GATEWAY_REPLICAS: '2',
    REDIS_COMMAND_TIMEOUT_MS: '3000',
  });
const list = (url: string) => request(url).get('/v1/apps/app-a/packages').set('X-Api-Key', KEY);
const invalidCreate = (url: string) =>
  request(url).post('/v1/apps/app-a/upgrade-tasks/software').set('X-Api-Key', KEY).set('Content-Type', 'application/json').send('{"targets":');

describe('client rate limit (contract §11)', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  before(async () => {
    redis = await startRedis({ own: true });
    sim = await startTestSimulator();
  });
  after(() => closeAll(sim, redis));

  it('two replicas share the limit; past it an invalid body gets 429 CLIENT_RATE_LIMITED, not 400, with Retry-After, and the platform sees nothing', async () => {
    await sim.reset();
    const e = env(sim.url, redis.url);
    const [a, b] = [await startGateway(e), await startGateway(e)];
    try {
      const first = await list(a.url);
      assert.equal(first.status, 200);
      // Its own list item next to the app quota's.
      const policy = String(first.headers['ratelimit-policy']);
      assert.match(policy, /"client"; q=3; w=30/);
      assert.match(policy, /"app";q=100;w=60/);
      assert.match(String(first.headers.ratelimit), /"client"; r=2; t=\d+/);
      assert.equal((await list(b.url)).status, 200);
      assertEnvelope(await invalidCreate(a.url), 400, 'VALIDATION_FAILED');
      const before = (await sim.calls()).log.length;
      const refused = await invalidCreate(b.url);
      const err = assertEnvelope(refused, 429, 'CLIENT_RATE_LIMITED');
      assert.equal(err.retryable, true);
      assert.equal(err.platformCode, undefined, 'not the platform quota');
      assert.match(String(refused.headers['retry-after']), /^[1-9]\d*$/);
      assert.ok(Number(refused.headers['retry-after']) <= 30);
      assert.match(String(refused.headers['ratelimit-policy']), /"client"; q=3; w=30/);
      assertEnvelope(await list(a.url), 429, 'CLIENT_RATE_LIMITED');
      // Known now on this replica: refused from memory, with the same fields.
      const again = await list(a.url);
      assertEnvelope(again, 429, 'CLIENT_RATE_LIMITED');
      assert.match(String(again.headers['ratelimit-policy']), /"client"; q=3; w=30/);
      assert.match(String(again.headers.ratelimit), /"client"; r=0; t=\d+/);
      assert.equal((await sim.calls()).log.length, before, 'a refused request reached the platform');
      const metrics = await request(a.url).get('/metrics');
      assert.match(metrics.text, /iotbff_client_refusals_total\{client="runaway",limit="client-rate"\} 2/);
    } finally {
      await closeAll(a, b);
    }
  });

  it('a Redis outage lets requests through (fail open), logged once and counted', async function () {
    this.timeout(20_000);
    await sim.reset();
    const gw = await startGateway(env(sim.url, redis.url));
    try {
      assert.equal((await list(gw.url)).status, 200);
      await redis.stop();
      // Over its limit of 3 by now, but the store cannot say so: the requests pass (and fail validation).
      await waitFor(async () => (await invalidCreate(gw.url)).status === 400, 5000, 'the client limit to fail open');
      for (let i = 0; i < 3; i++) assertEnvelope(await invalidCreate(gw.url), 400, 'VALIDATION_FAILED');
      const lines = gw.logs.filter((l) => l.includes('client rate limit store unreachable'));
      assert.equal(lines.length, 1, 'logged once per outage');
      const metrics = await request(gw.url).get('/metrics');
      const n = Number(/iotbff_client_rate_limit_store_errors_total (\d+)/.exec(metrics.text)?.[1]);
      assert.ok(n >= 2, `counted ${n}`);
    } finally {
      await gw.close();
      await redis.start();
    }
  });

  it('counts the events API too: webhook and stream requests take from the same rate (they bypassed it before issue 15)', async () => {
    const events = await startEventsGateway(env(sim.url, redis.url));
    try {
      const hooks = () => request(events.url).get('/v1/apps/app-a/webhooks').set('X-Api-Key', KEY);
      assert.equal((await hooks()).status, 200);
      assert.equal((await list(events.url)).status, 200);
      assert.equal((await hooks()).status, 200);
      assertEnvelope(await hooks(), 429, 'CLIENT_RATE_LIMITED');
      assertEnvelope(await request(events.url).get('/v1/apps/app-a/events').set('X-Api-Key', KEY), 429, 'CLIENT_RATE_LIMITED');
    } finally {
      await events.close();
    }
  });
});

describe('client rate limit store on a Redis Cluster', () => {
  let cluster: TestCluster;
  let client: Cluster;
  before(async function () {
    this.timeout(20_000);
    cluster = await startCluster();
    client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  });
  after(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  it("counts clients whose keys live on every primary (SCRIPT LOAD is keyless: loaded on all of them), after a SCRIPT FLUSH too", async () => {
    const store = new RedisStore({ sendCommandCluster: sendCommandFor(client), prefix: 'crl:' });
    store.init({ windowMs: 10_000 } as never);
    const names = Array.from({ length: 12 }, (_, i) => `client-${i}`);
    for (const n of names) {
      assert.equal((await store.increment(clientKey(n))).totalHits, 1);
      assert.equal((await store.increment(clientKey(n))).totalHits, 2);
    }
    const slots = new Set(await Promise.all(names.map(async (n) => Number(await client.cluster('KEYSLOT', `crl:${clientKey(n)}`)))));
    assert.ok(slots.size > 3, 'the keys spread over several slots');
    await Promise.all(client.nodes('master').map((n) => n.script('FLUSH')));
    for (const n of names) assert.equal((await store.increment(clientKey(n))).totalHits, 3);
  });
});
