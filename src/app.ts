// The composition root: builds every part from the configuration and assembles the Express app from them.
import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { GetCache, createCacheMetrics } from './cache/index.js';
import { ALL_OPERATIONS } from './cache/policies.js';
import { ConfigError, type Config } from './config.js';
import { Events } from './events/index.js';
import { isGatewayCallbackUrl } from './events/callback.js';
import { eventInvalidator } from './events/invalidation.js';
import { SubscriptionManager } from './events/subscriptions.js';
import { createForwarder } from './forward.js';
import { clientRateLimit } from './http/client-rate-limit.js';
import { errorHandler, notFound } from './http/errors.js';
import { buildDocsRouter } from './http/docs.js';
import { buildOpsRouter } from './http/ops.js';
import { requestContext } from './http/request-context.js';
import { Idempotency, MemoryIdempotencyBackend, RedisIdempotencyBackend } from './idempotency.js';
import type { Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createPipeline, type CallbackInjection } from './pipeline.js';
import { AppBreakers } from './platform/breaker.js';
import { createPlatformClient, type PlatformClient } from './platform/client.js';
import { createCodeCatalog } from './platform/codes.js';
import { QuotaLimiter, reservesByApp } from './quota/limiter.js';
import { peekQuotaHeaders } from './quota/peek.js';
import { connectClientWithin, createRedisClient, describeRedis, isClientReady, type RedisClient, type RedisWhere } from './redis.js';
import { buildOpenApi } from './routes/openapi.js';
import { buildV1Router } from './routes/router.js';
import { FAMILIES } from './families/index.js';
import { routesOf } from './families/registry.js';
import type { RouteSpec } from './routes/types.js';
import { TokenManager } from './tokens/manager.js';
import { buildCompatApp, MemorySessionStore, RedisSessionStore, webhookSubscriptions } from './compat/index.js';
import { MemoryTokenStore, RedisTokenStore, type TokenStore } from './tokens/store.js';



export interface Gateway {
  app: Express;
  /** Every route served, from the registered families. */
  routes: readonly RouteSpec[];
  config: Config;
  metrics: Metrics;
  limiter: QuotaLimiter;
  tokens: TokenManager;
  /** Present while events are on (Redis and CALLBACK_BASE_URL). */
  events: Events | undefined;
  subscriptions: SubscriptionManager | undefined;
  /** The platform's own API for SDK-based services (contract §14), when COMPAT_PORT is set; main.ts listens with it. */
  compatApp?: Express;
  /** Connects to Redis (waiting at most `ms`); true if connected. The gateway serves either way. */
  connect(ms: number): Promise<boolean>;
  /** The Redis topology and the primary commands go to now (null: the in-process store). No I/O. */
  redisWhere(): RedisWhere | null;
  /** Marks the gateway as draining: /readyz turns 503 so that load balancers stop sending. */
  drain(): void;
  close(): Promise<void>;
}

export function createGateway(config: Config, logger: Logger): Gateway {
  // First, before any connection: a broken route description stops the start with one line (RouteDescriptionError).
  // The platform-code catalog of every family, built here once: a code defined twice with different
  // meanings stops the start, and a route may only declare codes the catalog knows.
  const catalog = createCodeCatalog(FAMILIES);
  const routes = routesOf(FAMILIES, (code) => catalog.lookup(code) !== undefined);
  checkCacheOverrides(config, routes);
  const replicaId = randomUUID().slice(0, 8);
  const metrics = createMetrics();
  let redis: RedisClient | null = null;
  let subscriber: RedisClient | null = null;
  if (config.redisTopology) {
    // One server, a Sentinel set or a Cluster (contract §12): the same policies on each (src/redis.ts).
    const common = { topology: config.redisTopology, commandTimeoutMs: config.redisCommandTimeoutMs, logger, metrics };
    redis = createRedisClient({ ...common, name: `iot-bff:${replicaId}` });
    subscriber = createRedisClient({ ...common, name: `iot-bff:${replicaId}:sub`, metrics: undefined });
  } else {
    logger.warn('REDIS_URL=memory: in-process store; run ONE replica only (quota and tokens are not shared)');
  }

  const client: PlatformClient = createPlatformClient(config, metrics, { knownCode: (code) => catalog.lookup(code) !== undefined });
  const limiter = new QuotaLimiter({
    redis,
    keyPrefix: config.redisKeyPrefix,
    windowMs: config.quotaWindowMs,
    holdMs: config.quotaHoldMs,
    replicas: config.replicas,
    rateOf: (appId) => config.apps.get(appId)?.ratePerMinute ?? 0,
    reservesOf: reservesByApp(config.clients),
    appIds: [...config.apps.keys()],
    maxWaiters: config.quotaMaxWaiters,
    metrics,
    logger,
    replicaId,
  });
  const store: TokenStore =
    redis && subscriber
      ? new RedisTokenStore(redis, subscriber, config.redisKeyPrefix, config.tokenEncryptionKeys)
      : new MemoryTokenStore();
  const tokens = new TokenManager({
    store,
    client,
    limiter,
    catalog,
    apps: config.apps,
    lockTtlMs: config.tokenLockTtlMs,
    platformTimeoutMs: config.platformTimeoutMs,
    waitLimitMs: config.tokenWaitLimitMs,
    loginDeadlineMs: config.tokenLoginDeadlineMs,
    replicas: config.replicas,
    metrics,
    logger,
    replicaId,
  });
  const breakers = new AppBreakers({ failures: config.breakerFailures, cooldownMs: config.breakerCooldownMs });
  const forwarder = createForwarder({ client, tokens, limiter, breakers, catalog, metrics, getAttempts: config.platformGetAttempts });
  const idempotency = new Idempotency(
    redis ? new RedisIdempotencyBackend(redis) : new MemoryIdempotencyBackend(),
    config.idempotencyTtlSec,
    metrics,
  );

  // The shared GET cache (contract §13) rides on the gateway's own connections: its waiters listen on the
  // subscriber the token store already holds. None with the in-process store: one replica has nobody to share with.
  const cache =
    redis && subscriber
      ? new GetCache({
          redis,
          subscriber,
          prefix: config.redisKeyPrefix,
          commandTimeoutMs: config.redisCommandTimeoutMs,
          maxEntryBytes: config.cacheMaxEntryBytes,
          lockTtlMs: config.cacheLockTtlMs,
          metrics: createCacheMetrics(metrics.registry),
          log: logger,
        })
      : undefined;
  const quotaNow = redis
    ? (appId: string, deadline: number) =>
        peekQuotaHeaders(redis, appId, {
          keyPrefix: config.redisKeyPrefix,
          windowMs: config.quotaWindowMs,
          limit: config.apps.get(appId)?.ratePerMinute ?? 0,
          deadline: Math.min(deadline, Date.now() + config.redisCommandTimeoutMs),
        })
    : undefined;

  // Events (contract §10): on with Redis and CALLBACK_BASE_URL (the configuration refuses one without the other).
  const events =
    redis && config.callbackBaseUrl && config.callbackSecret
      ? new Events({
          redis,
          keyPrefix: config.redisKeyPrefix,
          logger,
          registry: metrics.registry,
          callbackSecret: config.callbackSecret,
          callbackBaseUrl: config.callbackBaseUrl,
          apps: config.apps,
          bodyLimit: config.bodyLimit,
          allowedHosts: config.webhookAllowedHosts,
          ...(config.tokenEncryptionKeys.length > 0 ? { sealKeys: config.tokenEncryptionKeys } : {}),
          stream: { maxLen: config.eventsMaxLen, maxAgeMs: config.eventsMaxAgeMs, dedupeMs: config.eventsDedupeMs },
          delivery: { attemptTimeoutMs: config.webhookTimeoutMs, leaseMs: config.webhookClaimIdleMs, claimIdleMs: config.webhookClaimIdleMs, concurrency: config.webhookConcurrency },
          sse: { heartbeatMs: config.sseHeartbeatMs, maxStreamsPerClient: config.sseMaxStreams },
          instanceId: replicaId,
          onWebhooksChanged: (appId) => subscriptions?.reconcile(appId),
          // An upgrade subtask's progress or result drops its task's cached status (contract §13).
          onEvent: eventInvalidator(cache ? (appId, tags) => cache.invalidate(appId, tags) : undefined),
        })
      : undefined;
  const subscriptions =
    events && redis
      ? new SubscriptionManager({
          redis,
          keyPrefix: config.redisKeyPrefix,
          forwarder,
          logger,
          apps: () => config.apps.keys(),
          callbackUrl: (appId) => events.callbackUrl(appId),
          wanted: (appId) => events.wantedNotifyTypes(appId),
          platformTimeoutMs: config.platformTimeoutMs,
          owner: replicaId,
        })
      : undefined;
  const callbacks: CallbackInjection | undefined =
    events && config.callbackBaseUrl
      ? { urlOf: (appId) => events.callbackUrl(appId), isGateways: (url) => isGatewayCallbackUrl(config.callbackBaseUrl as string, url) }
      : undefined;

  const pipeline = createPipeline({ config, forwarder, idempotency, ...(cache && { cache }), ...(quotaNow && { quotaNow }), ...(callbacks && { callbacks }) });


  let draining = false;
  let eventsStopped: Promise<void> | undefined;
  const stopEvents = async (): Promise<void> => {
    await subscriptions?.stop();
    await events?.stop(Math.min(config.shutdownTimeoutMs, config.webhookTimeoutMs));
  };
  const readiness = async (): Promise<string[]> => {
    const reasons: string[] = [];
    if (draining) reasons.push('shutting down');
    if (redis) {
      const ok = isClientReady(redis) && (await redis.ping().then(() => true, () => false));
      // The body's `redis` field (ops store()) names the topology and the primary either way.
      if (!ok) reasons.push('redis: unreachable');
    }
    return reasons;
  };

  // Built once: a description it cannot render fails the start, not the first GET.
  const openapi = buildOpenApi(routes, FAMILIES, { title: 'iot-bff', version: '1' });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(requestContext(logger, metrics));
  app.use(helmet());
  // First: the gateway's traffic is /v1, which then passes no other router's layers.
  const clientLimit = clientRateLimit({ clients: config.clients, redis, keyPrefix: config.redisKeyPrefix, metrics, logger });
  app.use(
    buildV1Router({
      config,
      specs: routes,
      pipeline,
      ...(clientLimit && { clientRateLimit: clientLimit }),
      // The events API (webhooks, streams) behind the same key check, client rate limit and app check as the families.
      ...(events && { extra: [events.apiRouter()] }),
    }),
  );
  // The platform has no API key: the callback's path token is its credential.
  if (events) app.use(events.callbackRouter());
  app.use(
    buildOpsRouter({
      metrics,
      readiness,
      openapi: () => openapi,
      store: () => (redis ? describeRedis(redis) : null),
      serveMetrics: config.metricsPort === undefined,
    }),
  );
  app.use(buildDocsRouter());
  app.use(notFound);
  app.use(errorHandler());

  // The same routes and pipeline, in the platform's own paths and formats; its sessions live beside the tokens.
  const compatApp =
    config.compatPort === null
      ? undefined
      : buildCompatApp({
          config,
          routes,
          pipeline,
          clientRateLimit: (respond) => clientRateLimit({ clients: config.clients, redis, keyPrefix: config.redisKeyPrefix, metrics, logger, respond }),
          sessions: redis
            ? new RedisSessionStore(redis, config.redisKeyPrefix, config.compatSessionTtlSec)
            : new MemorySessionStore(config.compatSessionTtlSec),
          logger,
          metrics,
          // Subscriptions made there become the client's raw webhooks (contract §14); without events, 501 in the platform's format.
          ...(events && { subscriptions: webhookSubscriptions(events) }),
        });

  return {
    app,
    routes,
    config,
    metrics,
    limiter,
    tokens,
    events,
    subscriptions,
    ...(compatApp && { compatApp }),
    async connect(ms) {
      if (!redis || !subscriber) return true;
      const [main] = await Promise.all([connectClientWithin(redis, ms), connectClientWithin(subscriber, ms)]);
      // The start log names the topology and the primary (for a cluster, every primary).
      logger.info({ redis: describeRedis(redis) }, main ? 'redis topology' : 'redis topology (not reachable yet)');
      // Started whether or not Redis answered: both retry on their own until it does.
      await events?.start();
      subscriptions?.start();
      return main;
    },
    redisWhere: () => (redis ? describeRedis(redis) : null),
    drain() {
      draining = true;
      // Ends SSE streams (which would hold the server's close) and lets delivery attempts in flight finish.
      eventsStopped ??= stopEvents();
    },
    async close() {
      draining = true;
      await (eventsStopped ??= stopEvents());
      cache?.close();
      await store.close();
      client.close();
      for (const r of [subscriber, redis]) {
        if (!r) continue;
        await r.quit().catch(() => r.disconnect());
      }
    },
  };
}

/**
 * CACHE_TTL_SEC may only name GET routes that have a cache policy (or `*`): a misspelt id would otherwise do
 * nothing, and a GET without a policy has no tags, so no write could ever drop what it cached.
 */
function checkCacheOverrides(config: Config, routes: readonly RouteSpec[]): void {
  const cached = new Set(routes.filter((r) => r.method === 'GET' && r.cache).map((r) => r.id));
  const problems = Object.keys(config.cacheTtlSec)
    .filter((id) => id !== ALL_OPERATIONS && !cached.has(id))
    .map((id) => `CACHE_TTL_SEC: ${id} is not a cached GET operation (one of: ${[...cached].join(', ')})`);
  if (problems.length > 0) throw new ConfigError(problems);
}
