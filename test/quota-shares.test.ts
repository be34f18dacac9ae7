// The fair-share rule (contract §11): unit cases, property tests over random interleavings of clients and replicas, and the Lua deciding exactly as the pure rule.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { OwnCalls } from '../src/quota/local.js';
import { QuotaScripts } from '../src/quota/scripts.js';
import { decideShare, unreservedFree, type Asker, type ShareWindow } from '../src/quota/shares.js';
import { startRedis, type TestRedis } from './helpers/fixtures.js';

const W = 60_000;
const win = (limit: number, total: number, reserved: Array<[number, number]>, extra: Partial<ShareWindow> = {}): ShareWindow => ({
  limit,
  total,
  reserved: reserved.map(([reserve, count]) => ({ reserve, count, ...(count > 0 && { oldest: 0 }) })),
  ...extra,
});

describe('quota shares: the pure rule', () => {
  it('a client under its reserve is admitted into its reserve even when the unreserved part is used up', () => {
    // 20 slots, 8 reserved for client 0; 12 calls of others: the unreserved part is full.
    const w = win(20, 12, [[8, 0]], { sharedOldest: 0 });
    assert.equal(unreservedFree(w), 0);
    assert.deepEqual(decideShare(w, { client: 0, kind: 'call' }, 1000, W), { admitted: true, into: 'reserved', remaining: 7 });
    const other = decideShare(w, { client: -1, kind: 'call' }, 1000, W);
    assert.deepEqual(other, { admitted: false, retryAfterMs: W - 1000 });
  });

  it('a client over its reserve competes for the unreserved part, and its calls still count as its own', () => {
    const w = win(20, 10, [[4, 4]], { sharedOldest: 0 });
    assert.equal(unreservedFree(w), 10);
    const d = decideShare(w, { client: 0, kind: 'call' }, 0, W);
    assert.deepEqual(d, { admitted: true, into: 'reserved', remaining: 9 });
  });

  it('a login or refresh takes the unreserved part first, else the reserve of the client whose request needs it', () => {
    const free = win(20, 5, [[8, 0]]);
    assert.deepEqual(decideShare(free, { client: 0, kind: 'token' }, 0, W), { admitted: true, into: 'shared', remaining: 6 + 8 });
    const full = win(20, 12, [[8, 0]], { sharedOldest: 0 });
    assert.deepEqual(decideShare(full, { client: 0, kind: 'token' }, 0, W), { admitted: true, into: 'reserved', remaining: 7 });
    assert.equal(decideShare(full, { client: -1, kind: 'token' }, 0, W).admitted, false);
  });

  it('the hard bound: nobody is admitted at the limit, and the retry time is when the asker could pass', () => {
    // Client 0 (reserve 2) used 3: one over, oldest at 500. Shared oldest at 900.
    const w: ShareWindow = { limit: 5, total: 5, hardFreeAt: 100, sharedOldest: 900, reserved: [{ reserve: 2, count: 3, oldest: 500 }] };
    const d = decideShare(w, { client: -1, kind: 'call' }, 1000, W);
    assert.deepEqual(d, { admitted: false, retryAfterMs: 500 + W - 1000 });
  });

  it('a reserved client at its reserve waits for its own oldest call when that comes first', () => {
    const w: ShareWindow = { limit: 10, total: 10, hardFreeAt: 0, sharedOldest: 700, reserved: [{ reserve: 4, count: 4, oldest: 200 }] };
    assert.deepEqual(decideShare(w, { client: 0, kind: 'call' }, 1000, W), { admitted: false, retryAfterMs: 200 + W - 1000 });
  });
});

/** A model of the shared logs (what Redis holds), with times: the same state the Lua sees. */
class ModelLogs {
  app: number[] = [];
  shared: number[] = [];
  clients: number[][];
  constructor(readonly limit: number, readonly reserves: number[]) {
    this.clients = reserves.map(() => []);
  }
  private prune(now: number) {
    const keep = (l: number[]) => l.filter((t) => t > now - W);
    this.app = keep(this.app);
    this.shared = keep(this.shared);
    this.clients = this.clients.map(keep);
  }
  window(now: number): ShareWindow {
    this.prune(now);
    const total = this.app.length;
    return {
      limit: this.limit,
      total,
      ...(total >= this.limit && { hardFreeAt: this.app[total - this.limit] as number }),
      ...(this.shared.length > 0 && { sharedOldest: this.shared[0] as number }),
      reserved: this.reserves.map((reserve, i) => ({
        reserve,
        count: (this.clients[i] as number[]).length,
        ...((this.clients[i] as number[]).length > 0 && { oldest: (this.clients[i] as number[])[0] as number }),
      })),
    };
  }
  ask(who: Asker, now: number) {
    const d = decideShare(this.window(now), who, now, W);
    if (d.admitted) {
      this.app.push(now);
      (d.into === 'shared' ? this.shared : (this.clients[who.client] as number[])).push(now);
    }
    return d;
  }
}

/** Reserves that sum to at most the limit. */
const setup = fc
  .record({ limit: fc.integer({ min: 1, max: 30 }), weights: fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 1, maxLength: 4 }) })
  .map(({ limit, weights }) => {
    const sum = weights.reduce((a, b) => a + b, 0) || 1;
    const reserves = weights.map((w) => Math.floor((w * limit) / sum));
    return { limit, reserves };
  });

const step = (clients: number) =>
  fc.record({
    advance: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20_000 })),
    client: fc.integer({ min: -1, max: clients - 1 }),
    kind: fc.constantFrom<'call' | 'token'>('call', 'call', 'call', 'token'),
    replica: fc.integer({ min: 0, max: 2 }),
  });

describe('quota shares: properties over random interleavings', () => {
  it('through the shared logs (Redis): the app never exceeds its limit in any window, and a client under its reserve is never refused', () => {
    fc.assert(
      fc.property(
        setup.chain((s) => fc.tuple(fc.constant(s), fc.array(step(s.reserves.length), { maxLength: 200 }))),
        ([{ limit, reserves }, steps]) => {
          const m = new ModelLogs(limit, reserves);
          let now = 0;
          for (const st of steps) {
            now += st.advance;
            const before = m.window(now);
            const mine = st.client >= 0 ? before.reserved[st.client] : undefined;
            const d = m.ask({ client: st.client, kind: st.kind }, now);
            if (mine && mine.count < mine.reserve) assert.ok(d.admitted, `client ${st.client} under its reserve was refused`);
            if (!d.admitted) assert.ok(d.retryAfterMs > 0 && d.retryAfterMs <= W, `retry ${d.retryAfterMs}`);
            assert.ok(m.window(now).total <= limit, 'over the limit');
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("while Redis is down, each replica's share: the replicas together stay within the limit, and a client under its share of its reserve on a replica is admitted there", () => {
    fc.assert(
      fc.property(
        setup.chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: 1, max: 3 }), fc.array(step(s.reserves.length), { maxLength: 200 }))),
        ([{ limit, reserves }, replicas, steps]) => {
          const part = (n: number) => Math.floor(n / replicas);
          const own = Array.from({ length: replicas }, () => new OwnCalls(W));
          const sent: number[] = [];
          const mine = Array.from({ length: replicas }, () => reserves.map(() => [] as number[]));
          let now = 0;
          let seq = 0;
          const list = reserves.map((r, i) => ({ client: `c${i}`, reserve: part(r) }));
          for (const st of steps) {
            now += st.advance;
            const r = st.replica % replicas;
            const mineNow = st.client >= 0 ? (mine[r] as number[][])[st.client]!.filter((t) => t > now - W) : [];
            const under = st.client >= 0 && st.kind === 'call' && mineNow.length < part(reserves[st.client] as number);
            const d = (own[r] as OwnCalls).tryTakeShare('app', now, part(limit), list, { client: st.client, kind: st.kind }, () => `m${++seq}`);
            if (under) assert.ok(d.admitted, 'under its share of its reserve, refused');
            if (d.admitted) {
              sent.push(now);
              if (st.client >= 0 && d.sub !== 'shared') (mine[r] as number[][])[st.client]!.push(now);
            }
            assert.ok(sent.filter((t) => t > now - W).length <= limit, 'the replicas together exceeded the limit');
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('quota shares: the Lua decides as the pure rule (real Redis)', () => {
  let redis: TestRedis;
  let conn: Redis;
  let scripts: QuotaScripts;
  before(async () => {
    redis = await startRedis({ own: false });
    conn = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    scripts = new QuotaScripts(conn);
  });
  after(async () => {
    conn.disconnect();
    await redis.close();
  });

  it('on random sequences of asks (a window longer than the test: counts alone decide)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        setup.chain((s) => fc.tuple(fc.constant(s), fc.array(step(s.reserves.length), { maxLength: 40 }))),
        async ([{ limit, reserves }, steps]) => {
          run += 1;
          const p = `shares-lua:${run}:{app}`;
          const m = new ModelLogs(limit, reserves);
          const clients = reserves.map((reserve, i) => ({ key: `${p}:client:c${i}`, reserve }));
          let seq = 0;
          for (const st of steps) {
            const expected = m.ask({ client: st.client, kind: st.kind }, 0);
            const got = await scripts.take(`${p}:log`, `${p}:hold`, limit, 600_000, `m${++seq}`, {
              sharedKey: `${p}:shared`,
              clients,
              who: st.client + 1,
              kind: st.kind,
            });
            assert.equal(got.allowed, expected.admitted);
            if (expected.admitted) {
              assert.equal(got.remaining, expected.remaining);
              assert.equal(got.into, expected.into === 'shared' ? 0 : st.client + 1);
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('run twice with the same member (a retried script), it takes one slot', async () => {
    const p = 'shares-twice:{app}';
    const shares = { sharedKey: `${p}:shared`, clients: [{ key: `${p}:client:a`, reserve: 2 }], who: 1, kind: 'call' as const };
    await scripts.take(`${p}:log`, `${p}:hold`, 5, 60_000, 'same', shares);
    assert.equal((await scripts.take(`${p}:log`, `${p}:hold`, 5, 60_000, 'same', shares)).allowed, true);
    assert.equal(await conn.zcard(`${p}:log`), 1);
    assert.equal(await conn.zcard(`${p}:client:a`), 1);
  });
});
