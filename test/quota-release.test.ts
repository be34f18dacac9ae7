// Regression test for issue 17 finding 2's last part: a call that never left the machine (EMFILE…) spent a quota slot.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import { QuotaLimiter } from '../src/quota/limiter.js';
import { startRedis, waitFor, type TestRedis } from './helpers/fixtures.js';

function limiter(redis: Redis | null, prefix: string) {
  return new QuotaLimiter({
    redis,
    keyPrefix: prefix,
    windowMs: 60_000,
    holdMs: 5000,
    replicas: 1,
    rateOf: () => 1,
    metrics: createMetrics(),
    logger: createLogger('silent'),
    replicaId: 'r1',
    settleMs: 0,
  });
}

describe('quota: a slot whose call never left the machine is given back', () => {
  it('regression: EMFILE spent a quota slot — in-process store: released, the one slot of the window is free again', async () => {
    const l = limiter(null, 't:');
    const first = await l.take('app-a');
    assert.equal(first.kind, 'allowed');
    if (first.kind === 'allowed') l.release(first.slot);
    assert.equal((await l.take('app-a')).kind, 'allowed');
    // And a call that did leave (done) keeps its slot: the next one is refused.
    assert.equal((await l.take('app-a')).kind, 'refused');
  });

  describe('in Redis', () => {
    let redis: TestRedis;
    let client: Redis;
    before(async () => {
      redis = await startRedis();
      client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    });
    after(async () => {
      client.disconnect();
      await redis.close();
    });

    it('regression: EMFILE spent a quota slot — the member is taken out of the shared log, so the next call is admitted', async () => {
      const prefix = `rel${Date.now()}:`;
      const l = limiter(client, prefix);
      let first = await l.take('app-a');
      await waitFor(async () => first.kind === 'allowed' || ((first = await l.take('app-a')), first.kind === 'allowed'), 10_000, 'a first slot');
      assert.equal(first.kind, 'allowed');
      if (first.kind === 'allowed') l.release(first.slot);
      await waitFor(async () => (await client.zcard(`${prefix}quota:{app-a}`)) === 0, 5000, 'the member to leave the log');
      const second = await l.take('app-a');
      assert.equal(second.kind, 'allowed');
      if (second.kind === 'allowed') l.done(second.slot);
      assert.equal((await l.take('app-a')).kind, 'refused', 'a call that was sent keeps its slot');
    });
  });
});
