// Quota response headers (IETF RateLimit fields, draft-ietf-httpapi-ratelimit-headers) and Retry-After, as pure functions.

export interface QuotaState {
  limit: number;
  remaining: number;
  /** Milliseconds until the window has room again (remaining grows). */
  resetMs: number;
  windowMs: number;
}

/** Whole seconds, rounded up: a client that waits that long is never too early. */
export const toSeconds = (ms: number): number => Math.max(0, Math.ceil(ms / 1000));

/**
 * `RateLimit-Policy: "app";q=100;w=60` and `RateLimit: "app";r=3;t=12`, plus the widely used
 * `RateLimit-Limit/Remaining/Reset` trio for clients written against the older drafts.
 */
export function quotaHeaders(s: QuotaState): Record<string, string> {
  const t = String(toSeconds(s.resetMs));
  const remaining = String(Math.max(0, s.remaining));
  return {
    'RateLimit-Policy': `"app";q=${s.limit};w=${toSeconds(s.windowMs)}`,
    RateLimit: `"app";r=${remaining};t=${t}`,
    'RateLimit-Limit': String(s.limit),
    'RateLimit-Remaining': remaining,
    'RateLimit-Reset': t,
  };
}

/** Retry-After for a refusal; never 0, so that a client does not spin. */
export const retryAfterSeconds = (ms: number): number => Math.max(1, toSeconds(ms));

/** The IETF fields that are lists: the app quota's item is added next to the client rate limit's ("client"), not over it. */
const LIST_FIELDS = new Set(['ratelimit-policy', 'ratelimit']);

/** Sets answer headers, appending to the RateLimit list fields instead of replacing them. */
export function applyHeaders(res: { append(name: string, value: string): unknown; setHeader(name: string, value: string): unknown }, headers: Record<string, string>): void {
  for (const [k, v] of Object.entries(headers)) {
    if (LIST_FIELDS.has(k.toLowerCase())) res.append(k, v);
    else res.setHeader(k, v);
  }
}

/**
 * The `wait` preference of a `Prefer` header (RFC 7240 §4.3: delta-seconds), among others
 * (`respond-async, wait=10`); undefined when absent or malformed. The first `wait` wins (RFC 7240 §2).
 */
export function preferredWaitSeconds(prefer: string | undefined): number | undefined {
  if (!prefer) return undefined;
  for (const part of prefer.split(',')) {
    const m = /^\s*wait\s*=\s*"?(\d{1,9})"?\s*(?:;.*)?$/i.exec(part);
    if (m) return Number(m[1]);
  }
  return undefined;
}
