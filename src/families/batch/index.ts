// The batch-tasks family (contract §9, platform-api.md §4–§7): not served yet.
import type { Family } from '../types.js';

export const batchFamily: Family = {
  name: 'batch-tasks',
  description: 'Batch tasks and their subtasks (platform: /iocm/app/batchtask/v1.1.0).',
  routes: [],
  codes: {},
};
