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

  delete(deviceId: string): boolean {
    return this.byId.delete(deviceId);
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
