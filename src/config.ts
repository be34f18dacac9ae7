// Configuration: parsed once at start from config/ files and the environment (the environment wins), validated, frozen.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Joi from 'joi';

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
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly platformUrl: string;
  readonly platformTimeoutMs: number;
  /** Idle keep-alive sockets to the platform are closed after this long (must stay below the platform's own). */
  readonly platformKeepAliveMs: number;
  readonly platformTls: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  readonly apps: ReadonlyMap<string, AppConfig>;
  readonly clients: readonly ClientConfig[];
  /** `null` selects the in-process store (one replica only). */
  readonly redisUrl: string | null;
  readonly redisCommandTimeoutMs: number;
  readonly redisKeyPrefix: string;
  readonly bodyLimit: string;
  readonly replicas: number;
  readonly logLevel: string;
  readonly quotaWindowMs: number;
  readonly quotaHoldMs: number;
  readonly tokenLockTtlMs: number;
  /**
   * AES-256-GCM keys for tokens at rest in Redis: the first seals, every one opens (so that a key can be
   * rotated without the replicas reading each other's tokens as absent). Empty = stored in clear (docs/tokens.md).
   */
  readonly tokenEncryptionKeys: readonly Buffer[];
  readonly idempotencyTtlSec: number;
  readonly breakerFailures: number;
  readonly breakerCooldownMs: number;
  readonly shutdownTimeoutMs: number;
}

/** Path parameters and app IDs: what a caller sends must never change which platform path is called. */
export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * Every default in one place. Keys are the environment variables' names, so a file under config/
 * and the environment speak the same language.
 */
export const DEFAULTS = {
  PORT: 8080,
  HOST: '0.0.0.0',
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDIS_COMMAND_TIMEOUT_MS: 500,
  REDIS_KEY_PREFIX: 'iotbff:',
  PLATFORM_TIMEOUT_MS: 10_000,
  PLATFORM_KEEPALIVE_MS: 4_000,
  BODY_LIMIT: '256kb',
  GATEWAY_REPLICAS: 1,
  LOG_LEVEL: 'info',
  QUOTA_WINDOW_MS: 60_000,
  QUOTA_HOLD_MS: 60_000,
  TOKEN_LOCK_TTL_MS: 15_000,
  IDEMPOTENCY_TTL_SEC: 86_400,
  BREAKER_FAILURES: 5,
  BREAKER_COOLDOWN_MS: 5_000,
  SHUTDOWN_TIMEOUT_MS: 10_000,
  DEFAULT_RATE_PER_MINUTE: 100,
} as const;

/** The variables the gateway reads; docker-compose and the README are checked against this list. */
export const ENV_VARS = [
  'CONFIG_FILE',
  'PORT',
  'HOST',
  'PLATFORM_URL',
  'PLATFORM_APPS',
  'PLATFORM_APPS_FILE',
  'GATEWAY_CLIENTS',
  'GATEWAY_CLIENTS_FILE',
  'REDIS_URL',
  'REDIS_COMMAND_TIMEOUT_MS',
  'REDIS_KEY_PREFIX',
  'PLATFORM_CA_FILE',
  'PLATFORM_CERT_FILE',
  'PLATFORM_KEY_FILE',
  'PLATFORM_TIMEOUT_MS',
  'PLATFORM_KEEPALIVE_MS',
  'BODY_LIMIT',
  'GATEWAY_REPLICAS',
  'LOG_LEVEL',
  'QUOTA_WINDOW_MS',
  'QUOTA_HOLD_MS',
  'TOKEN_LOCK_TTL_MS',
  'TOKEN_ENCRYPTION_KEY',
  'IDEMPOTENCY_TTL_SEC',
  'BREAKER_FAILURES',
  'BREAKER_COOLDOWN_MS',
  'SHUTDOWN_TIMEOUT_MS',
] as const;

/** Raised with one readable line per problem; never contains a configured value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.join('\n')}`);
    this.name = 'ConfigError';
  }
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => Joi.number().integer().min(min).max(max);

const appSchema = Joi.object({
  appId: Joi.string().pattern(SAFE_ID).required(),
  secret: Joi.string().min(1).max(256).required(),
  ratePerMinute: int(1, 1_000_000).default(DEFAULTS.DEFAULT_RATE_PER_MINUTE),
}).unknown(false);

const clientSchema = Joi.object({
  name: Joi.string().min(1).max(64).required(),
  key: Joi.string().min(16).max(512),
  keySha256: Joi.string().hex().length(64),
  apps: Joi.array().items(Joi.string().min(1)).min(1).required(),
})
  .xor('key', 'keySha256')
  .unknown(false);

const schema = Joi.object({
  PORT: int(0, 65535).default(DEFAULTS.PORT),
  HOST: Joi.string().default(DEFAULTS.HOST),
  PLATFORM_URL: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .required(),
  PLATFORM_APPS: Joi.array().items(appSchema).min(1).unique('appId').required(),
  GATEWAY_CLIENTS: Joi.array().items(clientSchema).min(1).unique('name').required(),
  REDIS_URL: Joi.alternatives()
    .try(Joi.string().valid('memory'), Joi.string().uri({ scheme: ['redis', 'rediss'] }))
    .default(DEFAULTS.REDIS_URL),
  REDIS_COMMAND_TIMEOUT_MS: int(10, 60_000).default(DEFAULTS.REDIS_COMMAND_TIMEOUT_MS),
  REDIS_KEY_PREFIX: Joi.string().max(64).allow('').default(DEFAULTS.REDIS_KEY_PREFIX),
  PLATFORM_CA_FILE: Joi.string(),
  PLATFORM_CERT_FILE: Joi.string(),
  PLATFORM_KEY_FILE: Joi.string(),
  PLATFORM_TIMEOUT_MS: int(100, 300_000).default(DEFAULTS.PLATFORM_TIMEOUT_MS),
  PLATFORM_KEEPALIVE_MS: int(100, 600_000).default(DEFAULTS.PLATFORM_KEEPALIVE_MS),
  BODY_LIMIT: Joi.string()
    .pattern(/^\d+(b|kb|mb)$/i)
    .default(DEFAULTS.BODY_LIMIT),
  GATEWAY_REPLICAS: int(1, 1000).default(DEFAULTS.GATEWAY_REPLICAS),
  LOG_LEVEL: Joi.string()
    .valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent')
    .default(DEFAULTS.LOG_LEVEL),
  QUOTA_WINDOW_MS: int(100, 3_600_000).default(DEFAULTS.QUOTA_WINDOW_MS),
  QUOTA_HOLD_MS: int(1000, 3_600_000).default(DEFAULTS.QUOTA_HOLD_MS),
  TOKEN_LOCK_TTL_MS: int(100, 300_000).default(DEFAULTS.TOKEN_LOCK_TTL_MS),
  TOKEN_ENCRYPTION_KEY: Joi.string().pattern(/^[0-9a-fA-F]{64}(,[0-9a-fA-F]{64})*$/, 'keys of 64 hex characters (32 bytes), comma-separated'),
  IDEMPOTENCY_TTL_SEC: int(1, 30 * 86_400).default(DEFAULTS.IDEMPOTENCY_TTL_SEC),
  BREAKER_FAILURES: int(1, 1000).default(DEFAULTS.BREAKER_FAILURES),
  BREAKER_COOLDOWN_MS: int(10, 600_000).default(DEFAULTS.BREAKER_COOLDOWN_MS),
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(DEFAULTS.SHUTDOWN_TIMEOUT_MS),
})
  .and('PLATFORM_CERT_FILE', 'PLATFORM_KEY_FILE')
  // Unknown keys are the file's or the environment's business (PATH, HOME…): only ours are read.
  .unknown(true);

type Raw = Record<string, unknown>;

/** The JSON-valued variables, which may also come from a file (Docker secrets). */
const JSON_VARS = ['PLATFORM_APPS', 'GATEWAY_CLIENTS'] as const;

function readConfigFile(env: NodeJS.ProcessEnv, cwd: string, problems: string[]): Raw {
  const explicit = env.CONFIG_FILE;
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
  for (const name of JSON_VARS) {
    const fileVar = `${name}_FILE`;
    const fileName = raw[fileVar];
    if (typeof fileName === 'string' && raw[name] === undefined) {
      try {
        raw[name] = readFileSync(path.resolve(cwd, fileName), 'utf8');
      } catch (err) {
        problems.push(`${fileVar}: cannot read ${fileName} (${errnoOf(err) ?? 'error'})`);
      }
    }
    delete raw[fileVar];
    const value = raw[name];
    if (typeof value === 'string') {
      try {
        raw[name] = JSON.parse(value);
      } catch {
        problems.push(`${name}: is not valid JSON`);
        delete raw[name];
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
  if (error) {
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
  const v = (value ?? {}) as Raw;
  const apps = new Map<string, AppConfig>();
  for (const a of (Array.isArray(v.PLATFORM_APPS) ? v.PLATFORM_APPS : []) as AppConfig[]) {
    apps.set(a.appId, Object.freeze({ appId: a.appId, secret: a.secret, ratePerMinute: a.ratePerMinute }));
  }
  const clients: ClientConfig[] = [];
  const seenKeys = new Set<string>();
  const rawClients = (Array.isArray(v.GATEWAY_CLIENTS) ? v.GATEWAY_CLIENTS : []) as Array<{
    name: string;
    key?: string;
    keySha256?: string;
    apps: string[];
  }>;
  rawClients.forEach((c, i) => {
    if (typeof c.name !== 'string') return;
    const digest = c.key !== undefined ? sha256(c.key) : Buffer.from(c.keySha256 ?? '', 'hex');
    if (digest.length !== 32) return;
    const hex = digest.toString('hex');
    if (seenKeys.has(hex)) problems.push(`GATEWAY_CLIENTS[${i}]: uses the same key as another client`);
    seenKeys.add(hex);
    const wildcard = c.apps.includes('*');
    if (wildcard && c.apps.length > 1) problems.push(`GATEWAY_CLIENTS[${i}].apps: "*" must stand alone`);
    if (!wildcard && apps.size > 0) {
      for (const appId of c.apps) {
        if (!apps.has(appId)) problems.push(`GATEWAY_CLIENTS[${i}].apps: names an app that is not configured: ${appId}`);
      }
    }
    clients.push(Object.freeze({ name: c.name, keySha256: digest, apps: wildcard ? '*' : new Set(c.apps) }));
  });
  const platformTls = {
    ca: readPem('PLATFORM_CA_FILE', v.PLATFORM_CA_FILE, cwd, problems),
    cert: readPem('PLATFORM_CERT_FILE', v.PLATFORM_CERT_FILE, cwd, problems),
    key: readPem('PLATFORM_KEY_FILE', v.PLATFORM_KEY_FILE, cwd, problems),
  };
  if (problems.length > 0) throw new ConfigError(problems);

  const n = (name: string): number => v[name] as number;
  const s = (name: string): string => v[name] as string;
  return Object.freeze<Config>({
    port: n('PORT'),
    host: s('HOST'),
    platformUrl: s('PLATFORM_URL').replace(/\/+$/, ''),
    platformTimeoutMs: n('PLATFORM_TIMEOUT_MS'),
    platformKeepAliveMs: n('PLATFORM_KEEPALIVE_MS'),
    platformTls: Object.freeze(
      Object.fromEntries(Object.entries(platformTls).filter(([, b]) => b !== undefined)) as Config['platformTls'],
    ),
    apps,
    clients: Object.freeze(clients),
    redisUrl: s('REDIS_URL') === 'memory' ? null : s('REDIS_URL'),
    redisCommandTimeoutMs: n('REDIS_COMMAND_TIMEOUT_MS'),
    redisKeyPrefix: s('REDIS_KEY_PREFIX'),
    bodyLimit: s('BODY_LIMIT'),
    replicas: n('GATEWAY_REPLICAS'),
    logLevel: s('LOG_LEVEL'),
    quotaWindowMs: n('QUOTA_WINDOW_MS'),
    quotaHoldMs: n('QUOTA_HOLD_MS'),
    tokenLockTtlMs: n('TOKEN_LOCK_TTL_MS'),
    tokenEncryptionKeys: Object.freeze(
      typeof v.TOKEN_ENCRYPTION_KEY === 'string' ? v.TOKEN_ENCRYPTION_KEY.split(',').map((k) => Buffer.from(k, 'hex')) : [],
    ),
    idempotencyTtlSec: n('IDEMPOTENCY_TTL_SEC'),
    breakerFailures: n('BREAKER_FAILURES'),
    breakerCooldownMs: n('BREAKER_COOLDOWN_MS'),
    shutdownTimeoutMs: n('SHUTDOWN_TIMEOUT_MS'),
  });
}
