// Per-app platform quota across replicas: decides each slot through Redis while it is trusted, by the local rules otherwise, and restores Redis after an outage.
//
// Not an express-rate-limit store, on purpose: ERL counts an HTTP request at middleware time and
// increments before comparing, while a platform slot must be taken only when a call is really sent
// (after validation and after the token is known), also for logins, refreshes and retries, which are
// not HTTP requests of ours. A store would see the wrong events; this module is called where calls happen.
//
// The parts: scripts.ts (the Lua and its runner), outage.ts (whether Redis is trusted), local.ts (this
// process's own calls and known refusals), outcome.ts (what callers get). HTTP answers: src/http/outcomes.ts.
import { closedDeliberately } from '../redis.js';
// RedisClient: one server, a Sentinel set or a Cluster (issue 14); the alias keeps this file's annotations.
import type { RedisClient as Redis } from '../redis.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { KnownRefusals, OwnCalls } from './local.js';
import { admission, initialOutage, settling, transition, type Outage, type OutageEvent, type OutageTimes } from './outage.js';
import { refused, type QuotaOutcome, type QuotaRefusalReason, type QuotaRefused, type Slot } from './outcome.js';
import { QuotaScripts } from './scripts.js';

export type { QuotaOutcome, QuotaRefused, QuotaAllowed, QuotaRefusalReason, Slot } from './outcome.js';

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

/** After a failed command, Redis is left alone this long. */
const RETRY_REDIS_MS = 1000;
/** A call refused because one Redis answer came late may be retried after this. */
const LATE_ANSWER_RETRY_MS = 1000;

export class QuotaLimiter {
  private readonly scripts: QuotaScripts | null;
  private readonly own: OwnCalls;
  private readonly refusals = new KnownRefusals();
  private readonly times: OutageTimes;
  /** Null without Redis (the in-process store): the full quota, decided locally. */
  private outage: Outage | null;
  private seq = 0;
  private recovering: Promise<void> | null = null;
  private confirming = false;

  constructor(private readonly opts: LimiterOptions) {
    this.own = new OwnCalls(opts.windowMs);
    this.times = { windowMs: opts.windowMs, settleMs: opts.settleMs ?? 2000, retryMs: RETRY_REDIS_MS };
    this.scripts = opts.redis ? new QuotaScripts(opts.redis) : null;
    this.outage = opts.redis ? initialOutage(Date.now()) : null;
    if (opts.redis) {
      opts.redis.on('ready', () => void this.recover());
      // The blind window starts when the connection drops, not when the next request notices.
      opts.redis.on('close', () => {
        // A close the gateway asked for (shutdown) is not an outage: no warning, no blind window.
        if (opts.redis && !closedDeliberately(opts.redis)) this.markLost(new Error('redis connection closed'));
      });
    }
  }

  /** True while decisions are made without Redis. */
  get degraded(): boolean {
    return this.outage !== null && this.outage.state.kind !== 'connected';
  }

  /** A refusal that is already known, answered without I/O (the cheap 429 path). */
  known(appId: string, now = Date.now()): QuotaRefused | undefined {
    const b = this.refusals.get(appId, now);
    if (!b) return undefined;
    this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'rejected', source: 'local' });
    return this.refusal(appId, b.reason, b.retryAfterMs);
  }

  /** Takes one platform call slot for `appId`, or says why not and for how long. */
  async take(appId: string): Promise<QuotaOutcome> {
    const early = this.known(appId);
    if (early) return early;
    const { redis } = this.opts;
    const scripts = this.scripts;
    if (redis && scripts && this.outage) {
      if (redis.status === 'ready' && Date.now() >= this.outage.retryAt) {
        if (this.outage.state.kind !== 'connected') await this.recover();
        if (this.outage.state.kind === 'connected') {
          try {
            return await this.takeInRedis(appId, scripts);
          } catch (err) {
            if (redis.status !== 'ready') {
              this.markLost(err);
            } else {
              // A late answer on a live connection (a stalled event loop, a slow moment in Redis) says
              // little about Redis, and a stall makes every command in flight late at once: treating that
              // as "Redis lost" would refuse every app for a whole window. So this call alone is refused
              // (it was never sent), and Redis is asked once more; only if that fails too is it lost.
              this.confirmLost(err);
              this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'rejected', source: 'unavailable' });
              return this.refusal(appId, 'store-outage', LATE_ANSWER_RETRY_MS);
            }
          }
        }
      } else if (this.outage.state.kind === 'connected') {
        this.markLost(new Error(`redis ${redis.status}`));
      }
    }
    return this.takeLocally(appId);
  }

  /**
   * The platform itself answered 1010009: hold this app back for the hold period, on every replica.
   * Returns the refusal that the caller answers with.
   */
  async holdBack(appId: string): Promise<QuotaRefused> {
    const holdMs = this.opts.holdMs;
    this.refusals.block(appId, Date.now() + holdMs, 'hold');
    if (this.opts.redis && this.outage?.state.kind === 'connected') {
      try {
        await this.opts.redis.set(this.key('hold', appId), '1', 'PX', holdMs);
      } catch (err) {
        this.confirmLost(err);
      }
    }
    return this.refusal(appId, 'hold', holdMs);
  }

  /**
   * The call of `slot` has ended (answered, failed or timed out): from now on its slot counts from
   * this moment. Not awaited by callers; a failure only means the slot expires a little earlier in
   * Redis, and the local record still has it right.
   */
  done(slot: Slot): void {
    this.own.ended(slot.appId, slot.member, Date.now());
    if (slot.shared && this.scripts && this.outage?.state.kind === 'connected') {
      this.scripts.touch(this.key('quota', slot.appId), slot.member, this.opts.windowMs).catch(() => undefined);
    }
  }

  private key(kind: 'quota' | 'hold', appId: string): string {
    // The hash tag keeps an app's keys in one slot should Redis ever be a cluster.
    return `${this.opts.keyPrefix}${kind}:{${appId}}`;
  }

  private nextMember(): string {
    this.seq += 1;
    return `${this.opts.replicaId}:${this.seq}`;
  }

  /** One Lua call decides (scripts.ts TAKE_LUA); a refusal is remembered so that the next ones need no I/O. */
  private async takeInRedis(appId: string, scripts: QuotaScripts): Promise<QuotaOutcome> {
    const member = this.nextMember();
    const t = Date.now();
    const reply = await scripts.take(this.key('quota', appId), this.key('hold', appId), this.opts.rateOf(appId), this.opts.windowMs, member);
    const limit = this.opts.rateOf(appId);
    this.opts.metrics.quotaUsage.set({ app: appId }, reply.count);
    if (reply.allowed) {
      this.own.remember(appId, t, member);
      this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'allowed', source: 'redis' });
      return {
        kind: 'allowed',
        state: { limit, remaining: reply.remaining, resetMs: reply.ms, windowMs: this.opts.windowMs },
        slot: { appId, member, t, shared: true },
      };
    }
    const reason = reply.held ? 'hold' : 'quota';
    this.refusals.block(appId, Date.now() + reply.ms, reason);
    this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'rejected', source: reason === 'hold' ? 'hold' : 'redis' });
    return this.refusal(appId, reason, reply.ms);
  }

  /**
   * Without Redis. In-process store: the full quota. Degraded Redis: the outage's rule (outage.ts):
   * refuse for one window after losing it, then this replica's share (quota ÷ replicas) of its own calls.
   */
  private takeLocally(appId: string): QuotaOutcome {
    const now = Date.now();
    const rate = this.opts.rateOf(appId);
    let limit = rate;
    if (this.outage) {
      this.apply({ type: 'tick', now });
      const rule = admission(this.outage.state, now, this.opts.windowMs);
      if (rule.by === 'refusal') {
        this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'rejected', source: 'unavailable' });
        return this.refusal(appId, 'store-outage', rule.retryAfterMs);
      }
      limit = Math.floor(rate / this.opts.replicas);
    }
    const r = this.own.tryTake(appId, now, limit, () => this.nextMember());
    if (r.admitted) {
      this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'allowed', source: 'local' });
      return {
        kind: 'allowed',
        state: { limit: rate, remaining: r.remaining, resetMs: r.resetMs, windowMs: this.opts.windowMs },
        slot: { appId, member: r.member, t: now, shared: false },
      };
    }
    this.refusals.block(appId, now + r.waitMs, 'quota');
    this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'rejected', source: 'local' });
    return this.refusal(appId, 'quota', r.waitMs);
  }

  private refusal(appId: string, reason: QuotaRefusalReason, ms: number): QuotaRefused {
    return refused(reason, ms, this.opts.rateOf(appId), this.opts.windowMs);
  }

  private apply(e: OutageEvent): void {
    if (this.outage) this.outage = transition(this.outage, e, this.times);
  }

  /** Pings Redis (once at a time); marks it lost only if the ping fails too. */
  private confirmLost(err: unknown): void {
    const redis = this.opts.redis;
    if (this.confirming || !redis) return;
    this.confirming = true;
    redis
      .ping()
      .catch(() => this.markLost(err))
      .finally(() => {
        this.confirming = false;
      });
  }

  private markLost(err: unknown): void {
    const wasConnected = this.outage?.state.kind === 'connected';
    this.apply({ type: 'lost', now: Date.now() });
    if (wasConnected) this.opts.logger.warn({ err }, 'quota store unreachable: local rules until it is back');
  }

  /**
   * Redis answers again: put this replica's calls of the last window back (a Redis restarted
   * without persistence has lost them), then let the state machine decide whether to trust it now
   * or after a settle, so that the other replicas can restore theirs before anyone is admitted.
   */
  private recover(): Promise<void> {
    if (!this.scripts || !this.outage || this.outage.state.kind === 'connected') return Promise.resolve();
    this.recovering ??= this.doRecover().finally(() => {
      this.recovering = null;
    });
    return this.recovering;
  }

  private async doRecover(): Promise<void> {
    const redis = this.opts.redis as Redis;
    const scripts = this.scripts as QuotaScripts;
    try {
      if (!this.outage || settling(this.outage.state, Date.now())) return;
      for (const [appId, calls] of this.own.inWindow(Date.now())) {
        // Local times stand in for Redis time here; the difference is the clock skew between hosts.
        await scripts.restore(this.key('quota', appId), this.opts.windowMs, calls);
      }
      // The epoch marker has no expiry: its absence means Redis lost its data. Its value says when
      // it was re-created, so that every replica reconnecting soon after settles, not only the first.
      const epochKey = `${this.opts.keyPrefix}epoch`;
      const now = Date.now();
      const fresh = (await redis.set(epochKey, String(now), 'NX')) === 'OK';
      const createdAt = fresh ? now : Number(await redis.get(epochKey));
      // A marker that does not parse says nothing about a restart (it never settled in that case either).
      this.apply({ type: 'restored', now, epochCreatedAt: Number.isFinite(createdAt) ? createdAt : -Infinity });
      const s = this.outage.state;
      if (s.kind === 'restoring-settle') {
        this.opts.logger.warn('redis is back: quota log restored from this replica, settling before trusting it');
        setTimeout(() => void this.recover(), s.until - now + 10).unref();
        return;
      }
      if (s.kind === 'connected') this.opts.logger.info('quota store in use');
    } catch (err) {
      this.markLost(err);
    }
  }
}
