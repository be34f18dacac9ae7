// Prefer: wait (contract §11, RFC 7240): a waiting request is answered when the first slot frees, a wait shorter than the next slot is a 429 at once, the number of waiters is bounded, and a caller that leaves gives up its place.
import assert from 'node:assert/strict';
import request from 'supertest';
import { SlotWaiters } from '../src/quota/waiting.js';
import { quotaMetrics } from '../src/quota/metrics.js';
import { refused, type QuotaOutcome } from '../src/quota/outcome.js';
import { Registry } from 'prom-client';
import {
  KEYS,
  TEST_APPS,
  assertEnvelope,
  closeAll,
  gatewayEnv,
  maxInAnyWindow,
  startGateway,
  startRedis,
  startTestSimulator,
  type TestRedis,
  type TestSimulator,
} from './helpers/fixtures.js';

const W = 3000;
const list = (url: string, prefer?: string) => {
  const r = request(url).get('/v1/apps/app-a/packages').set('X-Api-Key', KEYS.all);
  return prefer ? r.set('Prefer', prefer) : r;
};

describe('Prefer: wait for a platform slot (contract §11)', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  before(async () => {
    redis = await startRedis();
    sim = await startTestSimulator();
  });
  after(async () => {
    await sim.control('config', { ratePerMinute: 100, windowMs: 60_000 });
    await closeAll(sim, redis);
  });

  const start = async (extra: Record<string, string> = {}) => {
    await sim.reset();
    await sim.control('config', { ratePerMinute: 3, windowMs: W });
    return startGateway(
      gatewayEnv(sim.url, redis.url, {
        PLATFORM_APPS: JSON.stringify([{ ...TEST_APPS[0], ratePerMinute: 3 }, TEST_APPS[1]]),
        QUOTA_WINDOW_MS: String(W),
        QUOTA_MAX_WAIT_MS: '10000',
        PLATFORM_TIMEOUT_MS: '8000',
        REDIS_COMMAND_TIMEOUT_MS: '3000',
        ...extra,
      }),
    );
  };

  it('a waiting request is answered when the first slot frees, with Preference-Applied; the platform never sees more than the limit', async function () {
    this.timeout(20_000);
    const gw = await start();
    try {
      assert.equal((await list(gw.url)).status, 200); // login + call
      assert.equal((await list(gw.url)).status, 200); // the third slot
      assertEnvelope(await list(gw.url), 429, 'RATE_LIMITED');
      const t0 = Date.now();
      const waited = await list(gw.url, 'wait=6');
      const took = Date.now() - t0;
      assert.equal(waited.status, 200, JSON.stringify(waited.body));
      assert.equal(waited.headers['preference-applied'], 'wait=6');
      assert.ok(took > 500 && took < 4000, `waited ${took} ms`);
      const { log } = await sim.calls();
      assert.ok(maxInAnyWindow(log, 'app-a', W) <= 3, `saw ${maxInAnyWindow(log, 'app-a', W)} in one window`);
      const metrics = await request(gw.url).get('/metrics');
      assert.match(metrics.text, /iotbff_quota_waits_total\{app="app-a",outcome="admitted"\} 1/);
    } finally {
      await gw.close();
    }
  });

  it('a wait shorter than the next slot is answered 429 at once; without QUOTA_MAX_WAIT_MS nobody waits', async function () {
    this.timeout(20_000);
    const gw = await start();
    try {
      for (let i = 0; i < 2; i++) assert.equal((await list(gw.url)).status, 200);
      const t0 = Date.now();
      const res = await list(gw.url, 'wait=1');
      assertEnvelope(res, 429, 'RATE_LIMITED');
      assert.ok(Date.now() - t0 < 700, `took ${Date.now() - t0} ms`);
      assert.equal(res.headers['preference-applied'], undefined);
    } finally {
      await gw.close();
    }
    const off = await start({ QUOTA_MAX_WAIT_MS: '0' });
    try {
      for (let i = 0; i < 2; i++) assert.equal((await list(off.url)).status, 200);
      const t0 = Date.now();
      assertEnvelope(await list(off.url, 'wait=10'), 429, 'RATE_LIMITED');
      assert.ok(Date.now() - t0 < 700);
    } finally {
      await off.close();
    }
  });

  it('past QUOTA_MAX_WAITERS the 429 comes at once', async function () {
    this.timeout(20_000);
    const gw = await start({ QUOTA_MAX_WAITERS: '1' });
    try {
      for (let i = 0; i < 2; i++) assert.equal((await list(gw.url)).status, 200);
      const first = list(gw.url, 'wait=6').then((r) => r);
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      assertEnvelope(await list(gw.url, 'wait=6'), 429, 'RATE_LIMITED');
      assert.ok(Date.now() - t0 < 700);
      assert.equal((await first).status, 200);
    } finally {
      await gw.close();
    }
  });
});

describe('slot waiters (unit)', () => {
  const metrics = quotaMetrics(new Registry());
  const refusal = (_app: string, ms: number) => refused('quota', ms, 1, 1000);
  const allowed = (): QuotaOutcome => ({
    kind: 'allowed',
    slot: { appId: 'a', member: 'm', t: 0, shared: true },
    state: { limit: 1, remaining: 0, resetMs: 0, windowMs: 1000 },
  });

  it('first come, first served; a caller that leaves gives its place up and nothing is taken for it', async () => {
    const w = new SlotWaiters({ maxWaiters: 10, metrics, refusal });
    const order: string[] = [];
    let slots = 0;
    const take = (who: string) => async (): Promise<QuotaOutcome> => {
      if (slots > 0) {
        slots -= 1;
        order.push(who);
        return allowed();
      }
      return refusal('a', 30);
    };
    const gone = new AbortController();
    const p1 = w.enqueue('a', 'k', 30, { until: Date.now() + 5000 }, take('first'));
    const p2 = w.enqueue('a', 'k', 30, { until: Date.now() + 5000, signal: gone.signal }, take('leaves'));
    const p3 = w.enqueue('a', 'k', 30, { until: Date.now() + 5000 }, take('third'));
    gone.abort();
    assert.equal((await p2).kind, 'refused');
    slots = 2;
    const [r1, r3] = await Promise.all([p1, p3]);
    assert.deepEqual([r1.kind, r3.kind], ['allowed', 'allowed']);
    assert.deepEqual(order, ['first', 'third']);
    assert.equal(w.queued('k'), undefined, 'the line is empty');
  });

  it('waiters whose limit comes before the next slot are answered when that is known', async () => {
    const w = new SlotWaiters({ maxWaiters: 10, metrics, refusal });
    const t0 = Date.now();
    const r = await w.enqueue('a', 'k', 20, { until: t0 + 100 }, async () => refusal('a', 500));
    assert.equal(r.kind, 'refused');
    assert.ok(Date.now() - t0 < 300);
  });
});
