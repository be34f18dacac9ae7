// The groups family's error codes as the platform answers them (platform-api.md §4–§7, §10).
import type { PlatformError } from '../../errors.js';

export const GROUP_ERRORS = {} as const satisfies Record<string, PlatformError>;
