// Batch tasks of one app: what creating stores, and their counts and subtasks, derived at read time from the commands they created.
import { randomUUID } from 'node:crypto';
import type { CommandStore, SimCommand } from '../commands/store.js';
import { statusOf } from '../commands/store.js';
import { toCompactUtc } from '../../time.js';

/** platform-api.md §7.1. */
export type SubtaskStatus = 'Pending' | 'WaitResult' | 'Success' | 'Fail' | 'Timeout';

export interface Subtask {
  index: number;
  deviceId: string;
  nodeId?: string;
  /** The command created for the device (DeviceCmd); absent when it could not be created. */
  command?: SimCommand;
  /** Why no command was created: the code the command API would have answered. */
  error?: { errorCode: string; errorDesc: string };
}

export interface BatchTask {
  taskId: string;
  appId: string;
  taskName: string;
  taskType: string;
  /** Minutes (Huawei's Java SDK reference; another copy says seconds [?]). */
  timeout: number;
  param: Record<string, unknown>;
  tags?: unknown[];
  createdAt: number;
  subtasks: Subtask[];
}

export function subtaskStatus(task: BatchTask, s: Subtask, now: number): SubtaskStatus {
  if (s.command === undefined) return 'Fail';
  const status = statusOf(s.command, now);
  const finished: Partial<Record<typeof status, SubtaskStatus>> = {
    SUCCESSFUL: 'Success',
    FAILED: 'Fail',
    CANCELED: 'Fail',
    TIMEOUT: 'Timeout',
    EXPIRED: 'Timeout',
  };
  const done = finished[status];
  if (done !== undefined) return done;
  // What the task's timeout has not seen finish is timed out, whatever the command does later.
  if (now >= task.createdAt + task.timeout * 60_000) return 'Timeout';
  return status === 'PENDING' ? 'Pending' : 'WaitResult';
}

/** Expired commands were never executed: counted apart from the timed-out ones (§7.1 expiredCnt). */
const expired = (s: Subtask, now: number): boolean => s.command !== undefined && statusOf(s.command, now) === 'EXPIRED';

/** The task as "query one task" answers it (§7.1): completeCnt = successCnt + failCnt + timeoutCnt. */
export function taskView(task: BatchTask, now: number): Record<string, unknown> {
  let successCnt = 0;
  let failCnt = 0;
  let timeoutCnt = 0;
  let expiredCnt = 0;
  for (const s of task.subtasks) {
    const st = subtaskStatus(task, s, now);
    if (expired(s, now)) expiredCnt++;
    else if (st === 'Success') successCnt++;
    else if (st === 'Fail') failCnt++;
    else if (st === 'Timeout') timeoutCnt++;
  }
  const totalCnt = task.subtasks.length;
  const completeCnt = successCnt + failCnt + timeoutCnt;
  const finished = completeCnt + expiredCnt === totalCnt;
  return {
    taskId: task.taskId,
    taskName: task.taskName,
    appId: task.appId,
    operator: task.appId,
    taskFrom: 'Northbound',
    taskType: task.taskType,
    // The task statuses are not documented [?]: Processing until every subtask is done, then Complete.
    status: finished ? 'Complete' : 'Processing',
    startTime: toCompactUtc(task.createdAt),
    timeout: task.timeout,
    progress: totalCnt === 0 ? 100 : Math.floor(((completeCnt + expiredCnt) * 100) / totalCnt),
    totalCnt,
    successCnt,
    successRate: totalCnt === 0 ? 0 : Math.floor((successCnt * 100) / totalCnt),
    failCnt,
    timeoutCnt,
    expiredCnt,
    completeCnt,
    param: task.param,
    ...(task.tags !== undefined && { tags: task.tags }),
  };
}

/** One subtask detail (§7.1: status, output, error, param); param names the device, command and position. */
export function subtaskView(task: BatchTask, s: Subtask, now: number): Record<string, unknown> & { status: SubtaskStatus } {
  const status = subtaskStatus(task, s, now);
  return {
    status,
    output: s.command === undefined ? null : { commandId: s.command.commandId, commandStatus: statusOf(s.command, now) },
    error: s.error ?? null,
    param: {
      index: s.index,
      deviceId: s.deviceId,
      ...(s.nodeId !== undefined && { nodeId: s.nodeId }),
      ...(s.command !== undefined && { commandId: s.command.commandId }),
    },
  };
}

// A long benchmark creates tasks without end; the oldest are forgotten past this many per app.
const MAX_TASKS_PER_APP = 10_000;

export class BatchStore {
  private readonly tasks = new Map<string, BatchTask>();

  add(fields: Omit<BatchTask, 'taskId'>): BatchTask {
    const task: BatchTask = { taskId: randomUUID().replaceAll('-', ''), ...fields };
    this.tasks.set(task.taskId, task);
    if (this.tasks.size > MAX_TASKS_PER_APP) {
      const oldest = this.tasks.keys().next().value;
      if (oldest !== undefined) this.tasks.delete(oldest);
    }
    return task;
  }

  /** Reading a task first brings its commands' pushes up to date (they are read through their store). */
  get(taskId: string, commands: CommandStore): BatchTask | undefined {
    const task = this.tasks.get(taskId);
    for (const s of task?.subtasks ?? []) if (s.command !== undefined) commands.get(s.command.commandId);
    return task;
  }
}
