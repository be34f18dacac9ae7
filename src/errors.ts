// The gateway's one error catalog: every failure a caller can see has a stable code here (append-only; see docs/errors.md).

/** One entry of the catalog. `status` follows HTTP's meaning, not the platform's habit. */
export interface CatalogEntry {
  readonly status: number;
  readonly retryable: boolean;
  /** Default public message; a thrown error may give a more precise one. Never contains secrets. */
  readonly message: string;
}

/**
 * Append-only: a code, once published, keeps its meaning; a retired code is never reused.
 * Each is documented in docs/errors.md (a test checks that the two lists agree).
 */
export const CATALOG = {
  VALIDATION_FAILED: { status: 400, retryable: false, message: 'The request is invalid.' },
  UNAUTHENTICATED: { status: 401, retryable: false, message: 'A valid X-Api-Key header is required.' },
  FORBIDDEN: { status: 403, retryable: false, message: 'This API key may not act for that app.' },
  NOT_FOUND: { status: 404, retryable: false, message: 'No such resource.' },
  METHOD_NOT_ALLOWED: { status: 405, retryable: false, message: 'This method is not allowed on this route.' },
  CONFLICT: { status: 409, retryable: true, message: 'A request with this Idempotency-Key is still in progress.' },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false, message: 'The request body is too large.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false, message: 'The request body must be application/json.' },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    retryable: false,
    message: 'This Idempotency-Key was used with a different request.',
  },
  RATE_LIMITED: { status: 429, retryable: true, message: "The app's platform quota is used up; retry later." },
  CLIENT_RATE_LIMITED: { status: 429, retryable: true, message: 'This client sent more requests than its rate limit allows; retry later.' },
  // Its own code, not RATE_LIMITED: that one means the app's platform quota (contract §11), which a stream never spends.
  TOO_MANY_STREAMS: { status: 429, retryable: true, message: 'Too many event streams are open for this client; close one first.' },
  INTERNAL: { status: 500, retryable: true, message: 'Internal error.' },
  UPSTREAM_AUTH_FAILED: {
    status: 502,
    retryable: false,
    message: 'The platform refused the credentials of this app.',
  },
  UPSTREAM_ERROR: { status: 502, retryable: true, message: 'The platform answered with an error.' },
  UPSTREAM_UNAVAILABLE: { status: 503, retryable: true, message: 'The platform cannot be reached.' },
  SERVICE_UNAVAILABLE: { status: 503, retryable: true, message: 'The gateway cannot serve this request now.' },
  UPSTREAM_TIMEOUT: { status: 504, retryable: true, message: 'The platform did not answer in time.' },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof CATALOG;

/** One problem of a request, reported together with its siblings in `details`. */
export interface ErrorDetail {
  field: string;
  message: string;
  platformCode?: string;
}

export interface GatewayErrorOptions {
  message?: string;
  platformCode?: string;
  details?: ErrorDetail[];
  /** Seconds, for the Retry-After header. */
  retryAfter?: number;
  /** Extra response headers (quota headers on a 429, for instance). */
  headers?: Record<string, string>;
  /** Overrides the catalog's retryable flag, for a case the entry does not fit. */
  retryable?: boolean;
  /** False when the gateway knows the platform never received the request (an Idempotency-Key is then released). */
  sent?: boolean;
  cause?: unknown;
}

/**
 * The only error type that reaches the error middleware with a public meaning. Its message is
 * public: never build it from a secret, a token or a raw upstream body.
 */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly platformCode: string | undefined;
  readonly details: ErrorDetail[] | undefined;
  readonly retryAfter: number | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly sent: boolean | undefined;

  constructor(code: ErrorCode, options: GatewayErrorOptions = {}) {
    const entry: CatalogEntry = CATALOG[code];
    // Refusals are control flow, thousands a second under a flood, and their stack is never logged: not captured.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(options.message ?? entry.message, options.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = limit;
    this.name = 'GatewayError';
    this.code = code;
    this.status = entry.status;
    this.retryable = options.retryable ?? entry.retryable;
    this.platformCode = options.platformCode;
    this.details = options.details;
    this.retryAfter = options.retryAfter;
    this.headers = options.headers;
    this.sent = options.sent;
  }
}

/** The body of every error response (contract §3 "Errors"). */
export interface ErrorEnvelope {
  error: EnvelopeFields & { requestId: string };
}

/** The envelope's fields that belong to the error itself (what an Idempotency-Key record stores; a replay adds its own requestId). */
export interface EnvelopeFields {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  platformCode?: string;
  details?: ErrorDetail[];
}

/** The one builder of the error envelope: fixed key order, optional fields only when present. */
export function buildEnvelope(fields: Readonly<EnvelopeFields>, requestId: string): ErrorEnvelope {
  const body: ErrorEnvelope['error'] = { code: fields.code, message: fields.message, retryable: fields.retryable, requestId };
  if (fields.platformCode !== undefined) body.platformCode = fields.platformCode;
  if (fields.details !== undefined && fields.details.length > 0) body.details = fields.details;
  return { error: body };
}

/** The envelope's fields of `err`, with the changes given. */
export function envelopeFields(err: GatewayError, changes: Partial<Pick<EnvelopeFields, 'message' | 'retryable'>> = {}): EnvelopeFields {
  const fields: EnvelopeFields = {
    code: err.code,
    message: changes.message ?? err.message,
    retryable: changes.retryable ?? err.retryable,
  };
  if (err.platformCode !== undefined) fields.platformCode = err.platformCode;
  if (err.details !== undefined && err.details.length > 0) fields.details = err.details;
  return fields;
}

export function toEnvelope(err: GatewayError, requestId: string): ErrorEnvelope {
  return buildEnvelope(envelopeFields(err), requestId);
}
