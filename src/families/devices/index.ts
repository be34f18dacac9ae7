// The devices family (contract §9, platform-api.md §4–§7): not served yet.
import type { Family } from '../types.js';

export const deviceFamily: Family = {
  name: 'devices',
  description: 'Devices: register, activation status, modify, delete, query one and the list (platform: /iocm/app/reg, /iocm/app/dm).',
  routes: [],
  codes: {},
};
