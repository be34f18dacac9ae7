// The compat front's error answers: any failure of a call (a GatewayError, or a replayed envelope) as the platform's `{error_code, error_desc}` with the status the platform uses.
import { GatewayError, type EnvelopeFields } from '../errors.js';
import { PlatformError } from '../platform/client.js';
import { PLATFORM_CODE } from '../platform/codes.js';

/** An error answer in the platform's format. */
export interface PlatformErrorAnswer {
  status: number;
  body: { error_code: string; error_desc: string };
}

/**
 * The platform's own answers the compat front gives without asking it, with the platform's wording
 * (platform-api.md §1.7, §2): an SDK recognises them and reacts as it would to the platform (logs in
 * again on 1010005, backs off on 1010009).
 */
export const PLATFORM_ANSWERS = {
  invalidInput: { status: 400, body: { error_code: PLATFORM_CODE.INVALID_INPUT, error_desc: 'The input is invalid.' } },
  /** What the platform answers for a path it does not serve (as src/simulator/server.ts's fallback). */
  noSuchApi: { status: 404, body: { error_code: PLATFORM_CODE.INVALID_INPUT, error_desc: 'The input is invalid.' } },
  requiredMissing: {
    status: 400,
    body: { error_code: PLATFORM_CODE.REQUIRED_PARAMETER_MISSING, error_desc: 'Required Parameter is null or empty.' },
  },
  credentialsRefused: { status: 401, body: { error_code: PLATFORM_CODE.CREDENTIALS_REFUSED, error_desc: 'AppId or secret is not right.' } },
  appIdMissing: { status: 401, body: { error_code: PLATFORM_CODE.APP_ID_MISSING, error_desc: 'AppId for auth not exist.' } },
  tokenInvalid: { status: 403, body: { error_code: PLATFORM_CODE.TOKEN_INVALID, error_desc: 'App_key or access_token is invalid.' } },
  throttled: { status: 403, body: { error_code: PLATFORM_CODE.THROTTLED, error_desc: 'app throttle exceed.' } },
  internal: { status: 500, body: { error_code: PLATFORM_CODE.INTERNAL_ERROR, error_desc: 'Internal server error.' } },
  /** A subscription's callback URL the gateway cannot deliver to: the platform's 100222, its text as it is (sic). */
  invalidCallbackUrl: { status: 400, body: { error_code: PLATFORM_CODE.INVALID_CALLBACK_URL, error_desc: 'Internal server error.' } },
} as const satisfies Record<string, PlatformErrorAnswer>;

/** Codes of the gateway's own refusals that have no platform equivalent: prefixed so that nobody takes them for the platform's (contract §14). */
export const GATEWAY_CODE_PREFIX = 'GW.';

const answer = (status: number, code: string, desc: string): PlatformErrorAnswer => ({ status, body: { error_code: code, error_desc: desc } });

/**
 * One failure in the platform's format. The rules, in order:
 * - quota refusals (the app's, a client's share, the platform's own 1010009 held back): 403 1010009, as the platform;
 * - a platform code the platform itself answered: that code, with the HTTP status the platform used;
 * - the platform refusing the gateway's own credentials: `GW.UPSTREAM_AUTH_FAILED` (not the caller's to fix);
 * - invalid input found by the gateway: the API's platform code when it documents one, else 100022; 400;
 * - any other failure that carries a platform code: that code with the gateway's status;
 * - the gateway's internal error: the platform's generic 500 50252;
 * - everything else (platform unreachable or slow, store outages, Idempotency-Key conflicts…): `GW.<CODE>`
 *   with the gateway's status (503, 504, 409…), so that an SDK sees an error and nobody mistakes it for the platform's.
 * The description is the gateway's public message (never a secret, never the platform's raw text).
 */
export function toPlatformError(err: unknown): PlatformErrorAnswer {
  if (!(err instanceof GatewayError)) return PLATFORM_ANSWERS.internal;
  return fromFields(err.code, err.status, err.message, err.platformCode, err.cause);
}

/**
 * A replayed Idempotency-Key error answer (the envelope's fields and status, as stored) in the platform's format;
 * `platformStatus`: the HTTP status the platform answered its own code with, as the first answer carried it.
 */
export function replayedToPlatformError(status: number, fields: EnvelopeFields, platformStatus?: number): PlatformErrorAnswer {
  return fromFields(fields.code, status, fields.message, fields.platformCode, undefined, platformStatus);
}

function fromFields(
  code: string,
  status: number,
  message: string,
  platformCode: string | undefined,
  cause: unknown,
  platformStatus?: number,
): PlatformErrorAnswer {
  // A string compare, not the ErrorCode type: a client's own rate limit (fair shares) may add its code later.
  if (code === 'RATE_LIMITED' || code === 'CLIENT_RATE_LIMITED') {
    return answer(PLATFORM_ANSWERS.throttled.status, PLATFORM_CODE.THROTTLED, PLATFORM_ANSWERS.throttled.body.error_desc);
  }
  if (platformCode !== undefined && cause instanceof PlatformError && cause.kind === 'code') {
    // The platform's own answer: its status (even a 200 that carries error_code: the SDKs test error_code first).
    return answer(cause.details.httpStatus ?? status, platformCode, message);
  }
  if (platformCode !== undefined && platformStatus !== undefined) return answer(platformStatus, platformCode, message);
  // The platform refused the GATEWAY's credentials or token: the caller's session is fine, and passing on
  // 1010005 or 100208 would send its SDK into a login that cannot help.
  if (code === 'UPSTREAM_AUTH_FAILED') return answer(status, `${GATEWAY_CODE_PREFIX}${code}`, message);
  if (code === 'VALIDATION_FAILED') return answer(400, platformCode ?? PLATFORM_CODE.INVALID_INPUT, message);
  if (platformCode !== undefined) return answer(status, platformCode, message);
  if (code === 'INTERNAL') return PLATFORM_ANSWERS.internal;
  return answer(status, `${GATEWAY_CODE_PREFIX}${code}`, message);
}
