// One call through the gateway, whichever front received it: validation, idempotency, forwarding, the answer's shape.
import type { Config } from './config.js';
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
}

export interface Pipeline {
  /** Runs one call; refusals and failures are thrown as GatewayError for the front to shape. */
  run(call: Call): Promise<Answer>;
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

export function createPipeline(deps: { config: Config; forwarder: Forwarder; idempotency: Idempotency }): Pipeline {
  const { config, forwarder, idempotency } = deps;
  return {
    async run(call) {
      const { spec, appId } = call;
      const input = validateRequest(spec, { params: call.params, query: call.query, body: spec.body ? call.body : undefined });
      const deadline = call.startedAt + config.platformTimeoutMs;
      const headers: Record<string, string> = {};
      const send = async () => {
        const platform = toPlatform(spec, appId, input);
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
        return { status: spec.successStatus, body: spec.shapeResponse ? spec.shapeResponse(r.body) : r.body };
      };
      const key = spec.idempotencyKey ? call.idempotencyKey : undefined;
      if (key === undefined) return { ...(await send()), headers };
      Idempotency.checkKey(key);
      const answer = await idempotency.run(
        { prefix: config.redisKeyPrefix, appId, client: call.client, routeId: spec.id, key },
        { params: input.params, query: input.query, body: input.body },
        config.idempotencyPendingMs,
        send,
      );
      return { ...answer, headers };
    },
  };
}
