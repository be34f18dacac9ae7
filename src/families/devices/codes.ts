// The devices family's platform codes and their meanings (platform-api.md §1.7, §5.1–§5.6), and the wording of its own schema rules.
import type { PlatformCodeTable } from '../../platform/codes.js';
import { WINDOW_MESSAGES } from '../common/window.js';

/** Register (§5.1): the generic "The input is invalid." of the registration APIs. */
export const REG_INVALID = '50400';
/** Register: "Invalid verify code." */
export const REG_BAD_VERIFY_CODE = '100003';
/** Register: "Bad request message." — a body that is not a registration request at all. */
export const REG_BAD_MESSAGE = '100007';
/** Register: "The device has already been binded." */
export const REG_BOUND = '100416';
/** Register: "The nodeId is duplicated." */
export const REG_NODE_ID_TAKEN = '100426';
/** Query one device / the list (§5.5, §5.6): "The request parameter is invalid." */
export const DM_BAD_PARAMETER = '100405';
/** Device list (§5.6): "The application input is invalid." */
export const LIST_INVALID = '100216';
/** Device list: "The gatewayId and pageNo can't be both null." */
export const LIST_NEEDS_GATEWAY_OR_PAGE = '100218';
/** "The device is not existed." */
export const DEVICE_NOT_FOUND = '100403';
/** "The deviceData is not existed." (the device is not this app's) */
export const DEVICE_DATA_NOT_FOUND = '100418';

const invalid = (message: string) => ({ meaning: 'invalid-input', message }) as const;

export const DEVICE_CODES: PlatformCodeTable = Object.freeze({
  [REG_INVALID]: invalid('The platform found the input invalid.'),
  [REG_BAD_VERIFY_CODE]: invalid('verifyCode is invalid.'),
  [REG_BAD_MESSAGE]: invalid('The platform could not read the request.'),
  [REG_BOUND]: { meaning: 'conflict', message: 'The device (its verifyCode) is already bound.' },
  [REG_NODE_ID_TAKEN]: { meaning: 'conflict', message: 'A device with this nodeId is registered already.' },
  [DM_BAD_PARAMETER]: invalid('A request parameter is invalid.'),
  [LIST_INVALID]: invalid('The application input is invalid.'),
  [LIST_NEEDS_GATEWAY_OR_PAGE]: invalid('One of gatewayId or pageNo is required.'),
  [DEVICE_NOT_FOUND]: { meaning: 'not-found', message: 'No such device.' },
  [DEVICE_DATA_NOT_FOUND]: { meaning: 'not-found', message: 'No such device for this app.' },
  // Register's other documented refusals (§5.1). A product the request names that does not exist is the
  // request's fault (the URL's resource is fine): invalid input, not 404.
  '600002': invalid('The product named by productId does not exist.'),
  // The app is full: a state of the app that a retry does not change, until devices are deleted or the
  // licence grows. 103028 comes with HTTP 200 (§1.5), mapped by its code like any other.
  '100412': { meaning: 'conflict', message: 'The app has reached its maximum number of devices.' },
  '100441': { meaning: 'conflict', message: 'The app has reached its maximum number of non-secure devices.' },
  '103028': { meaning: 'conflict', message: "The platform's device licence pool is used up." },
  '103026': { meaning: 'platform-failure', message: 'The platform has no device licence.', retryable: false },
});

/** Wording of the schema rules of this family (Joi error types `rule.*`); never echoes the caller's value. */
export const DEVICE_MESSAGES: Readonly<Record<string, string>> = Object.freeze({
  ...WINDOW_MESSAGES,
  'rule.stringOrInteger': 'must be a string or an integer',
  'rule.gatewayOrPage': 'one of gatewayId or pageNo is required',
});
