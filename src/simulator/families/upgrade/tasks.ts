// Upgrade tasks: what a created task stores and how its status unfolds over time (a pure function of the clock).
import { createHash } from 'node:crypto';
import type { CategoryInfo } from './packages.js';
import { toCompactUtc } from '../../time.js';
import type { UpgradePolicy, UpgradeTargets } from './validation.js';

export type OperateType = 'software_upgrade' | 'firmware_upgrade';
export type SubStatus = 'wait' | 'processing' | 'success' | 'fail';
// Task statuses say `failed` while subtask statuses say `fail`: the docs themselves differ (platform-api.md §3.7).
export type TaskStatus = 'wait' | 'processing' | 'success' | 'failed';

export interface Task {
  operationId: string;
  operateType: OperateType;
  createdAt: number;
  startAt: number | null;
  targets: UpgradeTargets;
  policy: UpgradePolicy;
  pkg: CategoryInfo;
  deviceIds: string[];
}

// Deterministic life of every subtask once the task has started: wait, then processing, then done.
export const WAIT_MS = 1000;
export const DONE_MS = 3000;
const DEVICES_PER_GROUP = 3;

/** Group members are invented (there is no device registry), stable per group name, and UUID-shaped like real IDs. */
export function groupDeviceIds(group: string): string[] {
  return Array.from({ length: DEVICES_PER_GROUP }, (_, i) => {
    const h = createHash('sha1').update(`${group}#${i + 1}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  });
}

/** A device whose ID contains "fail" always fails, so clients can exercise failed tasks without extra hooks. */
export function subStatus(task: Task, deviceId: string, now: number): SubStatus {
  if (task.startAt === null || now - task.startAt < WAIT_MS) return 'wait';
  if (now - task.startAt < DONE_MS) return 'processing';
  return deviceId.toLowerCase().includes('fail') ? 'fail' : 'success';
}

export function taskStatus(task: Task, now: number): TaskStatus {
  const statuses = task.deviceIds.map((d) => subStatus(task, d, now));
  if (statuses.every((s) => s === 'wait')) return 'wait';
  if (statuses.some((s) => s === 'wait' || s === 'processing')) return 'processing';
  return statuses.includes('fail') ? 'failed' : 'success';
}

const started = (task: Task, now: number): boolean => task.startAt !== null && now >= task.startAt;
const finished = (task: Task, now: number): boolean => task.startAt !== null && now - task.startAt >= DONE_MS;

export function operationInfo(task: Task, now: number): Record<string, unknown> {
  const sta = { total: task.deviceIds.length, wait: 0, processing: 0, success: 0, fail: 0, stop: 0, timeout: 0 };
  for (const d of task.deviceIds) sta[subStatus(task, d, now)]++;
  return {
    operationId: task.operationId,
    createTime: toCompactUtc(task.createdAt),
    startTime: started(task, now) ? toCompactUtc(task.startAt as number) : '',
    stopTime: finished(task, now) ? toCompactUtc((task.startAt as number) + DONE_MS) : '',
    operateType: task.operateType,
    targets: task.targets,
    policy: task.policy,
    status: taskStatus(task, now),
    staResult: sta,
    extendPara: { fileId: task.pkg.fileId, fileName: task.pkg.name, targetVersion: task.pkg.version },
  };
}

const DETAIL: Record<SubStatus, string> = {
  wait: 'Waiting for the upgrade to start.',
  processing: 'Upgrading.',
  success: 'Upgrade succeeded.',
  fail: 'The device reported an upgrade failure.',
};

export function subOperations(task: Task, now: number): Array<Record<string, unknown> & { status: SubStatus }> {
  return task.deviceIds.map((deviceId, i) => {
    const status = subStatus(task, deviceId, now);
    return {
      subOperationId: `${task.operationId}-sub-${String(i + 1).padStart(4, '0')}`,
      createTime: toCompactUtc(task.createdAt),
      startTime: status === 'wait' ? '' : toCompactUtc(task.startAt as number),
      stopTime: status === 'success' || status === 'fail' ? toCompactUtc((task.startAt as number) + DONE_MS) : '',
      operateType: task.operateType,
      deviceId,
      status,
      detailInfo: DETAIL[status],
      extendInfo: { targetVersion: task.pkg.version },
    };
  });
}

// A long benchmark creates tasks without end; the oldest are forgotten past this many per app.
const MAX_TASKS_PER_APP = 10_000;
let sequence = 0;

export class TaskStore {
  private readonly tasks = new Map<string, Task>();

  add(fields: Omit<Task, 'operationId'>): Task {
    // Never restarted (not even by a control reset) so an ID is never handed out twice by one process.
    sequence++;
    const task: Task = { operationId: `op-${String(sequence).padStart(8, '0')}`, ...fields };
    this.tasks.set(task.operationId, task);
    if (this.tasks.size > MAX_TASKS_PER_APP) {
      const oldest = this.tasks.keys().next().value;
      if (oldest !== undefined) this.tasks.delete(oldest);
    }
    return task;
  }

  get(operationId: string): Task | undefined {
    return this.tasks.get(operationId);
  }

  /** Newest first. */
  list(): Task[] {
    return [...this.tasks.values()].reverse();
  }
}
