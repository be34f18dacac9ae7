// The devices family's six route descriptions (contract §9, platform-api.md §5.1–§5.6): router, forwarding and OpenAPI derive from them.
import Joi from 'joi';
import { tagParam as param } from '../../cache/policies.js';
import type { RouteDescription } from '../types.js';
import {
  DEVICE_DATA_NOT_FOUND,
  DEVICE_NOT_FOUND,
  DM_BAD_PARAMETER,
  LIST_INVALID,
  LIST_NEEDS_GATEWAY_OR_PAGE,
  REG_BAD_MESSAGE,
  REG_BAD_VERIFY_CODE,
  REG_BOUND,
  REG_INVALID,
  REG_NODE_ID_TAKEN,
} from './codes.js';
import { deleteQuery, getQuery, listQuery, modifyBody, registerBody } from './schemas.js';

const REG = '/iocm/app/reg/v1.1.0';
const DM = '/iocm/app/dm/v1.4.0';

const UNKNOWN_DEVICE = [DEVICE_NOT_FOUND, DEVICE_DATA_NOT_FOUND];

/** Register's answer (RegDirectDeviceOutDTO, §5.1), for /openapi.json; the platform's body is passed on as is. */
const registered = Joi.object({
  deviceId: Joi.string().required(),
  verifyCode: Joi.string(),
  timeout: Joi.number().integer(),
  psk: Joi.string().description("The device's pre-shared key: a secret, shown to the caller that registers the device."),
}).unknown(true);

// appId: every one of these APIs takes an optional `appId` query parameter, documented as the app that
// authorised the caller, for acting on *another* app's devices (platform-api.md §1.3). The gateway acts for
// the app in the path with that app's own token, so it sends none: the platform then acts for the token's
// app, which is the path's app; sending the app's own ID as an "authorising app" could be refused (100217).
// Huawei's own demo (LITENA) never sends it either.
export const deviceRoutes: readonly RouteDescription[] = Object.freeze([
  {
    id: 'registerDevice',
    invalidates: () => ['devices:list'],
    summary: 'Register a directly connected device (verification-code mode)',
    method: 'POST',
    path: '/devices',
    platform: { method: 'POST', path: `${REG}/deviceCredentials` },
    body: registerBody,
    // The platform answers 200 [?] (§5.1); a creating POST answers 201 with the platform's body (contract
    // §9): {deviceId, verifyCode, timeout, psk}. The psk is the device's key, which the caller needs.
    successStatus: 201,
    response: registered,
    idempotencyKey: true,
    platformErrorCodes: [
      REG_INVALID, REG_BAD_VERIFY_CODE, REG_BAD_MESSAGE, REG_BOUND, REG_NODE_ID_TAKEN,
      '600002', '100412', '100441', '103028', '103026',
    ],
  },
  {
    id: 'getDeviceActivation',
    // 10 s: activation happens on the device's side, not through the gateway.
    cache: { ttlSec: 10, tags: (p) => [`device:${param(p, 'deviceId')}`] },
    summary: "Query a device's activation status",
    method: 'GET',
    path: '/devices/{deviceId}/activation',
    platform: { method: 'GET', path: `${REG}/deviceCredentials/{deviceId}` },
    successStatus: 200,
    // Error table not retrieved (§5.2); the device queries' not-found codes are assumed.
    platformErrorCodes: UNKNOWN_DEVICE,
  },
  {
    id: 'modifyDevice',
    invalidates: (p) => [`device:${param(p, 'deviceId')}`, 'devices:list'],
    summary: "Modify a device's information",
    method: 'PUT',
    path: '/devices/{deviceId}',
    platform: { method: 'PUT', path: `${DM}/devices/{deviceId}` },
    body: modifyBody,
    successStatus: 204,
    platformErrorCodes: UNKNOWN_DEVICE,
  },
  {
    id: 'deleteDevice',
    // A deleted device also leaves every group's member list and its commands.
    invalidates: (p) => [`device:${param(p, 'deviceId')}`, 'devices:list', 'group-members', 'commands:list'],
    summary: 'Delete a directly connected device',
    method: 'DELETE',
    path: '/devices/{deviceId}',
    platform: { method: 'DELETE', path: `${DM}/devices/{deviceId}` },
    query: deleteQuery,
    successStatus: 204,
    platformErrorCodes: UNKNOWN_DEVICE,
  },
  {
    id: 'getDevice',
    // 10 s: status and last-seen move with the device itself, without a write through the gateway.
    cache: { ttlSec: 10, tags: (p) => [`device:${param(p, 'deviceId')}`] },
    summary: 'Query one device',
    method: 'GET',
    path: '/devices/{deviceId}',
    platform: { method: 'GET', path: `${DM}/devices/{deviceId}` },
    query: getQuery,
    successStatus: 200,
    platformErrorCodes: [DM_BAD_PARAMETER, ...UNKNOWN_DEVICE],
  },
  {
    id: 'listDevices',
    // 10 s: dashboards list the same devices; statuses move on their own.
    cache: { ttlSec: 10, tags: () => ['devices:list'] },
    summary: 'Query the device list',
    method: 'GET',
    path: '/devices',
    platform: { method: 'GET', path: `${DM}/devices` },
    query: listQuery,
    successStatus: 200,
    platformErrorCodes: [LIST_INVALID, LIST_NEEDS_GATEWAY_OR_PAGE, DM_BAD_PARAMETER],
  },
] satisfies RouteDescription[]);
