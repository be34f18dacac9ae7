// Operations endpoints: liveness, readiness (store reachable, not draining), Prometheus metrics, the OpenAPI document.
import express, { type Router } from 'express';
import type { Metrics } from '../metrics.js';

export interface OpsDeps {
  metrics: Metrics;
  /** Reasons the gateway is not ready; empty when it is. */
  readiness: () => Promise<string[]>;
  openapi: () => object;
  /** What /readyz says about the store either way (issue 14: the Redis topology and its current primary). */
  store?: () => object | null;
}

export function buildOpsRouter({ metrics, readiness, openapi, store }: OpsDeps): Router {
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
  r.get('/metrics', async (_req, res) => {
    res.locals.route = 'metrics';
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  let doc: object | undefined;
  r.get('/openapi.json', (_req, res) => {
    res.locals.route = 'openapi';
    doc ??= openapi();
    res.json(doc);
  });
  return r;
}
