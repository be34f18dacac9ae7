// Derives the /v1 Express router from the route descriptions: authentication, app access, body parsing, then the pipeline; answers in the envelope.
import express, { type Request, type Response, type Router } from 'express';
import type { Config } from '../config.js';
import { buildEnvelope, GatewayError, type EnvelopeFields } from '../errors.js';
import { authenticate, authorizeApp } from '../http/auth.js';
import { notFound, respondWithError } from '../http/errors.js';
import type { Pipeline } from '../pipeline.js';
import { toExpressPath, type RouteSpec } from './types.js';

export interface RouterDeps {
  config: Config;
  specs: readonly RouteSpec[];
  pipeline: Pipeline;
}

const METHOD = { GET: 'get', POST: 'post', PUT: 'put', DELETE: 'delete' } as const;

export function buildV1Router({ config, specs, pipeline }: RouterDeps): Router {
  const v1 = express.Router();
  // Every /v1 call needs a key, even one to a route that does not exist.
  v1.use(authenticate(config.clients));
  const perApp = express.Router({ mergeParams: true });
  v1.use('/apps/:appId', authorizeApp(config.apps), perApp);

  const json = express.json({ limit: config.bodyLimit, strict: true, type: () => true });
  const allowed = new Map<string, string[]>();

  for (const spec of specs) {
    const path = toExpressPath(spec.path);
    allowed.set(path, [...(allowed.get(path) ?? []), spec.method]);
    const handlers: express.RequestHandler[] = [
      (_req, res, next) => {
        res.locals.route = spec.id;
        next();
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
      });
      for (const [k, v] of Object.entries(answer.headers)) res.setHeader(k, v);
      if (answer.replayed) res.setHeader('Idempotent-Replayed', 'true');
      respond(res, answer.status, answer.body);
    };
    if (spec.method === 'GET') {
      // Express answers HEAD with the GET handler, which would spend a platform call (and a quota slot) on
      // an answer without a body: refused instead, before any platform work (issue 17, finding 9).
      perApp.head(path, (_req, res) => {
        res.setHeader('Allow', (allowed.get(path) ?? []).join(', '));
        throw new GatewayError('METHOD_NOT_ALLOWED');
      });
    }
    perApp[METHOD[spec.method]](path, ...handlers);
  }
  // A known path with another method: 405 with Allow, rather than a misleading 404.
  for (const [path, methods] of allowed) {
    perApp.all(path, (_req, res) => {
      res.setHeader('Allow', methods.join(', '));
      throw new GatewayError('METHOD_NOT_ALLOWED');
    });
  }
  v1.use(notFound);
  return v1;
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
