// The groups family (contract §9, platform-api.md §7.2): device groups and their members.
import type { Family } from '../types.js';
import { GROUP_CODES } from './codes.js';
import { groupRoutes } from './routes.js';

export const groupFamily: Family = {
  name: 'groups',
  description: 'Device groups and their members (platform: /iocm/app/devgroup/v1.3.0, /iocm/app/dm).',
  routes: groupRoutes,
  codes: GROUP_CODES,
};
