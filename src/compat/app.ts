// The compat front (contract §14): the platform's own paths, login and error bodies, derived from the same route descriptions as /v1 and served through the same pipeline.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Config, ClientConfig } from '../config.js';
import { GatewayError, type EnvelopeFields } from '../errors.js';
import { findClient } from '../http/auth.js';
import { unparsableRequest } from '../http/errors.js';
import { requestContext } from '../http/request-context.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Answer, Pipeline } from '../pipeline.js';
import { compileRoutes, runChain } from '../routes/dispatch.js';
import type { RouteSpec } from '../routes/types.js';
import { PLATFORM_ANSWERS, replayedToPlatformError, toPlatformError, type PlatformErrorAnswer } from './errors.js';
import { shapeRequest } from './request.js';
import type { SessionGrant, SessionStore } from './sessions.js';
import { subscriptionHandlers, type SubscriptionBackend } from './subscriptions.js';

/** The platform's auth paths (platform-api.md §2): answered by the gateway itself, never forwarded. */
export const LOGIN_PATH = '/iocm/app/sec/v1.1.0/login';
export const REFRESH_PATH = '/iocm/app/sec/v1.1.0/refreshToken';

export interface CompatDeps {
  config: Config;
  routes: readonly RouteSpec[];
  pipeline: Pipeline;
  sessions: SessionStore;
  logger: Logger;
  metrics: Metrics;
  /**
   * Subscriptions become the caller's raw webhooks here (contract §14); absent (events off), the subscription
   * APIs answer 501 GW.SUBSCRIPTIONS_NOT_AVAILABLE.
   */
  subscriptions?: SubscriptionBackend;
  /**
   * The clients' request rate (src/http/client-rate-limit.ts), made for this front's answers; absent = no client
   * has one. The same store as /v1's: a client's requests count together on both fronts.
   */
  clientRateLimit?: (respond: (err: GatewayError, res: Response) => void) => express.RequestHandler | undefined;
}

declare module 'express-serve-static-core' {
  interface Locals {
    /** The compat session's app (the `app_key` it was checked for). */
    compatApp?: string;
  }
}

const METHOD = { GET: 'get', POST: 'post', PUT: 'put', DELETE: 'delete' } as const;
// Clients build the scheme from tokenType, which the platform sends as "bearer" (platform-api.md §1.2).
const BEARER = /^bearer\s+(\S+)\s*$/i;

const tokenBody = (g: SessionGrant) => ({
  accessToken: g.accessToken,
  tokenType: 'bearer',
  refreshToken: g.refreshToken,
  expiresIn: g.expiresIn,
  scope: 'default',
});

function send(res: Response, a: PlatformErrorAnswer): void {
  res.status(a.status).json(a.body);
}

/** A session store outage is the gateway's, retryable: 503 (GW.SERVICE_UNAVAILABLE), not the platform's 500. */
async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new GatewayError('SERVICE_UNAVAILABLE', { message: 'The session store is unreachable; retry shortly.', retryAfter: 1, cause: err });
  }
}

const allows = (client: ClientConfig, appId: string): boolean => client.apps === '*' || client.apps.has(appId);

export function buildCompatApp(deps: CompatDeps): express.Express {
  const { config, routes, pipeline, sessions, logger, metrics } = deps;
  const limit = deps.clientRateLimit?.(respondWithPlatformError);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(requestContext(logger, metrics));

  /** The caller's key as `secret`, for an app it may use: the same check as /v1's X-Api-Key and app access. */
  const clientFor = (appId: unknown, secret: unknown): ClientConfig | undefined => {
    if (typeof appId !== 'string' || typeof secret !== 'string') return undefined;
    const client = findClient(config.clients, secret);
    return client && allows(client, appId) && config.apps.has(appId) ? client : undefined;
  };
  const label = (name: string) => (_req: Request, res: Response, next: NextFunction) => {
    res.locals.route = `compat.${name}`;
    next();
  };

  // Login: a form, as every SDK posts it. Nothing reaches the platform and no quota is spent.
  const form = express.urlencoded({ extended: false, limit: config.bodyLimit, type: () => true });
  app.post(LOGIN_PATH, label('login'), form, async (req, res) => {
    const { appId, secret } = (req.body ?? {}) as Record<string, unknown>;
    if (!appId || !secret) return send(res, PLATFORM_ANSWERS.requiredMissing);
    const client = clientFor(appId, secret);
    if (!client) return send(res, PLATFORM_ANSWERS.credentialsRefused);
    res.status(200).json(tokenBody(await storeCall(() => sessions.issue(appId as string, client.name))));
  });

  // Refresh: JSON, with the secret again (platform-api.md §2.2); the refresh token is spent.
  const json = express.json({ limit: config.bodyLimit, strict: true, type: () => true });
  app.post(REFRESH_PATH, label('refresh'), json, async (req, res) => {
    const body = req.body as unknown;
    const { appId, secret, refreshToken } = (body !== null && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    if (!appId || !secret || !refreshToken) return send(res, PLATFORM_ANSWERS.requiredMissing);
    const client = clientFor(appId, secret);
    const grant = client && typeof refreshToken === 'string' ? await storeCall(() => sessions.refresh(appId as string, client.name, refreshToken)) : null;
    if (!grant) return send(res, PLATFORM_ANSWERS.credentialsRefused);
    res.status(200).json(tokenBody(grant));
  });

  // Every other platform path needs a session for the app named in app_key, as on the platform.
  const session = async (req: Request, res: Response, next: NextFunction) => {
    const appKey = req.headers.app_key;
    if (typeof appKey !== 'string' || appKey === '') return send(res, PLATFORM_ANSWERS.appIdMissing);
    const token = BEARER.exec(req.headers.authorization ?? '')?.[1];
    const s = token === undefined ? null : await storeCall(() => sessions.check(appKey, token));
    // The client must still exist and may still use the app: a key withdrawn from the configuration ends its sessions.
    const client = s ? config.clients.find((c) => c.name === s.client) : undefined;
    if (!s || !client || !allows(client, appKey) || !config.apps.has(appKey)) return send(res, PLATFORM_ANSWERS.tokenInvalid);
    res.locals.client = client;
    res.locals.compatApp = appKey;
    next();
  };

  for (const api of subscriptionHandlers(deps.subscriptions, config.bodyLimit, respondWithPlatformError)) {
    app[METHOD[api.method]](api.path, label('subscriptions'), session, ...(limit ? [limit] : []), ...api.handlers);
  }

  const chains = new Map<RouteSpec, express.RequestHandler[]>();
  for (const spec of routes) {
    const handlers: express.RequestHandler[] = [label(spec.id), session];
    if (limit) handlers.push(limit);
    // Before the body is read: an app known spent costs no parse and no validation (as on /v1; issue 15).
    handlers.push((req, res, next) => {
      const key = req.get('idempotency-key');
      const refusal = pipeline.refusedEarly({ spec, appId: res.locals.compatApp as string, client: res.locals.client?.name ?? '', ...(key !== undefined && { idempotencyKey: key }) });
      if (refusal) respondWithPlatformError(refusal, res);
      else next();
    });
    if (spec.body) handlers.push(json);
    handlers.push(async (req: Request, res: Response) => {
      try {
        const appId = res.locals.compatApp as string;
        const shaped = shapeRequest(spec, appId, { pathParams: req.params as Record<string, string>, query: req.query, body: req.body });
        const key = req.get('idempotency-key');
        const answer = await pipeline.run({
          spec,
          appId,
          client: res.locals.client?.name ?? '',
          params: shaped.params,
          query: shaped.query,
          body: shaped.body,
          ...(key !== undefined && { idempotencyKey: key }),
          startedAt: res.locals.startedAt,
          log: res.locals.log,
        });
        respond(res, answer);
      } catch (err) {
        respondWithPlatformError(err, res);
      }
    });
    chains.set(spec, handlers);
  }
  // The platform paths by one lookup, as /v1's (src/routes/dispatch.ts). A GET path asked with HEAD, another
  // method or a path not served falls through to the platform's answer for an API it does not have; Express
  // would have answered HEAD with the GET handler: a platform call and a quota slot for a body nobody reads.
  const table = compileRoutes(routes.map((spec) => ({ method: spec.platform.method, path: spec.platform.path, spec })));
  app.use((req, res, next) => {
    const m = table.match(req.method, req.path);
    if (m.kind === 'malformed') throw unparsableRequest();
    if (m.kind !== 'route') return next();
    req.params = m.params;
    runChain(chains.get(m.route.spec) as express.RequestHandler[], req, res, next);
  });

  // A path (or method) the platform does not serve: the platform's answer for it.
  app.use((_req: Request, res: Response) => send(res, PLATFORM_ANSWERS.noSuchApi));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => respondWithPlatformError(fromFramework(err), res));
  return app;
}

/**
 * Success: the platform's status and body unchanged, on a replay too (the record keeps them). A replayed error is
 * the stored envelope in the platform's format, with the platform's status when it was the platform's code.
 * Only a record written before the platform answer was kept falls back to the gateway's answer.
 */
function respond(res: Response, answer: Answer): void {
  for (const [k, v] of Object.entries(answer.headers)) res.setHeader(k, v);
  if (answer.replayed) res.setHeader('Idempotent-Replayed', 'true');
  const { status, body } = answer.platform ?? answer;
  if (!answer.platform && status >= 400 && body !== null && typeof body === 'object' && 'error' in body) {
    return send(res, replayedToPlatformError(status, (body as { error: EnvelopeFields }).error, answer.platformStatus));
  }
  if (body === null || body === undefined || status === 204) return void res.status(status).end();
  res.status(status).json(body);
}

/** Body parser failures (bad JSON, too large) are the caller's invalid input, as the platform would say. */
function fromFramework(err: unknown): unknown {
  if (err instanceof GatewayError) return err;
  const e = (err ?? {}) as { type?: unknown; status?: unknown };
  if (e.type === 'entity.too.large' || Number(e.status) === 413) return new GatewayError('PAYLOAD_TOO_LARGE');
  if (Number(e.status) >= 400 && Number(e.status) < 500) return unparsableRequest();
  return err;
}

function respondWithPlatformError(err: unknown, res: Response): void {
  const a = toPlatformError(err);
  const log = res.locals.log;
  if (!(err instanceof GatewayError)) log?.error({ err, stack: err instanceof Error ? err.stack : undefined }, 'unexpected error');
  else if (err.status >= 500) log?.warn({ code: err.code, platformCode: err.platformCode, cause: err.cause }, err.message);
  if (res.headersSent) return void res.destroy();
  if (err instanceof GatewayError) {
    if (err.headers) for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
    if (err.retryAfter !== undefined) res.setHeader('Retry-After', String(err.retryAfter));
  }
  send(res, a);
}
