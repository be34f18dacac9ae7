// Platform access tokens per app: one login or refresh in flight across all replicas, a shared copy in the store, an in-process copy for the hot path.
import { randomUUID } from 'node:crypto';
import type { AppConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { PlatformError, type PlatformClient, type TokenGrant } from '../platform/client.js';
import { PLATFORM_CODE, type CodeCatalog } from '../platform/codes.js';
import type { QuotaLimiter } from '../quota/limiter.js';
import type { TokenFailure, TokenOutcome } from './outcome.js';
import { loginBackoffMs, renewAt } from './policy.js';
import type { StoredToken, TokenStore } from './store.js';

export type { TokenFailure, TokenOutcome } from './outcome.js';

/** A token this close to expiry is not handed out: the call would outlive it. */
const EXPIRY_GUARD_MS = 1000;
/** Waiters re-read the store at least this often, even if a change notice is lost. */
const WAIT_POLL_MS = 200;
/** With several replicas and no store, a caller may try again after this. */
const STORE_RETRY_MS = 1000;

export interface TokenManagerOptions {
  store: TokenStore;
  client: PlatformClient;
  limiter: QuotaLimiter;
  /** Says which platform codes refuse the app's credentials (their logins back off). */
  catalog: CodeCatalog;
  apps: ReadonlyMap<string, AppConfig>;
  lockTtlMs: number;
  platformTimeoutMs: number;
  /** How long a waiter waits for another replica's login before giving up (Config.tokenWaitLimitMs). */
  waitLimitMs: number;
  /** The lock holder's own login deadline, never past its lock (Config.tokenLoginDeadlineMs). */
  loginDeadlineMs: number;
  replicas: number;
  metrics: Metrics;
  logger: Logger;
  replicaId: string;
}

/** A token obtained or adopted, or why not: what the single flight shares between its waiters. */
type Acquired = { readonly ok: true; readonly stored: StoredToken } | TokenFailure;
/** A grant from the platform, or why not. */
type Obtained = { readonly ok: true; readonly grant: TokenGrant } | TokenFailure;

export class TokenManager {
  private readonly local = new Map<string, StoredToken>();
  /** The last token the platform rejected per app: never handed out again, whatever a stale read says. */
  private readonly rejected = new Map<string, string>();
  private readonly inflight = new Map<string, Promise<Acquired>>();
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

  /** A valid access token for `appId`, or why there is none; from memory in the steady state, with no I/O. */
  /** `client`: whose request needs it; a login or refresh may take that client's reserve when nothing else is free (contract §11). */
  async get(appId: string, deadline: number, client?: string): Promise<TokenOutcome> {
    const now = Date.now();
    const t = this.local.get(appId);
    if (t && now < t.renewAt) return { ok: true, token: t.accessToken };
    if (t && now < t.expiresAt - EXPIRY_GUARD_MS) {
      // Still good: renew behind the caller's back instead of making it wait.
      this.renew(appId, undefined, client).then(
        (r) => {
          if (!r.ok) this.o.logger.warn({ app: appId, reason: r.reason }, 'background token renewal failed');
        },
        (err: unknown) => this.o.logger.warn({ app: appId, err }, 'background token renewal failed'),
      );
      return { ok: true, token: t.accessToken };
    }
    const r = await this.renew(appId, deadline, client);
    return r.ok ? { ok: true, token: r.stored.accessToken } : r;
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
  private renew(appId: string, deadline?: number, client?: string): Promise<Acquired> {
    let p = this.inflight.get(appId);
    if (!p) {
      // The first request's client is the one whose request needs the renewal; the others share its result.
      p = this.acquire(appId, client).finally(() => this.inflight.delete(appId));
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

  private adopt(appId: string, t: StoredToken): Acquired {
    this.local.set(appId, t);
    return { ok: true, stored: t };
  }

  /**
   * Cross-replica single flight: read the store; if nobody has a fresh token, take the app's lock and
   * renew; otherwise wait for the holder's change notice (or the lock's expiry, if the holder died).
   * Bounded by the lock's lifetime and the platform deadline, not by any caller.
   */
  private async acquire(appId: string, client?: string): Promise<Acquired> {
    const { store, lockTtlMs } = this.o;
    const owner = `${this.o.replicaId}:${randomUUID()}`;
    const giveUpAt = Date.now() + this.o.waitLimitMs;
    let waited = false;
    for (;;) {
      let stored: StoredToken | null;
      try {
        stored = await store.get(appId);
      } catch (err) {
        return this.withoutStore(appId, err, client);
      }
      const now = Date.now();
      if (this.usable(stored, appId, now, true)) return this.adopt(appId, stored);
      const blocked = await this.loginBlock(appId);
      if (blocked) return blocked;
      let locked = false;
      try {
        locked = await store.tryLock(appId, owner, lockTtlMs);
      } catch (err) {
        return this.withoutStore(appId, err, client);
      }
      if (locked) {
        try {
          const again = await store.get(appId).catch(() => stored);
          if (this.usable(again, appId, Date.now(), true)) return this.adopt(appId, again);
          const fresh = await this.obtain(appId, again ?? stored, client);
          if (!fresh.ok) return fresh;
          // The platform has issued it, so it is the app's only valid token now: use it even if it
          // cannot be shared (the others will meet 1010005 and come back through the store).
          await store.put(appId, fresh.stored).catch((err: unknown) => {
            this.o.logger.warn({ app: appId, err }, 'could not share a new token through the store');
          });
          return this.adopt(appId, fresh.stored);
        } finally {
          await store.unlock(appId, owner).catch(() => undefined);
        }
      }
      // Someone else is renewing; a token that is still valid serves meanwhile.
      if (this.usable(stored, appId, now, false)) return this.adopt(appId, stored);
      if (!waited) this.o.metrics.tokenEvents.inc({ app: appId, event: 'wait' });
      waited = true;
      if (now >= giveUpAt) return { ok: false, reason: 'timeout', platformSlow: false };
      await this.waitForChange(appId, WAIT_POLL_MS);
    }
  }

  /**
   * The store is unreachable. One replica may log in on its own; several must not (each login
   * revokes the others' tokens), so they serve from memory while it lasts and refuse after.
   */
  private async withoutStore(appId: string, err: unknown, client?: string): Promise<Acquired> {
    const t = this.local.get(appId);
    if (this.usable(t ?? null, appId, Date.now(), false)) return { ok: true, stored: t as StoredToken };
    if (this.o.replicas > 1) {
      this.o.logger.warn({ app: appId, err }, 'token store unreachable and no usable token in memory');
      return { ok: false, reason: 'store-outage', retryAfterMs: STORE_RETRY_MS };
    }
    const fresh = await this.obtain(appId, t ?? null, client);
    return fresh.ok ? this.adopt(appId, fresh.stored) : fresh;
  }

  /** The back-off after refused credentials, shared by every replica through the store (unknown if the store fails). */
  private async loginBlock(appId: string): Promise<TokenFailure | undefined> {
    let block = null;
    try {
      block = await this.o.store.getBlock(appId);
    } catch {
      return undefined;
    }
    const now = Date.now();
    if (block && block.until > now) {
      return { ok: false, reason: 'credentials-refused', platformCode: block.platformCode, retryAfterMs: block.until - now };
    }
    return undefined;
  }

  /** Refresh if we hold a refresh token, a fresh login otherwise or if refreshing fails. Each is a platform call and takes a quota slot. */
  private async obtain(appId: string, previous: StoredToken | null, client?: string): Promise<Acquired> {
    this.calling.add(appId);
    try {
      const r = await this.obtainFromPlatform(appId, previous, client);
      return r.ok ? { ok: true, stored: this.stored(appId, r.grant) } : r;
    } finally {
      this.calling.delete(appId);
    }
  }

  private async obtainFromPlatform(appId: string, previous: StoredToken | null, client?: string): Promise<Obtained> {
    const app = this.o.apps.get(appId);
    if (!app) return { ok: false, reason: 'unknown-app' };
    const deadline = Date.now() + this.o.loginDeadlineMs;
    if (previous?.refreshToken && Date.now() < previous.expiresAt) {
      const slot = await this.o.limiter.take(appId, { client, kind: 'token' });
      if (slot.kind === 'refused') return { ok: false, reason: 'quota-refused', quota: slot };
      try {
        const grant = await this.o.client
          .refresh(appId, app.secret, previous.refreshToken, deadline)
          .finally(() => this.o.limiter.done(slot.slot));
        this.o.metrics.tokenEvents.inc({ app: appId, event: 'refresh' });
        return { ok: true, grant };
      } catch (err) {
        // A refused refresh (expired or revoked refresh token…) is worth a login; a throttled or failed one is not.
        if (!(err instanceof PlatformError) || err.kind !== 'code' || err.platformCode === PLATFORM_CODE.THROTTLED) {
          return await this.failed(appId, err);
        }
        this.o.logger.info({ app: appId, platformCode: err.platformCode }, 'token refresh refused; logging in');
      }
    }
    const slot = await this.o.limiter.take(appId, { client, kind: 'token' });
    if (slot.kind === 'refused') return { ok: false, reason: 'quota-refused', quota: slot };
    try {
      const grant = await this.o.client.login(appId, app.secret, deadline).finally(() => this.o.limiter.done(slot.slot));
      this.o.metrics.tokenEvents.inc({ app: appId, event: 'login' });
      return { ok: true, grant };
    } catch (err) {
      return await this.loginFailed(appId, err);
    }
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

  /** A login that failed: refused credentials (by the catalog's meaning) back off, shared by every replica. */
  private async loginFailed(appId: string, err: unknown): Promise<TokenFailure> {
    const code = err instanceof PlatformError && err.kind === 'code' ? (err.platformCode ?? '') : undefined;
    if (code !== undefined && this.o.catalog.lookup(code)?.meaning === 'credentials-refused') {
      const n = (this.failures.get(appId) ?? 0) + 1;
      this.failures.set(appId, n);
      const until = Date.now() + loginBackoffMs(n);
      this.o.metrics.tokenEvents.inc({ app: appId, event: 'login_failed' });
      this.o.logger.error({ app: appId, platformCode: code, failures: n }, 'platform refused the app credentials');
      await this.o.store.setBlock(appId, { until, platformCode: code }).catch(() => undefined);
      return { ok: false, reason: 'credentials-refused', platformCode: code, retryAfterMs: until - Date.now() };
    }
    return await this.failed(appId, err);
  }

  private async failed(appId: string, err: unknown): Promise<TokenFailure> {
    // Not a platform answer: a bug, for the error middleware (INTERNAL) rather than an outcome.
    if (!(err instanceof PlatformError)) throw err;
    // The login itself was throttled: the same hold-back and the same answer as for any call.
    if (err.platformCode === PLATFORM_CODE.THROTTLED) {
      return { ok: false, reason: 'quota-refused', quota: await this.o.limiter.holdBack(appId) };
    }
    return { ok: false, reason: 'platform-error', error: err };
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
function withDeadline(p: Promise<Acquired>, deadline: number, platformIsSlow: () => boolean): Promise<Acquired> {
  const timeout = (): Acquired => ({ ok: false, reason: 'timeout', platformSlow: platformIsSlow() });
  const ms = deadline - Date.now();
  if (ms <= 0) return Promise.resolve(timeout());
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<Acquired>((resolve) => {
      timer = setTimeout(() => resolve(timeout()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
