// The commands family (contract §9, platform-api.md §4–§7): not served yet.
import type { Family } from '../types.js';

export const commandFamily: Family = {
  name: 'commands',
  description: 'Device commands: create, query, cancel one, cancel all pending of a device (platform: /iocm/app/cmd/v1.4.0).',
  routes: [],
  codes: {},
};
