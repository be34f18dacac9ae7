// The batch-tasks family (contract §9, platform-api.md §7.1): create a batch task, query it, query its subtasks.
import type { Family } from '../types.js';
import { BATCH_CODES } from './codes.js';
import { batchRoutes } from './routes.js';

export const batchFamily: Family = {
  name: 'batch-tasks',
  description: 'Batch tasks and their subtasks (platform: /iocm/app/batchtask/v1.1.0).',
  routes: batchRoutes,
  codes: BATCH_CODES,
};
