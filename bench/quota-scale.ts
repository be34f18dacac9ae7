// `npx tsx bench/quota-scale.ts`: the quota's Redis cost at company scale (1,000 apps × 100 calls/min, quota decisions only, no platform) on a 3-primary Cluster and on one server; plus Redis commands per forwarded call through a real gateway.
//
// What it measures, and how (docs/scaling.md quotes a run):
// - decisions/s: paced at the offered rate (open loop, like real traffic), then as fast as possible (closed loop,
//   BENCH_CONCURRENCY in flight) for the capacity. Each decision is what a forwarded call costs the limiter:
//   `take` (one EVALSHA) and, for an admitted call, `done` (the touch, one EVALSHA).
// - Redis CPU per decision: used_cpu_user + used_cpu_sys (INFO cpu) summed over the primaries, before and after.
// - Commands per decision: total_commands_processed (INFO stats), summed over the primaries.
// - Bytes per sliding-log entry: MEMORY USAGE of one app's log at 100 and at 1,000 entries, written by the real
//   take script (listpack below zset-max-listpack-entries, 128 by default; skiplist above).
// - Commands per forwarded call: a gateway (in this process) on one Redis and the simulator, steady state.
// The load generator shares the 2 cores with Redis: the capacity figures are a floor.
import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import { QuotaLimiter } from '../src/quota/limiter.js';
import { connectClientWithin, createRedisClient, type RedisClient, type RedisTopology } from '../src/redis.js';
import { KEYS, appsWithRate, gatewayEnv, startGateway, startRedis, startTestSimulator } from '../test/helpers/fixtures.js';
import { ask, startCluster, type HostPort } from '../test/helpers/redis-topologies.js';

const APPS = Number(process.env.BENCH_APPS ?? 1000);
const PER_MIN = Number(process.env.BENCH_CALLS_PER_MIN ?? 100);
const PACED_S = Number(process.env.BENCH_SECONDS ?? 20);
const SATURATE_S = Number(process.env.BENCH_SATURATE_SECONDS ?? 8);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const WINDOW_MS = 60_000;

const silent = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const field = (info: unknown, name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(String(info))?.[1] ?? NaN);

interface Sample {
  cpu: number;
  commands: number;
  memory: number;
}

async function sample(nodes: HostPort[]): Promise<Sample> {
  let cpu = 0;
  let commands = 0;
  let memory = 0;
  for (const n of nodes) {
    const info = await ask(n, 'INFO', 'all');
    cpu += field(info, 'used_cpu_user') + field(info, 'used_cpu_sys');
    commands += field(info, 'total_commands_processed');
    memory += field(info, 'used_memory');
  }
  return { cpu, commands, memory };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

interface Phase {
  decisions: number;
  allowed: number;
  seconds: number;
  perSecond: number;
  redisCpuUsPerDecision: number;
  commandsPerDecision: number;
  clientCpuUsPerDecision: number;
  p50ms: number;
  p99ms: number;
}

async function phase(limiter: QuotaLimiter, nodes: HostPort[], run: (decide: (app: string) => Promise<void>) => Promise<void>): Promise<Phase> {
  const lat: number[] = [];
  let allowed = 0;
  const decide = async (app: string) => {
    const t = performance.now();
    const o = await limiter.take(app);
    lat.push(performance.now() - t);
    if (o.kind === 'allowed') {
      allowed++;
      limiter.done(o.slot);
    }
  };
  const before = await sample(nodes);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(decide);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // The touches are not awaited by done(): let the last ones land before reading the counters.
  await new Promise((r) => setTimeout(r, 300));
  const after = await sample(nodes);
  lat.sort((a, b) => a - b);
  const n = lat.length;
  return {
    decisions: n,
    allowed,
    seconds: Number(seconds.toFixed(1)),
    perSecond: Math.round(n / seconds),
    redisCpuUsPerDecision: Number((((after.cpu - before.cpu) * 1e6) / n).toFixed(1)),
    // Minus the INFO calls of the two samples (one per node each).
    commandsPerDecision: Number(((after.commands - before.commands - nodes.length) / n).toFixed(2)),
    clientCpuUsPerDecision: Number(((cpu.user + cpu.system) / n).toFixed(1)),
    p50ms: Number(pct(lat, 0.5).toFixed(2)),
    p99ms: Number(pct(lat, 0.99).toFixed(2)),
  };
}

async function benchTopology(label: string, topology: RedisTopology, nodes: HostPort[]) {
  const redis: RedisClient = createRedisClient({ topology, commandTimeoutMs: 1000, logger: silent, name: `bench:${label}` });
  if (!(await connectClientWithin(redis, 5000))) throw new Error(`${label}: not connected`);
  const prefix = `b${Date.now().toString(36)}:`;
  /** A limiter of this run on this Redis: its own key prefix and replica id, `perMin` calls a minute per app. */
  const limiterOf = (keyPrefix: string, perMin: number, replicaId: string) =>
    new QuotaLimiter({
      redis,
      keyPrefix,
      windowMs: WINDOW_MS,
      holdMs: 60_000,
      replicas: 1,
      rateOf: () => perMin,
      metrics: createMetrics(),
      logger: silent,
      replicaId,
      settleMs: 0,
    });
  const limiter = limiterOf(prefix, PER_MIN, 'bench');
  // A fresh limiter trusts Redis once it answered (a new Redis: no epoch yet); wait for that.
  for (let i = 0; i < 100 && (await limiter.take('warm-up')).kind !== 'allowed'; i++) await new Promise((r) => setTimeout(r, 100));
  const apps = Array.from({ length: APPS }, (_, i) => `app-${i}`);
  const base = await sample(nodes);

  // Paced: every app at PER_MIN calls/min, evenly spread, for PACED_S seconds.
  const rate = (APPS * PER_MIN) / 60;
  const paced = await phase(limiter, nodes, async (decide) => {
    const tickMs = 10;
    const end = performance.now() + PACED_S * 1000;
    const start = performance.now();
    let sent = 0;
    let next = 0;
    const inflight = new Set<Promise<void>>();
    while (performance.now() < end) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      for (; sent < due; sent++) {
        const p: Promise<void> = decide(apps[next++ % APPS] as string).finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await new Promise((r) => setTimeout(r, tickMs));
    }
    await Promise.all(inflight);
  });
  const steady = await sample(nodes);

  // Saturation: as many decisions as Redis and this process manage, CONCURRENCY in flight, spread over the apps.
  // A limiter of its own with no effective limit: every decision goes to Redis (a refused app would be
  // answered from memory, without Redis, and inflate the figure).
  const open = limiterOf(`${prefix}sat:`, 1_000_000, 'bench-sat');
  for (let i = 0; i < 100 && (await open.take('warm-up')).kind !== 'allowed'; i++) await new Promise((r) => setTimeout(r, 100));
  let k = 0;
  const saturated = await phase(open, nodes, async (decide) => {
    const end = performance.now() + SATURATE_S * 1000;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < end) await decide(apps[k++ % APPS] as string);
      }),
    );
  });

  // Bytes per log entry: one app's log at 100 and at 1,000 entries, through the real take script.
  const memLimiter = limiterOf(`${prefix}mem:`, 1_000_000, 'bench-memory-0123');
  const usage = async () => Number(await redis.call('MEMORY', 'USAGE', `${prefix}mem:quota:{mem}`, 'SAMPLES', '0'));
  for (let i = 0; i < 100; i++) await memLimiter.take('mem');
  const at100 = await usage();
  for (let i = 0; i < 900; i++) await memLimiter.take('mem');
  const at1000 = await usage();
  await redis.quit().catch(() => redis.disconnect());
  return {
    topology: label,
    primaries: nodes.length,
    offeredPerSecond: Math.round(rate),
    paced,
    saturated,
    memory: {
      logBytesAt100Entries: at100,
      bytesPerEntryListpack: Number((at100 / 100).toFixed(1)),
      logBytesAt1000Entries: at1000,
      bytesPerEntrySkiplist: Number(((at1000 - at100) / 900).toFixed(1)),
      usedMemoryGrowthPerAppAfterPacedBytes: Math.round((steady.memory - base.memory) / APPS),
    },
  };
}

/** Redis commands per forwarded call through the whole gateway (token from memory, quota take + touch). */
async function commandsPerForwardedCall() {
  const redis = await startRedis({ own: true });
  const sim = await startTestSimulator({ ratePerMinute: 100_000 });
  const gw = await startGateway(gatewayEnv(sim.url, redis.url, { PLATFORM_APPS: appsWithRate(100_000), LOG_LEVEL: 'silent' }));
  const node = { host: '127.0.0.1', port: Number(new URL(redis.url).port) };
  const get = () => fetch(`${gw.url}/v1/apps/app-a/packages`, { headers: { 'x-api-key': KEYS.all } }).then((r) => r.text());
  try {
    for (let i = 0; i < 20; i++) await get(); // warm: login, token in memory
    await new Promise((r) => setTimeout(r, 300));
    await ask(node, 'CONFIG', 'RESETSTAT');
    const n = 500;
    for (let i = 0; i < n; i++) await get();
    await new Promise((r) => setTimeout(r, 300));
    const stats = String(await ask(node, 'INFO', 'commandstats'));
    const byCommand: Record<string, number> = {};
    for (const m of stats.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
      if (m[1] !== 'info' && m[1] !== 'config|resetstat') byCommand[m[1] as string] = Number((Number(m[2]) / n).toFixed(2));
    }
    return { calls: n, perCall: byCommand };
  } finally {
    await gw.close();
    await sim.close();
    await redis.close();
  }
}

async function main() {
  const results: unknown[] = [];
  const cluster = await startCluster();
  try {
    results.push(await benchTopology('cluster', { kind: 'cluster', nodes: cluster.nodes }, cluster.nodes));
  } finally {
    await cluster.stop();
  }
  const single = await startRedis({ own: true });
  try {
    const node = { host: '127.0.0.1', port: Number(new URL(single.url).port) };
    results.push(await benchTopology('single', { kind: 'single', url: single.url }, [node]));
  } finally {
    await single.close();
  }
  const forwarded = await commandsPerForwardedCall();
  const out = {
    when: new Date().toISOString(),
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    apps: APPS,
    callsPerMinutePerApp: PER_MIN,
    results,
    commandsPerForwardedCall: forwarded,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  process.exit(0);
}

void main();
