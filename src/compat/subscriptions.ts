// The platform's subscription APIs on the compat port: the gateway owns the app's one platform subscription (contract §10), so these are never forwarded; they become the caller's webhooks when a backend is given.
import express, { type Request, type RequestHandler, type Response } from 'express';
import { GatewayError } from '../errors.js';
import type { Events } from '../events/index.js';
import type { HttpMethod } from '../routes/types.js';
import { GATEWAY_CODE_PREFIX, PLATFORM_ANSWERS, type PlatformErrorAnswer } from './errors.js';

/** A subscription as the gateway keeps it: one webhook of the calling client, for one notifyType. */
export interface CompatSubscription {
  id: string;
  url: string;
  notifyTypes: string[];
}

/**
 * Where subscriptions live: the events feature's webhooks (Events.createWebhook/listWebhooks/deleteWebhook,
 * owned by the calling client), in the raw format: their deliveries are the platform's push body unchanged (no
 * envelope, no signature: what the service used to receive from the platform).
 */
export interface SubscriptionBackend {
  create(appId: string, owner: string, input: { url: string; notifyTypes: string[] }): Promise<CompatSubscription>;
  list(appId: string, owner: string): Promise<CompatSubscription[]>;
  /** False when the client has no such subscription. */
  delete(appId: string, owner: string, id: string): Promise<boolean>;
}

/**
 * The backend over the events feature's webhooks, which the composition root passes when events are on. Only
 * the client's raw webhooks are its subscriptions here: its /v1 (envelope) webhooks are neither listed nor deleted
 * through the platform's APIs (a batch delete by an SDK must not take them away).
 */
export function webhookSubscriptions(events: Pick<Events, 'createWebhook' | 'listWebhooks' | 'deleteWebhook'>): SubscriptionBackend {
  const raw = async (appId: string, owner: string): Promise<CompatSubscription[]> =>
    (await events.listWebhooks(appId, owner)).filter((w) => w.format === 'raw').map(({ id, url, notifyTypes }) => ({ id, url, notifyTypes }));
  return {
    async create(appId, owner, input) {
      // Raw: no signing secret exists, the platform's subscriptions have none.
      const { id, url, notifyTypes } = await events.createWebhook(appId, owner, input, 'raw');
      return { id, url, notifyTypes };
    },
    list: raw,
    async delete(appId, owner, id) {
      if (!(await raw(appId, owner)).some((s) => s.id === id)) return false;
      try {
        await events.deleteWebhook(appId, owner, id);
        return true;
      } catch (err) {
        if (err instanceof GatewayError && err.code === 'NOT_FOUND') return false;
        throw err;
      }
    },
  };
}

/**
 * The subscription APIs the SDKs call (platform-api.md §6.1, §6.2, §6.4, and the legacy subscribe the older
 * clients use). Not route descriptions: no /v1 operation forwards them, the gateway answers them itself.
 */
export const SUBSCRIPTION_APIS = Object.freeze({
  subscribe: { method: 'POST', path: '/iocm/app/sub/v1.2.0/subscriptions' },
  subscribeLegacy: { method: 'POST', path: '/iocm/app/sub/v1.1.0/subscribe' },
  subscribeManagement: { method: 'POST', path: '/iodm/app/sub/v1.1.0/subscribe' },
  list: { method: 'GET', path: '/iocm/app/sub/v1.2.0/subscriptions' },
  deleteMany: { method: 'DELETE', path: '/iocm/app/sub/v1.2.0/subscriptions' },
  get: { method: 'GET', path: '/iocm/app/sub/v1.2.0/subscriptions/:subscriptionId' },
  deleteOne: { method: 'DELETE', path: '/iocm/app/sub/v1.2.0/subscriptions/:subscriptionId' },
} as const satisfies Record<string, { method: HttpMethod; path: string }>);

/**
 * Without a backend (events off: no CALLBACK_BASE_URL, or no Redis), a subscription call gets a clear error in the
 * platform's format rather than a misleading "no such API": 501, so that an SDK reports a failure and its operators read why.
 */
export const subscriptionsUnavailable: PlatformErrorAnswer = {
  status: 501,
  body: {
    error_code: `${GATEWAY_CODE_PREFIX}SUBSCRIPTIONS_NOT_AVAILABLE`,
    error_desc: 'Subscriptions need the gateway\'s events, which are off here (CALLBACK_BASE_URL unset): no push can be delivered.',
  },
};

const notFound: PlatformErrorAnswer = {
  status: 404,
  body: { error_code: `${GATEWAY_CODE_PREFIX}NOT_FOUND`, error_desc: 'No such subscription.' },
};

/** The platform's SubscriptionDTO. */
const dto = (s: CompatSubscription) => ({ subscriptionId: s.id, notifyType: s.notifyTypes[0], callbackUrl: s.url });

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** A page as the platform pages lists: pageNo from 0, pageSize default 10 (platform-api.md §6.4). */
export function pageOf<T>(items: readonly T[], pageNo: unknown, pageSize: unknown): { pageNo: number; pageSize: number; items: T[] } | undefined {
  const no = pageNo === undefined ? 0 : Number(pageNo);
  const size = pageSize === undefined ? 10 : Number(pageSize);
  if (!Number.isInteger(no) || no < 0 || !Number.isInteger(size) || size < 1 || size > 1000) return undefined;
  return { pageNo: no, pageSize: size, items: items.slice(no * size, no * size + size) };
}

/**
 * The handlers, after the session check (res.locals.client and compatApp set). `fail` answers a thrown error
 * in the platform's format (a webhook the backend refuses — a bad URL, an unknown type — is its 400).
 */
export function subscriptionHandlers(
  backend: SubscriptionBackend | undefined,
  bodyLimit: string,
  fail: (err: unknown, res: Response) => void,
): Array<{ method: HttpMethod; path: string; handlers: RequestHandler[] }> {
  const json = express.json({ limit: bodyLimit, strict: true, type: () => true });
  const who = (res: Response) => ({ appId: res.locals.compatApp as string, owner: res.locals.client?.name ?? '' });
  const send = (res: Response, a: PlatformErrorAnswer) => void res.status(a.status).json(a.body);
  const guarded =
    (fn: (b: SubscriptionBackend, req: Request, res: Response) => Promise<void>): RequestHandler =>
    async (req, res) => {
      if (!backend) return send(res, subscriptionsUnavailable);
      try {
        await fn(backend, req, res);
      } catch (err) {
        fail(err, res);
      }
    };

  const create = (status: 200 | 201, withBody: boolean) =>
    guarded(async (b, req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      // The SDKs spell it `callbackurl` (SubDeviceManagementDataInDTO, the legacy subscribe); the REST docs `callbackUrl`.
      const url = text(body.callbackUrl) ?? text(body.callbackurl);
      const notifyType = text(body.notifyType);
      if (!url || !notifyType) return send(res, PLATFORM_ANSWERS.invalidInput);
      const { appId, owner } = who(res);
      // SubDeviceDataInDTO may carry appId and channel: another app's (an authorised app's subscription) and MQTT
      // delivery are not what a gateway webhook can be, so they are refused rather than silently made HTTP for this app.
      if ((body.appId !== undefined && body.appId !== appId) || (body.channel !== undefined && body.channel !== 'HTTP')) {
        return send(res, PLATFORM_ANSWERS.invalidInput);
      }
      let s: CompatSubscription;
      try {
        s = await b.create(appId, owner, { url, notifyTypes: [notifyType] });
      } catch (err) {
        // A URL the webhooks refuse is what the platform calls an invalid callback URL (platform-api.md §6.2).
        if (err instanceof GatewayError && err.code === 'VALIDATION_FAILED' && err.details?.some((d) => d.field === 'url')) {
          return send(res, PLATFORM_ANSWERS.invalidCallbackUrl);
        }
        throw err;
      }
      if (withBody) res.status(status).json(dto(s));
      else res.status(status).end();
    });

  const list = guarded(async (b, req, res) => {
    const { appId, owner } = who(res);
    const wanted = text(req.query.notifyType);
    const all = (await b.list(appId, owner)).filter((s) => wanted === undefined || s.notifyTypes.includes(wanted));
    const page = pageOf(all, req.query.pageNo, req.query.pageSize);
    if (!page) return send(res, PLATFORM_ANSWERS.invalidInput);
    res.status(200).json({ totalCount: all.length, pageNo: page.pageNo, pageSize: page.pageSize, subscriptions: page.items.map(dto) });
  });

  const getOne = guarded(async (b, req, res) => {
    const { appId, owner } = who(res);
    const s = (await b.list(appId, owner)).find((x) => x.id === req.params.subscriptionId);
    if (!s) return send(res, notFound);
    res.status(200).json(dto(s));
  });

  const deleteOne = guarded(async (b, req, res) => {
    const { appId, owner } = who(res);
    if (!(await b.delete(appId, owner, String(req.params.subscriptionId)))) return send(res, notFound);
    res.status(204).end();
  });

  // Batch delete by the platform's optional filters (notifyType, callbackUrl): only the caller's own.
  const deleteMany = guarded(async (b, req, res) => {
    const { appId, owner } = who(res);
    const type = text(req.query.notifyType);
    const url = text(req.query.callbackUrl) ?? text(req.query.callbackurl);
    for (const s of await b.list(appId, owner)) {
      if ((type === undefined || s.notifyTypes.includes(type)) && (url === undefined || s.url === url)) await b.delete(appId, owner, s.id);
    }
    res.status(204).end();
  });

  const A = SUBSCRIPTION_APIS;
  return [
    // Service data: 201 with the SubscriptionDTO; management data: 200 without a body (platform-api.md §6.1, §6.2).
    { ...A.subscribe, handlers: [json, create(201, true)] },
    { ...A.subscribeLegacy, handlers: [json, create(201, true)] },
    { ...A.subscribeManagement, handlers: [json, create(200, false)] },
    { ...A.list, handlers: [list] },
    { ...A.deleteMany, handlers: [deleteMany] },
    { ...A.get, handlers: [getOne] },
    { ...A.deleteOne, handlers: [deleteOne] },
  ];
}
