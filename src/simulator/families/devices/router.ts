// The simulator's devices family (platform-api.md §4–§7): not served yet.
import express from 'express';
import { simulatorFamily } from '../types.js';
import { DeviceRegistry } from './registry.js';

export const deviceSimulator = simulatorFamily({
  name: 'devices',
  createAppData: () => ({ devices: new DeviceRegistry() }),
  router: () => express.Router(),
});
