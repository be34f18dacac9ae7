// The HTTP server around the app: timeouts, an enveloped answer even for requests Node's parser refuses, and a graceful close.
import http from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import { GatewayError, toEnvelope } from './errors.js';

export interface ServerOptions {
  requestTimeoutMs: number;
}

export function createServer(app: Express, opts: ServerOptions): http.Server {
  const server = http.createServer({ requestTimeout: opts.requestTimeoutMs, headersTimeout: Math.min(10_000, opts.requestTimeoutMs) }, app);
  // Longer than a typical client pool's idle timeout, so that the client closes first.
  server.keepAliveTimeout = 65_000;
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
