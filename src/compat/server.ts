// The compat port's listener: HTTPS when COMPAT_TLS_CERT_FILE/KEY_FILE are given (mutual TLS with COMPAT_TLS_CA_FILE), plain HTTP otherwise.
import http from 'node:http';
import https from 'node:https';
import type { Express } from 'express';
import type { Config } from '../config.js';

export function createCompatServer(app: Express, config: Pick<Config, 'compatTls' | 'requestTimeoutMs'>): http.Server {
  const timeouts = { requestTimeout: config.requestTimeoutMs, headersTimeout: Math.min(10_000, config.requestTimeoutMs) };
  const { cert, key, ca } = config.compatTls;
  const server =
    cert && key
      ? https.createServer(
          {
            ...timeouts,
            cert,
            key,
            // A client certificate is then required and must chain to these CAs; without one the handshake fails.
            ...(ca ? { ca, requestCert: true, rejectUnauthorized: true } : {}),
          },
          app,
        )
      : http.createServer(timeouts, app);
  // As the main listener: longer than a client pool's idle timeout, so that the client closes first.
  server.keepAliveTimeout = 65_000;
  return server;
}
