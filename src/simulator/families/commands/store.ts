// Device commands of one app: what creating stores, and how each command's status unfolds (a pure function of the clock, pushed as it changes).
import { randomUUID } from 'node:crypto';
import type { DeviceRegistry, SimDevice } from '../devices/registry.js';
import { toCompactUtc } from '../../time.js';

/** platform-api.md §4.6 (DEFAULT, seen only in SDK docs, is never used: live responses say PENDING). */
export type CommandStatus = 'PENDING' | 'SENT' | 'DELIVERED' | 'SUCCESSFUL' | 'FAILED' | 'TIMEOUT' | 'EXPIRED' | 'CANCELED';

export interface CommandDto {
  serviceId: string;
  method: string;
  paras: Record<string, unknown>;
}

export interface SimCommand {
  commandId: string;
  appId: string;
  deviceId: string;
  command: CommandDto;
  callbackUrl?: string;
  expireTime: number;
  maxRetransmit?: number;
  createdAt: number;
  /** When it leaves PENDING for SENT; null while it waits for the device (or for ever, if it expires or is canceled). */
  sentAt: number | null;
  /** Whether the device was online when it was sent: a command sent to a sleeping device ends TIMEOUT. */
  reachable: boolean;
  canceledAt: number | null;
  /** How many statuses of its path were pushed already. */
  pushed: number;
}

export interface CancelTask {
  taskId: string;
  appId: string;
  deviceId: string;
  createdAt: number;
  commands: SimCommand[];
}

// The deterministic life of a sent command, short enough for tests: SENT, the module's ACK (DELIVERED),
// then the device's result. Pending commands wait for the device to come ONLINE and then go one ACK apart,
// in order (§4.1: the next one only after the module's ACK for the previous).
export const DELIVER_MS = 150;
export const EXECUTE_MS = 150;
/** A command sent to a device that is not online (expireTime 0) is lost and times out (§4.1). */
export const TIMEOUT_MS = 300;
/** §4.1: the platform keeps at most 20 pending (cached) commands per device by default (else 100223). */
export const MAX_PENDING_PER_DEVICE = 20;
/** §4.1: 48 h. */
export const DEFAULT_EXPIRE_SECONDS = 172_800;

/**
 * A command whose method contains "fail" (any case) ends FAILED, so that clients can exercise failures
 * without extra hooks (as upgrade devices whose ID contains "fail" do).
 */
const fails = (c: SimCommand): boolean => /fail/i.test(c.command.method);

const expiresAt = (c: SimCommand): number | null => (c.expireTime > 0 ? c.createdAt + c.expireTime * 1000 : null);

/** Every status the command has been in up to `now`, in order; the last is its status. */
export function statusPath(c: SimCommand, now: number): CommandStatus[] {
  // expireTime 0 skips the cache: the command starts SENT (§4.6).
  const path: CommandStatus[] = c.expireTime === 0 ? [] : ['PENDING'];
  if (c.canceledAt !== null && c.canceledAt <= now) return [...path, 'CANCELED'];
  const expiry = expiresAt(c);
  if (c.sentAt === null || c.sentAt > now) {
    if (expiry !== null && now >= expiry) path.push('EXPIRED');
    return path;
  }
  path.push('SENT');
  const since = now - c.sentAt;
  if (!c.reachable) {
    if (since >= TIMEOUT_MS) path.push('TIMEOUT');
    return path;
  }
  if (since >= DELIVER_MS) path.push('DELIVERED');
  if (since >= DELIVER_MS + EXECUTE_MS) path.push(fails(c) ? 'FAILED' : 'SUCCESSFUL');
  return path;
}

export const statusOf = (c: SimCommand, now: number): CommandStatus => statusPath(c, now).at(-1) ?? 'PENDING';

/** When the status last changed (or will), for the times the platform shows. */
function timesOf(c: SimCommand, now: number): { delivered?: number; executed?: number } {
  if (c.sentAt === null || !c.reachable) return {};
  const path = statusPath(c, now);
  return {
    ...(path.includes('DELIVERED') && { delivered: c.sentAt + DELIVER_MS }),
    ...(path.length > 0 && ['SUCCESSFUL', 'FAILED'].includes(path.at(-1) as string) && { executed: c.sentAt + DELIVER_MS + EXECUTE_MS }),
  };
}

/** DeviceCommandResp (§4.1), as every command API answers it. */
export function commandView(c: SimCommand, now: number): Record<string, unknown> {
  const status = statusOf(c, now);
  const { delivered, executed } = timesOf(c, now);
  const sent = c.sentAt !== null && c.sentAt <= now;
  const done = ['SUCCESSFUL', 'FAILED', 'TIMEOUT', 'EXPIRED', 'CANCELED'].includes(status);
  return {
    commandId: c.commandId,
    appId: c.appId,
    deviceId: c.deviceId,
    command: c.command,
    ...(c.callbackUrl !== undefined && { callbackUrl: c.callbackUrl }),
    expireTime: c.expireTime,
    status,
    result: done ? resultOf(status) : null,
    creationTime: toCompactUtc(c.createdAt),
    executeTime: executed !== undefined ? toCompactUtc(executed) : null,
    platformIssuedTime: sent ? toCompactUtc(c.sentAt as number) : null,
    deliveredTime: delivered !== undefined ? toCompactUtc(delivered) : null,
    issuedTimes: sent ? 1 : 0,
    ...(c.maxRetransmit !== undefined && { maxRetransmit: c.maxRetransmit }),
  };
}

function resultOf(status: CommandStatus): Record<string, unknown> {
  const detail = status === 'SUCCESSFUL' ? { result: 'ok' } : status === 'FAILED' ? { result: 'the device reported a failure' } : null;
  return { resultCode: status, resultDetail: detail };
}

/** The NB-IoT command status push (platform-api.md §6.5): no notifyType, to the command's callbackUrl. */
export function commandPush(c: SimCommand, status: CommandStatus): Record<string, unknown> {
  const detail = status === 'SUCCESSFUL' || status === 'FAILED' ? resultOf(status).resultDetail : null;
  return { deviceId: c.deviceId, commandId: c.commandId, result: { resultCode: status, resultDetail: detail } };
}

export type Push = (command: SimCommand, body: Record<string, unknown>) => void;

// A long benchmark creates commands without end; the oldest are forgotten past this many per app.
const MAX_COMMANDS_PER_APP = 10_000;

export class CommandStore {
  private readonly commands = new Map<string, SimCommand>();
  private readonly cancelTasks = new Map<string, CancelTask>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private push: Push | undefined;

  /**
   * Connects the store to its app's devices and to the platform's pushes, once (the router calls it on
   * every request; only the first counts): pending commands go out when their device comes ONLINE.
   */
  wire(devices: DeviceRegistry, push: Push): void {
    if (this.push !== undefined) return;
    this.push = push;
    devices.onStatus((device, previous) => {
      if (device.status === 'ONLINE' && previous !== 'ONLINE') this.deviceOnline(device, Date.now());
    });
  }

  get(commandId: string): SimCommand | undefined {
    const c = this.commands.get(commandId);
    if (c !== undefined) this.flush(c, Date.now());
    return c;
  }

  /**
   * Where the platform pushes a command's status changes (its `callbackUrl`, §6.5): the push body does not
   * say, so the part that delivers pushes asks here. No side effects, so it is safe inside a push listener.
   */
  callbackUrlOf(commandId: string): string | undefined {
    return this.commands.get(commandId)?.callbackUrl;
  }

  /** Newest first; every status is pushed before it is shown. */
  list(now = Date.now()): SimCommand[] {
    const all = [...this.commands.values()].reverse();
    for (const c of all) this.flush(c, now);
    return all;
  }

  pendingOf(deviceId: string, now: number): SimCommand[] {
    return [...this.commands.values()].filter((c) => c.deviceId === deviceId && statusOf(c, now) === 'PENDING');
  }

  /** Creates a command for a known device; undefined when the device has its 20 pending already (100223). */
  create(
    input: { appId: string; device: SimDevice; command: CommandDto; callbackUrl?: string; expireTime?: number; maxRetransmit?: number },
    now = Date.now(),
  ): SimCommand | undefined {
    const expireTime = input.expireTime ?? DEFAULT_EXPIRE_SECONDS;
    const online = input.device.status === 'ONLINE';
    const immediate = expireTime === 0 || online;
    if (!immediate && this.pendingOf(input.device.deviceId, now).length >= MAX_PENDING_PER_DEVICE) return undefined;
    const c: SimCommand = {
      commandId: randomUUID().replaceAll('-', ''),
      appId: input.appId,
      deviceId: input.device.deviceId,
      command: { serviceId: input.command.serviceId, method: input.command.method, paras: { ...input.command.paras } },
      ...(input.callbackUrl !== undefined && { callbackUrl: input.callbackUrl }),
      expireTime,
      ...(input.maxRetransmit !== undefined && { maxRetransmit: input.maxRetransmit }),
      createdAt: now,
      sentAt: immediate ? now : null,
      reachable: online,
      canceledAt: null,
      pushed: 0,
    };
    this.commands.set(c.commandId, c);
    if (this.commands.size > MAX_COMMANDS_PER_APP) {
      const oldest = this.commands.keys().next().value;
      if (oldest !== undefined) this.commands.delete(oldest);
    }
    this.flush(c, now);
    this.schedule(c);
    return c;
  }

  /** Cancels a PENDING command; false when it is in any other status (100435). */
  cancel(c: SimCommand, now = Date.now()): boolean {
    if (statusOf(c, now) !== 'PENDING') return false;
    c.canceledAt = now;
    this.flush(c, now);
    return true;
  }

  /** Cancels every PENDING command of a device (§4.4): the task lists the commands it canceled. */
  cancelAll(appId: string, deviceId: string, now = Date.now()): CancelTask {
    const canceled = this.pendingOf(deviceId, now).filter((c) => this.cancel(c, now));
    const task: CancelTask = { taskId: randomUUID().replaceAll('-', ''), appId, deviceId, createdAt: now, commands: canceled };
    this.cancelTasks.set(task.taskId, task);
    return task;
  }

  /** Newest first. */
  listCancelTasks(): CancelTask[] {
    return [...this.cancelTasks.values()].reverse();
  }

  private deviceOnline(device: SimDevice, now: number): void {
    const waiting = this.pendingOf(device.deviceId, now)
      .filter((c) => c.sentAt === null)
      .sort((a, b) => a.createdAt - b.createdAt);
    waiting.forEach((c, i) => {
      c.sentAt = now + i * DELIVER_MS;
      c.reachable = true;
      this.flush(c, now);
      this.schedule(c);
    });
  }

  /** Pushes every status the command has reached and not yet pushed, in order. */
  private flush(c: SimCommand, now: number): void {
    const path = statusPath(c, now);
    while (c.pushed < path.length) {
      const status = path[c.pushed] as CommandStatus;
      c.pushed++;
      this.push?.(c, commandPush(c, status));
    }
  }

  /** Timers at each coming change, so that pushes happen when the status changes, not only when it is read. */
  private schedule(c: SimCommand): void {
    const at: number[] = [];
    if (c.sentAt !== null) {
      at.push(c.sentAt);
      if (c.reachable) at.push(c.sentAt + DELIVER_MS, c.sentAt + DELIVER_MS + EXECUTE_MS);
      else at.push(c.sentAt + TIMEOUT_MS);
    } else {
      const expiry = expiresAt(c);
      if (expiry !== null) at.push(expiry);
    }
    for (const when of at) this.arm(c, when);
  }

  private arm(c: SimCommand, when: number): void {
    const delay = when - Date.now();
    // setTimeout cannot wait longer than ~24.8 days; a later expiry is seen on the next read instead.
    if (delay < 0 || delay > 2_147_483_647) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      // Node's timers run on the loop's cached clock and can fire a millisecond before Date.now() says
      // `when`: the status would not have changed yet, and its push would wait for the next read.
      if (Date.now() < when) this.arm(c, when);
      else this.flush(c, Date.now());
    }, delay);
    t.unref();
    this.timers.add(t);
  }

  /** Stops the timers (a reset replaced this app's data). */
  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
