// Caller cache directives and the answer's Cache-Status (RFC 9211) and Age (pure): what a request accepts, and how the cache says what it did.

/** What a caller's Cache-Control asks of the cache (RFC 9111 §5.2.1); everything else is ignored. */
export interface RequestDirectives {
  /** `no-cache`: do not answer from the cache; ask the platform (and store the new answer). */
  noCache: boolean;
  /** `max-age=N`: accept a cached answer at most N seconds old. */
  maxAgeSec: number | undefined;
}

/** Bounds that keep a hostile header cheap: only this much of it is read, and only this many directives. */
const MAX_HEADER_CHARS = 1024;
const MAX_DIRECTIVES = 32;
/** RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2^31. */
const DELTA_SECONDS_MAX = 2_147_483_648;

/**
 * Parses a request's Cache-Control robustly: names are case-insensitive, junk directives and malformed
 * values are skipped (never an error: a header the cache does not understand must not fail a request),
 * `max-age` accepts a quoted value as RFC 9111 §5.2 asks recipients to, and of several `max-age` the
 * smallest wins (the most cautious reading). `Pragma: no-cache` is honoured when no Cache-Control is given.
 */
export function parseCacheControl(header: string | readonly string[] | undefined, pragma?: string | readonly string[]): RequestDirectives {
  const out: RequestDirectives = { noCache: false, maxAgeSec: undefined };
  const text = (Array.isArray(header) ? header.join(',') : ((header as string | undefined) ?? '')).slice(0, MAX_HEADER_CHARS);
  if (text.trim() === '') {
    const p = (Array.isArray(pragma) ? pragma.join(',') : ((pragma as string | undefined) ?? '')).slice(0, MAX_HEADER_CHARS);
    if (/(^|,)\s*no-cache\s*(,|$)/i.test(p)) out.noCache = true;
    return out;
  }
  let seen = 0;
  for (const part of text.split(',')) {
    if (++seen > MAX_DIRECTIVES) break;
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const raw = eq < 0 ? undefined : part.slice(eq + 1).trim();
    if (name === 'no-cache') out.noCache = true;
    else if (name === 'max-age' && raw !== undefined) {
      const value = /^"(.*)"$/.exec(raw)?.[1] ?? raw;
      if (!/^\d{1,20}$/.test(value)) continue;
      const n = Math.min(Number(value), DELTA_SECONDS_MAX);
      out.maxAgeSec = out.maxAgeSec === undefined ? n : Math.min(out.maxAgeSec, n);
    }
  }
  return out;
}

/** Whole seconds since the answer was received from the platform (the `Age` header, RFC 9111 §5.1). */
export function ageSeconds(ageMs: number): number {
  return Math.max(0, Math.floor(ageMs / 1000));
}

export type Freshness = 'fresh' | 'stale' | 'expired';

/**
 * Whether a stored answer of `ageMs` may answer this request: within the operation's TTL (which may have been
 * lowered since it was stored) and within the caller's max-age, compared in whole seconds as Age shows them.
 */
export function freshness(ageMs: number, ttlMs: number, d: RequestDirectives): Freshness {
  if (ageMs >= ttlMs) return 'expired';
  if (d.maxAgeSec !== undefined && ageSeconds(ageMs) > d.maxAgeSec) return 'stale';
  return 'fresh';
}

/** The `fwd` values this cache uses (RFC 9211 §2.2). */
export type Forward = 'miss' | 'uri-miss' | 'request' | 'stale' | 'bypass';

export interface CacheStatusParts {
  hit?: boolean;
  fwd?: Forward;
  /** The platform's status, when the cache forwarded and an answer came back. */
  fwdStatus?: number;
  /** Seconds of freshness left (RFC 9211 §2.5), on hits. */
  ttlSec?: number;
  stored?: boolean;
  collapsed?: boolean;
  /** A token: why the cache did what it did (e.g. `too-large`, `store-unavailable`). */
  detail?: string;
}

/** This cache's name in Cache-Status: an sf-token. */
export const CACHE_NAME = 'iot-bff';

/**
 * Builds one Cache-Status member, e.g. `iot-bff; hit; ttl=4` or `iot-bff; fwd=miss; fwd-status=200; stored`.
 * Parameters follow RFC 9211's order of mention; a boolean true is written bare, as Structured Fields do.
 */
export function cacheStatus(p: CacheStatusParts): string {
  const parts = [CACHE_NAME];
  if (p.hit) parts.push('hit');
  if (p.fwd) parts.push(`fwd=${p.fwd}`);
  if (p.fwdStatus !== undefined) parts.push(`fwd-status=${Math.trunc(p.fwdStatus)}`);
  if (p.ttlSec !== undefined) parts.push(`ttl=${Math.trunc(p.ttlSec)}`);
  if (p.stored) parts.push('stored');
  if (p.collapsed) parts.push('collapsed');
  if (p.detail !== undefined) parts.push(`detail=${sfTokenOrString(p.detail)}`);
  return parts.join('; ');
}

/** An sf-token when it is one, else an sf-string: printable ASCII only, `"` and `\\` escaped (RFC 8941 §3.3.3). */
function sfTokenOrString(text: string): string {
  if (/^[A-Za-z*][A-Za-z0-9!#$%&'*+.^_`|~:/-]*$/.test(text)) return text;
  return `"${text.replace(/[^\x20-\x7e]/g, '').replace(/["\\]/g, '\\$&')}"`;
}
