// The app's current quota state read from the shared log without taking a slot: the quota headers of an answer that spent no platform call (a cache hit, a coalesced wait).
//
// Kept out of limiter.ts on purpose (it is being rewritten elsewhere): it reads the same two keys the limiter
// writes, `<prefix>quota:{appId}` (sliding log, score = Redis ms) and `<prefix>hold:{appId}` (hold-back flag),
// so a change of those names must change them here too (test/cache-gateway.test.ts compares both headers).
import type { Redis } from 'ioredis';
import { quotaHeaders, type QuotaState } from './headers.js';

/**
 * KEYS[1] the app's log, KEYS[2] its hold-back flag; ARGV: limit, windowMs. Read-only; time from Redis like
 * the limiter's own scripts. Returns {calls in the window, ms until the window has room again (or its oldest
 * call expires), held}. The same arithmetic as the limiter's take, without the ZADD.
 */
const PEEK_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local hold = redis.call('PTTL', KEYS[2])
if hold > 0 then
  return {limit, hold, 1}
end
local edge = '(' .. tostring(now - window)
local count = redis.call('ZCOUNT', KEYS[1], edge, '+inf')
if count == 0 then
  return {0, 0, 0}
end
local at = 0
if count >= limit then at = count - limit end
local nth = redis.call('ZRANGEBYSCORE', KEYS[1], edge, '+inf', 'WITHSCORES', 'LIMIT', at, 1)
return {count, tonumber(nth[2]) + window - now, 0}
`;

type PeekRedis = Redis & { iotbffQuotaPeek(log: string, hold: string, limit: number, windowMs: number): Promise<number[]> };

const defined = new WeakSet<Redis>();

export interface PeekOptions {
  /** REDIS_KEY_PREFIX, as the limiter uses it. */
  keyPrefix: string;
  /** QUOTA_WINDOW_MS. */
  windowMs: number;
  /** The app's calls per window (ratePerMinute). */
  limit: number;
  /** Absolute epoch ms: no answer after it (the connection's own command timeout applies too). */
  deadline: number;
}

/** The app's state now, or undefined when Redis cannot tell in time (the answer then goes without quota headers). */
export async function peekQuota(redis: Redis, appId: string, o: PeekOptions): Promise<QuotaState | undefined> {
  if (!defined.has(redis)) {
    redis.defineCommand('iotbffQuotaPeek', { numberOfKeys: 2, lua: PEEK_LUA });
    defined.add(redis);
  }
  const ms = o.deadline - Date.now();
  if (ms <= 0 || redis.status !== 'ready') return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await Promise.race([
      (redis as PeekRedis).iotbffQuotaPeek(`${o.keyPrefix}quota:{${appId}}`, `${o.keyPrefix}hold:{${appId}}`, o.limit, o.windowMs),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
    if (!r) return undefined;
    const [count, resetMs] = r as [number, number, number];
    return { limit: o.limit, remaining: Math.max(0, o.limit - count), resetMs: Math.max(0, resetMs), windowMs: o.windowMs };
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** The quota headers for `appId` now, `{}` when they cannot be known in time. */
export async function peekQuotaHeaders(redis: Redis, appId: string, o: PeekOptions): Promise<Record<string, string>> {
  const s = await peekQuota(redis, appId, o);
  return s ? quotaHeaders(s) : {};
}
