// The quota's pure maths: the sliding log's exact window, the local fallback's count, Retry-After, and the RateLimit header fields.
import assert from 'node:assert/strict';
import { SlidingLog } from '../src/quota/sliding-log.js';
import { quotaHeaders, retryAfterSeconds, toSeconds } from '../src/quota/headers.js';
import { KnownRefusals, OwnCalls } from '../src/quota/local.js';

describe('quota maths', () => {
  describe('SlidingLog', () => {
    it('admits at most `limit` calls in any window, wherever it starts', () => {
      const log = new SlidingLog(60_000);
      // 100 calls at 12:00:59 and more at 12:01:00: a fixed minute window would let 200 through.
      const t0 = 59_000;
      let admitted = 0;
      for (let i = 0; i < 100; i++) if (log.tryTake(t0, 100)) admitted++;
      for (let i = 0; i < 100; i++) if (log.tryTake(60_000, 100)) admitted++;
      assert.equal(admitted, 100);
      // The first slot frees exactly one window after the first call.
      assert.equal(log.msUntilFree(60_000, 100), t0 + 60_000 - 60_000);
      assert.equal(log.tryTake(t0 + 60_000 - 1, 100), false);
      assert.equal(log.tryTake(t0 + 60_000, 100), true);
    });

    it('counts a call at t in windows (now-W, now] only', () => {
      const log = new SlidingLog(1000);
      log.add(0);
      assert.equal(log.count(999), 1);
      assert.equal(log.count(1000), 0);
    });

    it('says when the n-th oldest call leaves the window', () => {
      const log = new SlidingLog(1000);
      for (const t of [0, 100, 200]) log.add(t);
      assert.equal(log.msUntilFree(300, 3), 700); // the call at 0 frees the slot
      assert.equal(log.msUntilFree(300, 2), 800); // two must go: the one at 100 is the second
      assert.equal(log.msUntilFree(300, 4), 0);
      assert.equal(log.msUntilOldestExpires(300), 700);
    });

    it('keeps out-of-order (restored) entries sorted', () => {
      const log = new SlidingLog(1000);
      log.add(500);
      log.add(100);
      log.add(300);
      assert.deepEqual(log.entries(600), [100, 300, 500]);
    });

    it('does not grow without bound over a long run', () => {
      const log = new SlidingLog(10);
      for (let t = 0; t < 100_000; t++) log.tryTake(t, 5);
      assert.ok(log.entries(100_000).length <= 5);
      assert.ok((log as unknown as { times: number[] }).times.length < 3000);
    });
  });

  describe('headers', () => {
    it('formats the IETF fields and the RateLimit-* trio', () => {
      const h = quotaHeaders({ limit: 100, remaining: 7, resetMs: 12_001, windowMs: 60_000 });
      assert.equal(h['RateLimit-Policy'], '"app";q=100;w=60');
      assert.equal(h.RateLimit, '"app";r=7;t=13');
      assert.equal(h['RateLimit-Limit'], '100');
      assert.equal(h['RateLimit-Remaining'], '7');
      assert.equal(h['RateLimit-Reset'], '13');
    });

    it('rounds Retry-After up and never says 0', () => {
      assert.equal(retryAfterSeconds(1), 1);
      assert.equal(retryAfterSeconds(0), 1);
      assert.equal(retryAfterSeconds(1001), 2);
      assert.equal(toSeconds(-5), 0);
    });
  });
  describe('local fallback', () => {
    it("admits up to the limit of this replica's own calls, then says how long until one frees", () => {
      const own = new OwnCalls(1000);
      let n = 0;
      const member = () => `m${++n}`;
      assert.deepEqual(own.tryTake('a', 0, 2, member), { admitted: true, member: 'm1', remaining: 1, resetMs: 1000 });
      assert.deepEqual(own.tryTake('a', 100, 2, member), { admitted: true, member: 'm2', remaining: 0, resetMs: 900 });
      assert.deepEqual(own.tryTake('a', 200, 2, member), { admitted: false, waitMs: 800 });
      assert.deepEqual(own.tryTake('a', 200, 0, member), { admitted: false, waitMs: 1000 }, 'a share of 0 waits a window');
      assert.equal(own.tryTake('b', 200, 2, member).admitted, true, 'apps are counted apart');
    });

    it('counts an ended call from its end, and restores only the calls still in the window', () => {
      const own = new OwnCalls(1000);
      own.remember('a', 0, 'x');
      own.remember('a', 100, 'y');
      own.ended('a', 'x', 500);
      assert.deepEqual([...own.inWindow(1200)], [['a', [{ t: 500, member: 'x' }]]]);
      assert.deepEqual(own.tryTake('a', 1200, 1, () => 'z'), { admitted: false, waitMs: 300 });
      assert.deepEqual([...own.inWindow(1500)], []);
    });

    it('knows refusals until their time, extended but never shortened', () => {
      const known = new KnownRefusals();
      known.block('a', 1000, 'quota');
      known.block('a', 500, 'hold');
      assert.deepEqual(known.get('a', 400), { reason: 'quota', retryAfterMs: 600 });
      known.block('a', 2000, 'hold');
      assert.deepEqual(known.get('a', 1500), { reason: 'hold', retryAfterMs: 500 });
      assert.equal(known.get('a', 2000), undefined);
      assert.equal(known.get('b', 0), undefined);
    });
  });
});
