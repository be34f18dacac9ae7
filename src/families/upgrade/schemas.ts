// The device-upgrade family's Joi schemas (platform-api.md §3): queries and the task body, each failure with the platform's code.
import Joi from 'joi';
import { withPlatformCodes as codes } from '../../routes/validate.js';
import { compactUtc, INT_MAX, instantOf, text as platformText } from '../common/schema.js';
import { MALFORMED } from './codes.js';

/**
 * The platform's String(256). Joi refuses the empty string already; a blank one is refused too, since the
 * platform reads it as "null" (123019-123021) or as a malformed ID.
 */
const text = () => platformText(256);

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
export const packageListQuery = Joi.object({
  fileType: oneOf('firmwarePackage', 'softwarePackage'),
  deviceType: filter(),
  model: filter(),
  manufacturerName: filter(),
  version: filter(),
  ...paging,
}).unknown(false);

export const taskListQuery = Joi.object({
  operationType: oneOf('firmware_upgrade', 'software_upgrade'),
  operationStatus: oneOf('wait', 'processing', 'failed', 'success', 'stop'),
  deviceType: filter(),
  model: filter(),
  manufacturerName: filter(),
  deviceId: filter(),
  ...paging,
}).unknown(false);

export const subtaskListQuery = Joi.object({
  // The platform documents `fail` here but `failed` for tasks; both are let through so that the gateway
  // never refuses a value the platform accepts, and the platform judges.
  subOperationStatus: oneOf('wait', 'processing', 'fail', 'failed', 'success', 'stop'),
  ...paging,
}).unknown(false);

// ---- Upgrade task body (CreateUpgradeTaskInDTO) ------------------------------------------------------

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

/** A compact UTC time, required when the window is custom. */
const compactTime = () => compactUtc().when('executeType', { is: 'custom', then: Joi.required() });

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
export const upgradeTaskBody = codes(
  Joi.object({
    // The platform documents no dedicated code for a missing or malformed fileId; 120015 is its generic one.
    fileId: codes(text().required(), MALFORMED),
    targets: targets.required(),
    policy,
  }).unknown(false),
  MALFORMED,
);

