// GetCache: the one entry point the router calls for a cacheable GET (hit, or one platform call shared by every identical request across replicas) and for a write's invalidation.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LocalFlights, RemoteWaits, formatDone, type DoneMessage } from './coalesce.js';
import { ageSeconds, cacheStatus, freshness, parseCacheControl, type CacheStatusParts, type Forward, type RequestDirectives } from './control.js';
import { gatewayErrorCodec } from './errors.js';
import { cacheKey, checkTag } from './key.js';
import type { CacheMetricsHooks, LookupOutcome } from './metrics.js';
import { CacheStore, cacheableStatus, encodeEntry, type DecodedEntry } from './store.js';
import type { CachedAnswer, ErrorCodec, RouteParams, RouteQuery, SharedError } from './types.js';

export * from './types.js';
export { cacheKey, canonical, checkTag, upgradeTags } from './key.js';
export { ALL_OPERATIONS, tagParam, upgradeEventTags, ttlFor } from './policies.js';
export { cacheStatus, parseCacheControl, type RequestDirectives } from './control.js';
export { createCacheMetrics, type CacheMetricsHooks } from './metrics.js';
export { gatewayErrorCodec } from './errors.js';

export interface GetCacheOptions {
  /** The gateway's command connection; null (REDIS_URL=memory) = no shared cache, in-process coalescing only. */
  redis: Redis | null;
  /** A connection in subscriber mode (the gateway's existing one may be shared); null = polling only. */
  subscriber: Redis | null;
  /** REDIS_KEY_PREFIX. */
  prefix: string;
  /** REDIS_COMMAND_TIMEOUT_MS: cap of every Redis command (the request's deadline caps it further). */
  commandTimeoutMs: number;
  /** CACHE_MAX_ENTRY_BYTES: larger answers are served but not stored (default 256 KiB). */
  maxEntryBytes?: number;
  /**
   * CACHE_LOCK_TTL_MS: life of the loader's lock; the holder renews it every third of it while its platform call
   * runs, so this bounds only how long waiters wait for a holder that died (default 3000).
   */
  lockTtlMs?: number;
  /** Poll interval bounds of a waiter (pub/sub normally answers first). Defaults 50 and 500 ms. */
  pollMinMs?: number;
  pollMaxMs?: number;
  /** How failures are shared with waiters (default: the gateway's GatewayError). */
  errors?: ErrorCodec;
  metrics?: CacheMetricsHooks;
  /** For the store's degraded moments (once per failure, never per hit). */
  log?: { warn(obj: object, msg: string): void };
}

export interface FetchContext {
  appId: string;
  /** The route's id (e.g. `getUpgradeTask`). */
  opId: string;
  /** Validated path parameters (appId excluded) and validated query: the key is built from these. */
  params: RouteParams;
  query: RouteQuery;
  /** The operation's TTL after configuration; 0 = not cached (the load runs as if there were no cache). */
  ttlSec: number;
  /** Tags to file the entry under (from the route's `cache.tags`). */
  tags?: readonly string[];
  /** The caller's Cache-Control (and Pragma) request headers, raw. */
  cacheControl?: string | readonly string[];
  pragma?: string | readonly string[];
  /** Absolute epoch ms; no wait and no Redis command goes past it. */
  deadline: number;
}

/** What the platform call (through quota, token and forwarder) gave. */
export interface LoadResult {
  status: number;
  body: unknown;
  /** The forwarder's headers (quota headers): on this request's answer only, never stored or shared. */
  headers?: Record<string, string>;
}

export interface FetchResult {
  status: number;
  body: unknown;
  /** The loader's own headers when this request called the platform; {} otherwise (add the app's current quota headers). */
  headers: Record<string, string>;
  /** `Cache-Status` and `Age`, to set on the answer. */
  cacheHeaders: { 'Cache-Status': string; Age: string };
  cacheStatus: string;
  /** Seconds (the Age header). */
  age: number;
  /** Answered from a stored entry (no platform call, no quota). */
  fromCache: boolean;
  /** Answered by another request's platform call (no platform call, no quota). */
  collapsed: boolean;
  /** This request's answer was written to the cache. */
  stored: boolean;
  /** false when the shared store could not be used: the request behaved as if there were no cache. */
  storeAvailable: boolean;
}

/** How one flight (a lookup, then a wait or a platform call) ended, before it is told per request. */
interface Flight {
  /** `plain`: loaded with the cache off (ttl 0) or the store unavailable (then `detail` says so). */
  how: 'hit' | 'loaded' | 'waited' | 'plain';
  answer: CachedAnswer;
  ageMs: number;
  ttlMs: number;
  headers: Record<string, string>;
  fwd: Forward;
  fwdStatus?: number;
  stored: boolean;
  detail?: string;
}

/** A flight's failure: the original error for its owner, the shareable form for the others. */
class FlightFailure {
  constructor(
    readonly original: unknown,
    readonly shared: SharedError | undefined,
    /** The failure came from another replica's call (the owner waited too). */
    readonly waited: boolean,
    readonly fwd: Forward,
    readonly detail?: string,
  ) {}
}

const NO_METRICS: CacheMetricsHooks = {
  lookup: () => undefined,
  coalesced: () => undefined,
  stored: () => undefined,
  notStored: () => undefined,
  saved: () => undefined,
  invalidated: () => undefined,
};

export class GetCache {
  readonly store: CacheStore;
  private readonly remote: RemoteWaits;
  private readonly flights = new LocalFlights<Flight>();
  private readonly codec: ErrorCodec;
  private readonly metrics: CacheMetricsHooks;
  private readonly maxEntryBytes: number;
  private readonly lockTtlMs: number;
  private readonly commandTimeoutMs: number;
  private warnedDown = false;

  constructor(private readonly opts: GetCacheOptions) {
    this.store = new CacheStore(opts.redis, { prefix: opts.prefix, commandTimeoutMs: opts.commandTimeoutMs });
    this.maxEntryBytes = opts.maxEntryBytes ?? 256 * 1024;
    this.lockTtlMs = opts.lockTtlMs ?? 3000;
    this.commandTimeoutMs = opts.commandTimeoutMs;
    this.codec = opts.errors ?? gatewayErrorCodec;
    this.metrics = opts.metrics ?? NO_METRICS;
    const pollMaxMs = opts.pollMaxMs ?? Math.min(500, Math.max(50, Math.floor(this.lockTtlMs / 2)));
    this.remote = new RemoteWaits(opts.subscriber, this.store, {
      prefix: opts.prefix,
      pollMinMs: Math.min(opts.pollMinMs ?? 50, pollMaxMs),
      pollMaxMs,
      // An inline entry plus its key; anything longer on our channel is not ours to parse.
      maxMessageChars: this.maxEntryBytes + 1024,
    });
  }

  close(): void {
    this.remote.close();
  }

  /**
   * Answers a cacheable GET: from the cache when a fresh entry exists, else by the one platform call that every
   * identical request (this replica and the others) shares. Never fails because of the cache: a store that is
   * down or slow makes it call `load` as if there were no cache. `load`'s own failure is thrown (with
   * Cache-Status on its answer), to this request and to those that waited for it.
   */
  async fetch(ctx: FetchContext, load: () => Promise<LoadResult>): Promise<FetchResult> {
    let role: 'owner' | 'joined' = 'owner';
    try {
      const ttlMs = Math.round(ctx.ttlSec * 1000);
      if (!(ttlMs > 0)) {
        return this.tell(await this.plainLoad(load, { fwd: 'bypass', detail: 'off' }), role, ctx);
      }
      // A malformed tag is a bug in a route description: fail loudly (500) rather than cache without it.
      for (const t of ctx.tags ?? []) checkTag(t);
      const d = parseCacheControl(ctx.cacheControl, ctx.pragma);
      const key = cacheKey({ prefix: this.opts.prefix, appId: ctx.appId, opId: ctx.opId, params: ctx.params, query: ctx.query });
      if (d.noCache) {
        return this.tell(await this.refresh(ctx, key, ttlMs, load), role, ctx);
      }
      // Requests with another max-age are separate flights: a hit good enough for one may be too old for another.
      const flight = this.flights.run(`${key}|${d.maxAgeSec ?? ''}`, () => this.resolve(ctx, key, ttlMs, d, load));
      if (!flight.joined) return this.tell(await flight.promise, role, ctx);
      role = 'joined';
      this.metrics.coalesced(ctx.appId, 'local');
      try {
        return this.tell(await this.untilDeadline(flight.promise, ctx.deadline), role, ctx);
      } catch (err) {
        // The owner's failure was its own (a refusal of its client's quota share, say): this request tries for itself.
        if (!(err instanceof FlightFailure) || err.shared || err.waited) throw err;
        role = 'owner';
        return this.tell(await this.resolve(ctx, key, ttlMs, d, load), role, ctx);
      }
    } catch (err) {
      if (!(err instanceof FlightFailure)) throw err;
      this.count(ctx, role === 'joined' || err.waited ? 'collapsed' : lookupOutcome(err.fwd, err.detail));
      throw failureFor(this.codec, err, role);
    }
  }

  /** One lookup per request, by how it ended; a hit or a collapsed answer (or shared failure) saved a platform call. */
  private count(ctx: FetchContext, outcome: LookupOutcome): void {
    this.metrics.lookup(ctx.appId, ctx.opId, outcome);
    if (outcome === 'hit' || outcome === 'collapsed') this.metrics.saved(ctx.appId);
  }

  /**
   * Drops the app's entries filed under `tags` (a write's `invalidates`), before the write is answered.
   * Never throws: with the store down there is nothing it could serve either; `ok: false` says so.
   */
  async invalidate(appId: string, tags: readonly string[], deadline = Date.now() + this.commandTimeoutMs): Promise<{ ok: boolean; dropped: number }> {
    if (tags.length === 0) return { ok: true, dropped: 0 };
    try {
      const dropped = await this.store.invalidate(appId, tags, deadline);
      this.metrics.invalidated(appId, dropped);
      return { ok: true, dropped };
    } catch (err) {
      this.down(err);
      return { ok: false, dropped: 0 };
    }
  }

  // ---- one flight ---------------------------------------------------------------------------------------

  private async resolve(ctx: FetchContext, key: string, ttlMs: number, d: RequestDirectives, load: () => Promise<LoadResult>): Promise<Flight> {
    let fwd: Forward = 'miss';
    let seenPttl = -2;
    try {
      const found = await this.store.read(key, ctx.deadline);
      if (found) {
        seenPttl = found.entry.ttlMs - found.ageMs;
        const f = freshness(found.ageMs, ttlMs, d);
        if (f === 'fresh') {
          return { how: 'hit', answer: found.entry, ageMs: found.ageMs, ttlMs, headers: {}, fwd: 'miss', stored: false };
        }
        if (f === 'stale') fwd = 'stale';
      }
    } catch (err) {
      return this.withoutStore(ctx, err, load);
    }
    return this.leadOrWait(ctx, key, ttlMs, d, fwd, seenPttl, load);
  }

  /** Takes the key's lock and calls the platform, or waits for the holder; takes over if the holder dies. */
  private async leadOrWait(
    ctx: FetchContext,
    key: string,
    ttlMs: number,
    d: RequestDirectives,
    fwd: Forward,
    seenPttl: number,
    load: () => Promise<LoadResult>,
  ): Promise<Flight> {
    const token = randomBytes(12).toString('base64url');
    const tags = ctx.tags ?? [];
    const listener = this.remote.listen(ctx.appId, key, ctx.deadline, this.commandTimeoutMs);
    try {
      let counted = false;
      for (;;) {
        if (Date.now() >= ctx.deadline) throw new FlightFailure(this.codec.timeout({}), undefined, true, fwd);
        let acq;
        try {
          acq = await this.store.acquire(ctx.appId, key, tags, token, this.lockTtlMs, ctx.deadline, seenPttl);
        } catch (err) {
          return await this.withoutStore(ctx, err, load);
        }
        if (acq.taken) return await this.lead(ctx, key, ttlMs, fwd, token, acq.epochs, load);
        if (acq.holder.startsWith('d:')) {
          // A holder finished and stored between our read and the lock: read its answer now, not at the first poll.
          const seen = await this.store.peek(key, ctx.deadline).catch(() => undefined);
          if (seen?.state === 'entry' && freshness(seen.ageMs, ttlMs, d) === 'fresh') {
            return { how: 'waited', answer: seen.entry, ageMs: seen.ageMs, ttlMs, headers: {}, fwd, stored: false };
          }
        }
        if (!counted) {
          counted = true;
          this.metrics.coalesced(ctx.appId, 'remote');
        }
        const w = await listener.wait();
        // An answer too old for this caller (the old entry, left when the holder could not store): ask again.
        if (w.kind === 'value' && freshness(w.ageMs, ttlMs, d) !== 'fresh') {
          seenPttl = w.entry.ttlMs - w.ageMs;
          continue;
        }
        if (w.kind === 'value') {
          return { how: 'waited', answer: w.entry, ageMs: w.ageMs, ttlMs, headers: {}, fwd, stored: false };
        }
        if (w.kind === 'error') {
          throw new FlightFailure(this.codec.decode(w.error, {}), w.error, true, fwd);
        }
        if (w.kind === 'timeout') throw new FlightFailure(this.codec.timeout({}), undefined, true, fwd);
        if (w.kind === 'unavailable') return await this.withoutStore(ctx, new Error('store stopped answering'), load);
        // takeover: the holder died (its lock expired) or could not share its answer; try the lock again.
      }
    } finally {
      listener.close();
    }
  }

  /** The lock holder: one platform call, then store, mark the lock done and tell the waiters, in one script. */
  private async lead(
    ctx: FetchContext,
    key: string,
    ttlMs: number,
    fwd: Forward,
    token: string,
    epochs: readonly string[],
    load: () => Promise<LoadResult>,
  ): Promise<Flight> {
    const lockMs = this.lockTtlMs;
    const renew = setInterval(() => {
      // Past the request's deadline the load is hung, not slow: let the lock lapse so that waiters take over.
      if (Date.now() > ctx.deadline) return clearInterval(renew);
      this.store.renew(key, token, lockMs, Date.now() + this.commandTimeoutMs).catch(() => undefined);
    }, Math.max(10, Math.floor(lockMs / 3)));
    renew.unref();
    const complete = (entry: string, outcome: string, message: DoneMessage) =>
      this.store
        .complete({
          appId: ctx.appId,
          entryKey: key,
          token,
          entry,
          ttlMs,
          tags: ctx.tags ?? [],
          epochs,
          outcome,
          // Pollers read the outcome from the lock for a little longer than one poll interval.
          outcomeMs: Math.max(1000, 2 * lockMs),
          message: formatDone(message),
          // The answer is in hand: finishing may take one command's time even if the request's deadline is near.
          deadline: Date.now() + this.commandTimeoutMs,
        })
        .catch((err: unknown) => {
          this.down(err);
          return 'unavailable' as const;
        });
    let r: LoadResult;
    try {
      r = await load();
    } catch (err) {
      clearInterval(renew);
      const shared = this.codec.encode(err);
      await complete('', shared ? `e:${JSON.stringify(shared)}` : 'retry', shared ? { k: key, o: 'err', x: shared } : { k: key, o: 'retry' });
      throw new FlightFailure(err, shared, false, fwd);
    }
    clearInterval(renew);
    return this.finish(ctx, r, ttlMs, fwd, (entry, message) => complete(entry, '', message), key);
  }

  /** Encodes and stores a loaded answer (if it may and fits) and reports the Flight. */
  private async finish(
    ctx: FetchContext,
    r: LoadResult,
    ttlMs: number,
    fwd: Forward,
    complete: (entry: string, message: DoneMessage) => Promise<'stored' | 'raced' | 'none' | 'unavailable'>,
    key: string,
  ): Promise<Flight> {
    const answer = { status: r.status, body: r.body };
    const encoded = cacheableStatus(r.status) ? encodeEntry(answer, ttlMs) : '';
    const bytes = Buffer.byteLength(encoded);
    let detail: string | undefined;
    if (!encoded) detail = 'status';
    else if (bytes > this.maxEntryBytes) detail = 'too-large';
    // Waiters get the answer inline when it fits the cap; a larger one they load themselves (rare: such lists are big pages).
    const message: DoneMessage = encoded && bytes <= this.maxEntryBytes ? { k: key, o: 'ok', e: encoded } : { k: key, o: 'retry' };
    const result = await complete(detail ? '' : encoded, message);
    if (result === 'stored') this.metrics.stored(ctx.appId, bytes);
    else if (result === 'raced') detail = 'invalidated';
    else if (result === 'unavailable' && !detail) detail = 'store-unavailable';
    if (detail) this.metrics.notStored(ctx.appId, detail as 'too-large');
    return { how: 'loaded', answer, ageMs: 0, ttlMs, headers: r.headers ?? {}, fwd, fwdStatus: r.status, stored: result === 'stored', detail };
  }

  /** `no-cache`: this request calls the platform whatever is stored, and stores what it gets. */
  private async refresh(ctx: FetchContext, key: string, ttlMs: number, load: () => Promise<LoadResult>): Promise<Flight> {
    const token = randomBytes(12).toString('base64url');
    let acq;
    try {
      acq = await this.store.acquire(ctx.appId, key, ctx.tags ?? [], token, this.lockTtlMs, ctx.deadline, Infinity);
    } catch (err) {
      return this.withoutStore(ctx, err, load, 'request');
    }
    // Holding the lock lets identical plain requests arriving now wait for this call instead of making their own.
    if (acq.taken) return this.lead(ctx, key, ttlMs, 'request', token, acq.epochs, load);
    let r: LoadResult;
    try {
      r = await load();
    } catch (err) {
      throw new FlightFailure(err, this.codec.encode(err), false, 'request');
    }
    const complete = (entry: string) =>
      this.store
        .complete({
          appId: ctx.appId,
          entryKey: key,
          token: '',
          entry,
          ttlMs,
          tags: ctx.tags ?? [],
          epochs: acq.epochs,
          outcome: '',
          outcomeMs: 1000,
          message: '',
          deadline: Date.now() + this.commandTimeoutMs,
        })
        .catch((err: unknown) => {
          this.down(err);
          return 'unavailable' as const;
        });
    return this.finish(ctx, r, ttlMs, 'request', (entry) => complete(entry), key);
  }

  /** The store is down or too slow: call the platform as if there were no cache (contract §13). */
  private async withoutStore(ctx: FetchContext, err: unknown, load: () => Promise<LoadResult>, fwd: Forward = 'miss'): Promise<Flight> {
    this.down(err);
    this.metrics.notStored(ctx.appId, 'store-unavailable');
    const f = await this.plainLoad(load, { fwd, detail: 'store-unavailable' });
    return f;
  }

  private async plainLoad(load: () => Promise<LoadResult>, how: { fwd: Forward; detail: string }): Promise<Flight> {
    let r: LoadResult;
    try {
      r = await load();
    } catch (err) {
      throw new FlightFailure(err, this.codec.encode(err), false, how.fwd, how.detail);
    }
    return {
      how: 'plain',
      answer: { status: r.status, body: r.body },
      ageMs: 0,
      ttlMs: 0,
      headers: r.headers ?? {},
      fwd: how.fwd,
      fwdStatus: r.status,
      stored: false,
      detail: how.detail,
    };
  }

  private down(err: unknown): void {
    if (this.warnedDown || !this.opts.log) return;
    this.warnedDown = true;
    // Once, until the store answers again: a dead Redis must not write a line per request.
    this.opts.log.warn({ reason: err instanceof Error ? err.message : String(err) }, 'cache store unavailable; serving without cache');
    setTimeout(() => (this.warnedDown = false), 60_000).unref();
  }

  /** A local joiner never waits past its own deadline, even if the flight it joined runs longer. */
  private untilDeadline(p: Promise<Flight>, deadline: number): Promise<Flight> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FlightFailure(this.codec.timeout({}), undefined, true, 'miss')), Math.max(0, deadline - Date.now()));
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  // ---- what one request is told ----------------------------------------------------------------------------

  private tell(f: Flight, role: 'owner' | 'joined', ctx: FetchContext): FetchResult {
    const parts: CacheStatusParts = {};
    let fromCache = false;
    let collapsed = false;
    if (f.how === 'hit') {
      parts.hit = true;
      parts.ttlSec = Math.max(0, Math.floor((f.ttlMs - f.ageMs) / 1000));
      fromCache = true;
    } else if (f.how === 'waited' || role === 'joined') {
      parts.fwd = f.fwd;
      parts.collapsed = true;
      collapsed = true;
      if (f.how === 'plain') parts.detail = f.detail;
    } else {
      parts.fwd = f.fwd;
      if (f.fwdStatus !== undefined) parts.fwdStatus = f.fwdStatus;
      parts.stored = f.stored;
      if (f.detail) parts.detail = f.detail;
    }
    const cs = cacheStatus(parts);
    const age = ageSeconds(f.ageMs);
    this.count(ctx, fromCache ? 'hit' : collapsed ? 'collapsed' : lookupOutcome(f.fwd, f.detail));
    return {
      status: f.answer.status,
      body: f.answer.body,
      headers: role === 'owner' && f.how !== 'hit' && f.how !== 'waited' ? f.headers : {},
      cacheHeaders: { 'Cache-Status': cs, Age: String(age) },
      cacheStatus: cs,
      age,
      fromCache,
      collapsed,
      stored: role === 'owner' && f.stored,
      storeAvailable: f.detail !== 'store-unavailable',
    };
  }
}

function lookupOutcome(fwd: Forward, detail: string | undefined): LookupOutcome {
  if (detail === 'store-unavailable') return 'unavailable';
  if (fwd === 'bypass') return 'bypass';
  if (fwd === 'request') return 'refresh';
  if (fwd === 'stale') return 'stale';
  return 'miss';
}

/** Turns a flight's failure into the error this request throws, with its own Cache-Status and Age. */
function failureFor(codec: ErrorCodec, f: FlightFailure, role: 'owner' | 'joined'): unknown {
  const collapsed = role === 'joined' || f.waited;
  const cs = cacheStatus({ fwd: f.fwd, collapsed, detail: f.detail });
  const headers = { 'Cache-Status': cs, Age: '0' };
  if (collapsed && f.shared) return codec.decode(f.shared, headers);
  return codec.withHeaders(f.original, headers);
}

export type { DecodedEntry, LookupOutcome };
