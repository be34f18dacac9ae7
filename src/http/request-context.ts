// Per-request context: the request id (taken from the caller when well-formed), the request's logger, and one access-log line and metric per answer.
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

declare module 'express-serve-static-core' {
  interface Locals {
    requestId: string;
    log: Logger;
    /** Stable route name for metrics and logs (a RouteSpec id, or an operations endpoint). */
    route?: string;
    /** Epoch ms when the request arrived. */
    startedAt: number;
    /** The path to log instead of the request's, when that holds a credential (the callback's path token). */
    logPath?: string;
  }
}

/**
 * The path as the access log shows it. A callback path carries a credential (its last segment), so it is
 * logged without it whatever answered the request (a 404 for another method too, which no route names).
 */
export function loggablePath(path: string): string {
  return path.startsWith('/callbacks/') ? path.replace(/^(\/callbacks\/[^/]*)(\/.*)?$/, (_, head: string, rest?: string) => (rest ? `${head}/[token]` : head)) : path;
}

export function requestContext(logger: Logger, metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = req.get('x-request-id');
    const requestId = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
    const started = process.hrtime.bigint();
    res.locals.requestId = requestId;
    res.locals.startedAt = Date.now();
    res.locals.log = logger.child({ requestId });
    res.setHeader('X-Request-Id', requestId);
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const labels = { method: req.method, route: res.locals.route ?? 'unmatched', status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, seconds);
      // The path is logged without its query string: queries are the callers' business, not the operators'. The
      // original one: by the time the answer is sent, a router mounted at /v1 has cut its prefix from req.path.
      const url = req.originalUrl;
      const q = url.indexOf('?');
      res.locals.log.info(
        { method: req.method, path: res.locals.logPath ?? loggablePath(q === -1 ? url : url.slice(0, q)), route: labels.route, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10 },
        'request',
      );
    });
    next();
  };
}
