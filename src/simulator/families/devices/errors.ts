// The devices family's error codes as the platform answers them (platform-api.md §1.7, §5.1–§5.6), and the one way this family sends them.
import type { Response } from 'express';
import { sendErrorBody, type PlatformError } from '../../errors.js';

export const DEVICE_ERRORS = {
  // Register (§5.1, HW-GUIDE 注册设备 错误码).
  '100003': { status: 400, desc: 'Invalid verify code.' },
  '100007': { status: 400, desc: 'Bad request message.' },
  '100416': { status: 400, desc: 'The device has already been binded.' },
  '100426': { status: 400, desc: 'The nodeId is duplicated.' },
  // Query one and the list (§5.5, §5.6).
  '100405': { status: 400, desc: 'The request parameter is invalid.' },
  '100216': { status: 400, desc: 'The application input is invalid.' },
  '100218': { status: 400, desc: "The gatewayId and pageNo can't be both null." },
  '100403': { status: 404, desc: 'The device is not existed.' },
  '100418': { status: 404, desc: 'The deviceData is not existed.' },
  // The `appId` query names an app that does not exist, or one that has not authorised the caller (§1.3).
  '100203': { status: 403, desc: 'The application is not existed.' },
  '100217': { status: 403, desc: "The application hasn't been authorized." },
} as const satisfies Record<string, PlatformError>;

export type DeviceErrorCode = keyof typeof DEVICE_ERRORS;

/**
 * Sends with this family's status for the code: the same code has other statuses on other APIs (100418 is
 * 200 on the command APIs, §1.5), and the merged table of src/simulator/errors.ts keeps only one of them.
 */
export function sendDeviceError(res: Response, code: DeviceErrorCode): void {
  const { status, desc } = DEVICE_ERRORS[code];
  sendErrorBody(res, status, code, desc);
}
