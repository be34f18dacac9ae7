// One call through the gateway, whichever front received it: validation, the shared GET cache, idempotency, forwarding (and the cache invalidations of writes), the answer's shape.
import { ttlFor, type GetCache } from './cache/index.js';
import type { Config } from './config.js';
import { GatewayError } from './errors.js';
import { scrubCallbackUrls } from './events/callback.js';
import type { Forwarder } from './forward.js';
import type { WaitRequest } from './quota/waiting.js';
import { Idempotency } from './idempotency.js';
import type { Logger } from './logger.js';
import { toPlatform } from './routes/platform-input.js';
import type { RouteSpec } from './routes/types.js';
import { validateRequest } from './routes/validate.js';

/** A request as a front hands it over: already authenticated and authorized for the app. */
export interface Call {
  spec: RouteSpec;
  appId: string;
  /** The calling client's name (idempotency records and shares are per client). */
  client: string;
  params: Record<string, string>;
  query: unknown;
  body: unknown;
  idempotencyKey?: string;
  /** The caller's `Cache-Control` and `Pragma` request headers, raw (contract §13: `no-cache`, `max-age=N`). */
  cacheControl?: string | readonly string[];
  pragma?: string | readonly string[];
  /** Epoch ms the request arrived: the platform deadline counts from it. */
  startedAt: number;
  /** Prefer: wait=<s> (contract §11), in seconds as asked; honoured up to QUOTA_MAX_WAIT_MS. */
  preferWait?: number;
  /** Aborted when the caller disconnects (a waiting request leaves the line). */
  signal?: AbortSignal;
  log: Logger;
}

/** The gateway's answer; a front shapes it (the /v1 envelope, or the platform's own format). */
export interface Answer {
  status: number;
  body: unknown;
  headers: Record<string, string>;
  replayed?: boolean;
  /**
   * The platform's own status and body, unchanged, for a front that answers in the platform's format (src/compat/);
   * on an Idempotency-Key replay, as kept in the record (absent only in records written before it was kept).
   */
  platform?: { status: number; body: unknown };
  /** A replayed error that was the platform's own code: the HTTP status the platform answered it with. */
  platformStatus?: number;
}

/** What a front knows of a call before reading its body: enough to tell whether it is refused anyway. */
export type EarlyCall = Pick<Call, 'spec' | 'appId' | 'client' | 'idempotencyKey' | 'preferWait'>;

export interface Pipeline {
  /** Runs one call; refusals and failures are thrown as GatewayError for the front to shape. */
  run(call: Call): Promise<Answer>;
  /**
   * The refusal `run` would reach for this call whatever its body, known without I/O: the app's quota spent for
   * this client. A front asks before parsing and validating, so that a caller looping against a spent app costs
   * what a client-rate-limited one does (issue 15; contract §6: limits are checked before the work they bound).
   * Undefined when something could still answer without a platform call (a cached GET, an Idempotency-Key
   * replay) or the caller asks to wait for a slot: `run` decides those.
   */
  refusedEarly(call: EarlyCall): GatewayError | undefined;
}

/** A platform call needs time after its wait: the wait ends this long before the request's deadline. */
const CALL_ALLOWANCE_MS = 1000;

/** The wait a caller asked for, bounded by QUOTA_MAX_WAIT_MS (0 = off) and its own deadline. */
function waitOf(call: Call, config: Config, deadline: number): { wait?: WaitRequest & { seconds: number } } {
  if (call.preferWait === undefined || call.preferWait <= 0 || config.quotaMaxWaitMs <= 0) return {};
  const ms = Math.min(call.preferWait * 1000, config.quotaMaxWaitMs);
  const until = Math.min(Date.now() + ms, deadline - CALL_ALLOWANCE_MS);
  return { wait: { until, seconds: call.preferWait, ...(call.signal && { signal: call.signal }) } };
}

/** While events are on: the gateway's callback for commands (contract §10), and how to recognise it in answers. */
export interface CallbackInjection {
  /** The app's callback URL (holds a secret token: never logged, never answered). */
  urlOf(appId: string): string;
  isGateways(url: string): boolean;
}

export interface PipelineDeps {
  config: Config;
  forwarder: Forwarder;
  idempotency: Idempotency;
  /** The shared GET cache; absent (REDIS_URL=memory) = nothing cached, writes invalidate nothing. */
  cache?: GetCache;
  /**
   * The app's current quota headers without taking a slot, for answers that spent no platform call (a cache hit
   * or a wait for another request's call); `{}` when they cannot be known by the deadline.
   */
  quotaNow?: (appId: string, deadline: number) => Promise<Record<string, string>>;
  /** While events are on: the gateway's callback for commands' callbackUrl (contract §10). */
  callbacks?: CallbackInjection;
}

export function createPipeline(deps: PipelineDeps): Pipeline {
  const { config, forwarder, idempotency, cache, quotaNow, callbacks } = deps;
  return {
    refusedEarly({ spec, appId, client, idempotencyKey, preferWait }) {
      if (spec.idempotencyKey && idempotencyKey !== undefined) return undefined;
      if (preferWait !== undefined && preferWait > 0 && config.quotaMaxWaitMs > 0) return undefined;
      if (cache && spec.cache && spec.method === 'GET' && ttlFor(spec.id, spec.cache, config.cacheTtlSec) > 0) return undefined;
      return forwarder.knownRefusal(appId, client);
    },
    async run(call) {
      const { spec, appId } = call;
      const withCallback = callbacks !== undefined ? spec.platform.callbackUrl : undefined;
      if (withCallback === 'body' && hasOwn(call.body, 'callbackUrl')) {
        // The gateway's callback is the only one while events are on: a caller's would take the command's pushes away from it.
        throw new GatewayError('VALIDATION_FAILED', {
          // Front-neutral wording: the compat front answers it as the platform's 400 100022 with this text.
          message:
            'The gateway sets callbackUrl while events are on; for command status pushes subscribe to commandStatusChanged instead (a webhook, or a subscription through the compat port).',
          details: [{ field: 'callbackUrl', message: '"callbackUrl" is set by the gateway' }],
        });
      }
      // Validation before the cache: an invalid request gets 400 whether or not a valid one is cached (§13).
      const input = validateRequest(spec, { params: call.params, query: call.query, body: spec.body ? call.body : undefined });
      const deadline = call.startedAt + config.platformTimeoutMs;
      const headers: Record<string, string> = {};
      let platformAnswer: Answer['platform'];
      const forward = async () => {
        const platform = toPlatform(spec, appId, input);
        if (withCallback === 'body' && callbacks) platform.body = { ...(platform.body as Record<string, unknown>), callbackUrl: callbacks.urlOf(appId) };
        const r = await forwarder.forward(spec, {
          appId,
          params: input.params,
          query: platform.query,
          body: platform.body,
          deadline,
          log: call.log,
          client: call.client,
          ...waitOf(call, config, deadline),
        });
        Object.assign(headers, r.headers);
        // The gateway's callback URL (a secret) leaves neither front: scrubbed from the platform's body too.
        const body = withCallback && callbacks ? scrubCallbackUrls(r.body, callbacks.isGateways) : r.body;
        platformAnswer = { status: r.status, body };
        return { status: spec.successStatus, body: spec.shapeResponse ? spec.shapeResponse(body) : body };
      };

      if (cache && spec.cache && spec.method === 'GET') {
        // A route with a policy always goes through the cache, so that its answers carry Cache-Status even when
        // configuration turned it off (ttl 0: `fwd=bypass; detail=off`, no Redis touched).
        const r = await cache.fetch(
          {
            appId,
            opId: spec.id,
            params: input.params,
            query: input.query,
            ttlSec: ttlFor(spec.id, spec.cache, config.cacheTtlSec),
            tags: spec.cache.tags?.(input.params, input.query) ?? [],
            ...(call.cacheControl !== undefined && { cacheControl: call.cacheControl }),
            ...(call.pragma !== undefined && { pragma: call.pragma }),
            deadline,
          },
          // What is stored is what the gateway answers (shaped, with its status); the quota headers stay this request's.
          async () => ({ ...(await forward()), headers: { ...headers } }),
        );
        const out: Record<string, string> = { ...r.headers };
        // No slot was taken for this answer: it shows the app's state as it is now (contract §13).
        if ((r.fromCache || r.collapsed) && quotaNow) Object.assign(out, await quotaNow(appId, deadline));
        Object.assign(out, r.cacheHeaders);
        return { status: r.status, body: r.body, headers: out, ...(platformAnswer && { platform: platformAnswer }) };
      }

      const invalidates = cache && spec.invalidates;
      // Inside `send`, so that an Idempotency-Key replay (which makes no platform call) drops nothing again.
      const send = !invalidates
        ? forward
        : async () => {
            // Before the call: a tag function that throws (a bug in a route description) must fail the write unsent,
            // not mask the platform's outcome afterwards.
            const tags = invalidates(input.params, input.body);
            const drop = () =>
              // Its own short deadline: a write that reached the platform must drop its tags even near the request's deadline.
              cache.invalidate(appId, tags, Date.now() + config.redisCommandTimeoutMs);
            let answer;
            try {
              answer = await forward();
            } catch (err) {
              // Failed after being sent (a timeout, a 5xx): the platform may have applied it. Refused before: nothing changed.
              if (!(err instanceof GatewayError && err.sent === false)) await drop();
              throw err;
            }
            await drop();
            return answer;
          };
      const key = spec.idempotencyKey ? call.idempotencyKey : undefined;
      if (key === undefined) return { ...(await send()), headers, ...(platformAnswer && { platform: platformAnswer }) };
      Idempotency.checkKey(key);
      const answer = await idempotency.run(
        { prefix: config.redisKeyPrefix, appId, client: call.client, routeId: spec.id, key },
        { params: input.params, query: input.query, body: input.body },
        config.idempotencyPendingMs,
        // The platform's answer is kept beside the gateway's, so that a replay through either front answers in its format.
        async () => ({ ...(await send()), ...(platformAnswer && { platform: platformAnswer }) }),
      );
      return { ...answer, headers };
    },
  };
}

const hasOwn = (body: unknown, key: string): boolean =>
  typeof body === 'object' && body !== null && !Array.isArray(body) && Object.prototype.hasOwnProperty.call(body, key);
