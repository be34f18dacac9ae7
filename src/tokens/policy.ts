// Token and retry timing policy as pure functions: when to renew, how long to back off after a refused login, how long to wait before a retry.

/**
 * When to start renewing a token issued at `issuedAt` for `expiresInSec`: a tenth of its lifetime
 * early, at least 1 s and at most 5 min (Huawei's Go client renews 5 min early on 1 h tokens), and
 * never earlier than half its life, so that a very short token is still used.
 */
export function renewAt(issuedAt: number, expiresInSec: number): number {
  const lifetime = expiresInSec * 1000;
  const margin = Math.min(Math.max(lifetime * 0.1, 1000), 300_000, lifetime / 2);
  return issuedAt + lifetime - margin;
}

/**
 * After the platform refused an app's credentials `failures` times in a row, wait this long before
 * the next login: 5 s, doubling, at most 5 min. A wrong secret stays wrong; hammering the platform
 * only spends quota and risks the app being frozen.
 */
export function loginBackoffMs(failures: number): number {
  return Math.min(5000 * 2 ** Math.max(0, failures - 1), 300_000);
}

/**
 * Delay before retry `attempt` (1-based) of an idempotent call: exponential from `baseMs`, capped,
 * with "equal jitter" (half fixed, half random) so that replicas do not retry in step.
 * `random` is in [0, 1).
 */
export function retryDelayMs(attempt: number, random: number, baseMs = 100, capMs = 2000): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (exp / 2) * random);
}

/**
 * Shortest token lifetime believed (s). A platform answering 0.001 made every call a login (renewAt is
 * half the lifetime at most); at 2 s an app is renewed at most once a second, whatever the call rate,
 * across all replicas (one flight, one lock). Short real lifetimes (tests use 2 s) are still honoured.
 */
export const MIN_TOKEN_LIFETIME_SEC = 2;
/** Longest token lifetime believed (s): a huge one would overflow the expiry (Infinity is stored as null) or never renew. */
export const MAX_TOKEN_LIFETIME_SEC = 86_400;
/** What the Java SDK assumes when the platform gives no usable lifetime; so do we. */
export const DEFAULT_TOKEN_LIFETIME_SEC = 3600;

/**
 * The lifetime (s) to use for a token the platform said lives `expiresIn`: the platform's value, read as a
 * number and clamped to [MIN_TOKEN_LIFETIME_SEC, MAX_TOKEN_LIFETIME_SEC]; an hour when it is missing, not a
 * number, zero or negative. A token that really dies sooner is answered 1010005, which renews it once per
 * flight, so believing too long a life costs one retry; believing too short a one costs a login per call.
 * Huge values (1e308, Infinity) would make the expiry Infinity, which JSON stores as null: never usable
 * again, so every call would have logged in.
 */
export function tokenLifetimeSec(expiresIn: unknown): number {
  const n = typeof expiresIn === 'number' ? expiresIn : typeof expiresIn === 'string' && expiresIn.trim() !== '' ? Number(expiresIn) : NaN;
  if (!Number.isFinite(n) || n <= 0) return DEFAULT_TOKEN_LIFETIME_SEC;
  return Math.min(MAX_TOKEN_LIFETIME_SEC, Math.max(MIN_TOKEN_LIFETIME_SEC, Math.floor(n)));
}

/** Longest token accepted from the platform (its tokens are tens of characters). */
export const MAX_TOKEN_LENGTH = 2048;
const TOKEN_SHAPE = /^[\x21-\x7E]+$/;

/**
 * Whether a token from the platform can be used as sent: visible ASCII only (no CR, LF, spaces or control
 * characters, which would break the `Authorization` header it goes into), 1 to MAX_TOKEN_LENGTH characters.
 * A token that fails this is refused at login, instead of being cached and failing every call for its life.
 */
export function isUsableToken(token: unknown): token is string {
  return typeof token === 'string' && token.length > 0 && token.length <= MAX_TOKEN_LENGTH && TOKEN_SHAPE.test(token);
}
