// How the simulator shows a device (platform-api.md §5.5) and what it pushes about it (§6.5); never the psk or the verifyCode.
import { toCompactUtc } from '../../time.js';
import type { SimDevice } from './registry.js';

/** The DeviceInfo DTO's fields (§5.5), in the platform's order; each is null until set. */
export const DEVICE_INFO_FIELDS = [
  'nodeId', 'name', 'description', 'manufacturerId', 'manufacturerName', 'mac', 'location', 'deviceType',
  'model', 'swVersion', 'fwVersion', 'hwVersion', 'protocolType', 'bridgeId', 'status', 'statusDetail', 'mute',
  'supportedSecurity', 'isSecurity', 'signalStrength', 'sigVersion', 'serialNumber', 'batteryLevel',
] as const;

/** A directly connected device is its own gateway (§5.5). */
export const gatewayOf = (device: SimDevice): string => device.deviceId;

export function deviceInfo(device: SimDevice): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of DEVICE_INFO_FIELDS) out[field] = device.info[field] ?? null;
  out.nodeId = device.nodeId;
  out.status = device.status;
  // Registered but never connected: NOT_ACTIVE (as in the deviceAdded sample, §6.5).
  out.statusDetail = device.status === 'INACTIVE' ? 'NOT_ACTIVE' : 'NONE';
  if (device.info.isSecure !== undefined) out.isSecurity = device.info.isSecure === true ? 'TRUE' : 'FALSE';
  return out;
}

/** The newest reading of each service, as `services` of the device (§5.5). */
function services(device: SimDevice): Array<Record<string, unknown>> {
  const latest = new Map<string, SimDevice['readings'][number]>();
  for (const r of device.readings) {
    const known = latest.get(r.serviceId);
    if (known === undefined || r.at >= known.at) latest.set(r.serviceId, r);
  }
  return [...latest.values()].map((r) => ({
    serviceId: r.serviceId,
    serviceType: r.serviceType,
    data: r.data,
    eventTime: r.eventTime,
    serviceInfo: null,
  }));
}

/** One device as query-one and the list show it; `imsi` only when asked for with `select=imsi`. */
export function deviceView(device: SimDevice, withImsi: boolean): Record<string, unknown> {
  const created = toCompactUtc(device.createdAt);
  return {
    deviceId: device.deviceId,
    gatewayId: gatewayOf(device),
    nodeType: 'ENDPOINT',
    // The REST doc says createTime, the Go client reads creationTime (§5.5): both are sent.
    createTime: created,
    creationTime: created,
    lastModifiedTime: toCompactUtc(device.modifiedAt),
    deviceInfo: deviceInfo(device),
    services: services(device),
    ...(withImsi && { imsi: device.info.imsi ?? null }),
  };
}

export const deviceAdded = (device: SimDevice): Record<string, unknown> => ({
  notifyType: 'deviceAdded',
  deviceId: device.deviceId,
  gatewayId: gatewayOf(device),
  nodeType: 'ENDPOINT',
  deviceInfo: deviceInfo(device),
});

export const deviceInfoChanged = (device: SimDevice): Record<string, unknown> => ({
  notifyType: 'deviceInfoChanged',
  deviceId: device.deviceId,
  gatewayId: gatewayOf(device),
  deviceInfo: deviceInfo(device),
});

export const deviceDeleted = (device: SimDevice): Record<string, unknown> => ({
  notifyType: 'deviceDeleted',
  deviceId: device.deviceId,
  gatewayId: gatewayOf(device),
});

export const deviceDataChanged = (device: SimDevice, reading: SimDevice['readings'][number]): Record<string, unknown> => ({
  notifyType: 'deviceDataChanged',
  // The platform's requestId ties a push to a device request; a report of our control endpoint has none.
  requestId: null,
  deviceId: device.deviceId,
  gatewayId: gatewayOf(device),
  service: { serviceId: reading.serviceId, serviceType: reading.serviceType, data: reading.data, eventTime: reading.eventTime },
});
