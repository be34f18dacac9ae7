// The platform's error catalog (common codes here, each family's in its folder) and the one way the simulator sends an error.
import type { Response } from 'express';
import { BATCH_ERRORS } from './families/batch/errors.js';
import { COMMAND_ERRORS } from './families/commands/errors.js';
import { DATA_ERRORS } from './families/data/errors.js';
import { DEVICE_ERRORS } from './families/devices/errors.js';
import { GROUP_ERRORS } from './families/groups/errors.js';
import { UPGRADE_ERRORS } from './families/upgrade/errors.js';

export interface PlatformError {
  readonly status: number;
  readonly desc: string;
}

/** Codes every family may answer (platform-api.md §1.7, §2). */
const COMMON_ERRORS = {
  '100022': { status: 400, desc: 'The input is invalid.' },
  '100025': { status: 401, desc: 'AppId for auth not exist.' },
  '100208': { status: 401, desc: 'AppId or secret is not right.' },
  '100247': { status: 400, desc: 'Operation not allowed. The application has been frozen.' },
  '102202': { status: 400, desc: 'Required Parameter is null or empty.' },
  '50400': { status: 400, desc: 'The input is invalid.' },
  '50252': { status: 500, desc: 'Internal server error.' },
  '100001': { status: 500, desc: 'Internal server error.' },
  // English docs' wording; the Chinese docs say "Invalid access token or appId." (platform-api.md §11.4).
  '1010005': { status: 403, desc: 'App_key or access_token is invalid.' },
  '1010009': { status: 403, desc: 'app throttle exceed.' },
} as const satisfies Record<string, PlatformError>;

export const PLATFORM_ERRORS = {
  ...COMMON_ERRORS,
  ...UPGRADE_ERRORS,
  ...DEVICE_ERRORS,
  ...DATA_ERRORS,
  ...COMMAND_ERRORS,
  ...GROUP_ERRORS,
  ...BATCH_ERRORS,
} as const satisfies Record<string, PlatformError>;

export type PlatformErrorCode = keyof typeof PLATFORM_ERRORS;

export function isPlatformErrorCode(code: string): code is PlatformErrorCode {
  return Object.hasOwn(PLATFORM_ERRORS, code);
}

/** The call log reads the code back from res.locals, so every platform error must go through here. */
export function sendPlatformError(res: Response, code: PlatformErrorCode): void {
  const { status, desc } = PLATFORM_ERRORS[code];
  sendErrorBody(res, status, code, desc);
}

export function sendErrorBody(res: Response, status: number, code: string, desc: string): void {
  res.locals.errorCode = code;
  res.status(status).json({ error_code: code, error_desc: desc });
}
