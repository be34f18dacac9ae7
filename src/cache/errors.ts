// How a loader's failure is shared with the requests that waited for it: the GatewayError's public face only (code, status, message, platformCode, quota headers).
import { GatewayError } from '../errors.js';
import type { ErrorCodec, SharedError } from './types.js';

/** Failures that belong to the request, not to the resource: never handed to another request. */
const NOT_SHARED = new Set<string>(['RATE_LIMITED', 'CLIENT_RATE_LIMITED']);

/** Headers a waiter may receive from another's failure: the app's quota state, nothing about the request. */
const SHAREABLE_HEADER = /^(ratelimit|ratelimit-policy|ratelimit-limit|ratelimit-remaining|ratelimit-reset|retry-after)$/i;

function rebuild(code: string, fields: Omit<SharedError, 'code' | 'status'>, headers: Record<string, string>, cause?: unknown): GatewayError {
  const options = {
    message: fields.message,
    platformCode: fields.platformCode,
    retryAfter: fields.retryAfter,
    retryable: fields.retryable,
    headers,
    cause,
  };
  try {
    return new GatewayError(code as GatewayError['code'], options);
  } catch {
    // A code this replica's catalog does not know (another version mid-rollout): the generic upstream failure.
    return new GatewayError('UPSTREAM_ERROR', { ...options, message: undefined });
  }
}

/** The codec for the gateway's own errors; anything else (a bug) is not shared: waiters load themselves. */
export const gatewayErrorCodec: ErrorCodec = {
  encode(err) {
    if (!(err instanceof GatewayError)) return undefined;
    // A refusal of the loader's own quota share says nothing about the others: a client with a reserve
    // (contract §11) may still be served. They take over and ask the limiter themselves.
    if (NOT_SHARED.has(err.code)) return undefined;
    const headers = Object.fromEntries(Object.entries(err.headers ?? {}).filter(([k]) => SHAREABLE_HEADER.test(k)));
    const shared: SharedError = { code: err.code, status: err.status, message: err.message, retryable: err.retryable };
    if (err.platformCode !== undefined) shared.platformCode = err.platformCode;
    if (err.retryAfter !== undefined) shared.retryAfter = err.retryAfter;
    if (Object.keys(headers).length > 0) shared.headers = headers;
    return shared;
  },
  decode(shared, extra) {
    return rebuild(shared.code, shared, { ...(shared.headers ?? {}), ...extra });
  },
  timeout(extra) {
    return new GatewayError('UPSTREAM_TIMEOUT', {
      message: 'The platform did not answer in time.',
      headers: extra,
    });
  },
  withHeaders(err, extra) {
    if (!(err instanceof GatewayError)) return err;
    const e = new GatewayError(err.code, {
      message: err.message,
      platformCode: err.platformCode,
      details: err.details,
      retryAfter: err.retryAfter,
      retryable: err.retryable,
      sent: err.sent,
      headers: { ...(err.headers ?? {}), ...extra },
      cause: err.cause,
    });
    return e;
  },
};
