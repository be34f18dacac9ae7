// In-process fan-out of "new event in app X" notices from Redis pub/sub: wakes delivery runners and SSE streams without a blocking connection each.
// RedisClient: one server, a Sentinel set or a Cluster (issue 14); the alias keeps this file's annotations.
import type { RedisClient as Redis } from '../redis.js';
import type { EventKeys } from './keys.js';

/**
 * One subscriber connection per process for all apps. A notice is only a wake-up: readers always read
 * the stream from their own cursor, and also poll, so that a notice lost during a reconnect delays an
 * event by at most one poll interval and loses nothing.
 */
export class EventNotifier {
  private readonly listeners = new Map<string, Set<() => void>>();
  private readonly byChannel = new Map<string, string>();
  private readonly onMessage = (channel: string) => {
    const appId = this.byChannel.get(channel);
    if (appId) for (const fn of this.listeners.get(appId) ?? []) fn();
  };

  constructor(
    private readonly subscriber: Redis,
    private readonly keys: EventKeys,
  ) {
    subscriber.on('message', this.onMessage);
  }

  /** Subscribes to the apps' channels (ioredis re-subscribes by itself after a reconnect). */
  async subscribe(appIds: Iterable<string>): Promise<void> {
    const channels: string[] = [];
    for (const a of appIds) {
      const ch = this.keys.channel(a);
      if (!this.byChannel.has(ch)) channels.push(ch);
      this.byChannel.set(ch, a);
    }
    if (channels.length > 0) await this.subscriber.subscribe(...channels);
  }

  /** Calls `fn` on each notice for `appId`; returns the function that stops it. */
  on(appId: string, fn: () => void): () => void {
    let set = this.listeners.get(appId);
    if (!set) this.listeners.set(appId, (set = new Set()));
    set.add(fn);
    return () => void set.delete(fn);
  }

  close(): void {
    this.subscriber.off('message', this.onMessage);
    this.listeners.clear();
  }
}

/** A sleep that a notice (or stop) can cut short; never leaves a timer behind. */
export class Wakeable {
  private wakeFn: (() => void) | undefined;
  private pending = false;

  wake = (): void => {
    if (this.wakeFn) this.wakeFn();
    else this.pending = true; // a notice during work: the next sleep returns at once
  };

  sleep(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakeFn = undefined;
        resolve();
      }
      this.wakeFn = done;
    });
  }
}
