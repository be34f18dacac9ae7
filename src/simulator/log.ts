// Request logging for the simulator: one pino line per platform call, never with tokens, secrets or bodies.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { pino, type Logger } from 'pino';

export function createLogger(): Logger {
  return pino({ name: 'platform-simulator', level: process.env.LOG_LEVEL ?? 'info' });
}

export function requestLogger(logger: Logger): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    // Routers rewrite req.path for mounted handlers; keep the full path as it arrived.
    const path = req.path;
    const done = (): void => {
      res.off('close', done);
      res.off('finish', done);
      const appKey = req.headers.app_key;
      logger.info(
        {
          method: req.method,
          path,
          status: res.writableFinished ? res.statusCode : 0,
          errorCode: res.locals.errorCode as string | undefined,
          appId: typeof appKey === 'string' ? appKey : undefined,
          ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
        },
        'platform call',
      );
    };
    res.on('finish', done);
    res.on('close', done);
    next();
  };
}
