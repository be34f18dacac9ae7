// Per-client request rate (contract §11, "rateLimit"): express-rate-limit with rate-limit-redis over the gateway's ioredis connection, shared by every replica; fails open when Redis is out.
import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { rateLimit, type RateLimitInfo } from 'express-rate-limit';
import type { Cluster, Redis } from 'ioredis';
import { RedisStore } from 'rate-limit-redis';
import type { ClientConfig } from '../config.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { retryAfterSeconds } from '../quota/headers.js';
import { quotaMetrics } from '../quota/metrics.js';
import { respondWithError } from './errors.js';

type Reply = boolean | number | string | Array<boolean | number | string>;

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');

/**
 * rate-limit-redis's commands sent over ioredis. Its SCRIPT LOAD has no key, so on a Cluster it lands on
 * one random primary and the EVALSHA (routed by the key) meets NOSCRIPT on the others, for ever. So
 * SCRIPT LOAD is answered with the script's SHA1 (computed here: it is what Redis would answer) after
 * loading it on every primary as best it can; a primary that missed it answers NOSCRIPT once, the store
 * loads again, and this loads everywhere again. The same makes a Redis that is down at start harmless:
 * the store would otherwise keep the failed load's rejection for ever.
 */
export function sendCommandFor(redis: Redis | Cluster) {
  return async ({ command }: { command: string[] }): Promise<Reply> => {
    const [name, ...args] = command as [string, ...string[]];
    if (name.toUpperCase() === 'SCRIPT' && args[0]?.toUpperCase() === 'LOAD' && args[1] !== undefined) {
      const script = args[1];
      const primaries: Redis[] = 'nodes' in redis && typeof redis.nodes === 'function' && (redis as Cluster).isCluster ? (redis as Cluster).nodes('master') : [redis as Redis];
      await Promise.all(primaries.map((node) => node.script('LOAD', script).catch(() => undefined)));
      return sha1(script);
    }
    return (await redis.call(name, ...args)) as Reply;
  };
}

/** The store's key of a client: a hash tag per client (one slot on a Cluster), and no brace of the name can break it. */
export const clientKey = (name: string): string => `{${name.replace(/[{}]/g, '_')}}`;

export interface ClientRateLimitOptions {
  clients: readonly ClientConfig[];
  redis: Redis | Cluster | null;
  keyPrefix: string;
  metrics: Metrics;
  logger: Logger;
  /** How the front answers a refusal: /v1's envelope by default; the compat front answers in the platform's format. */
  respond?: (err: GatewayError, res: Response) => void;
}

/**
 * One middleware for every client: each client with a `rateLimit` has its own express-rate-limit
 * instance (its own window), the others pass. Runs right after the key check, before body parsing and
 * validation: a runaway caller costs a Redis round trip, never a parse, a validation or a quota slot.
 */
export function clientRateLimit(o: ClientRateLimitOptions): RequestHandler | undefined {
  const limited = o.clients.filter((c) => c.rateLimit);
  if (limited.length === 0) return undefined;
  const qm = quotaMetrics(o.metrics.registry);
  // Logged once per outage: the first store error says so, a later success re-arms it.
  let outageLogged = false;
  const storeLogger = {
    error: (err: unknown) => {
      qm.clientRateStoreErrors.inc();
      if (!outageLogged) {
        outageLogged = true;
        o.logger.warn({ err }, 'client rate limit store unreachable: requests pass without their client rate limit until it is back');
      }
    },
    warn: (err: unknown, msg?: string) => o.logger.warn({ err }, msg ?? 'express-rate-limit warning'),
  };
  const byClient = new Map<string, RequestHandler>();
  // A client over its limit stays over it until its window resets (rate-limit-redis counts a fixed window from
  // the first hit): until then it is refused from memory, without a Redis round trip, as cheap as the quota's
  // known refusals. Hits not counted meanwhile change nothing: the window is already full.
  const blocked = new Map<string, { until: number; policy: string; limit: string }>();
  for (const c of limited) {
    const { requests, windowMs } = c.rateLimit as { requests: number; windowMs: number };
    byClient.set(
      c.name,
      rateLimit({
        windowMs,
        limit: requests,
        // The IETF draft's list syntax: this item goes next to the app quota's ("app"), added later.
        standardHeaders: 'draft-8',
        identifier: 'client',
        legacyHeaders: false,
        keyGenerator: () => clientKey(c.name),
        ...(o.redis && {
          store: new RedisStore({ sendCommandCluster: sendCommandFor(o.redis), prefix: `${o.keyPrefix}client-rate:` }),
        }),
        // A protective limit: a Redis outage must not turn into refusing every caller (the app quota keeps its strict rule).
        passOnStoreError: true,
        logger: storeLogger,
        handler: (req: Request, res: Response) => {
          const info = (req as Request & { rateLimit?: RateLimitInfo }).rateLimit;
          const ms = info?.resetTime ? info.resetTime.getTime() - Date.now() : windowMs;
          blocked.set(c.name, {
            until: Date.now() + ms,
            policy: String(res.getHeader('RateLimit-Policy') ?? ''),
            limit: String(res.getHeader('RateLimit') ?? ''),
          });
          refuse(res, c.name, ms);
        },
      }),
    );
  }
  function refuse(res: Response, client: string, ms: number): void {
    qm.clientRefusals.inc({ client, limit: 'client-rate' });
    (o.respond ?? respondWithError)(new GatewayError('CLIENT_RATE_LIMITED', { retryAfter: retryAfterSeconds(ms) }), res);
  }

  return (req: Request, res: Response, next: NextFunction): void => {
    const name = res.locals.client?.name;
    const limiter = name === undefined ? undefined : byClient.get(name);
    if (!limiter) {
      next();
      return;
    }
    const b = blocked.get(name as string);
    if (b) {
      const ms = b.until - Date.now();
      if (ms > 0) {
        // The same fields as express-rate-limit's own refusal, with the time left.
        if (b.policy) res.setHeader('RateLimit-Policy', b.policy);
        if (b.limit) res.setHeader('RateLimit', b.limit.replace(/t=\d+/, `t=${Math.ceil(ms / 1000)}`));
        refuse(res, name as string, ms);
        return;
      }
      blocked.delete(name as string);
    }
    void limiter(req, res, (err?: unknown) => {
      if ((req as Request & { rateLimit?: RateLimitInfo }).rateLimit) outageLogged = false;
      next(err);
    });
  };
}
