// The simulator's data family (platform-api.md §5.7–§5.8, legacy history path of §9): history is what devices reported; capabilities follow from it.
import express, { type Request, type Response, type Router } from 'express';
import { requireToken } from '../../auth.js';
import type { SimulatorState } from '../../state.js';
import { sendDeviceError } from '../devices/errors.js';
import { checkAppIdQuery, INT_MAX, intIn, one, timeWindow } from '../devices/lookup.js';
import type { Reading, SimDevice } from '../devices/registry.js';
import { gatewayOf } from '../devices/view.js';
import { simulatorFamily } from '../types.js';
import { sendDataError } from './errors.js';

const HISTORY_PATHS = ['/iocm/app/data/v1.2.0/deviceDataHistory', '/iocm/app/data/v1.1.0/deviceDataHistory'];
const CAPABILITIES_PATH = '/iocm/app/data/v1.1.0/deviceCapabilities';

/** Page size when none is asked for: not documented [?]; 20 keeps answers small. */
const DEFAULT_PAGE_SIZE = 20;
const MAX_TEXT = 256;

const appOf = (res: Response): string => res.locals.appId as string;

/** A profile's data type for a reported value (the profile itself is not modelled: capabilities follow the readings). */
function dataTypeOf(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'decimal';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  return 'jsonObject';
}

/** §5.8's DeviceCapabilityDTO of one device: one service per serviceId it reported, one property per data key. */
function capabilitiesOf(device: SimDevice): Record<string, unknown> {
  const byService = new Map<string, { serviceType: string; properties: Map<string, unknown> }>();
  for (const r of device.readings) {
    const s = byService.get(r.serviceId) ?? { serviceType: r.serviceType, properties: new Map<string, unknown>() };
    for (const [k, v] of Object.entries(r.data)) s.properties.set(k, v);
    byService.set(r.serviceId, s);
  }
  return {
    deviceId: device.deviceId,
    serviceCapabilities: [...byService].map(([serviceId, s]) => ({
      serviceId,
      serviceType: s.serviceType,
      option: 'Optional',
      description: null,
      commands: [],
      properties: [...s.properties].map(([propertyName, v]) => ({
        propertyName,
        dataType: dataTypeOf(v),
        required: false,
        min: null,
        max: null,
        step: null,
        maxLength: null,
        method: 'R',
        unit: null,
        enumList: null,
      })),
    })),
  };
}

function dataRouter(state: SimulatorState): Router {
  const r = express.Router();
  // Scoped to these paths: this router sees every request, and other families' unknown paths must not get a 403.
  const auth = requireToken(state);

  r.get(HISTORY_PATHS, auth, (req: Request, res: Response) => {
    const appId = appOf(res);
    const appIdProblem = checkAppIdQuery(state, appId, req);
    if (appIdProblem !== undefined) return sendDeviceError(res, appIdProblem);
    const q = req.query;
    const [deviceId, gatewayId] = [one(q, 'deviceId'), one(q, 'gatewayId')];
    const [serviceId, property] = [one(q, 'serviceId'), one(q, 'property')];
    const pageNo = intIn(q, 'pageNo', 0, INT_MAX, 0);
    const pageSize = intIn(q, 'pageSize', 1, INT_MAX, DEFAULT_PAGE_SIZE);
    const window = timeWindow(q);
    const texts = [deviceId, gatewayId, serviceId, property];
    // Both IDs are mandatory (§5.7); the error table was not retrieved, so the generic 100022 answers.
    if (deviceId === undefined || gatewayId === undefined || texts.some((t) => t === null || (t !== undefined && t.length > MAX_TEXT))) {
      return sendDataError(res, '100022');
    }
    if (pageNo === null || pageSize === null || window === null) return sendDataError(res, '100022');
    const device = state.appData(appId).devices.get(deviceId as string);
    if (device === undefined) return sendDataError(res, '100418');
    // Another gatewayId than the device's: the device has no data through that gateway.
    const readings: Reading[] =
      gatewayOf(device) !== gatewayId
        ? []
        : device.readings.filter(
            (x) =>
              (serviceId === undefined || x.serviceId === serviceId) &&
              (property === undefined || Object.hasOwn(x.data, property as string)) &&
              (window.from === undefined || x.at >= window.from) &&
              (window.to === undefined || x.at <= window.to),
          );
    // Newest first, as the platform lists history.
    const newestFirst = [...readings].sort((a, b) => b.at - a.at);
    const pageItems = newestFirst.slice(pageNo * pageSize, pageNo * pageSize + pageSize);
    res.status(200).json({
      totalCount: newestFirst.length,
      pageNo,
      pageSize,
      deviceDataHistoryDTOs: pageItems.map((x) => ({
        deviceId: device.deviceId,
        gatewayId: gatewayOf(device),
        appId,
        serviceId: x.serviceId,
        data: x.data,
        timestamp: x.eventTime,
      })),
    });
  });

  r.get(CAPABILITIES_PATH, auth, (req: Request, res: Response) => {
    const appId = appOf(res);
    const appIdProblem = checkAppIdQuery(state, appId, req);
    if (appIdProblem !== undefined) return sendDeviceError(res, appIdProblem);
    const [deviceId, gatewayId] = [one(req.query, 'deviceId'), one(req.query, 'gatewayId')];
    const texts = [deviceId, gatewayId];
    if (texts.some((t) => t === null || (t !== undefined && t.length > MAX_TEXT))) return sendDataError(res, '100022');
    if (deviceId === undefined && gatewayId === undefined) return sendDataError(res, '100022');
    // The capabilities error table documents no not-found code (§5.8): devices that match nothing give an
    // empty list.
    const matching = state
      .appData(appId)
      .devices.list()
      .filter((d) => (deviceId === undefined || d.deviceId === deviceId) && (gatewayId === undefined || gatewayOf(d) === gatewayId));
    res.status(200).json({ deviceCapabilities: matching.map(capabilitiesOf) });
  });

  return r;
}

export const dataSimulator = simulatorFamily({
  name: 'data',
  createAppData: () => ({}),
  router: dataRouter,
});
