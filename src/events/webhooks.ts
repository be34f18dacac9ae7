// The webhook registry in Redis: create (secret shown once), list/get/delete per app and owning client, URL and notifyType validation, secrets sealed at rest.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
// RedisClient: one server, a Sentinel set or a Cluster (issue 14); the alias keeps this file's annotations.
import type { RedisClient as Redis } from '../redis.js';
import Joi from 'joi';
import { GatewayError, type ErrorDetail } from '../errors.js';
import { eventKeys, groupOf, type EventKeys } from './keys.js';
import { NOTIFY_TYPES } from './notify.js';

/**
 * How deliveries are made. `envelope` (contract §10): the gateway's JSON around the platform's body, signed
 * (Standard Webhooks). `raw` (contract §14, subscriptions made through the compat port): the platform's push
 * body unchanged, unsigned, as a service used to receive it from the platform. /v1 creates envelope webhooks only.
 */
export type WebhookFormat = 'envelope' | 'raw';

/** What a webhook's owner sees (never the secret, except in the answer to create). */
export interface WebhookView {
  id: string;
  url: string;
  notifyTypes: string[];
  format: WebhookFormat;
  createdAt: string;
}

export interface CreatedWebhook extends WebhookView {
  /** `whsec_<base64 of 32 random bytes>`: shown once, in this answer only; absent for a raw webhook (nothing is signed). */
  secret?: string;
}

/** The stored record: the owner and the sealed secret stay inside the gateway. */
interface WebhookRecord extends Omit<WebhookView, 'format'> {
  owner: string;
  /** Absent on records written before formats existed: envelope. */
  format?: WebhookFormat;
  /** AES-256-GCM of the secret: base64(iv | tag | ciphertext); absent for a raw webhook. */
  sealed?: string;
}

/** A webhook as the delivery workers need it. */
export interface WebhookTarget {
  id: string;
  appId: string;
  url: string;
  notifyTypes: ReadonlySet<string>;
  format: WebhookFormat;
  /** The signing secret (whsec_…) of an envelope webhook; '' for a raw one. Never log a WebhookTarget. */
  secret: string;
}

export interface WebhookInput {
  url: string;
  notifyTypes: string[];
}

export interface WebhookRegistryOptions {
  redis: Redis;
  keyPrefix: string;
  /** Keys that seal secrets at rest (32 bytes each; the first seals, all are tried to open). */
  sealKeys: readonly Buffer[];
  /** WEBHOOK_ALLOWED_HOSTS: host patterns ("svc.internal", "*.corp.example", "10.0.0.7"); empty = any host. */
  allowedHosts?: readonly string[];
  /** Bound per app, so that delivery work per app stays bounded. */
  maxPerApp?: number;
}

/** A sealing key derived from CALLBACK_SECRET, for deployments that give no dedicated key. */
export function deriveSealKey(callbackSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', callbackSecret, 'iot-bff', 'webhook secret sealing v1', 32));
}

function seal(key: Buffer, plain: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
}

function open(keys: readonly Buffer[], sealed: string): string | undefined {
  const buf = Buffer.from(sealed, 'base64');
  for (const key of keys) {
    try {
      const d = createDecipheriv('aes-256-gcm', key, buf.subarray(0, 12));
      d.setAuthTag(buf.subarray(12, 28));
      return Buffer.concat([d.update(buf.subarray(28)), d.final()]).toString('utf8');
    } catch {
      // not this key: try the next (rotation)
    }
  }
  return undefined;
}

/** Whether `host` matches one pattern: exact, or "*.suffix" for any subdomain of suffix. Case-insensitive. */
export function hostAllowed(host: string, patterns: readonly string[]): boolean {
  if (patterns.length === 0) return true;
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return patterns.some((p) => {
    const q = p.trim().toLowerCase();
    if (q.startsWith('*.')) return h.endsWith(q.slice(1)) && h.length > q.length - 1;
    return h === q.replace(/^\[|\]$/g, '');
  });
}

const inputSchema = Joi.object({
  url: Joi.string().max(2048).required(),
  notifyTypes: Joi.array()
    .items(Joi.string().valid(...NOTIFY_TYPES))
    .min(1)
    .unique()
    .required(),
}).prefs({ abortEarly: false, convert: false });

/** Checks a create body; throws VALIDATION_FAILED listing every problem. */
export function validateWebhookInput(body: unknown, allowedHosts: readonly string[] = []): WebhookInput {
  const { error, value } = inputSchema.validate(body ?? {});
  const details: ErrorDetail[] = (error?.details ?? []).map((d) => ({ field: d.path.join('.') || 'body', message: d.message }));
  const input = value as WebhookInput;
  if (typeof input?.url === 'string' && !details.some((d) => d.field === 'url')) {
    let u: URL | undefined;
    try {
      u = new URL(input.url);
    } catch {
      details.push({ field: 'url', message: '"url" must be an absolute URL' });
    }
    if (u) {
      if (u.protocol !== 'http:' && u.protocol !== 'https:') details.push({ field: 'url', message: '"url" must be http or https' });
      else if (!u.hostname) details.push({ field: 'url', message: '"url" must have a host' });
      // Credentials in a URL would be shown in every listing and log line that prints it.
      else if (u.username || u.password) details.push({ field: 'url', message: '"url" must not contain credentials' });
      else if (!hostAllowed(u.hostname, allowedHosts)) details.push({ field: 'url', message: '"url" host is not allowed' });
    }
  }
  if (details.length > 0) throw new GatewayError('VALIDATION_FAILED', { details });
  return input;
}

/**
 * Creates the record and the webhook's consumer group together, starting at the stream's end ("$"):
 * a new webhook gets the events that arrive after it, not the backlog. BUSYGROUP (run twice) is fine.
 * KEYS: webhooks hash, stream. ARGV: id, record JSON, group, max per app.
 */
const CREATE_LUA = `
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.pcall('XGROUP', 'CREATE', KEYS[2], ARGV[3], '$', 'MKSTREAM')
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

/**
 * Deletes a webhook only for its owner, with its group and delivery state. Returns 1 if deleted, 0 if absent or not owned.
 * KEYS: webhooks hash, stream, lease, retries, attempts, failed, log. ARGV: id, owner, group.
 */
const DELETE_LUA = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
if rec.owner ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.pcall('XGROUP', 'DESTROY', KEYS[2], ARGV[3])
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
return 1`;

type ScriptRedis = Redis & {
  iotbffWebhookCreate(hash: string, stream: string, id: string, json: string, group: string, max: number): Promise<number>;
  iotbffWebhookDelete(...args: Array<string>): Promise<number>;
};

const view = (r: WebhookRecord): WebhookView => ({ id: r.id, url: r.url, notifyTypes: r.notifyTypes, format: r.format ?? 'envelope', createdAt: r.createdAt });

export class WebhookRegistry {
  readonly keys: EventKeys;
  private readonly redis: ScriptRedis;
  private readonly allowedHosts: readonly string[];
  private readonly maxPerApp: number;

  constructor(private readonly opts: WebhookRegistryOptions) {
    if (opts.sealKeys.length === 0 || opts.sealKeys.some((k) => k.length !== 32)) throw new Error('webhook seal keys must be 32 bytes');
    this.redis = opts.redis as ScriptRedis;
    this.keys = eventKeys(opts.keyPrefix);
    this.allowedHosts = opts.allowedHosts ?? [];
    this.maxPerApp = opts.maxPerApp ?? 100;
    this.redis.defineCommand('iotbffWebhookCreate', { numberOfKeys: 2, lua: CREATE_LUA });
    this.redis.defineCommand('iotbffWebhookDelete', { numberOfKeys: 7, lua: DELETE_LUA });
  }

  /** `format` is the caller's front's choice, not a body field: a /v1 body cannot ask for unsigned deliveries. */
  async create(appId: string, owner: string, body: unknown, format: WebhookFormat = 'envelope'): Promise<CreatedWebhook> {
    const input = validateWebhookInput(body, this.allowedHosts);
    const id = `wh_${randomBytes(12).toString('hex')}`;
    const secret = format === 'envelope' ? `whsec_${randomBytes(32).toString('base64')}` : undefined;
    const rec: WebhookRecord = {
      id,
      url: input.url,
      notifyTypes: input.notifyTypes,
      createdAt: new Date().toISOString(),
      owner,
      // Envelope records stay exactly as before formats existed (no field): older replicas read them alike.
      ...(format === 'raw' ? { format } : { sealed: seal(this.opts.sealKeys[0] as Buffer, secret as string) }),
    };
    const ok = await this.redis.iotbffWebhookCreate(
      this.keys.webhooks(appId),
      this.keys.stream(appId),
      id,
      JSON.stringify(rec),
      groupOf(id),
      this.maxPerApp,
    );
    if (ok !== 1) {
      throw new GatewayError('VALIDATION_FAILED', {
        message: `An app has at most ${this.maxPerApp} webhooks.`,
        details: [{ field: 'url', message: 'too many webhooks for this app' }],
      });
    }
    return { ...view(rec), ...(secret !== undefined && { secret }) };
  }

  /** The owner's webhooks of the app, oldest first; never secrets. */
  async list(appId: string, owner: string): Promise<WebhookView[]> {
    return (await this.records(appId))
      .filter((r) => r.owner === owner)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
      .map(view);
  }

  /** One webhook of its owner; null for another client's, exactly as for a missing one (no probing). */
  async get(appId: string, owner: string, id: string): Promise<WebhookView | null> {
    const r = await this.record(appId, id);
    return r && r.owner === owner ? view(r) : null;
  }

  async delete(appId: string, owner: string, id: string): Promise<boolean> {
    const k = this.keys;
    const n = await this.redis.iotbffWebhookDelete(
      k.webhooks(appId),
      k.stream(appId),
      k.lease(appId, id),
      k.retries(appId, id),
      k.attempts(appId, id),
      k.failed(appId, id),
      k.log(appId, id),
      id,
      owner,
      groupOf(id),
    );
    return n === 1;
  }

  /** Every webhook of the app with its opened secret, for the delivery workers only. */
  async targets(appId: string): Promise<WebhookTarget[]> {
    const out: WebhookTarget[] = [];
    for (const r of await this.records(appId)) {
      const format = r.format ?? 'envelope';
      const secret = format === 'raw' ? '' : r.sealed === undefined ? undefined : open(this.opts.sealKeys, r.sealed);
      if (secret === undefined) continue; // sealed with a key no longer configured: cannot sign, so not delivered
      out.push({ id: r.id, appId, url: r.url, notifyTypes: new Set(r.notifyTypes), format, secret });
    }
    return out;
  }

  private async records(appId: string): Promise<WebhookRecord[]> {
    const all = await this.redis.hvals(this.keys.webhooks(appId));
    return all.map((s) => JSON.parse(s) as WebhookRecord);
  }

  private async record(appId: string, id: string): Promise<WebhookRecord | null> {
    const raw = await this.redis.hget(this.keys.webhooks(appId), id);
    return raw ? (JSON.parse(raw) as WebhookRecord) : null;
  }
}
