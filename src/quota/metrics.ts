// Per-client share metrics (calls sent, refusals by limit, reserve in use, waits): labels are client names and app IDs from the configuration, so bounded.
import { Counter, Gauge, type Registry } from 'prom-client';

/** Which limit refused a client's request: its own request rate, the app's quota, the platform's hold, the store. */
export type RefusingLimit = 'client-rate' | 'app-quota' | 'hold' | 'store-outage' | 'wait-bound';

function build(registry: Registry) {
  return {
    clientCalls: new Counter({
      name: 'iotbff_client_platform_calls_total',
      help: "Platform calls (slots taken) per client and app, by the part they counted in: its reserve or the shared part; logins and refreshes count for the client whose request needed them.",
      labelNames: ['client', 'app', 'part'] as const,
      registers: [registry],
    }),
    clientRefusals: new Counter({
      name: 'iotbff_client_refusals_total',
      help: 'Requests of a client refused, by the limit that refused them (client-rate, app-quota, hold, store-outage, wait-bound).',
      labelNames: ['client', 'limit'] as const,
      registers: [registry],
    }),
    reserveInUse: new Gauge({
      name: 'iotbff_client_reserve_in_use',
      help: "A reserved client's calls counted in its reserve in the current window of an app, as last seen by this replica.",
      labelNames: ['client', 'app'] as const,
      registers: [registry],
    }),
    waits: new Counter({
      name: 'iotbff_quota_waits_total',
      help: 'Requests that asked to wait for a slot (Prefer: wait), by outcome: admitted, refused (the wait would be too long or over the bound), abandoned (the caller left).',
      labelNames: ['app', 'outcome'] as const,
      registers: [registry],
    }),
    waiting: new Gauge({
      name: 'iotbff_quota_waiting',
      help: 'Requests waiting for a platform slot on this replica, per app.',
      labelNames: ['app'] as const,
      registers: [registry],
    }),
    clientRateStoreErrors: new Counter({
      name: 'iotbff_client_rate_limit_store_errors_total',
      help: "Client request-rate checks that could not reach Redis and let the request through (fail open; the app quota keeps its own strict rule).",
      registers: [registry],
    }),
  };
}

export type QuotaMetrics = ReturnType<typeof build>;

const built = new WeakMap<Registry, QuotaMetrics>();

/** The share metrics on a registry, registered once however many parts ask for them. */
export function quotaMetrics(registry: Registry): QuotaMetrics {
  let m = built.get(registry);
  if (!m) {
    m = build(registry);
    built.set(registry, m);
  }
  return m;
}
