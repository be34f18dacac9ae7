// The groups family's eight route descriptions (contract §9, platform-api.md §7.2): router, forwarding and OpenAPI derive from them.
import Joi from 'joi';
import { tagParam as param } from '../../cache/policies.js';
import type { RouteDescription } from '../types.js';
import { DEVICE_NOT_FOUND, GROUP_FULL, GROUP_NAME_TAKEN, GROUP_NOT_FOUND, INPUT_INVALID } from './codes.js';
import { createGroupBody, groupListQuery, memberBody, memberListQuery, modifyGroupBody } from './schemas.js';

const DEVGROUP = '/iocm/app/devgroup/v1.3.0/devGroups';
const DM = '/iocm/app/dm';

/*
 * The platform's `appId` (create, body) and `accessAppId` (every other group API, query) name an
 * *authorizing* app whose groups the call acts on (platform-api.md §1.3). Without them the platform acts
 * for the app of the token, which is the app in the gateway's path: so the gateway omits them (no
 * `platform.appId`), and a caller's own is refused with 400 (contract §9).
 */

/** What a group looks like in the platform's answers (§7.2), for /openapi.json. */
const group = Joi.object({
  name: Joi.string(),
  description: Joi.string().allow(''),
  id: Joi.string(),
  appId: Joi.string(),
  maxDevNum: Joi.number().integer(),
  curDevNum: Joi.number().integer(),
  creator: Joi.string(),
  deviceIds: Joi.array().items(Joi.string()),
}).unknown(true);

export const groupRoutes: readonly RouteDescription[] = Object.freeze([
  {
    id: 'createGroup',
    invalidates: () => ['groups:list', 'group-members'],
    summary: 'Create a device group',
    method: 'POST',
    path: '/groups',
    platform: { method: 'POST', path: DEVGROUP },
    body: createGroupBody,
    successStatus: 201,
    response: group,
    idempotencyKey: true,
    platformErrorCodes: [INPUT_INVALID, GROUP_NAME_TAKEN, GROUP_FULL, DEVICE_NOT_FOUND],
  },
  {
    id: 'listGroups',
    // 30 s: groups change only through the gateway (dropped at once), or by another system sharing the app.
    cache: { ttlSec: 30, tags: () => ['groups:list'] },
    summary: 'Query the device group list',
    method: 'GET',
    path: '/groups',
    platform: { method: 'GET', path: DEVGROUP },
    query: groupListQuery,
    successStatus: 200,
    response: Joi.object({
      totalCount: Joi.number().integer(),
      pageNo: Joi.number().integer(),
      pageSize: Joi.number().integer(),
      list: Joi.array().items(group),
    }).unknown(true),
    platformErrorCodes: [INPUT_INVALID],
  },
  {
    id: 'getGroup',
    cache: { ttlSec: 30, tags: (p) => [`group:${param(p, 'devGroupId')}`] },
    summary: 'Query a device group',
    method: 'GET',
    path: '/groups/{devGroupId}',
    platform: { method: 'GET', path: `${DEVGROUP}/{devGroupId}` },
    successStatus: 200,
    response: group,
    platformErrorCodes: [GROUP_NOT_FOUND],
  },
  {
    id: 'modifyGroup',
    invalidates: (p) => [`group:${param(p, 'devGroupId')}`, 'groups:list'],
    summary: 'Modify a device group',
    method: 'PUT',
    path: '/groups/{devGroupId}',
    platform: { method: 'PUT', path: `${DEVGROUP}/{devGroupId}` },
    body: modifyGroupBody,
    successStatus: 200,
    response: group,
    platformErrorCodes: [INPUT_INVALID, GROUP_NOT_FOUND, GROUP_NAME_TAKEN, GROUP_FULL],
  },
  {
    id: 'deleteGroup',
    invalidates: (p) => [`group:${param(p, 'devGroupId')}`, 'groups:list', `group-members:${param(p, 'devGroupId')}`],
    summary: 'Delete a device group',
    method: 'DELETE',
    path: '/groups/{devGroupId}',
    platform: { method: 'DELETE', path: `${DEVGROUP}/{devGroupId}` },
    // The platform answers with an empty body (§7.2): 204 (contract §9).
    successStatus: 204,
    platformErrorCodes: [GROUP_NOT_FOUND],
  },
  {
    id: 'listGroupMembers',
    // 30 s, and dropped when a device is deleted (tag group-members) or members change.
    cache: { ttlSec: 30, tags: (p) => [`group-members:${param(p, 'devGroupId')}`, 'group-members'] },
    summary: "Query a device group's members",
    method: 'GET',
    path: '/groups/{devGroupId}/members',
    platform: { method: 'GET', path: `${DM}/v1.2.0/devices/ids`, queryFromPath: ['devGroupId'] },
    query: memberListQuery,
    successStatus: 200,
    response: Joi.object({
      totalCount: Joi.number().integer(),
      pageNo: Joi.number().integer(),
      pageSize: Joi.number().integer(),
      deviceIds: Joi.array().items(Joi.string()),
    }).unknown(true),
    platformErrorCodes: [INPUT_INVALID, GROUP_NOT_FOUND],
  },
  {
    // Not a creating POST (contract §9 lists those): the platform echoes {devGroupId, deviceIds}, so 200.
    id: 'addGroupMembers',
    invalidates: (p) => [`group-members:${param(p, 'devGroupId')}`, `group:${param(p, 'devGroupId')}`, 'groups:list'],
    summary: 'Add devices to a device group',
    method: 'POST',
    path: '/groups/{devGroupId}/members',
    platform: { method: 'POST', path: `${DM}/v1.1.0/devices/addDevGroupTagToDevices`, bodyFromPath: ['devGroupId'] },
    body: memberBody,
    successStatus: 200,
    response: Joi.object({ devGroupId: Joi.string(), deviceIds: Joi.array().items(Joi.string()) }).unknown(true),
    platformErrorCodes: [INPUT_INVALID, GROUP_NOT_FOUND, DEVICE_NOT_FOUND, GROUP_FULL],
  },
  {
    // A POST rather than DELETE /members: the platform takes the list in a body, which a DELETE should not carry.
    id: 'removeGroupMembers',
    invalidates: (p) => [`group-members:${param(p, 'devGroupId')}`, `group:${param(p, 'devGroupId')}`, 'groups:list'],
    summary: 'Remove devices from a device group',
    method: 'POST',
    path: '/groups/{devGroupId}/members/remove',
    platform: { method: 'POST', path: `${DM}/v1.1.0/devices/deleteDevGroupTagFromDevices`, bodyFromPath: ['devGroupId'] },
    body: memberBody,
    // The platform answers with an empty body (§7.2): 204 (contract §9).
    successStatus: 204,
    platformErrorCodes: [INPUT_INVALID, GROUP_NOT_FOUND, DEVICE_NOT_FOUND],
  },
] satisfies RouteDescription[]);
