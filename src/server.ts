// The HTTP server around the app: timeouts, bounded connections, an enveloped answer even for requests Node's parser refuses, and a graceful close.
import http from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import { GatewayError, toEnvelope } from './errors.js';

/** The Config fields the server needs (a Config fits); the limits default as the settings table does. */
export interface ServerOptions {
  requestTimeoutMs: number;
  /** HTTP_IDLE_TIMEOUT_MS: a connection silent this long is closed (before its first byte, mid-headers, between requests). */
  httpIdleTimeoutMs?: number;
  /** MAX_CONNECTIONS: further connections are closed as they arrive. */
  maxConnections?: number;
}

/** A connection with a request in flight: its answer is what it waits for, and requestTimeout bounds that. */
function busy(socket: Socket): boolean {
  const res = (socket as Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
  return res !== undefined && res !== null && !res.writableFinished;
}

export function createServer(app: Express, opts: ServerOptions): http.Server {
  const idleMs = opts.httpIdleTimeoutMs ?? 30_000;
  const server = http.createServer(
    {
      requestTimeout: opts.requestTimeoutMs,
      // A request's headers must all arrive within the idle time (a slowloris trickling a byte at a time).
      headersTimeout: Math.min(idleMs, opts.requestTimeoutMs),
      // Between keep-alive requests: the contract's idle time. A client pool should close its idle sockets sooner.
      keepAliveTimeout: idleMs,
      // Node checks headersTimeout and requestTimeout on this interval (30 s by default, which let a 1 s
      // limit run for 30 s): a quarter of the idle time keeps the overshoot small at O(connections) a check.
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(idleMs / 4))),
    },
    app,
  );
  // Each connection costs a file descriptor; past this many, new ones are closed at once instead of
  // starving the sockets to the platform and Redis (issue 17, finding 2).
  server.maxConnections = opts.maxConnections ?? 10_000;
  // headersTimeout only starts with a request's first byte: a connection that never sends one was held
  // forever (issue 17, finding 2). The socket's own inactivity timer closes it; with a listener here, Node
  // leaves the decision to us, so a request in flight (waiting for the platform) is never cut by it.
  server.timeout = idleMs;
  server.on('timeout', (socket: Socket) => {
    if (!busy(socket)) socket.destroy();
  });
  // Node answers some malformed requests (oversized headers, bad syntax) before Express sees them;
  // they still get the contract's envelope rather than a bare status line.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // As Node's own handler: answer only if no answer of an earlier request on this connection has
    // started, or the peer would read a corrupted stream.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (!socket.writable || inFlight?.headersSent) return socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const gwErr = new GatewayError('VALIDATION_FAILED', {
      message: tooLarge ? 'The request headers are too large.' : 'The request could not be parsed.',
    });
    const requestId = randomUUID();
    const body = JSON.stringify(toEnvelope(gwErr, requestId));
    const reason = http.STATUS_CODES[status] ?? 'Bad Request';
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
    // The server keeps half-open sockets (allowHalfOpen): a peer that ignores our FIN and keeps trickling
    // would hold the descriptor forever. It gets a moment to read the answer, then the socket goes.
    setTimeout(() => socket.destroy(), 1000).unref();
  });
  return server;
}

/**
 * Stops accepting, lets requests in flight finish, and closes the remaining connections once
 * `timeoutMs` has passed. Resolves when the server is closed.
 */
export function closeGracefully(server: http.Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
    timer.unref();
    // Node keeps a keep-alive connection open after close() once its request in flight is answered, and
    // serves further requests on it: shutdown then always lasted timeoutMs and cut whatever was running
    // by then (shutdown.test.ts). So: answers from now on say `Connection: close`, and connections are
    // closed as soon as they turn idle.
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    sweep.unref();
    server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.setHeader('Connection', 'close');
    });
    server.close(() => {
      clearTimeout(timer);
      clearInterval(sweep);
      resolve();
    });
    // Keep-alive connections with no request in flight would hold close() open until they time out.
    server.closeIdleConnections();
  });
}
