// The quota's Redis Lua scripts and a NOSCRIPT-safe runner: EVALSHA in the steady state, EVAL when Redis has lost its script cache.
import { createHash } from 'node:crypto';
// RedisClient: one server, a Sentinel set or a Cluster (issue 14); the alias keeps this file's annotations.
import type { RedisClient as Redis } from '../redis.js';

/**
 * KEYS[1] the app's log (ZSET score = ms), KEYS[2] its hold-back flag.
 * ARGV: limit, windowMs, member. Time comes from Redis so that replicas' clocks do not matter.
 * Returns {allowed, remaining, ms until room/reset, redis now, count in window, hold flag}.
 */
export const TAKE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local hold = redis.call('PTTL', KEYS[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if hold > 0 then
  return {0, 0, hold, now, count, 1}
end
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {1, limit - count - 1, tonumber(oldest[2]) + window - now, now, count + 1, 0}
end
local nth = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return {0, 0, tonumber(nth[2]) + window - now, now, count, 0}
`;

/**
 * KEYS[1] the app's log; ARGV[1] member, ARGV[2] windowMs. A call holds its slot from admission
 * until one window after it *ended*: the platform saw it at some moment in between, so this is the
 * only bound that holds whatever the network and the platform's clock did. Run twice, the member
 * only moves later: harmless.
 */
export const TOUCH_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now, ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return now
`;

/**
 * KEYS[1] the app's log; ARGV: windowMs, then score/member pairs. A known member keeps the later of its
 * two times (GT): a replica whose clock is behind must not free a slot early by restoring it. Run twice,
 * the same pairs change nothing.
 */
export const RESTORE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  if tonumber(ARGV[i]) > now - window then
    redis.call('ZADD', KEYS[1], 'GT', ARGV[i], ARGV[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], window)
return redis.call('ZCARD', KEYS[1])
`;

/** A script run by its SHA1, sent in full only when Redis answers NOSCRIPT (restarted, SCRIPT FLUSH, failover). */
export class LuaScript {
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      // EVAL also loads the script into the cache, so the next call is an EVALSHA again.
      return await redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}

const isNoScript = (err: unknown): boolean => err instanceof Error && err.message.startsWith('NOSCRIPT');

/** What TAKE_LUA answers, named. */
export interface TakeReply {
  allowed: boolean;
  remaining: number;
  /** Until a slot frees (refused) or until the oldest call leaves the window (allowed). */
  ms: number;
  /** Calls in the window, this one included if admitted. */
  count: number;
  held: boolean;
}

/** The three quota scripts, typed, on one connection. */
export class QuotaScripts {
  private static readonly take = new LuaScript(TAKE_LUA);
  private static readonly touch = new LuaScript(TOUCH_LUA);
  private static readonly restore = new LuaScript(RESTORE_LUA);

  constructor(private readonly redis: Redis) {}

  async take(logKey: string, holdKey: string, limit: number, windowMs: number, member: string): Promise<TakeReply> {
    const r = (await QuotaScripts.take.run(this.redis, [logKey, holdKey], [limit, windowMs, member])) as number[];
    const [allowed, remaining, ms, , count, held] = r as [number, number, number, number, number, number];
    return { allowed: allowed === 1, remaining, ms, count, held: held === 1 };
  }

  async touch(logKey: string, member: string, windowMs: number): Promise<void> {
    await QuotaScripts.touch.run(this.redis, [logKey], [member, windowMs]);
  }

  /** Writes `calls` back (idempotent); returns how many calls the log holds now. */
  async restore(logKey: string, windowMs: number, calls: ReadonlyArray<{ t: number; member: string }>): Promise<number> {
    const args = calls.flatMap((c) => [c.t, c.member]);
    return Number(await QuotaScripts.restore.run(this.redis, [logKey], [windowMs, ...args]));
  }
}
