// Structured logs with pino; secrets are removed by path before anything is written (see pino's docs/redaction.md).
import { pino, type Logger, type DestinationStream } from 'pino';

/**
 * Paths that may carry a credential. The code never logs these objects on purpose; redaction is the
 * second line of defence, and test/secrets.test.ts searches the captured output for the real values.
 */
export const REDACT_PATHS = [
  'secret',
  'accessToken',
  'refreshToken',
  'key',
  'authorization',
  '*.secret',
  '*.accessToken',
  '*.refreshToken',
  '*.key',
  '*.authorization',
  'headers["x-api-key"]',
  'headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers.authorization',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'iot-bff' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
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
