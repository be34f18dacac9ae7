// The events facade: one object the composition root builds from configuration, mounts (callback, webhook and stream routes) and starts/stops with the gateway.
import { randomUUID } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
// RedisClient: one server, a Sentinel set or a Cluster (issue 14); the alias keeps this file's annotations.
import { duplicateClient, type RedisClient as Redis } from '../redis.js';
import type { Registry } from 'prom-client';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { callbackUrl, createCallbackRouter } from './callback.js';
import { DeliveryWorkers, readDeliveries, redeliver, type DeliveryAttempt, type DeliveryOptions } from './delivery.js';
import { eventKeys, type EventKeys } from './keys.js';
import { createEventMetrics, type EventMetrics } from './metrics.js';
import { EventNotifier } from './notifier.js';
import { createSseHandler, type SseHandler } from './sse.js';
import { EventStore } from './store.js';
import { deriveSealKey, WebhookRegistry, type CreatedWebhook, type WebhookFormat, type WebhookView } from './webhooks.js';

export { callbackToken, callbackUrl } from './callback.js';
export { DEFAULT_RETRY_DELAYS_MS, DEFAULT_RETRY_FOR_MS, deliveryBody, signedHeaders, type DeliveryAttempt } from './delivery.js';
export { createEventMetrics, type EventMetrics } from './metrics.js';
export { COMMAND_STATUS_CHANGED, MANAGEMENT_NOTIFY_TYPES, NOTIFY_TYPES, SERVICE_NOTIFY_TYPES, notifyTypeOf, subscriptionApiOf } from './notify.js';
export { formatSse } from './sse.js';
export { type StoredEvent } from './store.js';
export { hostAllowed, validateWebhookInput, type CreatedWebhook, type WebhookFormat, type WebhookView } from './webhooks.js';

export type DeliveryTuning = Partial<
  Pick<
    DeliveryOptions,
    'attemptTimeoutMs' | 'retryDelaysMs' | 'retryForMs' | 'leaseMs' | 'claimIdleMs' | 'scanIntervalMs' | 'pollMs' | 'batch' | 'logSize' | 'failedKeep' | 'concurrency'
  >
>;

export interface EventsOptions {
  /** The command connection (per-command deadline, no offline queue: createRedis in src/redis.ts). */
  redis: Redis;
  /** A connection for pub/sub; by default Events duplicates `redis` and owns (closes) the copy. */
  subscriber?: Redis;
  /** REDIS_KEY_PREFIX. */
  keyPrefix: string;
  logger: Logger;
  /** The gateway's prom-client registry (metrics are created on it), or ready-made metrics, or neither. */
  registry?: Registry;
  metrics?: EventMetrics;
  /** CALLBACK_SECRET: ≥ 32 characters; derives the per-app path tokens (and, without sealKeys, the secret-sealing key). */
  callbackSecret: string;
  /** CALLBACK_BASE_URL: scheme, host and explicit port as the platform reaches the gateway. */
  callbackBaseUrl: string;
  /** The configured apps. */
  apps: ReadonlySet<string> | ReadonlyMap<string, unknown>;
  /** BODY_LIMIT for pushes and webhook bodies. Default 256kb. */
  bodyLimit?: string | number;
  /** 32-byte keys sealing webhook secrets at rest (e.g. TOKEN_ENCRYPTION_KEY's); default: derived from callbackSecret. */
  sealKeys?: readonly Buffer[];
  /** WEBHOOK_ALLOWED_HOSTS. */
  allowedHosts?: readonly string[];
  maxWebhooksPerApp?: number;
  /** Stream caps and dedupe window (defaults: 100,000 events, 24 h, 10 min). */
  stream?: { maxLen?: number; maxAgeMs?: number; dedupeMs?: number };
  delivery?: DeliveryTuning;
  sse?: { heartbeatMs?: number; pollMs?: number; maxStreamsPerClient?: number; writeTimeoutMs?: number };
  /** Called once per newly stored push (after the store, before the 200): cache invalidation. Failures are logged, never answered. */
  onEvent?: (appId: string, notifyType: string, body: Record<string, unknown>) => void | Promise<void>;
  /** Called after a webhook was created or deleted, e.g. for the platform subscription manager to reconcile. */
  onWebhooksChanged?: (appId: string) => void;
  /** Consumer and lease owner name; unique per process. */
  instanceId?: string;
}

/** The authenticated caller's name, as src/http/auth.ts leaves it in res.locals.client. */
const ownerOf = (res: Response): string => {
  const c = res.locals.client as { name?: string } | undefined;
  if (!c?.name) throw new GatewayError('UNAUTHENTICATED');
  return c.name;
};

export class Events {
  readonly keys: EventKeys;
  readonly store: EventStore;
  readonly webhooks: WebhookRegistry;
  readonly workers: DeliveryWorkers;
  readonly metrics: EventMetrics | undefined;
  readonly sse: SseHandler;
  private readonly notifier: EventNotifier;
  private readonly subscriber: Redis;
  private readonly ownsSubscriber: boolean;
  private readonly appIds: () => string[];
  private started = false;

  constructor(private readonly opts: EventsOptions) {
    if (opts.callbackSecret.length < 32) throw new Error('callbackSecret must have at least 32 characters');
    this.keys = eventKeys(opts.keyPrefix);
    this.metrics = opts.metrics ?? (opts.registry ? createEventMetrics(opts.registry) : undefined);
    this.appIds = () => [...opts.apps.keys()];
    this.store = new EventStore({ redis: opts.redis, keyPrefix: opts.keyPrefix, ...opts.stream });
    this.webhooks = new WebhookRegistry({
      redis: opts.redis,
      keyPrefix: opts.keyPrefix,
      sealKeys: opts.sealKeys && opts.sealKeys.length > 0 ? opts.sealKeys : [deriveSealKey(opts.callbackSecret)],
      allowedHosts: opts.allowedHosts ?? [],
      maxPerApp: opts.maxWebhooksPerApp ?? 100,
    });
    this.ownsSubscriber = !opts.subscriber;
    this.subscriber = opts.subscriber ?? duplicateClient(opts.redis, 'events-sub');
    // The command connection already reports Redis outages (once per change); this copy must not crash the process with an unhandled 'error'.
    if (this.ownsSubscriber) this.subscriber.on('error', () => undefined);
    this.notifier = new EventNotifier(this.subscriber, this.keys);
    const consumer = opts.instanceId ?? `${process.pid}-${randomUUID().slice(0, 8)}`;
    this.workers = new DeliveryWorkers({
      ...opts.delivery,
      redis: opts.redis,
      store: this.store,
      registry: this.webhooks,
      notifier: this.notifier,
      keys: this.keys,
      apps: this.appIds,
      consumer,
      logger: opts.logger,
      ...(this.metrics ? { metrics: this.metrics } : {}),
    });
    this.sse = createSseHandler({ store: this.store, notifier: this.notifier, logger: opts.logger, ...(this.metrics ? { metrics: this.metrics } : {}), ...opts.sse });
  }

  /** The URL to subscribe at the platform for `appId` (contains the path token: never log or return it). */
  callbackUrl(appId: string): string {
    return callbackUrl(this.opts.callbackBaseUrl, this.opts.callbackSecret, appId);
  }

  /** POST /callbacks/:appId/:token, to mount at the root before authentication. */
  callbackRouter(): Router {
    return createCallbackRouter({
      store: this.store,
      secret: this.opts.callbackSecret,
      hasApp: (a) => this.opts.apps.has(a),
      bodyLimit: this.opts.bodyLimit ?? '256kb',
      ...(this.metrics ? { metrics: this.metrics } : {}),
      logger: this.opts.logger,
      ...(this.opts.onEvent ? { onEvent: this.opts.onEvent } : {}),
    });
  }

  /**
   * Webhooks and the live stream, to mount at /v1/apps/:appId after authentication and app
   * authorization (res.locals.client set): /webhooks, /webhooks/:id, /webhooks/:id/redeliver,
   * /webhooks/:id/deliveries, /events.
   */
  apiRouter(): Router {
    const r = express.Router({ mergeParams: true });
    const json = express.json({ limit: this.opts.bodyLimit ?? '256kb' });
    const app = (req: Request) => String(req.params.appId);
    const route = (name: string) => (_req: Request, res: Response, next: () => void) => {
      res.locals.route = name;
      next();
    };
    r.post('/webhooks', route('webhooks.create'), json, async (req, res) => {
      res.status(201).json(await this.createWebhook(app(req), ownerOf(res), req.body));
    });
    r.get('/webhooks', route('webhooks.list'), async (req, res) => {
      res.json({ webhooks: await this.listWebhooks(app(req), ownerOf(res)) });
    });
    r.get('/webhooks/:id', route('webhooks.get'), async (req, res) => {
      res.json(await this.getWebhook(app(req), ownerOf(res), String(req.params.id)));
    });
    r.delete('/webhooks/:id', route('webhooks.delete'), async (req, res) => {
      await this.deleteWebhook(app(req), ownerOf(res), String(req.params.id));
      res.status(204).end();
    });
    r.post('/webhooks/:id/redeliver', route('webhooks.redeliver'), json, async (req, res) => {
      const ids = (req.body as { eventIds?: unknown } | undefined)?.eventIds;
      if (ids !== undefined && (!Array.isArray(ids) || ids.length > 1000 || ids.some((i) => typeof i !== 'string'))) {
        throw new GatewayError('VALIDATION_FAILED', { details: [{ field: 'eventIds', message: '"eventIds" must be an array of at most 1000 event ids' }] });
      }
      const scheduled = await this.redeliver(app(req), ownerOf(res), String(req.params.id), ids as string[] | undefined);
      res.status(202).json({ scheduled });
    });
    r.get('/webhooks/:id/deliveries', route('webhooks.deliveries'), async (req, res) => {
      res.json({ deliveries: await this.deliveries(app(req), ownerOf(res), String(req.params.id)) });
    });
    r.get('/events', (req, res) => this.sse(req, res));
    return r;
  }

  /** `format`: envelope for /v1 (its route never passes another); raw for subscriptions made through the compat port. */
  async createWebhook(appId: string, owner: string, body: unknown, format: WebhookFormat = 'envelope'): Promise<CreatedWebhook> {
    const created = await this.guard(() => this.webhooks.create(appId, owner, body, format));
    this.opts.onWebhooksChanged?.(appId);
    return created;
  }

  listWebhooks(appId: string, owner: string): Promise<WebhookView[]> {
    return this.guard(() => this.webhooks.list(appId, owner));
  }

  /** 404 for a missing webhook and for another client's alike. */
  async getWebhook(appId: string, owner: string, id: string): Promise<WebhookView> {
    const w = await this.guard(() => this.webhooks.get(appId, owner, id));
    if (!w) throw new GatewayError('NOT_FOUND', { message: 'No such webhook.' });
    return w;
  }

  async deleteWebhook(appId: string, owner: string, id: string): Promise<void> {
    const ok = await this.guard(() => this.webhooks.delete(appId, owner, id));
    if (!ok) throw new GatewayError('NOT_FOUND', { message: 'No such webhook.' });
    this.opts.onWebhooksChanged?.(appId);
  }

  async redeliver(appId: string, owner: string, id: string, eventIds?: readonly string[]): Promise<number> {
    await this.getWebhook(appId, owner, id);
    return this.guard(() => redeliver(this.opts.redis, this.store, this.keys, appId, id, eventIds));
  }

  async deliveries(appId: string, owner: string, id: string): Promise<DeliveryAttempt[]> {
    await this.getWebhook(appId, owner, id);
    return this.guard(() => readDeliveries(this.opts.redis, this.keys, appId, id, this.workers.cfg.logSize));
  }

  /** Every notifyType some webhook of the app wants: what the platform subscriptions must cover. */
  async wantedNotifyTypes(appId: string): Promise<Set<string>> {
    const out = new Set<string>();
    for (const t of await this.webhooks.targets(appId)) for (const n of t.notifyTypes) out.add(n);
    return out;
  }

  /** Subscribes to the apps' notices and starts the delivery workers. Resolves without waiting for Redis. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.subscriber.status === 'wait') await this.subscriber.connect().catch(() => undefined);
    // Subscribing needs the connection; if Redis is away now, ioredis subscribes once it is ready (polling covers the gap).
    const subscribe = () => void this.notifier.subscribe(this.appIds()).catch(() => undefined);
    if (this.subscriber.status === 'ready') subscribe();
    else this.subscriber.once('ready', subscribe);
    this.workers.start();
  }

  /** Ends SSE streams, stops workers (attempts in flight get `graceMs`), closes the owned subscriber. No timer survives. */
  async stop(graceMs?: number): Promise<void> {
    this.started = false;
    await this.sse.closeAll();
    await this.workers.stop(graceMs);
    this.notifier.close();
    if (this.ownsSubscriber) await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }

  /** Redis failures of the webhook API become 503, not 500: the caller may retry. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw new GatewayError('SERVICE_UNAVAILABLE', { message: 'The webhook store is not available now.', cause: err, retryAfter: 1 });
    }
  }
}
