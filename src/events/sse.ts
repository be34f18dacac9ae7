// GET /v1/apps/:appId/events as Server-Sent Events: notifyType filter, Last-Event-ID resume from the stream, live tail woken by pub/sub, heartbeats, a bound per client.
import type { Request, Response } from 'express';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { EventMetrics } from './metrics.js';
import { notifyLabel } from './notify.js';
import { Wakeable, type EventNotifier } from './notifier.js';
import { streamIdOf, type EventStore, type StoredEvent } from './store.js';

/** One SSE message. `data` must not contain a newline: JSON.stringify never writes one. */
export function formatSse(e: Omit<StoredEvent, 'raw'>): string {
  const data = JSON.stringify({ id: e.id, appId: e.appId, notifyType: e.notifyType, receivedAt: e.receivedAt, data: e.data });
  return `id: ${e.id}\nevent: ${e.notifyType}\ndata: ${data}\n\n`;
}

export interface SseDeps {
  store: EventStore;
  notifier: EventNotifier;
  logger: Logger;
  metrics?: EventMetrics;
  /** Comment line interval, so that proxies do not close an idle stream (contract: 15 s). */
  heartbeatMs?: number;
  /** Fallback poll when no notice comes (a notice lost during a Redis reconnect). */
  pollMs?: number;
  /** Concurrent streams per client on this replica. */
  maxStreamsPerClient?: number;
  /** The authenticated client's name; the default reads res.locals.client.name set by the gateway's authentication. */
  clientOf?: (req: Request, res: Response) => string;
  /** Deadline of one write before the client is deemed stuck and dropped. */
  writeTimeoutMs?: number;
}

export interface SseHandler {
  (req: Request, res: Response): Promise<void>;
  /** Ends every open stream (shutdown); resolves when they are closed. */
  closeAll(): Promise<void>;
  readonly open: number;
}

const defaultClientOf = (_req: Request, res: Response): string => {
  const c = res.locals.client as { name?: string } | undefined;
  return c?.name ?? 'anonymous';
};

/**
 * The handler, to mount after authentication and app authorization. Errors before the stream starts
 * (bad Last-Event-ID, too many streams, Redis down) are thrown as GatewayError for the error middleware.
 */
export function createSseHandler(deps: SseDeps): SseHandler {
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const pollMs = deps.pollMs ?? 1_000;
  const maxPerClient = deps.maxStreamsPerClient ?? 10;
  const writeTimeoutMs = deps.writeTimeoutMs ?? 30_000;
  const clientOf = deps.clientOf ?? defaultClientOf;
  const perClient = new Map<string, number>();
  const open = new Set<{ end: () => void; done: Promise<void> }>();

  const handler = async (req: Request, res: Response): Promise<void> => {
    res.locals.route = 'events.stream';
    const appId = String(req.params.appId);
    const client = clientOf(req, res);
    const filterParam = typeof req.query.notifyType === 'string' ? req.query.notifyType : '';
    const filter = new Set(filterParam.split(',').map((s) => s.trim()).filter(Boolean));
    const lastEventId = req.get('last-event-id') ?? (typeof req.query.lastEventId === 'string' ? req.query.lastEventId : undefined);
    let cursor: string;
    if (lastEventId !== undefined && lastEventId !== '') {
      const sid = streamIdOf(appId, lastEventId);
      if (!sid) {
        throw new GatewayError('VALIDATION_FAILED', {
          message: 'Last-Event-ID is not an event id of this app.',
          details: [{ field: 'Last-Event-ID', message: 'unknown event id format' }],
        });
      }
      cursor = sid;
    } else {
      try {
        cursor = await deps.store.lastId(appId);
      } catch (err) {
        throw new GatewayError('SERVICE_UNAVAILABLE', { message: 'The event stream is not available now.', cause: err, retryAfter: 1 });
      }
    }
    const count = perClient.get(client) ?? 0;
    if (count >= maxPerClient) {
      // RATE_LIMITED is the catalog's 429; the message says which limit (the integrator may add a dedicated code).
      throw new GatewayError('TOO_MANY_STREAMS', { message: `At most ${maxPerClient} event streams per client are open at once.`, retryAfter: 5 });
    }
    perClient.set(client, count + 1);
    deps.metrics?.sseStreams.inc();

    const sleeper = new Wakeable();
    let closed = false;
    const end = () => {
      if (closed) return;
      closed = true;
      sleeper.wake();
    };
    req.on('close', end);
    res.on('close', end);
    const unlisten = deps.notifier.on(appId, sleeper.wake);

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no'); // nginx would otherwise buffer the stream
    res.flushHeaders();

    /** Writes, waiting for drain when the socket buffer is full; a client that does not read within the deadline is dropped. */
    const write = async (chunk: string): Promise<void> => {
      if (closed) return;
      if (res.write(chunk)) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          end();
          res.destroy();
          resolve();
        }, writeTimeoutMs);
        const done = () => {
          clearTimeout(timer);
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    };

    const heartbeat = setInterval(() => void write(': ping\n\n'), heartbeatMs);
    let lastRedisError = '';
    const loop = async (): Promise<void> => {
      await write('retry: 2000\n\n');
      while (!closed) {
        let events: StoredEvent[] = [];
        try {
          events = await deps.store.readAfter(appId, cursor, 100);
          lastRedisError = '';
        } catch (err) {
          // Redis away: keep the stream (heartbeats continue) and read again after the poll interval.
          const msg = (err as Error).message;
          if (msg !== lastRedisError) deps.logger.warn({ appId, err }, 'event stream: redis unavailable');
          lastRedisError = msg;
        }
        for (const e of events) {
          if (closed) break;
          cursor = e.id.slice(e.id.lastIndexOf(':') + 1);
          if (filter.size > 0 && !filter.has(e.notifyType)) continue;
          await write(formatSse(e));
          deps.metrics?.sseEvents.inc({ notify_type: notifyLabel(e.notifyType) });
        }
        if (events.length < 100 && !closed) await sleeper.sleep(pollMs);
      }
    };
    const entry = { end, done: Promise.resolve() };
    open.add(entry);
    entry.done = loop()
      .catch((err) => deps.logger.warn({ appId, err }, 'event stream ended by an error'))
      .finally(() => {
        clearInterval(heartbeat);
        unlisten();
        open.delete(entry);
        const n = (perClient.get(client) ?? 1) - 1;
        if (n <= 0) perClient.delete(client);
        else perClient.set(client, n);
        deps.metrics?.sseStreams.dec();
        if (!res.writableEnded) res.end();
      });
    await entry.done;
  };

  const h = handler as SseHandler;
  h.closeAll = async () => {
    const all = [...open];
    for (const s of all) s.end();
    await Promise.all(all.map((s) => s.done));
  };
  Object.defineProperty(h, 'open', { get: () => open.size });
  return h;
}
