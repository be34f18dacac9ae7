// The device-upgrade family's platform codes and their meanings (platform-api.md §3, the SEED error table).
import type { PlatformCodeTable } from '../../platform/codes.js';

/** The platform's "Bad request error": its catch-all for a malformed field on these APIs. */
export const MALFORMED = '120015';

const invalid = (message: string) => ({ meaning: 'invalid-input', message }) as const;

export const UPGRADE_CODES: PlatformCodeTable = Object.freeze({
  [MALFORMED]: invalid('The platform found the request malformed.'),
  '123002': { meaning: 'not-found', message: 'No such version package or device.' },
  '123016': invalid("The package's device type, model or manufacturer does not match the devices."),
  '123019': invalid('targets.manufacturerName is required with device groups.'),
  '123020': invalid('targets.deviceType is required with device groups.'),
  '123021': invalid('targets.model is required with device groups.'),
  '123022': invalid('targets: one of deviceGroups or devices is required.'),
  '123023': invalid('targets: deviceGroups and devices cannot both be given.'),
  '123024': invalid('targets: at most 256 devices or device groups.'),
  '123025': invalid('policy.executeType is missing or not a known value.'),
  '123026': invalid("policy.startTime or policy.endTime is missing or not in the form yyyyMMdd'T'HHmmss'Z'."),
  '123028': invalid('policy.retryTimes must be 1 to 5 when retryType is true.'),
  '123029': invalid('pageNo must be 0 or more and pageSize 1 to 100.'),
  '123032': invalid('policy.startTime must be before policy.endTime.'),
  '123033': invalid('policy.startTime must not be earlier than now.'),
  '123034': invalid('policy.endTime must be more than 5 minutes after policy.startTime.'),
});

/** Wording of the schema rules of this family (Joi error types `rule.*`); never echoes the caller's value. */
export const UPGRADE_MESSAGES: Readonly<Record<string, string>> = Object.freeze({
  'rule.startInPast': 'must not be earlier than now',
  'rule.startNotBeforeEnd': 'must be before endTime',
  'rule.endTooSoon': 'must be more than 5 minutes after startTime',
});
