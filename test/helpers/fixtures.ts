// Shared test fixtures: a throwaway redis-server, the platform simulator, and gateways in process or as child processes.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGateway, type Gateway } from '../../src/app.js';
import { FAMILIES } from '../../src/families/index.js';
import { routesOf } from '../../src/families/registry.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { closeGracefully, createServer } from '../../src/server.js';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/server.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Every route the gateway serves, as the registry builds them. */
export const ROUTES = routesOf(FAMILIES);

/** The device-upgrade family's routes (the first family; many tests pin its behaviour). */
export const UPGRADE_ROUTES = ROUTES.filter((r) => r.family === 'device-upgrade');

export { freePort, sleep, startRedis, waitFor, type TestRedis } from './servers.js';
import { freePort, startRedis, waitFor, type TestRedis } from './servers.js';

/**
 * A throwaway PKI made with the openssl CLI: `ca.crt`/`ca.key`, `server.crt`/`server.key` (for
 * 127.0.0.1 and localhost, signed by the CA), `client.crt`/`client.key` (signed by the CA), and a
 * self-signed `rogue.crt`/`rogue.key`. Returns the directory.
 */
export function makeTestPki(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iotbff-pki-'));
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=Test CA');
  writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const who of ['server', 'client']) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}`);
    const ext = who === 'server' ? ['-extfile', 'server.ext'] : [];
    ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.crt`, '-days', '1', ...ext);
  }
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rogue.key', '-out', 'rogue.crt', '-days', '1', '-subj', '/CN=rogue');
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Redis

// ---------------------------------------------------------------------------------------------
// Simulator

export interface TestSimulator extends RunningSimulator {
  control(pathname: string, body?: unknown, method?: string): Promise<any>;
  calls(): Promise<SimCalls>;
  reset(): Promise<void>;
}

export interface SimCall {
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  appId?: string;
  status: number;
  errorCode?: string;
  headers: Record<string, string | undefined>;
  body: unknown;
}

export interface SimCalls {
  total: number;
  byApp: Record<string, number>;
  byRoute: Record<string, number>;
  log: SimCall[];
}

export const LOGIN_ROUTE = 'POST /iocm/app/sec/v1.1.0/login';
export const REFRESH_ROUTE = 'POST /iocm/app/sec/v1.1.0/refreshToken';

/**
 * The simulator on a free port with the test apps. `direct`: the suite calls it itself (a simulator test),
 * so the check that a gateway never names another app does not apply.
 */
export async function startTestSimulator(opts: SimulatorOptions = {}, { direct = false } = {}): Promise<TestSimulator> {
  const sim = await startSimulator({ apps: TEST_APPS, quiet: true, ...opts, port: 0 });
  const control = async (pathname: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') => {
    const res = await fetch(`${sim.url}/__control/${pathname}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`simulator control ${pathname}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  // Contract §9, checked for every suite that puts a gateway in front of this simulator: the platform's
  // appId/accessAppId are the gateway's to set, so no call it forwards may name an app other than its own.
  const assertNoForeignApp = async () => {
    if (direct) return;
    // A simulator a test has stopped already has nothing more to tell.
    const calls = (await control('calls').catch(() => undefined)) as SimCalls | undefined;
    for (const c of calls?.log ?? []) {
      const own = c.headers.app_key;
      if (own === undefined) continue;
      const body = c.body !== null && typeof c.body === 'object' ? (c.body as Record<string, unknown>) : {};
      for (const name of ['appId', 'accessAppId']) {
        for (const v of [c.query[name], body[name]]) {
          if (v !== undefined && v !== own) throw new Error(`${c.method} ${c.path} reached the platform naming ${name}=${String(v)} for app ${own}`);
        }
      }
    }
  };
  return {
    ...sim,
    control,
    calls: () => control('calls'),
    reset: async () => {
      await assertNoForeignApp();
      await control('reset', {});
    },
    close: async () => {
      try {
        await assertNoForeignApp();
      } finally {
        await sim.close();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Gateway

export const TEST_APPS = [
  { appId: 'app-a', secret: 'secret-of-app-a-0123456789' },
  { appId: 'app-b', secret: 'secret-of-app-b-0123456789' },
];
/** PLATFORM_APPS for the test apps, each with `ratePerMinute` (raised for suites that are not about the quota). */
export const appsWithRate = (ratePerMinute: number): string =>
  JSON.stringify(TEST_APPS.map((a) => ({ ...a, ratePerMinute })));

export const KEYS = {
  all: 'key-for-all-apps-0123456789abcdef',
  onlyA: 'key-for-app-a-only-0123456789abcd',
};
export const CLIENTS = [
  { name: 'ops-portal', key: KEYS.all, apps: ['*'] },
  { name: 'rollout', key: KEYS.onlyA, apps: ['app-a'] },
];

export function gatewayEnv(simUrl: string, redisUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PLATFORM_URL: simUrl,
    PLATFORM_APPS: JSON.stringify(TEST_APPS),
    GATEWAY_CLIENTS: JSON.stringify(CLIENTS),
    REDIS_URL: redisUrl,
    LOG_LEVEL: 'info',
    PLATFORM_TIMEOUT_MS: '3000',
    TOKEN_LOCK_TTL_MS: '4000',
    REDIS_KEY_PREFIX: `t${Math.random().toString(36).slice(2, 8)}:`,
    // The shared GET cache off: suites about quota, tokens and faults count one platform call per GET. The cache's
    // own suites (cache-gateway.test.ts, the load suite's polling workload) turn it on with CACHE_TTL_SEC.
    CACHE_TTL_SEC: '{"*":0}',
    ...extra,
  };
}

export interface TestGateway {
  url: string;
  gateway: Gateway;
  /** Every log line the gateway wrote, as text. */
  logs: string[];
  close(): Promise<void>;
}

/** A gateway in this process, listening on a free port, its logs captured. */
export async function startGateway(env: Record<string, string>): Promise<TestGateway> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const config = loadConfig({ ...env, PORT: '0', HOST: '127.0.0.1' }, ROOT);
  const gateway = createGateway(config, createLogger(config.logLevel, sink));
  await gateway.connect(3000);
  const server = createServer(gateway.app, config);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    gateway,
    logs,
    close: async () => {
      await closeGracefully(server, 1000);
      await gateway.close();
    },
  };
}

export interface ChildGateway {
  url: string;
  proc: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

/** A gateway as a real child process (`src/main.ts` via tsx), for SIGTERM, SIGKILL and multi-process tests. */
export async function spawnGateway(env: Record<string, string>): Promise<ChildGateway> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d) => (out += String(d)));
  proc.stderr?.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | string>((resolve) =>
    proc.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`gateway exited early:\n${out}`);
      try {
        return (await fetch(`${url}/healthz`)).ok;
      } catch {
        return false;
      }
    },
    20_000,
    'gateway child to listen',
  );
  return { url, proc, output: () => out, exited, kill: (signal = 'SIGTERM') => void proc.kill(signal) };
}

// ---------------------------------------------------------------------------------------------
// Assertions shared by the suites

/** The least an answer must have for assertEnvelope: supertest responses and raw http answers both fit. */
export interface AnswerLike {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body?: any;
  text?: string;
}

/** Asserts the contract's error envelope (status, code, requestId = X-Request-Id, no stack) and returns `error`. */
export function assertEnvelope(res: AnswerLike, status: number, code: string): any {
  const text = res.text ?? JSON.stringify(res.body);
  assert.equal(res.status, status, text.slice(0, 500));
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const e = res.body?.error;
  assert.ok(e, `no error envelope: ${text.slice(0, 300)}`);
  assert.equal(e.code, code);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0);
  assert.equal(typeof e.retryable, 'boolean');
  assert.equal(e.requestId, res.headers['x-request-id']);
  assert.doesNotMatch(text, /\bat .*\.(ts|js):\d+/, 'stack trace in body');
  return e;
}

/** The most calls of `app` the platform saw in any interval of `windowMs`, wherever it starts (its own 1010009 refusals aside). */
export function maxInAnyWindow(log: SimCall[], app: string, windowMs: number): number {
  const times = log
    .filter((c) => c.appId === app && c.errorCode !== '1010009')
    .map((c) => c.at)
    .sort((a, b) => a - b);
  let best = 0;
  let j = 0;
  for (let i = 0; i < times.length; i++) {
    while ((times[j] as number) <= (times[i] as number) - windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/** Closes fixtures in the order given (gateway before simulator before Redis), skipping the ones never started. */
export async function closeAll(...parts: Array<{ close(): Promise<void> } | undefined>): Promise<void> {
  for (const p of parts) await p?.close();
}

export interface Stack {
  redis: TestRedis;
  sim: TestSimulator;
  gw: TestGateway;
}

/**
 * Redis, the simulator and one gateway on them: what most suites start with. `rate` raises both the
 * apps' `ratePerMinute` and the simulator's limit, for suites that are not about the quota.
 */
export async function startStack(
  opts: { ownRedis?: boolean; rate?: number; env?: Record<string, string> } = {},
): Promise<Stack> {
  const redis = await startRedis({ own: opts.ownRedis ?? false });
  const sim = await startTestSimulator(opts.rate ? { ratePerMinute: opts.rate } : {});
  const env = { ...(opts.rate ? { PLATFORM_APPS: appsWithRate(opts.rate) } : {}), ...opts.env };
  const gw = await startGateway(gatewayEnv(sim.url, redis.url, env));
  return { redis, sim, gw };
}
