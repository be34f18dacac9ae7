// The device-upgrade family's eight route descriptions (contract §3, platform-api.md §3): router, forwarding and OpenAPI derive from them.
import Joi from 'joi';
import { tagParam as param, upgradeTags as t } from '../../cache/index.js';
import { GatewayError } from '../../errors.js';
import type { RouteDescription } from '../types.js';
import { MALFORMED } from './codes.js';
import { packageListQuery, subtaskListQuery, taskListQuery, upgradeTaskBody } from './schemas.js';

const PLATFORM = '/iodm/northbound/v1.5.0';

/** The gateway answers exactly `{operationId}`, whatever else the platform adds. */
function operationIdOnly(platformBody: unknown): { operationId: string } {
  const id = platformBody !== null && typeof platformBody === 'object' ? Reflect.get(platformBody, 'operationId') : undefined;
  if (typeof id === 'string' && id !== '') return { operationId: id };
  if (typeof id === 'number') return { operationId: String(id) };
  // Not retryable: the platform may well have created the task, and a blind retry would create another.
  throw new GatewayError('UPSTREAM_ERROR', {
    message: 'The platform accepted the task but returned no operationId.',
    retryable: false,
  });
}

/** What the two create routes answer: exactly the platform's operationId. */
const createdTask = Joi.object({ operationId: Joi.string().required() });

/** SEED's error table for "Create software upgrade task", assumed for firmware too (platform-api.md §3.5). */
const TASK_CODES = [
  ...[MALFORMED, '123002', '123016', '123019', '123020', '123021', '123022', '123023', '123024'],
  ...['123025', '123026', '123028', '123032', '123033', '123034'],
];

/** The two create routes differ only in the kind of upgrade: same body, answer and error table (§3.4–3.5). */
function createTaskRoute(kind: 'software' | 'firmware'): RouteDescription {
  const Kind = kind === 'software' ? 'Software' : 'Firmware';
  return {
    id: `create${Kind}UpgradeTask`,
    summary: `Create a ${kind} upgrade task`,
    method: 'POST',
    path: `/upgrade-tasks/${kind}`,
    platform: { method: 'POST', path: `${PLATFORM}/operations/${kind}Upgrade` },
    body: upgradeTaskBody,
    successStatus: 201,
    response: createdTask,
    shapeResponse: operationIdOnly,
    idempotencyKey: true,
    platformErrorCodes: TASK_CODES,
    // The new task's own entry cannot be cached yet; the task list now lacks it.
    invalidates: () => [t.taskList],
  };
}

// Error tables for the task queries were not retrieved (platform-api.md §3.6–3.8); they are assumed to
// follow the package APIs'.
export const upgradeRoutes: readonly RouteDescription[] = Object.freeze([
  {
    id: 'listPackages',
    summary: 'Query the version package list',
    method: 'GET',
    path: '/packages',
    platform: { method: 'GET', path: `${PLATFORM}/category` },
    query: packageListQuery,
    successStatus: 200,
    platformErrorCodes: [MALFORMED, '123029'],
    // 60 s: packages change only when an operator uploads one in the portal (unseen) or deletes one through the
    // gateway (dropped at once); the rollout service re-reads this list before every task (docs/cache.md).
    cache: { ttlSec: 60, tags: () => [t.packageList] },
  },
  {
    id: 'getPackage',
    summary: 'Query a version package',
    method: 'GET',
    path: '/packages/{fileId}',
    platform: { method: 'GET', path: `${PLATFORM}/category/{fileId}` },
    successStatus: 200,
    platformErrorCodes: [MALFORMED, '123002'],
    // 300 s: a package's metadata is fixed once uploaded (a new version is a new fileId); deletion drops it.
    cache: { ttlSec: 300, tags: (p) => [t.packageOf(param(p, 'fileId'))] },
  },
  {
    id: 'deletePackage',
    summary: 'Delete a version package',
    method: 'DELETE',
    path: '/packages/{fileId}',
    platform: { method: 'DELETE', path: `${PLATFORM}/category/{fileId}` },
    successStatus: 204,
    platformErrorCodes: [MALFORMED, '123002'],
    invalidates: (p) => [t.packageOf(param(p, 'fileId')), t.packageList],
  },
  createTaskRoute('software'),
  createTaskRoute('firmware'),
  {
    id: 'listUpgradeTasks',
    summary: 'Query the upgrade task list',
    method: 'GET',
    path: '/upgrade-tasks',
    platform: { method: 'GET', path: `${PLATFORM}/operations` },
    query: taskListQuery,
    successStatus: 200,
    platformErrorCodes: [MALFORMED, '123029'],
    // 10 s: new tasks come through the gateway (dropped), but each task's status and counters move as devices upgrade.
    cache: { ttlSec: 10, tags: () => [t.taskList] },
  },
  {
    id: 'getUpgradeTask',
    summary: 'Query an upgrade task',
    method: 'GET',
    path: '/upgrade-tasks/{operationId}',
    platform: { method: 'GET', path: `${PLATFORM}/operations/{operationId}` },
    successStatus: 200,
    platformErrorCodes: [MALFORMED, '123002'],
    // 5 s: the status the operations portal polls; 20 pollers cost at most one platform call per 5 s per task.
    cache: { ttlSec: 5, tags: (p) => [t.taskOf(param(p, 'operationId'))] },
  },
  {
    id: 'listUpgradeSubtasks',
    summary: "Query an upgrade task's subtasks",
    method: 'GET',
    path: '/upgrade-tasks/{operationId}/subtasks',
    platform: { method: 'GET', path: `${PLATFORM}/operations/{operationId}/subOperations` },
    query: subtaskListQuery,
    successStatus: 200,
    platformErrorCodes: [MALFORMED, '123002', '123029'],
    // 5 s, filed with the task: its status and its subtasks stay consistent with each other.
    cache: { ttlSec: 5, tags: (p) => [t.taskOf(param(p, 'operationId'))] },
  },
] satisfies RouteDescription[]);
