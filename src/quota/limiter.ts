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
import { quotaMetrics, type QuotaMetrics } from './metrics.js';
import { QuotaScripts } from './scripts.js';
import { SlotWaiters, type WaitRequest } from './waiting.js';

export type { QuotaOutcome, QuotaRefused, QuotaAllowed, QuotaRefusalReason, Slot } from './outcome.js';
export type { WaitRequest } from './waiting.js';

/** Who a slot is for: the calling client (shares are per client) and whether it is its own call or a login/refresh its request needs. */
export interface Asking {
  client?: string;
  kind?: 'call' | 'token';
}

/** A reserved client of an app (contract §11). */
export interface Reserve {
  client: string;
  reserve: number;
}

export interface LimiterOptions {
  redis: Redis | null;
  keyPrefix: string;
  windowMs: number;
  holdMs: number;
  replicas: number;
  rateOf: (appId: string) => number;
  /** The reserved clients of an app, in a fixed order (none: the plain sliding log). */
  reservesOf?: (appId: string) => readonly Reserve[];
  /** Every configured app: the restore checks each app's epoch marker, calls or not. */
  appIds?: readonly string[];
  metrics: Metrics;
  logger: Logger;
  /** Unique per process: members of the shared log must not collide between replicas. */
  replicaId: string;
  /** How long a replica keeps its local rules after Redis came back empty, so that every replica restores first. */
  settleMs?: number;
  /** Callers waiting for a slot (Prefer: wait) per app on this replica (QUOTA_MAX_WAITERS). */
  maxWaiters?: number;
}

/** The reserved clients of each app from the client list, in a fixed order (by name) so that every replica sends the same keys. */
export function reservesByApp(clients: ReadonlyArray<{ name: string; reserve: ReadonlyMap<string, number> }>): (appId: string) => readonly Reserve[] {
  const byApp = new Map<string, Reserve[]>();
  for (const c of [...clients].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const [appId, reserve] of c.reserve) byApp.set(appId, [...(byApp.get(appId) ?? []), { client: c.name, reserve }]);
  }
  const none: readonly Reserve[] = [];
  return (appId) => byApp.get(appId) ?? none;
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
  private readonly quotaMetrics: QuotaMetrics;
  private readonly waiters: SlotWaiters;
  /** The Redis replication ID at the last restore (a change means another server's data: a failover). */
  private replid: string | undefined;

  constructor(private readonly opts: LimiterOptions) {
    this.quotaMetrics = quotaMetrics(opts.metrics.registry);
    this.waiters = new SlotWaiters({
      maxWaiters: opts.maxWaiters ?? 100,
      metrics: this.quotaMetrics,
      refusal: (appId, ms) => this.refusal(appId, 'quota', ms),
    });
    this.waiters.handBack = (allowed) => this.done(allowed.slot);
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

  /** A refusal that is already known for this asker, answered without I/O (the cheap 429 path). */
  known(appId: string, asking: Asking = {}, now = Date.now()): QuotaRefused | undefined {
    const b = this.refusals.get(appId, now) ?? this.refusals.get(this.refusalKey(appId, asking), now);
    if (!b) return undefined;
    this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'rejected', source: 'local' });
    this.countRefusal(asking, b.reason);
    return this.refusal(appId, b.reason, b.retryAfterMs);
  }

  /**
   * Takes one platform call slot for `appId` on behalf of `asking` (its client's reserve, contract
   * §11), or says why not and for how long. With `wait` (Prefer: wait), a caller refused for the quota
   * waits in line for the slot the limiter says frees next, if that is before `wait.until` and the
   * app's waiters are within QUOTA_MAX_WAITERS; otherwise the refusal comes at once.
   */
  async take(appId: string, asking: Asking = {}, wait?: WaitRequest): Promise<QuotaOutcome> {
    const classKey = this.refusalKey(appId, asking);
    const queued = this.waiters.queued(classKey);
    const now = () => this.takeNow(appId, asking);
    if (queued !== undefined) {
      // First come, first served: the slot they wait for is theirs.
      if (!wait) {
        this.countRefusal(asking, 'quota');
        return this.refusal(appId, 'quota', queued);
      }
      return this.waiters.enqueue(appId, classKey, queued, wait, now);
    }
    const first = await now();
    if (first.kind === 'allowed' || !wait || first.reason !== 'quota') return first;
    return this.waiters.enqueue(appId, classKey, first.retryAfterMs, wait, now);
  }

  /** Whether a refusal already known may still be waited for by this caller (forward.ts asks before anything else). */
  mayWait(known: QuotaRefused, wait?: WaitRequest): boolean {
    return wait !== undefined && known.reason === 'quota' && Date.now() + known.retryAfterMs <= wait.until;
  }

  private async takeNow(appId: string, asking: Asking): Promise<QuotaOutcome> {
    const early = this.known(appId, asking);
    if (early) return early;
    const { redis } = this.opts;
    const scripts = this.scripts;
    if (redis && scripts && this.outage) {
      if (redis.status === 'ready' && Date.now() >= this.outage.retryAt) {
        if (this.outage.state.kind !== 'connected') await this.recover();
        if (this.outage.state.kind === 'connected') {
          try {
            return await this.takeInRedis(appId, asking, scripts);
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
              this.countRefusal(asking, 'store-outage');
              return this.refusal(appId, 'store-outage', LATE_ANSWER_RETRY_MS);
            }
          }
        }
      } else if (this.outage.state.kind === 'connected') {
        this.markLost(new Error(`redis ${redis.status}`));
      }
    }
    return this.takeLocally(appId, asking);
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
      const keys = [this.key('quota', slot.appId), ...(slot.sub !== undefined ? [this.subKey(slot.appId, slot.sub)] : [])];
      this.scripts.touch(keys, slot.member, this.opts.windowMs).catch(() => undefined);
    }
  }

  /**
   * The call of `slot` never left this machine (no socket could be opened: EMFILE…): the platform counted
   * nothing, so neither does the quota (contract §6, "Connections are bounded"). ZREM is safe to run twice.
   */
  release(slot: Slot): void {
    this.own.release(slot.appId, slot.member);
    const redis = this.opts.redis;
    if (slot.shared && redis && this.outage?.state.kind === 'connected') {
      const keys = [this.key('quota', slot.appId), ...(slot.sub !== undefined ? [this.subKey(slot.appId, slot.sub)] : [])];
      for (const k of keys) redis.zrem(k, slot.member).catch(() => undefined);
    }
  }

  /**
   * Every quota key of an app carries the `{appId}` hash tag: on a Redis Cluster all the keys one
   * script touches (the app's log, its hold flag, its share logs, its epoch marker) are in one slot.
   */
  private key(kind: 'quota' | 'hold' | 'epoch', appId: string): string {
    return `${this.opts.keyPrefix}${kind}:{${appId}}`;
  }

  /** The shared log (`shared`) or a reserved client's log of an app. */
  private subKey(appId: string, sub: string): string {
    return `${this.key('quota', appId)}:${sub === 'shared' ? 'shared' : `client:${sub}`}`;
  }

  private reservesOf(appId: string): readonly Reserve[] {
    return this.opts.reservesOf?.(appId) ?? [];
  }

  /** Apps without reserves: one class. With reserves: each reserved client is its own class, the others share one. */
  private refusalKey(appId: string, asking: Asking): string {
    const reserves = this.reservesOf(appId);
    if (reserves.length === 0) return appId;
    const reserved = reserves.some((r) => r.client === asking.client);
    return `${appId}\u0000${reserved ? (asking.client as string) : ''}`;
  }

  private asker(appId: string, asking: Asking): { client: number; kind: 'call' | 'token' } {
    return { client: this.reservesOf(appId).findIndex((r) => r.client === asking.client), kind: asking.kind ?? 'call' };
  }

  private countRefusal(asking: Asking, reason: QuotaRefusalReason): void {
    if (asking.client === undefined) return;
    this.quotaMetrics.clientRefusals.inc({ client: asking.client, limit: reason === 'quota' ? 'app-quota' : reason });
  }

  private countAdmission(appId: string, asking: Asking, sub: string | undefined, inReserve?: number): void {
    if (asking.client === undefined) return;
    this.quotaMetrics.clientCalls.inc({ client: asking.client, app: appId, part: sub !== undefined && sub !== 'shared' ? 'reserve' : 'shared' });
    if (inReserve !== undefined && sub !== undefined && sub !== 'shared') {
      this.quotaMetrics.reserveInUse.set({ client: asking.client, app: appId }, inReserve);
    }
  }

  private nextMember(): string {
    this.seq += 1;
    return `${this.opts.replicaId}:${this.seq}`;
  }

  /** One Lua call decides (scripts.ts TAKE_LUA), shares included; a refusal is remembered so that the next ones of its class need no I/O. */
  private async takeInRedis(appId: string, asking: Asking, scripts: QuotaScripts): Promise<QuotaOutcome> {
    const member = this.nextMember();
    const t = Date.now();
    const limit = this.opts.rateOf(appId);
    const reserves = this.reservesOf(appId);
    const asker = this.asker(appId, asking);
    const shares =
      reserves.length === 0
        ? undefined
        : {
            sharedKey: this.subKey(appId, 'shared'),
            clients: reserves.map((r) => ({ key: this.subKey(appId, r.client), reserve: r.reserve })),
            who: asker.client + 1,
            kind: asker.kind,
          };
    const reply = await scripts.take(this.key('quota', appId), this.key('hold', appId), limit, this.opts.windowMs, member, shares);
    this.opts.metrics.quotaUsage.set({ app: appId }, reply.count);
    if (reply.allowed) {
      const sub = shares ? (reply.into === 0 ? 'shared' : (reserves[reply.into - 1] as Reserve).client) : undefined;
      this.own.remember(appId, t, member, sub);
      this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'allowed', source: 'redis' });
      const reserve = asker.client >= 0 ? (reserves[asker.client] as Reserve).reserve : undefined;
      this.countAdmission(appId, asking, sub, reserve === undefined ? undefined : Math.min(reply.mine, reserve));
      return {
        kind: 'allowed',
        state: { limit, remaining: reply.remaining, resetMs: reply.ms, windowMs: this.opts.windowMs },
        slot: { appId, member, t, shared: true, ...(sub !== undefined && { sub }) },
      };
    }
    const reason = reply.held ? 'hold' : 'quota';
    this.refusals.block(reason === 'hold' ? appId : this.refusalKey(appId, asking), Date.now() + reply.ms, reason);
    this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'rejected', source: reason === 'hold' ? 'hold' : 'redis' });
    this.countRefusal(asking, reason);
    return this.refusal(appId, reason, reply.ms);
  }

  /**
   * Without Redis. In-process store: the full quota. Degraded Redis: the outage's rule (outage.ts):
   * refuse for one window after losing it, then this replica's share (quota ÷ replicas, and each
   * reserve ÷ replicas: their sum stays within the share) of its own calls.
   */
  private takeLocally(appId: string, asking: Asking): QuotaOutcome {
    const now = Date.now();
    const rate = this.opts.rateOf(appId);
    let limit = rate;
    let part = (n: number) => n;
    if (this.outage) {
      this.apply({ type: 'tick', now });
      const rule = admission(this.outage.state, now, this.opts.windowMs);
      if (rule.by === 'refusal') {
        this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'rejected', source: 'unavailable' });
        this.countRefusal(asking, 'store-outage');
        return this.refusal(appId, 'store-outage', rule.retryAfterMs);
      }
      part = (n: number) => Math.floor(n / this.opts.replicas);
      limit = part(rate);
    }
    const reserves = this.reservesOf(appId);
    const r =
      reserves.length === 0
        ? this.own.tryTake(appId, now, limit, () => this.nextMember())
        : this.own.tryTakeShare(
            appId,
            now,
            limit,
            reserves.map((x) => ({ client: x.client, reserve: part(x.reserve) })),
            this.asker(appId, asking),
            () => this.nextMember(),
          );
    if (r.admitted) {
      const sub: string | undefined = 'sub' in r ? (r.sub as string) : undefined;
      this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'allowed', source: 'local' });
      this.countAdmission(appId, asking, sub);
      return {
        kind: 'allowed',
        state: { limit: rate, remaining: r.remaining, resetMs: r.resetMs, windowMs: this.opts.windowMs },
        slot: { appId, member: r.member, t: now, shared: false, ...(sub !== undefined && { sub }) },
      };
    }
    this.refusals.block(this.refusalKey(appId, asking), now + r.waitMs, 'quota');
    this.opts.metrics.quotaDecisions.inc({ app: appId, decision: 'rejected', source: 'local' });
    this.countRefusal(asking, 'quota');
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
        // Each share log gets its own calls back, so that every client's count is what it was.
        const bySub = new Map<string, typeof calls>();
        for (const c of calls) if (c.sub !== undefined) bySub.set(c.sub, [...(bySub.get(c.sub) ?? []), c]);
        for (const [sub, subCalls] of bySub) await scripts.restore(this.subKey(appId, sub), this.opts.windowMs, subCalls);
      }
      const now = Date.now();
      // A Sentinel failover promotes a replica that may have missed the newest writes yet still holds the
      // epoch markers: a new replication ID says so, and is treated as an empty restart (markers renewed).
      const failedOver = await this.replicationChanged(redis);
      // The epoch marker (one per app, in the app's slot: on a Cluster one node can restart empty alone)
      // has no expiry: its absence means Redis lost that app's data. Its value says when it was re-created,
      // so that every replica reconnecting soon after settles, not only the first.
      const apps = new Set([...(this.opts.appIds ?? []), ...[...this.own.inWindow(now)].map(([a]) => a)]);
      // One script per app (each marker in its own app's slot), all in flight at once.
      const ats = await Promise.all([...apps].map((appId) => scripts.epoch(this.key('epoch', appId), now, failedOver)));
      // A marker that does not parse says nothing about a restart (it never settled in that case either).
      const createdAt = Math.max(-Infinity, ...ats.filter((at) => Number.isFinite(at)));
      this.apply({ type: 'restored', now, epochCreatedAt: createdAt });
      const s = this.outage.state;
      if (s.kind === 'restoring-settle') {
        this.opts.logger.warn('redis is back: quota log restored from this replica, settling before trusting it');
        setTimeout(() => void this.recover(), s.until - now + 10).unref();
        return;
      }
      if (s.kind === 'connected') this.opts.logger.info('quota store in use');
    } catch (err) {
      if (redis.status === 'ready') {
        // A late answer on a live connection (a stalled event loop at start) is not an outage: try again
        // soon (a request would anyway), without starting a blind window or counting it as one.
        this.opts.logger.debug({ err }, 'quota restore answered late; trying again');
        setTimeout(() => void this.recover(), 200).unref();
        return;
      }
      this.markLost(err);
    }
  }

  /** The server's replication ID changed since the last contact (a failover, or a restart). Not asked of a Cluster (one ID per node). */
  private async replicationChanged(redis: Redis): Promise<boolean> {
    if ((redis as { isCluster?: boolean }).isCluster) return false;
    const info = await redis.info('replication');
    const id = /^master_replid:(\S+)/m.exec(info)?.[1];
    const before = this.replid;
    if (id !== undefined) this.replid = id;
    return before !== undefined && id !== undefined && id !== before;
  }
}
