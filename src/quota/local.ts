// What this process knows without Redis: its own calls of the last window (the fallback's count and what it restores) and the refusals already known.
import { SlidingLog } from './sliding-log.js';
import type { QuotaRefusalReason } from './outcome.js';

/** One own call: when it was admitted (or ended, once done) and its member in the shared log. */
export interface OwnCall {
  t: number;
  readonly member: string;
}

/** This replica's calls per app, in both modes: counted by the local fallback, written back to Redis after an outage. */
export class OwnCalls {
  private readonly apps = new Map<string, { log: SlidingLog; calls: Map<string, OwnCall> }>();

  constructor(private readonly windowMs: number) {}

  private of(appId: string) {
    let o = this.apps.get(appId);
    if (!o) {
      o = { log: new SlidingLog(this.windowMs), calls: new Map() };
      this.apps.set(appId, o);
    }
    return o;
  }

  remember(appId: string, t: number, member: string): void {
    const o = this.of(appId);
    o.log.add(t);
    o.calls.set(member, { t, member });
    const edge = t - this.windowMs;
    // Insertion order is admission order; ended() moves times later, so stop at the first live entry
    // (a few expired ones may linger behind it; readers filter by time anyway).
    for (const [m, c] of o.calls) {
      if (c.t > edge) break;
      o.calls.delete(m);
    }
  }

  /** The call `member` ended at `now`: from then on its slot counts from that moment. */
  ended(appId: string, member: string, now: number): void {
    const o = this.apps.get(appId);
    const call = o?.calls.get(member);
    if (o && call) {
      o.log.move(call.t, now);
      call.t = now;
    }
  }

  /**
   * The fallback's decision: admit if fewer than `limit` own calls are in the window. Returns the
   * remaining count and when the oldest leaves the window, or how long until one would be admitted.
   */
  tryTake(
    appId: string,
    now: number,
    limit: number,
    member: () => string,
  ): { admitted: true; member: string; remaining: number; resetMs: number } | { admitted: false; waitMs: number } {
    const o = this.of(appId);
    if (o.log.count(now) < limit) {
      const m = member();
      this.remember(appId, now, m);
      return { admitted: true, member: m, remaining: limit - o.log.count(now), resetMs: o.log.msUntilOldestExpires(now) };
    }
    return { admitted: false, waitMs: limit === 0 ? this.windowMs : o.log.msUntilFree(now, limit) };
  }

  /** Apps with their own calls still in the window at `now`, for the restore. */
  *inWindow(now: number): Generator<[string, OwnCall[]]> {
    for (const [appId, o] of this.apps) {
      const calls = [...o.calls.values()].filter((c) => c.t > now - this.windowMs);
      if (calls.length > 0) yield [appId, calls];
    }
  }
}

/** Apps known to be refused until a time: the cheap 429 path answers them without any I/O. */
export class KnownRefusals {
  private readonly blocked = new Map<string, { until: number; reason: QuotaRefusalReason }>();

  /** Extends, never shortens, what is known. */
  block(appId: string, until: number, reason: 'quota' | 'hold'): void {
    const b = this.blocked.get(appId);
    if (!b || b.until < until) this.blocked.set(appId, { until, reason });
  }

  get(appId: string, now: number): { reason: QuotaRefusalReason; retryAfterMs: number } | undefined {
    const b = this.blocked.get(appId);
    if (!b) return undefined;
    if (now >= b.until) {
      this.blocked.delete(appId);
      return undefined;
    }
    return { reason: b.reason, retryAfterMs: b.until - now };
  }
}
