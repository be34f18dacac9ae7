// The simulator's devices family (platform-api.md §4–§7): not served yet.
import express from 'express';
import { simulatorFamily } from '../types.js';

export const deviceSimulator = simulatorFamily({
  name: 'devices',
  createAppData: () => ({}),
  router: () => express.Router(),
});
