// Compat sessions: the gateway's own random access and refresh tokens for SDK callers, kept only as SHA-256 digests (Redis, shared by replicas; or in process).
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/** What a login or refresh hands out; the tokens exist in clear only in this answer. */
export interface SessionGrant {
  accessToken: string;
  refreshToken: string;
  /** Seconds. */
  expiresIn: number;
}

/** A live session: who logged in, for which app. */
export interface Session {
  appId: string;
  /** The gateway client (GATEWAY_CLIENTS name) whose key was the login's secret. */
  client: string;
}

export interface SessionStore {
  /** A new access and refresh token for `client` acting for `appId`. */
  issue(appId: string, client: string): Promise<SessionGrant>;
  /** The session of an access token presented for `appId`; null when unknown, expired, or another app's. */
  check(appId: string, accessToken: string): Promise<Session | null>;
  /** Trades a refresh token of `client` for a new pair; the old refresh token is spent. Null when it is not valid. */
  refresh(appId: string, client: string, refreshToken: string): Promise<SessionGrant | null>;
}

/** The platform's refresh tokens live a month (platform-api.md §2.1); so do ours. */
export const REFRESH_TTL_SEC = 30 * 24 * 3600;

/** 32 random bytes: unguessable, and nothing in them says which app or client they belong to. */
const newToken = (): string => randomBytes(32).toString('base64url');

/** Only digests are stored: a copy of Redis lets nobody act as a caller. */
export const digest = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/**
 * Keys carry the `{appId}` hash tag, so that one app's session keys live on one Redis Cluster slot (as the
 * gateway's other per-app keys do). The value is the client's name.
 */
export function sessionKey(prefix: string, kind: 'access' | 'refresh', appId: string, token: string): string {
  return `${prefix}compat:{${appId}}:${kind}:${digest(token)}`;
}

export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSec: number,
  ) {}

  async issue(appId: string, client: string): Promise<SessionGrant> {
    const grant = { accessToken: newToken(), refreshToken: newToken(), expiresIn: this.ttlSec };
    // One round trip; each key expires on its own (Redis drops a session nobody uses).
    await this.redis
      .multi()
      .set(sessionKey(this.prefix, 'access', appId, grant.accessToken), client, 'EX', this.ttlSec)
      .set(sessionKey(this.prefix, 'refresh', appId, grant.refreshToken), client, 'EX', REFRESH_TTL_SEC)
      .exec();
    return grant;
  }

  async check(appId: string, accessToken: string): Promise<Session | null> {
    const client = await this.redis.get(sessionKey(this.prefix, 'access', appId, accessToken));
    return client === null ? null : { appId, client };
  }

  async refresh(appId: string, client: string, refreshToken: string): Promise<SessionGrant | null> {
    // GETDEL: a refresh token is spent once, even when two replicas receive it at the same moment.
    const owner = await this.redis.getdel(sessionKey(this.prefix, 'refresh', appId, refreshToken));
    if (owner === null || owner !== client) return null;
    return this.issue(appId, client);
  }
}

/** REDIS_URL=memory: one replica, sessions in this process. */
export class MemorySessionStore implements SessionStore {
  private readonly entries = new Map<string, { client: string; expiresAt: number }>();

  constructor(
    private readonly ttlSec: number,
    private readonly now: () => number = Date.now,
  ) {}

  async issue(appId: string, client: string): Promise<SessionGrant> {
    this.sweep();
    const grant = { accessToken: newToken(), refreshToken: newToken(), expiresIn: this.ttlSec };
    const t = this.now();
    this.entries.set(sessionKey('', 'access', appId, grant.accessToken), { client, expiresAt: t + this.ttlSec * 1000 });
    this.entries.set(sessionKey('', 'refresh', appId, grant.refreshToken), { client, expiresAt: t + REFRESH_TTL_SEC * 1000 });
    return grant;
  }

  async check(appId: string, accessToken: string): Promise<Session | null> {
    const e = this.live(sessionKey('', 'access', appId, accessToken));
    return e ? { appId, client: e.client } : null;
  }

  async refresh(appId: string, client: string, refreshToken: string): Promise<SessionGrant | null> {
    const key = sessionKey('', 'refresh', appId, refreshToken);
    const e = this.live(key);
    this.entries.delete(key);
    if (!e || e.client !== client) return null;
    return this.issue(appId, client);
  }

  private live(key: string): { client: string; expiresAt: number } | undefined {
    const e = this.entries.get(key);
    if (e && e.expiresAt > this.now()) return e;
    if (e) this.entries.delete(key);
    return undefined;
  }

  /** Expired sessions go at the next login, so that the map stays bounded by the live ones. */
  private sweep(): void {
    const t = this.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= t) this.entries.delete(k);
  }
}
