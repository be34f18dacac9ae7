// `npm run bench`: the simulator, a bare Node proxy and the gateway's forwarding, cache-hit, 429 and validation paths, interleaved in one run; one table, one JSON.
//
// Every server runs as its own process, so that CPU time (/proc/<pid>/stat, all threads) and RSS are per
// process. Light load is an open loop paced by this script (BENCH_LIGHT_RATE requests/s over
// BENCH_LIGHT_CONNECTIONS connections): autocannon's own rate option is a per-second budget that each
// connection spends in one burst (lib/httpClient.js), which measures queueing, not the cost of a hop.
// Saturation is autocannon with BENCH_CONNECTIONS connections. The load generator shares the machine with
// the servers; its CPU per request is reported too.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Pool, request } from 'undici';
import { freePort, startRedis } from '../test/helpers/servers.js';
import { callbackToken } from '../src/events/callback.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = path.join(ROOT, 'bench', 'results');

// ---------------------------------------------------------------------------------------------
// Knobs

function knob(name: string, fallback: number, integer = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'}, not ${JSON.stringify(raw)}`);
  }
  return n;
}

const KNOBS = {
  /** Seconds of each measured run (light and saturation alike). */
  duration: knob('BENCH_DURATION', 2),
  /** 5, not 3: on these shared machines one round's req/s can be half the next one's (docs/performance.md, issue 15). */
  rounds: knob('BENCH_ROUNDS', 5, true),
  /** autocannon connections at saturation. */
  connections: knob('BENCH_CONNECTIONS', 32, true),
  lightRate: knob('BENCH_LIGHT_RATE', 200),
  lightConnections: knob('BENCH_LIGHT_CONNECTIONS', 8, true),
  /** Seconds of saturation per target before anything is measured (a cold Node is 2-3× slower). */
  warmup: knob('BENCH_WARMUP', 2),
  logLevel: process.env.BENCH_LOG_LEVEL || 'info',
  /** `compiled` (default): tsc output, as `npm start` runs it; `tsx`: straight from the sources. */
  runtime: process.env.BENCH_RUNTIME === 'tsx' ? ('tsx' as const) : ('compiled' as const),
  cpuProf: process.env.BENCH_CPU_PROF === '1',
  /**
   * Node flags of the gateways: by default those of `npm start` (package.json), which the Dockerfile's CMD
   * repeats (test/compose.test.ts), so that the bench measures the gateway as it runs; set to compare others.
   */
  gatewayFlags: (process.env.BENCH_GATEWAY_FLAGS ?? startFlags()).split(/\s+/).filter(Boolean),
};

/** The Node flags of package.json's `start` script (`node <flags> dist/main.js`). */
function startFlags(): string {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  return (pkg.scripts.start ?? '').split(/\s+/).filter((t) => t.startsWith('--')).join(' ');
}

// ---------------------------------------------------------------------------------------------
// autocannon has no type declarations: the little of it that is used, typed here.

interface CannonResult {
  errors: number;
  timeouts: number;
}
type Cannon = (opts: Record<string, unknown>, done: (err: Error | null, result: CannonResult) => void) => EventEmitter;
const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;

// ---------------------------------------------------------------------------------------------
// Processes and what /proc says about them

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU of a process, all threads (GC and libuv included), in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name, which may itself contain spaces; utime and stime are fields 14 and 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  url: string;
  stderr: () => string;
}

const procs: Proc[] = [];
/** Servers started through the test helpers, stopped with the processes. */
const stoppers: Array<() => Promise<void>> = [];

/** A process whose CPU time is accounted for. */
interface Watched {
  name: string;
  pid: number;
  url: string;
}

function start(name: string, cmd: string, args: string[], env: Record<string, string>, url: string): Proc {
  // Logs go to /dev/null: written (and paid for) as in production, but not read back by this process.
  const devNull = openSync('/dev/null', 'w');
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', devNull, 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d) => (err = (err + String(d)).slice(-8000)));
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const p = { name, child, pid: child.pid, url, stderr: () => err };
  procs.push(p);
  return p;
}

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    const dead = procs.find((p) => p.child.exitCode !== null);
    if (dead) throw new Error(`${dead.name} exited early:\n${dead.stderr()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const httpOk = (url: string) => async () => (await request(url).then(async (r) => (await r.body.dump(), r.statusCode))) === 200;

async function stopAll(): Promise<void> {
  await Promise.all(
    procs.map(async (p) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) return;
      const exited = new Promise((r) => p.child.once('exit', r));
      p.child.kill('SIGTERM');
      // The gateway writes its CPU profile on a clean exit; give it the time for that.
      if ((await Promise.race([exited, sleep(15_000, 'stuck')])) === 'stuck') p.child.kill('SIGKILL');
    }),
  );
  await Promise.all(stoppers.splice(0).map((stop) => stop().catch(() => undefined)));
}

// ---------------------------------------------------------------------------------------------
// What runs: production runs `node dist/main.js`. Under tsx, Node 20 runs the loader hooks on a thread of
// their own for the life of the process (~30 MB more RSS, measured idle), which would be charged to every
// row. So the servers run from a tsc build in a temporary directory, keyed by the sources' hash.

interface Runtime {
  kind: 'compiled' | 'tsx';
  /** Node arguments that run the TypeScript file `rel` (relative to the repository). */
  args(rel: string): string[];
  note: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

const tsxRuntime = (note: string): Runtime => ({ kind: 'tsx', args: (rel) => ['--import', 'tsx', rel], note });

function prepareRuntime(): Runtime {
  if (KNOBS.runtime === 'tsx') return tsxRuntime('tsx (BENCH_RUNTIME=tsx)');
  const inputs = [...sourceFiles(path.join(ROOT, 'src')), path.join(ROOT, 'bench', 'bare-proxy.ts'), path.join(ROOT, 'bench', 'floor.ts'), path.join(ROOT, 'tsconfig.json')];
  const hash = createHash('sha256');
  for (const file of inputs.sort()) hash.update(file).update(readFileSync(file));
  const dir = path.join(os.tmpdir(), 'iot-bff-bench', hash.digest('hex').slice(0, 16));
  const entryIn = (root: string, rel: string) => path.join(root, 'dist', rel.replace(/\.ts$/, '.js'));
  const entry = (rel: string) => entryIn(dir, rel);
  if (!existsSync(entry('src/main.ts'))) {
    // Built aside and renamed into place, so that an interrupted build is never taken for a finished one.
    const work = `${dir}.${process.pid}`;
    mkdirSync(work, { recursive: true });
    // Bare imports resolve through this link; "type" must be said again, since the lookup stops at the temp dir.
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(work, 'node_modules'), 'dir');
    writeFileSync(path.join(work, 'package.json'), '{"type":"module"}\n');
    const tsconfig = path.join(work, 'tsconfig.json');
    writeFileSync(
      tsconfig,
      JSON.stringify({
        extends: path.join(ROOT, 'tsconfig.json'),
        compilerOptions: { rootDir: ROOT, outDir: path.join(work, 'dist'), types: ['node'], sourceMap: false },
        include: [path.join(ROOT, 'src'), path.join(ROOT, 'bench', 'bare-proxy.ts'), path.join(ROOT, 'bench', 'floor.ts')],
      }),
    );
    process.stdout.write('compiling the sources for the bench (once per version of them)…\n');
    try {
      execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig], { stdio: 'pipe' });
    } catch (err) {
      // Type errors still emit JavaScript; only a missing entry point is fatal for this mode.
      const text = String((err as { stdout?: Buffer }).stdout ?? '').trim().split('\n').slice(0, 3).join('; ');
      process.stdout.write(`tsc reported problems (${text})\n`);
    }
    if (existsSync(entryIn(work, 'src/main.ts'))) {
      try {
        renameSync(work, dir);
      } catch {
        rmSync(work, { recursive: true, force: true }); // another run finished the same build first
      }
    } else {
      rmSync(work, { recursive: true, force: true });
    }
  }
  if (!existsSync(entry('src/main.ts'))) return tsxRuntime('tsx (the tsc build failed)');
  return { kind: 'compiled', args: (rel) => [entry(rel)], note: `compiled with tsc (${path.relative(os.tmpdir(), dir)} in ${os.tmpdir()})` };
}

// ---------------------------------------------------------------------------------------------
// The set-up: Redis, the simulator, the bare proxy and one gateway, each a process of its own

const APPS = {
  direct: { appId: 'bench-direct', secret: 'bench-direct-secret-0123456789' },
  gateway: { appId: 'bench-gw', secret: 'bench-gw-secret-0123456789', ratePerMinute: 1_000_000 },
  // One call a minute: the login takes it, and from then on the app is known to be exhausted.
  limited: { appId: 'bench-limited', secret: 'bench-limited-secret-0123456789', ratePerMinute: 1 },
  // The in-process-store gateway's own app: a login of one gateway must not revoke the other's token.
  memory: { appId: 'bench-mem', secret: 'bench-mem-secret-0123456789', ratePerMinute: 1_000_000 },
  // The caching gateway's own app, so that its quota and token are its own too.
  cached: { appId: 'bench-cache', secret: 'bench-cache-secret-0123456789', ratePerMinute: 1_000_000 },
};
const API_KEY = 'bench-client-key-0123456789abcdef';
/** A client whose own request rate (contract §11) is used up by the first request: every later one is the client-limited 429. */
const CLIENT_LIMITED_KEY = 'bench-client-limited-key-0123456789';
// Events (issue 12): the callback row posts the same ~500-byte push; dedupe is off on the bench gateway
// (EVENTS_DEDUPE_MS=0) so that every push is stored (XADD), which is the cost to measure.
const CALLBACK_SECRET = 'bench-callback-secret-0123456789abcdef-0123';
const DEVICE_DATA_PUSH = JSON.stringify({
  notifyType: 'deviceDataChanged',
  requestId: null,
  deviceId: '5f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8',
  gatewayId: '5f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8',
  service: {
    serviceId: 'WaterMeter',
    serviceType: 'WaterMeter',
    data: { currentReading: 46.3, signalStrength: -85, batteryLevel: 87, temperature: 21.5, pressure: 1.013, flowRate: 0.42, alarm: 0, valveState: 'OPEN' },
    eventTime: '20261130T044000Z',
  },
  extra: 'x'.repeat(120),
});
const PLATFORM_LIST = '/iodm/northbound/v1.5.0/category';

/** About 300 bytes, well-formed JSON, refused by Joi (devices and deviceGroups together: 123023). */
const INVALID_TASK = JSON.stringify({
  fileId: 'pkg-firmware-v2.1.0',
  targets: {
    devices: ['dev-000001', 'dev-000002', 'dev-000003', 'dev-000004'],
    deviceGroups: ['group-north', 'group-south'],
    deviceType: 'WaterMeter',
    model: 'WM-200',
    manufacturerName: 'Acme',
  },
  policy: { executeType: 'custom', startTime: '20300101T000000Z', endTime: '20300101T010000Z', retryType: true, retryTimes: 3 },
});

interface Target {
  id: 'direct' | 'bare' | 'floor' | 'forward' | 'memory' | 'hit' | 'limited' | 'clientLimited' | 'invalid' | 'callback';
  label: string;
  /** The process whose CPU and RSS are this target's. */
  proc: Proc;
  origin: string;
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** Statuses that are this path's normal answer. */
  expect: number[];
}

async function setUp(rt: Runtime): Promise<{ targets: Target[]; sim: Proc; redis: Watched; gateway: Proc }> {
  const [simPort, barePort, gwPort, memPort, cachePort, floorPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  // The tests' own throwaway redis-server (test/helpers/servers.ts), never the machine's.
  const testRedis = await startRedis({ own: true });
  stoppers.push(() => testRedis.close());
  const redis: Watched = { name: 'redis', pid: testRedis.pid() as number, url: testRedis.url };
  const simUrl = `http://127.0.0.1:${simPort}`;
  const sim = start(
    'simulator',
    process.execPath,
    rt.args('src/simulator/main.ts'),
    {
      SIMULATOR_PORT: String(simPort),
      SIMULATOR_HOST: '127.0.0.1',
      PLATFORM_APPS: JSON.stringify(Object.values(APPS).map(({ appId, secret }) => ({ appId, secret }))),
      // Its per-call log line is not what is measured here.
      LOG_LEVEL: 'silent',
    },
    simUrl,
  );
  const bare = start(
    'bare-proxy',
    process.execPath,
    rt.args('bench/bare-proxy.ts'),
    { BARE_PROXY_PORT: String(barePort), BARE_PROXY_UPSTREAM: simUrl },
    `http://127.0.0.1:${barePort}`,
  );
  // The floor (issue 15): the least any Express-based refusal costs on this machine, measured in the same run.
  const floor = start('floor', process.execPath, rt.args('bench/floor.ts'), { FLOOR_PORT: String(floorPort) }, `http://127.0.0.1:${floorPort}`);
  await until('simulator', httpOk(`${simUrl}/healthz`));

  if (KNOBS.cpuProf) mkdirSync(path.join(RESULTS, 'profiles'), { recursive: true });
  // Written when the gateway exits (SIGTERM at the end of the run); open it in Chrome DevTools or speedscope.
  const prof = KNOBS.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', path.join(RESULTS, 'profiles')] : [];
  const gateway = start(
    'gateway',
    process.execPath,
    [...prof, ...KNOBS.gatewayFlags, ...rt.args('src/main.ts')],
    {
      PORT: String(gwPort),
      HOST: '127.0.0.1',
      PLATFORM_URL: simUrl,
      PLATFORM_APPS: JSON.stringify([APPS.gateway, APPS.limited]),
      GATEWAY_CLIENTS: JSON.stringify([
        { name: 'bench', key: API_KEY, apps: ['*'] },
        { name: 'bench-limited', key: CLIENT_LIMITED_KEY, apps: ['*'], rateLimit: { requests: 1, windowSec: 86_400 } },
      ]),
      REDIS_URL: testRedis.url,
      LOG_LEVEL: KNOBS.logLevel,
      CALLBACK_BASE_URL: `http://127.0.0.1:${gwPort}`,
      CALLBACK_SECRET,
      EVENTS_DEDUPE_MS: '0',
      // The forwarding, 429 and validation rows measure the platform path: no answer of this gateway is cached.
      CACHE_TTL_SEC: '{"*":0}',
    },
    `http://127.0.0.1:${gwPort}`,
  );
  // The same gateway with the shared GET cache on (the routes' own TTLs: the package list for 60 s), its own
  // process so that the CPU of a cache hit is measured apart from the forwarding row's, on the same route.
  const gatewayCache = start(
    'gateway-cache',
    process.execPath,
    [...KNOBS.gatewayFlags, ...rt.args('src/main.ts')],
    {
      PORT: String(cachePort),
      HOST: '127.0.0.1',
      PLATFORM_URL: simUrl,
      PLATFORM_APPS: JSON.stringify([APPS.cached]),
      GATEWAY_CLIENTS: JSON.stringify([{ name: 'bench', key: API_KEY, apps: ['*'] }]),
      REDIS_URL: testRedis.url,
      LOG_LEVEL: KNOBS.logLevel,
    },
    `http://127.0.0.1:${cachePort}`,
  );
  // The same gateway with the in-process store: no Redis round trip for quota or token. The difference
  // between the two forwarding rows is what the shared limiter costs (issue 4).
  const gatewayMem = start(
    'gateway-memory',
    process.execPath,
    [...KNOBS.gatewayFlags, ...rt.args('src/main.ts')],
    {
      PORT: String(memPort),
      HOST: '127.0.0.1',
      PLATFORM_URL: simUrl,
      PLATFORM_APPS: JSON.stringify([APPS.memory]),
      GATEWAY_CLIENTS: JSON.stringify([{ name: 'bench', key: API_KEY, apps: ['*'] }]),
      REDIS_URL: 'memory',
      LOG_LEVEL: KNOBS.logLevel,
    },
    `http://127.0.0.1:${memPort}`,
  );
  await until('bare proxy', async () => (await request(bare.url).then(async (r) => (await r.body.dump(), true))) === true);
  await until('gateway', httpOk(`${gateway.url}/readyz`));
  await until('gateway (in-process store)', httpOk(`${gatewayMem.url}/readyz`));
  await until('gateway (cache)', httpOk(`${gatewayCache.url}/readyz`));

  // The platform's own flow control would otherwise be what the forwarding path measures.
  const cfg = await request(`${simUrl}/__control/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ratePerMinute: 1_000_000_000 }),
  });
  if (cfg.statusCode !== 200) throw new Error(`simulator control: ${cfg.statusCode} ${await cfg.body.text()}`);
  await cfg.body.dump();

  // The direct and bare-proxy paths call the platform as the gateway would: with a token of their own app.
  const login = await request(`${simUrl}/iocm/app/sec/v1.1.0/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ appId: APPS.direct.appId, secret: APPS.direct.secret }).toString(),
  });
  const { accessToken } = (await login.body.json()) as { accessToken: string };
  const platformHeaders = { app_key: APPS.direct.appId, authorization: `Bearer ${accessToken}`, accept: 'application/json' };
  const gwHeaders = { 'x-api-key': API_KEY };

  const targets: Target[] = [
    { id: 'direct', label: 'simulator directly', proc: sim, origin: simUrl, path: PLATFORM_LIST, method: 'GET', headers: platformHeaders, expect: [200] },
    { id: 'bare', label: 'bare Node proxy', proc: bare, origin: bare.url, path: PLATFORM_LIST, method: 'GET', headers: platformHeaders, expect: [200] },
    {
      id: 'forward',
      label: 'gateway: forwarding',
      proc: gateway,
      origin: gateway.url,
      path: `/v1/apps/${APPS.gateway.appId}/packages`,
      method: 'GET',
      headers: gwHeaders,
      expect: [200],
    },
    {
      id: 'memory',
      label: 'gateway: forwarding, no Redis',
      proc: gatewayMem,
      origin: gatewayMem.url,
      path: `/v1/apps/${APPS.memory.appId}/packages`,
      method: 'GET',
      headers: gwHeaders,
      expect: [200],
    },
    {
      id: 'hit',
      label: 'gateway: cache hit',
      proc: gatewayCache,
      origin: gatewayCache.url,
      path: `/v1/apps/${APPS.cached.appId}/packages`,
      method: 'GET',
      headers: gwHeaders,
      // Once a minute the entry expires and one request forwards (and stores it again).
      expect: [200],
    },
    {
      id: 'floor',
      label: 'floor: Express 5 + request id + helmet, one 429',
      proc: floor,
      origin: floor.url,
      path: `/v1/apps/${APPS.limited.appId}/packages`,
      method: 'GET',
      headers: gwHeaders,
      expect: [429],
    },
    {
      id: 'limited',
      label: 'gateway: 429 path',
      proc: gateway,
      origin: gateway.url,
      path: `/v1/apps/${APPS.limited.appId}/packages`,
      method: 'GET',
      headers: gwHeaders,
      // Once a minute the app's slot frees and one call goes through, as it should.
      expect: [429, 200],
    },
    {
      id: 'clientLimited',
      label: 'gateway: client-limited 429 path',
      proc: gateway,
      origin: gateway.url,
      path: `/v1/apps/${APPS.gateway.appId}/packages`,
      method: 'GET',
      headers: { 'x-api-key': CLIENT_LIMITED_KEY },
      expect: [429],
    },
    {
      id: 'invalid',
      label: 'gateway: validation failure',
      proc: gateway,
      origin: gateway.url,
      path: `/v1/apps/${APPS.gateway.appId}/upgrade-tasks/software`,
      method: 'POST',
      headers: { ...gwHeaders, 'content-type': 'application/json' },
      body: INVALID_TASK,
      expect: [400],
    },
    {
      id: 'callback',
      label: 'gateway: callback (push stored)',
      proc: gateway,
      origin: gateway.url,
      path: `/callbacks/${APPS.gateway.appId}/${callbackToken(CALLBACK_SECRET, APPS.gateway.appId)}`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: DEVICE_DATA_PUSH,
      expect: [200],
    },
  ];

  // Each path answers as it should before anything is measured (and the limited app gets exhausted).
  for (const t of targets) {
    let status = 0;
    for (let i = 0; i < 5; i++) {
      const r = await request(t.origin + t.path, { method: t.method, headers: t.headers, body: t.body ?? null });
      await r.body.dump();
      status = r.statusCode;
      if (status === t.expect[0]) break;
    }
    if (status !== t.expect[0]) throw new Error(`${t.label}: answered ${status}, expected ${t.expect[0]}`);
  }
  return { targets, sim, redis, gateway };
}

// ---------------------------------------------------------------------------------------------
// Load

interface Load {
  latencies: number[];
  statuses: Record<string, number>;
  errors: number;
  seconds: number;
}

const pct = (sorted: number[], p: number): number =>
  sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number);

/** Open loop: one request every 1/rate s whatever the answers do, on a pool of kept-alive connections. */
async function paced(t: Target, pool: Pool, rate: number, seconds: number): Promise<Load> {
  const n = Math.max(1, Math.round(rate * seconds));
  const interval = 1000 / rate;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const inflight: Array<Promise<void>> = [];
  const t0 = performance.now() + 5;
  for (let i = 0; i < n; i++) {
    const wait = t0 + i * interval - performance.now();
    if (wait >= 1) await sleep(wait);
    const sent = performance.now();
    inflight.push(
      pool.request({ path: t.path, method: t.method, headers: t.headers, body: t.body ?? null }).then(
        async (res) => {
          await res.body.dump();
          latencies.push(performance.now() - sent);
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        },
        () => void (errors += 1),
      ),
    );
  }
  await Promise.all(inflight);
  return { latencies, statuses, errors, seconds: (performance.now() - t0) / 1000 };
}

/** Closed loop at saturation: autocannon, with every latency kept at full resolution (its histogram keeps whole ms). */
function saturate(t: Target, seconds: number): Promise<Load> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const statuses: Record<string, number> = {};
    const started = performance.now();
    const instance = autocannon(
      {
        url: t.origin + t.path,
        method: t.method,
        headers: t.headers,
        body: t.body,
        connections: KNOBS.connections,
        pipelining: 1,
        duration: seconds,
        timeout: 10,
      },
      (err, result) => {
        if (err) return reject(err);
        resolve({ latencies, statuses, errors: result.errors + result.timeouts, seconds: (performance.now() - started) / 1000 });
      },
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      latencies.push(ms);
      statuses[status] = (statuses[status] ?? 0) + 1;
    });
  });
}

interface RunResult {
  mode: 'light' | 'saturation';
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  /** CPU µs per answered request: the process under test, the simulator, Redis, and this load generator. */
  cpuUs: { server: number; simulator: number; redis: number; client: number };
  peakRssMb: number;
  unexpected: number;
  statuses: Record<string, number>;
  errors: number;
}

async function measure(
  t: Target,
  mode: RunResult['mode'],
  seconds: number,
  ctx: { pools: Map<string, Pool>; sim: Proc; redis: Watched },
): Promise<RunResult> {
  // The simulator's call log is its own memory, not a cost of the path under test.
  await request(`${ctx.sim.url}/__control/calls`, { method: 'DELETE' }).then((r) => r.body.dump());
  const watched = [t.proc, ctx.sim, ctx.redis];
  const before = watched.map((p) => cpuMs(p.pid));
  const clientBefore = process.cpuUsage();
  let peakKb = statusKb(t.proc.pid, 'VmRSS');
  const sampler = setInterval(() => (peakKb = Math.max(peakKb, statusKb(t.proc.pid, 'VmRSS'))), 100);
  let load: Load;
  try {
    load = mode === 'light' ? await paced(t, ctx.pools.get(t.id) as Pool, KNOBS.lightRate, seconds) : await saturate(t, seconds);
  } finally {
    clearInterval(sampler);
  }
  const clientCpu = process.cpuUsage(clientBefore);
  const after = watched.map((p) => cpuMs(p.pid));
  const n = load.latencies.length;
  const perReq = (ms: number) => (n === 0 ? NaN : (ms * 1000) / n);
  const sorted = load.latencies.sort((a, b) => a - b);
  let unexpected = load.errors;
  for (const [status, count] of Object.entries(load.statuses)) if (!t.expect.includes(Number(status))) unexpected += count;
  return {
    mode,
    requests: n,
    rps: n / load.seconds,
    p50: pct(sorted, 50),
    p99: pct(sorted, 99),
    cpuUs: {
      server: perReq((after[0] as number) - (before[0] as number)),
      // For the simulator's own row these repeat the server column.
      simulator: perReq((after[1] as number) - (before[1] as number)),
      redis: perReq((after[2] as number) - (before[2] as number)),
      client: perReq((clientCpu.user + clientCpu.system) / 1000),
    },
    peakRssMb: Math.max(peakKb, statusKb(t.proc.pid, 'VmRSS')) / 1024,
    unexpected,
    statuses: load.statuses,
    errors: load.errors,
  };
}

// ---------------------------------------------------------------------------------------------
// Summary

/** One path's medians over the rounds (and its peak, which is a maximum). */
interface PathSummary {
  label: string;
  rps: number;
  lightP50: number;
  lightP99: number;
  saturationP50: number;
  saturationP99: number;
  cpuUsPerReq: number;
  lightCpuUsPerReq: number;
  upstreamCpuUsPerReq: { simulator: number; redis: number };
  clientCpuUsPerReq: number;
  peakRssMb: number;
  unexpected: number;
  requests: number;
}

const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const f = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '–');

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: Number(execFileSync('nproc').toString().trim()),
    node: process.version,
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
  };
}

async function main(): Promise<void> {
  const began = Date.now();
  const m = machine();
  const rt = prepareRuntime();
  process.stdout.write(
    `iot-bff bench: ${m.nproc} CPUs (${m.cpu}), Node ${m.node}; ${KNOBS.rounds} rounds of ${KNOBS.duration} s runs, ` +
      `light ${KNOBS.lightRate} req/s over ${KNOBS.lightConnections} connections, saturation ${KNOBS.connections} connections; ` +
      `servers ${rt.note}; gateway LOG_LEVEL=${KNOBS.logLevel}, node flags: ${KNOBS.gatewayFlags.join(' ') || 'none'}${KNOBS.cpuProf ? ', CPU profile on' : ''}\n`,
  );
  const { targets, sim, redis, gateway } = await setUp(rt);
  const pools = new Map(targets.map((t) => [t.id, new Pool(t.origin, { connections: KNOBS.lightConnections, pipelining: 1 })]));
  const ctx = { pools, sim, redis };
  let output: { text: string; json: Record<string, unknown>; file: string } | undefined;
  try {
    process.stdout.write(`warming up (${KNOBS.warmup} s per path)…\n`);
    for (const t of targets) await saturate(t, KNOBS.warmup);

    const runs = new Map<Target['id'], { light: RunResult[]; saturation: RunResult[] }>(
      targets.map((t) => [t.id, { light: [], saturation: [] }]),
    );
    for (let r = 0; r < KNOBS.rounds; r++) {
      // Each round starts with another path, so that no path always runs right after the same neighbour.
      const order = targets.map((_, i) => targets[(i + r) % targets.length] as Target);
      for (const mode of ['light', 'saturation'] as const) {
        for (const t of order) {
          await sleep(200);
          (runs.get(t.id) as { light: RunResult[]; saturation: RunResult[] })[mode].push(await measure(t, mode, KNOBS.duration, ctx));
        }
      }
      process.stdout.write(`round ${r + 1}/${KNOBS.rounds} done (${Math.round((Date.now() - began) / 1000)} s)\n`);
    }
    const gatewayHwmMb = statusKb(gateway.pid, 'VmHWM') / 1024;
    output = report(targets, runs, gatewayHwmMb, m, began, rt);
  } finally {
    await Promise.all([...pools.values()].map((p) => p.close()));
    await stopAll();
  }
  const seconds = Math.round((Date.now() - began) / 1000);
  output.json.seconds = seconds;
  writeFileSync(output.file, `${JSON.stringify(output.json, null, 2)}\n`);
  process.stdout.write(`${output.text}\n\n${seconds} s in all; results: ${path.relative(ROOT, output.file)}\n`);
}

function report(
  targets: Target[],
  runs: Map<Target['id'], { light: RunResult[]; saturation: RunResult[] }>,
  gatewayHwmMb: number,
  m: ReturnType<typeof machine>,
  began: number,
  rt: Runtime,
): { text: string; json: Record<string, unknown>; file: string } {
  const get = (id: Target['id']) => runs.get(id) as { light: RunResult[]; saturation: RunResult[] };
  const summary = Object.fromEntries(
    targets.map((t) => {
      const { light, saturation } = get(t.id);
      return [
        t.id,
        {
          label: t.label,
          rps: median(saturation.map((x) => x.rps)),
          lightP50: median(light.map((x) => x.p50)),
          lightP99: median(light.map((x) => x.p99)),
          saturationP50: median(saturation.map((x) => x.p50)),
          saturationP99: median(saturation.map((x) => x.p99)),
          cpuUsPerReq: median(saturation.map((x) => x.cpuUs.server)),
          lightCpuUsPerReq: median(light.map((x) => x.cpuUs.server)),
          upstreamCpuUsPerReq: {
            simulator: t.id === 'direct' ? 0 : median(saturation.map((x) => x.cpuUs.simulator)),
            redis: median(saturation.map((x) => x.cpuUs.redis)),
          },
          clientCpuUsPerReq: median(saturation.map((x) => x.cpuUs.client)),
          peakRssMb: Math.max(...light.concat(saturation).map((x) => x.peakRssMb)),
          unexpected: light.concat(saturation).reduce((s, x) => s + x.unexpected, 0),
          requests: light.concat(saturation).reduce((s, x) => s + x.requests, 0),
        },
      ];
    }),
  ) as Record<Target['id'], PathSummary>;

  // Paired within each round (same machine weather), then the median over rounds.
  const paired = (fn: (r: number) => number) => median(Array.from({ length: KNOBS.rounds }, (_, r) => fn(r)));
  const L = (id: Target['id'], r: number) => get(id).light[r] as RunResult;
  const S = (id: Target['id'], r: number) => get(id).saturation[r] as RunResult;
  const ratios = {
    bareOverDirect: { p50Ms: paired((r) => L('bare', r).p50 - L('direct', r).p50), p99Ms: paired((r) => L('bare', r).p99 - L('direct', r).p99) },
    gatewayOverBare: { p50Ms: paired((r) => L('forward', r).p50 - L('bare', r).p50), p99Ms: paired((r) => L('forward', r).p99 - L('bare', r).p99) },
    gatewayOverDirect: { p50Ms: paired((r) => L('forward', r).p50 - L('direct', r).p50), p99Ms: paired((r) => L('forward', r).p99 - L('direct', r).p99) },
    redisLimiterCost: {
      p50Ms: paired((r) => L('forward', r).p50 - L('memory', r).p50),
      p99Ms: paired((r) => L('forward', r).p99 - L('memory', r).p99),
      cpuUs: paired((r) => S('forward', r).cpuUs.server - S('memory', r).cpuUs.server),
    },
    limitedThroughputVsForward: paired((r) => S('limited', r).rps / S('forward', r).rps),
    limitedVsFloor: paired((r) => S('limited', r).rps / S('floor', r).rps),
    clientLimitedVsFloor: paired((r) => S('clientLimited', r).rps / S('floor', r).rps),
    clientLimitedVsLimited: {
      rps: paired((r) => S('clientLimited', r).rps / S('limited', r).rps),
      cpuUs: paired((r) => S('clientLimited', r).cpuUs.server / S('limited', r).cpuUs.server),
    },
    invalidThroughputVsForward: paired((r) => S('invalid', r).rps / S('forward', r).rps),
    forwardThroughputVsBare: paired((r) => S('forward', r).rps / S('bare', r).rps),
    // Same route, same answer, two processes: what a hit costs the gateway against what a forward costs it.
    hitCpuVsForward: paired((r) => S('hit', r).cpuUs.server / S('forward', r).cpuUs.server),
    hitThroughputVsForward: paired((r) => S('hit', r).rps / S('forward', r).rps),
  };
  const targetsMet = [
    { target: 'forwarding adds ≤ 1.5 ms at p50 over the bare proxy (light load)', value: ratios.gatewayOverBare.p50Ms, limit: 1.5, unit: 'ms', met: ratios.gatewayOverBare.p50Ms <= 1.5 },
    { target: 'forwarding adds ≤ 10 ms at p99 over the bare proxy (light load)', value: ratios.gatewayOverBare.p99Ms, limit: 10, unit: 'ms', met: ratios.gatewayOverBare.p99Ms <= 10 },
    { target: '429 path ≥ 3× forwarding throughput', value: ratios.limitedThroughputVsForward, limit: 3, unit: '×', met: ratios.limitedThroughputVsForward >= 3 },
    { target: '429 path (app quota spent) ≥ 80% of the floor\'s req/s', value: ratios.limitedVsFloor, limit: 0.8, unit: '× the floor', met: ratios.limitedVsFloor >= 0.8 },
    { target: 'client-limited 429 ≥ 80% of the floor\'s req/s', value: ratios.clientLimitedVsFloor, limit: 0.8, unit: '× the floor', met: ratios.clientLimitedVsFloor >= 0.8 },
    {
      // As cheap = at least its throughput (within 5 %, the rounds' noise) for no more server CPU per request.
      target: 'client-limited 429 at least as cheap as the quota 429',
      value: ratios.clientLimitedVsLimited.rps,
      limit: 0.95,
      unit: '× its req/s',
      met: ratios.clientLimitedVsLimited.rps >= 0.95 && ratios.clientLimitedVsLimited.cpuUs <= 1.05,
    },
    { target: 'validation-failure path ≥ 3× forwarding throughput', value: ratios.invalidThroughputVsForward, limit: 3, unit: '×', met: ratios.invalidThroughputVsForward >= 3 },
    { target: 'callback ≥ 2,000 events/s (a ~500-byte deviceDataChanged push stored, answered 200)', value: summary.callback.rps, limit: 2000, unit: 'events/s', met: summary.callback.rps >= 2000 },
    { target: 'gateway peak RSS ≤ 180 MB (issue 15; was 200)', value: gatewayHwmMb, limit: 180, unit: 'MB', met: gatewayHwmMb <= 180 },
    {
      target: 'cache hit costs less than a forward (gateway CPU µs/req, hit ÷ forward)',
      value: ratios.hitCpuVsForward,
      limit: 1,
      unit: '×',
      met: ratios.hitCpuVsForward < 1,
    },
  ];

  const vs: Record<Target['id'], string> = {
    direct: 'baseline',
    bare: `+${f(ratios.bareOverDirect.p50Ms)} / +${f(ratios.bareOverDirect.p99Ms)} ms over direct`,
    floor: 'the least an Express refusal costs',
    forward: `+${f(ratios.gatewayOverBare.p50Ms)} / +${f(ratios.gatewayOverBare.p99Ms)} ms over bare proxy`,
    memory: `Redis quota+token add ${f(ratios.redisLimiterCost.p50Ms)} / ${f(ratios.redisLimiterCost.p99Ms)} ms, ${f(ratios.redisLimiterCost.cpuUs, 0)} µs CPU`,
    hit: `${f(ratios.hitThroughputVsForward, 1)}× forwarding req/s, ${f(ratios.hitCpuVsForward)}× its CPU`,
    limited: `${f(ratios.limitedThroughputVsForward, 1)}× forwarding req/s, ${f(ratios.limitedVsFloor, 2)}× the floor`,
    clientLimited: `${f(ratios.clientLimitedVsLimited.rps, 2)}× the quota 429's req/s, ${f(ratios.clientLimitedVsLimited.cpuUs, 2)}× its CPU, ${f(ratios.clientLimitedVsFloor, 2)}× the floor`,
    invalid: `${f(ratios.invalidThroughputVsForward, 1)}× forwarding req/s`,
    callback: `${f(summary.callback.rps / summary.forward.rps, 1)}× forwarding req/s`,
  };
  const header = [
    'path',
    `req/s (${KNOBS.connections} conns)`,
    `p50 ms @${KNOBS.lightRate}/s`,
    `p99 ms @${KNOBS.lightRate}/s`,
    'CPU µs/req',
    'sim+redis µs/req',
    'peak RSS MB',
    'vs baseline (p50 / p99 Δ, or throughput ratio)',
  ];
  const rows = targets.map((t) => {
    const s = summary[t.id];
    const up = s.upstreamCpuUsPerReq;
    return [
      t.label,
      f(s.rps, 0),
      f(s.lightP50),
      f(s.lightP99),
      f(s.cpuUsPerReq, 0),
      t.id === 'direct' ? '–' : `${f(up.simulator, 0)}+${f(up.redis, 0)}`,
      f(s.peakRssMb, 0),
      vs[t.id],
    ];
  });
  const table = [header, header.map((h) => '-'.repeat(Math.max(3, h.length))), ...rows]
    .map((cells) => `| ${cells.join(' | ')} |`)
    .join('\n');
  const lines = [
    '',
    table,
    '',
    `gateway peak RSS over the whole run (VmHWM): ${f(gatewayHwmMb, 0)} MB; gateway LOG_LEVEL=${KNOBS.logLevel} (to /dev/null); ` +
      `load generator CPU ≈ ${f(summary.forward.clientCpuUsPerReq, 0)} µs/req on the same ${m.nproc} CPUs`,
    '',
    ...targetsMet.map((x) => `${x.met ? 'MET   ' : 'MISSED'} ${x.target}: ${f(x.value)} ${x.unit}`),
  ];
  const unexpected = targets.filter((t) => summary[t.id].unexpected > 0);
  for (const t of unexpected) {
    lines.push(`WARNING ${t.label}: ${summary[t.id].unexpected} of ${summary[t.id].requests} answers were not ${t.expect.join('/')} (or failed)`);
  }
  mkdirSync(RESULTS, { recursive: true });
  const stamp = new Date(began).toISOString().replace(/[:.]/g, '-');
  const file = path.join(RESULTS, `bench-${stamp}.json`);
  const json: Record<string, unknown> = {
    startedAt: new Date(began).toISOString(),
    machine: m,
    knobs: KNOBS,
    servers: rt.note,
    gateway: { logLevel: KNOBS.logLevel, logDestination: '/dev/null', peakRssMb: gatewayHwmMb },
    summary,
    ratios,
    targets: targetsMet,
    table,
    runs: Object.fromEntries(runs),
  };
  return { text: lines.join('\n'), json, file };
}

// An interrupted run must not leave its servers behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void stopAll().then(() => process.exit(130)));
}

main().then(
  // Keep-alive sockets of the set-up requests would hold the process open for seconds more.
  () => process.exit(0),
  async (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    for (const p of procs) if (p.stderr()) process.stderr.write(`--- ${p.name} stderr ---\n${p.stderr()}\n`);
    await stopAll();
    process.exit(1);
  },
);
