// Checks a create-upgrade-task body in the platform's order, yielding the platform's error code (SEED error table).
import type { PlatformErrorCode } from '../../errors.js';
import { parseCompactUtc } from '../../time.js';

// `now` and `custom` are documented; `device_online` is an assumption (platform-api.md §3.4: the enum list is
// stripped in every copy of the docs, and "run when the device next comes online" is from recollection).
export const EXECUTE_TYPES = ['now', 'custom', 'device_online'] as const;
export type ExecuteType = (typeof EXECUTE_TYPES)[number];

export interface UpgradeTargets {
  devices?: string[];
  deviceGroups?: string[];
  deviceType?: string;
  model?: string;
  manufacturerName?: string;
}

export interface UpgradePolicy {
  executeType: ExecuteType;
  startTime?: string;
  endTime?: string;
  retryType?: boolean;
  retryTimes?: number;
}

export interface UpgradeRequest {
  fileId: string;
  targets: UpgradeTargets;
  /** Absent policy means "now", the documented default. */
  policy?: UpgradePolicy;
  /** When the task starts; null when it waits for an event the simulator never produces (device_online). */
  startAt: number | null;
}

export type Validation = { ok: true; value: UpgradeRequest } | { ok: false; code: PlatformErrorCode };

const MAX_TARGETS = 256;
const MIN_WINDOW_MS = 5 * 60 * 1000;
// Client and simulator clocks differ a little; a start "now" computed by the client must not fail.
const CLOCK_SLACK_MS = 60 * 1000;

const fail = (code: PlatformErrorCode): Validation => ({ ok: false, code });
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const present = (v: unknown): boolean => v !== undefined && v !== null;

/** undefined = absent (missing, null or empty array); null = malformed; else the list. */
function stringList(v: unknown): string[] | undefined | null {
  if (!present(v)) return undefined;
  if (!Array.isArray(v)) return null;
  if (!v.every((s) => typeof s === 'string' && s.trim() !== '')) return null;
  return v.length === 0 ? undefined : (v as string[]);
}

/** undefined = absent or blank (the platform's "is null"); null = malformed. */
function optionalText(v: unknown): string | undefined | null {
  if (!present(v)) return undefined;
  if (typeof v !== 'string') return null;
  return v.trim() === '' ? undefined : v;
}

export function validateUpgradeRequest(body: unknown, now: number): Validation {
  if (!isObject(body)) return fail('120015');
  const { fileId } = body;
  if (typeof fileId !== 'string' || fileId.trim() === '') return fail('120015');

  const rawTargets = body.targets ?? {};
  if (!isObject(rawTargets)) return fail('120015');
  const devices = stringList(rawTargets.devices);
  const deviceGroups = stringList(rawTargets.deviceGroups);
  const deviceType = optionalText(rawTargets.deviceType);
  const model = optionalText(rawTargets.model);
  const manufacturerName = optionalText(rawTargets.manufacturerName);
  if (devices === null || deviceGroups === null || deviceType === null || model === null || manufacturerName === null) {
    return fail('120015');
  }
  if (!devices && !deviceGroups) return fail('123022');
  if (devices && deviceGroups) return fail('123023');
  if ((devices ?? deviceGroups ?? []).length > MAX_TARGETS) return fail('123024');
  if (deviceGroups) {
    if (!deviceType) return fail('123020');
    if (!model) return fail('123021');
    if (!manufacturerName) return fail('123019');
  }
  const targets: UpgradeTargets = {
    ...(devices && { devices }),
    ...(deviceGroups && { deviceGroups }),
    ...(deviceType && { deviceType }),
    ...(model && { model }),
    ...(manufacturerName && { manufacturerName }),
  };

  if (!present(body.policy)) return { ok: true, value: { fileId, targets, startAt: now } };
  const p = body.policy;
  if (!isObject(p)) return fail('120015');
  const executeType = p.executeType;
  if (typeof executeType !== 'string' || !(EXECUTE_TYPES as readonly string[]).includes(executeType)) {
    return fail('123025');
  }
  const policy: UpgradePolicy = { executeType: executeType as ExecuteType };

  let start: number | null = null;
  let end: number | null = null;
  if (executeType === 'custom') {
    start = parseCompactUtc(p.startTime);
    end = parseCompactUtc(p.endTime);
    if (start === null || end === null) return fail('123026');
    policy.startTime = p.startTime as string;
    policy.endTime = p.endTime as string;
  }

  if (present(p.retryType)) {
    if (typeof p.retryType !== 'boolean') return fail('120015');
    policy.retryType = p.retryType;
    if (p.retryType) {
      const times = p.retryTimes;
      if (typeof times !== 'number' || !Number.isInteger(times) || times < 1 || times > 5) return fail('123028');
      policy.retryTimes = times;
    }
  }

  if (start !== null && end !== null) {
    if (start > end) return fail('123032');
    if (start < now - CLOCK_SLACK_MS) return fail('123033');
    if (end - start <= MIN_WINDOW_MS) return fail('123034');
  }

  const startAt = executeType === 'now' ? now : executeType === 'custom' ? start : null;
  return { ok: true, value: { fileId, targets, policy, startAt } };
}
