// The data family's platform codes and their meanings (platform-api.md §1.7, §5.7–§5.8), and the wording of its own schema rules.
import type { PlatformCodeTable } from '../../platform/codes.js';
import { WINDOW_MESSAGES } from '../common/window.js';

/** Capabilities (§5.8): the generic "The input is invalid." */
export const DATA_INVALID = '100022';
/** "The deviceData is not existed.": no such device in this app. */
export const DEVICE_DATA_NOT_FOUND = '100418';

export const DATA_CODES: PlatformCodeTable = Object.freeze({
  [DATA_INVALID]: { meaning: 'invalid-input', message: 'The platform found the input invalid.' },
  [DEVICE_DATA_NOT_FOUND]: { meaning: 'not-found', message: 'No such device for this app.' },
});

/** Wording of the schema rules of this family (Joi error types `rule.*`); never echoes the caller's value. */
export const DATA_MESSAGES: Readonly<Record<string, string>> = Object.freeze({ ...WINDOW_MESSAGES });
