// The quota's outage state machine as pure functions: when Redis is trusted, when a replica refuses, serves its share, or settles.
import assert from 'node:assert/strict';
import { admission, initialOutage, settling, transition, type Outage, type OutageEvent } from '../src/quota/outage.js';

const times = { windowMs: 60_000, settleMs: 2000, retryMs: 1000 };
const run = (o: Outage, ...events: OutageEvent[]): Outage => events.reduce((s, e) => transition(s, e, times), o);
const connected: Outage = { state: { kind: 'connected' }, retryAt: 0, sawOutage: true };
/** An epoch marker created long ago: Redis kept its data. */
const OLD_EPOCH = -1_000_000;

describe('quota outage state machine', () => {
  it('starts lost and trusts Redis at first contact without settling, even though its epoch marker is new', () => {
    const o = run(initialOutage(0), { type: 'restored', now: 100, epochCreatedAt: 100 });
    assert.deepEqual(o, connected);
  });

  it('regression: the quota can be exceeded when Redis comes back empty (issue 17, finding 3): a replica that met Redis unreachable at start settles on a new epoch', () => {
    // Started during an outage (its first connection failed), never connected: the marker it finds new
    // may be the others' empty Redis, whose calls they have not written back yet.
    const o = run(initialOutage(0), { type: 'lost', now: 50 }, { type: 'restored', now: 3000, epochCreatedAt: 3000 });
    assert.deepEqual(o.state, { kind: 'restoring-settle', since: 0, until: 5000, share: false });
    assert.equal(o.sawOutage, true);
  });

  it('a loss starts a blind window: refusals until a window after the loss, each with the time left', () => {
    const o = run(connected, { type: 'lost', now: 1000 });
    assert.deepEqual(o.state, { kind: 'lost-waiting', since: 1000 });
    assert.equal(o.retryAt, 2000, 'Redis is left alone for retryMs after a failure');
    assert.deepEqual(admission(o.state, 31_000, times.windowMs), { by: 'refusal', retryAfterMs: 30_000 });
    const still = run(o, { type: 'tick', now: 60_999 });
    assert.equal(still.state.kind, 'lost-waiting');
  });

  it('after a window, ticks into the share', () => {
    const o = run(connected, { type: 'lost', now: 1000 }, { type: 'tick', now: 61_000 });
    assert.deepEqual(o.state, { kind: 'degraded-share', since: 1000 });
    assert.deepEqual(admission(o.state, 61_000, times.windowMs), { by: 'share' });
  });

  it('a second loss in the same outage keeps the first loss time (the blind window does not restart)', () => {
    const o = run(connected, { type: 'lost', now: 1000 }, { type: 'lost', now: 5000 });
    assert.deepEqual(o.state, { kind: 'lost-waiting', since: 1000 });
    assert.equal(o.retryAt, 6000);
  });

  it('back within a window with its data: trusted at once', () => {
    const o = run(connected, { type: 'lost', now: 1000 }, { type: 'restored', now: 3000, epochCreatedAt: OLD_EPOCH });
    assert.deepEqual(o, connected);
    assert.deepEqual(admission(o.state, 3000, times.windowMs), { by: 'redis' });
  });

  it('back empty (a fresh epoch): every replica settles until the epoch is settleMs old, still blind meanwhile', () => {
    const lost = run(connected, { type: 'lost', now: 1000 });
    // This replica re-created the epoch at 3000; another replica arriving at 4000 waits until the same moment.
    for (const [now, epoch] of [[3000, 3000], [4000, 3000]] as const) {
      const o = run(lost, { type: 'restored', now, epochCreatedAt: epoch });
      assert.deepEqual(o.state, { kind: 'restoring-settle', since: 1000, until: 5000, share: false });
      assert.equal(settling(o.state, now), true);
      assert.equal(admission(o.state, now, times.windowMs).by, 'refusal');
    }
    const late = run(lost, { type: 'restored', now: 5000, epochCreatedAt: 3000 });
    assert.deepEqual(late, connected, 'an epoch settleMs old needs no more waiting');
  });

  it('back after an outage longer than a window, even with its data: settles once, keeping the share meanwhile', () => {
    const share = run(connected, { type: 'lost', now: 1000 }, { type: 'tick', now: 70_000 });
    const settle = run(share, { type: 'restored', now: 70_000, epochCreatedAt: OLD_EPOCH });
    assert.deepEqual(settle.state, { kind: 'restoring-settle', since: 1000, until: 72_000, share: true });
    assert.deepEqual(admission(settle.state, 71_000, times.windowMs), { by: 'share' });
    // A restore before the end changes nothing; the one at the end trusts Redis (no second settle for the same outage).
    assert.deepEqual(run(settle, { type: 'restored', now: 71_000, epochCreatedAt: OLD_EPOCH }), settle);
    assert.deepEqual(run(settle, { type: 'restored', now: 72_010, epochCreatedAt: OLD_EPOCH }), connected);
  });

  it('settling: Redis emptied again meanwhile (a newer epoch) extends the settle', () => {
    const settle = run(connected, { type: 'lost', now: 1000 }, { type: 'restored', now: 3000, epochCreatedAt: 3000 });
    const again = run(settle, { type: 'restored', now: 5010, epochCreatedAt: 4500 });
    assert.deepEqual(again.state, { kind: 'restoring-settle', since: 1000, until: 6500, share: false });
  });

  it('settling: the blind window can end during the settle', () => {
    const settle = run(connected, { type: 'lost', now: 1000 }, { type: 'restored', now: 60_500, epochCreatedAt: 60_500 });
    assert.equal(settle.state.kind === 'restoring-settle' && settle.state.share, false);
    const ticked = run(settle, { type: 'tick', now: 61_000 });
    assert.deepEqual(admission(ticked.state, 61_000, times.windowMs), { by: 'share' });
  });

  it('lost again while settling: back to the outage it was in, same loss time; the next restore decides the settle afresh', () => {
    const share = run(connected, { type: 'lost', now: 1000 }, { type: 'tick', now: 70_000 });
    const settle = run(share, { type: 'restored', now: 70_000, epochCreatedAt: OLD_EPOCH });
    const relost = run(settle, { type: 'lost', now: 71_000 });
    assert.deepEqual(relost.state, { kind: 'degraded-share', since: 1000 });
    const back = run(relost, { type: 'restored', now: 75_000, epochCreatedAt: OLD_EPOCH });
    assert.equal(back.state.kind, 'restoring-settle', 'the replicas cut off again must write back again');
  });

  it('ticks change nothing while connected, and a restore while connected is a no-op', () => {
    assert.deepEqual(run(connected, { type: 'tick', now: 1e9 }, { type: 'restored', now: 1e9, epochCreatedAt: 1e9 }), connected);
  });
});
