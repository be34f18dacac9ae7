// The data family (contract §9, platform-api.md §5.7–§5.8): a device's historical readings and its service capabilities.
import type { Family } from '../types.js';
import { DATA_CODES, DATA_MESSAGES } from './codes.js';
import { dataRoutes } from './routes.js';

export const dataFamily: Family = {
  name: 'data',
  description: 'Device data: historical readings and service capabilities (platform: /iocm/app/data).',
  routes: dataRoutes,
  codes: DATA_CODES,
  messages: DATA_MESSAGES,
};
