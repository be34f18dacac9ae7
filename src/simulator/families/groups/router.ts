// The simulator's groups family (platform-api.md §7.2): device groups per app, with members taken from the app's device registry.
import express, { type Request, type Response, type Router } from 'express';
import { requireToken } from '../../auth.js';
import { isJsonOrUntyped, parseJson, rawBody } from '../../body.js';
import { sendPlatformError } from '../../errors.js';
import type { SimulatorState } from '../../state.js';
import { simulatorFamily } from '../types.js';
import { GroupStore, type SimGroup } from './store.js';

export const DEVGROUP_PATH = '/iocm/app/devgroup/v1.3.0/devGroups';
export const MEMBERS_PATH = '/iocm/app/dm/v1.2.0/devices/ids';
export const ADD_MEMBERS_PATH = '/iocm/app/dm/v1.1.0/devices/addDevGroupTagToDevices';
export const REMOVE_MEMBERS_PATH = '/iocm/app/dm/v1.1.0/devices/deleteDevGroupTagFromDevices';

/** The platform's generic input error (§1.7): the group pages document no code of their own for bad input. */
const INVALID = '100022';
const INT_MAX = 2_147_483_647;
const NAME = /^[A-Za-z0-9]{1,50}$/;
const MAX_MEMBERS_PER_CALL = 1000;

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length >= 1 && v.length <= max;
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= INT_MAX;
const isIdList = (v: unknown): v is string[] => Array.isArray(v) && v.every((id) => isText(id, 256));
const appOf = (res: Response): string => res.locals.appId as string;

/** The JSON object body, or undefined (the caller answers 100022). */
function jsonObject(req: Request, res: Response): Obj | undefined {
  const parsed = isJsonOrUntyped(req) ? parseJson(rawBody(res)) : { ok: false as const };
  return parsed.ok && isObject(parsed.value) ? parsed.value : undefined;
}

/**
 * The platform's `appId` (create body) or `accessAppId` (query) names an app that authorised this one; an
 * app may always name itself. Another app's name is answered 100217, since the simulator models no grants.
 */
function foreignApp(value: unknown, res: Response): boolean {
  return value !== undefined && value !== appOf(res);
}

/**
 * Paging of the group list and the member query: no pageNo = no paging, everything at once; with pageNo,
 * pageSize defaults to 1 (Huawei's "Querying the Device Group List"). Not an integer, pageNo < 0 or
 * pageSize < 1 → 100022. No maximum is documented ([?]).
 */
function paging(q: Obj): { pageNo: number; pageSize: number | undefined } | undefined {
  const int = (v: unknown): number | null | undefined => {
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) > INT_MAX) return null;
    return Number(v);
  };
  const pageNo = int(q.pageNo);
  const pageSize = int(q.pageSize);
  if (pageNo === null || pageSize === null || pageSize === 0) return undefined;
  if (pageNo === undefined) return { pageNo: 0, pageSize: undefined };
  return { pageNo, pageSize: pageSize ?? 1 };
}

function paged<T>(items: T[], p: { pageNo: number; pageSize: number | undefined }): { pageNo: number; pageSize: number; items: T[] } {
  // Unpaged, the envelope still says which page it is: the first, holding everything.
  if (p.pageSize === undefined) return { pageNo: 0, pageSize: items.length, items };
  return { pageNo: p.pageNo, pageSize: p.pageSize, items: items.slice(p.pageNo * p.pageSize, (p.pageNo + 1) * p.pageSize) };
}

/** A text filter or parameter of the query, once: a repeated one (an array) is not text. */
const queryText = (q: Obj, name: string, max: number): string | null | undefined => {
  const v = q[name];
  if (v === undefined) return undefined;
  return isText(v, max) ? v : null;
};

function groupsRouter(state: SimulatorState): Router {
  const r = express.Router();
  // Only this family's paths: the router is mounted at '/', and another family's paths must not meet this check.
  r.use([DEVGROUP_PATH, MEMBERS_PATH, ADD_MEMBERS_PATH, REMOVE_MEMBERS_PATH], requireToken(state));

  const dataOf = (res: Response) => state.appData(appOf(res));
  const view = (g: SimGroup, res: Response) => {
    const { groups, devices } = dataOf(res);
    return {
      name: g.name,
      description: g.description,
      id: g.id,
      appId: appOf(res),
      maxDevNum: g.maxDevNum,
      curDevNum: groups.members(g, devices).length,
    };
  };
  /** The group of the path or query, or undefined after answering 100603. */
  const groupOr404 = (id: unknown, res: Response): SimGroup | undefined => {
    const group = typeof id === 'string' ? dataOf(res).groups.get(id) : undefined;
    if (group === undefined) sendPlatformError(res, '100603');
    return group;
  };
  /** Every ID names a device of the app, or 100418 has been answered. */
  const allKnown = (ids: string[], res: Response): boolean => {
    const { devices } = dataOf(res);
    if (ids.every((id) => devices.has(id))) return true;
    sendPlatformError(res, '100418');
    return false;
  };
  /** Whether the group may hold `count` devices (0 = no limit); 100601 has been answered if not. */
  const fits = (maxDevNum: number, count: number, res: Response): boolean => {
    if (maxDevNum === 0 || count <= maxDevNum) return true;
    sendPlatformError(res, '100601');
    return false;
  };

  r.post(DEVGROUP_PATH, (req, res) => {
    const b = jsonObject(req, res);
    if (b === undefined) return sendPlatformError(res, INVALID);
    const { name, description, appId, maxDevNum, deviceIds, id, ...unknown } = b;
    const valid =
      Object.keys(unknown).length === 0 &&
      typeof name === 'string' &&
      NAME.test(name) &&
      (description === undefined || (typeof description === 'string' && description.length <= 1024)) &&
      (appId === undefined || isText(appId, 50)) &&
      (maxDevNum === undefined || isCount(maxDevNum)) &&
      (deviceIds === undefined || isIdList(deviceIds)) &&
      (id === undefined || isText(id, 50));
    if (!valid) return sendPlatformError(res, INVALID);
    if (foreignApp(appId, res)) return sendPlatformError(res, '100217');
    const { groups } = dataOf(res);
    if (groups.byName(name) !== undefined) return sendPlatformError(res, '100602');
    // A chosen ID that is taken is bad input rather than a name clash: the docs name no code for it ([?]).
    if (id !== undefined && groups.has(id)) return sendPlatformError(res, INVALID);
    const members = [...new Set(deviceIds ?? [])];
    if (!allKnown(members, res) || !fits(maxDevNum ?? 0, members.length, res)) return;
    const group = groups.add({
      name,
      ...(id !== undefined && { id }),
      ...(description !== undefined && { description }),
      ...(maxDevNum !== undefined && { maxDevNum }),
    });
    for (const d of members) group.members.add(d);
    // "Status Code: 200 OK" on Huawei's "Creating a Device Group" page; the gateway answers 201 (contract §9).
    res.status(200).json({ ...view(group, res), deviceIds: members });
  });

  r.get(DEVGROUP_PATH, (req, res) => {
    const q = req.query as Obj;
    const p = paging(q);
    const name = queryText(q, 'name', 50);
    if (p === undefined || name === null) return sendPlatformError(res, INVALID);
    if (foreignApp(q.accessAppId, res)) return sendPlatformError(res, '100217');
    const all = dataOf(res).groups.list().filter((g) => name === undefined || g.name === name);
    const page = paged(all, p);
    res.status(200).json({
      totalCount: all.length,
      pageNo: page.pageNo,
      pageSize: page.pageSize,
      list: page.items.map((g) => ({ ...view(g, res), creator: appOf(res) })),
    });
  });

  r.get(`${DEVGROUP_PATH}/:devGroupId`, (req, res) => {
    if (foreignApp(req.query.accessAppId, res)) return sendPlatformError(res, '100217');
    const group = groupOr404(req.params.devGroupId, res);
    if (group !== undefined) res.status(200).json({ ...view(group, res), creator: appOf(res) });
  });

  r.put(`${DEVGROUP_PATH}/:devGroupId`, (req, res) => {
    if (foreignApp(req.query.accessAppId, res)) return sendPlatformError(res, '100217');
    const b = jsonObject(req, res);
    if (b === undefined) return sendPlatformError(res, INVALID);
    const { name, description, maxDevNum, ...unknown } = b;
    const valid =
      Object.keys(unknown).length === 0 &&
      typeof name === 'string' &&
      NAME.test(name) &&
      (description === undefined || (typeof description === 'string' && description.length <= 1024)) &&
      (maxDevNum === undefined || isCount(maxDevNum));
    if (!valid) return sendPlatformError(res, INVALID);
    const group = groupOr404(req.params.devGroupId, res);
    if (group === undefined) return;
    const { groups, devices } = dataOf(res);
    const holder = groups.byName(name);
    if (holder !== undefined && holder !== group) return sendPlatformError(res, '100602');
    // A limit below the current members would leave the group over its own limit ([?]: the docs are silent).
    if (maxDevNum !== undefined && !fits(maxDevNum, groups.members(group, devices).length, res)) return;
    group.name = name;
    if (description !== undefined) group.description = description;
    if (maxDevNum !== undefined) group.maxDevNum = maxDevNum;
    res.status(200).json(view(group, res));
  });

  r.delete(`${DEVGROUP_PATH}/:devGroupId`, (req, res) => {
    if (foreignApp(req.query.accessAppId, res)) return sendPlatformError(res, '100217');
    const group = groupOr404(req.params.devGroupId, res);
    if (group === undefined) return;
    // The devices stay registered: deleting a group only forgets the grouping.
    dataOf(res).groups.delete(group.id);
    res.status(200).end();
  });

  r.get(MEMBERS_PATH, (req, res) => {
    const q = req.query as Obj;
    const p = paging(q);
    const devGroupId = queryText(q, 'devGroupId', 50);
    if (p === undefined || devGroupId === null || devGroupId === undefined) return sendPlatformError(res, INVALID);
    if (foreignApp(q.accessAppId, res)) return sendPlatformError(res, '100217');
    const group = groupOr404(devGroupId, res);
    if (group === undefined) return;
    const { groups, devices } = dataOf(res);
    const all = groups.members(group, devices);
    const page = paged(all, p);
    res.status(200).json({ totalCount: all.length, pageNo: page.pageNo, pageSize: page.pageSize, deviceIds: page.items });
  });

  /** Add and remove take the same body: {devGroupId (String 1-50), deviceIds (String[] ≤ 1000)}. */
  const memberChange = (req: Request, res: Response): { group: SimGroup; deviceIds: string[] } | undefined => {
    if (foreignApp(req.query.accessAppId, res)) {
      sendPlatformError(res, '100217');
      return undefined;
    }
    const b = jsonObject(req, res);
    const { devGroupId, deviceIds, ...unknown } = b ?? {};
    const valid =
      b !== undefined &&
      Object.keys(unknown).length === 0 &&
      isText(devGroupId, 50) &&
      isIdList(deviceIds) &&
      deviceIds.length <= MAX_MEMBERS_PER_CALL;
    if (!valid) {
      sendPlatformError(res, INVALID);
      return undefined;
    }
    const group = groupOr404(devGroupId, res);
    if (group === undefined || !allKnown(deviceIds, res)) return undefined;
    return { group, deviceIds };
  };

  r.post(ADD_MEMBERS_PATH, (req, res) => {
    const change = memberChange(req, res);
    if (change === undefined) return;
    const { group, deviceIds } = change;
    const { groups, devices } = dataOf(res);
    const after = new Set([...groups.members(group, devices), ...deviceIds]);
    // All or nothing: a list that would overfill the group adds none of its devices.
    if (!fits(group.maxDevNum, after.size, res)) return;
    for (const d of deviceIds) group.members.add(d);
    // A device may be in several groups (English docs; the Chinese page says one group only, [?]): the
    // simulator takes the permissive reading, so that no client is refused what the platform may allow.
    res.status(200).json({ devGroupId: group.id, deviceIds });
  });

  r.post(REMOVE_MEMBERS_PATH, (req, res) => {
    const change = memberChange(req, res);
    if (change === undefined) return;
    // Removing a device that is not a member changes nothing and is not an error.
    for (const d of change.deviceIds) change.group.members.delete(d);
    res.status(200).end();
  });

  return r;
}

/** The members of the app's group of this name (upgrade tasks name groups, platform-api.md §7.2), or undefined. */
export function groupMembersByName(state: SimulatorState, appId: string, name: string): string[] | undefined {
  const { groups, devices } = state.appData(appId);
  const group = groups.byName(name);
  return group === undefined ? undefined : groups.members(group, devices);
}

export const groupSimulator = simulatorFamily({
  name: 'groups',
  createAppData: () => ({ groups: new GroupStore() }),
  router: groupsRouter,
});
