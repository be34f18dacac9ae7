// The simulator's subscriptions (platform-api.md §6): both subscribe APIs, query and delete, and the pushes to subscribed callbacks and to commands' own callbackUrl.
import express, { type Request, type Response, type Router } from 'express';
import { randomUUID } from 'node:crypto';
import { requireToken } from '../../auth.js';
import { isJsonOrUntyped, parseJson, rawBody } from '../../body.js';
import { sendErrorBody } from '../../errors.js';
import type { AppData, SimulatorState } from '../../state.js';

/** Service-data types (platform-api.md §6.3), subscribed through /iocm/app/sub/…. */
const SERVICE_TYPES: ReadonlySet<string> = new Set([
  'deviceAdded', 'bindDevice', 'deviceInfoChanged', 'deviceDataChanged', 'deviceDatasChanged', 'deviceCapabilitiesChanged',
  'deviceCapabilitiesAdded', 'deviceCapabilitiesDeleted', 'deviceDeleted', 'messageConfirm', 'commandRsp', 'ruleEvent',
  'deviceDesiredPropertiesModifyStatusChanged', 'serviceInfoChanged', 'deviceEvent', 'deviceModelAdded', 'deviceModelDeleted',
]);
/** Management types (§6.2), subscribed through /iodm/app/sub/v1.1.0/subscribe only. */
const MANAGEMENT_TYPES: ReadonlySet<string> = new Set([
  'swUpgradeStateChangeNotify', 'swUpgradeResultNotify', 'fwUpgradeStateChangeNotify', 'fwUpgradeResultNotify',
]);

export interface Subscription {
  subscriptionId: string;
  notifyType: string;
  callbackUrl: string;
}

/** A push's deadline: the platform wants a prompt 200 and does not wait for slow applications. */
export const PUSH_TIMEOUT_MS = 2_000;
/** Pushes in flight at most; past it a push is dropped (counted), never queued: a dead callback must not pile work up. */
const MAX_IN_FLIGHT = 256;

/** The callback URL rule of §6.1: http(s), a host, an explicit port, at most 1024 characters. */
export function validCallbackUrl(url: unknown): url is string {
  if (typeof url !== 'string' || url.length > 1024) return false;
  return /^https?:\/\/(\[[^\]]+\]|[^/:?#\s]+):\d{1,5}(\/\S*)?$/.test(url);
}

/**
 * Subscriptions per app live beside the app's data object: a control reset makes a new one, and with it
 * forgets the subscriptions (a WeakMap, so the part needs no hook in the shared state).
 */
const tables = new WeakMap<AppData, Map<string, Subscription>>();
function subsOf(state: SimulatorState, appId: string): Map<string, Subscription> {
  const data = state.appData(appId);
  let t = tables.get(data);
  if (!t) tables.set(data, (t = new Map()));
  return t;
}

const appOf = (res: Response): string => res.locals.appId as string;

export interface PushStats {
  sent: number;
  failed: number;
  dropped: number;
}

export function subscriptionsRouter(state: SimulatorState, stats: PushStats = { sent: 0, failed: 0, dropped: 0 }): Router {
  let inFlight = 0;
  const push = (url: string, body: Record<string, unknown>): void => {
    if (inFlight >= MAX_IN_FLIGHT) {
      stats.dropped++;
      return;
    }
    inFlight++;
    // One attempt, short deadline, no retry: the platform's re-push policy is unknown (§6.5 [?]); the gateway must not rely on one.
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
      redirect: 'manual',
    })
      .then(async (res) => {
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) stats.sent++;
        else stats.failed++;
      })
      .catch(() => void stats.failed++)
      .finally(() => void inFlight--);
  };

  state.onNotify((appId, body) => {
    if (!state.isKnownApp(appId)) return;
    const type = body.notifyType;
    if (typeof type !== 'string') {
      // A command's status push names no type and goes to the command's own callbackUrl (§6.5), not to subscriptions.
      if (typeof body.commandId !== 'string') return;
      const url = state.appData(appId).commands.callbackUrlOf(body.commandId);
      if (validCallbackUrl(url)) push(url, body);
      return;
    }
    for (const s of subsOf(state, appId).values()) if (s.notifyType === type) push(s.callbackUrl, body);
  });

  const r = express.Router();
  const sub = express.Router();
  sub.use(requireToken(state));

  /** One subscription per app and notifyType: a new one replaces the old (and its callback), as the platform does. */
  const subscribe = (appId: string, notifyType: string, callbackUrl: string): Subscription => {
    const t = subsOf(state, appId);
    for (const [id, s] of t) if (s.notifyType === notifyType) t.delete(id);
    const s = { subscriptionId: randomUUID(), notifyType, callbackUrl };
    t.set(s.subscriptionId, s);
    return s;
  };

  const readBody = (req: Request, res: Response): Record<string, unknown> | undefined => {
    const parsed = isJsonOrUntyped(req) ? parseJson(rawBody(res)) : { ok: false as const };
    if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) return undefined;
    return parsed.value as Record<string, unknown>;
  };

  const create = (types: ReadonlySet<string>, status: 200 | 201) => (req: Request, res: Response) => {
    const body = readBody(req, res);
    if (!body) return sendErrorBody(res, 400, '100228', 'The application input is invalid.');
    // The REST docs spell it callbackUrl, the SDKs callbackurl (§6.1, §6.2): both are accepted.
    const url = body.callbackUrl ?? body.callbackurl;
    if (typeof body.notifyType !== 'string' || !types.has(body.notifyType)) {
      return sendErrorBody(res, 400, '100228', 'The application input is invalid.');
    }
    if (!validCallbackUrl(url)) return sendErrorBody(res, 400, '100222', 'Internal server error.');
    const s = subscribe(appOf(res), body.notifyType, url);
    if (status === 200) return void res.status(200).end();
    res.status(201).json(s);
  };

  sub.post('/iocm/app/sub/v1.2.0/subscriptions', create(SERVICE_TYPES, 201));
  sub.post('/iocm/app/sub/v1.1.0/subscribe', create(SERVICE_TYPES, 201));
  sub.post('/iodm/app/sub/v1.1.0/subscribe', create(MANAGEMENT_TYPES, 200));

  sub.get('/iocm/app/sub/v1.2.0/subscriptions', (req, res) => {
    const q = req.query as Record<string, unknown>;
    const pageNo = q.pageNo === undefined ? 0 : Number(q.pageNo);
    const pageSize = q.pageSize === undefined ? 10 : Number(q.pageSize);
    if (!Number.isInteger(pageNo) || pageNo < 0 || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
      return sendErrorBody(res, 400, '100022', 'The input is invalid.');
    }
    const type = typeof q.notifyType === 'string' && q.notifyType !== '' ? q.notifyType : undefined;
    const all = [...subsOf(state, appOf(res)).values()].filter((s) => type === undefined || s.notifyType === type);
    res.json({ totalCount: all.length, pageNo, pageSize, subscriptions: all.slice(pageNo * pageSize, (pageNo + 1) * pageSize) });
  });

  sub.get('/iocm/app/sub/v1.2.0/subscriptions/:subscriptionId', (req, res) => {
    const s = subsOf(state, appOf(res)).get(String(req.params.subscriptionId));
    if (!s) return sendErrorBody(res, 404, '100022', 'The input is invalid.');
    res.json(s);
  });

  sub.delete('/iocm/app/sub/v1.2.0/subscriptions/:subscriptionId', (req, res) => {
    subsOf(state, appOf(res)).delete(String(req.params.subscriptionId));
    res.status(204).end();
  });

  sub.delete('/iocm/app/sub/v1.2.0/subscriptions', (req, res) => {
    const q = req.query as Record<string, unknown>;
    const t = subsOf(state, appOf(res));
    for (const [id, s] of t) {
      if (typeof q.notifyType === 'string' && q.notifyType !== '' && s.notifyType !== q.notifyType) continue;
      if (typeof q.callbackUrl === 'string' && q.callbackUrl !== '' && s.callbackUrl !== q.callbackUrl) continue;
      t.delete(id);
    }
    res.status(204).end();
  });

  // Only the subscription paths reach the token check, so that other paths still get the simulator's own 404.
  r.use((req, res, next) => (/^\/(iocm|iodm)\/app\/sub\//.test(req.path) ? sub(req, res, next) : next()));
  return r;
}
