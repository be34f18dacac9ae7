// The batch-tasks family's three route descriptions (contract §9, platform-api.md §7.1): router, forwarding and OpenAPI derive from them.
import Joi from 'joi';
import { tagParam as param } from '../../cache/policies.js';
import type { RouteDescription } from '../types.js';
import { INVALID } from './codes.js';
import { createBatchTaskBody, getBatchTaskQuery, listSubtasksQuery } from './schemas.js';

const PLATFORM = '/iocm/app/batchtask/v1.1.0';

/** The platform answers `{"taskID": "…"}`, capital ID (§7.1); the gateway passes its body on as is. */
const createdTask = Joi.object({ taskID: Joi.string().required() }).unknown(true);

// `appId`: the create requires it in the body (§7.1), so the gateway fills in the app of its path; the two
// queries take an optional one in their query, only for another app's tasks (§1.3), so the gateway sends none.
export const batchRoutes: readonly RouteDescription[] = Object.freeze([
  {
    id: 'createBatchTask',
    invalidates: () => ['commands:list'],
    summary: 'Create a batch task',
    method: 'POST',
    path: '/batch-tasks',
    platform: { method: 'POST', path: `${PLATFORM}/tasks`, appId: 'body' },
    body: createBatchTaskBody,
    successStatus: 201,
    response: createdTask,
    idempotencyKey: true,
    platformErrorCodes: [INVALID],
  },
  {
    id: 'getBatchTask',
    // 5 s: a batch task's counts move as its subtasks run.
    cache: { ttlSec: 5, tags: (p) => [`batch-task:${param(p, 'taskId')}`] },
    summary: 'Query a batch task',
    method: 'GET',
    path: '/batch-tasks/{taskId}',
    platform: { method: 'GET', path: `${PLATFORM}/tasks/{taskId}`, callbackUrl: 'echo' },
    query: getBatchTaskQuery,
    successStatus: 200,
    platformErrorCodes: [INVALID],
  },
  {
    id: 'listBatchSubtasks',
    cache: { ttlSec: 5, tags: (p) => [`batch-task:${param(p, 'taskId')}`] },
    summary: "Query a batch task's subtasks",
    method: 'GET',
    path: '/batch-tasks/{taskId}/subtasks',
    platform: { method: 'GET', path: `${PLATFORM}/taskDetails`, queryFromPath: ['taskId'], callbackUrl: 'echo' },
    query: listSubtasksQuery,
    successStatus: 200,
    platformErrorCodes: [INVALID],
  },
] satisfies RouteDescription[]);
