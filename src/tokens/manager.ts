// Platform access tokens per app: one login or refresh in flight across all replicas, a shared copy in the store, an in-process copy for the hot path.
import { randomUUID } from 'node:crypto';
import type { AppConfig } from '../config.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { PlatformError, type PlatformClient, type TokenGrant } from '../platform/client.js';
import { toGatewayError } from '../platform/normalize.js';
import { refusalError, type QuotaLimiter, type Slot } from '../quota/limiter.js';
import { loginBackoffMs, renewAt } from './policy.js';
import type { StoredToken, TokenStore } from './store.js';

/** Platform codes that mean "these credentials are refused": back off instead of trying again at once. */
const CREDENTIAL_REFUSALS = new Set(['100208', '100247', '102202', '100025']);
/** A token this close to expiry is not handed out: the call would outlive it. */
const EXPIRY_GUARD_MS = 1000;
/** Waiters re-read the store at least this often, even if a change notice is lost. */
const WAIT_POLL_MS = 200;

export interface TokenManagerOptions {
  store: TokenStore;
  client: PlatformClient;
  limiter: QuotaLimiter;
  apps: ReadonlyMap<string, AppConfig>;
  lockTtlMs: number;
  platformTimeoutMs: number;
  replicas: number;
  metrics: Metrics;
  logger: Logger;
  replicaId: string;
}

export class TokenManager {
  private readonly local = new Map<string, StoredToken>();
  /** The last token the platform rejected per app: never handed out again, whatever a stale read says. */
  private readonly rejected = new Map<string, string>();
  private readonly inflight = new Map<string, Promise<StoredToken>>();
  private readonly failures = new Map<string, number>();
  private readonly wakers = new Map<string, Set<() => void>>();
  /** Apps whose login or refresh this process has sent and not yet seen answered. */
  private readonly calling = new Set<string>();

  constructor(private readonly o: TokenManagerOptions) {
    o.store.onChange((appId) => {
      const set = this.wakers.get(appId);
      if (set) for (const wake of set) wake();
    });
  }

  /** A valid access token for `appId`; from memory in the steady state, with no I/O. */
  async get(appId: string, deadline: number): Promise<string> {
    const now = Date.now();
    const t = this.local.get(appId);
    if (t && now < t.renewAt) return t.accessToken;
    if (t && now < t.expiresAt - EXPIRY_GUARD_MS) {
      // Still good: renew behind the caller's back instead of making it wait.
      this.renew(appId).catch((err: unknown) => this.o.logger.warn({ app: appId, err }, 'background token renewal failed'));
      return t.accessToken;
    }
    return (await this.renew(appId, deadline)).accessToken;
  }

  /**
   * The platform rejected `token` (1010005). Forget it here, and in the store only if it is still the
   * current one there: another replica may already have replaced it, and that newer token must stay.
   */
  async invalidate(appId: string, token: string): Promise<void> {
    this.rejected.set(appId, token);
    if (this.local.get(appId)?.accessToken === token) this.local.delete(appId);
    this.o.metrics.tokenEvents.inc({ app: appId, event: 'reject_retry' });
    try {
      await this.o.store.dropIfCurrent(appId, token);
    } catch (err) {
      this.o.logger.warn({ app: appId, err }, 'could not drop a rejected token from the store');
    }
  }

  /** In-process single flight: one renewal per app per process; the cross-replica lock is inside. */
  private renew(appId: string, deadline?: number): Promise<StoredToken> {
    let p = this.inflight.get(appId);
    if (!p) {
      p = this.acquire(appId).finally(() => this.inflight.delete(appId));
      this.inflight.set(appId, p);
    }
    // A caller that gives up while this process's own login or refresh is still out has met a slow
    // platform (the circuit breaker counts that); one waiting for another replica's lock has not.
    return deadline === undefined ? p : withDeadline(p, deadline, () => this.calling.has(appId));
  }

  private usable(t: StoredToken | null, appId: string, now: number, needFresh: boolean): t is StoredToken {
    if (!t || t.accessToken === this.rejected.get(appId)) return false;
    return needFresh ? now < t.renewAt : now < t.expiresAt - EXPIRY_GUARD_MS;
  }

  private adopt(appId: string, t: StoredToken): StoredToken {
    this.local.set(appId, t);
    return t;
  }

  /**
   * Cross-replica single flight: read the store; if nobody has a fresh token, take the app's lock and
   * renew; otherwise wait for the holder's change notice (or the lock's expiry, if the holder died).
   * Bounded by the lock's lifetime and the platform deadline, not by any caller.
   */
  private async acquire(appId: string): Promise<StoredToken> {
    const { store, lockTtlMs } = this.o;
    const owner = `${this.o.replicaId}:${randomUUID()}`;
    const giveUpAt = Date.now() + lockTtlMs + this.o.platformTimeoutMs;
    let waited = false;
    for (;;) {
      let stored: StoredToken | null;
      try {
        stored = await store.get(appId);
      } catch (err) {
        return this.withoutStore(appId, err);
      }
      const now = Date.now();
      if (this.usable(stored, appId, now, true)) return this.adopt(appId, stored);
      await this.checkBlock(appId);
      let locked = false;
      try {
        locked = await store.tryLock(appId, owner, lockTtlMs);
      } catch (err) {
        return this.withoutStore(appId, err);
      }
      if (locked) {
        try {
          const again = await store.get(appId).catch(() => stored);
          if (this.usable(again, appId, Date.now(), true)) return this.adopt(appId, again);
          const fresh = await this.obtain(appId, again ?? stored);
          // The platform has issued it, so it is the app's only valid token now: use it even if it
          // cannot be shared (the others will meet 1010005 and come back through the store).
          await store.put(appId, fresh).catch((err: unknown) => {
            this.o.logger.warn({ app: appId, err }, 'could not share a new token through the store');
          });
          return this.adopt(appId, fresh);
        } finally {
          await store.unlock(appId, owner).catch(() => undefined);
        }
      }
      // Someone else is renewing; a token that is still valid serves meanwhile.
      if (this.usable(stored, appId, now, false)) return this.adopt(appId, stored);
      if (!waited) this.o.metrics.tokenEvents.inc({ app: appId, event: 'wait' });
      waited = true;
      if (now >= giveUpAt) throw new GatewayError('UPSTREAM_TIMEOUT', { message: 'Timed out waiting for a platform token.' });
      await this.waitForChange(appId, WAIT_POLL_MS);
    }
  }

  /**
   * The store is unreachable. One replica may log in on its own; several must not (each login
   * revokes the others' tokens), so they serve from memory while it lasts and refuse after.
   */
  private async withoutStore(appId: string, err: unknown): Promise<StoredToken> {
    const t = this.local.get(appId);
    if (this.usable(t ?? null, appId, Date.now(), false)) return t as StoredToken;
    if (this.o.replicas > 1) {
      this.o.logger.warn({ app: appId, err }, 'token store unreachable and no usable token in memory');
      throw new GatewayError('SERVICE_UNAVAILABLE', {
        message: 'The token store is unreachable; a platform login cannot be coordinated now.',
        retryAfter: 1,
      });
    }
    return this.adopt(appId, await this.obtain(appId, t ?? null));
  }

  private async checkBlock(appId: string): Promise<void> {
    let block = null;
    try {
      block = await this.o.store.getBlock(appId);
    } catch {
      return;
    }
    if (block && block.until > Date.now()) {
      throw new GatewayError('UPSTREAM_AUTH_FAILED', {
        platformCode: block.platformCode,
        retryAfter: Math.ceil((block.until - Date.now()) / 1000),
      });
    }
  }

  /** Refresh if we hold a refresh token, a fresh login otherwise or if refreshing fails. Each is a platform call and takes a quota slot. */
  private async obtain(appId: string, previous: StoredToken | null): Promise<StoredToken> {
    this.calling.add(appId);
    try {
      return await this.obtainFromPlatform(appId, previous);
    } finally {
      this.calling.delete(appId);
    }
  }

  private async obtainFromPlatform(appId: string, previous: StoredToken | null): Promise<StoredToken> {
    const app = this.o.apps.get(appId);
    if (!app) throw new GatewayError('NOT_FOUND');
    const deadline = Date.now() + Math.min(this.o.platformTimeoutMs, this.o.lockTtlMs);
    if (previous?.refreshToken && Date.now() < previous.expiresAt) {
      const slot = await this.takeSlot(appId);
      try {
        const grant = await this.o.client
          .refresh(appId, app.secret, previous.refreshToken, deadline)
          .finally(() => this.o.limiter.done(slot));
        this.o.metrics.tokenEvents.inc({ app: appId, event: 'refresh' });
        return this.stored(appId, grant);
      } catch (err) {
        if (!(err instanceof PlatformError) || err.kind !== 'code' || err.platformCode === '1010009') throw await this.fail(appId, err);
        this.o.logger.info({ app: appId, platformCode: err.platformCode }, 'token refresh refused; logging in');
      }
    }
    const slot = await this.takeSlot(appId);
    try {
      const grant = await this.o.client.login(appId, app.secret, deadline).finally(() => this.o.limiter.done(slot));
      this.o.metrics.tokenEvents.inc({ app: appId, event: 'login' });
      return this.stored(appId, grant);
    } catch (err) {
      throw await this.loginFailed(appId, err);
    }
  }

  private async takeSlot(appId: string): Promise<Slot> {
    const d = await this.o.limiter.take(appId);
    if (!d.allowed) throw refusalError(d);
    return d.slot;
  }

  private stored(appId: string, g: TokenGrant): StoredToken {
    this.failures.delete(appId);
    this.rejected.delete(appId);
    const issuedAt = Date.now();
    return {
      accessToken: g.accessToken,
      refreshToken: g.refreshToken,
      issuedAt,
      expiresAt: issuedAt + g.expiresIn * 1000,
      renewAt: renewAt(issuedAt, g.expiresIn),
    };
  }

  private async loginFailed(appId: string, err: unknown): Promise<GatewayError> {
    if (err instanceof PlatformError && err.kind === 'code' && CREDENTIAL_REFUSALS.has(err.platformCode ?? '')) {
      const n = (this.failures.get(appId) ?? 0) + 1;
      this.failures.set(appId, n);
      const until = Date.now() + loginBackoffMs(n);
      this.o.metrics.tokenEvents.inc({ app: appId, event: 'login_failed' });
      this.o.logger.error({ app: appId, platformCode: err.platformCode, failures: n }, 'platform refused the app credentials');
      await this.o.store.setBlock(appId, { until, platformCode: err.platformCode ?? '' }).catch(() => undefined);
      return new GatewayError('UPSTREAM_AUTH_FAILED', {
        platformCode: err.platformCode,
        retryAfter: Math.ceil((until - Date.now()) / 1000),
      });
    }
    return await this.fail(appId, err);
  }

  private async fail(appId: string, err: unknown): Promise<GatewayError> {
    if (err instanceof GatewayError) return err;
    if (err instanceof PlatformError) {
      // The login itself was throttled: the same hold-back and the same answer as for any call.
      if (err.platformCode === '1010009') return refusalError(await this.o.limiter.holdBack(appId));
      return toGatewayError(err);
    }
    return new GatewayError('INTERNAL', { cause: err });
  }

  private waitForChange(appId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.wakers.get(appId);
      if (!set) {
        set = new Set();
        this.wakers.set(appId, set);
      }
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }
}

/** Lets a caller stop waiting at its own deadline while the shared renewal goes on for the others. */
function withDeadline<T>(p: Promise<T>, deadline: number, platformIsSlow: () => boolean): Promise<T> {
  const timeout = () =>
    new GatewayError('UPSTREAM_TIMEOUT', {
      message: 'Timed out waiting for a platform token.',
      ...(platformIsSlow() ? { cause: new PlatformError('timeout', 'login or refresh still unanswered', { sent: true }) } : {}),
    });
  const ms = deadline - Date.now();
  if (ms <= 0) return Promise.reject(timeout());
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timeout()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
