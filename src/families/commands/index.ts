// The commands family (contract §9, platform-api.md §4): create, query, cancel one, cancel all pending of a device, query cancel tasks.
import type { Family } from '../types.js';
import { COMMAND_CODES, COMMAND_MESSAGES } from './codes.js';
import { commandRoutes } from './routes.js';

export const commandFamily: Family = {
  name: 'commands',
  description: 'Device commands: create, query, cancel one, cancel all pending of a device (platform: /iocm/app/cmd/v1.4.0).',
  routes: commandRoutes,
  codes: COMMAND_CODES,
  messages: COMMAND_MESSAGES,
};
