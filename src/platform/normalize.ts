// Turns a PlatformError into the gateway's public error: one mapping, keyed on the platform's code, never on its HTTP habit.
import { GatewayError } from '../errors.js';
import { mapPlatformCode } from './codes.js';
import type { PlatformError } from './client.js';

export function toGatewayError(err: PlatformError): GatewayError {
  switch (err.kind) {
    case 'code': {
      const code = err.platformCode ?? '';
      const m = mapPlatformCode(code);
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
