// The simulator's control endpoints for devices: a test or the demo reports data or changes status as a device would (never answers a secret).
import express, { type Request, type Response, type Router } from 'express';
import type { SimulatorState } from '../../state.js';
import { parseCompactUtc, toCompactUtc } from '../../time.js';
import { findAnyDevice } from './lookup.js';
import type { DeviceStatus, Reading } from './registry.js';
import { deviceDataChanged } from './view.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (res: Response, message: string): void => void res.status(400).json({ error: message });
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.trim() !== '' && v.length <= max;

/** Statuses a device can bring itself into; INACTIVE is only "registered, never connected". */
const SETTABLE: readonly DeviceStatus[] = ['ONLINE', 'OFFLINE', 'ABNORMAL'];

export function deviceControlRouter(state: SimulatorState): Router {
  const r = express.Router();

  /** The device of the path in whichever app has it, or a 404 answered here. */
  const deviceOf = (req: Request, res: Response) => {
    const found = findAnyDevice(state, String(req.params.deviceId));
    if (found === undefined) res.status(404).json({ error: 'no such device' });
    return found;
  };

  // One reading of one service, as a device reports it (platform-api.md §6.5 deviceDataChanged).
  r.post('/:deviceId/data', (req, res) => {
    const b: unknown = req.body;
    if (!isObject(b)) return bad(res, 'the body must be a JSON object');
    const { serviceId, data, serviceType, eventTime } = b;
    if (!isText(serviceId, 64)) return bad(res, 'serviceId must be a non-empty string of at most 64 characters');
    if (!isObject(data)) return bad(res, 'data must be a JSON object');
    if (serviceType !== undefined && !isText(serviceType, 64)) return bad(res, 'serviceType must be a non-empty string of at most 64 characters');
    const at = eventTime === undefined ? Date.now() : parseCompactUtc(eventTime);
    if (at === null) return bad(res, "eventTime must be a compact UTC time (yyyyMMdd'T'HHmmss'Z')");
    const found = deviceOf(req, res);
    if (found === undefined) return;
    const { appId, device } = found;
    // A device that reports is connected: it comes ONLINE first, which also delivers its pending commands
    // (a cached command waits "until the device comes online or reports data", §4.1).
    if (device.status !== 'ONLINE') state.appData(appId).devices.setStatus(device.deviceId, 'ONLINE');
    const reading: Reading = {
      serviceId,
      serviceType: typeof serviceType === 'string' ? serviceType : serviceId,
      data,
      eventTime: toCompactUtc(at),
      at,
    };
    state.appData(appId).devices.report(device.deviceId, reading);
    state.notify(appId, deviceDataChanged(device, reading));
    res.status(204).end();
  });

  r.post('/:deviceId/status', (req, res) => {
    const status: unknown = isObject(req.body) ? req.body.status : undefined;
    if (typeof status !== 'string' || !SETTABLE.includes(status as DeviceStatus)) {
      return bad(res, `status must be one of ${SETTABLE.join(', ')}`);
    }
    const found = deviceOf(req, res);
    if (found === undefined) return;
    state.appData(found.appId).devices.setStatus(found.device.deviceId, status as DeviceStatus);
    res.status(204).end();
  });

  return r;
}
