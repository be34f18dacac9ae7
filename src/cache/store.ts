// The cache's Redis side: entries with a TTL, a tag index for invalidation, the per-key loader lock; every command bounded, atomic in Lua, NOSCRIPT-safe.
import { randomBytes } from 'node:crypto';
// RedisClient: one server, a Sentinel set or a Cluster (issue 14); the alias keeps this file's annotations.
import type { RedisClient as Redis } from '../redis.js';
import { checkTag, keys } from './key.js';
import type { CachedAnswer } from './types.js';

/**
 * An entry is `[1,<status>,<ttlMs>,<body JSON>]`: one JSON text, the body serialised once, no headers (quota
 * headers describe the app's state when an answer is sent, so they are never stored).
 *
 * There is no stored-at time. The age is `ttlMs - PTTL`, read in the same script as the entry: Redis counts it
 * down itself, so no replica's clock (which may be skewed) and no extra TIME call enter into it, and every
 * replica computes the same Age for the same entry.
 */
export function encodeEntry(answer: CachedAnswer, ttlMs: number): string {
  const body = answer.body === undefined ? 'null' : JSON.stringify(answer.body);
  return `[1,${Math.trunc(answer.status)},${Math.trunc(ttlMs)},${body}]`;
}

export interface DecodedEntry extends CachedAnswer {
  ttlMs: number;
}

/** undefined for anything that is not an entry of this version (an old format is a miss, never an error). */
export function decodeEntry(text: string): DecodedEntry | undefined {
  try {
    const v: unknown = JSON.parse(text);
    if (!Array.isArray(v) || v.length !== 4 || v[0] !== 1) return undefined;
    const [, status, ttlMs, body] = v as [number, unknown, unknown, unknown];
    if (!Number.isInteger(status) || !Number.isInteger(ttlMs)) return undefined;
    return { status: status as number, ttlMs: ttlMs as number, body };
  } catch {
    return undefined;
  }
}

/** Only successful answers are cached (contract §13): 2xx but a partial one. */
export const cacheableStatus = (status: number): boolean => status >= 200 && status < 300 && status !== 206;

// KEYS[1] entry. Returns nil or {entry, pttl}.
const READ_LUA = `
local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}`;

// KEYS[1] lock, KEYS[2] entry, KEYS[3..] tag epochs; ARGV[1] token, ARGV[2] lock ms, ARGV[3] the entry's PTTL
// when the caller read it (-2: none). Takes the lock when it is free, finished ('d:') or already ours (so that
// running it twice is harmless); but not when a holder just finished and stored a newer entry than the one the
// caller judged (its PTTL is longer): then the caller reads that one. Returns {taken, lock value, epochs}.
const ACQUIRE_LUA = `
local v = redis.call('GET', KEYS[1])
local mine = 'p:' .. ARGV[1]
local taken = 0
local justStored = v and string.sub(v, 1, 2) == 'd:' and string.sub(v, -3) == ':ok' and redis.call('PTTL', KEYS[2]) > tonumber(ARGV[3])
if (not v) or v == mine or (string.sub(v, 1, 2) == 'd:' and not justStored) then
  redis.call('SET', KEYS[1], mine, 'PX', ARGV[2])
  taken = 1
  v = mine
end
local epochs = {}
for i = 3, #KEYS do epochs[#epochs + 1] = redis.call('GET', KEYS[i]) or '' end
return {taken, v, epochs}`;

// KEYS[1] lock; ARGV[1] token, ARGV[2] ms. Extends the lock only while it is still ours.
const RENEW_LUA = `
if redis.call('GET', KEYS[1]) == 'p:' .. ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

// KEYS[1] entry, KEYS[2] lock, KEYS[3..2+n] tag sets, KEYS[3+n..2+2n] tag epochs.
// ARGV[1] token ('' = no lock held), ARGV[2] entry ('' = nothing to store), ARGV[3] ttl ms, ARGV[4] n,
// ARGV[5..4+n] epochs seen when the load began, ARGV[5+n] outcome for the lock ('' = ok/retry by whether
// stored), ARGV[6+n] ms the outcome stays readable, ARGV[7+n] channel, ARGV[8+n] message ('' = none).
// Stores only if no tag was invalidated since the load began (an answer read before a write must not
// outlive it), marks the lock finished, and tells the waiters: one atomic step. Returns 1 stored,
// -1 not stored (raced with an invalidation), 0 nothing to store. Running it twice stores the same entry again.
const COMPLETE_LUA = `
local n = tonumber(ARGV[4])
local stored = 0
if ARGV[2] ~= '' then
  local same = true
  for i = 1, n do
    if (redis.call('GET', KEYS[2 + n + i]) or '') ~= ARGV[4 + i] then same = false end
  end
  if same then
    local ttl = tonumber(ARGV[3])
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
    for i = 1, n do
      local set = KEYS[2 + i]
      redis.call('SADD', set, KEYS[1])
      if redis.call('PTTL', set) < ttl then redis.call('PEXPIRE', set, ttl) end
      -- A hot list tag never expires, so drop a few members that already did: the set stays bounded.
      if redis.call('SCARD', set) > 128 then
        for _, k in ipairs(redis.call('SRANDMEMBER', set, 16)) do
          if redis.call('EXISTS', k) == 0 then redis.call('SREM', set, k) end
        end
      end
    end
    stored = 1
  else
    stored = -1
  end
end
local outcome = ARGV[5 + n]
if outcome == '' then
  if stored == 1 then outcome = 'ok' else outcome = 'retry' end
end
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) == 'p:' .. ARGV[1] then
  redis.call('SET', KEYS[2], 'd:' .. ARGV[1] .. ':' .. outcome, 'PX', ARGV[6 + n])
end
if ARGV[8 + n] ~= '' then redis.call('PUBLISH', ARGV[7 + n], ARGV[8 + n]) end
return stored`;

// KEYS[1] lock, KEYS[2] entry. What a waiter polls: the lock while it is pending, else the lock and the entry.
const PEEK_LUA = `
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 2) == 'p:' then return {v} end
local e = redis.call('GET', KEYS[2])
if not e then return {v or ''} end
return {v or '', e, redis.call('PTTL', KEYS[2])}`;

// KEYS: pairs of (tag set, tag epoch); ARGV[1] new epoch, ARGV[2] epoch ms. Deletes every entry filed under
// the tags and the sets themselves, and changes the epochs so that a load already under way does not store
// what it read before. Running it twice deletes nothing more. The entries share the app's slot (hash tag).
const INVALIDATE_LUA = `
local dropped = 0
for i = 1, #KEYS, 2 do
  local members = redis.call('SMEMBERS', KEYS[i])
  for _, k in ipairs(members) do dropped = dropped + redis.call('DEL', k) end
  redis.call('DEL', KEYS[i])
  redis.call('SET', KEYS[i + 1], ARGV[1], 'PX', ARGV[2])
end
return dropped`;

type ScriptRedis = Redis & {
  iotbffCacheRead(key: string): Promise<[string, number] | null>;
  iotbffCacheAcquire(n: number, ...args: string[]): Promise<[number, string, string[]]>;
  iotbffCacheRenew(lock: string, token: string, ms: number): Promise<number>;
  iotbffCacheComplete(n: number, ...args: string[]): Promise<number>;
  iotbffCachePeek(lock: string, entry: string): Promise<[string] | [string, string, number]>;
  iotbffCacheInvalidate(n: number, ...args: string[]): Promise<number>;
};

/** The store could not be asked (down, slow past the deadline, or not configured): the cache steps aside. */
export class StoreUnavailable extends Error {
  constructor(reason: string) {
    super(`cache store unavailable: ${reason}`);
    this.name = 'StoreUnavailable';
  }
}

/** Settles `p` by `deadline` (epoch ms) and within `capMs`, else rejects; `p`'s own late failure is swallowed. */
export function within<T>(p: Promise<T>, deadline: number, capMs: number): Promise<T> {
  const ms = Math.min(capMs, deadline - Date.now());
  if (ms <= 0) {
    p.catch(() => undefined);
    return Promise.reject(new StoreUnavailable('deadline'));
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailable('timeout')), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface StoreOptions {
  /** REDIS_KEY_PREFIX, e.g. `iotbff:`. */
  prefix: string;
  /** Cap of every command (REDIS_COMMAND_TIMEOUT_MS); the request's deadline caps it further. */
  commandTimeoutMs: number;
  /** How long an invalidation's epoch is remembered: longer than any load can take. */
  epochTtlMs?: number;
}

export type LookupResult = { entry: DecodedEntry; ageMs: number } | undefined;

export interface AcquireResult {
  taken: boolean;
  /** The lock's value: `p:<token>` (pending) or `d:<token>:<outcome>` (finished). */
  holder: string;
  /** The tags' epochs when the load begins, for `complete`. */
  epochs: string[];
}

export type PeekResult =
  | { state: 'pending'; holder: string }
  | { state: 'entry'; entry: DecodedEntry; ageMs: number }
  | { state: 'error'; outcome: string }
  | { state: 'gone' };

/** Redis-backed store of the GET cache. Every method throws StoreUnavailable rather than anything else. */
export class CacheStore {
  private readonly redis: ScriptRedis | null;
  private readonly epochTtlMs: number;

  constructor(
    redis: Redis | null,
    readonly opts: StoreOptions,
  ) {
    this.redis = redis as ScriptRedis | null;
    this.epochTtlMs = opts.epochTtlMs ?? 10 * 60_000;
    if (this.redis) {
      // defineCommand sends EVALSHA and falls back to EVAL on NOSCRIPT (a restarted or flushed Redis).
      this.redis.defineCommand('iotbffCacheRead', { numberOfKeys: 1, lua: READ_LUA });
      this.redis.defineCommand('iotbffCacheAcquire', { lua: ACQUIRE_LUA });
      this.redis.defineCommand('iotbffCacheRenew', { numberOfKeys: 1, lua: RENEW_LUA });
      this.redis.defineCommand('iotbffCacheComplete', { lua: COMPLETE_LUA });
      this.redis.defineCommand('iotbffCachePeek', { numberOfKeys: 2, lua: PEEK_LUA });
      this.redis.defineCommand('iotbffCacheInvalidate', { lua: INVALIDATE_LUA });
    }
  }

  /** Ready to be asked now: a command to a disconnected client fails at once anyway, this saves the attempt. */
  get available(): boolean {
    return this.redis !== null && this.redis.status === 'ready';
  }

  private async call<T>(deadline: number, run: (r: ScriptRedis) => Promise<T>): Promise<T> {
    const r = this.redis;
    if (!r) throw new StoreUnavailable('no shared store');
    if (r.status !== 'ready') throw new StoreUnavailable(r.status);
    try {
      return await within(run(r), deadline, this.opts.commandTimeoutMs);
    } catch (err) {
      throw err instanceof StoreUnavailable ? err : new StoreUnavailable(err instanceof Error ? err.message : String(err));
    }
  }

  async read(entryKey: string, deadline: number): Promise<LookupResult> {
    const r = await this.call(deadline, (redis) => redis.iotbffCacheRead(entryKey));
    if (!r) return undefined;
    const entry = decodeEntry(r[0]);
    if (!entry) return undefined;
    return { entry, ageMs: Math.max(0, entry.ttlMs - Number(r[1])) };
  }

  /** `seenPttl`: the PTTL of the entry the caller judged not fresh enough (-2: it found none; Infinity: take the lock regardless). */
  async acquire(
    appId: string,
    entryKey: string,
    tags: readonly string[],
    token: string,
    lockMs: number,
    deadline: number,
    seenPttl = -2,
  ): Promise<AcquireResult> {
    const epochKeys = tags.map((t) => keys.tagEpoch(this.opts.prefix, appId, checkTag(t)));
    const r = await this.call(deadline, (redis) =>
      redis.iotbffCacheAcquire(2 + epochKeys.length, keys.lock(entryKey), entryKey, ...epochKeys, token, String(lockMs), String(Number.isFinite(seenPttl) ? Math.trunc(seenPttl) : 9e15)),
    );
    return { taken: Number(r[0]) === 1, holder: String(r[1]), epochs: (r[2] ?? []).map(String) };
  }

  async renew(entryKey: string, token: string, lockMs: number, deadline: number): Promise<boolean> {
    return (await this.call(deadline, (redis) => redis.iotbffCacheRenew(keys.lock(entryKey), token, lockMs))) === 1;
  }

  /**
   * Stores `entry` (if given and no tag was invalidated since `epochs` were read), marks the lock of `token`
   * finished with `outcome`, and publishes `message` on the app's channel. Returns whether it stored.
   */
  async complete(args: {
    appId: string;
    entryKey: string;
    token: string;
    entry: string;
    ttlMs: number;
    tags: readonly string[];
    epochs: readonly string[];
    outcome: string;
    outcomeMs: number;
    message: string;
    deadline: number;
  }): Promise<'stored' | 'raced' | 'none'> {
    const { prefix } = this.opts;
    const tags = args.tags.map(checkTag);
    const sets = tags.map((t) => keys.tagSet(prefix, args.appId, t));
    const epochKeys = tags.map((t) => keys.tagEpoch(prefix, args.appId, t));
    const epochs = tags.map((_, i) => args.epochs[i] ?? '');
    const r = await this.call(args.deadline, (redis) =>
      redis.iotbffCacheComplete(
        2 + 2 * tags.length,
        args.entryKey,
        keys.lock(args.entryKey),
        ...sets,
        ...epochKeys,
        args.token,
        args.entry,
        String(args.ttlMs),
        String(tags.length),
        ...epochs,
        args.outcome,
        String(args.outcomeMs),
        keys.channel(prefix, args.appId),
        args.message,
      ),
    );
    return r === 1 ? 'stored' : r === -1 ? 'raced' : 'none';
  }

  async peek(entryKey: string, deadline: number): Promise<PeekResult> {
    const r = await this.call(deadline, (redis) => redis.iotbffCachePeek(keys.lock(entryKey), entryKey));
    const lock = String(r[0] ?? '');
    if (lock.startsWith('p:')) return { state: 'pending', holder: lock };
    if (r.length === 3) {
      const entry = decodeEntry(String(r[1]));
      if (entry) return { state: 'entry', entry, ageMs: Math.max(0, entry.ttlMs - Number(r[2])) };
    }
    // `d:<token>:e:<json>`: the holder failed, and said how.
    const m = /^d:[^:]+:(e:.*)$/s.exec(lock);
    if (m) return { state: 'error', outcome: m[1] as string };
    return { state: 'gone' };
  }

  /** Drops every entry filed under `tags` of the app, atomically. Returns how many entries were dropped. */
  async invalidate(appId: string, tags: readonly string[], deadline: number): Promise<number> {
    const unique = [...new Set(tags.map(checkTag))];
    if (unique.length === 0) return 0;
    const ks = unique.flatMap((t) => [keys.tagSet(this.opts.prefix, appId, t), keys.tagEpoch(this.opts.prefix, appId, t)]);
    const epoch = randomBytes(9).toString('base64url');
    return Number(await this.call(deadline, (redis) => redis.iotbffCacheInvalidate(ks.length, ...ks, epoch, String(this.epochTtlMs))));
  }
}
