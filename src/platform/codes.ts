// Every platform error code the gateway knows, mapped to its catalog with our own message (table: docs/platform-codes.md).
import { CATALOG, type ErrorCode } from '../errors.js';

/** What a platform code says happened; the gateway's answer follows from it. */
export type CodeMeaning =
  | 'credentials-refused'
  | 'token-invalid'
  | 'throttled'
  | 'not-found'
  | 'conflict'
  | 'invalid-input'
  | 'platform-failure';

export interface PlatformCodeInfo {
  readonly meaning: CodeMeaning;
  /** Public, in our words: the platform's `error_desc` is sometimes wrong or misleading, so it is never relayed. */
  readonly message: string;
  readonly retryable?: boolean;
}

export type PlatformCodeTable = Readonly<Record<string, PlatformCodeInfo>>;

export interface PlatformCodeEntry {
  code: ErrorCode;
  /** Public, in our words: the platform's `error_desc` is sometimes wrong or misleading, so it is never relayed. */
  message: string;
  /** Overrides the catalog entry's retryable flag. */
  retryable?: boolean;
}

const invalid = (message: string): PlatformCodeEntry => ({ code: 'VALIDATION_FAILED', message });
const authFailed = (message: string): PlatformCodeEntry => ({
  code: 'UPSTREAM_AUTH_FAILED',
  message,
  retryable: false,
});
const platformFault = (message: string): PlatformCodeEntry => ({ code: 'UPSTREAM_ERROR', message, retryable: true });
const notFound = (message: string): PlatformCodeEntry => ({ code: 'NOT_FOUND', message, retryable: false });

/** Sources: platform-api.md §1.7 (common), §2 (authentication), §3 and the SEED error table (device upgrade). */
export const PLATFORM_CODES: Readonly<Record<string, PlatformCodeEntry>> = Object.freeze({
  // Flow control and tokens.
  '1010009': {
    code: 'RATE_LIMITED',
    message: "The platform refused the call: the app's platform quota is used up.",
    retryable: true,
  },
  // The gateway renews the token and retries once before this ever reaches a caller.
  '1010005': authFailed('The platform refused the access token of this app, even after it was renewed.'),
  '100208': authFailed('The platform refused the credentials of this app.'),
  '100247': authFailed('The platform has frozen this app.'),
  '100025': authFailed('The platform did not receive the app ID it expects.'),
  // Not in the mapping we were given; both say the platform does not know or trust the app the gateway
  // named, a configuration problem that a retry cannot fix.
  '100203': authFailed('The platform does not know this app.'),
  '100217': authFailed('The platform says this app is not authorized for the resource.'),

  // Platform faults: worth retrying later.
  '100001': platformFault('The platform had an internal error.'),
  '50252': platformFault('The platform had an internal error.'),
  '100023': platformFault('The platform reported a problem with its database.'),
  '100220': platformFault('The platform could not read the app from the request.'),
  '101016': platformFault('The platform could not route the request internally.'),

  // Not found.
  '123002': notFound('No such version package or device.'),
  '100403': notFound('No such device.'),
  '100418': notFound('No such device data for this app.'),

  // Invalid input found by the platform.
  '120015': invalid('The platform found the request malformed.'),
  '102202': invalid('A required parameter is missing or empty.'),
  '50400': invalid('The platform found the input invalid.'),
  '100022': invalid('The platform found the input invalid.'),
  '100405': invalid('A request parameter is invalid.'),
  '100216': invalid('The application input is invalid.'),
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

/** The gateway's answer to a platform code; a code it does not know is a platform failure. */
export function mapPlatformCode(platformCode: string): { code: ErrorCode; message: string; retryable: boolean } {
  const entry = Object.hasOwn(PLATFORM_CODES, platformCode) ? PLATFORM_CODES[platformCode] : undefined;
  if (entry === undefined) {
    const message = 'The platform answered with an error the gateway does not know.';
    return { code: 'UPSTREAM_ERROR', message, retryable: CATALOG.UPSTREAM_ERROR.retryable };
  }
  return { code: entry.code, message: entry.message, retryable: entry.retryable ?? CATALOG[entry.code].retryable };
}
