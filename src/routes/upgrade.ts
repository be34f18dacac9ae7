// The device-upgrade family (contract §3, platform-api.md §3): eight routes and the Joi schemas that mirror the platform.
import Joi from 'joi';
import { GatewayError } from '../errors.js';
import type { RouteSpec } from './types.js';
import { withPlatformCodes as codes } from './validate.js';

const PLATFORM = '/iodm/northbound/v1.5.0';
const FAMILY = 'device-upgrade';

/** The platform's "Bad request error": its catch-all for a malformed field on these APIs. */
const MALFORMED = '120015';

/**
 * The platform's String(256). Joi refuses the empty string already; a blank one is refused too, since the
 * platform reads it as "null" (123019-123021) or as a malformed ID.
 */
const text = () =>
  Joi.string().max(256).pattern(/\S/, 'not blank');

/** The platform's Integer (a Java int): the largest page number it could be asked for. */
const INT_MAX = 2_147_483_647;

// Out of range is 123029 ("pageNo or pageSize beyond the limit"); not an integer at all is 120015.
const PAGE_CODES = { 'number.min': '123029', 'number.max': '123029', '*': MALFORMED };
const paging = {
  pageNo: codes(Joi.number().integer().min(0).max(INT_MAX), PAGE_CODES),
  pageSize: codes(Joi.number().integer().min(1).max(100), PAGE_CODES),
};

const filter = () => codes(text(), MALFORMED);
const oneOf = (...values: string[]) => codes(Joi.string().valid(...values), MALFORMED);

// Unknown query keys are refused, not dropped (see validate.ts): a misspelt filter would otherwise
// silently widen the list. Joi's default already refuses them; `unknown(false)` says it on purpose.
const packageListQuery = Joi.object({
  fileType: oneOf('firmwarePackage', 'softwarePackage'),
  deviceType: filter(),
  model: filter(),
  manufacturerName: filter(),
  version: filter(),
  ...paging,
}).unknown(false);

const taskListQuery = Joi.object({
  operationType: oneOf('firmware_upgrade', 'software_upgrade'),
  operationStatus: oneOf('wait', 'processing', 'failed', 'success', 'stop'),
  deviceType: filter(),
  model: filter(),
  manufacturerName: filter(),
  deviceId: filter(),
  ...paging,
}).unknown(false);

const subtaskListQuery = Joi.object({
  // The platform documents `fail` here but `failed` for tasks; both are let through so that the gateway
  // never refuses a value the platform accepts, and the platform judges.
  subOperationStatus: oneOf('wait', 'processing', 'fail', 'failed', 'success', 'stop'),
  ...paging,
}).unknown(false);

// ---- Upgrade task body (CreateUpgradeTaskInDTO) ------------------------------------------------------

/** yyyyMMdd'T'HHmmss'Z' with each field in its range; day-of-month overflow is caught by `instantOf`. */
const COMPACT_UTC = /^\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3])[0-5]\d[0-5]\dZ$/;
const COMPACT_UTC_NAME = "yyyyMMdd'T'HHmmss'Z'";

/** Milliseconds since the epoch of a compact UTC time, or undefined if it is not a real instant. */
function instantOf(value: unknown): number | undefined {
  if (typeof value !== 'string' || !COMPACT_UTC.test(value)) return undefined;
  const n = (from: number, to: number) => Number(value.slice(from, to));
  const [y, mo, d] = [n(0, 4), n(4, 6), n(6, 8)];
  const ms = Date.UTC(y, mo - 1, d, n(9, 11), n(11, 13), n(13, 15));
  const date = new Date(ms);
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d ? ms : undefined;
}

const FIVE_MINUTES_MS = 5 * 60_000;

interface PolicyView {
  executeType?: unknown;
  startTime?: unknown;
  endTime?: unknown;
}

/** The sibling fields of startTime/endTime, and the time they are judged against. */
function policyContext(helpers: Joi.CustomHelpers): { policy: PolicyView; now: number } {
  const ancestors = helpers.state.ancestors as unknown[] | undefined;
  const parent = ancestors?.[0];
  const policy = parent !== null && typeof parent === 'object' ? (parent as PolicyView) : {};
  const given: unknown = (helpers.prefs.context as { now?: unknown } | undefined)?.now;
  return { policy, now: given instanceof Date ? given.getTime() : Date.now() };
}

/** A compact UTC time that names a real instant (the pattern alone lets 30 February through). */
const compactTime = () =>
  Joi.string()
    .pattern(COMPACT_UTC, COMPACT_UTC_NAME)
    .custom((value: string, helpers) => {
      const pattern = COMPACT_UTC.test(value);
      return pattern && instantOf(value) === undefined ? helpers.error('rule.notAnInstant') : value;
    }, 'a real calendar instant')
    .when('executeType', { is: 'custom', then: Joi.required() });

// The order rules apply to a custom window only: for `now` the platform does not document what it does
// with times, and the gateway must not refuse what the platform might accept.
const startTime = compactTime()
  .custom((value: string, helpers) => {
    const { policy, now } = policyContext(helpers);
    const start = instantOf(value);
    // Exactly the platform's rule, no slack: a start that is already past when it arrives is refused.
    const past = policy.executeType === 'custom' && start !== undefined && start < now;
    return past ? helpers.error('rule.startInPast') : value;
  }, 'not earlier than now (custom)')
  .custom((value: string, helpers) => {
    const { policy } = policyContext(helpers);
    const [start, end] = [instantOf(value), instantOf(policy.endTime)];
    const known = policy.executeType === 'custom' && start !== undefined && end !== undefined;
    return known && start >= end ? helpers.error('rule.startNotBeforeEnd') : value;
  }, 'before endTime (custom)');

const endTime = compactTime()
  .custom((value: string, helpers) => {
    const { policy } = policyContext(helpers);
    const [start, end] = [instantOf(policy.startTime), instantOf(value)];
    // An end before the start is startTime's failure (123032) alone; this rule is about a window too short.
    const known = policy.executeType === 'custom' && start !== undefined && end !== undefined;
    return known && start < end && end - start <= FIVE_MINUTES_MS ? helpers.error('rule.endTooSoon') : value;
  }, 'more than 5 minutes after startTime (custom)');

/** A device list or group list: one to 256 entries (an empty list counts as not given). */
const targetList = () =>
  codes(Joi.array().items(codes(text(), MALFORMED)).min(1).max(256), {
    'array.max': '123024',
    'array.min': '123022',
    '*': MALFORMED,
  });

/** Required with device groups; its absence (or emptiness) has a code of its own, other faults are 120015. */
const groupAttribute = (platformCode: string) =>
  codes(text().when('deviceGroups', { is: Joi.exist(), then: Joi.required() }), {
    'any.required': platformCode,
    'string.empty': platformCode,
    'string.pattern.name': platformCode,
    '*': MALFORMED,
  });

const targets = codes(
  Joi.object({
    deviceGroups: targetList(),
    deviceType: groupAttribute('123020'),
    model: groupAttribute('123021'),
    manufacturerName: groupAttribute('123019'),
    devices: targetList(),
  })
    .xor('deviceGroups', 'devices')
    .unknown(false)
    .messages({
      'object.xor': 'deviceGroups and devices cannot both be given',
      'object.missing': 'one of deviceGroups or devices is required',
    }),
  { 'object.xor': '123023', 'object.missing': '123022', 'any.required': '123022', '*': MALFORMED },
);

const policy = codes(
  Joi.object({
    // `now` and `custom` are documented; `device_online` is believed to exist but unverified (platform-api.md
    // §3.4). Refusing a value the platform accepts would block a feature no caller can reach otherwise,
    // while letting an unsupported one through costs one call answered with 123025: so it is let through.
    executeType: codes(Joi.string().valid('now', 'custom', 'device_online').required(), '123025'),
    startTime: codes(startTime, {
      'rule.startInPast': '123033',
      'rule.startNotBeforeEnd': '123032',
      '*': '123026',
    }),
    endTime: codes(endTime, { 'rule.endTooSoon': '123034', '*': '123026' }),
    retryType: codes(Joi.boolean(), MALFORMED),
    retryTimes: codes(
      Joi.number().integer().min(1).max(5).when('retryType', { is: true, then: Joi.required() }),
      '123028',
    ),
  }).unknown(false),
  MALFORMED,
);

/**
 * Unknown keys are refused at every level: a misspelt `polcy` or `device` would otherwise be dropped and
 * the task created with the platform's defaults, an immediate upgrade of the wrong set of devices.
 */
const upgradeTaskBody = codes(
  Joi.object({
    // The platform documents no dedicated code for a missing or malformed fileId; 120015 is its generic one.
    fileId: codes(text().required(), MALFORMED),
    targets: targets.required(),
    policy,
  }).unknown(false),
  MALFORMED,
);

/** The gateway answers exactly `{operationId}`, whatever else the platform adds. */
function operationIdOnly(platformBody: unknown): { operationId: string } {
  const id = platformBody !== null && typeof platformBody === 'object' ? Reflect.get(platformBody, 'operationId') : undefined;
  if (typeof id === 'string' && id !== '') return { operationId: id };
  if (typeof id === 'number') return { operationId: String(id) };
  // Not retryable: the platform may well have created the task, and a blind retry would create another.
  throw new GatewayError('UPSTREAM_ERROR', {
    message: 'The platform accepted the task but returned no operationId.',
    retryable: false,
  });
}

/** What the two create routes answer: exactly the platform's operationId. */
const createdTask = Joi.object({ operationId: Joi.string().required() });

/** SEED's error table for "Create software upgrade task", assumed for firmware too (platform-api.md §3.5). */
const TASK_CODES = [
  ...['120015', '123002', '123016', '123019', '123020', '123021', '123022', '123023', '123024'],
  ...['123025', '123026', '123028', '123032', '123033', '123034'],
];

/** The two create routes differ only in the kind of upgrade: same body, answer and error table (§3.4–3.5). */
function createTaskRoute(kind: 'software' | 'firmware'): RouteSpec {
  const Kind = kind === 'software' ? 'Software' : 'Firmware';
  return {
    id: `create${Kind}UpgradeTask`,
    summary: `Create a ${kind} upgrade task`,
    family: FAMILY,
    method: 'POST',
    path: `/upgrade-tasks/${kind}`,
    platform: { method: 'POST', path: `${PLATFORM}/operations/${kind}Upgrade` },
    body: upgradeTaskBody,
    successStatus: 201,
    response: createdTask,
    shapeResponse: operationIdOnly,
    idempotencyKey: true,
    platformErrorCodes: TASK_CODES,
  };
}

// Error tables for the task queries were not retrieved (platform-api.md §3.6–3.8); they are assumed to
// follow the package APIs'.
export const upgradeRoutes: readonly RouteSpec[] = Object.freeze([
  {
    id: 'listPackages',
    summary: 'Query the version package list',
    family: FAMILY,
    method: 'GET',
    path: '/packages',
    platform: { method: 'GET', path: `${PLATFORM}/category` },
    query: packageListQuery,
    successStatus: 200,
    platformErrorCodes: ['120015', '123029'],
  },
  {
    id: 'getPackage',
    summary: 'Query a version package',
    family: FAMILY,
    method: 'GET',
    path: '/packages/{fileId}',
    platform: { method: 'GET', path: `${PLATFORM}/category/{fileId}` },
    successStatus: 200,
    platformErrorCodes: ['120015', '123002'],
  },
  {
    id: 'deletePackage',
    summary: 'Delete a version package',
    family: FAMILY,
    method: 'DELETE',
    path: '/packages/{fileId}',
    platform: { method: 'DELETE', path: `${PLATFORM}/category/{fileId}` },
    successStatus: 204,
    platformErrorCodes: ['120015', '123002'],
  },
  createTaskRoute('software'),
  createTaskRoute('firmware'),
  {
    id: 'listUpgradeTasks',
    summary: 'Query the upgrade task list',
    family: FAMILY,
    method: 'GET',
    path: '/upgrade-tasks',
    platform: { method: 'GET', path: `${PLATFORM}/operations` },
    query: taskListQuery,
    successStatus: 200,
    platformErrorCodes: ['120015', '123029'],
  },
  {
    id: 'getUpgradeTask',
    summary: 'Query an upgrade task',
    family: FAMILY,
    method: 'GET',
    path: '/upgrade-tasks/{operationId}',
    platform: { method: 'GET', path: `${PLATFORM}/operations/{operationId}` },
    successStatus: 200,
    platformErrorCodes: ['120015', '123002'],
  },
  {
    id: 'listUpgradeSubtasks',
    summary: "Query an upgrade task's subtasks",
    family: FAMILY,
    method: 'GET',
    path: '/upgrade-tasks/{operationId}/subtasks',
    platform: { method: 'GET', path: `${PLATFORM}/operations/{operationId}/subOperations` },
    query: subtaskListQuery,
    successStatus: 200,
    platformErrorCodes: ['120015', '123002', '123029'],
  },
] satisfies RouteSpec[]);
