// Turns a PlatformError into the gateway's public error: one mapping, keyed on the platform's code, never on its HTTP habit.
import { GatewayError } from '../errors.js';
import { mapPlatformCode, PLATFORM_CODES } from './codes.js';
import type { PlatformError } from './client.js';
import { FAMILIES } from '../families/index.js';
import type { CodeMeaning } from './codes.js';
import type { ErrorCode } from '../errors.js';

/** The gateway code of each meaning a family gives its codes (contract §9: map by meaning). */
const BY_MEANING: Readonly<Record<CodeMeaning, ErrorCode>> = {
  'credentials-refused': 'UPSTREAM_AUTH_FAILED',
  'token-invalid': 'UPSTREAM_AUTH_FAILED',
  throttled: 'RATE_LIMITED',
  'not-found': 'NOT_FOUND',
  conflict: 'CONFLICT',
  'invalid-input': 'VALIDATION_FAILED',
  'platform-failure': 'UPSTREAM_ERROR',
};

/**
 * A bridge until the one code catalog (built from COMMON_CODES and every family's table) replaces this
 * file: a code that PLATFORM_CODES lacks but a family defines is answered by its meaning. A platform
 * conflict is not retryable (the thing exists already), unlike the catalog's idempotency CONFLICT.
 */
function familyMapping(code: string): { code: ErrorCode; message: string; retryable: boolean } | undefined {
  for (const f of FAMILIES) {
    const info = Object.hasOwn(f.codes, code) ? f.codes[code] : undefined;
    if (info === undefined) continue;
    const retryable = info.retryable ?? (info.meaning === 'platform-failure' || info.meaning === 'throttled');
    return { code: BY_MEANING[info.meaning], message: info.message, retryable };
  }
  return undefined;
}

export function toGatewayError(err: PlatformError): GatewayError {
  switch (err.kind) {
    case 'code': {
      const code = err.platformCode ?? '';
      const m = (Object.hasOwn(PLATFORM_CODES, code) ? undefined : familyMapping(code)) ?? mapPlatformCode(code);
      return new GatewayError(m.code, { message: m.message, platformCode: code, retryable: m.retryable, cause: err });
    }
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
