// Structured logs with pino; credentials are censored by field name before anything is written.
import { pino, type Logger, type DestinationStream } from 'pino';

/**
 * Field names that may carry a credential, censored wherever they appear in the first levels of a logged
 * object (`secret`, `app.secret`, `req.headers["x-api-key"]`…). The code never logs such objects on purpose;
 * this is the second line of defence, and test/logger.test.ts searches the written output for the real values.
 */
export const SENSITIVE_FIELDS: ReadonlySet<string> = new Set(['secret', 'accessToken', 'refreshToken', 'key', 'authorization', 'x-api-key']);
export const CENSOR = '[redacted]';
/** How deep the search goes: `headers` inside something inside the logged object (pino's old `*.headers.x`). */
const MAX_DEPTH = 3;

/**
 * The object with every sensitive field censored, copied only along the paths that had one: the object logged
 * on almost every line (the access log) holds none and is returned as it is, at the cost of one look per key.
 * pino's path redaction did the same job at ~15 µs a line, most of a refusal's cost (issue 15).
 */
export function censorSecrets<T>(value: T, depth = 0): T {
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = censorSecrets(value[i], depth + 1);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return (out ?? value) as T;
  }
  // Errors, buffers, streams… are left to their serializers (pino's `err` one logs code and message only).
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let out: Record<string, unknown> | undefined;
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    const v = (value as Record<string, unknown>)[k];
    const next = SENSITIVE_FIELDS.has(k) ? (v === undefined ? v : CENSOR) : censorSecrets(v, depth + 1);
    if (next !== v) (out ??= { ...(value as Record<string, unknown>) })[k] = next;
  }
  return (out ?? value) as T;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'iot-bff' },
      // The censor for what is logged; pino's own redaction (cheap for top-level paths only) for a child's
      // bindings, which pino never passes to a formatter.
      formatters: { log: censorSecrets },
      redact: { paths: [...SENSITIVE_FIELDS].filter((f) => /^[A-Za-z]+$/.test(f)), censor: CENSOR },
      // Errors are logged by code and message only: a stack or cause chain can carry upstream bodies.
      serializers: { err: serializeError },
    },
    destination,
  );
}

export function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const out: Record<string, unknown> = { type: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') out.code = code;
  return out;
}

export type { Logger };
