// The groups family's platform codes and their meanings (platform-api.md §1.7, §7.2; contract §9), and the wording of its rules.
import type { PlatformCodeTable } from '../../platform/codes.js';

/*
 * platform-api.md §7.2 could not retrieve the group APIs' error tables ([?], §11.2). The codes below are
 * what the simulator answers and what the gateway maps; each is marked with where it comes from:
 * - 100022, 100418: documented cross-API codes (§1.7): the generic "input is invalid" and "no such device
 *   under this app" (the issue asks for 100418 on unknown devices).
 * - 100601-100603: the device-group codes of Huawei's OceanConnect tables as we remember them; not in
 *   platform-api.md. Their meanings (full group → conflict, name taken → conflict, no such group → not
 *   found) are what the contract maps by, so a differing number on the live platform is a one-line fix here.
 */

/** A group of this name exists already in the app. */
export const GROUP_NAME_TAKEN = '100602';
/** No group with this ID in the app. */
export const GROUP_NOT_FOUND = '100603';
/** Adding the devices would take the group past its maxDevNum. */
export const GROUP_FULL = '100601';
/** A device ID is not a device of this app (§1.7). */
export const DEVICE_NOT_FOUND = '100418';
/** The platform's generic input error (§1.7). */
export const INPUT_INVALID = '100022';

export const GROUP_CODES: PlatformCodeTable = Object.freeze({
  [GROUP_NAME_TAKEN]: { meaning: 'conflict', message: 'A device group of this name exists already.' },
  [GROUP_FULL]: { meaning: 'conflict', message: 'The device group would hold more devices than its maxDevNum allows.' },
  [GROUP_NOT_FOUND]: { meaning: 'not-found', message: 'No such device group.' },
  [DEVICE_NOT_FOUND]: { meaning: 'not-found', message: 'No such device data for this app.' },
  [INPUT_INVALID]: { meaning: 'invalid-input', message: 'The platform found the input invalid.' },
});
