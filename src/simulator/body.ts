// Reads request bodies ourselves: login is a form, the rest JSON, and the gate needs the raw text before any route runs.
import type { Request, Response } from 'express';

export interface RawBody {
  text: string;
  bytes: number;
  tooLarge: boolean;
}

const LIMIT_BYTES = 1024 * 1024;

/** Never rejects: an aborted or oversized upload just yields what arrived (flagged), and routes answer 120015/50400. */
export function readRawBody(req: Request): Promise<RawBody> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let tooLarge = false;
    const done = (): void => resolve({ text: Buffer.concat(chunks).toString('utf8'), bytes, tooLarge });
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      // Keep draining past the limit so the client sees an answer rather than a stalled upload.
      if (bytes > LIMIT_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', done);
    req.on('error', done);
    req.on('aborted', done);
  });
}

export function rawBody(res: Response): RawBody {
  return (res.locals.rawBody as RawBody | undefined) ?? { text: '', bytes: 0, tooLarge: false };
}

const mediaType = (req: Request): string => (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';

export const isForm = (req: Request): boolean => mediaType(req) === 'application/x-www-form-urlencoded';

/** No content type at all is tolerated as JSON; an explicit other type is not. */
export const isJsonOrUntyped = (req: Request): boolean => {
  const t = mediaType(req);
  return t === '' || t === 'application/json' || t.endsWith('+json');
};

export type Parsed = { ok: true; value: unknown } | { ok: false };

export function parseJson(body: RawBody): Parsed {
  if (body.tooLarge || body.text.trim() === '') return { ok: false };
  try {
    return { ok: true, value: JSON.parse(body.text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** The shape stored in the call log: the decoded form or JSON when possible, else the text. */
export function bodyForLog(req: Request, body: RawBody): unknown {
  if (body.bytes === 0) return undefined;
  if (body.tooLarge || body.bytes > 16 * 1024) return `[body of ${body.bytes} bytes not retained]`;
  if (isForm(req)) return Object.fromEntries(new URLSearchParams(body.text));
  const parsed = parseJson(body);
  return parsed.ok ? parsed.value : body.text;
}
