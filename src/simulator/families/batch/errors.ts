// The batch family's error codes as the platform answers them: its error tables were not retrieved (platform-api.md §7.1 [?]).
import type { Response } from 'express';
import { PLATFORM_ERRORS, sendErrorBody, type PlatformError } from '../../errors.js';

/** No code is particular to the batch APIs as far as the docs go; the generic ones (100022 …) serve. */
export const BATCH_ERRORS = {} as const satisfies Record<string, PlatformError>;

/**
 * The body's `appId` names the app the task acts for (§1.3, §7.1); the cross-API statuses of §1.7 are used
 * (403), kept here rather than in the shared catalog where other APIs answer the same codes with 200.
 */
const SHARED_HERE = {
  '100203': { status: 403, desc: 'The application is not existed.' },
  '100217': { status: 403, desc: "The application hasn't been authorized." },
} as const satisfies Record<string, PlatformError>;

export type BatchErrorCode = keyof typeof SHARED_HERE | '100022';

export function sendBatchError(res: Response, code: BatchErrorCode): void {
  const { status, desc }: PlatformError = code === '100022' ? PLATFORM_ERRORS[code] : SHARED_HERE[code];
  sendErrorBody(res, status, code, desc);
}
