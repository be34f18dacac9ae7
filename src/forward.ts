// Sends one validated request to the platform: breaker, quota slot, token, call, the 1010005 retry, safe GET retries; failures leave as GatewayErrors made by http/outcomes.ts.
import {
  circuitOpenError,
  freshTokenRejectedError,
  platformErrorToGateway,
  quotaRefusalError,
  tokenFailureError,
  withQuota,
} from './http/outcomes.js';
import type { GatewayError } from './errors.js';
import type { Logger } from './logger.js';
import { PlatformError, type PlatformClient } from './platform/client.js';
import type { AppBreakers, CircuitBreaker } from './platform/breaker.js';
import { PLATFORM_CODE, type CodeCatalog } from './platform/codes.js';
import { quotaHeaders, type QuotaState } from './quota/headers.js';
import type { QuotaLimiter, WaitRequest } from './quota/limiter.js';
import { fillPath, type RouteSpec } from './routes/types.js';
import { retryDelayMs } from './tokens/policy.js';
import type { TokenManager } from './tokens/manager.js';
import { isPlatformOutage } from './tokens/outcome.js';
import type { Metrics } from './metrics.js';

export interface ForwardInput {
  appId: string;
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  /** Absolute epoch ms: PLATFORM_TIMEOUT_MS after the request arrived, retries included. */
  deadline: number;
  log: Logger;
  /** The calling client: its reserve of the app (contract §11) and its per-client metrics. */
  client?: string;
  /** Prefer: wait (contract §11): wait for a slot until then instead of a 429; `seconds` is echoed in Preference-Applied. */
  wait?: WaitRequest & { seconds: number };
}

export interface ForwardResult {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

export interface Forwarder {
  forward(spec: RouteSpec, input: ForwardInput): Promise<ForwardResult>;
  /**
   * The refusal forward() would answer at once for this app and client (its quota known spent, its store lost),
   * without I/O; undefined when a call could be tried. For a front that may refuse before reading the request.
   */
  knownRefusal(appId: string, client: string | undefined): GatewayError | undefined;
}

export function createForwarder(deps: {
  client: PlatformClient;
  tokens: TokenManager;
  limiter: QuotaLimiter;
  /** One circuit per app: one app's failures never pause the others. */
  breakers: AppBreakers;
  /** Maps the platform's codes; says which ones mean an invalid token. */
  catalog: CodeCatalog;
  metrics: Metrics;
  /** How many times an idempotent GET is sent at most, the first try included (Config.platformGetAttempts). */
  getAttempts: number;
}): Forwarder {
  const { client, tokens, limiter, breakers, catalog, metrics, getAttempts } = deps;

  /** Fails fast while the platform is known to be down for this app: no socket, no quota, no token spent. */
  function passBreaker(appId: string, breaker: CircuitBreaker): boolean {
    const verdict = breaker.check(Date.now());
    metrics.breakerOpen.set({ app: appId }, breaker.state === 'open' ? 1 : 0);
    if (!verdict.pass) throw circuitOpenError(verdict.retryAfterMs);
    return verdict.probe;
  }

  return {
    knownRefusal(appId, client) {
      const known = limiter.known(appId, { client });
      return known && quotaRefusalError(known);
    },
    async forward(spec, input) {
      const { appId } = input;
      const breaker = breakers.for(appId);
      const path = fillPath(spec.platform.path, input.params);
      const idempotent = spec.platform.method === 'GET';
      let tokenRetried = false;
      let quota: QuotaState | undefined;
      let applied: string | undefined;
      for (let attempt = 1; ; attempt += 1) {
        // A refusal already known answers without any I/O (the cheap 429 path).
        const known = limiter.known(appId, { client: input.client });
        if (known && !limiter.mayWait(known, input.wait)) throw quotaRefusalError(known);
        const probe = passBreaker(appId, breaker);
        let token: string | undefined;
        let sent = false;
        try {
          const got = await tokens.get(appId, input.deadline, input.client);
          if (!got.ok) {
            // A login or refresh that failed for an outage tells as much as a failed call: without this,
            // a platform down before the first login (or at a renewal) never opens the circuit (faults.test.ts).
            if (isPlatformOutage(got)) breaker.failure(Date.now());
            throw tokenFailureError(got, catalog);
          }
          token = got.token;
          const decision = await limiter.take(appId, { client: input.client, kind: 'call' }, input.wait);
          if (decision.kind === 'refused') throw quotaRefusalError(decision);
          quota = decision.state;
          if (decision.waitedMs !== undefined && input.wait) applied = `wait=${input.wait.seconds}`;
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
            .then(
              (r) => {
                limiter.done(decision.slot);
                return r;
              },
              (err: unknown) => {
                // Never sent (EMFILE…): the slot is given back; any other failure may have reached the platform.
                if (err instanceof PlatformError && err.kind === 'local') limiter.release(decision.slot);
                else limiter.done(decision.slot);
                throw err;
              },
            );
          breaker.success();
          return { status: res.status, body: res.body, headers: { ...quotaHeaders(quota), ...(applied && { 'Preference-Applied': applied }) } };
        } catch (err) {
          if (probe && !sent) breaker.release();
          if (!(err instanceof PlatformError)) throw withQuota(err, quota, sent);
          // No socket could be opened here (EMFILE…): the gateway's outage, not the platform's. The circuit
          // neither opens nor closes, and nothing is retried (a retry would take another quota slot).
          if (err.kind === 'local') {
            if (probe) breaker.release();
            throw withQuota(platformErrorToGateway(err, catalog), quota, false);
          }
          if (err.isOutage) breaker.failure(Date.now());
          else breaker.success();
          const tokenInvalid = catalog.lookup(err.platformCode ?? '')?.meaning === 'token-invalid';
          if (tokenInvalid && !tokenRetried && token !== undefined) {
            // The token was revoked or superseded: renew through the single flight and retry once.
            tokenRetried = true;
            await tokens.invalidate(appId, token);
            input.log.info({ app: appId }, 'platform rejected the token; renewing and retrying once');
            continue;
          }
          if (tokenInvalid) throw withQuota(freshTokenRejectedError(err.platformCode ?? ''), quota);
          // The app's own flow control, exactly (not any code meaning "throttled"): another system spends
          // this app's quota too, so hold the app back instead of hammering the platform.
          if (err.platformCode === PLATFORM_CODE.THROTTLED) {
            const refusal = await limiter.holdBack(appId);
            input.log.warn({ app: appId }, 'platform reported app throttle (1010009); holding back');
            throw quotaRefusalError(refusal);
          }
          const retryable = idempotent && err.isOutage && attempt < getAttempts && err.kind !== 'timeout';
          const delay = retryDelayMs(attempt, Math.random());
          if (retryable && Date.now() + delay < input.deadline - 50) {
            input.log.info({ app: appId, attempt, kind: err.kind }, 'retrying an idempotent platform call');
            await new Promise((r) => setTimeout(r, delay));
            continue;
          }
          throw withQuota(platformErrorToGateway(err, catalog), quota);
        }
      }
    },
  };
}
