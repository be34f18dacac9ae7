// The data family (contract §9, platform-api.md §4–§7): not served yet.
import type { Family } from '../types.js';

export const dataFamily: Family = {
  name: 'data',
  description: 'Device data: historical readings and service capabilities (platform: /iocm/app/data).',
  routes: [],
  codes: {},
};
