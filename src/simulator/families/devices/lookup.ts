// What the device and data APIs of the simulator share: the `appId` query rule, finding a device with the platform's codes, and query parsing.
import type { Request } from 'express';
import type { SimulatorState } from '../../state.js';
import { parseCompactUtc } from '../../time.js';
import type { DeviceErrorCode } from './errors.js';
import type { SimDevice } from './registry.js';

export type Found<T> = { ok: true; value: T } | { ok: false; code: DeviceErrorCode };

/**
 * The optional `appId` query parameter names the app that authorised the caller (platform-api.md §1.3). The
 * app's own ID is its own resources; an app that does not exist is 100203; another app, which has
 * authorised nobody in this simulator, is 100217.
 */
export function checkAppIdQuery(state: SimulatorState, appId: string, req: Request): DeviceErrorCode | undefined {
  const given = req.query.appId;
  if (given === undefined || given === '' || given === appId) return undefined;
  if (typeof given !== 'string' || !state.isKnownApp(given)) return '100203';
  return '100217';
}

/**
 * The app's device; a device of another app is 100418 ("The deviceData is not existed": not under this app),
 * an ID no app knows is 100403 ("The device is not existed"), as the query-one error table tells them apart.
 */
export function findDevice(state: SimulatorState, appId: string, deviceId: string): Found<SimDevice> {
  const device = state.appData(appId).devices.get(deviceId);
  if (device !== undefined) return { ok: true, value: device };
  const elsewhere = [...state.apps.keys()].some((other) => other !== appId && state.appData(other).devices.has(deviceId));
  return { ok: false, code: elsewhere ? '100418' : '100403' };
}

/** Any app's device with this ID (device IDs are UUIDs, unique across apps): for the control endpoints. */
export function findAnyDevice(state: SimulatorState, deviceId: string): { appId: string; device: SimDevice } | undefined {
  for (const appId of state.apps.keys()) {
    const device = state.appData(appId).devices.get(deviceId);
    if (device !== undefined) return { appId, device };
  }
  return undefined;
}

/** A single query value: absent or empty → undefined; repeated (an array) → null, which callers refuse. */
export function one(q: Request['query'], name: string): string | undefined | null {
  const v = q[name];
  if (v === undefined || v === '') return undefined;
  return typeof v === 'string' ? v : null;
}

/** An integer query value within [min, max]: absent → fallback; not one → null. */
export function intIn(q: Request['query'], name: string, min: number, max: number, fallback: number): number | null {
  const v = one(q, name);
  if (v === undefined) return fallback;
  if (v === null || !/^[-+]?\d+$/.test(v)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : null;
}

/** startTime/endTime as epoch ms: absent → undefined; not a real compact UTC time, or start after end → null. */
export function timeWindow(q: Request['query']): { from?: number; to?: number } | null {
  const [start, end] = [one(q, 'startTime'), one(q, 'endTime')];
  if (start === null || end === null) return null;
  const from = start === undefined ? undefined : parseCompactUtc(start);
  const to = end === undefined ? undefined : parseCompactUtc(end);
  if (from === null || to === null) return null;
  if (from !== undefined && to !== undefined && from > to) return null;
  return { ...(from !== undefined && { from }), ...(to !== undefined && { to }) };
}

export const INT_MAX = 2_147_483_647;
