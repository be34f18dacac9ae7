// The data family's error codes as the platform answers them (platform-api.md §1.7, §5.7–§5.8).
import type { Response } from 'express';
import { sendErrorBody, type PlatformError } from '../../errors.js';

export const DATA_ERRORS = {
  '100022': { status: 400, desc: 'The input is invalid.' },
  // History of a device this app does not have: "The deviceData is not existed." (the history error table
  // was not retrieved; the device queries answer it with 404, §5.5).
  '100418': { status: 404, desc: 'The deviceData is not existed.' },
} as const satisfies Record<string, PlatformError>;

export type DataErrorCode = keyof typeof DATA_ERRORS;

/** Sends with this family's status for the code (another family may answer the same code with another). */
export function sendDataError(res: Response, code: DataErrorCode): void {
  const { status, desc } = DATA_ERRORS[code];
  sendErrorBody(res, status, code, desc);
}
