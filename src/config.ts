// Configuration: every setting declared once in SETTINGS; the typed Config, validation, env list and README table derive from it.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Joi from 'joi';
import { parseHostPorts, type RedisTopology } from './redis.js';

/** A platform app the gateway acts for. `secret` never leaves this object except towards the platform. */
export interface AppConfig {
  readonly appId: string;
  readonly secret: string;
  readonly ratePerMinute: number;
}

/** An internal caller. Only the SHA-256 of its key is kept. */
export interface ClientConfig {
  readonly name: string;
  readonly keySha256: Buffer;
  /** `'*'` = every configured app. */
  readonly apps: '*' | ReadonlySet<string>;
  /** Platform calls per window of an app kept for this client (contract §11); absent = none. */
  readonly reserve: ReadonlyMap<string, number>;
  /** This client's own request rate at the gateway, over all replicas (contract §11); absent = unlimited. */
  readonly rateLimit?: { readonly requests: number; readonly windowMs: number };
}

/** Path parameters and app IDs: what a caller sends must never change which platform path is called. */
export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** A platform app's calls per minute when PLATFORM_APPS does not say (the platform's own default flow control). */
export const DEFAULT_RATE_PER_MINUTE = 100;

// ---------------------------------------------------------------------------------------------------------
// The table

interface SettingBase<T> {
  /** The environment variable, and the key in config/gateway.json (so both speak the same language). */
  readonly env: string;
  /** Checks and converts the raw text (or the file's JSON value). */
  readonly schema: Joi.Schema<T>;
  readonly default?: T;
  readonly required?: boolean;
  /** The README's "meaning" cell: one line, Markdown. */
  readonly doc: string;
  /** The README's "default" cell when the default is not a plain value (or there is none). */
  readonly shown?: string;
  /** The value is JSON (an environment variable holds its text; a config file may hold the value itself). */
  readonly json?: boolean;
  /** This variable names a file whose content is the value of that JSON variable, unless that one is set (Docker secrets). */
  readonly fileOf?: string;
}

/** A setting that lands on Config under its key in SETTINGS, converted by `to` when the raw form differs. */
interface ValueSetting<T, V> extends SettingBase<T> {
  readonly kind: 'value';
  readonly to?: (value: T) => V;
}

/** A setting read by one of the post-processing steps of loadConfig (composites: apps, clients, TLS, keys). */
interface InputSetting<T> extends SettingBase<T> {
  readonly kind: 'input';
}

type AnySetting = ValueSetting<any, any> | InputSetting<any>;

// Two signatures, so that V is the conversion's result when there is one and exactly T when there is none.
function setting<T>(s: SettingBase<T> & { to?: undefined }): ValueSetting<T, T>;
function setting<T, V>(s: SettingBase<T> & { to: (value: T) => V }): ValueSetting<T, V>;
function setting<T, V>(s: SettingBase<T> & { to?: (value: T) => V }): ValueSetting<T, V> {
  return { kind: 'value', ...s };
}

function input<T>(s: Omit<InputSetting<T>, 'kind'>): InputSetting<T> {
  return { kind: 'input', ...s };
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => Joi.number().integer().min(min).max(max);

interface RawApp {
  appId: string;
  secret: string;
  ratePerMinute: number;
}

interface RawClient {
  name: string;
  key?: string;
  keySha256?: string;
  apps: string[];
  reserve?: Record<string, number>;
  rateLimit?: { requests: number; windowSec: number };
}

const appSchema = Joi.object({
  appId: Joi.string().pattern(SAFE_ID).required(),
  secret: Joi.string().min(1).max(256).required(),
  ratePerMinute: int(1, 1_000_000).default(DEFAULT_RATE_PER_MINUTE),
}).unknown(false);

const clientSchema = Joi.object({
  name: Joi.string().min(1).max(64).required(),
  key: Joi.string().min(16).max(512),
  keySha256: Joi.string().hex().length(64),
  apps: Joi.array().items(Joi.string().min(1)).min(1).required(),
  reserve: Joi.object().pattern(Joi.string().pattern(SAFE_ID), int(1, 1_000_000)),
  rateLimit: Joi.object({ requests: int(1, 1_000_000).required(), windowSec: int(1, 86_400).required() }).unknown(false),
})
  .xor('key', 'keySha256')
  .unknown(false);

/**
 * Every setting, once: its key on Config (or, for inputs, the name of what a post-processing step reads),
 * variable, schema, default and README line. The order is the README table's order.
 */
export const SETTINGS = {
  configFile: input({
    env: 'CONFIG_FILE',
    schema: Joi.string(),
    doc: 'a JSON object of settings (keys are the variable names of this table); the environment wins over it',
    shown: '`config/gateway.json` if present',
  }),
  port: setting({ env: 'PORT', schema: int(0, 65535), default: 8080, doc: 'TCP port the gateway listens on' }),
  host: setting({ env: 'HOST', schema: Joi.string(), default: '0.0.0.0', doc: 'address the gateway listens on' }),
  platformUrl: setting({
    env: 'PLATFORM_URL',
    schema: Joi.string().uri({ scheme: ['http', 'https'] }),
    required: true,
    doc: 'base URL of the platform, e.g. `https://iot.example.com:8743`',
    // A trailing slash would double the one every platform path starts with.
    to: (url: string) => url.replace(/\/+$/, ''),
  }),
  platformApps: input({
    env: 'PLATFORM_APPS',
    schema: Joi.array<RawApp[]>().items(appSchema).min(1).unique('appId'),
    required: true,
    json: true,
    doc: `\`[{"appId":"…","secret":"…","ratePerMinute":${DEFAULT_RATE_PER_MINUTE}}]\` (\`ratePerMinute\` optional, ${DEFAULT_RATE_PER_MINUTE} when not given)`,
    shown: 'required (or the file)',
  }),
  platformAppsFile: input({
    env: 'PLATFORM_APPS_FILE',
    schema: Joi.string(),
    fileOf: 'PLATFORM_APPS',
    doc: 'a file holding `PLATFORM_APPS` (Docker secrets); the variable wins when both are set',
    shown: '—',
  }),
  gatewayClients: input({
    env: 'GATEWAY_CLIENTS',
    schema: Joi.array<RawClient[]>().items(clientSchema).min(1).unique('name'),
    required: true,
    json: true,
    doc:
      '`[{"name":"ops-portal","key":"…","apps":["appA"]}]`; `apps` may be `["*"]`; `keySha256` (hex) instead of `key`; ' +
      'optional `"reserve":{"appA":10}` (platform calls per window kept for this client; an app\'s reserves sum to at most its ' +
      '`ratePerMinute`) and `"rateLimit":{"requests":600,"windowSec":60}` (its own request rate, all replicas together; 429 ' +
      '`CLIENT_RATE_LIMITED`); see `docs/quota.md`',
    shown: 'required (or the file)',
  }),
  gatewayClientsFile: input({
    env: 'GATEWAY_CLIENTS_FILE',
    schema: Joi.string(),
    fileOf: 'GATEWAY_CLIENTS',
    doc: 'a file holding `GATEWAY_CLIENTS` (Docker secrets); the variable wins when both are set',
    shown: '—',
  }),
  redisUrl: setting({
    env: 'REDIS_URL',
    schema: Joi.alternatives<string>().try(Joi.string().valid('memory'), Joi.string().uri({ scheme: ['redis', 'rediss'] })),
    default: 'redis://127.0.0.1:6379',
    doc: '`redis://…` or `rediss://…`; `memory` = in-process store (one replica only; the gateway says so)',
    // null selects the in-process store.
    to: (url: string): string | null => (url === 'memory' ? null : url),
  }),
  redisSentinels: input({
    env: 'REDIS_SENTINELS',
    schema: Joi.string().max(4096),
    doc: '`host:port,host:port,…` of the Sentinels: Redis is the primary they name (needs `REDIS_SENTINEL_NAME`; `REDIS_URL` then only gives credentials and TLS)',
    shown: 'off',
  }),
  redisSentinelName: input({
    env: 'REDIS_SENTINEL_NAME',
    schema: Joi.string().max(256).pattern(/^[^\s]+$/, 'a Sentinel master name'),
    doc: 'the master name the Sentinels monitor (with `REDIS_SENTINELS` only)',
    shown: '—',
  }),
  redisClusterNodes: input({
    env: 'REDIS_CLUSTER_NODES',
    schema: Joi.string().max(4096),
    doc: '`host:port,host:port,…` of some Redis Cluster nodes (the rest are discovered; `REDIS_URL` then only gives credentials and TLS); not with `REDIS_SENTINELS`',
    shown: 'off',
  }),
  redisCommandTimeoutMs: setting({
    env: 'REDIS_COMMAND_TIMEOUT_MS',
    schema: int(10, 60_000),
    default: 500,
    doc: 'deadline of every Redis command',
  }),
  redisKeyPrefix: setting({
    env: 'REDIS_KEY_PREFIX',
    schema: Joi.string().max(64).allow(''),
    default: 'iotbff:',
    doc: 'prefix of every Redis key',
  }),
  platformCaFile: input({
    env: 'PLATFORM_CA_FILE',
    schema: Joi.string(),
    doc: 'CA certificates (PEM) trusted for the platform, instead of the system trust',
    shown: 'system trust',
  }),
  platformCertFile: input({
    env: 'PLATFORM_CERT_FILE',
    schema: Joi.string(),
    doc: 'client certificate (PEM) for the platform; needs `PLATFORM_KEY_FILE`',
    shown: 'no client cert',
  }),
  platformKeyFile: input({
    env: 'PLATFORM_KEY_FILE',
    schema: Joi.string(),
    doc: 'the private key (PEM) of that client certificate; needs `PLATFORM_CERT_FILE`',
    shown: '—',
  }),
  platformTimeoutMs: setting({
    env: 'PLATFORM_TIMEOUT_MS',
    schema: int(100, 300_000),
    default: 10_000,
    doc: 'deadline of one caller request at the platform, token wait and retries included',
  }),
  platformKeepAliveMs: setting({
    env: 'PLATFORM_KEEPALIVE_MS',
    schema: int(100, 600_000),
    default: 4_000,
    doc: "idle keep-alive sockets to the platform are closed after this (keep it below the platform's)",
  }),
  bodyLimit: setting({
    env: 'BODY_LIMIT',
    schema: Joi.string().pattern(/^\d+(b|kb|mb)$/i),
    default: '256kb',
    doc: 'largest JSON body',
  }),
  replicas: setting({
    env: 'GATEWAY_REPLICAS',
    schema: int(1, 1000),
    default: 1,
    doc: "replicas sharing each app's quota; sizes a replica's share while Redis is unreachable",
  }),
  logLevel: setting({
    env: 'LOG_LEVEL',
    schema: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    default: 'info',
    doc: 'pino level',
  }),
  quotaWindowMs: setting({
    env: 'QUOTA_WINDOW_MS',
    schema: int(100, 3_600_000),
    default: 60_000,
    doc: 'the flow-control window (shorten only in tests)',
  }),
  quotaHoldMs: setting({
    env: 'QUOTA_HOLD_MS',
    schema: int(1000, 3_600_000),
    default: 60_000,
    doc: 'how long an app is held back after the platform itself answered 1010009 (≥ 1000)',
  }),
  quotaMaxWaitMs: setting({
    env: 'QUOTA_MAX_WAIT_MS',
    schema: int(0, 300_000),
    default: 0,
    doc: 'longest wait for a platform slot a caller may ask for with `Prefer: wait=<s>` instead of a 429 (0 = off; never past `PLATFORM_TIMEOUT_MS`)',
  }),
  quotaMaxWaiters: setting({
    env: 'QUOTA_MAX_WAITERS',
    schema: int(1, 100_000),
    default: 100,
    doc: 'requests waiting for a slot per app and replica; more get the 429 at once',
  }),
  tokenLockTtlMs: setting({
    env: 'TOKEN_LOCK_TTL_MS',
    schema: int(100, 300_000),
    default: 15_000,
    doc:
      'lifetime of the cross-replica login lock: a crashed holder blocks logins no longer than this; the holder\'s ' +
      'login is cut off at the lower of this and `PLATFORM_TIMEOUT_MS`, so it does not outlive its lock (either may be larger)',
  }),
  tokenEncryptionKey: input({
    env: 'TOKEN_ENCRYPTION_KEY',
    schema: Joi.string().pattern(/^[0-9a-fA-F]{64}(,[0-9a-fA-F]{64})*$/, 'keys of 64 hex characters (32 bytes), comma-separated'),
    doc: '64 hex chars (or several, comma-separated, for rotation: the first seals): seal tokens at rest in Redis with AES-256-GCM',
    shown: 'off',
  }),
  idempotencyTtlSec: setting({
    env: 'IDEMPOTENCY_TTL_SEC',
    schema: int(1, 30 * 86_400),
    default: 86_400,
    doc: 'how long an `Idempotency-Key` answer is kept',
  }),
  breakerFailures: setting({
    env: 'BREAKER_FAILURES',
    schema: int(1, 1000),
    default: 5,
    doc: 'consecutive platform failures that open the circuit',
  }),
  breakerCooldownMs: setting({
    env: 'BREAKER_COOLDOWN_MS',
    schema: int(10, 600_000),
    default: 5_000,
    doc: 'how long the circuit stays open before one probe',
  }),
  cacheTtlSec: setting({
    env: 'CACHE_TTL_SEC',
    // Keys are route ids (an unknown one stops the start, in app.ts, where the routes are known) or `*`.
    schema: Joi.object<Record<string, number>>().pattern(/^(\*|[a-z][A-Za-z0-9]*)$/, Joi.number().min(0).max(86_400).required()),
    json: true,
    doc:
      'per-operation TTL overrides of the shared GET cache, seconds by route id, e.g. `{"getUpgradeTask":2,"listPackages":0}`; ' +
      '0 = not cached; `"*"` sets every cached operation (`{"*":0}`: cache off); see docs/cache.md for each default',
    shown: 'each route\'s own TTL',
    // Absent: no overrides. Frozen, since Config is frozen only one level deep.
    to: (v: Record<string, number> | undefined): Readonly<Record<string, number>> => Object.freeze({ ...(v ?? {}) }),
  }),
  cacheMaxEntryBytes: setting({
    env: 'CACHE_MAX_ENTRY_BYTES',
    schema: int(1024, 16 * 1024 * 1024),
    default: 262_144,
    doc: 'largest encoded answer the GET cache stores; larger ones are served but not kept (big lists do not fill Redis)',
  }),
  cacheLockTtlMs: setting({
    env: 'CACHE_LOCK_TTL_MS',
    schema: int(100, 60_000),
    default: 3_000,
    doc:
      "life of a cached GET's cross-replica loader lock (renewed while its platform call runs): how long identical " +
      'requests wait for a loader that died before one of them calls the platform itself',
  }),
  httpIdleTimeoutMs: setting({
    env: 'HTTP_IDLE_TIMEOUT_MS',
    schema: int(1000, 600_000),
    default: 30_000,
    doc: 'a caller connection that sends nothing for this long is closed: before its first byte, while its headers trickle in, and between keep-alive requests',
  }),
  maxConnections: setting({
    env: 'MAX_CONNECTIONS',
    schema: int(1, 1_000_000),
    default: 10_000,
    doc: 'most caller connections open at once; further ones are closed at once (keep it below the file descriptor limit)',
  }),
  platformMaxResponseBytes: setting({
    env: 'PLATFORM_MAX_RESPONSE_BYTES',
    schema: int(1024, 1024 * 1024 * 1024),
    default: 8 * 1024 * 1024,
    doc: 'largest platform answer, counted after decompression: a larger one is cut off and answered 502 `UPSTREAM_ERROR`, not retried',
  }),
  metricsPort: setting({
    env: 'METRICS_PORT',
    schema: int(0, 65535),
    doc: '`/metrics` is served on this port (same `HOST`) and no longer on `PORT`, so that API callers cannot read which apps exist',
    shown: 'off: `/metrics` on `PORT`',
    // Unset stays undefined (no second listener), which the type says.
    to: (port: number | undefined): number | undefined => port,
  }),
  shutdownTimeoutMs: setting({
    env: 'SHUTDOWN_TIMEOUT_MS',
    schema: int(100, 600_000),
    default: 10_000,
    doc: 'how long SIGTERM waits for requests in flight',
  }),
  // Events (contract §10, docs/events.md): off unless CALLBACK_BASE_URL is set.
  callbackBaseUrl: setting({
    env: 'CALLBACK_BASE_URL',
    // The platform refuses a callback URL without an explicit port (platform-api.md §6.1).
    schema: Joi.string()
      .uri({ scheme: ['http', 'https'] })
      .pattern(/^https?:\/\/(\[[^\]]+\]|[^/:?#]+):\d{1,5}(\/[^?#]*)?$/, 'a URL with an explicit port and no query') as Joi.Schema<string | undefined>,
    doc: "the gateway's address as the platform reaches it (scheme, host and an explicit port, e.g. `https://gw.example.com:443`); set, it turns events on (needs Redis and `CALLBACK_SECRET`); unset, the event routes answer 404",
    shown: 'off',
    to: (url: string | undefined): string | null => (url ? url.replace(/\/+$/, '') : null),
  }),
  callbackSecret: setting({
    env: 'CALLBACK_SECRET',
    schema: Joi.string().min(32).max(512) as Joi.Schema<string | undefined>,
    doc: 'at least 32 characters: derives the per-app path token of the callback URL (and seals webhook secrets at rest); required when events are on; never logged',
    shown: '—',
    to: (secret: string | undefined): string | null => secret ?? null,
  }),
  webhookAllowedHosts: setting({
    env: 'WEBHOOK_ALLOWED_HOSTS',
    schema: Joi.string().pattern(/^[A-Za-z0-9*.:\[\]-]+(,[A-Za-z0-9*.:\[\]-]+)*$/, 'host patterns, comma-separated') as Joi.Schema<string | undefined>,
    doc: 'host patterns a webhook URL may name, comma-separated (`*.internal`, `10.0.0.5`); unset, any host (subscribers are internal services)',
    shown: 'any host',
    to: (hosts: string | undefined): readonly string[] => Object.freeze(hosts ? hosts.split(',') : []),
  }),
  eventsDedupeMs: setting({
    env: 'EVENTS_DEDUPE_MS',
    schema: int(0, 24 * 3_600_000),
    default: 600_000,
    doc: 'a push identical to one stored within this window is stored once (the platform re-pushes); 0 = off',
  }),
  eventsMaxLen: setting({
    env: 'EVENTS_MAX_LEN',
    schema: int(1000, 100_000_000),
    default: 100_000,
    doc: "events kept per app at least (the stream's length cap); with `EVENTS_MAX_AGE_MS`, whichever keeps more",
  }),
  eventsMaxAgeMs: setting({
    env: 'EVENTS_MAX_AGE_MS',
    schema: int(60_000, 30 * 24 * 3_600_000),
    default: 86_400_000,
    doc: 'how long events are kept at least (for `Last-Event-ID` resume and late webhooks)',
  }),
  webhookTimeoutMs: setting({
    env: 'WEBHOOK_TIMEOUT_MS',
    schema: int(100, 60_000),
    default: 10_000,
    doc: "deadline of one delivery attempt to a webhook; a replica's unfinished deliveries are taken over after 1.5 × this",
  }),
  webhookConcurrency: setting({
    env: 'WEBHOOK_CONCURRENCY',
    schema: int(1, 64),
    default: 1,
    doc: 'first delivery attempts in flight at once per webhook: 1 = received strictly in arrival order; more = started in order, neighbours may arrive swapped, more throughput',
  }),
  sseHeartbeatMs: setting({
    env: 'SSE_HEARTBEAT_MS',
    schema: int(100, 300_000),
    default: 15_000,
    doc: 'comment line interval on an idle event stream, so that proxies keep it open',
  }),
  sseMaxStreams: setting({
    env: 'SSE_MAX_STREAMS',
    schema: int(1, 10_000),
    default: 10,
    doc: 'concurrent event streams per client on one replica; past it, 429 `TOO_MANY_STREAMS`',
  }),
  // The platform's own API as a drop-in for SDK-based services (contract §14, src/compat/).
  compatPort: setting({
    env: 'COMPAT_PORT',
    schema: int(1, 65535),
    doc: "port on which the gateway also speaks the platform's own API (paths, login, `error_code` bodies) for SDK-based services",
    shown: 'off',
    // Unset: nothing listens (null), so that no port is opened by accident.
    to: (p: number | undefined): number | null => p ?? null,
  }),
  compatTlsCertFile: input({
    env: 'COMPAT_TLS_CERT_FILE',
    schema: Joi.string(),
    doc: 'server certificate (PEM) of the compat port, which then speaks HTTPS (as the SDKs expect); needs `COMPAT_TLS_KEY_FILE`',
    shown: 'plain HTTP',
  }),
  compatTlsKeyFile: input({
    env: 'COMPAT_TLS_KEY_FILE',
    schema: Joi.string(),
    doc: 'the private key (PEM) of that certificate; needs `COMPAT_TLS_CERT_FILE`',
    shown: '—',
  }),
  compatTlsCaFile: input({
    env: 'COMPAT_TLS_CA_FILE',
    schema: Joi.string(),
    doc: 'CA certificates (PEM): the compat port then requires a client certificate signed by them (mutual TLS); needs the certificate',
    shown: 'no client cert',
  }),
  compatSessionTtlSec: setting({
    env: 'COMPAT_SESSION_TTL_SEC',
    schema: int(1, 86_400),
    default: 3600,
    doc: "lifetime of a compat session token (the login answer's `expiresIn`); refresh tokens live 30 days",
  }),
} as const satisfies Record<string, AnySetting>;

type Settings = typeof SETTINGS;
type ValueKey = { [K in keyof Settings]: Settings[K] extends ValueSetting<any, any> ? K : never }[keyof Settings];
type ValueOf<S> = S extends ValueSetting<any, infer V> ? V : never;

/** Margin over PLATFORM_TIMEOUT_MS for what follows a request's deadline: answering it, recording its outcome. */
const DEADLINE_MARGIN_MS = 5_000;

/** How many times an idempotent GET is sent at most, the first try included (all within PLATFORM_TIMEOUT_MS). */
const PLATFORM_GET_ATTEMPTS = 3;

/**
 * Values computed from the settings, declared once with their rule, so that no module repeats the arithmetic.
 * The README lists them under the settings table.
 */
export const DERIVED = {
  requestTimeoutMs: {
    doc: `the HTTP server's timeout of one request: \`PLATFORM_TIMEOUT_MS\` + ${DEADLINE_MARGIN_MS} (time to answer after the deadline)`,
    of: (c: Plain) => c.platformTimeoutMs + DEADLINE_MARGIN_MS,
  },
  idempotencyPendingMs: {
    doc: `how long an \`Idempotency-Key\` claim stays pending if its replica dies mid-call: \`PLATFORM_TIMEOUT_MS\` + ${DEADLINE_MARGIN_MS}`,
    of: (c: Plain) => c.platformTimeoutMs + DEADLINE_MARGIN_MS,
  },
  platformGetAttempts: {
    doc: `how many times an idempotent GET is sent at most, the first try included: ${PLATFORM_GET_ATTEMPTS}, all within \`PLATFORM_TIMEOUT_MS\``,
    of: (_c: Plain) => PLATFORM_GET_ATTEMPTS,
  },
  tokenLoginDeadlineMs: {
    doc: "the lock holder's budget for one login or refresh: the lower of `PLATFORM_TIMEOUT_MS` and `TOKEN_LOCK_TTL_MS`",
    of: (c: Plain) => Math.min(c.platformTimeoutMs, c.tokenLockTtlMs),
  },
  tokenWaitLimitMs: {
    doc: 'how long a replica waits for a token before giving up: `TOKEN_LOCK_TTL_MS` + `PLATFORM_TIMEOUT_MS` (a dead holder\'s lock, then its own login)',
    of: (c: Plain) => c.tokenLockTtlMs + c.platformTimeoutMs,
  },
  webhookClaimIdleMs: {
    doc: "how long a webhook's lease lives without renewal, and how long a delivery stays unfinished before another replica takes it over: 1.5 × `WEBHOOK_TIMEOUT_MS` (longer than any attempt, so a live replica's attempt is never repeated)",
    of: (c: Plain) => Math.ceil(c.webhookTimeoutMs * 1.5),
  },
} as const satisfies Record<string, { doc: string; of: (c: Plain) => number }>;

/** The settings that are plain values, typed from the table. */
type Plain = { readonly [K in ValueKey]: ValueOf<Settings[K]> };
type Derived = { readonly [K in keyof typeof DERIVED]: ReturnType<(typeof DERIVED)[K]['of']> };

/** The whole configuration: the table's values, its composites, and the derived values. */
export interface Config extends Plain, Derived {
  readonly platformTls: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  readonly apps: ReadonlyMap<string, AppConfig>;
  readonly clients: readonly ClientConfig[];
  /**
   * AES-256-GCM keys for tokens at rest in Redis: the first seals, every one opens (so that a key can be
   * rotated without the replicas reading each other's tokens as absent). Empty = stored in clear (docs/tokens.md).
   */
  readonly tokenEncryptionKeys: readonly Buffer[];
  /**
   * Where the shared store lives: one server (`REDIS_URL`), a Sentinel set or a Cluster; null = the
   * in-process store (`REDIS_URL=memory`). With Sentinel or Cluster, `url` is REDIS_URL only when it was
   * given (credentials, TLS): its default names a host, and that host must never be used as an address.
   */
  readonly redisTopology: RedisTopology | null;
  /** The compat port's TLS (COMPAT_TLS_*): empty = plain HTTP; `ca` = client certificates required. */
  readonly compatTls: { readonly cert?: Buffer; readonly key?: Buffer; readonly ca?: Buffer };
}

const ALL: ReadonlyArray<readonly [string, AnySetting]> = Object.entries(SETTINGS);

/** The variables the gateway reads; docker-compose and the README are checked against this list. */
export const ENV_VARS: readonly string[] = Object.freeze(ALL.map(([, s]) => s.env));

/** The README's configuration table, generated from SETTINGS and DERIVED (test/config.test.ts keeps the README equal to it). */
export function configurationTable(): string {
  const cell = (s: AnySetting): string => {
    if (s.shown !== undefined) return s.shown;
    if (s.required) return 'required';
    return `\`${String(s.default)}\``;
  };
  const rows = ALL.map(([, s]) => `| \`${s.env}\` | ${s.doc} | ${cell(s)} |`);
  const derived = Object.entries(DERIVED).map(([name, d]) => `| \`config.${name}\` | ${d.doc} |`);
  return [
    '| variable | meaning | default |',
    '|---|---|---|',
    ...rows,
    '',
    'Derived from them (on `Config`, so that no module repeats the rule):',
    '',
    '| value | rule |',
    '|---|---|',
    ...derived,
  ].join('\n');
}

/** Raised with one readable line per problem; never contains a configured value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.join('\n')}`);
    this.name = 'ConfigError';
  }
}

const schema = Joi.object(
  Object.fromEntries(
    ALL.map(([, s]) => {
      let sch: Joi.Schema = s.schema;
      if (s.required) sch = sch.required();
      else if (s.default !== undefined) sch = sch.default(s.default);
      return [s.env, sch];
    }),
  ),
)
  .and(SETTINGS.platformCertFile.env, SETTINGS.platformKeyFile.env)
  .and(SETTINGS.compatTlsCertFile.env, SETTINGS.compatTlsKeyFile.env)
  .with(SETTINGS.compatTlsCaFile.env, SETTINGS.compatTlsCertFile.env)
  // Unknown keys are the file's or the environment's business (PATH, HOME…): only ours are read.
  .unknown(true);

type Raw = Record<string, unknown>;

function readConfigFile(env: NodeJS.ProcessEnv, cwd: string, problems: string[]): Raw {
  const explicit = env[SETTINGS.configFile.env];
  const file = explicit ? path.resolve(cwd, explicit) : path.join(cwd, 'config', 'gateway.json');
  if (!explicit && !existsSync(file)) return {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      problems.push(`CONFIG_FILE: ${file} must hold a JSON object`);
      return {};
    }
    return parsed as Raw;
  } catch (err) {
    // The parser's message can quote the file's content, which may hold secrets: say only where.
    problems.push(`CONFIG_FILE: cannot read ${file} as JSON (${errnoOf(err) ?? 'syntax error'})`);
    return {};
  }
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

/** Merges file and environment, resolving `X_FILE` indirections and JSON strings. */
function gatherRaw(env: NodeJS.ProcessEnv, cwd: string, problems: string[]): Raw {
  const raw: Raw = { ...readConfigFile(env, cwd, problems) };
  for (const name of ENV_VARS) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  for (const [, file] of ALL) {
    if (file.fileOf === undefined) continue;
    const fileName = raw[file.env];
    if (typeof fileName === 'string' && raw[file.fileOf] === undefined) {
      try {
        raw[file.fileOf] = readFileSync(path.resolve(cwd, fileName), 'utf8');
      } catch (err) {
        problems.push(`${file.env}: cannot read ${fileName} (${errnoOf(err) ?? 'error'})`);
      }
    }
    delete raw[file.env];
  }
  for (const [, s] of ALL) {
    const value = raw[s.env];
    if (s.json && typeof value === 'string') {
      try {
        raw[s.env] = JSON.parse(value);
      } catch {
        problems.push(`${s.env}: is not valid JSON`);
        delete raw[s.env];
      }
    }
  }
  return raw;
}

function readPem(varName: string, file: unknown, cwd: string, problems: string[]): Buffer | undefined {
  if (typeof file !== 'string') return undefined;
  try {
    return readFileSync(path.resolve(cwd, file));
  } catch (err) {
    problems.push(`${varName}: cannot read ${file} (${errnoOf(err) ?? 'error'})`);
    return undefined;
  }
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Joi's details as `VARIABLE[0].field: what is wrong`, never echoing a value. */
function describeJoiError(error: Joi.ValidationError, problems: string[]): void {
  for (const detail of error.details) {
    const where = detail.path
      .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
      .join('');
    // Joi's message starts with the label; keep only what follows it, after our own path.
    const label = String(detail.context?.label ?? '');
    let what = detail.message.startsWith(label) ? detail.message.slice(label.length).trim() : detail.message;
    // Belt and braces: a message that would still quote the value says less instead.
    const given = detail.context?.value;
    if (typeof given === 'string' && given.length >= 4 && what.includes(given)) what = 'is invalid';
    problems.push(`${where || detail.context?.key || 'config'}: ${what}`);
  }
}

/** The apps whose reserves sum to more than their ratePerMinute, each named, as problems. */
export function reserveProblems(clients: readonly ClientConfig[], apps: ReadonlyMap<string, AppConfig>): string[] {
  const sums = new Map<string, number>();
  for (const c of clients) for (const [appId, n] of c.reserve) sums.set(appId, (sums.get(appId) ?? 0) + n);
  const problems: string[] = [];
  for (const [appId, sum] of sums) {
    const rate = apps.get(appId)?.ratePerMinute;
    if (rate !== undefined && sum > rate) {
      problems.push(`the reserves of app ${appId} sum to ${sum}, more than its ratePerMinute (${rate})`);
    }
  }
  return problems;
}

/** Post-processing: the client list, with the checks that need the app list. */
function buildClients(raw: unknown, apps: ReadonlyMap<string, AppConfig>, problems: string[]): ClientConfig[] {
  const clients: ClientConfig[] = [];
  const seenKeys = new Set<string>();
  const list = (Array.isArray(raw) ? raw : []) as RawClient[];
  const where = SETTINGS.gatewayClients.env;
  list.forEach((c, i) => {
    if (typeof c.name !== 'string') return;
    const digest = c.key !== undefined ? sha256(c.key) : Buffer.from(c.keySha256 ?? '', 'hex');
    if (digest.length !== 32) return;
    const hex = digest.toString('hex');
    if (seenKeys.has(hex)) problems.push(`${where}[${i}]: uses the same key as another client`);
    seenKeys.add(hex);
    const wildcard = c.apps.includes('*');
    if (wildcard && c.apps.length > 1) problems.push(`${where}[${i}].apps: "*" must stand alone`);
    if (!wildcard && apps.size > 0) {
      for (const appId of c.apps) {
        if (!apps.has(appId)) problems.push(`${where}[${i}].apps: names an app that is not configured: ${appId}`);
      }
    }
    const reserve = new Map<string, number>();
    for (const [appId, n] of Object.entries(c.reserve ?? {})) {
      if (apps.size > 0 && !apps.has(appId)) problems.push(`${where}[${i}].reserve: names an app that is not configured: ${appId}`);
      else if (!wildcard && !c.apps.includes(appId)) problems.push(`${where}[${i}].reserve: names an app the client may not use: ${appId}`);
      else reserve.set(appId, n);
    }
    const rateLimit = c.rateLimit ? { requests: c.rateLimit.requests, windowMs: c.rateLimit.windowSec * 1000 } : undefined;
    clients.push(
      Object.freeze({ name: c.name, keySha256: digest, apps: wildcard ? '*' : new Set(c.apps), reserve, ...(rateLimit && { rateLimit }) }),
    );
  });
  // Contract §11: the reserves of an app are a part of its quota, never more than all of it.
  for (const problem of reserveProblems(clients, apps)) problems.push(`${where}: ${problem}`);
  return clients;
}

/**
 * Post-processing: the Redis topology from REDIS_URL, REDIS_SENTINELS(+_NAME) and REDIS_CLUSTER_NODES,
 * mutually exclusive. `urlGiven`: whether REDIS_URL was set (not defaulted). Problems never quote addresses.
 */
function buildRedisTopology(v: Raw, urlGiven: boolean, problems: string[]): RedisTopology | null {
  const url = v[SETTINGS.redisUrl.env] as string | undefined;
  const sentinels = v[SETTINGS.redisSentinels.env] as string | undefined;
  const name = v[SETTINGS.redisSentinelName.env] as string | undefined;
  const nodes = v[SETTINGS.redisClusterNodes.env] as string | undefined;
  const S = SETTINGS.redisSentinels.env;
  const N = SETTINGS.redisSentinelName.env;
  const C = SETTINGS.redisClusterNodes.env;
  const before = problems.length;
  if (sentinels !== undefined && nodes !== undefined) problems.push(`${S}, ${C}: set one topology, not both`);
  if (sentinels !== undefined && name === undefined) problems.push(`${N}: is required with ${S}`);
  if (sentinels === undefined && name !== undefined) problems.push(`${N}: is only used with ${S}; set ${S} too`);
  if ((sentinels !== undefined || nodes !== undefined) && url === 'memory') {
    problems.push(`${SETTINGS.redisUrl.env}: "memory" cannot be combined with ${sentinels !== undefined ? S : C}`);
  }
  const list = (value: string, env: string) => {
    const entries = value.split(',').map((e) => e.trim());
    const parsed = [];
    for (const [i, entry] of entries.entries()) {
      try {
        parsed.push(...parseHostPorts(entry, env));
      } catch {
        // The entry's position, not its text: the README promises problems that quote no value.
        problems.push(`${env}: entry ${i + 1} of ${entries.length} is not host:port (IPv6 as [addr]:port)`);
      }
    }
    return parsed;
  };
  const sentinelList = sentinels !== undefined ? list(sentinels, S) : [];
  const nodeList = nodes !== undefined ? list(nodes, C) : [];
  if (problems.length > before) return null;
  // REDIS_URL's credentials and TLS only, and only when it was given: its default's host is never an address.
  const creds = urlGiven && url !== 'memory' ? { url } : {};
  if (sentinels !== undefined) return { kind: 'sentinel', sentinels: sentinelList, name: name as string, ...creds };
  if (nodes !== undefined) return { kind: 'cluster', nodes: nodeList, ...creds };
  return url === undefined || url === 'memory' ? null : { kind: 'single', url };
}

/**
 * Reads and validates the whole configuration. Throws ConfigError listing every problem at once,
 * each as `VARIABLE: what is wrong`, without echoing values.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Config {
  const problems: string[] = [];
  const raw = gatherRaw(env, cwd, problems);
  const { error, value } = schema.validate(raw, {
    abortEarly: false,
    convert: true,
    errors: { wrap: { label: false } },
    // Joi's own wording of these quotes the value, and values may be secrets.
    messages: {
      'string.pattern.base': '{{#label}} has the wrong format',
      'string.pattern.name': '{{#label}} must be {{#name}}',
    },
  });
  if (error) describeJoiError(error, problems);
  const v = (value ?? {}) as Raw;
  const valueOf = (s: AnySetting): unknown => v[s.env];

  // Composites, each built once from its inputs.
  const apps = new Map<string, AppConfig>();
  const rawApps = valueOf(SETTINGS.platformApps);
  for (const a of (Array.isArray(rawApps) ? rawApps : []) as RawApp[]) {
    apps.set(a.appId, Object.freeze({ appId: a.appId, secret: a.secret, ratePerMinute: a.ratePerMinute }));
  }
  const clients = buildClients(valueOf(SETTINGS.gatewayClients), apps, problems);
  const tlsFiles = { ca: SETTINGS.platformCaFile, cert: SETTINGS.platformCertFile, key: SETTINGS.platformKeyFile };
  const platformTls = Object.freeze(
    Object.fromEntries(
      Object.entries(tlsFiles)
        .map(([part, s]) => [part, readPem(s.env, valueOf(s), cwd, problems)] as const)
        .filter(([, pem]) => pem !== undefined),
    ),
  );
  const compatFiles = { cert: SETTINGS.compatTlsCertFile, key: SETTINGS.compatTlsKeyFile, ca: SETTINGS.compatTlsCaFile };
  const compatTls = Object.freeze(
    Object.fromEntries(
      Object.entries(compatFiles)
        .map(([part, s]) => [part, readPem(s.env, valueOf(s), cwd, problems)] as const)
        .filter(([, pem]) => pem !== undefined),
    ),
  );
  const keys = valueOf(SETTINGS.tokenEncryptionKey);
  const tokenEncryptionKeys = Object.freeze(
    typeof keys === 'string' ? keys.split(',').map((k) => Buffer.from(k, 'hex')) : [],
  );
  const redisTopology = buildRedisTopology(v, raw[SETTINGS.redisUrl.env] !== undefined, problems);
  if (valueOf(SETTINGS.callbackBaseUrl) !== undefined) {
    // Events need the secret (path tokens) and a shared store (the stream): refused at start rather than half on.
    if (valueOf(SETTINGS.callbackSecret) === undefined) problems.push(`${SETTINGS.callbackSecret.env}: is required when ${SETTINGS.callbackBaseUrl.env} is set`);
    if (valueOf(SETTINGS.redisUrl) === 'memory') problems.push(`${SETTINGS.callbackBaseUrl.env}: events need Redis (REDIS_URL=memory keeps them off)`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  // Plain values: each validated value through its setting's conversion. The one cast below is where the
  // table's per-key types meet the object built by iterating over it.
  const plain = Object.fromEntries(
    ALL.filter((e): e is [string, ValueSetting<unknown, unknown>] => e[1].kind === 'value').map(([key, s]) => [
      key,
      s.to ? s.to(valueOf(s)) : valueOf(s),
    ]),
  ) as Plain;
  const derived = Object.fromEntries(Object.entries(DERIVED).map(([key, d]) => [key, d.of(plain)])) as Derived;
  return Object.freeze<Config>({
    ...plain,
    ...derived,
    platformTls,
    apps,
    clients: Object.freeze(clients),
    tokenEncryptionKeys,
    redisTopology,
    compatTls,
  });
}
