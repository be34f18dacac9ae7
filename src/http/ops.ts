// Operations endpoints: liveness, readiness (store reachable, not draining), Prometheus metrics, the OpenAPI document; and the metrics-only app of METRICS_PORT.
import express, { type Express, type RequestHandler, type Router } from 'express';
import type { Metrics } from '../metrics.js';

export interface OpsDeps {
  metrics: Metrics;
  /** Reasons the gateway is not ready; empty when it is. */
  readiness: () => Promise<string[]>;
  openapi: () => object;
  /** What /readyz says about the store either way (issue 14: the Redis topology and its current primary). */
  store?: () => object | null;
  /**
   * Whether /metrics is served here. False when METRICS_PORT is set: the metrics name every app, and API
   * callers with a restricted key must not learn which apps exist (issue 17, finding 6).
   */
  serveMetrics?: boolean;
}

function metricsHandler(metrics: Metrics): RequestHandler {
  return async (_req, res) => {
    res.locals.route = 'metrics';
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  };
}

/** The whole app of the METRICS_PORT listener: GET /metrics, and 404 for anything else. */
export function buildMetricsApp(metrics: Metrics): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', metricsHandler(metrics));
  app.use((_req, res) => void res.status(404).json({ error: { code: 'NOT_FOUND', message: 'Only GET /metrics is served on this port.' } }));
  return app;
}

export function buildOpsRouter({ metrics, readiness, openapi, store, serveMetrics = true }: OpsDeps): Router {
  const r = express.Router();
  r.get('/healthz', (_req, res) => {
    res.locals.route = 'healthz';
    res.json({ status: 'ok' });
  });
  r.get('/readyz', async (_req, res) => {
    res.locals.route = 'readyz';
    const reasons = await readiness();
    const where = store?.() ?? undefined;
    const extra = where ? { redis: where } : {};
    res.status(reasons.length === 0 ? 200 : 503).json(reasons.length === 0 ? { status: 'ready', ...extra } : { status: 'not ready', reasons, ...extra });
  });
  if (serveMetrics) r.get('/metrics', metricsHandler(metrics));
  let doc: object | undefined;
  r.get('/openapi.json', (_req, res) => {
    res.locals.route = 'openapi';
    doc ??= openapi();
    res.json(doc);
  });
  return r;
}
