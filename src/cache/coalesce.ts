// Coalescing: identical requests in one replica share one promise; across replicas they wait for the lock holder's answer (pub/sub, bounded polling as the safety net).
// RedisClient: one server, a Sentinel set or a Cluster (issue 14); the alias keeps this file's annotations.
import type { RedisClient as Redis } from '../redis.js';
import { keys } from './key.js';
import { decodeEntry, type CacheStore, type DecodedEntry } from './store.js';
import type { SharedError } from './types.js';

/**
 * In-flight work per key within this process: the first caller runs it, the others await the same promise,
 * so N local requests for one key cost one Redis wait (or one platform call) instead of N.
 */
export class LocalFlights<T> {
  private readonly flights = new Map<string, Promise<T>>();

  get size(): number {
    return this.flights.size;
  }

  /** `joined` is true for everyone but the one whose `run` was started. */
  run(key: string, run: () => Promise<T>): { promise: Promise<T>; joined: boolean } {
    const existing = this.flights.get(key);
    if (existing) return { promise: existing, joined: true };
    const promise = run().finally(() => {
      if (this.flights.get(key) === promise) this.flights.delete(key);
    });
    this.flights.set(key, promise);
    return { promise, joined: false };
  }
}

/** What the lock holder published on the app's channel. */
export type DoneMessage =
  | { k: string; o: 'ok'; e: string }
  | { k: string; o: 'err'; x: SharedError }
  | { k: string; o: 'retry' };

/**
 * `<kind>\n<entry key>\n<payload>`: the entry goes out as stored, not JSON-escaped inside another JSON text, so a
 * message is never much longer than the entry it carries. Keys never contain a newline.
 */
export function formatDone(m: DoneMessage): string {
  const payload = m.o === 'ok' ? m.e : m.o === 'err' ? JSON.stringify(m.x) : '';
  return `${m.o}\n${m.k}\n${payload}`;
}

/** Bounded parse of a channel message: anything malformed or too long is ignored, never thrown. */
export function parseDone(text: string, maxChars: number): DoneMessage | undefined {
  if (text.length > maxChars) return undefined;
  const i = text.indexOf('\n');
  const j = i < 0 ? -1 : text.indexOf('\n', i + 1);
  if (j < 0) return undefined;
  const [o, k, payload] = [text.slice(0, i), text.slice(i + 1, j), text.slice(j + 1)];
  if (k === '') return undefined;
  if (o === 'ok' && payload !== '') return { k, o, e: payload };
  if (o === 'retry') return { k, o };
  if (o === 'err') {
    const x = parseSharedError(payload);
    if (x) return { k, o, x };
  }
  return undefined;
}

/** How a cross-replica wait ended. */
export type WaitOutcome =
  | { kind: 'value'; entry: DecodedEntry; ageMs: number }
  | { kind: 'error'; error: SharedError }
  /** The holder died or could not share its answer: take the lock and load. */
  | { kind: 'takeover' }
  /** The request's deadline passed while waiting. */
  | { kind: 'timeout' }
  /** The store stopped answering while we polled: load without it. */
  | { kind: 'unavailable' };

export interface RemoteWaitOptions {
  prefix: string;
  /** First poll interval; doubles up to `pollMaxMs`. Polling only matters when a message was missed. */
  pollMinMs: number;
  pollMaxMs: number;
  /** Largest channel message read (an entry inline is at most the entry cap plus a little). */
  maxMessageChars: number;
}

type Listener = (m: DoneMessage) => void;

/**
 * Waiting for another replica's platform call. One subscription per app (its channel carries the app's hash
 * tag), made lazily on the shared subscriber connection and kept: ioredis re-subscribes after reconnects.
 * A waiter registers before it tries the lock, so a message cannot slip between the two; polling the lock
 * (bounded interval) covers a subscription that is not up yet or a message lost in a reconnect.
 */
export class RemoteWaits {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly subscribed = new Map<string, Promise<boolean>>();
  private readonly onMessage = (channel: string, text: string) => {
    if (!channel.startsWith(`${this.opts.prefix}cache-done:`)) return;
    const m = parseDone(text, this.opts.maxMessageChars);
    if (!m) return;
    for (const l of this.listeners.get(m.k) ?? []) l(m);
  };

  constructor(
    private readonly subscriber: Redis | null,
    private readonly store: CacheStore,
    private readonly opts: RemoteWaitOptions,
  ) {
    subscriber?.on('message', this.onMessage);
  }

  close(): void {
    this.subscriber?.off('message', this.onMessage);
  }

  /** Subscribes to the app's channel once; a failure is forgotten so that a later wait tries again. */
  private ensureSubscribed(appId: string, deadline: number, capMs: number): void {
    const sub = this.subscriber;
    if (!sub || sub.status !== 'ready' || this.subscribed.has(appId)) return;
    const channel = keys.channel(this.opts.prefix, appId);
    let timer: NodeJS.Timeout | undefined;
    const p = Promise.race([
      sub.subscribe(channel).then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), Math.max(1, Math.min(capMs, deadline - Date.now())));
      }),
    ])
      .catch(() => false)
      .then((ok) => {
        clearTimeout(timer);
        if (!ok) this.subscribed.delete(appId);
        return ok;
      });
    this.subscribed.set(appId, p);
  }

  /**
   * Starts listening for `entryKey` (call before trying the lock). `wait` then resolves with the first
   * message, or what polling finds, or a timeout at `deadline`; `close` stops listening.
   */
  listen(appId: string, entryKey: string, deadline: number, capMs: number) {
    this.ensureSubscribed(appId, deadline, capMs);
    const queue: DoneMessage[] = [];
    let wake: (() => void) | undefined;
    const listener: Listener = (m) => {
      queue.push(m);
      wake?.();
    };
    let set = this.listeners.get(entryKey);
    if (!set) this.listeners.set(entryKey, (set = new Set()));
    set.add(listener);
    const close = () => {
      const s = this.listeners.get(entryKey);
      s?.delete(listener);
      if (s && s.size === 0) this.listeners.delete(entryKey);
    };
    const wait = async (): Promise<WaitOutcome> => {
      let interval = this.opts.pollMinMs;
      for (;;) {
        const m = queue.shift();
        if (m) return fromMessage(m);
        const left = deadline - Date.now();
        if (left <= 0) return { kind: 'timeout' };
        // Sleep until a message, the next poll, or the deadline, whichever comes first.
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(interval, left));
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = undefined;
        const next = queue.shift();
        if (next) return fromMessage(next);
        if (Date.now() >= deadline) return { kind: 'timeout' };
        interval = Math.min(interval * 2, this.opts.pollMaxMs);
        let seen;
        try {
          seen = await this.store.peek(entryKey, deadline);
        } catch {
          if (Date.now() >= deadline) return { kind: 'timeout' };
          return { kind: 'unavailable' };
        }
        if (seen.state === 'pending') continue;
        if (seen.state === 'entry') return { kind: 'value', entry: seen.entry, ageMs: seen.ageMs };
        if (seen.state === 'error') {
          const error = parseSharedError(seen.outcome.slice(2));
          if (error) return { kind: 'error', error };
        }
        return { kind: 'takeover' };
      }
    };
    return { wait, close };
  }
}

function fromMessage(m: DoneMessage): WaitOutcome {
  if (m.o === 'err') return { kind: 'error', error: m.x };
  if (m.o === 'ok') {
    const entry = decodeEntry(m.e);
    // A freshly published answer: its age is the time it spent in flight to us, nothing worth counting.
    if (entry) return { kind: 'value', entry, ageMs: 0 };
  }
  return { kind: 'takeover' };
}

export function parseSharedError(text: string): SharedError | undefined {
  try {
    const x = JSON.parse(text) as SharedError;
    const ok = typeof x === 'object' && x !== null && typeof x.code === 'string' && typeof x.message === 'string';
    return ok && Number.isInteger(x.status) ? x : undefined;
  } catch {
    return undefined;
  }
}
