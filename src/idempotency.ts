// Idempotency-Key on creating routes (IETF draft semantics): the first answer is stored and replayed, a different body is 422, a repeat in flight is 409.
import { createHash } from 'node:crypto';
// RedisClient: one server, a Sentinel set or a Cluster (issue 14); the alias keeps this file's annotations.
import type { RedisClient as Redis } from './redis.js';
import { envelopeFields, GatewayError, type ErrorCode } from './errors.js';
import type { Metrics } from './metrics.js';
import { PlatformError } from './platform/client.js';

/** The draft's key is a structured-field string; we accept its printable ASCII, bounded like Stripe's. */
const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/;

/**
 * What a replay needs to answer as each front answered the first time (one record serves both: the same client,
 * app, route and key on /v1 and on the compat port is one request, and must never create a second task).
 */
export interface StoredAnswer {
  /** The gateway's answer (/v1): its status and shaped body, or for an error its envelope body. */
  status: number;
  body: unknown;
  /** A success's platform answer (the compat front answers it unchanged). */
  platform?: { status: number; body: unknown };
  /** An error that was the platform's own code: the HTTP status the platform answered it with (the compat front's status). */
  platformStatus?: number;
}

/** As kept: a platform body equal to the gateway's is not kept twice (most creates), so a record costs what it did. */
type Kept = Omit<StoredAnswer, 'platform'> & { platform?: { status: number; body?: unknown } };

type Record_ = { state: 'pending'; fp: string } | ({ state: 'done'; fp: string } & Kept);

function keep(a: StoredAnswer): Kept {
  const { platform, ...rest } = a;
  if (!platform) return rest;
  const same = JSON.stringify(platform.body) === JSON.stringify(a.body);
  return { ...rest, platform: same ? { status: platform.status } : platform };
}

function unkeep(k: Kept): StoredAnswer {
  const { platform, ...rest } = k;
  if (!platform) return rest;
  return { ...rest, platform: { status: platform.status, body: 'body' in platform ? platform.body : k.body } };
}

/** Where records live: Redis for every replica, or a Map for the in-process store. */
export interface IdempotencyBackend {
  /** Creates the record if absent; returns the existing one otherwise. */
  claim(key: string, fp: string, ttlMs: number): Promise<Record_ | null>;
  save(key: string, rec: Record_, ttlMs: number): Promise<void>;
  release(key: string): Promise<void>;
}

export class RedisIdempotencyBackend implements IdempotencyBackend {
  constructor(private readonly redis: Redis) {}
  async claim(key: string, fp: string, ttlMs: number): Promise<Record_ | null> {
    const ok = await this.redis.set(key, JSON.stringify({ state: 'pending', fp }), 'PX', ttlMs, 'NX');
    if (ok === 'OK') return null;
    const raw = await this.redis.get(key);
    // Expired between the two commands: the caller may claim again.
    return raw ? (JSON.parse(raw) as Record_) : { state: 'pending', fp };
  }
  async save(key: string, rec: Record_, ttlMs: number): Promise<void> {
    await this.redis.set(key, JSON.stringify(rec), 'PX', ttlMs);
  }
  async release(key: string): Promise<void> {
    await this.redis.del(key);
  }
}

export class MemoryIdempotencyBackend implements IdempotencyBackend {
  private readonly records = new Map<string, { rec: Record_; until: number }>();
  async claim(key: string, fp: string, ttlMs: number): Promise<Record_ | null> {
    const now = Date.now();
    for (const [k, v] of this.records) if (v.until <= now) this.records.delete(k);
    const found = this.records.get(key);
    if (found) return found.rec;
    this.records.set(key, { rec: { state: 'pending', fp }, until: now + ttlMs });
    return null;
  }
  async save(key: string, rec: Record_, ttlMs: number): Promise<void> {
    this.records.set(key, { rec, until: Date.now() + ttlMs });
  }
  async release(key: string): Promise<void> {
    this.records.delete(key);
  }
}

/**
 * Answers that say "the platform did not act on this request": the key is released so that the
 * caller can retry with it. Every other answer (success, platform refusals, timeouts and garbage,
 * where the platform may have created the task) is stored and replayed, so that a retry never
 * creates a second task.
 */
const RELEASING: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'RATE_LIMITED',
  'SERVICE_UNAVAILABLE',
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_AUTH_FAILED',
  'INTERNAL',
]);

/**
 * A releasing code releases the key only if the request certainly did not reach the platform. A
 * connection broken after the request was written (ECONNRESET…, `sent: true`) lost the answer, not
 * the request, exactly like a timeout: the task may exist, so the answer is stored (idempotency.test.ts).
 * A login broken the same way is caught too: the safe side, the caller then needs a new key.
 */
function releases(err: GatewayError): boolean {
  // Whatever the code: an answer given before the request was sent (a token that could not be had, a
  // deadline passed while waiting for one) left nothing behind at the platform.
  if (err.sent === false) return true;
  if (!RELEASING.has(err.code)) return false;
  const cause = err.cause;
  return !(cause instanceof PlatformError && cause.kind === 'unavailable' && cause.details.sent);
}

/** Stable JSON: keys sorted, so that the same body in another key order has the same fingerprint. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

export interface IdempotencyScope {
  prefix: string;
  appId: string;
  client: string;
  routeId: string;
  key: string;
}

export class Idempotency {
  constructor(
    private readonly backend: IdempotencyBackend,
    private readonly ttlSec: number,
    private readonly metrics: Metrics,
  ) {}

  static checkKey(key: string): void {
    if (!KEY_FORMAT.test(key)) {
      throw new GatewayError('VALIDATION_FAILED', {
        message: 'Idempotency-Key must be 1 to 255 printable ASCII characters.',
        details: [{ field: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters' }],
      });
    }
  }

  /**
   * Runs `work` once per (client, app, route, key). `pendingMs` bounds how long a claim may stay
   * pending if this process dies mid-call (the request's own deadline plus a margin).
   */
  async run(
    scope: IdempotencyScope,
    request: unknown,
    pendingMs: number,
    work: () => Promise<StoredAnswer>,
  ): Promise<StoredAnswer & { replayed: boolean }> {
    // The key is scoped to the caller and the app, so that one client cannot read another's answers.
    const storeKey = `${scope.prefix}idem:{${scope.appId}}:${sha256(`${scope.client}\n${scope.routeId}\n${scope.key}`)}`;
    const fp = sha256(canonical(request));
    let existing: Record_ | null;
    try {
      existing = await this.backend.claim(storeKey, fp, pendingMs);
    } catch (err) {
      throw new GatewayError('SERVICE_UNAVAILABLE', {
        message: 'Idempotency records are unavailable; retry shortly.',
        retryAfter: 1,
        cause: err,
      });
    }
    if (existing) {
      if (existing.fp !== fp) {
        this.metrics.idempotency.inc({ outcome: 'mismatch' });
        throw new GatewayError('IDEMPOTENCY_KEY_REUSED');
      }
      if (existing.state === 'pending') {
        this.metrics.idempotency.inc({ outcome: 'conflict' });
        throw new GatewayError('CONFLICT', { retryAfter: 1 });
      }
      this.metrics.idempotency.inc({ outcome: 'replayed' });
      const { state: _state, fp: _fp, ...kept } = existing;
      return { ...unkeep(kept), replayed: true };
    }
    const ttlMs = this.ttlSec * 1000;
    let answer: StoredAnswer;
    try {
      answer = await work();
    } catch (err) {
      if (err instanceof GatewayError && !releases(err)) {
        // Store the error answer as it will be shown, minus the request id (a replay gets its own).
        // An answer that left the outcome unknown (a timeout, a garbled answer, a broken connection)
        // said "retryable" the first time, which is right: retry with the same key. Replayed, that
        // flag would make a client loop for 24 h, so the replay says what to do instead.
        const unknownOutcome = err.status >= 500;
        const body = {
          error: envelopeFields(err, {
            message: unknownOutcome
              ? 'The first request with this Idempotency-Key ended without a known outcome; the task may exist. Check the task list before retrying with a new key.'
              : err.message,
            retryable: unknownOutcome ? false : err.retryable,
          }),
        };
        const cause = err.cause;
        // The compat front answers a platform code with the platform's own HTTP status (even a 200): kept for its replay.
        const platformStatus =
          err.platformCode !== undefined && cause instanceof PlatformError && cause.kind === 'code' ? cause.details.httpStatus : undefined;
        const rec = { state: 'done' as const, fp, status: err.status, body, ...(platformStatus !== undefined && { platformStatus }) };
        await this.backend.save(storeKey, rec, ttlMs).catch(() => undefined);
        this.metrics.idempotency.inc({ outcome: 'stored' });
      } else {
        await this.backend.release(storeKey).catch(() => undefined);
      }
      throw err;
    }
    await this.backend.save(storeKey, { state: 'done', fp, ...keep(answer) }, ttlMs).catch(() => undefined);
    this.metrics.idempotency.inc({ outcome: 'stored' });
    return { ...answer, replayed: false };
  }
}
