// Prometheus metrics of one gateway process; labels never carry secrets (app IDs and route names only).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const m = {
    registry,
    httpRequests: new Counter({
      name: 'iotbff_http_requests_total',
      help: 'Requests answered, by route and status.',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'iotbff_http_request_duration_seconds',
      help: 'Time to answer a request, by route and status.',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    platformCalls: new Counter({
      name: 'iotbff_platform_calls_total',
      help: 'Calls sent to the platform, by app, kind (api, login, refresh) and outcome.',
      labelNames: ['app', 'kind', 'outcome'] as const,
      registers: [registry],
    }),
    platformDuration: new Histogram({
      name: 'iotbff_platform_call_duration_seconds',
      help: 'Duration of platform calls.',
      labelNames: ['kind'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    tokenEvents: new Counter({
      name: 'iotbff_token_events_total',
      help: 'Token lifecycle events per app: login, refresh, wait (another holder renewed), reject_retry (1010005 retried), login_failed.',
      labelNames: ['app', 'event'] as const,
      registers: [registry],
    }),
    quotaDecisions: new Counter({
      name: 'iotbff_quota_decisions_total',
      help: 'Quota decisions per app: allowed or rejected, and by which path (redis, local, hold).',
      labelNames: ['app', 'decision', 'source'] as const,
      registers: [registry],
    }),
    quotaUsage: new Gauge({
      name: 'iotbff_quota_used',
      help: 'Platform calls in the current window per app, as last seen by this replica.',
      labelNames: ['app'] as const,
      registers: [registry],
    }),
    redisUp: new Gauge({
      name: 'iotbff_redis_up',
      help: '1 while the shared store is reachable.',
      registers: [registry],
    }),
    breakerOpen: new Gauge({
      name: 'iotbff_platform_breaker_open',
      help: '1 while the circuit breaker towards the platform is open for that app.',
      labelNames: ['app'] as const,
      registers: [registry],
    }),
    idempotency: new Counter({
      name: 'iotbff_idempotency_total',
      help: 'Idempotency-Key outcomes: stored, replayed, conflict, mismatch.',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
