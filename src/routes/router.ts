// Derives /v1 from the route descriptions: authentication, client rate, app access, one route-table lookup, body parsing, then the pipeline; answers in the envelope.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../config.js';
import { buildEnvelope, GatewayError, type EnvelopeFields } from '../errors.js';
import { appAccessError, findClient } from '../http/auth.js';
import { notFound, respondWithError, unparsableRequest } from '../http/errors.js';
import type { Pipeline } from '../pipeline.js';
import { applyHeaders, preferredWaitSeconds } from '../quota/headers.js';
import { compileRoutes, runChain } from './dispatch.js';
import type { RouteSpec } from './types.js';

export interface RouterDeps {
  config: Config;
  specs: readonly RouteSpec[];
  pipeline: Pipeline;
  /** Per-client request rate (src/http/client-rate-limit.ts), right after the key check; absent = none. */
  clientRateLimit?: express.RequestHandler;
  /** Routers for other paths below `/apps/{appId}` (the events API), behind the same key, rate limit and app check. */
  extra?: readonly express.Router[];
}

/** `/v1` as Express mounts it (case-insensitive, then `/` or the end) and the app's part: `/apps/{appId}/…`. */
const V1 = /^\/v1(?=\/|$)/i;
const APP_PATH = /^\/apps\/([^/]+)(\/.*)?$/i;

/**
 * The whole of /v1 as one middleware for the app (mount it first): every request below /v1 is authenticated and
 * counted in its client's rate, a family route is found by one table lookup and run; anything else goes on
 * (`extra` for the events API, then 404). No nested Express router: each one cost a routing pass per request,
 * a tenth of a refusal's CPU (issue 15).
 */
export function buildV1Router({ config, specs, pipeline, clientRateLimit, extra }: RouterDeps): express.RequestHandler {
  const rest = express.Router();
  // Paths the families do not serve (the events API's webhooks and streams) go on to the routers given.
  // Only reached from below, after the key, the client's rate and the app access were checked.
  for (const r of extra ?? []) rest.use('/v1/apps/:appId', r);
  // Anything else below /v1 (with a valid key: every /v1 call needs one, even to a route that does not exist).
  rest.use('/v1', notFound);

  const json = express.json({ limit: config.bodyLimit, strict: true, type: () => true });
  const chains = new Map<RouteSpec, express.RequestHandler[]>();

  for (const spec of specs) {
    const handlers: express.RequestHandler[] = [
      (req, res, next) => {
        res.locals.route = spec.id;
        // Before the body is read and validated: an app whose quota is known spent is refused at the cost of a
        // client-rate-limited request, not of a parse and a validation (issue 15).
        const idempotencyKey = req.get('idempotency-key');
        const preferWait = preferredWaitSeconds(req.get('prefer'));
        const refusal = pipeline.refusedEarly({
          spec,
          appId: String(req.params.appId),
          client: res.locals.client?.name ?? '',
          ...(idempotencyKey !== undefined && { idempotencyKey }),
          ...(preferWait !== undefined && { preferWait }),
        });
        if (refusal) respondWithError(refusal, res);
        else next();
      },
    ];
    if (spec.body) {
      handlers.push((req, _res, next) => {
        if (!req.is('application/json')) throw new GatewayError('UNSUPPORTED_MEDIA_TYPE');
        next();
      }, json);
    }
    // Refusals are answered here rather than thrown through the rest of the router's layers: on the
    // 429 and validation paths that walk was a tenth of the CPU (docs/performance.md, F7).
    handlers.push(async (req: Request, res: Response) => {
      try {
        await handle(req, res);
      } catch (err) {
        respondWithError(err, res);
      }
    });
    const handle = async (req: Request, res: Response): Promise<void> => {
      const { appId, ...params } = req.params as Record<string, string>;
      const key = req.get('idempotency-key');
      // Only a cached GET reads them (contract §13); Node has already joined repeated Cache-Control lines.
      const cacheControl = spec.cache ? req.headers['cache-control'] : undefined;
      const pragma = spec.cache ? req.headers.pragma : undefined;
      const preferWait = preferredWaitSeconds(req.get('prefer'));
      // A caller that leaves stops waiting for a slot (Prefer: wait).
      const gone = preferWait === undefined ? undefined : new AbortController();
      if (gone) {
        res.once('close', () => {
          if (!res.writableFinished) gone.abort();
        });
      }
      const answer = await pipeline.run({
        spec,
        appId: appId as string,
        client: res.locals.client?.name ?? '',
        params,
        query: req.query,
        body: req.body,
        ...(key !== undefined && { idempotencyKey: key }),
        ...(cacheControl !== undefined && { cacheControl }),
        ...(pragma !== undefined && { pragma }),
        startedAt: res.locals.startedAt,
        log: res.locals.log,
        ...(preferWait !== undefined && gone && { preferWait, signal: gone.signal }),
      });
      applyHeaders(res, answer.headers);
      if (answer.replayed) res.setHeader('Idempotent-Replayed', 'true');
      respond(res, answer.status, answer.body);
    };
    chains.set(spec, handlers);
  }

  // One lookup instead of one Express layer per route: a refusal no longer walks 32 routes (issue 15).
  const table = compileRoutes(specs);
  const family = (req: Request, res: Response, next: NextFunction, path: string): void => {
    const app = APP_PATH.exec(path);
    if (!app) {
      rest(req, res, next);
      return;
    }
    let appId: string;
    try {
      appId = decodeURIComponent(app[1] as string);
    } catch {
      throw unparsableRequest();
    }
    // 403 before 404 whether or not the app exists, so that a restricted caller cannot probe which apps are configured.
    const denied = appAccessError(res.locals.client, appId, config.apps);
    if (denied) throw denied;
    const m = table.match(req.method, app[2] ?? '/');
    switch (m.kind) {
      case 'none':
        rest(req, res, next);
        return;
      case 'malformed':
        throw unparsableRequest();
      case 'method':
        // A known path with another method (HEAD included: Express would answer it with the GET handler and
        // spend a platform call on an answer without a body; issue 17, finding 9): 405 with Allow, not a 404.
        res.setHeader('Allow', m.allowed.join(', '));
        throw new GatewayError('METHOD_NOT_ALLOWED');
      case 'route':
        break;
    }
    req.params = { appId, ...m.params };
    runChain(chains.get(m.route) as express.RequestHandler[], req, res, (err?: unknown) => {
      if (err === undefined || err === null) rest(req, res, next);
      else respondWithError(err, res);
    });
  };

  return (req, res, next) => {
    const v1 = V1.exec(req.path);
    if (!v1) return next();
    const path = req.path.slice(v1[0].length) || '/';
    try {
      const key = req.get('x-api-key');
      const client = key ? findClient(config.clients, key) : undefined;
      if (!client) throw new GatewayError('UNAUTHENTICATED');
      res.locals.client = client;
      // Before body parsing and validation: a runaway caller is refused at the cost of one Redis round trip.
      if (!clientRateLimit) return family(req, res, next, path);
      clientRateLimit(req, res, (err?: unknown) => {
        if (err !== undefined && err !== null) return respondWithError(err, res);
        try {
          family(req, res, next, path);
        } catch (thrown) {
          respondWithError(thrown, res);
        }
      });
    } catch (err) {
      respondWithError(err, res);
    }
  };
}

function respond(res: Response, status: number, body: unknown): void {
  if (status === 204 || body === undefined || body === null) {
    res.status(status).end();
    return;
  }
  // A replayed error answer gets this request's id, like any other error.
  if (status >= 400 && typeof body === 'object' && body !== null && 'error' in body) {
    res.status(status).json(buildEnvelope((body as { error: EnvelopeFields }).error, res.locals.requestId));
    return;
  }
  res.status(status).json(body);
}
