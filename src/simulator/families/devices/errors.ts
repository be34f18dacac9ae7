// The devices family's error codes as the platform answers them (platform-api.md §4–§7, §10).
import type { PlatformError } from '../../errors.js';

export const DEVICE_ERRORS = {} as const satisfies Record<string, PlatformError>;
