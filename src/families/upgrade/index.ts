// The device-upgrade family (platform-api.md §3): version packages and software/firmware upgrade tasks.
import type { Family } from '../types.js';
import { UPGRADE_CODES, UPGRADE_MESSAGES } from './codes.js';
import { upgradeRoutes } from './routes.js';

export const upgradeFamily: Family = {
  name: 'device-upgrade',
  description: 'Version packages and software/firmware upgrade tasks (platform: /iodm/northbound/v1.5.0).',
  routes: upgradeRoutes,
  codes: UPGRADE_CODES,
  messages: UPGRADE_MESSAGES,
};
