// The cache's Prometheus metrics, registered on the gateway's registry by the integrator (src/metrics.ts stays untouched).
import { Counter, type Registry } from 'prom-client';

/** What a lookup ended as: served from the cache, forwarded (and why), or waited for another's call. */
export type LookupOutcome = 'hit' | 'miss' | 'stale' | 'refresh' | 'collapsed' | 'bypass' | 'unavailable';

/** The cache reports through these; the facade works without them (tests, benches). */
export interface CacheMetricsHooks {
  lookup(appId: string, opId: string, outcome: LookupOutcome): void;
  /** A request that waited for another's platform call: in this process, or on another replica. */
  coalesced(appId: string, scope: 'local' | 'remote'): void;
  stored(appId: string, bytes: number): void;
  notStored(appId: string, reason: 'too-large' | 'invalidated' | 'status' | 'store-unavailable'): void;
  /** One platform call (one unit of the app's quota) that this request did not spend. */
  saved(appId: string): void;
  invalidated(appId: string, dropped: number): void;
}

export function createCacheMetrics(registry: Registry): CacheMetricsHooks & { counters: Record<string, Counter<string>> } {
  const counters = {
    lookups: new Counter({
      name: 'iotbff_cache_lookups_total',
      help: 'Cacheable GETs by app, operation and outcome (hit, miss, stale, refresh, collapsed, bypass, unavailable).',
      labelNames: ['app', 'op', 'outcome'] as const,
      registers: [registry],
    }),
    coalesced: new Counter({
      name: 'iotbff_cache_coalesced_waits_total',
      help: "Requests that waited for another request's platform call, in this process (local) or on another replica (remote).",
      labelNames: ['app', 'scope'] as const,
      registers: [registry],
    }),
    storedBytes: new Counter({
      name: 'iotbff_cache_stored_bytes_total',
      help: 'Bytes of answers written to the cache, by app.',
      labelNames: ['app'] as const,
      registers: [registry],
    }),
    stores: new Counter({
      name: 'iotbff_cache_stores_total',
      help: 'Answers written to the cache, by app.',
      labelNames: ['app'] as const,
      registers: [registry],
    }),
    notStored: new Counter({
      name: 'iotbff_cache_not_stored_total',
      help: 'Successful answers not cached, by app and reason (too-large, invalidated, status, store-unavailable).',
      labelNames: ['app', 'reason'] as const,
      registers: [registry],
    }),
    saved: new Counter({
      name: 'iotbff_cache_platform_calls_saved_total',
      help: 'Platform calls (quota) not spent thanks to a cache hit or a coalesced wait, by app.',
      labelNames: ['app'] as const,
      registers: [registry],
    }),
    invalidated: new Counter({
      name: 'iotbff_cache_invalidated_entries_total',
      help: 'Cached answers dropped because a write made them stale, by app.',
      labelNames: ['app'] as const,
      registers: [registry],
    }),
  };
  return {
    counters: counters as unknown as Record<string, Counter<string>>,
    lookup: (app, op, outcome) => counters.lookups.inc({ app, op, outcome }),
    coalesced: (app, scope) => counters.coalesced.inc({ app, scope }),
    stored: (app, bytes) => {
      counters.stores.inc({ app });
      counters.storedBytes.inc({ app }, bytes);
    },
    notStored: (app, reason) => counters.notStored.inc({ app, reason }),
    saved: (app) => counters.saved.inc({ app }),
    invalidated: (app, dropped) => counters.invalidated.inc({ app }, dropped),
  };
}
