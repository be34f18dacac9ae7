// The simulator's devices family (platform-api.md §5.1–§5.6, legacy paths of §9): register, activation status, modify, delete, query one, the list.
import { randomBytes } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import { requireToken } from '../../auth.js';
import { isJsonOrUntyped, parseJson, rawBody } from '../../body.js';
import { sendPlatformError } from '../../errors.js';
import type { SimulatorState } from '../../state.js';
import { simulatorFamily } from '../types.js';
import { sendDeviceError, type DeviceErrorCode } from './errors.js';
import { checkAppIdQuery, findDevice, INT_MAX, intIn, one, timeWindow } from './lookup.js';
import { DeviceRegistry, type DeviceStatus, type SimDevice } from './registry.js';
import { DEVICE_INFO_FIELDS, deviceAdded, deviceDeleted, deviceInfoChanged, deviceView, gatewayOf } from './view.js';

const REG = '/iocm/app/reg';
const DM = '/iocm/app/dm';

// The newest documented paths first, then the legacy ones public clients still call (§9, "Legacy paths").
const REGISTER_PATHS = [`${REG}/v1.1.0/deviceCredentials`, `${REG}/v1.1.0/devices`, `${REG}/v1.2.0/devices`];
const ACTIVATION_PATHS = [`${REG}/v1.1.0/deviceCredentials/:deviceId`, `${REG}/v1.1.0/devices/:deviceId`];
const DM_VERSIONS = ['v1.4.0', 'v1.3.0', 'v1.2.0', 'v1.1.0'];
const LIST_PATHS = DM_VERSIONS.map((v) => `${DM}/${v}/devices`);
const ONE_PATHS = DM_VERSIONS.map((v) => `${DM}/${v}/devices/:deviceId`);

/** Paths of other families below `/iocm/app/dm/v1.x.0/devices/`: a device route must not take them (groups' `ids`). */
const NOT_A_DEVICE_ID = new Set(['ids', 'addDevGroupTagToDevices', 'deleteDevGroupTagFromDevices']);

const MAX_TEXT = 256;
const HEX_PSK = /^[0-9a-fA-F]{8,32}$/;
const STATUSES: readonly DeviceStatus[] = ['ONLINE', 'OFFLINE', 'INACTIVE', 'ABNORMAL'];

const appOf = (res: Response): string => res.locals.appId as string;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown, max = MAX_TEXT): v is string => typeof v === 'string' && v !== '' && v.length <= max;
const optionalText = (v: unknown, max = MAX_TEXT): boolean => v === undefined || isText(v, max);

/** The JSON object body of a call, or undefined when there is none or it is not an object. */
function jsonObject(req: Request, res: Response): Record<string, unknown> | undefined {
  const parsed = isJsonOrUntyped(req) ? parseJson(rawBody(res)) : { ok: false as const };
  return parsed.ok && isObject(parsed.value) ? parsed.value : undefined;
}

/** Lets another family's path below `/devices/` through untouched, before any token check of ours. */
const skipOtherFamilies: RequestHandler = (req: Request, _res: Response, next: NextFunction) => {
  next(NOT_A_DEVICE_ID.has(String(req.params.deviceId)) ? 'route' : undefined);
};

/** The `appId` query rule, answered before the handler (§1.3). */
function appIdRule(state: SimulatorState): RequestHandler {
  return (req, res, next) => {
    const code = checkAppIdQuery(state, appOf(res), req);
    if (code !== undefined) return sendDeviceError(res, code);
    next();
  };
}

/** Register's field rules (§5.1, §10): the first broken one answers. */
function registerProblem(b: Record<string, unknown>): DeviceErrorCode | '50400' | undefined {
  if (!isText(b.nodeId)) return '50400';
  if (!optionalText(b.verifyCode)) return '100003';
  const t = b.timeout;
  if (t !== undefined && !(Number.isSafeInteger(t) && (t as number) >= 0 && (t as number) <= INT_MAX)) return '50400';
  if (b.psk !== undefined && !(typeof b.psk === 'string' && HEX_PSK.test(b.psk))) return '50400';
  if (!optionalText(b.endUserId) || !optionalText(b.productId) || !optionalText(b.imsi, 64)) return '50400';
  if (b.isSecure !== undefined && typeof b.isSecure !== 'boolean') return '50400';
  if (b.deviceInfo !== undefined) {
    if (!isObject(b.deviceInfo)) return '50400';
    if (Object.values(b.deviceInfo).some((v) => v !== null && !optionalText(v))) return '50400';
  }
  return undefined;
}

const MODIFY_TEXT = [
  'name', 'endUser', 'manufacturerId', 'manufacturerName', 'deviceType', 'model', 'location', 'protocolType',
  'region', 'organization', 'timezone', 'ip',
] as const;

/** Modify's rules (§5.3): its error table was not retrieved, so the generic 100022 answers a broken field. */
function modifyProblem(b: Record<string, unknown>): boolean {
  if (MODIFY_TEXT.some((f) => !optionalText(b[f]))) return true;
  if (!optionalText(b.imsi, 64)) return true;
  if (b.mute !== undefined && b.mute !== 'TRUE' && b.mute !== 'FALSE') return true;
  if (b.isSecure !== undefined && typeof b.isSecure !== 'boolean') return true;
  if (b.psk !== undefined && !(typeof b.psk === 'string' && HEX_PSK.test(b.psk))) return true;
  for (const list of ['customFields', 'tags'] as const) if (b[list] !== undefined && !Array.isArray(b[list])) return true;
  return b.deviceConfig !== undefined && !isObject(b.deviceConfig);
}

function devicesRouter(state: SimulatorState): Router {
  const r = express.Router();
  // Scoped to these paths: this router sees every request, and other families' unknown paths must not get a 403.
  const auth = requireToken(state);
  const appIdCheck = appIdRule(state);
  const devicesOf = (res: Response): DeviceRegistry => state.appData(appOf(res)).devices;

  /** The device of the path, or the platform's not-found answer (100403 / 100418). */
  const deviceFor = (res: Response, deviceId: string): SimDevice | undefined => {
    const found = findDevice(state, appOf(res), deviceId);
    if (!found.ok) return void sendDeviceError(res, found.code);
    return found.value;
  };

  r.post(REGISTER_PATHS, auth, appIdCheck, (req, res) => {
    const b = jsonObject(req, res);
    if (b === undefined) return sendDeviceError(res, '100007');
    const problem = registerProblem(b);
    if (problem === '50400') return sendPlatformError(res, '50400');
    if (problem !== undefined) return sendDeviceError(res, problem);
    const devices = devicesOf(res);
    const nodeId = b.nodeId as string;
    // A verification code is globally unique and defaults to the nodeId (§5.1).
    const verifyCode = (b.verifyCode as string | undefined) ?? nodeId;
    if (devices.byNodeId(nodeId) !== undefined) return sendDeviceError(res, '100426');
    if (devices.byVerifyCode(verifyCode) !== undefined) return sendDeviceError(res, '100416');
    const info: Record<string, unknown> = { ...(isObject(b.deviceInfo) ? b.deviceInfo : {}) };
    for (const f of ['endUserId', 'imsi', 'productId', 'isSecure'] as const) if (b[f] !== undefined) info[f] = b[f];
    const device = devices.register({
      nodeId,
      verifyCode,
      // Generated when absent, as the platform does: 32 hex characters.
      psk: (b.psk as string | undefined) ?? randomBytes(16).toString('hex'),
      // The REST doc's default, 0 = never expires; the developer guide says 180 s [?]. This simulator never
      // deletes an unactivated device, so 0 is also what it does.
      timeout: (b.timeout as number | undefined) ?? 0,
      info,
    });
    if (device === undefined) return sendDeviceError(res, '100426');
    state.notify(appOf(res), deviceAdded(device));
    // 200 as GO and NODE expect on the legacy path (§5.1; the deviceCredentials page's status line is [?]).
    res.status(200).json({ deviceId: device.deviceId, verifyCode: device.verifyCode, timeout: device.timeout, psk: device.psk });
  });

  r.get(ACTIVATION_PATHS, auth, appIdCheck, (req, res) => {
    const device = deviceFor(res, String(req.params.deviceId));
    if (device === undefined) return;
    res.status(200).json({ deviceId: device.deviceId, activated: device.status !== 'INACTIVE', name: device.info.name ?? null });
  });

  r.get(LIST_PATHS, auth, appIdCheck, (req, res) => {
    const q = req.query;
    const gatewayId = one(q, 'gatewayId');
    if (gatewayId === undefined && one(q, 'pageNo') === undefined) return sendDeviceError(res, '100218');
    const pageNo = intIn(q, 'pageNo', 0, INT_MAX, 0);
    const pageSize = intIn(q, 'pageSize', 1, 250, 25);
    const window = timeWindow(q);
    const [nodeType, status, sort, select] = [one(q, 'nodeType'), one(q, 'status'), one(q, 'sort'), one(q, 'select')];
    const filters = ['gatewayId', 'deviceType', 'location', 'name'].map((f) => [f, one(q, f)] as const);
    if (select !== undefined && select !== 'imsi') return sendDeviceError(res, '100405');
    const bad =
      pageNo === null || pageSize === null || window === null ||
      filters.some(([, v]) => v === null || (v !== undefined && v.length > MAX_TEXT)) ||
      (nodeType !== undefined && !['ENDPOINT', 'GATEWAY', 'UNKNOW'].includes(nodeType ?? '')) ||
      (status !== undefined && !STATUSES.includes(status as DeviceStatus)) ||
      (sort !== undefined && sort !== 'ASC' && sort !== 'DESC');
    if (bad) return sendDeviceError(res, '100216');
    const matching = devicesOf(res)
      .list()
      .filter(
        (d) =>
          (gatewayId === undefined || gatewayOf(d) === gatewayId) &&
          (nodeType === undefined || nodeType === 'ENDPOINT') &&
          (status === undefined || d.status === status) &&
          filters.every(([f, v]) => v === undefined || f === 'gatewayId' || d.info[f] === v) &&
          (window.from === undefined || d.createdAt >= window.from) &&
          (window.to === undefined || d.createdAt <= window.to),
      );
    // Sorted by registration time, newest first unless ASC (registration order breaks ties).
    const ordered = sort === 'ASC' ? matching : matching.reverse();
    const devices = ordered.slice(pageNo * pageSize, pageNo * pageSize + pageSize).map((d) => deviceView(d, select === 'imsi'));
    res.status(200).json({ totalCount: matching.length, pageNo, pageSize, devices });
  });

  r.get(ONE_PATHS, skipOtherFamilies, auth, appIdCheck, (req, res) => {
    const select = one(req.query, 'select');
    if (select !== undefined && select !== 'imsi') return sendDeviceError(res, '100405');
    const device = deviceFor(res, String(req.params.deviceId));
    if (device === undefined) return;
    res.status(200).json(deviceView(device, select === 'imsi'));
  });

  r.put(ONE_PATHS, skipOtherFamilies, auth, appIdCheck, (req, res) => {
    const b = jsonObject(req, res);
    if (b === undefined || modifyProblem(b)) return sendPlatformError(res, '100022');
    const device = deviceFor(res, String(req.params.deviceId));
    if (device === undefined) return;
    const info: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(b)) {
      // The psk is the device's secret, kept apart from what queries show; unknown fields are ignored.
      if (k === 'psk' || !(MODIFY_FIELDS.has(k) || (DEVICE_INFO_FIELDS as readonly string[]).includes(k))) continue;
      info[k] = v;
    }
    const changed = devicesOf(res).update(device.deviceId, { info, ...(typeof b.psk === 'string' && { psk: b.psk }) });
    if (changed !== undefined) state.notify(appOf(res), deviceInfoChanged(changed));
    // 204 No Content, as GO and NODE check (§5.3).
    res.status(204).end();
  });

  r.delete(ONE_PATHS, skipOtherFamilies, auth, appIdCheck, (req, res) => {
    const cascade = one(req.query, 'cascade');
    if (cascade !== undefined && cascade !== 'true' && cascade !== 'false') return sendPlatformError(res, '100022');
    const device = deviceFor(res, String(req.params.deviceId));
    if (device === undefined) return;
    // Directly connected devices have no children here, so `cascade` changes nothing.
    devicesOf(res).delete(device.deviceId);
    state.notify(appOf(res), deviceDeleted(device));
    res.status(204).end();
  });

  return r;
}

const MODIFY_FIELDS = new Set<string>([...MODIFY_TEXT, 'imsi', 'mute', 'isSecure', 'customFields', 'deviceConfig', 'tags']);

export const deviceSimulator = simulatorFamily({
  name: 'devices',
  createAppData: () => ({ devices: new DeviceRegistry() }),
  router: devicesRouter,
});
