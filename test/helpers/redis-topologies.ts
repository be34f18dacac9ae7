// Throwaway Redis topologies for tests: a 3-primary Cluster and a Sentinel set (primary, replica, three sentinels), from the redis-server binary.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, sleep } from './fixtures.js';

export interface HostPort {
  host: string;
  port: number;
}

const HOST = '127.0.0.1';
const addr = (port: number): HostPort => ({ host: HOST, port });
export const hostPort = (a: HostPort): string => `${a.host}:${a.port}`;

// ---------------------------------------------------------------------------------------------
// Processes: every redis-server we start is registered here, so that nothing outlives the test
// run, even when a test (or mocha itself, with `exit: true`) ends the process abruptly.

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const p of running) p.kill('SIGKILL');
  };
  // 'exit' handlers must be synchronous: kill() is, and SIGKILL needs no cooperation from the child.
  process.on('exit', killAll);
  // A SIGTERM or SIGINT (CI's timeout, Ctrl-C) ends node without 'exit': kill the servers, then die
  // of the same signal as we would have without this handler.
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      killAll();
      process.kill(process.pid, sig);
    });
  }
}

interface RedisProc {
  port: number;
  args: string[];
  proc: ChildProcess | null;
  /** What redis-server wrote, for the error message when it does not come up. */
  output: string;
}

function spawnRedis(node: RedisProc): void {
  installExitHook();
  const proc = spawn('redis-server', node.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  node.output = '';
  const keep = (d: Buffer) => {
    node.output = (node.output + String(d)).slice(-4000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  node.proc = proc;
}

/** SIGKILLs the node and waits (at most 5 s) until the process is gone, so that its port is free again. */
async function killRedis(node: RedisProc): Promise<void> {
  const p = node.proc;
  node.proc = null;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 5000);
    p.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    p.kill('SIGKILL');
  });
}

/**
 * One command to one server, with deadlines on the connection and the answer: the helper must
 * never hang on a node that is down or being killed.
 */
export async function ask(a: HostPort, ...args: (string | number)[]): Promise<unknown> {
  const r = new Redis({
    host: a.host,
    port: a.port,
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 2000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    retryStrategy: () => null,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await r.call(String(args[0]), ...args.slice(1).map(String));
  } finally {
    r.disconnect();
  }
}

/** Polls `check` every 50 ms until it returns a value that is not undefined, or throws after `ms`. */
async function poll<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    }
    await sleep(50);
  }
}

async function waitUp(node: RedisProc, ms = 5000): Promise<void> {
  await poll(`redis-server on ${node.port}`, ms, async () => {
    if (node.proc && node.proc.exitCode !== null) {
      throw new Error(`redis-server on ${node.port} exited: ${node.output.trim().split('\n').slice(-3).join(' | ')}`);
    }
    return (await ask(addr(node.port), 'PING')) === 'PONG' ? true : undefined;
  });
}

const infoField = (info: unknown, field: string): string | undefined =>
  String(info).match(new RegExp(`^${field}:(.*)$`, 'm'))?.[1]?.trim();

/** Flags shared by every data node: in memory only, on loopback, fast to start. */
const EPHEMERAL = ['--bind', HOST, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];

// ---------------------------------------------------------------------------------------------
// Cluster

export interface TestCluster {
  /** The primaries, in the order of their slot ranges (node 0 holds slot 0): the factory's `cluster` nodes. */
  nodes: HostPort[];
  /** SIGKILLs one primary (its slots stay unserved: no replicas here). */
  kill(node: HostPort): Promise<void>;
  /** Kills every node and removes the temp dir. */
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `primaries` nodes (default 3), no replicas, slots split evenly. Built by hand
 * (ADDSLOTSRANGE, SET-CONFIG-EPOCH, MEET) rather than with `redis-cli --cluster create`, whose
 * join check polls once a second: this is up in well under a second.
 */
export async function startCluster(opts: { primaries?: number; readyWithinMs?: number } = {}): Promise<TestCluster> {
  const n = opts.primaries ?? 3;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iotbff-cluster-'));
  const nodes: (RedisProc & { busPort: number })[] = [];
  const stop = async () => {
    await Promise.all(nodes.map(killRedis));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < n; i++) {
      const port = await freePort();
      // The bus port is chosen too (cluster-port): the default port+10000 may be taken or above 65535.
      const busPort = await freePort();
      const node = {
        port,
        busPort,
        output: '',
        proc: null,
        args: [
          '--port', String(port), ...EPHEMERAL, '--dir', dir,
          '--cluster-enabled', 'yes', '--cluster-port', String(busPort),
          '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000',
          // A test cluster with a primary down must still answer for the other slots.
          '--cluster-require-full-coverage', 'no',
        ],
      };
      nodes.push(node);
      spawnRedis(node);
    }
    await Promise.all(nodes.map((node) => waitUp(node)));
    const per = Math.floor(16384 / n);
    await Promise.all(
      nodes.map(async (node, i) => {
        const from = i * per;
        const to = i === n - 1 ? 16383 : from + per - 1;
        await ask(addr(node.port), 'CLUSTER', 'ADDSLOTSRANGE', from, to);
        // Distinct epochs, so that no epoch collision has to be resolved before the state is ok.
        await ask(addr(node.port), 'CLUSTER', 'SET-CONFIG-EPOCH', i + 1);
      }),
    );
    const first = nodes[0] as RedisProc;
    for (const node of nodes.slice(1)) {
      await ask(addr(first.port), 'CLUSTER', 'MEET', HOST, node.port, node.busPort);
    }
    // Ready when every node knows every node and says ok: a client may ask any of them for the slots.
    await poll('cluster_state:ok on every node', opts.readyWithinMs ?? 10_000, async () => {
      for (const node of nodes) {
        const info = await ask(addr(node.port), 'CLUSTER', 'INFO');
        if (infoField(info, 'cluster_state') !== 'ok' || infoField(info, 'cluster_known_nodes') !== String(n)) {
          return undefined;
        }
        const slots = (await ask(addr(node.port), 'CLUSTER', 'SLOTS')) as unknown[];
        if (slots.length !== n) return undefined;
      }
      return true;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes: nodes.map((node) => addr(node.port)),
    async kill(a) {
      const node = nodes.find((x) => x.port === a.port);
      if (!node) throw new Error(`${hostPort(a)} is not a node of this cluster`);
      await killRedis(node);
    },
    stop,
  };
}

// ---------------------------------------------------------------------------------------------
// Sentinel

export interface TestSentinelSet {
  /** The master name the sentinels monitor. */
  name: string;
  sentinels: HostPort[];
  /** The data nodes: [first primary, first replica]. */
  nodes: HostPort[];
  /** The primary the sentinels currently name (asks them; the first that answers). */
  primary(): Promise<HostPort>;
  /** SIGKILLs the current primary; returns its address. */
  killPrimary(): Promise<HostPort>;
  /**
   * SIGSTOPs the current primary: its connections stay open but nothing answers, as with a hung VM
   * or a partition (the case a close-driven reconnect never notices). Returns its address and a
   * function that resumes it (SIGCONT). stop() kills it either way.
   */
  freezePrimary(): Promise<{ node: HostPort; resume(): void }>;
  /** Waits until the sentinels name a primary other than `old` and that node says role:master. */
  waitForPromotion(old: HostPort, ms?: number): Promise<HostPort>;
  /** Starts a killed data node again with its original command line (empty, as after a crash without persistence). */
  restart(node: HostPort): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A primary, one replica, three sentinels (quorum 2, down-after 1000 ms, failover-timeout 3000 ms).
 * Resolves once the replica is in sync and every sentinel knows the replica and the other two
 * sentinels, so that a failover can start as soon as the primary is gone.
 */
export async function startSentinelSet(opts: { name?: string; readyWithinMs?: number } = {}): Promise<TestSentinelSet> {
  const name = opts.name ?? 'iotbff';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iotbff-sentinel-'));
  const data: RedisProc[] = [];
  const sentinels: RedisProc[] = [];
  const stop = async () => {
    await Promise.all([...sentinels, ...data].map(killRedis));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const pPort = await freePort();
    const rPort = await freePort();
    // Diskless sync without delay: the replica is in sync in milliseconds, not after the default 5 s wait.
    const repl = ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', '--dir', dir];
    data.push({ port: pPort, output: '', proc: null, args: ['--port', String(pPort), ...EPHEMERAL, ...repl] });
    data.push({
      port: rPort,
      output: '',
      proc: null,
      args: ['--port', String(rPort), ...EPHEMERAL, ...repl, '--replicaof', HOST, String(pPort)],
    });
    for (const node of data) spawnRedis(node);
    await Promise.all(data.map((node) => waitUp(node)));
    await poll('the replica in sync', 10_000, async () =>
      infoField(await ask(addr(rPort), 'INFO', 'replication'), 'master_link_status') === 'up' ? true : undefined,
    );

    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      // Sentinels rewrite their configuration file, so each gets its own.
      const conf = path.join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          `bind ${HOST}`,
          'protected-mode no',
          `dir ${dir}`,
          `sentinel monitor ${name} ${HOST} ${pPort} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 3000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      const node: RedisProc = { port, output: '', proc: null, args: [conf, '--sentinel'] };
      sentinels.push(node);
      spawnRedis(node);
    }
    await Promise.all(sentinels.map((node) => waitUp(node)));
    // Sentinels find each other through hello messages every 2 s: wait for that, or the first
    // failover would wait for the quorum instead.
    await poll('every sentinel to know the replica and the other sentinels', opts.readyWithinMs ?? 15_000, async () => {
      for (const s of sentinels) {
        const others = (await ask(addr(s.port), 'SENTINEL', 'SENTINELS', name)) as unknown[];
        const replicas = (await ask(addr(s.port), 'SENTINEL', 'REPLICAS', name)) as unknown[];
        if (others.length !== 2 || replicas.length !== 1) return undefined;
      }
      return true;
    });
  } catch (err) {
    await stop();
    throw err;
  }

  const primary = async (): Promise<HostPort> => {
    let last: unknown;
    for (const s of sentinels) {
      if (!s.proc) continue;
      try {
        const r = (await ask(addr(s.port), 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[] | null;
        if (r) return { host: String(r[0]), port: Number(r[1]) };
      } catch (err) {
        last = err;
      }
    }
    throw new Error(`no sentinel named a primary${last ? `: ${(last as Error).message}` : ''}`);
  };
  const dataNode = (a: HostPort): RedisProc => {
    const node = data.find((d) => d.port === a.port);
    if (!node) throw new Error(`${hostPort(a)} is not a data node of this set`);
    return node;
  };
  return {
    name,
    sentinels: sentinels.map((s) => addr(s.port)),
    nodes: data.map((d) => addr(d.port)),
    primary,
    async killPrimary() {
      const p = await primary();
      await killRedis(dataNode(p));
      return p;
    },
    async freezePrimary() {
      const p = await primary();
      const proc = dataNode(p).proc;
      if (!proc) throw new Error(`${hostPort(p)} is not running`);
      proc.kill('SIGSTOP');
      return { node: p, resume: () => void proc.kill('SIGCONT') };
    },
    async waitForPromotion(old, ms = 15_000) {
      return poll(`a replica promoted in place of ${hostPort(old)}`, ms, async () => {
        const p = await primary();
        if (p.port === old.port) return undefined;
        const role = infoField(await ask(p, 'INFO', 'replication'), 'role');
        return role === 'master' ? p : undefined;
      });
    },
    async restart(a) {
      const node = dataNode(a);
      if (node.proc) throw new Error(`${hostPort(a)} is still running`);
      spawnRedis(node);
      await waitUp(node);
    },
    stop,
  };
}
