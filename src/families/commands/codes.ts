// The commands family's platform codes and their meanings (platform-api.md §4.1–§4.5, the HW-GUIDE error tables of the command APIs).
import type { PlatformCodeTable } from '../../platform/codes.js';

/** "The input is invalid.": the only input-error code the command APIs document (§4.1–§4.3). */
export const INVALID = '100022';

const invalid = (message: string) => ({ meaning: 'invalid-input', message }) as const;
const conflict = (message: string) => ({ meaning: 'conflict', message }) as const;
const notFound = (message: string) => ({ meaning: 'not-found', message }) as const;

/**
 * The codes the command APIs document beyond the common ones (those, e.g. 100203/100217/100220/101016,
 * stay in the common table). Several arrive with HTTP 200 (§1.5): the gateway maps them by code, not status.
 */
export const COMMAND_CODES: PlatformCodeTable = Object.freeze({
  [INVALID]: invalid('The platform found the input invalid.'),
  '100418': notFound('No such device for this app.'),
  '100434': notFound('No such device command.'),
  '100223': conflict('The device already has the most pending commands the platform keeps (20 by default).'),
  '100428': conflict('The device is not online.'),
  '100435': conflict('The command is no longer pending (already canceled, expired or executed): it cannot be canceled.'),
  '100612': conflict('The device has not been online for longer than the platform allows (a "zombie" device).'),
  // The profile the command names is not on the platform: the caller's serviceId (or the device type's
  // profile) is wrong, which a retry cannot fix.
  '100431': invalid("The command's serviceId is not in the device's profile."),
});

/** Wording of this family's own schema rules (Joi error types `rule.*`); never echoes the caller's value. */
export const COMMAND_MESSAGES: Readonly<Record<string, string>> = Object.freeze({
  'rule.endNotAfterStart': 'must be after startTime',
});
