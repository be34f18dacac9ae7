// The shared store's connection: every command has a deadline, nothing queues behind a dead connection.
import { Redis } from 'ioredis';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export interface RedisOptions {
  url: string;
  commandTimeoutMs: number;
  logger: Logger;
  metrics?: Metrics;
  /** Connection name shown by CLIENT LIST, for operators. */
  name: string;
}

const closedOnPurpose = new WeakSet<Redis>();

/**
 * Whether this process closed the connection itself (quit/disconnect): other listeners of 'close'
 * (the quota limiter's outage detection) use it to tell a shutdown from an outage.
 */
export const closedDeliberately = (redis: Redis): boolean => closedOnPurpose.has(redis);

/**
 * ioredis retries forever and queues commands while disconnected by default (ioredis#776, #1146):
 * both turn a Redis outage into requests that hang. Here a command fails at once while Redis is
 * away (enableOfflineQueue: false), and within commandTimeoutMs while it does not answer; the
 * connection itself keeps reconnecting in the background so that recovery needs no restart.
 */
export function createRedis(opts: RedisOptions): Redis {
  const redis = new Redis(opts.url, {
    lazyConnect: true,
    connectionName: opts.name,
    connectTimeout: Math.max(1000, opts.commandTimeoutMs * 4),
    commandTimeout: opts.commandTimeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    // Reconnect quickly at first, then every second: an outage costs one attempt per second.
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
  });
  let lastState = '';
  // Set when this process closes the connection itself (quit/disconnect at shutdown): the 'close' and
  // 'end' that follow are expected, and a warning for them would page someone for a clean stop.
  let closing = false;
  const report = (state: string, err?: Error) => {
    opts.metrics?.redisUp.set(state === 'ready' ? 1 : 0);
    if (state === lastState) return; // once per change, not once per failed command (ERL#485)
    if (closing && state !== 'ready') {
      if (state === 'end') opts.logger.info({ redis: opts.name }, 'redis connection closed');
      lastState = state;
      return;
    }
    lastState = state;
    if (state === 'ready') opts.logger.info({ redis: opts.name }, 'redis connected');
    else opts.logger.warn({ redis: opts.name, reason: err?.message ?? state }, 'redis unavailable');
  };
  // Marks a deliberate close however the caller asks for it (app.ts quits, falls back to disconnect).
  const quit = redis.quit.bind(redis);
  const disconnect = redis.disconnect.bind(redis);
  redis.quit = ((...args: Parameters<typeof quit>) => {
    closing = true;
    closedOnPurpose.add(redis);
    return quit(...args);
  }) as typeof redis.quit;
  redis.disconnect = (reconnect?: boolean) => {
    if (reconnect !== true) {
      closing = true;
      closedOnPurpose.add(redis);
    }
    disconnect(reconnect);
  };
  redis.on('ready', () => report('ready'));
  redis.on('error', (err: Error) => report('error', err));
  redis.on('end', () => report('end'));
  redis.on('close', () => report('close'));
  return redis;
}

/** Waits for the first connection, but never longer than `ms`: the gateway starts degraded rather than not at all. */
export async function connectWithin(redis: Redis, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  const ready = new Promise<boolean>((resolve) => {
    redis.once('ready', () => resolve(true));
  });
  if (redis.status === 'wait') redis.connect().catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([ready, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const isReady = (redis: Redis | null): boolean => redis !== null && redis.status === 'ready';
