// Where tokens live between replicas: Redis (shared, with a lock and change notices) or process memory (demo, one replica).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
// RedisClient: one server, a Sentinel set or a Cluster (issue 14); the alias keeps this file's annotations.
import type { RedisClient as Redis } from '../redis.js';

export interface StoredToken {
  accessToken: string;
  refreshToken: string | undefined;
  /** Epoch ms. */
  issuedAt: number;
  expiresAt: number;
  renewAt: number;
}

export interface LoginBlock {
  until: number;
  platformCode: string;
}

export interface TokenStore {
  readonly shared: boolean;
  get(appId: string): Promise<StoredToken | null>;
  /** Stores the token for its lifetime and tells every replica that it changed. */
  put(appId: string, token: StoredToken): Promise<void>;
  /** Deletes the token only if it is still `accessToken` (a stale replica must not drop a fresh token). */
  dropIfCurrent(appId: string, accessToken: string): Promise<boolean>;
  tryLock(appId: string, owner: string, ttlMs: number): Promise<boolean>;
  unlock(appId: string, owner: string): Promise<void>;
  getBlock(appId: string): Promise<LoginBlock | null>;
  setBlock(appId: string, block: LoginBlock): Promise<void>;
  /** Calls `listener(appId)` when any replica stored a new token. */
  onChange(listener: (appId: string) => void): void;
  close(): Promise<void>;
}

const fingerprint = (token: string): string => createHash('sha256').update(token).digest('hex');

const CAD_LUA = `
if redis.call('HGET', KEYS[1], 'fp') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
const UNLOCK_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

type ScriptRedis = Redis & {
  iotbffTokenCad(key: string, fp: string): Promise<number>;
  iotbffUnlock(key: string, owner: string): Promise<number>;
};

/**
 * Tokens in a Redis hash. With an encryption key, the access and refresh tokens are sealed with
 * AES-256-GCM, so that a Redis dump or a replica of it does not hand out platform access.
 */
export class RedisTokenStore implements TokenStore {
  readonly shared = true;
  private readonly redis: ScriptRedis;
  private readonly events = new EventEmitter();
  private readonly channel: string;

  constructor(
    redis: Redis,
    subscriber: Redis,
    private readonly prefix: string,
    /** The first seals; each is tried to open (key rotation). */
    private readonly encryptionKeys: readonly Buffer[],
  ) {
    this.redis = redis as ScriptRedis;
    this.redis.defineCommand('iotbffTokenCad', { numberOfKeys: 1, lua: CAD_LUA });
    this.redis.defineCommand('iotbffUnlock', { numberOfKeys: 1, lua: UNLOCK_LUA });
    this.channel = `${prefix}token-events`;
    this.events.setMaxListeners(0);
    subscriber.on('message', (channel: string, appId: string) => {
      if (channel === this.channel) this.events.emit('change', appId);
    });
    // ioredis re-subscribes by itself after a reconnect; the first subscription is ours to make.
    const subscribe = () => void subscriber.subscribe(this.channel).catch(() => undefined);
    if (subscriber.status === 'ready') subscribe();
    subscriber.once('ready', subscribe);
  }

  private key(kind: string, appId: string): string {
    return `${this.prefix}${kind}:{${appId}}`;
  }

  private seal(text: string): string {
    const key = this.encryptionKeys[0];
    if (!key) return text;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  private open(stored: string): string {
    if (this.encryptionKeys.length === 0) return stored;
    if (!stored.startsWith('v1.')) throw new Error('token at rest is not sealed');
    const raw = Buffer.from(stored.slice(3), 'base64');
    for (const key of this.encryptionKeys) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
        decipher.setAuthTag(raw.subarray(12, 28));
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      } catch {
        // sealed with another key: try the next one
      }
    }
    throw new Error('token at rest sealed with an unknown key');
  }

  async get(appId: string): Promise<StoredToken | null> {
    const h = await this.redis.hgetall(this.key('token', appId));
    if (!h.at || !h.exp) return null;
    try {
      return {
        accessToken: this.open(h.at),
        refreshToken: h.rt ? this.open(h.rt) : undefined,
        issuedAt: Number(h.iat),
        expiresAt: Number(h.exp),
        renewAt: Number(h.renew),
      };
    } catch {
      // Sealed with another key (key rotation) or tampered with: treat as absent, a login replaces it.
      return null;
    }
  }

  async put(appId: string, t: StoredToken): Promise<void> {
    const key = this.key('token', appId);
    const fields: Record<string, string> = {
      at: this.seal(t.accessToken),
      fp: fingerprint(t.accessToken),
      iat: String(t.issuedAt),
      exp: String(t.expiresAt),
      renew: String(t.renewAt),
    };
    if (t.refreshToken) fields.rt = this.seal(t.refreshToken);
    await this.redis
      .multi()
      .del(key)
      .hset(key, fields)
      .pexpireat(key, t.expiresAt)
      .publish(this.channel, appId)
      .exec();
  }

  async dropIfCurrent(appId: string, accessToken: string): Promise<boolean> {
    return (await this.redis.iotbffTokenCad(this.key('token', appId), fingerprint(accessToken))) === 1;
  }

  async tryLock(appId: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.key('token-lock', appId), owner, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async unlock(appId: string, owner: string): Promise<void> {
    await this.redis.iotbffUnlock(this.key('token-lock', appId), owner);
  }

  async getBlock(appId: string): Promise<LoginBlock | null> {
    const v = await this.redis.get(this.key('login-block', appId));
    if (!v) return null;
    const [until, platformCode] = v.split(':');
    return { until: Number(until), platformCode: platformCode ?? '' };
  }

  async setBlock(appId: string, block: LoginBlock): Promise<void> {
    const ms = block.until - Date.now();
    if (ms > 0) await this.redis.set(this.key('login-block', appId), `${block.until}:${block.platformCode}`, 'PX', ms);
  }

  onChange(listener: (appId: string) => void): void {
    this.events.on('change', listener);
  }

  async close(): Promise<void> {
    this.events.removeAllListeners();
  }
}

/** The in-process store of `REDIS_URL=memory`: correct for one replica, and only for one. */
export class MemoryTokenStore implements TokenStore {
  readonly shared = false;
  private readonly tokens = new Map<string, StoredToken>();
  private readonly locks = new Map<string, { owner: string; until: number }>();
  private readonly blocks = new Map<string, LoginBlock>();
  private readonly events = new EventEmitter();

  async get(appId: string): Promise<StoredToken | null> {
    const t = this.tokens.get(appId);
    return t && t.expiresAt > Date.now() ? t : null;
  }
  async put(appId: string, token: StoredToken): Promise<void> {
    this.tokens.set(appId, token);
    this.events.emit('change', appId);
  }
  async dropIfCurrent(appId: string, accessToken: string): Promise<boolean> {
    if (this.tokens.get(appId)?.accessToken !== accessToken) return false;
    return this.tokens.delete(appId);
  }
  async tryLock(appId: string, owner: string, ttlMs: number): Promise<boolean> {
    const l = this.locks.get(appId);
    if (l && l.until > Date.now()) return false;
    this.locks.set(appId, { owner, until: Date.now() + ttlMs });
    return true;
  }
  async unlock(appId: string, owner: string): Promise<void> {
    if (this.locks.get(appId)?.owner === owner) this.locks.delete(appId);
  }
  async getBlock(appId: string): Promise<LoginBlock | null> {
    const b = this.blocks.get(appId);
    return b && b.until > Date.now() ? b : null;
  }
  async setBlock(appId: string, block: LoginBlock): Promise<void> {
    this.blocks.set(appId, block);
  }
  onChange(listener: (appId: string) => void): void {
    this.events.on('change', listener);
  }
  async close(): Promise<void> {
    this.events.removeAllListeners();
  }
}
