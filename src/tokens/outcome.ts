// What the token manager answers: a token, or why there is none. Plain data; the HTTP answer is made in src/http/outcomes.ts.
import type { PlatformError } from '../platform/client.js';
import type { QuotaRefused } from '../quota/outcome.js';

/**
 * - `credentials-refused`: the platform refused the app's login (a code meaning so in the catalog), now or
 *   within the back-off that followed; `retryAfterMs` is what is left of the back-off.
 * - `quota-refused`: the login or refresh could not get a quota slot (used up, held back, store out).
 * - `platform-error`: the login or refresh failed otherwise at the platform (outage, timeout, unknown code…).
 * - `timeout`: the caller's deadline (or the wait for another replica's login) passed first;
 *   `platformSlow` when this process's own login was still unanswered, which the circuit breaker counts.
 * - `store-outage`: the token store is unreachable and, with several replicas, a login cannot be coordinated.
 * - `unknown-app`: no credentials are configured for the app.
 */
export type TokenFailure =
  | { readonly ok: false; readonly reason: 'credentials-refused'; readonly platformCode: string; readonly retryAfterMs: number }
  | { readonly ok: false; readonly reason: 'quota-refused'; readonly quota: QuotaRefused }
  | { readonly ok: false; readonly reason: 'platform-error'; readonly error: PlatformError }
  | { readonly ok: false; readonly reason: 'timeout'; readonly platformSlow: boolean }
  | { readonly ok: false; readonly reason: 'store-outage'; readonly retryAfterMs: number }
  | { readonly ok: false; readonly reason: 'unknown-app' };

export type TokenOutcome = { readonly ok: true; readonly token: string } | TokenFailure;

/** A failure that says the platform is unwell (the circuit breaker counts it like a failed call). */
export function isPlatformOutage(f: TokenFailure): boolean {
  return (f.reason === 'platform-error' && f.error.isOutage) || (f.reason === 'timeout' && f.platformSlow);
}
