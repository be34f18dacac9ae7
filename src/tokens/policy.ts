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
