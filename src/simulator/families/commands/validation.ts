// Checks the command APIs' input as the platform does: any malformed field is 100022 (platform-api.md §4.1–§4.5, §10).
import { parseCompactUtc } from '../../time.js';
import type { CommandDto } from './store.js';

type Q = Record<string, unknown>;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const present = (v: unknown): boolean => v !== undefined && v !== null;
const textOf = (v: unknown, max: number): v is string => typeof v === 'string' && v.trim() !== '' && v.length <= max;
const intIn = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

export interface CreateCommand {
  deviceId: string;
  command: CommandDto;
  callbackUrl?: string;
  expireTime?: number;
  maxRetransmit?: number;
}

/** DeviceCommandReq (§4.1); fields the platform does not know are ignored, as Jackson does. Null = 100022. */
export function parseCreateCommand(body: unknown, deviceIdFromPath?: string): CreateCommand | null {
  if (!isObject(body)) return null;
  const deviceId = deviceIdFromPath ?? body.deviceId;
  const { command, callbackUrl, expireTime, maxRetransmit } = body;
  if (!textOf(deviceId, 64) || !isObject(command)) return null;
  if (!textOf(command.serviceId, 64) || !textOf(command.method, 128) || !isObject(command.paras)) return null;
  if (present(callbackUrl) && !textOf(callbackUrl, 1024)) return null;
  if (present(expireTime) && !intIn(expireTime, 0, 2_147_483_647)) return null;
  if (present(maxRetransmit) && !intIn(maxRetransmit, 0, 3)) return null;
  return {
    deviceId,
    command: { serviceId: command.serviceId, method: command.method, paras: command.paras },
    ...(present(callbackUrl) && { callbackUrl: callbackUrl as string }),
    ...(present(expireTime) && { expireTime: expireTime as number }),
    ...(present(maxRetransmit) && { maxRetransmit: maxRetransmit as number }),
  };
}

/** `{deviceId}` of a cancel task (§4.4). */
export function parseDeviceIdBody(body: unknown): string | null {
  return isObject(body) && textOf(body.deviceId, 64) ? body.deviceId : null;
}

/** Absent or empty → the default; else an integer in range, or null (100022). */
function intParam(v: unknown, fallback: number, min: number, max: number): number | null {
  if (v === undefined || v === '') return fallback;
  if (typeof v !== 'string' || !/^[-+]?\d+$/.test(v)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : null;
}

export interface ListQuery {
  pageNo: number;
  pageSize: number;
  /** Epoch ms bounds on the creation time. */
  from?: number;
  to?: number;
  filters: Record<string, string>;
}

/**
 * The two lists' query (§4.2, §4.5): pageNo ≥ 0 (0), pageSize 1–1000 (1000), compact UTC start/end with the
 * end after the start, and text filters; anything malformed is 100022. Null = 100022.
 */
export function parseListQuery(q: Q, filterNames: readonly string[], allowed: Record<string, readonly string[]> = {}): ListQuery | null {
  const pageNo = intParam(q.pageNo, 0, 0, 2_147_483_647);
  const pageSize = intParam(q.pageSize, 1000, 1, 1000);
  if (pageNo === null || pageSize === null) return null;
  const out: ListQuery = { pageNo, pageSize, filters: {} };
  for (const [name, key] of [['startTime', 'from'], ['endTime', 'to']] as const) {
    const v = q[name];
    if (v === undefined || v === '') continue;
    const at = parseCompactUtc(v);
    if (at === null) return null;
    out[key] = at;
  }
  if (out.from !== undefined && out.to !== undefined && out.to <= out.from) return null;
  for (const name of filterNames) {
    const v = q[name];
    if (v === undefined || v === '') continue;
    if (!textOf(v, 64)) return null;
    const values = allowed[name];
    if (values !== undefined && !values.includes(v)) return null;
    out.filters[name] = v;
  }
  return out;
}
