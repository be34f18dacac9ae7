// The platform subscriptions the gateway owns (contract §10): per app, its callback subscribed for every notifyType some webhook wants, once across replicas, every call through the forwarder (quota, token, breaker).
import Joi from 'joi';
import type { RedisClient as Redis } from '../redis.js';
import { GatewayError } from '../errors.js';
import type { Forwarder } from '../forward.js';
import type { Logger } from '../logger.js';
import type { RouteSpec } from '../routes/types.js';
import { subscriptionApiOf } from './notify.js';

/**
 * The platform APIs the manager calls, described like routes so that the forwarder treats them like any
 * other call (a quota slot each, the shared token, the breaker, the error mapping). They are not /v1 routes:
 * subscriptions are not passed through (contract §9), and nothing registers these with the router.
 */
const ANY_BODY = Joi.object().unknown(true);
export const SUBSCRIPTION_APIS = {
  list: {
    id: 'eventsListSubscriptions', summary: 'internal: query subscriptions', family: 'events', method: 'GET', path: '/internal/subscriptions',
    platform: { method: 'GET', path: '/iocm/app/sub/v1.2.0/subscriptions' }, successStatus: 200,
  },
  subscribeService: {
    id: 'eventsSubscribeService', summary: 'internal: subscribe service data', family: 'events', method: 'POST', path: '/internal/subscriptions/service',
    platform: { method: 'POST', path: '/iocm/app/sub/v1.2.0/subscriptions' }, body: ANY_BODY, successStatus: 201,
  },
  subscribeManagement: {
    id: 'eventsSubscribeManagement', summary: 'internal: subscribe management data', family: 'events', method: 'POST', path: '/internal/subscriptions/management',
    platform: { method: 'POST', path: '/iodm/app/sub/v1.1.0/subscribe' }, body: ANY_BODY, successStatus: 200,
  },
  remove: {
    id: 'eventsDeleteSubscription', summary: 'internal: delete a subscription', family: 'events', method: 'DELETE', path: '/internal/subscriptions/{subscriptionId}',
    platform: { method: 'DELETE', path: '/iocm/app/sub/v1.2.0/subscriptions/{subscriptionId}' }, successStatus: 204,
  },
} as const satisfies Record<string, RouteSpec>;

/** A platform subscription as the query lists it. */
export interface PlatformSubscription {
  subscriptionId: string;
  notifyType: string;
  callbackUrl: string;
}

/** What to change at the platform: a pure function of what exists and what is wanted, for unit and property tests. */
export interface SubscriptionPlan {
  /** notifyTypes to subscribe (not subscribed to our URL yet). */
  add: string[];
  /** Our subscriptions no webhook wants any more, and duplicates of wanted ones. */
  remove: string[];
  /** Wanted types already subscribed to our URL: reused. */
  keep: string[];
}

/**
 * Plans a reconciliation. Only subscriptions to `ourUrl` are ours to remove: a subscription of the same type
 * with another URL is replaced by subscribing ours (the platform keeps one callback per type and app), but never
 * deleted while nobody wants its type (it may be another system's).
 */
export function planSubscriptions(existing: readonly PlatformSubscription[], wanted: Iterable<string>, ourUrl: string): SubscriptionPlan {
  const want = new Set([...wanted].filter((t) => subscriptionApiOf(t) !== undefined));
  const ours = existing.filter((s) => s.callbackUrl === ourUrl);
  const kept = new Set<string>();
  const remove: string[] = [];
  for (const s of ours) {
    if (want.has(s.notifyType) && !kept.has(s.notifyType)) kept.add(s.notifyType);
    else remove.push(s.subscriptionId);
  }
  const add = [...want].filter((t) => !kept.has(t)).sort();
  return { add, remove, keep: [...kept].sort() };
}

/** Delay before the next try after a failed reconciliation: the refusal's Retry-After, else 1 s doubling to 5 min. */
export function retryDelay(failures: number, retryAfterSec?: number): number {
  if (retryAfterSec !== undefined && retryAfterSec > 0) return Math.min(retryAfterSec * 1000, 300_000);
  return Math.min(1000 * 2 ** Math.max(0, failures - 1), 300_000);
}

const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const RENEW_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
type ScriptRedis = Redis & {
  iotbffSubLockRelease(key: string, owner: string): Promise<number>;
  iotbffSubLockRenew(key: string, owner: string, ms: number): Promise<number>;
};

export interface SubscriptionManagerOptions {
  redis: Redis;
  keyPrefix: string;
  forwarder: Pick<Forwarder, 'forward'>;
  logger: Logger;
  apps: () => Iterable<string>;
  /** The app's callback URL (holds the path token: never logged). */
  callbackUrl: (appId: string) => string;
  /** Every notifyType some webhook of the app wants. */
  wanted: (appId: string) => Promise<Set<string>>;
  /** PLATFORM_TIMEOUT_MS: the deadline of each platform call. */
  platformTimeoutMs: number;
  /** Unique per process: the lock's owner. */
  owner: string;
  /** How often the applied state is re-checked (Redis only) and, after `verifyMs`, against the platform (one query). */
  checkIntervalMs?: number;
  verifyMs?: number;
}

interface Applied {
  url: string;
  types: string[];
  at: number;
}

/**
 * One reconciliation per app at a time across replicas: a Redis lock (`{appId}` hash tag) decides who calls the
 * platform, and the applied state in Redis lets every other replica see that nothing is left to do without
 * spending quota. A failed or refused reconciliation is retried with backoff; a change that arrives while
 * another replica holds the lock is retried too, so that it is never lost.
 */
export class SubscriptionManager {
  private readonly redis: ScriptRedis;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private checkTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly lockMs: number;

  constructor(private readonly o: SubscriptionManagerOptions) {
    // defineCommand: EVALSHA with a fallback to EVAL, so a flushed script cache (NOSCRIPT) costs nothing.
    if (typeof (o.redis as unknown as Record<string, unknown>).iotbffSubLockRelease !== 'function') {
      o.redis.defineCommand('iotbffSubLockRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
      o.redis.defineCommand('iotbffSubLockRenew', { numberOfKeys: 1, lua: RENEW_LUA });
    }
    this.redis = o.redis as ScriptRedis;
    // Longer than one platform call; renewed before each call, so a live holder never loses it mid-run.
    this.lockMs = o.platformTimeoutMs * 2 + 5_000;
  }

  private key(kind: 'lock' | 'state', appId: string): string {
    return `${this.o.keyPrefix}evsub${kind}:{${appId}}`;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    for (const appId of this.o.apps()) this.reconcile(appId);
    const every = this.o.checkIntervalMs ?? 60_000;
    this.checkTimer = setInterval(() => {
      for (const appId of this.o.apps()) if (!this.timers.has(appId)) this.reconcile(appId);
    }, every);
    this.checkTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.checkTimer);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.running.values()]);
  }

  /** Asks for a reconciliation of the app (webhooks changed, or a periodic check); never throws. */
  reconcile(appId: string): void {
    if (this.stopped) return;
    if (this.running.has(appId)) {
      this.again.add(appId);
      return;
    }
    const run = this.runOnce(appId)
      .then((done) => {
        if (done) this.failures.delete(appId);
        else this.retryLater(appId);
      })
      .catch((err: unknown) => {
        const retryAfter = err instanceof GatewayError ? err.retryAfter : undefined;
        this.o.logger.warn({ appId, code: err instanceof GatewayError ? err.code : 'error' }, 'platform subscriptions: reconciliation failed; retrying');
        this.retryLater(appId, retryAfter);
      })
      .finally(() => {
        this.running.delete(appId);
        if (this.again.delete(appId)) this.reconcile(appId);
      });
    this.running.set(appId, run);
  }

  /** Resolves when no reconciliation of the app is running or scheduled (tests, shutdown). */
  async settled(appId: string): Promise<void> {
    while (this.running.has(appId)) await this.running.get(appId);
  }

  private retryLater(appId: string, retryAfterSec?: number): void {
    if (this.stopped) return;
    const n = (this.failures.get(appId) ?? 0) + 1;
    this.failures.set(appId, n);
    clearTimeout(this.timers.get(appId));
    const t = setTimeout(() => {
      this.timers.delete(appId);
      this.reconcile(appId);
    }, retryDelay(n, retryAfterSec));
    t.unref();
    this.timers.set(appId, t);
  }

  /** True when the platform matches what is wanted (or nothing was to do); false when another replica holds the lock. */
  private async runOnce(appId: string): Promise<boolean> {
    const url = this.o.callbackUrl(appId);
    const wanted = [...(await this.o.wanted(appId))].filter((t) => subscriptionApiOf(t) !== undefined).sort();
    const stateKey = this.key('state', appId);
    const applied = parseApplied(await this.redis.get(stateKey));
    const verifyMs = this.o.verifyMs ?? 3_600_000;
    if (applied && applied.url === url && sameList(applied.types, wanted) && Date.now() - applied.at < verifyMs) return true;
    // Nothing wanted and nothing ever applied: no platform call at all.
    if (!applied && wanted.length === 0) return true;

    const lockKey = this.key('lock', appId);
    const got = await this.redis.set(lockKey, this.o.owner, 'PX', this.lockMs, 'NX');
    if (got !== 'OK') return false;
    try {
      // Another replica may have finished while we read: check again under the lock.
      const now = parseApplied(await this.redis.get(stateKey));
      if (now && now.url === url && sameList(now.types, wanted) && Date.now() - now.at < verifyMs) return true;
      const call = async (spec: RouteSpec, input: { params?: Record<string, string>; query?: Record<string, unknown>; body?: unknown }) => {
        if ((await this.redis.iotbffSubLockRenew(lockKey, this.o.owner, this.lockMs)) !== 1) throw new Error('subscription lock lost');
        return this.o.forwarder.forward(spec, {
          appId,
          params: input.params ?? {},
          query: input.query ?? {},
          body: input.body,
          deadline: Date.now() + this.o.platformTimeoutMs,
          log: this.o.logger,
        });
      };
      const existing: PlatformSubscription[] = [];
      const pageSize = 100;
      for (let pageNo = 0; pageNo < 20; pageNo++) {
        const r = await call(SUBSCRIPTION_APIS.list, { query: { pageNo, pageSize } });
        const page = readSubscriptions(r.body);
        existing.push(...page.items);
        if (page.items.length < pageSize || existing.length >= page.total) break;
      }
      const plan = planSubscriptions(existing, wanted, url);
      for (const notifyType of plan.add) {
        const spec = subscriptionApiOf(notifyType) === 'management' ? SUBSCRIPTION_APIS.subscribeManagement : SUBSCRIPTION_APIS.subscribeService;
        await call(spec, { body: { notifyType, callbackUrl: url } });
      }
      for (const subscriptionId of plan.remove) await call(SUBSCRIPTION_APIS.remove, { params: { subscriptionId } });
      await this.redis.set(stateKey, JSON.stringify({ url, types: wanted, at: Date.now() } satisfies Applied));
      // Types and counts only: the URL holds the callback token.
      this.o.logger.info({ appId, added: plan.add, removed: plan.remove.length, kept: plan.keep.length }, 'platform subscriptions reconciled');
      return true;
    } finally {
      await this.redis.iotbffSubLockRelease(lockKey, this.o.owner).catch(() => undefined);
    }
  }
}

function parseApplied(text: string | null): Applied | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Applied;
    return typeof v.url === 'string' && Array.isArray(v.types) && typeof v.at === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

function readSubscriptions(body: unknown): { items: PlatformSubscription[]; total: number } {
  const b = (body ?? {}) as { subscriptions?: unknown; totalCount?: unknown };
  const list = Array.isArray(b.subscriptions) ? b.subscriptions : [];
  const items = list.filter(
    (s): s is PlatformSubscription =>
      typeof s === 'object' && s !== null && typeof s.subscriptionId === 'string' && typeof s.notifyType === 'string' && typeof s.callbackUrl === 'string',
  );
  return { items, total: typeof b.totalCount === 'number' ? b.totalCount : items.length };
}
