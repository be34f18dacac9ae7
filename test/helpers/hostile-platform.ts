// A stand-in for a hostile platform on a real HTTP server: logins succeed (unless told otherwise), every other answer is whatever the test says.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Answers one request; `hits` counts the calls (logins excluded) so far, this one included. */
export type HostileHandler = (req: http.IncomingMessage, res: http.ServerResponse, hits: number) => void;

export interface HostilePlatform {
  url: string;
  /** Platform calls other than logins and refreshes received so far. */
  hits(): number;
  logins(): number;
  /** Sets how API calls are answered from now on. */
  answer(handler: HostileHandler): void;
  /** Sets how logins are answered from now on (default: a fresh token valid for an hour). */
  answerLogin(handler: HostileHandler): void;
  close(): Promise<void>;
}

const LOGIN = /\/iocm\/app\/sec\/v1\.1\.0\/(login|refreshToken)$/;

export function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startHostilePlatform(): Promise<HostilePlatform> {
  let hits = 0;
  let logins = 0;
  let handler: HostileHandler = (_req, res) => json(res, 200, { ok: true });
  let loginHandler: HostileHandler = (_req, res, n) =>
    json(res, 200, { accessToken: `token-${n}-${Date.now()}`, refreshToken: `refresh-${n}`, expiresIn: 3600 });
  const server = http.createServer((req, res) => {
    // Drain the request body first, as a real server would, so that the gateway's write never stalls.
    req.resume();
    req.on('end', () => {
      if (LOGIN.test(req.url ?? '')) return loginHandler(req, res, ++logins);
      hits += 1;
      try {
        handler(req, res, hits);
      } catch {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    logins: () => logins,
    answer: (h) => void (handler = h),
    answerLogin: (h) => void (loginHandler = h),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
