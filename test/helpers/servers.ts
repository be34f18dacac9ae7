// Servers the tests and the bench start for themselves: free ports, bounded waits, and a throwaway redis-server.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns true or `ms` pass. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export interface TestRedis {
  url: string;
  /** A plain client for assertions (not the gateway's). */
  client: Redis;
  /** Whether stop/start work (false when REDIS_URL points at a server we do not own). */
  owned: boolean;
  stop(): Promise<void>;
  /** The redis-server's process id while it runs (for CPU accounting in the bench); undefined otherwise. */
  pid(): number | undefined;
  /** Starts again on the same port: empty, unless started with `persist`. */
  start(): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `REDIS_URL` when set (and `own` is false); otherwise a redis-server of our own on a free port,
 * which tests may stop and restart.
 */
export async function startRedis(opts: { own?: boolean; persist?: boolean } = {}): Promise<TestRedis> {
  if (process.env.REDIS_URL && !opts.own) {
    const client = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1 });
    return {
      url: process.env.REDIS_URL,
      client,
      owned: false,
      stop: async () => {
        throw new Error('cannot stop an external Redis');
      },
      pid: () => undefined,
      start: async () => undefined,
      flush: async () => void (await client.flushdb()),
      close: async () => void client.disconnect(),
    };
  }
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on('error', () => undefined);
  // With `persist`, every write is fsync'ed to an append-only file, so that a restart (even after SIGKILL) keeps the data.
  const dir = opts.persist ? mkdtempSync(path.join(os.tmpdir(), 'iotbff-redis-')) : undefined;
  const persistence = dir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir] : ['--appendonly', 'no'];
  const start = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence], {
      stdio: 'ignore',
    });
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    await waitFor(
      async () => {
        try {
          if (probe.status !== 'ready') await probe.connect();
          return (await probe.ping()) === 'PONG';
        } catch {
          probe.disconnect();
          return false;
        }
      },
      10_000,
      'redis-server to start',
    );
    probe.disconnect();
  };
  const stop = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  };
  await start();
  await client.connect();
  return {
    url,
    client,
    owned: true,
    stop,
    pid: () => (proc as ChildProcess | null)?.pid,
    start,
    flush: async () => void (await client.flushdb()),
    close: async () => {
      client.disconnect();
      await stop();
    },
  };
}

