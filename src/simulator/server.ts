// Assembles the simulator: the express app, its state, and the HTTP(S) server behind startSimulator().
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { login, LOGIN_PATH, refresh, REFRESH_PATH } from './auth.js';
import type { CallSummary } from './calllog.js';
import { controlRouter } from './control.js';
import { sendErrorBody, sendPlatformError } from './errors.js';
import { Lifecycle, platformGate } from './gate.js';
import { createLogger, requestLogger } from './log.js';
import { SimulatorState } from './state.js';
import { FAMILIES } from '../families/index.js';
import { SIMULATOR_FAMILIES } from './families/index.js';
import { subscriptionsRouter } from './families/subscriptions/router.js';

export interface SimulatorApp {
  appId: string;
  secret: string;
}

export interface SimulatorOptions {
  apps?: SimulatorApp[];
  ratePerMinute?: number;
  windowMs?: number;
  expiresIn?: number;
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer };
  quiet?: boolean;
  /** SIMULATOR_CONTROL_TOKEN: /__control answers only callers presenting it. */
  controlToken?: string;
}

export const DEMO_APPS: SimulatorApp[] = [
  { appId: 'demo-app', secret: 'demo-secret' },
  { appId: 'demo-app-2', secret: 'demo-secret-2' },
];

export interface RunningSimulator {
  url: string;
  port: number;
  /**
   * The call log as the gateway sent it, tokens and secrets included: for tests in the same process only
   * (the process holds them anyway). Over HTTP, /__control/calls is always redacted.
   */
  rawCalls(since?: number): CallSummary;
  /** Hears every push the platform makes (the body before it is serialized): for tests in the same process, which compare what a receiver got with what was sent. */
  onNotify(listener: (appId: string, body: Record<string, unknown>) => void): () => void;
  close(): Promise<void>;
}

interface Assembled {
  app: Express;
  lifecycle: Lifecycle;
  state: SimulatorState;
}

function assemble(opts: SimulatorOptions): Assembled {
  const apps = new Map((opts.apps ?? DEMO_APPS).map((a) => [a.appId, a.secret]));
  const state = new SimulatorState(apps, {
    ratePerMinute: opts.ratePerMinute ?? 100,
    windowMs: opts.windowMs ?? 60_000,
    expiresIn: opts.expiresIn ?? 3600,
  });
  const lifecycle = new Lifecycle();
  const app = express();
  app.disable('x-powered-by');
  // The platform sends no ETags; express's would turn repeated GETs into 304s a client never expects.
  app.set('etag', false);

  // Health and control are the simulator's own: not platform calls, so neither counted nor throttled.
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.use('/__control', controlRouter(state, opts.controlToken !== undefined ? { token: opts.controlToken } : {}));

  if (!opts.quiet) app.use(requestLogger(createLogger()));
  app.use(platformGate(state, lifecycle));
  app.post(LOGIN_PATH, login(state));
  app.post(REFRESH_PATH, refresh(state));
  // Every family the gateway serves has its stand-in here; a family without one is a mistake, caught at start.
  for (const family of FAMILIES) {
    const part = SIMULATOR_FAMILIES.find((p) => p.name === family.name);
    if (part === undefined) throw new Error(`simulator: no part for the gateway family ${family.name}`);
    app.use(part.router(state));
  }
  // Subscriptions are not a gateway family (the gateway owns them, contract §9), but the platform has them and pushes.
  app.use(subscriptionsRouter(state));

  // No documented code for "no such API"; 100022 "The input is invalid." is the platform's generic
  // validation code, so a client treats a wrong path as a non-retryable input error.
  app.use((_req, res) => sendErrorBody(res, 404, '100022', 'The input is invalid.'));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (!opts.quiet) console.error('simulator: unexpected error', err);
    if (res.headersSent) return void res.destroy();
    sendPlatformError(res, '50252');
  });
  return { app, lifecycle, state };
}

export async function startSimulator(
  opts: SimulatorOptions & { port?: number; host?: string } = {},
): Promise<RunningSimulator> {
  const { app, lifecycle, state } = assemble(opts);
  const server = opts.tls
    ? https.createServer(
        {
          cert: opts.tls.cert,
          key: opts.tls.key,
          ...(opts.tls.ca !== undefined && { ca: opts.tls.ca, requestCert: true, rejectUnauthorized: true }),
        },
        app,
      )
    : http.createServer(app);
  // Longer than any sane client agent idle timeout, so the client, not the server, closes idle sockets.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `${opts.tls ? 'https' : 'http'}://${urlHost(host)}:${port}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      lifecycle.shutdown();
      server.close(() => resolve());
      // Idle keep-alive sockets and hung (fault) requests would otherwise keep close() waiting.
      server.closeAllConnections();
    });
    return closing;
  };
  return { url, port, close, rawCalls: (since) => state.calls.summary(since, { raw: true }), onNotify: (l) => state.onNotify(l) };
}

/** A wildcard bind address is not something a client can dial; point it at loopback instead. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
