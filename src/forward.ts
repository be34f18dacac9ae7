// Sends one validated request to the platform: breaker, quota slot, token, call, the 1010005 retry, safe GET retries, error mapping.
import { GatewayError } from './errors.js';
import type { Logger } from './logger.js';
import { PlatformError, type PlatformClient } from './platform/client.js';
import type { CircuitBreaker } from './platform/breaker.js';
import { toGatewayError } from './platform/normalize.js';
import { quotaHeaders, retryAfterSeconds, type QuotaState } from './quota/headers.js';
import { refusalError, type QuotaLimiter } from './quota/limiter.js';
import { fillPath, type RouteSpec } from './routes/types.js';
import { retryDelayMs } from './tokens/policy.js';
import type { TokenManager } from './tokens/manager.js';
import type { Metrics } from './metrics.js';

export interface ForwardInput {
  appId: string;
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  /** Absolute epoch ms: PLATFORM_TIMEOUT_MS after the request arrived, retries included. */
  deadline: number;
  log: Logger;
}

export interface ForwardResult {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

export interface Forwarder {
  forward(spec: RouteSpec, input: ForwardInput): Promise<ForwardResult>;
}

/** How many times an idempotent GET is sent at most (the first try included). */
const GET_ATTEMPTS = 3;

export function createForwarder(deps: {
  client: PlatformClient;
  tokens: TokenManager;
  limiter: QuotaLimiter;
  breaker: CircuitBreaker;
  metrics: Metrics;
}): Forwarder {
  const { client, tokens, limiter, breaker, metrics } = deps;

  /** Fails fast while the platform is known to be down: no socket, no quota, no token spent. */
  function passBreaker(): boolean {
    const verdict = breaker.check(Date.now());
    metrics.breakerOpen.set(breaker.state === 'open' ? 1 : 0);
    if (!verdict.pass) {
      throw new GatewayError('UPSTREAM_UNAVAILABLE', {
        message: 'The platform is failing; calls are paused briefly.',
        retryAfter: retryAfterSeconds(verdict.retryAfterMs),
      });
    }
    return verdict.probe;
  }

  return {
    async forward(spec, input) {
      const { appId } = input;
      const path = fillPath(spec.platform.path, input.params);
      const idempotent = spec.platform.method === 'GET';
      let tokenRetried = false;
      let quota: QuotaState | undefined;
      for (let attempt = 1; ; attempt += 1) {
        // A refusal already known answers without any I/O (the cheap 429 path).
        const known = limiter.known(appId);
        if (known && !known.allowed) throw refusalError(known);
        const probe = passBreaker();
        let token: string | undefined;
        let sent = false;
        try {
          token = await tokens.get(appId, input.deadline);
          const decision = await limiter.take(appId);
          if (!decision.allowed) throw refusalError(decision);
          quota = decision.state;
          sent = true;
          const res = await client
            .call({
              method: spec.platform.method,
              path,
              query: input.query,
              body: spec.body ? input.body : undefined,
              appId,
              token,
              deadline: input.deadline,
            })
            .finally(() => limiter.done(decision.slot));
          breaker.success();
          return { status: res.status, body: res.body, headers: quotaHeaders(quota) };
        } catch (err) {
          if (probe && !sent) breaker.release();
          if (!(err instanceof PlatformError)) {
            // A login or refresh that failed for an outage tells as much as a failed call: without this,
            // a platform down before the first login (or at a renewal) never opens the circuit (faults.test.ts).
            if (!sent && isTokenOutage(err)) breaker.failure(Date.now());
            throw withQuota(err, quota, sent);
          }
          if (err.isOutage) breaker.failure(Date.now());
          else breaker.success();
          if (err.platformCode === '1010005' && !tokenRetried && token !== undefined) {
            // The token was revoked or superseded: renew through the single flight and retry once.
            tokenRetried = true;
            await tokens.invalidate(appId, token);
            input.log.info({ app: appId }, 'platform rejected the token; renewing and retrying once');
            continue;
          }
          if (err.platformCode === '1010005') {
            throw withQuota(
              new GatewayError('UPSTREAM_AUTH_FAILED', {
                platformCode: '1010005',
                message: 'The platform rejected a freshly obtained token.',
              }),
              quota,
            );
          }
          if (err.platformCode === '1010009') {
            // Someone else spends this app's quota too: hold back instead of hammering the platform.
            const refusal = await limiter.holdBack(appId);
            input.log.warn({ app: appId }, 'platform reported app throttle (1010009); holding back');
            throw refusalError(refusal);
          }
          const retryable = idempotent && err.isOutage && attempt < GET_ATTEMPTS && err.kind !== 'timeout';
          const delay = retryDelayMs(attempt, Math.random());
          if (retryable && Date.now() + delay < input.deadline - 50) {
            input.log.info({ app: appId, attempt, kind: err.kind }, 'retrying an idempotent platform call');
            await new Promise((r) => setTimeout(r, delay));
            continue;
          }
          throw withQuota(toGatewayError(err), quota);
        }
      }
    },
  };
}

/** A token failure caused by the platform being unwell: an outage behind the login or refresh, or this replica's own login still unanswered at the deadline. */
function isTokenOutage(err: unknown): boolean {
  return err instanceof GatewayError && err.cause instanceof PlatformError && err.cause.isOutage;
}

/**
 * Every answer of a call that was forwarded carries the quota headers (contract §3 "Headers"); and an
 * error raised before this attempt was sent says so (`sent: false`: an Idempotency-Key is released).
 */
function withQuota(err: unknown, quota: QuotaState | undefined, sent = true): unknown {
  if (!(err instanceof GatewayError)) return err;
  const notSent = !sent && err.sent !== false;
  if ((!quota || err.headers) && !notSent) return err;
  return new GatewayError(err.code, {
    sent: notSent ? false : err.sent,
    message: err.message,
    platformCode: err.platformCode,
    details: err.details,
    retryAfter: err.retryAfter,
    retryable: err.retryable,
    headers: err.headers ?? (quota ? quotaHeaders(quota) : undefined),
    cause: err.cause,
  });
}
