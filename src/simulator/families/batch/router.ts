// The simulator's batch family (/iocm/app/batchtask/v1.1.0, platform-api.md §7.1): DeviceCmd tasks make one command per target device.
import express, { type Request, type Response, type Router } from 'express';
import { requireToken } from '../../auth.js';
import { isJsonOrUntyped, parseJson, rawBody } from '../../body.js';
import { page } from '../../query.js';
import type { SimDevice } from '../devices/registry.js';
import type { SimulatorState } from '../../state.js';
import { commandsOf } from '../commands/router.js';
import { COMMAND_ERRORS } from '../commands/errors.js';
import type { CommandDto } from '../commands/store.js';
import { simulatorFamily } from '../types.js';
import { sendBatchError } from './errors.js';
import { BatchStore, subtaskView, taskView, type Subtask } from './tasks.js';

export const BATCH_PREFIX = '/iocm/app/batchtask/v1.1.0';

// Huawei's SDK reference for BatchTaskCreateInDTO (the only source of these lists and limits).
const TASK_TYPES = ['DeviceCmd', 'DeviceReg', 'DeviceLocation', 'DeviceMod', 'DeviceDel', 'DeviceLicense'];
const DEVICE_CMD_TYPES = ['DeviceList', 'DeviceType', 'DeviceArea', 'GroupList', 'Broadcast', 'GroupIdList'];
const SUBTASK_STATUSES = ['Pending', 'WaitResult', 'Success', 'Fail', 'Timeout'];

const appOf = (res: Response): string => res.locals.appId as string;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const present = (v: unknown): boolean => v !== undefined && v !== null;
const textOf = (v: unknown, max: number): v is string => typeof v === 'string' && v.trim() !== '' && v.length <= max;
const intIn = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const texts = (v: unknown, max: number): v is string[] => Array.isArray(v) && v.every((s) => textOf(s, max));

interface DeviceCmdParam {
  type: string;
  command: CommandDto;
  callbackUrl?: string;
  maxRetransmit?: number;
}

/** A DeviceCmd task's `param`; null = 100022. Fields the platform does not know are ignored, as Jackson does. */
function parseDeviceCmd(p: Record<string, unknown>): DeviceCmdParam | null {
  const { type, command, callbackUrl, maxRetransmit } = p;
  if (typeof type !== 'string' || !DEVICE_CMD_TYPES.includes(type)) return null;
  if (!isObject(command) || !textOf(command.serviceId, 64) || !textOf(command.method, 128) || !isObject(command.paras)) return null;
  if (present(callbackUrl) && !textOf(callbackUrl, 1024)) return null;
  if (present(maxRetransmit) && !intIn(maxRetransmit, 0, 3)) return null;
  for (const name of ['deviceType', 'manufacturerId', 'model', 'deviceLocation', 'groupTag', 'fileId']) {
    if (present(p[name]) && !textOf(p[name], 256)) return null;
  }
  for (const [name, max] of [['deviceList', 64], ['groupList', 256]] as const) {
    if (present(p[name]) && !texts(p[name], max)) return null;
  }
  // The field the selector reads is mandatory with it ("conditionally mandatory").
  const needs: Record<string, string> = { DeviceList: 'deviceList', DeviceType: 'deviceType', DeviceArea: 'deviceLocation', GroupList: 'groupList' };
  const needed = needs[type];
  if (needed !== undefined && (!present(p[needed]) || (Array.isArray(p[needed]) && (p[needed] as unknown[]).length === 0))) return null;
  return {
    type,
    command: { serviceId: command.serviceId, method: command.method, paras: command.paras },
    ...(present(callbackUrl) && { callbackUrl: callbackUrl as string }),
    ...(present(maxRetransmit) && { maxRetransmit: maxRetransmit as number }),
  };
}

/**
 * The devices a DeviceCmd task targets, in order, unknown IDs of a DeviceList included (their subtasks fail
 * with 100418). Device groups belong to the groups part, which this part cannot read yet: GroupList and
 * GroupIdList target no device in the simulator [?].
 */
function targetsOf(state: SimulatorState, appId: string, type: string, p: Record<string, unknown>): Array<SimDevice | string> {
  const devices = state.appData(appId).devices;
  const info = (d: SimDevice, key: string) => d.info[key];
  switch (type) {
    case 'DeviceList':
      return [...new Set(p.deviceList as string[])].map((id) => devices.get(id) ?? id);
    case 'DeviceType':
      return devices
        .list()
        .filter(
          (d) =>
            info(d, 'deviceType') === p.deviceType &&
            (p.manufacturerId === undefined || info(d, 'manufacturerId') === p.manufacturerId) &&
            (p.model === undefined || info(d, 'model') === p.model),
        );
    case 'DeviceArea':
      return devices.list().filter((d) => info(d, 'location') === p.deviceLocation);
    case 'Broadcast':
      return devices.list();
    default:
      return [];
  }
}

const unknownDevice = { errorCode: '100418', errorDesc: 'The deviceData is not existed.' };
const tooMany = { errorCode: '100223', errorDesc: COMMAND_ERRORS['100223'].desc };

function batchRouter(state: SimulatorState): Router {
  const r = express.Router();

  r.post('/tasks', (req: Request, res: Response) => {
    const parsed = isJsonOrUntyped(req) ? parseJson(rawBody(res)) : { ok: false as const };
    const body = parsed.ok ? parsed.value : undefined;
    if (!isObject(body)) return sendBatchError(res, '100022');
    const appId = appOf(res);
    // appId is mandatory (§7.1) and names the app the task acts for: here, only the caller's own.
    if (!textOf(body.appId, 64)) return sendBatchError(res, '100022');
    if (body.appId !== appId) return sendBatchError(res, state.isKnownApp(body.appId) ? '100217' : '100203');
    const { timeout, taskName, taskType, param, tags } = body;
    if (!intIn(timeout, 10, 2880) || !textOf(taskName, 256) || typeof taskType !== 'string' || !TASK_TYPES.includes(taskType)) {
      return sendBatchError(res, '100022');
    }
    if (!isObject(param)) return sendBatchError(res, '100022');
    if (present(tags) && !(Array.isArray(tags) && tags.every((t) => isObject(t) && textOf(t.tagName, 256) && textOf(t.tagValue, 256)))) {
      return sendBatchError(res, '100022');
    }
    const now = Date.now();
    const subtasks: Subtask[] = [];
    if (taskType === 'DeviceCmd') {
      const cmd = parseDeviceCmd(param);
      if (cmd === null) return sendBatchError(res, '100022');
      const commands = commandsOf(state, appId);
      targetsOf(state, appId, cmd.type, param).forEach((target, index) => {
        if (typeof target === 'string') return void subtasks.push({ index, deviceId: target, error: unknownDevice });
        const command = commands.create({ appId, device: target, command: cmd.command, ...(cmd.callbackUrl !== undefined && { callbackUrl: cmd.callbackUrl }), ...(cmd.maxRetransmit !== undefined && { maxRetransmit: cmd.maxRetransmit }) }, now);
        const base = { index, deviceId: target.deviceId, nodeId: target.nodeId };
        subtasks.push(command === undefined ? { ...base, error: tooMany } : { ...base, command });
      });
    }
    // Other task types are accepted as documented and do nothing here: they finish at once with no subtasks.
    const task = state.appData(appId).batchTasks.add({
      appId,
      taskName,
      taskType,
      timeout,
      param,
      ...(present(tags) && { tags: tags as unknown[] }),
      createdAt: now,
      subtasks,
    });
    // The success status is not documented (§9 "?"); 200 like the platform's other creates-by-POST here.
    res.status(200).json({ taskID: task.taskId });
  });

  r.get('/tasks/:taskId', (req, res) => {
    const appId = appOf(res);
    if (!ownAppOnly(state, req, res)) return;
    const task = state.appData(appId).batchTasks.get(String(req.params.taskId), commandsOf(state, appId));
    // No code for an unknown task is documented [?]: the generic input error.
    if (task === undefined) return sendBatchError(res, '100022');
    res.status(200).json(taskView(task, Date.now()));
  });

  r.get('/taskDetails', (req, res) => {
    const appId = appOf(res);
    if (!ownAppOnly(state, req, res)) return;
    const q = req.query as Record<string, unknown>;
    const pageNo = intParam(q.pageNo, 0, 0);
    // Default 1 per the SDK reference (platform-api.md §7.1); no maximum is documented.
    const pageSize = intParam(q.pageSize, 1, 1);
    const index = q.index === undefined || q.index === '' ? undefined : intParam(q.index, 0, 0);
    const filters: Record<string, string> = {};
    for (const name of ['status', 'nodeId', 'deviceId', 'commandId']) {
      const v = q[name];
      if (v === undefined || v === '') continue;
      if (!textOf(v, 256)) return sendBatchError(res, '100022');
      filters[name] = v;
    }
    if (!textOf(q.taskId, 64) || pageNo === null || pageSize === null || index === null) return sendBatchError(res, '100022');
    if (filters.status !== undefined && !SUBTASK_STATUSES.includes(filters.status)) return sendBatchError(res, '100022');
    const task = state.appData(appId).batchTasks.get(q.taskId, commandsOf(state, appId));
    if (task === undefined) return sendBatchError(res, '100022');
    const now = Date.now();
    const all = task.subtasks
      .map((s) => subtaskView(task, s, now))
      .filter((v) => {
        const p = v.param as Record<string, unknown>;
        return (
          (filters.status === undefined || v.status === filters.status) &&
          (index === undefined || p.index === index) &&
          (filters.nodeId === undefined || p.nodeId === filters.nodeId) &&
          (filters.deviceId === undefined || p.deviceId === filters.deviceId) &&
          (filters.commandId === undefined || p.commandId === filters.commandId)
        );
      });
    res.status(200).json({ totalCount: all.length, pageNo, pageSize, taskDetails: page(all, pageNo, pageSize) });
  });

  return r;
}

/** Absent or empty → the default; an integer ≥ min, or null (100022). */
function intParam(v: unknown, fallback: number, min: number): number | null {
  if (v === undefined || v === '') return fallback;
  if (typeof v !== 'string' || !/^[-+]?\d+$/.test(v)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= min && n <= 2_147_483_647 ? n : null;
}

/** The queries' optional `appId` (§7.1): the caller's own app only, as for the command APIs. */
function ownAppOnly(state: SimulatorState, req: Request, res: Response): boolean {
  const appId = req.query.appId;
  if (appId === undefined || appId === appOf(res)) return true;
  sendBatchError(res, typeof appId === 'string' && state.isKnownApp(appId) ? '100217' : '100203');
  return false;
}

export const batchSimulator = simulatorFamily({
  name: 'batch-tasks',
  createAppData: () => ({ batchTasks: new BatchStore() }),
  // Scoped to the family's paths: the router is mounted at '/', and other families' paths must not meet this check.
  router: (state) => express.Router().use(BATCH_PREFIX, requireToken(state), batchRouter(state)),
});
