// The devices family (contract §9, platform-api.md §5.1–§5.6): register, activation status, modify, delete, query one and the list.
import type { Family } from '../types.js';
import { DEVICE_CODES, DEVICE_MESSAGES } from './codes.js';
import { deviceRoutes } from './routes.js';

export const deviceFamily: Family = {
  name: 'devices',
  description: 'Devices: register, activation status, modify, delete, query one and the list (platform: /iocm/app/reg, /iocm/app/dm).',
  routes: deviceRoutes,
  codes: DEVICE_CODES,
  messages: DEVICE_MESSAGES,
};
