// The commands family's five route descriptions (contract §9, platform-api.md §4): router, forwarding and OpenAPI derive from them.
import type { RouteDescription } from '../types.js';
import { INVALID } from './codes.js';
import {
  createCancelTaskBody,
  createCommandBody,
  listCancelTasksQuery,
  listCommandsQuery,
  modifyCommandBody,
} from './schemas.js';

const PLATFORM = '/iocm/app/cmd/v1.4.0';

// The common codes every command API lists (100203, 100217, 1010009, 1010005, 100001, 100023, 100220,
// 101016) are the catalog's; each route names the ones particular to it.
//
// `appId` (query): create, modify and cancel-task take an optional one, as do both queries (§4.1–§4.5). It is
// only for acting on the devices of ANOTHER app that authorised this one (§1.3); the gateway acts for the app
// in its path, whose own devices need none, so it sends none (`platform.appId` absent) and callers may not
// send one (contract §9). Sending the path's own appId would be harmless but would make the platform check an
// authorisation that does not exist for an app acting on itself [?].
export const commandRoutes: readonly RouteDescription[] = Object.freeze([
  {
    id: 'createCommand',
    invalidates: () => ['commands:list'],
    summary: 'Create a device command',
    method: 'POST',
    path: '/commands',
    platform: { method: 'POST', path: `${PLATFORM}/deviceCommands`, callbackUrl: 'body' },
    body: createCommandBody,
    // The platform very probably answers 201 (§4, [?]); the gateway's creating POSTs answer 201 whatever it is.
    successStatus: 201,
    idempotencyKey: true,
    platformErrorCodes: [INVALID, '100418', '100428', '100431', '100223', '100612'],
  },
  {
    id: 'listCommands',
    // 5 s: command statuses move as devices take them (PENDING → SENT → DELIVERED → …).
    cache: { ttlSec: 5, tags: () => ['commands:list'] },
    summary: 'Query device commands',
    method: 'GET',
    path: '/commands',
    platform: { method: 'GET', path: `${PLATFORM}/deviceCommands`, callbackUrl: 'echo' },
    query: listCommandsQuery,
    successStatus: 200,
    platformErrorCodes: [INVALID, '100418'],
  },
  {
    // A PUT whose only allowed body is {"status":"CANCELED"} (§4.3): kept as the platform's modify, so that
    // a later change the platform allows needs no new route.
    id: 'modifyCommand',
    invalidates: () => ['commands:list'],
    summary: 'Modify a device command (cancel it: status CANCELED)',
    method: 'PUT',
    path: '/commands/{deviceCommandId}',
    platform: { method: 'PUT', path: `${PLATFORM}/deviceCommands/{deviceCommandId}`, callbackUrl: 'echo' },
    body: modifyCommandBody,
    successStatus: 200,
    platformErrorCodes: [INVALID, '100418', '100434', '100435'],
  },
  {
    id: 'createCommandCancelTask',
    invalidates: () => ['commands:list', 'command-cancel-tasks:list'],
    summary: 'Cancel all pending commands of a device (create a cancel task)',
    method: 'POST',
    path: '/command-cancel-tasks',
    platform: { method: 'POST', path: `${PLATFORM}/deviceCommandCancelTasks`, callbackUrl: 'echo' },
    body: createCancelTaskBody,
    successStatus: 201,
    idempotencyKey: true,
    // Its error table was not retrieved (§4.4 [?]); these are the command APIs' for the same faults.
    platformErrorCodes: [INVALID, '100418'],
  },
  {
    id: 'listCommandCancelTasks',
    // 5 s: a cancel task's counts move as the platform works through it.
    cache: { ttlSec: 5, tags: () => ['command-cancel-tasks:list'] },
    summary: 'Query command cancel tasks',
    method: 'GET',
    path: '/command-cancel-tasks',
    platform: { method: 'GET', path: `${PLATFORM}/deviceCommandCancelTasks`, callbackUrl: 'echo' },
    query: listCancelTasksQuery,
    successStatus: 200,
    platformErrorCodes: [INVALID],
  },
] satisfies RouteDescription[]);
