// Record of every platform call the simulator saw, so tests can check what the gateway really sent; served redacted (no secrets, no tokens).
import { createHash } from 'node:crypto';

export interface CallEntry {
  at: number;
  method: string;
  path: string;
  query: Record<string, unknown>;
  appId: string | null;
  /** 0 while unanswered, and forever for `hang` and `reset` faults. */
  status: number;
  errorCode?: string;
  /** Set when an injected fault decided the outcome. */
  fault?: 'error' | 'hang' | 'garbage' | 'reset';
  headers: { app_key?: string; authorization?: string; 'content-type'?: string };
  body: unknown;
}

export interface CallSummary {
  total: number;
  byApp: Record<string, number>;
  byRoute: Record<string, number>;
  log: CallEntry[];
}

/** Shown instead of a secret: nothing of it, not even a hash (demo secrets are guessable from one). */
export const REDACTED = '[redacted]';
/** Body keys whose values are secrets (the login's and refresh's `secret`, or anything like it). */
const SECRET_KEY = /secret|password|passwd|credential|private/i;
/** Body keys whose values are tokens: shown as a fingerprint, so tests can still tell tokens apart. */
const TOKEN_KEY = /token|authorization/i;
/** In a body that is not JSON or a form: `key=value`, `"key":"value"` or `key: value` pairs of those keys. */
const TEXT_PAIR = /((?:secret|password|passwd|credential|private|token|authorization)[A-Za-z_]*["']?\s*[=:]\s*["']?)([^&"'\s,}]+)/gi;
const MAX_REDACT_DEPTH = 8;

/**
 * A token's stand-in: `redacted:` and the first 12 hex digits of its SHA-256. Tokens are random, so this
 * reveals nothing usable, and equal tokens still look equal (which is what tests compare).
 */
export function tokenFingerprint(token: string): string {
  return `redacted:${createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 12)}`;
}

/** `Bearer <token>` → `Bearer <fingerprint>`; any other scheme or shape is withheld entirely. */
function redactAuthorization(value: string): string {
  const m = /^(Bearer)\s+(\S+)$/i.exec(value);
  return m ? `${m[1]} ${tokenFingerprint(m[2] as string)}` : REDACTED;
}

function redactValue(key: string, value: unknown, depth: number, secrets: readonly string[]): unknown {
  if (SECRET_KEY.test(key)) return REDACTED;
  if (TOKEN_KEY.test(key)) return typeof value === 'string' ? tokenFingerprint(value) : REDACTED;
  return redactBody(value, depth + 1, secrets);
}

/** A logged body with secrets withheld and tokens fingerprinted, at any depth (past MAX_REDACT_DEPTH: withheld). */
function redactBody(body: unknown, depth: number, secrets: readonly string[]): unknown {
  if (depth > MAX_REDACT_DEPTH) return REDACTED;
  if (typeof body === 'string') {
    let text = body.replace(TEXT_PAIR, (_m, head: string) => `${head}${REDACTED}`);
    // Belt and braces: a known secret anywhere in free text (a malformed body) is withheld too.
    for (const secret of secrets) if (secret.length >= 4) text = text.split(secret).join(REDACTED);
    return text;
  }
  if (Array.isArray(body)) return body.map((v) => redactBody(v, depth + 1, secrets));
  if (typeof body === 'object' && body !== null) {
    return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, redactValue(k, v, depth, secrets)]));
  }
  return body;
}

/** What `GET /__control/calls` may show of an entry: no secret and no token, ever (issue 17, finding 7). */
export function redactEntry(entry: CallEntry, secrets: readonly string[] = []): CallEntry {
  const headers: CallEntry['headers'] = { ...entry.headers };
  if (headers.authorization !== undefined) headers.authorization = redactAuthorization(headers.authorization);
  return { ...entry, headers, body: redactBody(entry.body, 0, secrets), query: redactBody(entry.query, 0, secrets) as Record<string, unknown> };
}

export interface SummaryOptions {
  /** Secrets to withhold wherever they appear (the apps' secrets). */
  secrets?: readonly string[];
  /** In-process tests only (never served over HTTP): the entries as the gateway sent them. */
  raw?: boolean;
}

const MAX_ENTRIES = 50_000;
// Bodies dominate memory; past this budget the oldest entries go even before MAX_ENTRIES is reached.
const MAX_BODY_BYTES = 32 * 1024 * 1024;

export class CallLog {
  private entries: CallEntry[] = [];
  private sizes: number[] = [];
  private head = 0;
  private bodyBytes = 0;
  // Counters cover every call since the last reset, independent of what the capped log still holds.
  private total = 0;
  private byApp = new Map<string, number>();
  private byRoute = new Map<string, number>();

  add(entry: CallEntry, bodyBytes: number): void {
    this.entries.push(entry);
    this.sizes.push(bodyBytes);
    this.bodyBytes += bodyBytes;
    this.total++;
    if (entry.appId !== null) this.byApp.set(entry.appId, (this.byApp.get(entry.appId) ?? 0) + 1);
    const route = `${entry.method} ${entry.path}`;
    this.byRoute.set(route, (this.byRoute.get(route) ?? 0) + 1);
    while (this.entries.length - this.head > MAX_ENTRIES || this.bodyBytes > MAX_BODY_BYTES) {
      this.bodyBytes -= this.sizes[this.head] ?? 0;
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Without `since`: exact counters since reset plus the retained log.
   * With `since`: counters computed from the retained entries at or after it (exact unless the log was capped).
   */
  summary(since?: number, opts: SummaryOptions = {}): CallSummary {
    const all = this.entries.slice(this.head);
    const retained = opts.raw ? all : all.map((e) => redactEntry(e, opts.secrets));
    if (since === undefined) {
      return {
        total: this.total,
        byApp: Object.fromEntries(this.byApp),
        byRoute: Object.fromEntries(this.byRoute),
        log: retained,
      };
    }
    const log = retained.filter((e) => e.at >= since);
    const byApp: Record<string, number> = {};
    const byRoute: Record<string, number> = {};
    for (const e of log) {
      if (e.appId !== null) byApp[e.appId] = (byApp[e.appId] ?? 0) + 1;
      const route = `${e.method} ${e.path}`;
      byRoute[route] = (byRoute[route] ?? 0) + 1;
    }
    return { total: log.length, byApp, byRoute, log };
  }

  clear(): void {
    this.entries = [];
    this.sizes = [];
    this.head = 0;
    this.bodyBytes = 0;
    this.total = 0;
    this.byApp.clear();
    this.byRoute.clear();
  }
}
