// The batch-tasks family's platform codes (platform-api.md §7.1): its error tables were not retrieved [?], so only the generic input code is assumed.
import type { PlatformCodeTable } from '../../platform/codes.js';

/**
 * "The input is invalid.", the generic input code of the /iocm/app APIs (§1.7). Assumed for the batch APIs,
 * whose error tables were not retrieved: the gateway's own refusals of batch input therefore carry no
 * platformCode (contract §9: only where the platform documents one for that API), while a 100022 the
 * platform answers is still mapped by meaning.
 */
export const INVALID = '100022';

export const BATCH_CODES: PlatformCodeTable = Object.freeze({
  [INVALID]: { meaning: 'invalid-input', message: 'The platform found the input invalid.' },
});
