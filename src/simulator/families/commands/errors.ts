// The commands family's error codes as the platform answers them (platform-api.md §4.1–§4.3, the HW-GUIDE command error tables).
import type { Response } from 'express';
import { PLATFORM_ERRORS, sendErrorBody, type PlatformError } from '../../errors.js';

/** Codes only the command APIs answer; merged into the simulator's catalog. */
export const COMMAND_ERRORS = {
  '100223': { status: 400, desc: 'Command counts has reached the upLimit.' },
  '100428': { status: 200, desc: 'The device is not online.' },
  '100431': { status: 200, desc: 'The serviceType is not exist.' },
  '100434': { status: 200, desc: 'The device command is not existed.' },
  '100435': { status: 200, desc: 'The device command already canceled, expired or executed, Cannot cancel.' },
  '100612': { status: 403, desc: 'Device is zombie.' },
  '100220': { status: 500, desc: 'Get AppKey from header failed.' },
  '101016': { status: 500, desc: 'Get iotws address failed.' },
} as const satisfies Record<string, PlatformError>;

/**
 * Codes other APIs answer too, with the status the command APIs document for them. The same code has
 * other statuses elsewhere (§1.5: 100418 is 404 on a device query but 200 here), so they stay out of the
 * shared catalog, where they would override the other families' statuses.
 */
const SHARED_HERE = {
  '100418': { status: 200, desc: 'The deviceData is not existed.' },
  '100203': { status: 200, desc: 'The application is not existed.' },
  '100217': { status: 200, desc: "The application hasn't been authorized." },
} as const satisfies Record<string, PlatformError>;

export type CommandErrorCode = keyof typeof COMMAND_ERRORS | keyof typeof SHARED_HERE | '100022';

/** Sends a platform error with the status the command APIs document for it. */
export function sendCommandError(res: Response, code: CommandErrorCode): void {
  const { status, desc }: PlatformError = Object.hasOwn(SHARED_HERE, code)
    ? SHARED_HERE[code as keyof typeof SHARED_HERE]
    : PLATFORM_ERRORS[code as Exclude<CommandErrorCode, keyof typeof SHARED_HERE>];
  sendErrorBody(res, status, code, desc);
}
