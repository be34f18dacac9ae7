// Per-app platform quota across replicas: an exact sliding log in Redis (one Lua call per decision), a safe local fallback, and restore after Redis loses its data.
//
// Not an express-rate-limit store, on purpose: ERL counts an HTTP request at middleware time and
// increments before comparing, while a platform slot must be taken only when a call is really sent
// (after validation and after the token is known), also for logins, refreshes and retries, which are
// not HTTP requests of ours. A store would see the wrong events; this module is called where calls happen.
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { SlidingLog } from './sliding-log.js';
import { GatewayError } from '../errors.js';
import { quotaHeaders, retryAfterSeconds, type QuotaState } from './headers.js';

/**
 * KEYS[1] the app's log (ZSET score = ms), KEYS[2] its hold-back flag.
 * ARGV: limit, windowMs, member. Time comes from Redis so that replicas' clocks do not matter.
 * Returns {allowed, remaining, ms until room/reset, redis now, count in window, hold flag}.
 */
const TAKE_LUA = `
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
 * only bound that holds whatever the network and the platform's clock did.
 */
const TOUCH_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now, ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return now
`;

/**
 * KEYS[1] the app's log; ARGV: windowMs, then score/member pairs. A known member keeps the later of its
 * two times (GT): a replica whose clock is behind must not free a slot early by restoring it.
 */
const RESTORE_LUA = `
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

type ScriptRedis = Redis & {
  iotbffTake(log: string, hold: string, limit: number, windowMs: number, member: string): Promise<number[]>;
  iotbffRestore(log: string, ...args: Array<string | number>): Promise<number>;
  iotbffTouch(log: string, member: string, windowMs: number): Promise<number>;
};

/** A taken slot, handed back with `done()` when the platform call has ended. */
export interface Slot {
  appId: string;
  member: string;
  /** Local time of admission. */
  t: number;
  shared: boolean;
}

export type RefusalReason = 'quota' | 'hold' | 'store-unavailable';

export type QuotaDecision =
  | { allowed: true; state: QuotaState; slot: Slot }
  | { allowed: false; reason: RefusalReason; retryAfterMs: number; state: QuotaState };

export interface LimiterOptions {
  redis: Redis | null;
  keyPrefix: string;
  windowMs: number;
  holdMs: number;
  replicas: number;
  rateOf: (appId: string) => number;
  metrics: Metrics;
  logger: Logger;
  /** Unique per process: members of the shared log must not collide between replicas. */
  replicaId: string;
  /** How long a replica keeps its local rules after Redis came back empty, so that every replica restores first. */
  settleMs?: number;
}

/** One own call, as remembered for restore: the time it was admitted and its member in the shared log. */
interface OwnCall {
  t: number;
  member: string;
}

export class QuotaLimiter {
  private readonly redis: ScriptRedis | null;
  /** Own calls per app within the window (both modes): the fallback's count and what is restored. */
  private readonly own = new Map<string, { log: SlidingLog; calls: Map<string, OwnCall> }>();
  /** Apps known to be refused until a time: answered without any I/O. */
  private readonly blocked = new Map<string, { until: number; reason: 'quota' | 'hold' }>();
  private seq = 0;
  /** Since when Redis is unreachable (null while it answers). */
  private lostAt: number | null = null;
  /** After a failed command, Redis is not asked again before this time (a hung Redis costs one timeout, not one per request). */
  private retryRedisAt = 0;
  private settleUntil = 0;
  private everConnected = false;
  private recovering: Promise<void> | null = null;
  private confirming = false;
  /** The outage (its lostAt) after which this replica already settled, so that it settles once per outage. */
  private settledFor: number | null = null;

  constructor(private readonly opts: LimiterOptions) {
    this.redis = opts.redis as ScriptRedis | null;
    if (this.redis) {
      this.redis.defineCommand('iotbffTake', { numberOfKeys: 2, lua: TAKE_LUA });
      this.redis.defineCommand('iotbffRestore', { numberOfKeys: 1, lua: RESTORE_LUA });
      this.redis.defineCommand('iotbffTouch', { numberOfKeys: 1, lua: TOUCH_LUA });
      this.lostAt = Date.now();
      this.redis.on('ready', () => void this.recover());
      // The blind window starts when the connection drops, not when the next request notices.
      this.redis.on('close', () => this.markLost(new Error('redis connection closed')));
    }
  }

  /** True while decisions are made without Redis. */
  get degraded(): boolean {
    return this.lostAt !== null;
  }

  /** A refusal that is already known, answered without I/O (the cheap 429 path). */
  known(appId: string, now = Date.now()): QuotaDecision | null {
    const b = this.blocked.get(appId);
    if (!b) return null;
    if (now >= b.until) {
      this.blocked.delete(appId);
      return null;
    }
    this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'rejected', source: 'local' });
    return this.refusal(appId, b.reason, b.until - now);
  }

  /** Takes one platform call slot for `appId`, or says why not and for how long. */
  async take(appId: string): Promise<QuotaDecision> {
    const early = this.known(appId);
    if (early) return early;
    if (this.redis && this.redis.status === 'ready' && Date.now() >= this.retryRedisAt) {
      if (this.lostAt !== null) await this.recover();
      if (this.lostAt === null) {
        try {
          return this.fromRedis(appId, await this.callTake(appId));
        } catch (err) {
          if (this.redis.status !== 'ready') {
            this.markLost(err);
          } else {
            // A late answer on a live connection (a stalled event loop, a slow moment in Redis) says
            // little about Redis, and a stall makes every command in flight late at once: treating that
            // as "Redis lost" would refuse every app for a whole window. So this call alone is refused
            // (it was never sent), and Redis is asked once more; only if that fails too is it lost.
            this.confirmLost(err);
            this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'rejected', source: 'unavailable' });
            return this.refusal(appId, 'store-unavailable', 1000);
          }
        }
      }
    } else if (this.redis && this.lostAt === null) {
      this.markLost(new Error(`redis ${this.redis.status}`));
    }
    return this.takeLocally(appId);
  }

  /**
   * The platform itself answered 1010009: hold this app back for the hold period, on every replica.
   * Returns the refusal that the caller answers with.
   */
  async holdBack(appId: string): Promise<Extract<QuotaDecision, { allowed: false }>> {
    const holdMs = this.opts.holdMs;
    this.block(appId, Date.now() + holdMs, 'hold');
    if (this.redis && this.lostAt === null) {
      try {
        await this.redis.set(this.key('hold', appId), '1', 'PX', holdMs);
      } catch (err) {
        this.confirmLost(err);
      }
    }
    return this.refusal(appId, 'hold', holdMs) as Extract<QuotaDecision, { allowed: false }>;
  }

  /**
   * The call of `slot` has ended (answered, failed or timed out): from now on its slot counts from
   * this moment. Not awaited by callers; a failure only means the slot expires a little earlier in
   * Redis, and the local record still has it right.
   */
  done(slot: Slot): void {
    const now = Date.now();
    const o = this.own.get(slot.appId);
    const call = o?.calls.get(slot.member);
    if (o && call) {
      o.log.move(call.t, now);
      call.t = now;
    }
    if (slot.shared && this.redis && this.lostAt === null) {
      this.redis.iotbffTouch(this.key('quota', slot.appId), slot.member, this.opts.windowMs).catch(() => undefined);
    }
  }

  private key(kind: 'quota' | 'hold', appId: string): string {
    // The hash tag keeps an app's keys in one slot should Redis ever be a cluster.
    return `${this.opts.keyPrefix}${kind}:{${appId}}`;
  }

  private ownOf(appId: string) {
    let o = this.own.get(appId);
    if (!o) {
      o = { log: new SlidingLog(this.opts.windowMs), calls: new Map() };
      this.own.set(appId, o);
    }
    return o;
  }

  private remember(appId: string, t: number, member: string): void {
    const o = this.ownOf(appId);
    o.log.add(t);
    o.calls.set(member, { t, member });
    const edge = t - this.opts.windowMs;
    // Insertion order is admission order; done() moves times later, so stop at the first live entry
    // (a few expired ones may linger behind it; readers filter by time anyway).
    for (const [m, c] of o.calls) {
      if (c.t > edge) break;
      o.calls.delete(m);
    }
  }

  private nextMember(): string {
    this.seq += 1;
    return `${this.opts.replicaId}:${this.seq}`;
  }

  private async callTake(appId: string): Promise<{ r: number[]; member: string; t: number }> {
    const member = this.nextMember();
    const t = Date.now();
    const r = await (this.redis as ScriptRedis).iotbffTake(
      this.key('quota', appId),
      this.key('hold', appId),
      this.opts.rateOf(appId),
      this.opts.windowMs,
      member,
    );
    return { r, member, t };
  }

  private fromRedis(appId: string, { r, member, t }: { r: number[]; member: string; t: number }): QuotaDecision {
    const [allowed, remaining, ms, , count, held] = r as [number, number, number, number, number, number];
    const limit = this.opts.rateOf(appId);
    this.opts.metrics.quotaUsage.set({ app: appId }, count);
    if (allowed === 1) {
      this.remember(appId, t, member);
      this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'allowed', source: 'redis' });
      return {
        allowed: true,
        state: { limit, remaining, resetMs: ms, windowMs: this.opts.windowMs },
        slot: { appId, member, t, shared: true },
      };
    }
    const reason = held === 1 ? 'hold' : 'quota';
    this.block(appId, Date.now() + ms, reason);
    this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'rejected', source: reason === 'hold' ? 'hold' : 'redis' });
    return this.refusal(appId, reason, ms);
  }

  /**
   * Without Redis. In-process store: the full quota. Degraded Redis: for one window after losing it,
   * refuse (the other replicas' last calls are unknown, so no share can be proven safe); after that,
   * this replica's share (quota ÷ replicas) of its own calls in the window.
   */
  private takeLocally(appId: string): QuotaDecision {
    const now = Date.now();
    const rate = this.opts.rateOf(appId);
    const o = this.ownOf(appId);
    let limit = rate;
    if (this.redis) {
      const blindUntil = (this.lostAt ?? now) + this.opts.windowMs;
      if (now < blindUntil) {
        this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'rejected', source: 'unavailable' });
        return this.refusal(appId, 'store-unavailable', blindUntil - now);
      }
      limit = Math.floor(rate / this.opts.replicas);
    }
    if (o.log.count(now) < limit) {
      const member = this.nextMember();
      this.remember(appId, now, member);
      this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'allowed', source: 'local' });
      const remaining = limit - o.log.count(now);
      return {
        allowed: true,
        state: { limit: rate, remaining, resetMs: o.log.msUntilOldestExpires(now), windowMs: this.opts.windowMs },
        slot: { appId, member, t: now, shared: false },
      };
    }
    const wait = limit === 0 ? this.opts.windowMs : o.log.msUntilFree(now, limit);
    this.block(appId, now + wait, 'quota');
    this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'rejected', source: 'local' });
    return this.refusal(appId, 'quota', wait);
  }

  private refusal(appId: string, reason: RefusalReason, ms: number): QuotaDecision {
    return {
      allowed: false,
      reason,
      retryAfterMs: ms,
      state: { limit: this.opts.rateOf(appId), remaining: 0, resetMs: ms, windowMs: this.opts.windowMs },
    };
  }

  private block(appId: string, until: number, reason: 'quota' | 'hold'): void {
    const b = this.blocked.get(appId);
    if (!b || b.until < until) this.blocked.set(appId, { until, reason });
  }

  /** Pings Redis (once at a time); marks it lost only if the ping fails too. */
  private confirmLost(err: unknown): void {
    if (this.confirming || !this.redis) return;
    this.confirming = true;
    this.redis
      .ping()
      .catch(() => this.markLost(err))
      .finally(() => {
        this.confirming = false;
      });
  }

  private markLost(err: unknown): void {
    const now = Date.now();
    this.retryRedisAt = now + 1000;
    if (this.lostAt === null) {
      this.lostAt = now;
      this.opts.logger.warn({ err }, 'quota store unreachable: local rules until it is back');
    }
  }

  /**
   * Redis answers again: put this replica's calls of the last window back (a Redis restarted
   * without persistence has lost them), then trust it again. If it had lost its data, wait a
   * moment first so that the other replicas can restore theirs before anyone is admitted.
   */
  private recover(): Promise<void> {
    if (!this.redis || this.lostAt === null) return Promise.resolve();
    this.recovering ??= this.doRecover().finally(() => {
      this.recovering = null;
    });
    return this.recovering;
  }

  private async doRecover(): Promise<void> {
    const redis = this.redis as ScriptRedis;
    const settleMs = this.opts.settleMs ?? 2000;
    try {
      if (Date.now() < this.settleUntil) return;
      for (const [appId, o] of this.own) {
        const now = Date.now();
        const calls = [...o.calls.values()].filter((c) => c.t > now - this.opts.windowMs);
        if (calls.length === 0) continue;
        // Local times stand in for Redis time here; the difference is the clock skew between hosts.
        const args = calls.flatMap((c) => [c.t, c.member]);
        await redis.iotbffRestore(this.key('quota', appId), this.opts.windowMs, ...args);
      }
      // The epoch marker has no expiry: its absence means Redis lost its data. Its value says when
      // it was re-created, so that every replica reconnecting soon after settles, not only the first.
      const epochKey = `${this.opts.keyPrefix}epoch`;
      const now = Date.now();
      const fresh = (await redis.set(epochKey, String(now), 'NX')) === 'OK';
      const createdAt = fresh ? now : Number(await redis.get(epochKey));
      let until = 0;
      if (this.everConnected && Number.isFinite(createdAt) && now - createdAt < settleMs) until = createdAt + settleMs;
      // After an outage longer than a window, replicas have admitted calls on their own (their shares)
      // that Redis has not seen, even if it kept its data: the same wait lets every replica write them back.
      const lostAt = this.lostAt;
      if (lostAt !== null && now - lostAt >= this.opts.windowMs && this.settledFor !== lostAt) {
        this.settledFor = lostAt;
        until = Math.max(until, now + settleMs);
      }
      if (until > now) {
        this.settleUntil = until;
        this.opts.logger.warn('redis is back: quota log restored from this replica, settling before trusting it');
        setTimeout(() => void this.recover(), until - now + 10).unref();
        return;
      }
      this.everConnected = true;
      this.lostAt = null;
      this.retryRedisAt = 0;
      this.opts.logger.info('quota store in use');
    } catch (err) {
      this.markLost(err);
    }
  }
}

/** The public answer to a refused decision: 429 for quota and hold-back, 503 while the quota cannot be proven. */
export function refusalError(d: Extract<QuotaDecision, { allowed: false }>): GatewayError {
  const retryAfter = retryAfterSeconds(d.retryAfterMs);
  if (d.reason === 'store-unavailable') {
    return new GatewayError('SERVICE_UNAVAILABLE', {
      message: 'The quota store is unreachable; calls resume once the quota can be enforced safely.',
      retryAfter,
    });
  }
  return new GatewayError('RATE_LIMITED', {
    message:
      d.reason === 'hold'
        ? "The platform reported this app's quota as exceeded; calls are held back."
        : "The app's platform quota is used up for this minute.",
    platformCode: '1010009',
    retryAfter,
    headers: quotaHeaders(d.state),
  });
}
