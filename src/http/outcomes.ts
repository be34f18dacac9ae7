// The one place where outcomes become HTTP answers: quota refusals, token failures, platform errors and the open circuit, as GatewayErrors for the envelope.
import { GatewayError } from '../errors.js';
import { PlatformError, sanePlatformCode } from '../platform/client.js';
import { PLATFORM_CODE, type CodeCatalog } from '../platform/codes.js';
import { quotaHeaders, retryAfterSeconds, type QuotaState } from '../quota/headers.js';
import type { QuotaRefused } from '../quota/outcome.js';
import type { TokenFailure } from '../tokens/outcome.js';
import { isStoreUnavailable } from '../redis.js';

/** 429 for quota and hold-back (with the quota headers), 503 while the quota cannot be proven. */
export function quotaRefusalError(r: QuotaRefused): GatewayError {
  const retryAfter = retryAfterSeconds(r.retryAfterMs);
  switch (r.reason) {
    case 'store-outage':
      return new GatewayError('SERVICE_UNAVAILABLE', {
        message: 'The quota store is unreachable; calls resume once the quota can be enforced safely.',
        retryAfter,
      });
    case 'hold':
    case 'quota':
      return new GatewayError('RATE_LIMITED', {
        message:
          r.reason === 'hold'
            ? "The platform reported this app's quota as exceeded; calls are held back."
            : "The app's platform quota is used up for this minute.",
        // The gateway's own refusal carries the platform's code, so that callers handle both alike.
        platformCode: PLATFORM_CODE.THROTTLED,
        retryAfter,
        headers: quotaHeaders(r.state),
      });
  }
}

/** A platform error in the gateway's terms: keyed on the platform's code, never on its HTTP habit. */
export function platformErrorToGateway(err: PlatformError, catalog: CodeCatalog): GatewayError {
  switch (err.kind) {
    case 'code': {
      const code = sanePlatformCode(err.platformCode);
      const m = catalog.map(code ?? '');
      return new GatewayError(m.code, { message: m.message, platformCode: code, retryable: m.retryable, cause: err });
    }
    case 'too-large':
      // Not retried: the same request would fetch the same oversized answer again.
      return new GatewayError('UPSTREAM_ERROR', { message: 'The platform answer was too large and was cut off.', retryable: false, cause: err });
    case 'local':
      // The gateway's own outage (out of file descriptors, ports…): nothing was sent, the platform is not to blame.
      return new GatewayError('SERVICE_UNAVAILABLE', {
        message: 'The gateway cannot open a connection to the platform now.',
        retryAfter: 1,
        sent: false,
        cause: err,
      });
    case 'timeout':
      return new GatewayError('UPSTREAM_TIMEOUT', { cause: err, sent: err.details.sent });
    case 'unavailable':
      return new GatewayError('UPSTREAM_UNAVAILABLE', { cause: err, retryAfter: 1, sent: err.details.sent });
    case 'bad-body':
      return new GatewayError('UPSTREAM_ERROR', { message: 'The platform answered with a body the gateway cannot read.', cause: err });
    case 'http': {
      const status = err.details.httpStatus ?? 0;
      return new GatewayError('UPSTREAM_ERROR', {
        message: `The platform answered HTTP ${status} without an error code.`,
        retryable: status >= 500,
        cause: err,
      });
    }
  }
}

/** Why no token could be had, as the caller's answer. */
export function tokenFailureError(f: TokenFailure, catalog: CodeCatalog): GatewayError {
  switch (f.reason) {
    case 'credentials-refused':
      return new GatewayError('UPSTREAM_AUTH_FAILED', { platformCode: sanePlatformCode(f.platformCode), retryAfter: retryAfterSeconds(f.retryAfterMs) });
    case 'quota-refused':
      return quotaRefusalError(f.quota);
    case 'platform-error':
      return platformErrorToGateway(f.error, catalog);
    case 'timeout':
      return new GatewayError('UPSTREAM_TIMEOUT', {
        message: 'Timed out waiting for a platform token.',
        // The cause marks a login this process sent and saw unanswered (logged; and an outage for the breaker).
        ...(f.platformSlow ? { cause: new PlatformError('timeout', 'login or refresh still unanswered', { sent: true }) } : {}),
      });
    case 'store-outage':
      return new GatewayError('SERVICE_UNAVAILABLE', {
        message: 'The token store is unreachable; a platform login cannot be coordinated now.',
        retryAfter: retryAfterSeconds(f.retryAfterMs),
      });
    case 'unknown-app':
      return new GatewayError('NOT_FOUND');
  }
}

/** The platform rejected the token it had just issued: no second renewal, the caller is told. */
export function freshTokenRejectedError(platformCode: string): GatewayError {
  return new GatewayError('UPSTREAM_AUTH_FAILED', {
    platformCode: sanePlatformCode(platformCode),
    message: 'The platform rejected a freshly obtained token.',
  });
}

/** The circuit is open: fail fast without a socket, a token or a quota slot. */
export function circuitOpenError(retryAfterMs: number): GatewayError {
  return new GatewayError('UPSTREAM_UNAVAILABLE', {
    message: 'The platform is failing; calls are paused briefly.',
    retryAfter: retryAfterSeconds(retryAfterMs),
  });
}

/**
 * Every answer of a call that was forwarded carries the quota headers (contract §3 "Headers"); and an
 * error raised before this attempt was sent says so (`sent: false`: an Idempotency-Key is released).
 */
export function withQuota(err: unknown, quota: QuotaState | undefined, sent = true): unknown {
  if (!(err instanceof GatewayError)) return err;
  const notSent = !sent && err.sent !== false;
  if ((!quota || err.headers) && !notSent) return err;
  return new GatewayError(err.code, {
    sent: notSent ? false : err.sent,
    message: err.message,
    platformCode: err.platformCode,
    details: err.details,
    retryAfter: err.retryAfter,
    retryable: err.retryable,
    headers: err.headers ?? (quota ? quotaHeaders(quota) : undefined),
    cause: err.cause,
  });
}

/**
 * A Redis failure that reached the edge unhandled, when it says the store is away for a moment (a
 * Sentinel switch: READONLY, a closed connection, a timeout; a cluster failover): 503 with a short
 * Retry-After, never a 500 (contract §12). Anything else from Redis (a script error) stays a 500.
 */
export function storeFailureError(err: unknown): GatewayError | undefined {
  if (!isStoreUnavailable(err)) return undefined;
  return new GatewayError('SERVICE_UNAVAILABLE', {
    message: 'The shared store is switching over or unreachable; retry shortly.',
    retryAfter: 1,
    cause: err,
  });
}
