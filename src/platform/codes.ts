// The platform-code catalog: what each Huawei error code means, which family defines it, and the gateway code it maps to (table: docs/platform-codes.md).
import { CATALOG, type ErrorCode } from '../errors.js';

/**
 * What a platform code says, in the gateway's terms. The gateway's logic branches on meanings (e.g. a
 * refused login backs off), so a new family adds codes without touching that logic.
 */
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
  /** Overrides the meaning's default (MEANING_RETRYABLE). */
  readonly retryable?: boolean;
}

export type PlatformCodeTable = Readonly<Record<string, PlatformCodeInfo>>;

/** Codes the gateway's own logic names (everything else is only looked up). */
export const PLATFORM_CODE = {
  /** 1010005: the access token is invalid or superseded; renew it and retry once. */
  TOKEN_INVALID: '1010005',
  /** 1010009: the app's flow control is exceeded; hold the app back. Also the code of the gateway's own 429s. */
  THROTTLED: '1010009',
  /** 100208: wrong app ID, secret or refresh token. */
  CREDENTIALS_REFUSED: '100208',
  /** 100247: the app is frozen (arrears). */
  APP_FROZEN: '100247',
  /** 102202: login or refresh without a required field. */
  REQUIRED_PARAMETER_MISSING: '102202',
  /** 100025: the app ID the platform authenticates with is missing. */
  APP_ID_MISSING: '100025',
  /** 100022: the platform's generic "The input is invalid." (also its answer to a path it does not serve). */
  INVALID_INPUT: '100022',
  /** 50252: the platform's generic internal error. */
  INTERNAL_ERROR: '50252',
  /** 100222: the subscription's callback URL is invalid (its error_desc reads "Internal server error.", sic; platform-api.md §6.2). */
  INVALID_CALLBACK_URL: '100222',
} as const;

/** The gateway code of each meaning (credentials-refused and token-invalid are both the gateway's upstream auth failure). */
const MEANING_CODE: Readonly<Record<CodeMeaning, ErrorCode>> = {
  'credentials-refused': 'UPSTREAM_AUTH_FAILED',
  'token-invalid': 'UPSTREAM_AUTH_FAILED',
  throttled: 'RATE_LIMITED',
  'not-found': 'NOT_FOUND',
  conflict: 'CONFLICT',
  'invalid-input': 'VALIDATION_FAILED',
  'platform-failure': 'UPSTREAM_ERROR',
};

/**
 * Whether a caller may retry the same request, per meaning. Not CATALOG's flags: CATALOG.CONFLICT is
 * retryable because it means "your Idempotency-Key is still in progress", while a platform conflict
 * (the thing exists already) stays a conflict however often it is retried.
 */
const MEANING_RETRYABLE: Readonly<Record<CodeMeaning, boolean>> = {
  'credentials-refused': false,
  'token-invalid': false,
  throttled: true,
  'not-found': false,
  conflict: false,
  'invalid-input': false,
  'platform-failure': true,
};

const code = (meaning: CodeMeaning, message: string): PlatformCodeInfo => ({ meaning, message });

/** Cross-API codes (family 'common'; each family's own are in src/families/<name>/codes.ts): authentication and tokens, flow control, platform faults, generic input errors (platform-api.md §1.6, §1.7, §2). */
export const COMMON_CODES: PlatformCodeTable = Object.freeze({
  [PLATFORM_CODE.THROTTLED]: code('throttled', "The platform refused the call: the app's platform quota is used up."),
  // The gateway renews the token and retries once before this ever reaches a caller.
  [PLATFORM_CODE.TOKEN_INVALID]: code('token-invalid', 'The platform refused the access token of this app, even after it was renewed.'),
  [PLATFORM_CODE.CREDENTIALS_REFUSED]: code('credentials-refused', 'The platform refused the credentials of this app.'),
  [PLATFORM_CODE.APP_FROZEN]: code('credentials-refused', 'The platform has frozen this app.'),
  [PLATFORM_CODE.APP_ID_MISSING]: code('credentials-refused', 'The platform did not receive the app ID it expects.'),
  // 102202 "Required Parameter is null or empty" is documented only for login and refresh (§1.7, §2.1,
  // §2.2), whose fields (appId, secret, refreshToken) all come from the gateway's configuration and token
  // store, never from a caller. So it is not the caller's invalid input (a 400 would tell the caller to fix
  // a request it cannot fix), and retrying the login at once cannot help: it is a refused login, answered
  // as UPSTREAM_AUTH_FAILED with the same back-off as a wrong secret. (It used to be VALIDATION_FAILED here
  // while tokens/manager.ts backed off on it: one meaning now decides both.)
  [PLATFORM_CODE.REQUIRED_PARAMETER_MISSING]: code('credentials-refused', 'The platform refused the login: a credential field was empty.'),
  // Not in the mapping we were given; both say the platform does not know or trust the app the gateway
  // named, a configuration problem that a retry cannot fix.
  '100203': code('credentials-refused', 'The platform does not know this app.'),
  '100217': code('credentials-refused', 'The platform says this app is not authorized for the resource.'),

  // Platform faults: worth retrying later.
  '100001': code('platform-failure', 'The platform had an internal error.'),
  '50252': code('platform-failure', 'The platform had an internal error.'),
  '100023': code('platform-failure', 'The platform reported a problem with its database.'),
  '100220': code('platform-failure', 'The platform could not read the app from the request.'),
  '101016': code('platform-failure', 'The platform could not route the request internally.'),

  // Not found.
  '100403': code('not-found', 'No such device.'),
  '100418': code('not-found', 'No such device data for this app.'),

  // Invalid input found by the platform.
  '50400': code('invalid-input', 'The platform found the input invalid.'),
  '100022': code('invalid-input', 'The platform found the input invalid.'),
  '100405': code('invalid-input', 'A request parameter is invalid.'),
  '100216': code('invalid-input', 'The application input is invalid.'),
  [PLATFORM_CODE.INVALID_CALLBACK_URL]: code('invalid-input', "The subscription's callback URL is invalid."),
});

export type CatalogEntry = PlatformCodeInfo & { readonly family: string };

export interface CodeCatalog {
  lookup(code: string): CatalogEntry | undefined;
  /** The gateway's answer to a platform code; a code nobody defines is a platform failure. */
  map(code: string): { code: ErrorCode; message: string; retryable: boolean };
  entries(): Array<[string, CatalogEntry]>;
}

const UNKNOWN_CODE_MESSAGE = 'The platform answered with an error the gateway does not know.';

/**
 * One catalog from COMMON_CODES (family 'common') and the families' tables, built once in the composition
 * root. A code defined by several tables keeps its first definition (common first); two definitions that
 * would answer differently (another meaning or retryable flag) are a mistake and stop the start.
 */
export function createCodeCatalog(families: ReadonlyArray<{ name: string; codes: PlatformCodeTable }>): CodeCatalog {
  // A Map, not an object: a code such as '__proto__' or 'constructor' must be unknown, not inherited.
  const byCode = new Map<string, CatalogEntry>();
  for (const { name, codes } of [{ name: 'common', codes: COMMON_CODES }, ...families]) {
    for (const [platformCode, info] of Object.entries(codes)) {
      const known = byCode.get(platformCode);
      if (!known) {
        byCode.set(platformCode, Object.freeze({ ...info, family: name }));
        continue;
      }
      if (known.meaning !== info.meaning || retryableOf(known) !== retryableOf(info)) {
        throw new Error(
          `platform code ${platformCode}: defined as ${describe(known)} by ${known.family} and as ${describe(info)} by ${name}`,
        );
      }
    }
  }
  return {
    lookup: (platformCode) => byCode.get(platformCode),
    map(platformCode) {
      const entry = byCode.get(platformCode);
      if (entry === undefined) {
        return { code: 'UPSTREAM_ERROR', message: UNKNOWN_CODE_MESSAGE, retryable: CATALOG.UPSTREAM_ERROR.retryable };
      }
      return { code: MEANING_CODE[entry.meaning], message: entry.message, retryable: retryableOf(entry) };
    },
    entries: () => [...byCode.entries()],
  };
}

const retryableOf = (info: PlatformCodeInfo): boolean => info.retryable ?? MEANING_RETRYABLE[info.meaning];
const describe = (info: PlatformCodeInfo): string => `${info.meaning}${info.retryable === undefined ? '' : ` (retryable ${info.retryable})`}`;
