// The groups family (contract §9, platform-api.md §4–§7): not served yet.
import type { Family } from '../types.js';

export const groupFamily: Family = {
  name: 'groups',
  description: 'Device groups and their members (platform: /iocm/app/devgroup/v1.3.0, /iocm/app/dm).',
  routes: [],
  codes: {},
};
