// The one error middleware: whatever failed, the caller gets the contract's envelope with a requestId, never a stack trace.
import type { NextFunction, Request, Response } from 'express';
import { GatewayError, toEnvelope } from '../errors.js';
import { storeFailureError } from './outcomes.js';
import { applyHeaders } from '../quota/headers.js';

/** body-parser's and Express's own errors, by their `type` or status, in the catalog's terms. */
function fromFramework(err: { type?: unknown; status?: unknown; statusCode?: unknown }): GatewayError | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new GatewayError('PAYLOAD_TOO_LARGE');
    case 'entity.parse.failed':
      return new GatewayError('VALIDATION_FAILED', {
        message: 'The body is not valid JSON.',
        details: [{ field: 'body', message: 'not valid JSON' }],
      });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new GatewayError('UNSUPPORTED_MEDIA_TYPE', { message: 'The body encoding or charset is not supported.' });
    case 'request.aborted':
    case 'request.size.invalid':
      return new GatewayError('VALIDATION_FAILED', { message: 'The body was incomplete.' });
    default:
      break;
  }
  const status = Number(err.status ?? err.statusCode);
  // e.g. a malformed percent-encoding in the path (Express answers URIError with 400).
  if (status === 400) return unparsableRequest();
  if (status === 413) return new GatewayError('PAYLOAD_TOO_LARGE');
  if (status === 415) return new GatewayError('UNSUPPORTED_MEDIA_TYPE');
  return undefined;
}

/** A request whose URL or body cannot even be read (a malformed percent-encoding, say): 400, as Express answers it. */
export const unparsableRequest = (): GatewayError => new GatewayError('VALIDATION_FAILED', { message: 'The request could not be parsed.' });

export function notFound(): never {
  throw new GatewayError('NOT_FOUND', { message: 'No such route.' });
}

export function errorHandler() {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => respondWithError(err, res);
}

/** Answers any failure in the envelope; the route handlers call it directly for their own refusals. */
export function respondWithError(err: unknown, res: Response): void {
  const known =
    err instanceof GatewayError
      ? err
      : typeof err === 'object' && err !== null
        ? (fromFramework(err as Record<string, unknown>) ?? storeFailureError(err))
        : undefined;
  const gwErr = known ?? new GatewayError('INTERNAL', { cause: err });
  const log = res.locals.log;
  if (gwErr.code === 'INTERNAL') {
    log?.error({ err, stack: err instanceof Error ? err.stack : undefined }, 'unexpected error');
  } else if (gwErr.status >= 500) {
    log?.warn({ code: gwErr.code, platformCode: gwErr.platformCode, cause: gwErr.cause }, gwErr.message);
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (gwErr.headers) applyHeaders(res, gwErr.headers);
  if (gwErr.retryAfter !== undefined) res.setHeader('Retry-After', String(gwErr.retryAfter));
  res.status(gwErr.status).json(toEnvelope(gwErr, res.locals.requestId ?? 'unknown'));
}
