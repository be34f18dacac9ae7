// The simulator's commands family (/iocm/app/cmd/v1.4.0, platform-api.md §4, and the v1.2.0 paths older clients call, §9).
import express, { type Request, type Response, type Router } from 'express';
import { requireToken } from '../../auth.js';
import { isJsonOrUntyped, parseJson, rawBody } from '../../body.js';
import { page } from '../../query.js';
import type { AppData, SimulatorState } from '../../state.js';
import { toCompactUtc } from '../../time.js';
import { simulatorFamily } from '../types.js';
import { sendCommandError } from './errors.js';
import { commandView, CommandStore, type CancelTask } from './store.js';
import { parseCreateCommand, parseDeviceIdBody, parseListQuery } from './validation.js';

export const COMMAND_PREFIX = '/iocm/app/cmd/v1.4.0';
/** Older paths still called by public clients (GO, GUI, TIJOS): the same APIs under other names. */
export const LEGACY_COMMAND_PREFIX = '/iocm/app/cmd/v1.2.0';

const CANCEL_TASK_STATUSES = ['WAITTING', 'RUNNING', 'SUCCESS', 'FAILED', 'PART_SUCCESS'] as const;

const appOf = (res: Response): string => res.locals.appId as string;

/**
 * This app's commands, wired once to its devices and to the platform's pushes. A push from a store that a
 * control reset replaced is dropped: its commands no longer exist.
 */
export function commandsOf(state: SimulatorState, appId: string): CommandStore {
  const data: AppData = state.appData(appId);
  const store = data.commands;
  store.wire(data.devices, (_command, body) => {
    if (state.appData(appId).commands !== store) return store.dispose();
    state.notify(appId, body);
  });
  return store;
}

function jsonBody(req: Request, res: Response): { ok: true; value: unknown } | { ok: false } {
  return isJsonOrUntyped(req) ? parseJson(rawBody(res)) : { ok: false };
}

/**
 * The optional `appId` query (§1.3) names the app whose devices are acted on: this app's own is accepted,
 * an unknown app is 100203, another app is 100217 (the simulator keeps no authorisations between apps).
 * Answers the error itself and returns false.
 */
function ownAppOnly(state: SimulatorState, req: Request, res: Response): boolean {
  const appId = req.query.appId;
  if (appId === undefined || appId === appOf(res)) return true;
  sendCommandError(res, typeof appId === 'string' && state.isKnownApp(appId) ? '100217' : '100203');
  return false;
}

function cancelTaskView(t: CancelTask, now: number): Record<string, unknown> {
  return {
    taskId: t.taskId,
    appId: t.appId,
    deviceId: t.deviceId,
    // Every cancel is done when the task is created, so a task is never seen WAITTING or RUNNING.
    status: 'SUCCESS',
    totalCount: t.commands.length,
    deviceCommands: t.commands.map((c) => commandView(c, now)),
    // Not in the documented response [?]; shown so that the time filters can be checked by a client.
    creationTime: toCompactUtc(t.createdAt),
  };
}

/** The handlers of the five APIs, shared by the v1.4.0 paths and the older v1.2.0 ones. */
function commandHandlers(state: SimulatorState) {
  const create = (deviceIdFromPath?: string) => (req: Request, res: Response) => {
    if (!ownAppOnly(state, req, res)) return;
    const parsed = jsonBody(req, res);
    const input = parsed.ok ? parseCreateCommand(parsed.value, deviceIdFromPath) : null;
    if (input === null) return sendCommandError(res, '100022');
    const appId = appOf(res);
    const device = state.appData(appId).devices.get(input.deviceId);
    if (device === undefined) return sendCommandError(res, '100418');
    const command = commandsOf(state, appId).create({ appId, device, ...input });
    if (command === undefined) return sendCommandError(res, '100223');
    // 201 as the cancel-task create answers: the create page's status line was cut off (platform-api.md §4 [?]).
    res.status(201).json(commandView(command, Date.now()));
  };

  const list = (req: Request, res: Response) => {
    if (!ownAppOnly(state, req, res)) return;
    const q = parseListQuery(req.query, ['deviceId']);
    if (q === null) return sendCommandError(res, '100022');
    const appId = appOf(res);
    const deviceId = q.filters.deviceId;
    if (deviceId !== undefined && !state.appData(appId).devices.has(deviceId)) return sendCommandError(res, '100418');
    const now = Date.now();
    const all = commandsOf(state, appId)
      .list(now)
      .filter(
        (c) =>
          (deviceId === undefined || c.deviceId === deviceId) &&
          (q.from === undefined || c.createdAt >= q.from) &&
          (q.to === undefined || c.createdAt <= q.to),
      );
    res.status(200).json({
      pagination: { pageNo: q.pageNo, pageSize: q.pageSize, totalSize: all.length },
      data: page(all, q.pageNo, q.pageSize).map((c) => commandView(c, now)),
    });
  };

  const cancelAll = (req: Request, res: Response) => {
    if (!ownAppOnly(state, req, res)) return;
    const parsed = jsonBody(req, res);
    const deviceId = parsed.ok ? parseDeviceIdBody(parsed.value) : null;
    if (deviceId === null) return sendCommandError(res, '100022');
    const appId = appOf(res);
    if (!state.appData(appId).devices.has(deviceId)) return sendCommandError(res, '100418');
    const now = Date.now();
    const task = commandsOf(state, appId).cancelAll(appId, deviceId, now);
    res.status(201).json(cancelTaskView(task, now));
  };

  const modify = (req: Request, res: Response) => {
    if (!ownAppOnly(state, req, res)) return;
    const parsed = jsonBody(req, res);
    const body = parsed.ok ? parsed.value : undefined;
    const status = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).status : undefined;
    // The only change the platform allows is to CANCELED (§4.3).
    if (status !== 'CANCELED') return sendCommandError(res, '100022');
    const store = commandsOf(state, appOf(res));
    const command = store.get(String(req.params.deviceCommandId));
    if (command === undefined) return sendCommandError(res, '100434');
    const now = Date.now();
    if (!store.cancel(command, now)) return sendCommandError(res, '100435');
    res.status(200).json(commandView(command, now));
  };

  const listCancelTasks = (req: Request, res: Response) => {
    if (!ownAppOnly(state, req, res)) return;
    const q = parseListQuery(req.query, ['taskId', 'deviceId', 'status'], { status: CANCEL_TASK_STATUSES });
    if (q === null) return sendCommandError(res, '100022');
    const now = Date.now();
    const { taskId, deviceId, status } = q.filters;
    const all = commandsOf(state, appOf(res))
      .listCancelTasks()
      .filter(
        (t) =>
          (taskId === undefined || t.taskId === taskId) &&
          (deviceId === undefined || t.deviceId === deviceId) &&
          (status === undefined || status === 'SUCCESS') &&
          (q.from === undefined || t.createdAt >= q.from) &&
          (q.to === undefined || t.createdAt <= q.to),
      );
    res.status(200).json({
      pagination: { pageNo: q.pageNo, pageSize: q.pageSize, totalSize: all.length },
      data: page(all, q.pageNo, q.pageSize).map((t) => cancelTaskView(t, now)),
    });
  };

  return { create, list, modify, cancelAll, listCancelTasks };
}

function commandRouter(state: SimulatorState): Router {
  const h = commandHandlers(state);
  return express
    .Router()
    .post('/deviceCommands', h.create())
    .get('/deviceCommands', h.list)
    .put('/deviceCommands/:deviceCommandId', h.modify)
    .post('/deviceCommandCancelTasks', h.cancelAll)
    .get('/deviceCommandCancelTasks', h.listCancelTasks);
}

/**
 * The v1.2.0 paths (§4 "Older command paths"): create with the device in the path (the old body has no
 * deviceId), query, and cancel all of a device with `{deviceId}`. Answered as their v1.4.0 counterparts
 * are; the old APIs' own statuses were not retrieved [?].
 */
function legacyRouter(state: SimulatorState): Router {
  const h = commandHandlers(state);
  return express
    .Router()
    .post('/devices/:deviceId/commands', (req, res) => h.create(String(req.params.deviceId))(req, res))
    .get('/queryCmd', h.list)
    .post('/cancelCmd', h.cancelAll);
}

export const commandSimulator = simulatorFamily({
  name: 'commands',
  createAppData: () => ({ commands: new CommandStore() }),
  router: (state) =>
    express
      .Router()
      // Scoped to the family's paths: the router is mounted at '/', and other families' paths must not meet this check.
      .use(COMMAND_PREFIX, requireToken(state), commandRouter(state))
      .use(LEGACY_COMMAND_PREFIX, requireToken(state), legacyRouter(state)),
});
