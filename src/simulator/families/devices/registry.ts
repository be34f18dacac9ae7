// The simulator's device registry of one app: what registering makes queryable, groupable, commandable and deletable.
import { randomUUID } from 'node:crypto';

/** platform-api.md §5.5: a device's status as the platform reports it. */
export type DeviceStatus = 'ONLINE' | 'OFFLINE' | 'INACTIVE' | 'ABNORMAL';

/** One reading a device reported (history holds these, newest last). */
export interface Reading {
  serviceId: string;
  serviceType: string;
  data: Record<string, unknown>;
  /** Compact UTC (yyyyMMdd'T'HHmmss'Z'), as the platform shows event times. */
  eventTime: string;
  /** Epoch ms of the report, for time-range queries. */
  at: number;
}

export interface SimDevice {
  deviceId: string;
  nodeId: string;
  verifyCode: string;
  psk?: string;
  timeout: number;
  /** Device info set by modify (name, deviceType, manufacturerId, manufacturerName, model, protocolType, location, …). */
  info: Record<string, unknown>;
  status: DeviceStatus;
  createdAt: number;
  modifiedAt: number;
  readings: Reading[];
}

/** Keeps the simulator's memory bounded however long a demo reports. */
const MAX_READINGS = 1000;

export class DeviceRegistry {
  private readonly byId = new Map<string, SimDevice>();
  private readonly statusListeners = new Set<(device: SimDevice, previous: DeviceStatus) => void>();
  private readonly deleteListeners = new Set<(device: SimDevice) => void>();

  /** Registers a device; undefined when the nodeId is taken (the platform answers 100426). */
  register(input: { nodeId: string; verifyCode?: string; psk?: string; timeout?: number; info?: Record<string, unknown> }, now = Date.now()): SimDevice | undefined {
    if (this.byNodeId(input.nodeId) !== undefined) return undefined;
    const device: SimDevice = {
      deviceId: randomUUID(),
      nodeId: input.nodeId,
      verifyCode: input.verifyCode ?? input.nodeId,
      ...(input.psk !== undefined && { psk: input.psk }),
      timeout: input.timeout ?? 180,
      info: { ...(input.info ?? {}) },
      // Registered but not yet connected: the platform calls it INACTIVE until the device first comes online.
      status: 'INACTIVE',
      createdAt: now,
      modifiedAt: now,
      readings: [],
    };
    this.byId.set(device.deviceId, device);
    return device;
  }

  get(deviceId: string): SimDevice | undefined {
    return this.byId.get(deviceId);
  }

  has(deviceId: string): boolean {
    return this.byId.has(deviceId);
  }

  byNodeId(nodeId: string): SimDevice | undefined {
    for (const d of this.byId.values()) if (d.nodeId === nodeId) return d;
    return undefined;
  }

  /** The device whose verification code this is (codes are unique: the platform answers 100416 for a taken one). */
  byVerifyCode(verifyCode: string): SimDevice | undefined {
    for (const d of this.byId.values()) if (d.verifyCode === verifyCode) return d;
    return undefined;
  }

  /** Deletes and tells the listeners (groups drop the member, commands their queue). */
  delete(deviceId: string): boolean {
    const device = this.byId.get(deviceId);
    if (device === undefined) return false;
    this.byId.delete(deviceId);
    for (const listener of this.deleteListeners) listener(device);
    return true;
  }

  onDelete(listener: (device: SimDevice) => void): () => void {
    this.deleteListeners.add(listener);
    return () => this.deleteListeners.delete(listener);
  }

  /** Merges modified information (a modify call); `psk` is kept apart from `info`, which is shown to callers. */
  update(deviceId: string, changes: { info?: Record<string, unknown>; psk?: string }, now = Date.now()): SimDevice | undefined {
    const device = this.byId.get(deviceId);
    if (device === undefined) return undefined;
    Object.assign(device.info, changes.info ?? {});
    if (changes.psk !== undefined) device.psk = changes.psk;
    device.modifiedAt = now;
    return device;
  }

  /** In registration order. */
  list(): SimDevice[] {
    return [...this.byId.values()];
  }

  /** Changes the status and tells the listeners (commands deliver pending ones when a device comes ONLINE). */
  setStatus(deviceId: string, status: DeviceStatus): boolean {
    const device = this.byId.get(deviceId);
    if (device === undefined) return false;
    const previous = device.status;
    device.status = status;
    device.modifiedAt = Date.now();
    for (const listener of this.statusListeners) listener(device, previous);
    return true;
  }

  onStatus(listener: (device: SimDevice, previous: DeviceStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** Stores a reading (the oldest are dropped past MAX_READINGS). */
  report(deviceId: string, reading: Reading): boolean {
    const device = this.byId.get(deviceId);
    if (device === undefined) return false;
    device.readings.push(reading);
    if (device.readings.length > MAX_READINGS) device.readings.splice(0, device.readings.length - MAX_READINGS);
    return true;
  }
}
