// The simulator's batch family (platform-api.md §4–§7): not served yet.
import express from 'express';
import { simulatorFamily } from '../types.js';

export const batchSimulator = simulatorFamily({
  name: 'batch-tasks',
  createAppData: () => ({}),
  router: () => express.Router(),
});
