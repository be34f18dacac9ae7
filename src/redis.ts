// The shared store's connection: every command has a deadline, nothing queues behind a dead connection.
import { Redis } from 'ioredis';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
// For the topologies beyond one server (below createRedis):
import type { ConnectionOptions } from 'node:tls';
import { Cluster } from 'ioredis';

export interface RedisOptions {
  url: string;
  commandTimeoutMs: number;
  logger: Logger;
  metrics?: Metrics;
  /** Connection name shown by CLIENT LIST, for operators. */
  name: string;
}

const closedOnPurpose = new WeakSet<object>();

/**
 * Whether this process closed the connection itself (quit/disconnect): other listeners of 'close'
 * (the quota limiter's outage detection) use it to tell a shutdown from an outage. Any topology.
 */
export const closedDeliberately = (redis: Redis | Cluster): boolean => closedOnPurpose.has(redis);

/**
 * Wraps quit/disconnect so that a close this process asks for is known as such (closedDeliberately),
 * whichever way the caller asks (app.ts quits, falls back to disconnect). `onClosing` runs first.
 */
function markDeliberateCloses(client: Redis | Cluster, onClosing: () => void = () => undefined): void {
  const quit = client.quit.bind(client);
  const disconnect = client.disconnect.bind(client);
  client.quit = ((...args: Parameters<typeof quit>) => {
    onClosing();
    closedOnPurpose.add(client);
    return quit(...args);
  }) as typeof client.quit;
  client.disconnect = (reconnect?: boolean) => {
    if (reconnect !== true) {
      onClosing();
      closedOnPurpose.add(client);
    }
    disconnect(reconnect);
  };
}

/**
 * ioredis retries forever and queues commands while disconnected by default (ioredis#776, #1146):
 * both turn a Redis outage into requests that hang. Here a command fails at once while Redis is
 * away (enableOfflineQueue: false), and within commandTimeoutMs while it does not answer; the
 * connection itself keeps reconnecting in the background so that recovery needs no restart.
 */
export function createRedis(opts: RedisOptions): Redis {
  const redis = new Redis(opts.url, {
    lazyConnect: true,
    connectionName: opts.name,
    connectTimeout: Math.max(1000, opts.commandTimeoutMs * 4),
    commandTimeout: opts.commandTimeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    // Reconnect quickly at first, then every second: an outage costs one attempt per second.
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
  });
  let lastState = '';
  // Set when this process closes the connection itself (quit/disconnect at shutdown): the 'close' and
  // 'end' that follow are expected, and a warning for them would page someone for a clean stop.
  let closing = false;
  const report = (state: string, err?: Error) => {
    opts.metrics?.redisUp.set(state === 'ready' ? 1 : 0);
    if (state === lastState) return; // once per change, not once per failed command (ERL#485)
    if (closing && state !== 'ready') {
      if (state === 'end') opts.logger.info({ redis: opts.name }, 'redis connection closed');
      lastState = state;
      return;
    }
    lastState = state;
    if (state === 'ready') opts.logger.info({ redis: opts.name }, 'redis connected');
    else opts.logger.warn({ redis: opts.name, reason: err?.message ?? state }, 'redis unavailable');
  };
  // Marks a deliberate close however the caller asks for it (app.ts quits, falls back to disconnect).
  markDeliberateCloses(redis, () => {
    closing = true;
  });
  redis.on('ready', () => report('ready'));
  redis.on('error', (err: Error) => report('error', err));
  redis.on('end', () => report('end'));
  redis.on('close', () => report('close'));
  return redis;
}

/** Waits for the first connection, but never longer than `ms`: the gateway starts degraded rather than not at all. */
export async function connectWithin(redis: Redis, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  const ready = new Promise<boolean>((resolve) => {
    redis.once('ready', () => resolve(true));
  });
  if (redis.status === 'wait') redis.connect().catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([ready, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const isReady = (redis: Redis | null): boolean => redis !== null && redis.status === 'ready';

// ---------------------------------------------------------------------------------------------
// Topologies beyond one server (issue 14, contract §12): Sentinel and Cluster.

export interface RedisHostPort {
  host: string;
  port: number;
}

/** Where the shared store lives. `url`, when given with Sentinel or Cluster, only supplies credentials and TLS. */
export type RedisTopology =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; sentinels: RedisHostPort[]; name: string; url?: string }
  | { kind: 'cluster'; nodes: RedisHostPort[]; url?: string };

/**
 * What the rest of the code holds: either client. Both share ioredis's command interface
 * (Commander/RedisCommander), `defineCommand`, `multi`, pub/sub, `status` and the connection
 * events; what differs (per-node access, `nodes()`) stays in this file.
 */
export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  topology: RedisTopology;
  commandTimeoutMs: number;
  logger: Logger;
  metrics?: Metrics;
  /** Connection name shown by CLIENT LIST, for operators. */
  name: string;
}

/** Credentials and TLS from a redis:// or rediss:// URL, for topologies whose addresses come from elsewhere. */
function credentialsFrom(url: string | undefined): { username?: string; password?: string; tls?: ConnectionOptions } {
  if (!url) return {};
  const u = new URL(url);
  const out: { username?: string; password?: string; tls?: ConnectionOptions } = {};
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  if (u.protocol === 'rediss:') out.tls = {};
  return out;
}

/** The reconnect pace of createRedis: quickly at first, then once a second, forever. */
const backoff = (times: number): number => Math.min(50 * 2 ** Math.min(times, 5), 1000);

/**
 * A failover leaves the old primary, if it comes back or only hung, answering writes with
 * READONLY while the connection stays open: nothing would make ioredis ask the sentinels again.
 * Reconnecting (1, not 2: with the offline queue off a resend would fail anyway) sends the next
 * commands to the promoted replica; the failed command is the caller's to retry (a 503).
 */
const reconnectOnReadonly = (err: Error): 1 | false => (err.message.startsWith('READONLY') ? 1 : false);

/**
 * The gateway's connection to any topology, with the policies of createRedis: commands fail at
 * once while disconnected (no offline queue) and within commandTimeoutMs while unanswered, and the
 * connection keeps reconnecting by itself. `single` is createRedis itself.
 */
export function createRedisClient(opts: RedisClientOptions): RedisClient {
  const t = opts.topology;
  if (t.kind === 'single') {
    const { commandTimeoutMs, logger, metrics, name } = opts;
    return createRedis({ url: t.url, commandTimeoutMs, logger, metrics, name });
  }
  const creds = credentialsFrom(t.url);
  const common = {
    connectionName: opts.name,
    connectTimeout: Math.max(1000, opts.commandTimeoutMs * 4),
    commandTimeout: opts.commandTimeoutMs,
    // With 0, ioredis rejects every command in flight when the connection closes (each close
    // flushes the queues), so nothing is replayed later on another server behind its caller's back.
    maxRetriesPerRequest: 0,
    // Said explicitly, for the day maxRetriesPerRequest is raised: a resent command may run a
    // second time (it may have run before the close) and after its caller already gave up on it
    // (commandTimeout rejects but does not withdraw, ioredis#2130). Every script must stay correct
    // if run twice anyway (the quota's members are unique), but no one should rely on resends.
    autoResendUnfulfilledCommands: false,
    ...creds,
  };
  let client: RedisClient;
  if (t.kind === 'sentinel') {
    client = new Redis({
      ...common,
      sentinels: t.sentinels,
      name: t.name,
      role: 'master',
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      retryStrategy: backoff,
      // One round over the sentinels failed: try again soon, forever; the commands meanwhile fail
      // at once (no offline queue), so this pace costs nothing to callers.
      sentinelRetryStrategy: (times: number) => Math.min(100 * times, 1000),
      // Without it, a sentinel that accepts the connection but never answers stalls every reconnect.
      sentinelCommandTimeout: Math.max(500, opts.commandTimeoutMs),
      // A primary that hangs (stopped VM, network partition) keeps the connection open and is never
      // noticed by the close-driven reconnect: subscribe to +switch-master on the sentinels and
      // reconnect as soon as they promote a replica (ioredis#1314; off by default since #1363).
      failoverDetector: true,
      // The detector ends the old stream politely (FIN) and destroys it only after this: a frozen
      // primary never answers the FIN, so the default 2 s would be added to every such failover.
      disconnectTimeout: Math.max(500, opts.commandTimeoutMs),
      reconnectOnError: reconnectOnReadonly,
      // The TLS of the URL is for the data nodes; sentinels are usually plain, and credentials of
      // the data nodes are not the sentinels' (sentinelPassword is a separate setting if ever needed).
      enableTLSForSentinelMode: false,
    });
    // quit() ends the data connection but not the detector's subscriptions on the sentinels (ioredis
    // only closes those in disconnect()): they would keep the process alive after a graceful close.
    // ('end' comes only after a close asked for: the retry strategies never give up.)
    const sentinelClient = client;
    sentinelClient.on('end', () => Redis.prototype.disconnect.call(sentinelClient));
  } else {
    client = new Cluster(t.nodes, {
      lazyConnect: true,
      // Commands before the first slot map, or while the cluster reconnects, fail at once instead
      // of queueing without a deadline (the per-node queues stay on, but there commandTimeout runs).
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      // Every read from the primary: a replica may lag, and quota/token reads must see the last write.
      scaleReads: 'master',
      clusterRetryStrategy: backoff,
      // MOVED/ASK/TRYAGAIN/CLUSTERDOWN and a closed node connection are retried after a slot refresh,
      // at most maxRedirections times and never past the command's own commandTimeout.
      maxRedirections: 6,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: Math.max(1000, opts.commandTimeoutMs * 2),
      slotsRefreshInterval: 5000,
      redisOptions: { ...common, reconnectOnError: reconnectOnReadonly },
    });
  }
  markDeliberateCloses(client);
  watchConnection(client, opts);
  return client;
}

/**
 * A second connection like `client` (same topology, options and credentials) named `<name>:<suffix>`,
 * e.g. a subscriber. `Redis#duplicate` and `Cluster#duplicate` take different arguments: a Cluster's
 * first one is its startup nodes, so an options object passed there would be read as a node list.
 */
export function duplicateClient(client: RedisClient, suffix: string): RedisClient {
  if (client instanceof Cluster) {
    const redisOptions = client.options.redisOptions ?? {};
    const name = `${redisOptions.connectionName ?? 'iot-bff'}:${suffix}`;
    return client.duplicate(undefined, { redisOptions: { ...redisOptions, connectionName: name } });
  }
  return client.duplicate({ connectionName: `${client.options.connectionName ?? 'iot-bff'}:${suffix}` });
}

/**
 * Logs each change of a client's state once (not once per failed command, ERL#485) and keeps the
 * redisUp gauge, as createRedis does for a single server. A deliberate close is info, not a warning.
 */
function watchConnection(client: RedisClient, opts: RedisClientOptions): void {
  let lastState = '';
  const report = (state: string, err?: Error) => {
    opts.metrics?.redisUp.set(state === 'ready' ? 1 : 0);
    if (state === lastState) return;
    lastState = state;
    const where = describeRedis(client);
    if (state === 'ready') opts.logger.info({ redis: opts.name, ...where }, 'redis connected');
    else if (state === 'end') opts.logger.info({ redis: opts.name, topology: where.topology }, 'redis connection closed');
    else opts.logger.warn({ redis: opts.name, topology: where.topology, reason: err?.message ?? state }, 'redis unavailable');
  };
  client.on('ready', () => report('ready'));
  client.on('error', (err: Error) => report('error', err));
  client.on('close', () => report('close'));
  client.on('end', () => report('end'));
  // A promotion seen by the failover detector or a READONLY reconnect shows as close then ready:
  // the 'ready' line names the new primary.
}

export interface RedisWhere {
  topology: RedisTopology['kind'];
  /** The server commands go to now (host:port), or null while not connected; for a cluster, every primary. */
  primary: string | null;
  primaries?: string[];
}

/** Which topology, and which primary commands go to right now: for /readyz and the logs. No I/O. */
export function describeRedis(client: RedisClient): RedisWhere {
  if (client instanceof Cluster) {
    const primaries = client
      .nodes('master')
      .map((n) => `${n.options.host}:${n.options.port}`)
      .sort();
    return { topology: 'cluster', primary: primaries.length ? primaries.join(',') : null, primaries };
  }
  const sentinel = Array.isArray(client.options.sentinels) && client.options.sentinels.length > 0;
  const s = client.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  const connected = client.status === 'ready' && s?.remoteAddress && s.remotePort;
  return {
    topology: sentinel ? 'sentinel' : 'single',
    primary: connected ? `${s.remoteAddress}:${s.remotePort}` : null,
  };
}

/** connectWithin for either client: waits for the first ready, never longer than `ms`. */
export async function connectClientWithin(client: RedisClient, ms: number): Promise<boolean> {
  if (client.status === 'ready') return true;
  let timer: NodeJS.Timeout | undefined;
  let onReady: (() => void) | undefined;
  const ready = new Promise<boolean>((resolve) => {
    onReady = () => resolve(true);
    client.once('ready', onReady);
  });
  if (client.status === 'wait') client.connect().catch(() => undefined);
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([ready, timeout]);
  } finally {
    clearTimeout(timer);
    if (onReady) client.off('ready', onReady);
  }
}

export const isClientReady = (client: RedisClient | null): boolean => client !== null && client.status === 'ready';

/**
 * The parsed REDIS_SENTINELS / REDIS_CLUSTER_NODES value: `host:port,host:port,…` (IPv6 as
 * `[addr]:port`). Throws with the offending entry, for the configuration's start-up check.
 */
export function parseHostPorts(value: string, what: string): RedisHostPort[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new Error(`${what}: expected host:port,host:port,…`);
  return list.map((entry) => {
    const m = entry.match(/^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/);
    const port = Number(m?.[3]);
    if (!m || !(port >= 1 && port <= 65535)) throw new Error(`${what}: "${entry}" is not host:port`);
    return { host: (m[1] ?? m[2]) as string, port };
  });
}

/** Replies of a server that is switching roles or not serving its slots yet: the store is away for a moment. */
const TRANSIENT_REPLY = /^(READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MOVED|ASK|BUSY)\b/;

/** ioredis's own messages for a command that could not be sent or answered (connection, timeout, topology). */
const CONNECTION_MESSAGES = [
  'Connection is closed.',
  "Stream isn't writeable and enableOfflineQueue options is false",
  'Command timed out',
  "Cluster isn't ready and enableOfflineQueue options is false",
  'None of startup nodes is available',
  'Node is disconnected',
  'Cluster is disconnected.',
  'Cluster is disconnecting.',
  'Too many Cluster redirections.',
  'Connection is aborted',
  'Connection is discarded because a new connection is made',
  'Command aborted due to connection close',
];

/**
 * Whether `err` says "the shared store cannot answer right now" (a Sentinel switch: READONLY from a
 * demoted primary, a closed connection, a timeout; a cluster failing over: CLUSTERDOWN, TRYAGAIN,
 * too many redirections) rather than "this command is wrong" (a script error, a cross-slot command):
 * the first is a 503 to retry, the second stays a 500 that someone must look at. By name and message,
 * because ioredis raises most of these as plain Errors and its error classes come from a transitive package.
 */
export function isStoreUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  switch (err.name) {
    case 'ReplyError':
      return TRANSIENT_REPLY.test(err.message);
    case 'MaxRetriesPerRequestError':
    case 'ClusterAllFailedError':
      return true;
    case 'AbortError':
      // "Possible CROSSSLOT error" is also an AbortError: a programming error, not an outage.
      return !err.message.includes('CROSSSLOT');
    default:
      return CONNECTION_MESSAGES.some((m) => err.message.startsWith(m));
  }
}
