// One call through the gateway, whichever front received it: validation, idempotency, forwarding, the answer's shape.
import type { Config } from './config.js';
import { GatewayError } from './errors.js';
import { scrubCallbackUrls } from './events/callback.js';
import type { Forwarder } from './forward.js';
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

/** While events are on: the gateway's callback for commands (contract §10), and how to recognise it in answers. */
export interface CallbackInjection {
  /** The app's callback URL (holds a secret token: never logged, never answered). */
  urlOf(appId: string): string;
  isGateways(url: string): boolean;
}

export function createPipeline(deps: { config: Config; forwarder: Forwarder; idempotency: Idempotency; callbacks?: CallbackInjection }): Pipeline {
  const { config, forwarder, idempotency, callbacks } = deps;
  return {
    async run(call) {
      const { spec, appId } = call;
      const withCallback = callbacks !== undefined ? spec.platform.callbackUrl : undefined;
      if (withCallback === 'body' && hasOwn(call.body, 'callbackUrl')) {
        // The gateway's callback is the only one while events are on: a caller's would take the command's pushes away from it.
        throw new GatewayError('VALIDATION_FAILED', {
          message: 'The gateway sets callbackUrl while events are on; subscribe with a webhook instead.',
          details: [{ field: 'callbackUrl', message: '"callbackUrl" is set by the gateway' }],
        });
      }
      const input = validateRequest(spec, { params: call.params, query: call.query, body: spec.body ? call.body : undefined });
      const deadline = call.startedAt + config.platformTimeoutMs;
      const headers: Record<string, string> = {};
      const send = async () => {
        const platform = toPlatform(spec, appId, input);
        if (withCallback === 'body' && callbacks) platform.body = { ...(platform.body as Record<string, unknown>), callbackUrl: callbacks.urlOf(appId) };
        const r = await forwarder.forward(spec, {
          appId,
          params: input.params,
          query: platform.query,
          body: platform.body,
          deadline,
          log: call.log,
        });
        Object.assign(headers, r.headers);
        const shaped = spec.shapeResponse ? spec.shapeResponse(r.body) : r.body;
        return { status: spec.successStatus, body: withCallback && callbacks ? scrubCallbackUrls(shaped, callbacks.isGateways) : shaped };
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

const hasOwn = (body: unknown, key: string): boolean =>
  typeof body === 'object' && body !== null && !Array.isArray(body) && Object.prototype.hasOwnProperty.call(body, key);
