// Query-string rules shared by the upgrade list APIs: paging limits and filters, with the platform's error codes.
import type { PlatformErrorCode } from './errors.js';

type Query = Record<string, unknown>;
export type QueryResult<T> = { ok: true; value: T } | { ok: false; code: PlatformErrorCode };

const MAX_TEXT = 256;

/** Absent or empty → default; not an integer → 120015; an integer outside pageNo ≥ 0, pageSize 1–100 → 123029 (defaults 0 and 10). */
export function paging(q: Query): QueryResult<{ pageNo: number; pageSize: number }> {
  const pageNo = integer(q.pageNo, 0);
  const pageSize = integer(q.pageSize, 10);
  if (pageNo === null || pageSize === null) return { ok: false, code: '120015' };
  if (pageNo < 0 || !Number.isSafeInteger(pageNo) || pageSize < 1 || pageSize > 100) {
    return { ok: false, code: '123029' };
  }
  return { ok: true, value: { pageNo, pageSize } };
}

function integer(v: unknown, fallback: number): number | null {
  if (v === undefined || v === '') return fallback;
  if (typeof v !== 'string' || !/^[-+]?\d+$/.test(v)) return null;
  return Number(v);
}

/**
 * Optional text filters (empty = absent); a repeated, overlong or (when `allowed` is given) unknown value → 120015.
 * Returns the filters that were given.
 */
export function filters<K extends string>(
  q: Query,
  names: readonly K[],
  allowed: Partial<Record<K, readonly string[]>> = {},
): QueryResult<Partial<Record<K, string>>> {
  const out: Partial<Record<K, string>> = {};
  for (const name of names) {
    const v = q[name];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string' || v.length > MAX_TEXT) return { ok: false, code: '120015' };
    const values = allowed[name];
    if (values !== undefined && !values.includes(v)) return { ok: false, code: '120015' };
    out[name] = v;
  }
  return { ok: true, value: out };
}

export function page<T>(items: T[], pageNo: number, pageSize: number): T[] {
  return items.slice(pageNo * pageSize, pageNo * pageSize + pageSize);
}
