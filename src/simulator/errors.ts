// The platform's error catalog (platform-api.md §1.7, §2, §3) and the one way the simulator sends an error.
import type { Response } from 'express';

interface PlatformError {
  readonly status: number;
  readonly desc: string;
}

export const PLATFORM_ERRORS = {
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
  '120015': { status: 400, desc: 'Bad request error.' },
  '123002': { status: 404, desc: 'Device or package file not found.' },
  '123016': { status: 400, desc: 'The parameter is error, targetversion not match with device.' },
  '123019': { status: 400, desc: 'manufacturerName is null.' },
  '123020': { status: 400, desc: 'deviceType is null' },
  '123021': { status: 400, desc: 'model is null.' },
  '123022': { status: 400, desc: 'deviceGroups and devices cannot be null together' },
  '123023': { status: 400, desc: 'deviceGroups and devices cannot be exist together' },
  '123024': { status: 400, desc: 'The number of deviceGroups or devices reached upper limit' },
  '123025': { status: 400, desc: 'executeType is error or can not to be null.' },
  '123026': { status: 400, desc: 'startTime or endTime is null or error.' },
  '123028': { status: 400, desc: 'retryTimes is null or beyond the limit.' },
  '123029': { status: 400, desc: 'pageNo or pageSize beyond the limit.' },
  '123032': { status: 400, desc: 'startTime can not be later than the endTime.' },
  '123033': { status: 400, desc: 'startTime can not be earlier than the now.' },
  '123034': { status: 400, desc: 'endtime must be greater than 5 minutes.' },
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
