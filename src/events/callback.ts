// The platform's push endpoint POST /callbacks/:appId/:token: path token check in constant time, body limit, JSON check, 200 only once stored.
import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { EventMetrics } from './metrics.js';
import { notifyLabel, notifyTypeOf } from './notify.js';
import type { EventStore } from './store.js';

/** The path token of an app: HMAC-SHA256(CALLBACK_SECRET, appId), base64url. Unguessable without the secret, stable across replicas. */
export function callbackToken(secret: string, appId: string): string {
  return createHmac('sha256', secret).update(`iot-bff callback\n${appId}`).digest('base64url');
}

/**
 * The URL the platform must push to for `appId`: CALLBACK_BASE_URL (scheme, host, explicit port, as the
 * platform requires; a base path is kept) + /callbacks/{appId}/{token}. It contains a secret: never log it
 * or return it to callers.
 */
export function callbackUrl(baseUrl: string, secret: string, appId: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  return `${base}/callbacks/${encodeURIComponent(appId)}/${callbackToken(secret, appId)}`;
}

/** Whether `token` is the path token of `appId`; compared in constant time on equal-length digests. */
export function tokenMatches(secret: string, appId: string, token: string): boolean {
  const want = Buffer.from(callbackToken(secret, appId));
  const got = Buffer.from(token);
  // Length differs only for garbage; comparing the want against itself keeps the time the same anyway.
  return timingSafeEqual(want, got.length === want.length ? got : want) && got.length === want.length;
}

/**
 * The answer with every `callbackUrl` field that `isGateways` recognises removed, at any depth (command
 * bodies, batch details). Other values, a caller's own URL from before events were on, stay. Returns a copy
 * only where something changed.
 */
export function scrubCallbackUrls(value: unknown, isGateways: (url: string) => boolean, depth = 0): unknown {
  if (depth > 32 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const w = scrubCallbackUrls(v, isGateways, depth + 1);
      if (w !== v) changed = true;
      return w;
    });
    return changed ? out : value;
  }
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const drop = (k === 'callbackUrl' || k === 'callbackurl') && typeof v === 'string' && isGateways(v);
    const w = drop ? undefined : scrubCallbackUrls(v, isGateways, depth + 1);
    if (drop || w !== v) {
      out ??= { ...(value as Record<string, unknown>) };
      if (drop) delete out[k];
      else out[k] = w;
    }
  }
  return out ?? value;
}

/** Whether a URL is one of the gateway's callback URLs (under CALLBACK_BASE_URL's /callbacks/), whatever the app or token. */
export function isGatewayCallbackUrl(baseUrl: string, url: string): boolean {
  return url.startsWith(`${baseUrl.replace(/\/+$/, '')}/callbacks/`);
}

/**
 * What the store keeps of a push: the compact re-serialization (valid JSON for every reader, the dedupe basis) and
 * the text as received, which raw-format webhooks deliver byte for byte (contract §14). A push that names the
 * gateway's callback (its path token is a secret; the platform echoes `callbackUrl` in command bodies) is kept
 * only rewritten: those fields removed, as in answers (§10), and any other occurrence of the token masked, so that
 * no delivery of either format can carry it.
 */
export function storedForms(raw: string, parsed: Record<string, unknown>, token: string): { compact: string; asReceived?: string } {
  if (!raw.includes(token)) return { compact: JSON.stringify(parsed), asReceived: raw };
  const scrubbed = scrubCallbackUrls(parsed, (url) => url.includes(token));
  // The token is base64url: replacing it inside a JSON string keeps the text valid JSON.
  return { compact: JSON.stringify(scrubbed).split(token).join('[redacted]') };
}

export interface CallbackDeps {
  store: EventStore;
  /** CALLBACK_SECRET (≥ 32 characters; checked by the configuration). */
  secret: string;
  /** Whether an app is configured (and events are on for it). */
  hasApp: (appId: string) => boolean;
  /** Largest body, in body-parser's notation (BODY_LIMIT), e.g. "256kb". */
  bodyLimit: string | number;
  metrics?: EventMetrics;
  logger?: Logger;
  /**
   * Called once per newly stored event (not for duplicates), after it is stored and before the 200, e.g. to
   * drop cached answers the event makes stale. Its failure never fails the callback: the event is stored.
   */
  onEvent?: (appId: string, notifyType: string, body: Record<string, unknown>) => void | Promise<void>;
}

/**
 * The router to mount at the root of the app (before authentication: the platform has no API key).
 * Errors are thrown as GatewayError, for the gateway's error middleware to answer in its envelope.
 */
export function createCallbackRouter(deps: CallbackDeps): Router {
  const r = express.Router();
  const rejected = (outcome: string) => deps.metrics?.received.inc({ notify_type: 'other', outcome });

  const checkToken = (req: Request, res: Response, next: NextFunction): void => {
    const appId = String(req.params.appId);
    const token = String(req.params.token);
    // The access log prints the path: it names the route and the app instead of the token (a credential).
    res.locals.route = 'callback';
    res.locals.logPath = `/callbacks/${appId}/[token]`;
    // The token is checked for unknown apps too, so that timing does not tell which apps exist.
    const ok = tokenMatches(deps.secret, appId, token);
    if (!ok || !deps.hasApp(appId)) {
      rejected('not_found');
      throw new GatewayError('NOT_FOUND', { message: 'No such route.' });
    }
    next();
  };

  // Raw bytes, whatever the content type: the platform's Content-Type varies (charset, or none at all).
  const body = express.raw({ type: () => true, limit: deps.bodyLimit });

  r.post('/callbacks/:appId/:token', checkToken, body, async (req: Request, res: Response) => {
    const appId = String(req.params.appId);
    const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      rejected('invalid');
      throw new GatewayError('VALIDATION_FAILED', {
        message: 'The body must be a JSON object.',
        details: [{ field: 'body', message: 'not a JSON object' }],
      });
    }
    const notifyType = notifyTypeOf(parsed as Record<string, unknown>);
    const label = notifyLabel(notifyType);
    const { compact, asReceived } = storedForms(raw, parsed as Record<string, unknown>, callbackToken(deps.secret, appId));
    let stored;
    try {
      stored = await deps.store.append(appId, notifyType, compact, asReceived);
    } catch (err) {
      deps.metrics?.received.inc({ notify_type: label, outcome: 'unavailable' });
      deps.logger?.warn({ appId, notifyType, err }, 'event not stored: redis unavailable');
      // The platform retries or drops it; answering 200 here would lose it silently.
      throw new GatewayError('SERVICE_UNAVAILABLE', { message: 'The event could not be stored.', retryAfter: 1, cause: err });
    }
    deps.metrics?.received.inc({ notify_type: label, outcome: stored.duplicate ? 'duplicate' : 'stored' });
    if (!stored.duplicate && deps.onEvent) {
      try {
        await deps.onEvent(appId, notifyType, parsed as Record<string, unknown>);
      } catch (err) {
        deps.logger?.warn({ appId, notifyType, err }, 'event hook failed (the event is stored)');
      }
    }
    res.status(200).json({ id: stored.id, duplicate: stored.duplicate });
  });
  return r;
}
