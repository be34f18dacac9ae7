// Events test fixtures: an in-process gateway whose CALLBACK_BASE_URL is its own address, and real HTTP webhook receivers.
import http from 'node:http';
import type net from 'node:net';
import { Writable } from 'node:stream';
import { createGateway } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { closeGracefully, createServer } from '../../src/server.js';
import { ROOT, freePort } from './fixtures.js';

export const CALLBACK_SECRET = 'wiring-test-callback-secret-0123456789abcdef';

/** A gateway in this process whose CALLBACK_BASE_URL is its own address (the port is chosen before the configuration is read). */
export async function startEventsGateway(env: Record<string, string>, opts: { events?: boolean } = {}) {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const eventEnv = opts.events === false ? {} : { CALLBACK_BASE_URL: url, CALLBACK_SECRET };
  const config = loadConfig({ WEBHOOK_TIMEOUT_MS: '1000', SSE_HEARTBEAT_MS: '200', ...env, ...eventEnv, PORT: String(port), HOST: '127.0.0.1' }, ROOT);
  const gateway = createGateway(config, createLogger('debug', sink));
  await gateway.connect(3000);
  const server = createServer(gateway.app, { requestTimeoutMs: config.requestTimeoutMs });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url,
    gateway,
    logs,
    close: async () => {
      gateway.drain();
      await closeGracefully(server, 1000);
      await gateway.close();
    },
  };
}

export interface Receiver {
  url: string;
  got: Array<{ headers: http.IncomingHttpHeaders; body: string }>;
  close(): Promise<void>;
}

/** A real HTTP webhook receiver; `answer` decides each status. */
export async function startReceiver(answer: (n: number, body: string) => number = () => 204): Promise<Receiver> {
  const got: Receiver['got'] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += String(c)));
    req.on('end', () => {
      n += 1;
      const status = answer(n, body);
      if (status >= 200 && status < 300) got.push({ headers: req.headers, body });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

