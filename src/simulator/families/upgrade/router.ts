// The simulator's device-upgrade family (/iodm/northbound/v1.5.0): version packages and upgrade tasks, per app.
import express, { type Request, type Response, type Router } from 'express';
import { requireToken } from '../../auth.js';
import { isJsonOrUntyped, parseJson, rawBody } from '../../body.js';
import { sendPlatformError } from '../../errors.js';
import { seedPackages, type FileType } from './packages.js';
import { simulatorFamily } from '../types.js';
import { groupMembersByName } from '../groups/router.js';
import { filters, page, paging } from '../../query.js';
import type { SimulatorState } from '../../state.js';
import { DONE_MS, operationInfo, subOperations, TaskStore, taskStatus, WAIT_MS, type OperateType, type Task } from './tasks.js';
import { validateUpgradeRequest } from './validation.js';

export const UPGRADE_PREFIX = '/iodm/northbound/v1.5.0';

const MAX_ID = 256;
const appOf = (res: Response): string => res.locals.appId as string;
const idParam = (req: Request, name: string): string => String(req.params[name] ?? '');

// Accept both spellings of "failed" in either filter: the docs use `failed` for tasks and `fail` for subtasks.
const sameStatus = (a: string, b: string): boolean =>
  a === b || ((a === 'fail' || a === 'failed') && (b === 'fail' || b === 'failed'));
const STATUSES = ['wait', 'processing', 'success', 'fail', 'failed', 'stop'] as const;

function upgradeRouter(state: SimulatorState): Router {
  const r = express.Router();
  r.use(requireToken(state));

  r.get('/category', (req, res) => {
    const p = paging(req.query);
    if (!p.ok) return sendPlatformError(res, p.code);
    const f = filters(req.query, ['fileType', 'deviceType', 'model', 'manufacturerName', 'version'] as const, {
      fileType: ['softwarePackage', 'firmwarePackage'],
    });
    if (!f.ok) return sendPlatformError(res, f.code);
    const wanted = Object.entries(f.value) as Array<[keyof typeof f.value, string]>;
    const all = [...state.appData(appOf(res)).packages.values()].filter((pkg) =>
      wanted.every(([k, v]) => pkg[k] === v),
    );
    const { pageNo, pageSize } = p.value;
    res.status(200).json({ data: page(all, pageNo, pageSize), pageNo, pageSize, totalCount: all.length });
  });

  r.get('/category/:fileId', (req, res) => {
    const fileId = idParam(req, 'fileId');
    if (fileId.length > MAX_ID) return sendPlatformError(res, '120015');
    const pkg = state.appData(appOf(res)).packages.get(fileId);
    if (!pkg) return sendPlatformError(res, '123002');
    res.status(200).json(pkg);
  });

  r.delete('/category/:fileId', (req, res) => {
    const fileId = idParam(req, 'fileId');
    if (fileId.length > MAX_ID) return sendPlatformError(res, '120015');
    if (!state.appData(appOf(res)).packages.delete(fileId)) return sendPlatformError(res, '123002');
    // Documented as "200 OK" with no body (platform-api.md §3.3).
    res.status(200).end();
  });

  r.post('/operations/softwareUpgrade', createTask(state, 'software_upgrade', 'softwarePackage'));
  r.post('/operations/firmwareUpgrade', createTask(state, 'firmware_upgrade', 'firmwarePackage'));

  r.get('/operations', (req, res) => {
    const p = paging(req.query);
    if (!p.ok) return sendPlatformError(res, p.code);
    const f = filters(
      req.query,
      ['operationType', 'operationStatus', 'deviceType', 'model', 'manufacturerName', 'deviceId'] as const,
      { operationType: ['software_upgrade', 'firmware_upgrade'], operationStatus: STATUSES },
    );
    if (!f.ok) return sendPlatformError(res, f.code);
    const q = f.value;
    const now = Date.now();
    const all = state
      .appData(appOf(res))
      .tasks.list()
      .filter(
        (t) =>
          (q.operationType === undefined || t.operateType === q.operationType) &&
          (q.operationStatus === undefined || sameStatus(taskStatus(t, now), q.operationStatus)) &&
          (q.deviceType === undefined || t.pkg.deviceType === q.deviceType) &&
          (q.model === undefined || t.pkg.model === q.model) &&
          (q.manufacturerName === undefined || t.pkg.manufacturerName === q.manufacturerName) &&
          (q.deviceId === undefined || t.deviceIds.includes(q.deviceId)),
      );
    const { pageNo, pageSize } = p.value;
    res.status(200).json({
      data: page(all, pageNo, pageSize).map((t) => operationInfo(t, now)),
      pageNo,
      pageSize,
      // The REST doc says totalCount, Huawei's PHP SDK reads totalSize: send both.
      totalCount: all.length,
      totalSize: all.length,
    });
  });

  r.get('/operations/:operationId', (req, res) => {
    const id = idParam(req, 'operationId');
    if (id.length > MAX_ID) return sendPlatformError(res, '120015');
    const task = state.appData(appOf(res)).tasks.get(id);
    if (!task) return sendPlatformError(res, '123002');
    res.status(200).json(operationInfo(task, Date.now()));
  });

  r.get('/operations/:operationId/subOperations', (req, res) => {
    const id = idParam(req, 'operationId');
    if (id.length > MAX_ID) return sendPlatformError(res, '120015');
    const p = paging(req.query);
    if (!p.ok) return sendPlatformError(res, p.code);
    const f = filters(req.query, ['subOperationStatus'] as const, { subOperationStatus: STATUSES });
    if (!f.ok) return sendPlatformError(res, f.code);
    const task = state.appData(appOf(res)).tasks.get(id);
    if (!task) return sendPlatformError(res, '123002');
    const wanted = f.value.subOperationStatus;
    const all = subOperations(task, Date.now()).filter((s) => wanted === undefined || sameStatus(s.status, wanted));
    const { pageNo, pageSize } = p.value;
    res.status(200).json({ pageNo, pageSize, totalCount: all.length, data: page(all, pageNo, pageSize) });
  });

  return r;
}

function createTask(state: SimulatorState, operateType: OperateType, fileType: FileType) {
  return (req: Request, res: Response): void => {
    const parsed = isJsonOrUntyped(req) ? parseJson(rawBody(res)) : { ok: false as const };
    if (!parsed.ok) return sendPlatformError(res, '120015');
    const now = Date.now();
    const v = validateUpgradeRequest(parsed.value, now);
    if (!v.ok) return sendPlatformError(res, v.code);
    const { fileId, targets, policy, startAt } = v.value;
    const data = state.appData(appOf(res));
    const pkg = data.packages.get(fileId);
    if (!pkg) return sendPlatformError(res, '123002');
    const groupMismatch =
      targets.deviceGroups !== undefined &&
      (targets.deviceType !== pkg.deviceType ||
        targets.model !== pkg.model ||
        targets.manufacturerName !== pkg.manufacturerName);
    if (pkg.fileType !== fileType || groupMismatch) return sendPlatformError(res, '123016');
    // A group is named, not identified (platform-api.md §7.2), and targets its members of the moment. An
    // unknown name is answered 123002 ("Device or package file not found"), the platform's not-found for
    // upgrade targets: the docs do not say ([?]), and a typo that silently upgraded nobody would hide it.
    let deviceIds = targets.devices ?? [];
    for (const name of targets.deviceGroups ?? []) {
      const members = groupMembersByName(state, appOf(res), name);
      if (members === undefined) return sendPlatformError(res, '123002');
      deviceIds = [...deviceIds, ...members];
    }
    const task = data.tasks.add({
      operateType,
      createdAt: now,
      startAt,
      targets,
      policy: policy ?? { executeType: 'now' },
      pkg: { ...pkg },
      deviceIds: [...new Set(deviceIds)],
    });
    notifyProgress(state, appOf(res), task);
    // The platform's success status is undocumented (platform-api.md §11.1); 200 like its other creates-by-POST here.
    res.status(200).json({ operationId: task.operationId });
  };
}

/**
 * Pushes each subtask's progress and result (platform-api.md §6.5) when the clock-driven life of tasks.ts
 * reaches them. Timers are unref'd: they never keep a stopping simulator alive.
 */
function notifyProgress(state: SimulatorState, appId: string, task: Task): void {
  if (task.startAt === null) return;
  const sw = task.operateType === 'software_upgrade';
  const subs = (now: number) => subOperations(task, now);
  const at = (ms: number, fn: () => void) => setTimeout(fn, Math.max(0, (task.startAt as number) + ms - Date.now())).unref();
  at(WAIT_MS, () => {
    for (const s of subs(Date.now())) {
      const base = { deviceId: s.deviceId, appId, operationId: task.operationId, subOperationId: s.subOperationId };
      state.notify(appId, sw
        ? { notifyType: 'swUpgradeStateChangeNotify', ...base, swUpgradeState: 'downloading' }
        : { notifyType: 'fwUpgradeStateChangeNotify', ...base, step: '1', stepDesc: 'downloading' });
    }
  });
  at(DONE_MS, () => {
    for (const s of subs((task.startAt as number) + DONE_MS)) {
      const ok = s.status === 'success';
      const base = { deviceId: s.deviceId, appId, operationId: task.operationId, subOperationId: s.subOperationId, targetVersion: task.pkg.version, upgradeTime: s.stopTime };
      state.notify(appId, sw
        ? { notifyType: 'swUpgradeResultNotify', ...base, swUpgradeResult: ok ? 'SUCCESS' : 'FAIL', resultDesc: s.detailInfo }
        : { notifyType: 'fwUpgradeResultNotify', ...base, status: ok ? 'SUCCESS' : 'FAIL', statusDesc: s.detailInfo });
    }
  });
}

export const upgradeSimulator = simulatorFamily({
  name: 'device-upgrade',
  createAppData: () => ({ packages: seedPackages(), tasks: new TaskStore() }),
  router: (state) => express.Router().use(UPGRADE_PREFIX, upgradeRouter(state)),
});
