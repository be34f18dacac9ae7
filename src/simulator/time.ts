// Compact UTC timestamps (yyyyMMdd'T'HHmmss'Z'), the only time format the platform speaks.

const COMPACT = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

export function toCompactUtc(epochMs: number): string {
  const d = new Date(epochMs);
  return (
    pad(d.getUTCFullYear(), 4) +
    pad(d.getUTCMonth() + 1) +
    pad(d.getUTCDate()) +
    'T' +
    pad(d.getUTCHours()) +
    pad(d.getUTCMinutes()) +
    pad(d.getUTCSeconds()) +
    'Z'
  );
}

/** Epoch ms, or null when the text is not a real calendar instant (e.g. month 13 or 31 February). */
export function parseCompactUtc(text: unknown): number | null {
  if (typeof text !== 'string') return null;
  const m = COMPACT.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC silently rolls over out-of-range fields; round-tripping catches that.
  return toCompactUtc(ms) === text ? ms : null;
}
