// Delivery workers: per webhook a lease-holding runner on any replica reads the webhook's consumer group in order, signs and POSTs (or POSTs the platform's body as received, for raw webhooks), schedules retries, claims a dead replica's pending entries.
import http from 'node:http';
import https from 'node:https';
import { got } from 'got';
// RedisClient: one server, a Sentinel set or a Cluster (issue 14); the alias keeps this file's annotations.
import type { RedisClient as Redis } from '../redis.js';
import { Webhook } from 'standardwebhooks';
import type { Logger } from '../logger.js';
import { groupOf, type EventKeys } from './keys.js';
import type { EventMetrics } from './metrics.js';
import { notifyLabel } from './notify.js';
import { Wakeable, type EventNotifier } from './notifier.js';
import { entryToEvent, streamIdOf, type EventStore, type RawEntry, type StoredEvent } from './store.js';
import type { WebhookRegistry, WebhookTarget } from './webhooks.js';

/**
 * Delays before retry n (n = 1 is the first retry), then the last one repeats: the first retry within
 * 10 s, backing off to an hour, for at least RETRY_FOR_MS (24 h) after the first attempt.
 */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [5_000, 30_000, 120_000, 300_000, 900_000, 1_800_000, 3_600_000];
export const DEFAULT_RETRY_FOR_MS = 24 * 3600_000;
const LOG_TTL_MS = 30 * 24 * 3600_000;

/**
 * The attempt times (ms after the first attempt) the schedule gives, jitter aside: the first attempt at
 * 0, then a retry after each failure until one at or after retryForMs has failed. For docs and tests.
 */
export function retrySchedule(delays: readonly number[] = DEFAULT_RETRY_DELAYS_MS, retryForMs = DEFAULT_RETRY_FOR_MS): number[] {
  const at = [0];
  for (let n = 1; (at[at.length - 1] as number) < retryForMs; n++) {
    at.push((at[at.length - 1] as number) + (delays[Math.min(n - 1, delays.length - 1)] as number));
  }
  return at;
}

export interface DeliveryOptions {
  redis: Redis;
  store: EventStore;
  registry: WebhookRegistry;
  notifier: EventNotifier;
  keys: EventKeys;
  /** The configured apps (read at every scan, so the set may change). */
  apps: () => Iterable<string>;
  /** Unique per process: the consumer name in every group and the lease owner. */
  consumer: string;
  logger: Logger;
  metrics?: EventMetrics;
  /** Deadline of one delivery attempt (contract: 10 s). */
  attemptTimeoutMs?: number;
  retryDelaysMs?: readonly number[];
  retryForMs?: number;
  /** A webhook's lease: a replica that stops renewing it (death) loses it after this. */
  leaseMs?: number;
  /** A pending entry idle this long belongs to a dead consumer and is claimed; must exceed attemptTimeoutMs. */
  claimIdleMs?: number;
  /** How often each replica looks for webhooks without a runner (and the fallback poll of idle runners). */
  scanIntervalMs?: number;
  pollMs?: number;
  /** Entries read per XREADGROUP / retries claimed per round. */
  batch?: number;
  /** Attempts kept in each webhook's deliveries log. */
  logSize?: number;
  /** Failed events kept per webhook for redelivery. */
  failedKeep?: number;
  /**
   * First attempts in flight at once per webhook. 1 (the default): a receiver gets them strictly in arrival
   * order. More: they still start in arrival order, but neighbours may arrive swapped; throughput per webhook
   * grows with it (an attempt costs a round trip to the receiver and one to Redis).
   */
  concurrency?: number;
}

/** One line of a webhook's deliveries log. */
export interface DeliveryAttempt {
  eventId: string;
  attempt: number;
  /** delivered; retrying (failed, another try is scheduled); failed (given up, kept for redelivery); expired (trimmed before it could be sent). */
  status: 'delivered' | 'retrying' | 'failed' | 'expired';
  at: string;
  /** The receiver's HTTP status, null when there was no answer. */
  code: number | null;
  /** Why it failed without an answer: timeout, connection; absent otherwise. */
  error?: string;
  ms: number;
  nextAttemptAt?: string;
}

const RENEW_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
/** Claims due retries by pushing their score past the attempt's deadline: a runner that dies mid-attempt leaves them due again. */
const CLAIM_RETRIES_LUA = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], id) end
return ids`;

type ScriptRedis = Redis & {
  iotbffLeaseRenew(key: string, owner: string, ms: number): Promise<number>;
  iotbffLeaseRelease(key: string, owner: string): Promise<number>;
  iotbffClaimRetries(key: string, now: number, until: number, n: number): Promise<string[]>;
};

interface AttemptResult {
  ok: boolean;
  code: number | null;
  error?: string;
  ms: number;
}

/** The delivery body (contract §10), serialized once per attempt so that the signature covers exactly what is sent. */
export const deliveryBody = (e: Omit<StoredEvent, 'raw'>): string =>
  JSON.stringify({ id: e.id, appId: e.appId, notifyType: e.notifyType, receivedAt: e.receivedAt, data: e.data });

/** Standard Webhooks headers for one attempt: same webhook-id on every retry, a fresh timestamp and signature. */
export function signedHeaders(signer: Webhook, eventId: string, body: string, now = new Date()): Record<string, string> {
  return {
    'webhook-id': eventId,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': signer.sign(eventId, now, body),
  };
}

export class DeliveryWorkers {
  private readonly redis: ScriptRedis;
  private readonly runners = new Map<string, Runner>();
  // Created at start and destroyed at stop, so that no keep-alive socket outlives the workers.
  private httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  private httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 4 });
  readonly cfg: Required<Omit<DeliveryOptions, 'metrics'>> & { metrics?: EventMetrics };
  private scanTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private stopped = true;
  private lastScanError = '';

  constructor(opts: DeliveryOptions) {
    this.cfg = {
      attemptTimeoutMs: 10_000,
      retryDelaysMs: DEFAULT_RETRY_DELAYS_MS,
      retryForMs: DEFAULT_RETRY_FOR_MS,
      leaseMs: 15_000,
      claimIdleMs: 15_000,
      scanIntervalMs: 1_000,
      pollMs: 1_000,
      batch: 50,
      logSize: 100,
      failedKeep: 10_000,
      concurrency: 1,
      ...opts,
    };
    // An entry is claimed only once its attempt must have ended: the live holder's attempt is never duplicated.
    if (this.cfg.claimIdleMs <= this.cfg.attemptTimeoutMs) throw new Error('claimIdleMs must exceed attemptTimeoutMs');
    if (this.cfg.retryDelaysMs.length === 0) throw new Error('retryDelaysMs must not be empty');
    this.redis = opts.redis as ScriptRedis;
    this.redis.defineCommand('iotbffLeaseRenew', { numberOfKeys: 1, lua: RENEW_LUA });
    this.redis.defineCommand('iotbffLeaseRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
    this.redis.defineCommand('iotbffClaimRetries', { numberOfKeys: 1, lua: CLAIM_RETRIES_LUA });
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 4 });
    const tick = () => {
      this.scanning = this.scan().finally(() => {
        this.scanning = undefined;
        if (!this.stopped) this.scanTimer = setTimeout(tick, this.cfg.scanIntervalMs);
      });
    };
    tick();
  }

  /**
   * Stops taking work, lets attempts in flight finish (aborting them after `graceMs`), and releases the
   * leases so that another replica takes the webhooks over at once instead of after leaseMs.
   */
  async stop(graceMs = this.cfg.attemptTimeoutMs): Promise<void> {
    this.stopped = true;
    clearTimeout(this.scanTimer);
    await this.scanning;
    const runs = [...this.runners.values()];
    for (const r of runs) r.stop();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(runs.map((r) => r.done)), grace]);
    clearTimeout(timer);
    for (const r of runs) r.abort();
    await Promise.all(runs.map((r) => r.done));
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** Webhooks whose runner lives in this process (for tests and metrics). */
  get running(): string[] {
    return [...this.runners.keys()];
  }

  /** Starts runners for webhooks nobody runs (lease free), stops runners of deleted webhooks. */
  private async scan(): Promise<void> {
    try {
      const seen = new Set<string>();
      for (const appId of this.cfg.apps()) {
        for (const t of await this.cfg.registry.targets(appId)) {
          const key = `${appId}/${t.id}`;
          seen.add(key);
          if (this.stopped || this.runners.has(key)) continue;
          const got = await this.redis.set(this.cfg.keys.lease(appId, t.id), this.cfg.consumer, 'PX', this.cfg.leaseMs, 'NX');
          if (got !== 'OK') continue;
          const runner = new Runner(this, t);
          this.runners.set(key, runner);
          this.cfg.metrics?.webhooksActive.set(this.runners.size);
          void runner.done.finally(() => {
            this.runners.delete(key);
            this.cfg.metrics?.webhooksActive.set(this.runners.size);
          });
        }
      }
      for (const [key, r] of this.runners) if (!seen.has(key)) r.stop();
      this.lastScanError = '';
    } catch (err) {
      const msg = (err as Error).message;
      if (msg !== this.lastScanError) this.cfg.logger.warn({ err }, 'webhook scan failed; retrying');
      this.lastScanError = msg;
    }
  }

  // --- used by runners -------------------------------------------------------------------------

  /** `signer` is absent for a raw webhook: the platform's body as received, unsigned (contract §14). */
  async send(target: WebhookTarget, signer: Webhook | undefined, event: StoredEvent, signal: AbortSignal): Promise<AttemptResult> {
    const body = signer ? deliveryBody(event) : event.raw;
    const started = performance.now();
    try {
      const res = await got.post(target.url, {
        body,
        headers: { 'content-type': 'application/json', 'user-agent': 'iot-bff-webhooks/1', ...(signer && signedHeaders(signer, event.id, body)) },
        timeout: { request: this.cfg.attemptTimeoutMs },
        retry: { limit: 0 },
        // A redirect is an answer, not a success: following it could send signed events somewhere not registered.
        followRedirect: false,
        throwHttpErrors: false,
        agent: { http: this.httpAgent, https: this.httpsAgent },
        signal,
      });
      const ms = performance.now() - started;
      return { ok: res.statusCode >= 200 && res.statusCode < 300, code: res.statusCode, ms };
    } catch (err) {
      const code = (err as { code?: string; name?: string }).code;
      const error = code === 'ETIMEDOUT' || (err as Error).name === 'TimeoutError' ? 'timeout' : code === 'ERR_ABORTED' || (err as Error).name === 'AbortError' ? 'aborted' : 'connection';
      return { ok: false, code: null, error, ms: performance.now() - started };
    }
  }

  retryDelay(attemptsMade: number): number {
    const d = this.cfg.retryDelaysMs;
    const base = d[Math.min(attemptsMade - 1, d.length - 1)] as number;
    // Up to 10% earlier, so that webhooks failing together do not retry in lockstep; never later than documented.
    return Math.round(base * (1 - Math.random() * 0.1));
  }

  get scriptRedis(): ScriptRedis {
    return this.redis;
  }

  isStopped(): boolean {
    return this.stopped;
  }
}

/** The deliveries of one webhook in this process, while it holds the webhook's lease. */
class Runner {
  readonly done: Promise<void>;
  private readonly sleeper = new Wakeable();
  private readonly controller = new AbortController();
  private stopping = false;
  private leaseLost = false;
  private readonly renewTimer: NodeJS.Timeout;
  private readonly unlisten: () => void;
  /** Absent for a raw webhook, whose deliveries are not signed. */
  private readonly signer: Webhook | undefined;
  private readonly k: { stream: string; group: string; lease: string; retries: string; attempts: string; failed: string; log: string };
  private lastError = '';

  constructor(
    private readonly w: DeliveryWorkers,
    private readonly t: WebhookTarget,
  ) {
    const keys = w.cfg.keys;
    this.k = {
      stream: keys.stream(t.appId),
      group: groupOf(t.id),
      lease: keys.lease(t.appId, t.id),
      retries: keys.retries(t.appId, t.id),
      attempts: keys.attempts(t.appId, t.id),
      failed: keys.failed(t.appId, t.id),
      log: keys.log(t.appId, t.id),
    };
    this.signer = t.format === 'raw' ? undefined : new Webhook(t.secret);
    this.unlisten = w.cfg.notifier.on(t.appId, this.sleeper.wake);
    // Renewed on its own timer, so that an attempt hanging for its full deadline does not cost the lease.
    this.renewTimer = setInterval(() => void this.renew(), Math.max(50, Math.floor(w.cfg.leaseMs / 3)));
    this.done = this.run().finally(() => {
      clearInterval(this.renewTimer);
      this.unlisten();
    });
  }

  stop(): void {
    this.stopping = true;
    this.sleeper.wake();
  }

  abort(): void {
    this.stop();
    this.controller.abort();
  }

  private get active(): boolean {
    return !this.stopping && !this.leaseLost;
  }

  private async renew(): Promise<void> {
    if (!this.active) return;
    try {
      const n = await this.w.scriptRedis.iotbffLeaseRenew(this.k.lease, this.w.cfg.consumer, this.w.cfg.leaseMs);
      if (n !== 1) {
        this.leaseLost = true;
        this.sleeper.wake();
      }
    } catch {
      // Redis unreachable: keep going; if it stays away the lease expires and this runner's writes fail anyway.
    }
  }

  private async run(): Promise<void> {
    const cfg = this.w.cfg;
    let nextClaim = 0;
    // A new holder first finishes what a previous one left pending, so that first attempts stay in arrival order.
    let recovering = true;
    while (this.active) {
      try {
        let worked = false;
        if (recovering) {
          worked = await this.claimStale();
          recovering = await this.othersPending();
          if (recovering) {
            if (this.active) await this.sleeper.sleep(Math.min(cfg.pollMs, 200));
            continue;
          }
        }
        if (Date.now() >= nextClaim) {
          worked = (await this.claimStale()) || worked;
          await this.forgetIdleConsumers();
          nextClaim = Date.now() + Math.max(100, Math.floor(cfg.claimIdleMs / 2));
        }
        if (this.active) worked = (await this.firstAttempts()) || worked;
        if (this.active) worked = (await this.dueRetries()) || worked;
        this.lastError = '';
        if (!worked && this.active) await this.sleeper.sleep(cfg.pollMs);
      } catch (err) {
        const msg = (err as Error).message;
        if (msg !== this.lastError) cfg.logger.warn({ appId: this.t.appId, webhookId: this.t.id, err }, 'webhook delivery: redis error; retrying');
        this.lastError = msg;
        if (this.active) await this.sleeper.sleep(cfg.pollMs);
      }
    }
    if (this.stopping && !this.leaseLost) {
      // A clean stop hands the webhook over at once.
      await this.w.scriptRedis.iotbffLeaseRelease(this.k.lease, cfg.consumer).catch(() => undefined);
    }
  }

  /** Makes our pending entries look idle (XCLAIM … IDLE), so that the next holder's XAUTOCLAIM takes them without waiting. */
  private async handBack(sids: string[]): Promise<void> {
    if (sids.length === 0) return;
    const cfg = this.w.cfg;
    await this.w.scriptRedis
      .xclaim(this.k.stream, this.k.group, cfg.consumer, 0, ...sids, 'IDLE', cfg.claimIdleMs + 1)
      .catch(() => undefined); // Redis away: they become claimable by age anyway
  }

  /** Whether another consumer (a previous holder) still has entries pending in this webhook's group. */
  private async othersPending(): Promise<boolean> {
    const r = (await this.w.scriptRedis.xpending(this.k.stream, this.k.group)) as [number, string | null, string | null, Array<[string, string]> | null];
    return (r[3] ?? []).some(([name, count]) => name !== this.w.cfg.consumer && Number(count) > 0);
  }

  /** Drops consumers of earlier holders once they have nothing pending, so that restarts do not grow the group forever. */
  private async forgetIdleConsumers(): Promise<void> {
    const cfg = this.w.cfg;
    const rows = (await this.w.scriptRedis.xinfo('CONSUMERS', this.k.stream, this.k.group)) as unknown[][];
    for (const row of rows) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < row.length; i += 2) info[String(row[i])] = row[i + 1];
      const name = String(info.name);
      if (name !== cfg.consumer && Number(info.pending) === 0 && Number(info.idle) > cfg.claimIdleMs) {
        await this.w.scriptRedis.xgroup('DELCONSUMER', this.k.stream, this.k.group, name);
      }
    }
  }

  /** Entries a dead consumer read but never finished, oldest first, become ours (XAUTOCLAIM). */
  private async claimStale(): Promise<boolean> {
    const cfg = this.w.cfg;
    let start = '0-0';
    let worked = false;
    do {
      const r = (await this.w.scriptRedis.xautoclaim(this.k.stream, this.k.group, cfg.consumer, cfg.claimIdleMs, start, 'COUNT', cfg.batch)) as [
        string,
        Array<RawEntry | null>,
        string[]?,
      ];
      start = r[0];
      const entries = r[1].filter((e): e is RawEntry => Array.isArray(e) && Array.isArray(e[1]));
      if (entries.length > 0) {
        cfg.logger.info({ appId: this.t.appId, webhookId: this.t.id, count: entries.length }, 'claimed pending deliveries of another replica');
        worked = true;
        await this.process(entries);
      }
    } while (start !== '0-0' && this.active);
    return worked;
  }

  private async firstAttempts(): Promise<boolean> {
    const cfg = this.w.cfg;
    let res: Array<[string, RawEntry[]]> | null;
    try {
      res = (await this.w.scriptRedis.xreadgroup('GROUP', this.k.group, cfg.consumer, 'COUNT', cfg.batch, 'STREAMS', this.k.stream, '>')) as Array<
        [string, RawEntry[]]
      > | null;
    } catch (err) {
      if (/NOGROUP/.test((err as Error).message)) {
        // The group is gone (webhook deleted, or the stream lost): stop; the next scan restarts us if it still exists.
        await this.recreateGroupIfWebhookExists();
        this.stopping = true;
        return false;
      }
      throw err;
    }
    const entries = res?.[0]?.[1] ?? [];
    if (entries.length === 0) return false;
    await this.process(entries);
    return true;
  }

  private async recreateGroupIfWebhookExists(): Promise<void> {
    const exists = await this.w.scriptRedis.hexists(this.w.cfg.keys.webhooks(this.t.appId), this.t.id);
    if (exists) await this.w.scriptRedis.xgroup('CREATE', this.k.stream, this.k.group, '0', 'MKSTREAM').catch(() => undefined);
  }

  /**
   * First attempts, started in stream order (at most `concurrency` in flight); non-matching entries are
   * acknowledged without a POST. A Redis failure of one attempt stops starting more; what was not started stays
   * pending, and is claimed again once idle for claimIdleMs.
   */
  private async process(entries: RawEntry[]): Promise<void> {
    const skip: string[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: { err: unknown } | undefined;
    const width = Math.max(1, this.w.cfg.concurrency);
    for (const [i, [sid, fields]] of entries.entries()) {
      while (inFlight.size >= width) await Promise.race(inFlight);
      if (failure) break;
      if (!this.active) {
        // Unfinished entries stay pending; marked idle, so that the next holder claims them at once.
        await this.handBack(entries.slice(i).map((e) => e[0]));
        break;
      }
      const event = entryToEvent(this.t.appId, sid, fields);
      if (!this.t.notifyTypes.has(event.notifyType)) {
        skip.push(sid);
        continue;
      }
      if (skip.length > 0) await this.w.scriptRedis.xack(this.k.stream, this.k.group, ...skip.splice(0));
      const p: Promise<void> = this.attempt(event, sid, 1, Date.now(), 'first')
        .catch((err: unknown) => void (failure ??= { err }))
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
    if (failure) throw failure.err;
    if (skip.length > 0) await this.w.scriptRedis.xack(this.k.stream, this.k.group, ...skip);
  }

  /** Retries whose time has come (ours, or left by a dead runner once their claim lapsed). */
  private async dueRetries(): Promise<boolean> {
    const cfg = this.w.cfg;
    const now = Date.now();
    const ids = await this.w.scriptRedis.iotbffClaimRetries(this.k.retries, now, now + cfg.claimIdleMs, cfg.batch);
    for (const sid of ids) {
      if (!this.active) break;
      const state = await this.w.scriptRedis.hget(this.k.attempts, sid);
      const [made, first] = (state ?? '0:0').split(':').map(Number) as [number, number];
      const event = await this.w.cfg.store.get(this.t.appId, sid);
      if (!event) {
        await this.record(sid, 0, 'expired', { ok: false, code: null, error: 'expired', ms: 0 }, notifyLabel('unknown'));
        await this.w.scriptRedis.multi().zrem(this.k.retries, sid).hdel(this.k.attempts, sid).exec();
        continue;
      }
      await this.attempt(event, sid, made + 1, first || now, 'retry');
    }
    return ids.length > 0;
  }

  private async attempt(event: StoredEvent, sid: string, n: number, firstAt: number, kind: 'first' | 'retry'): Promise<void> {
    const cfg = this.w.cfg;
    const label = notifyLabel(event.notifyType);
    const res = await this.w.send(this.t, this.signer, event, this.controller.signal);
    const redis = this.w.scriptRedis;
    if (res.ok) {
      // Acknowledge first: the success is what must not be repeated.
      const tx = redis.multi();
      if (kind === 'first') tx.xack(this.k.stream, this.k.group, sid);
      else tx.zrem(this.k.retries, sid).hdel(this.k.attempts, sid);
      this.pushLog(tx, { eventId: event.id, attempt: n, status: 'delivered', at: new Date().toISOString(), code: res.code, ms: Math.round(res.ms) });
      await tx.exec();
      cfg.metrics?.deliveries.inc({ notify_type: label, outcome: 'delivered' });
      cfg.metrics?.latency.observe({ attempt: kind }, Math.max(0, Date.now() - Date.parse(event.receivedAt)) / 1000);
      return;
    }
    if (res.error === 'aborted') {
      // Shutting down: a first attempt stays pending (marked idle for the next holder), a retry stays due.
      if (kind === 'first') await this.handBack([sid]);
      return;
    }
    const now = Date.now();
    const delay = this.w.retryDelay(n);
    // Given up only once an attempt at or after retryForMs failed: retries span at least retryForMs (contract: ≥ 24 h).
    const giveUp = now - firstAt >= cfg.retryForMs;
    const tx = redis.multi();
    if (giveUp) {
      tx.zrem(this.k.retries, sid)
        .hdel(this.k.attempts, sid)
        .zadd(this.k.failed, now, sid)
        .zremrangebyrank(this.k.failed, 0, -(cfg.failedKeep + 1));
    } else {
      // Moved out of the group's pending list into the schedule in one transaction: later events are not held back.
      tx.zadd(this.k.retries, now + delay, sid).hset(this.k.attempts, sid, `${n}:${firstAt}`);
    }
    if (kind === 'first') tx.xack(this.k.stream, this.k.group, sid);
    const entry: DeliveryAttempt = {
      eventId: event.id,
      attempt: n,
      status: giveUp ? 'failed' : 'retrying',
      at: new Date(now).toISOString(),
      code: res.code,
      ms: Math.round(res.ms),
    };
    if (res.error) entry.error = res.error;
    if (!giveUp) entry.nextAttemptAt = new Date(now + delay).toISOString();
    this.pushLog(tx, entry);
    await tx.exec();
    cfg.metrics?.deliveries.inc({ notify_type: label, outcome: giveUp ? 'failed' : 'retried' });
    if (giveUp) cfg.logger.warn({ appId: this.t.appId, webhookId: this.t.id, eventId: event.id, attempts: n }, 'webhook delivery failed for good');
  }

  private pushLog(tx: ReturnType<Redis['multi']>, entry: DeliveryAttempt): void {
    // Bounded in length, and in time: a log left behind by a webhook deleted mid-attempt disappears on its own.
    tx.lpush(this.k.log, JSON.stringify(entry)).ltrim(this.k.log, 0, this.w.cfg.logSize - 1).pexpire(this.k.log, LOG_TTL_MS);
  }

  private async record(sid: string, n: number, status: DeliveryAttempt['status'], res: AttemptResult, label: string): Promise<void> {
    const tx = this.w.scriptRedis.multi();
    this.pushLog(tx, { eventId: `${this.t.appId}:${sid}`, attempt: n, status, at: new Date().toISOString(), code: res.code, ms: 0, ...(res.error ? { error: res.error } : {}) });
    await tx.exec();
    this.w.cfg.metrics?.deliveries.inc({ notify_type: label, outcome: status });
  }
}

/** Reads a webhook's deliveries log, newest first. */
export async function readDeliveries(redis: Redis, keys: EventKeys, appId: string, webhookId: string, limit = 100): Promise<DeliveryAttempt[]> {
  const rows = await redis.lrange(keys.log(appId, webhookId), 0, Math.max(0, limit - 1));
  return rows.map((r) => JSON.parse(r) as DeliveryAttempt);
}

/**
 * Schedules events again for one webhook: the listed event ids (any still in the stream), or every
 * event kept as failed. Attempts restart from one. Returns how many were scheduled.
 */
export async function redeliver(
  redis: Redis,
  store: EventStore,
  keys: EventKeys,
  appId: string,
  webhookId: string,
  eventIds?: readonly string[],
): Promise<number> {
  let sids: string[];
  if (eventIds && eventIds.length > 0) {
    sids = [];
    for (const id of eventIds) {
      const sid = streamIdOf(appId, id);
      if (sid && (await store.get(appId, sid))) sids.push(sid);
    }
  } else {
    sids = await redis.zrange(keys.failed(appId, webhookId), 0, -1);
  }
  if (sids.length === 0) return 0;
  const now = Date.now();
  const tx = redis.multi();
  for (const sid of sids) {
    tx.zadd(keys.retries(appId, webhookId), now, sid).hset(keys.attempts(appId, webhookId), sid, `0:${now}`).zrem(keys.failed(appId, webhookId), sid);
  }
  tx.publish(keys.channel(appId), 'redeliver');
  await tx.exec();
  return sids.length;
}
