// The quota's Redis Lua scripts and a NOSCRIPT-safe runner: EVALSHA in the steady state, EVAL when Redis has lost its script cache.
import { createHash } from 'node:crypto';
// RedisClient: one server, a Sentinel set or a Cluster (issue 14); the alias keeps this file's annotations.
import type { RedisClient as Redis } from '../redis.js';

/**
 * KEYS[1] the app's log (ZSET score = ms), KEYS[2] its hold-back flag; for an app with reserves
 * (contract §11) also KEYS[3] its shared log and KEYS[4..] one log per reserved client, all with the
 * app's `{appId}` hash tag (one slot on a Redis Cluster).
 * ARGV: limit, windowMs, member; with reserves also: who (1-based index of the asking reserved client
 * among KEYS[4..], 0 = a client without a reserve), kind (`call` | `token`), then one reserve per KEYS[4..].
 * Time comes from Redis so that replicas' clocks do not matter. The share rule is shares.ts's
 * decideShare, line for line (test/quota-shares.test.ts runs both on the same interleavings).
 * Returns {allowed, remaining, ms until room/reset, redis now, count in window, hold flag, into, mine}
 * where into is 0 for the shared log, i for the i-th reserved client's log, and mine the asking
 * reserved client's calls in the window after this one (for its "reserve in use" metric).
 * Run twice with the same member (a retry after a lost answer), ZADD only moves that member: one slot.
 */
export const TAKE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local edge = now - window
local hold = redis.call('PTTL', KEYS[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', edge)
local count = redis.call('ZCARD', KEYS[1])
if hold > 0 then
  return {0, 0, hold, now, count, 1, 0}
end
local function oldest(key)
  local o = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if #o == 0 then return nil end
  return tonumber(o[2])
end
local hardFreeAt = nil
if count >= limit then
  local nth = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  hardFreeAt = tonumber(nth[2])
end
if #KEYS == 2 then
  if count < limit then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], window)
    return {1, limit - count - 1, oldest(KEYS[1]) + window - now, now, count + 1, 0, 0}
  end
  return {0, 0, hardFreeAt + window - now, now, count, 0, 0}
end
local who = tonumber(ARGV[4])
local kind = ARGV[5]
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', edge)
local counts = {}
local unused = 0
for i = 4, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', edge)
  counts[i] = redis.call('ZCARD', KEYS[i])
  local r = tonumber(ARGV[i + 2])
  if r > counts[i] then unused = unused + r - counts[i] end
end
local free = limit - count - unused
local mine = nil
local under = false
if who > 0 then
  mine = 3 + who
  under = counts[mine] < tonumber(ARGV[mine + 2])
end
if count < limit and (free >= 1 or under) then
  local into = 3
  if mine and not (kind == 'token' and free >= 1) then into = mine end
  for _, k in ipairs({KEYS[1], KEYS[into]}) do
    redis.call('ZADD', k, now, ARGV[3])
    redis.call('PEXPIRE', k, window)
  end
  local unusedAfter = unused
  if into == mine and under then unusedAfter = unused - 1 end
  local remaining = math.max(0, limit - count - 1 - unusedAfter)
  local c = 0
  if mine then
    c = counts[mine]
    if into == mine then c = c + 1 end
    remaining = remaining + math.max(0, tonumber(ARGV[mine + 2]) - c)
  end
  return {1, remaining, oldest(KEYS[1]) + window - now, now, count + 1, 0, into - 3, c}
end
local first = oldest(KEYS[3])
for i = 4, #KEYS do
  local r = tonumber(ARGV[i + 2])
  if counts[i] > r or (i == mine and counts[i] >= r) then
    local o = oldest(KEYS[i])
    if o and (first == nil or o < first) then first = o end
  end
end
if first == nil then first = hardFreeAt or now end
if hardFreeAt and hardFreeAt > first then first = hardFreeAt end
return {0, 0, math.max(0, first + window - now), now, count, 0, 0}
`;

/**
 * KEYS: the app's log, and the shared or client log the call was counted in (when the app has
 * reserves); ARGV[1] member, ARGV[2] windowMs. A call holds its slot from admission until one window
 * after it *ended*: the platform saw it at some moment in between, so this is the only bound that
 * holds whatever the network and the platform's clock did. Every log moves alike, so that a client's
 * count and the app's stay the same calls. Run twice, the member only moves later: harmless.
 */
export const TOUCH_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, k in ipairs(KEYS) do
  if redis.call('ZADD', k, 'XX', 'CH', now, ARGV[1]) == 1 then
    redis.call('PEXPIRE', k, tonumber(ARGV[2]))
  end
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

/**
 * KEYS[1] an app's epoch marker (no expiry: its absence means Redis lost the app's data); ARGV[1] now
 * (ms), ARGV[2] `1` to renew it (a failover). Creates it if absent; returns when it was (re-)created.
 * One round trip per app at a restore; run twice, the second finds the first's value.
 */
export const EPOCH_LUA = `
if ARGV[2] == '1' or redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  if ARGV[2] == '1' then redis.call('SET', KEYS[1], ARGV[1]) end
  return ARGV[1]
end
return redis.call('GET', KEYS[1])
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
  /** Where an admitted call was counted: 0 the shared log (or an app without reserves), i the i-th reserved client's. */
  into: number;
  /** The asking reserved client's calls in the window, this one included (0 for others). */
  mine: number;
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
  private static readonly epoch = new LuaScript(EPOCH_LUA);

  constructor(private readonly redis: Redis) {}

  /**
   * Without `shares`, the plain sliding log. With them (an app with reserves): `sharedKey`, one log
   * key and reserve per reserved client, and who asks (its 1-based index, 0 for none) for what.
   */
  async take(
    logKey: string,
    holdKey: string,
    limit: number,
    windowMs: number,
    member: string,
    shares?: { sharedKey: string; clients: ReadonlyArray<{ key: string; reserve: number }>; who: number; kind: 'call' | 'token' },
  ): Promise<TakeReply> {
    const keys = shares ? [logKey, holdKey, shares.sharedKey, ...shares.clients.map((c) => c.key)] : [logKey, holdKey];
    const args = shares ? [limit, windowMs, member, shares.who, shares.kind, ...shares.clients.map((c) => c.reserve)] : [limit, windowMs, member];
    const r = (await QuotaScripts.take.run(this.redis, keys, args)) as number[];
    const [allowed, remaining, ms, , count, held, into, mine] = r as [number, number, number, number, number, number, number, number?];
    return { allowed: allowed === 1, remaining, ms, count, held: held === 1, into, mine: mine ?? 0 };
  }

  /** Moves `member` to now in every log given (the app's, and the one it was counted in). */
  async touch(logKeys: string | readonly string[], member: string, windowMs: number): Promise<void> {
    await QuotaScripts.touch.run(this.redis, typeof logKeys === 'string' ? [logKeys] : logKeys, [member, windowMs]);
  }

  /** When the epoch marker at `key` was (re-)created, creating it now if absent (or renewing it with `renew`); NaN if it does not parse. */
  async epoch(key: string, now: number, renew: boolean): Promise<number> {
    return Number(await QuotaScripts.epoch.run(this.redis, [key], [now, renew ? '1' : '0']));
  }

  /** Writes `calls` back (idempotent); returns how many calls the log holds now. */
  async restore(logKey: string, windowMs: number, calls: ReadonlyArray<{ t: number; member: string }>): Promise<number> {
    const args = calls.flatMap((c) => [c.t, c.member]);
    return Number(await QuotaScripts.restore.run(this.redis, [logKey], [windowMs, ...args]));
  }
}
