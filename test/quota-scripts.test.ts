// The quota's Lua scripts against a real Redis: they survive NOSCRIPT, and running one twice (a retry, a second restore) changes nothing more.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { LuaScript, QuotaScripts } from '../src/quota/scripts.js';
import { startRedis, type TestRedis } from './helpers/fixtures.js';

describe('quota scripts', () => {
  let redis: TestRedis;
  let conn: Redis;
  let scripts: QuotaScripts;
  const LOG = 'test:quota:{a}';
  const HOLD = 'test:hold:{a}';

  before(async () => {
    redis = await startRedis({ own: true });
    conn = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    scripts = new QuotaScripts(conn);
  });
  after(async () => {
    conn.disconnect();
    await redis.close();
  });
  beforeEach(() => redis.flush());

  it('survive NOSCRIPT: after SCRIPT FLUSH the next call loads the script and answers', async () => {
    assert.equal((await scripts.take(LOG, HOLD, 10, 60_000, 'm1')).allowed, true);
    await conn.script('FLUSH');
    const r = await scripts.take(LOG, HOLD, 10, 60_000, 'm2');
    assert.equal(r.allowed, true);
    assert.equal(r.count, 2);
    await conn.script('FLUSH');
    await scripts.touch(LOG, 'm2', 60_000);
    await conn.script('FLUSH');
    assert.equal(await scripts.restore(LOG, 60_000, [{ t: Date.now(), member: 'm3' }]), 3);
  });

  it('send the script once, then run it by SHA (the steady state is one EVALSHA, never an EVAL)', async () => {
    const s = new LuaScript("return 'ok'");
    assert.equal(await s.run(conn, [], []), 'ok');
    const [loaded] = (await conn.script('EXISTS', s.sha)) as number[];
    assert.equal(loaded, 1, 'the fallback EVAL left the script in the cache');
    const before = await scriptStats(conn);
    for (let i = 0; i < 3; i++) assert.equal(await s.run(conn, [], []), 'ok');
    const after = await scriptStats(conn);
    assert.deepEqual([after.evalsha - before.evalsha, after.eval - before.eval], [3, 0]);
  });

  it('pass other errors through', async () => {
    await assert.rejects(new LuaScript("return redis.call('NOPE')").run(conn, [], []), (err: Error) => !err.message.startsWith('NOSCRIPT'));
  });

  it('take refuses at the limit, with the time until the oldest slot frees, and honours the hold flag', async () => {
    for (const m of ['a', 'b']) assert.equal((await scripts.take(LOG, HOLD, 2, 60_000, m)).allowed, true);
    const refused = await scripts.take(LOG, HOLD, 2, 60_000, 'c');
    assert.equal(refused.allowed, false);
    assert.ok(refused.ms > 59_000 && refused.ms <= 60_000, String(refused.ms));
    await conn.set(HOLD, '1', 'PX', 5000);
    const held = await scripts.take(LOG, HOLD, 10, 60_000, 'd');
    assert.deepEqual([held.allowed, held.held], [false, true]);
  });

  it('restore twice with the same calls: the log holds them once, at the later of two times', async () => {
    const now = Date.now();
    const calls = [
      { t: now - 1000, member: 'r1' },
      { t: now - 500, member: 'r2' },
      { t: now - 120_000, member: 'expired' },
    ];
    assert.equal(await scripts.restore(LOG, 60_000, calls), 2);
    assert.equal(await scripts.restore(LOG, 60_000, calls), 2);
    // An older time for a known member (a replica whose clock is behind) never frees the slot early.
    await scripts.restore(LOG, 60_000, [{ t: now - 50_000, member: 'r1' }]);
    assert.equal(Number(await conn.zscore(LOG, 'r1')), now - 1000);
  });

  it('touch twice: the slot only moves later, and an unknown member is not added', async () => {
    await scripts.take(LOG, HOLD, 10, 60_000, 't1');
    const first = Number(await conn.zscore(LOG, 't1'));
    await scripts.touch(LOG, 't1', 60_000);
    await scripts.touch(LOG, 't1', 60_000);
    assert.ok(Number(await conn.zscore(LOG, 't1')) >= first);
    await scripts.touch(LOG, 'never-taken', 60_000);
    assert.equal(await conn.zcard(LOG), 1);
  });
});

async function scriptStats(conn: Redis): Promise<{ evalsha: number; eval: number }> {
  const info = await conn.info('commandstats');
  const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  return { evalsha: calls('evalsha'), eval: calls('eval') };
}
