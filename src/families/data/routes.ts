// The data family's two route descriptions (contract §9, platform-api.md §5.7–§5.8), nested under the device they describe.
import { tagParam as param } from '../../cache/policies.js';
import type { RouteDescription } from '../types.js';
import { DATA_INVALID, DEVICE_DATA_NOT_FOUND } from './codes.js';
import { capabilitiesQuery, historyQuery } from './schemas.js';

const DATA = '/iocm/app/data';

// No appId is sent (as for the devices family): it names an authorising app, and the gateway acts for the
// path's app with that app's own token (platform-api.md §1.3).
export const dataRoutes: readonly RouteDescription[] = Object.freeze([
  {
    id: 'listDeviceHistory',
    // 5 s: readings arrive from devices, never through the gateway, so only time makes them stale.
    cache: { ttlSec: 5, tags: (p) => [`device-data:${param(p, 'deviceId')}`] },
    summary: "Query a device's historical data",
    method: 'GET',
    path: '/devices/{deviceId}/history',
    // deviceId is a query parameter at the platform.
    platform: { method: 'GET', path: `${DATA}/v1.2.0/deviceDataHistory`, queryFromPath: ['deviceId'] },
    query: historyQuery,
    successStatus: 200,
    platformErrorCodes: [DEVICE_DATA_NOT_FOUND],
  },
  {
    id: 'getDeviceCapabilities',
    // 60 s: capabilities come from the device's profile, which changes with a new profile, rarely.
    cache: { ttlSec: 60, tags: (p) => [`device:${param(p, 'deviceId')}`] },
    summary: "Query a device's service capabilities",
    method: 'GET',
    path: '/devices/{deviceId}/capabilities',
    platform: { method: 'GET', path: `${DATA}/v1.1.0/deviceCapabilities`, queryFromPath: ['deviceId'] },
    query: capabilitiesQuery,
    successStatus: 200,
    platformErrorCodes: [DATA_INVALID],
  },
] satisfies RouteDescription[]);
