// The groups family's error codes as the platform answers them (platform-api.md §1.7, §7.2; see src/families/groups/codes.ts for sources).
import type { PlatformError } from '../../errors.js';

/*
 * Huawei's group pages list their errors with HTTP 200 (e.g. 100203/100217 on "Querying the Device Group
 * List"), so the group codes answer 200 with an error body here too: the gateway must read `error_code`
 * even on a 2xx (platform-api.md §1.5). 100418 keeps the 404 of the device query (§5.5).
 */
export const GROUP_ERRORS = {
  '100217': { status: 200, desc: "The application hasn't been authorized." },
  '100418': { status: 404, desc: 'The deviceData is not existed.' },
  '100601': { status: 200, desc: 'The number of devices in the group has reached the max.' },
  '100602': { status: 200, desc: 'The device group name has been used.' },
  '100603': { status: 200, desc: 'The device group is not existed.' },
} as const satisfies Record<string, PlatformError>;
