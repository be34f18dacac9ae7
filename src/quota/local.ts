// What this process knows without Redis: its own calls of the last window (the fallback's count and what it restores) and the refusals already known.
import { SlidingLog } from './sliding-log.js';
import type { QuotaRefusalReason } from './outcome.js';
import { decideShare, type Asker, type ShareWindow } from './shares.js';

/** One own call: when it was admitted (or ended, once done), its member in the shared log, and the share log it counts in (apps with reserves). */
export interface OwnCall {
  t: number;
  readonly member: string;
  /** `shared`, or the reserved client's name; undefined for an app without reserves. */
  readonly sub?: string;
}

/** This replica's calls per app, in both modes: counted by the local fallback, written back to Redis after an outage. */
export class OwnCalls {
  private readonly apps = new Map<string, { log: SlidingLog; calls: Map<string, OwnCall>; subs: Map<string, SlidingLog> }>();

  constructor(private readonly windowMs: number) {}

  private of(appId: string) {
    let o = this.apps.get(appId);
    if (!o) {
      o = { log: new SlidingLog(this.windowMs), calls: new Map(), subs: new Map() };
      this.apps.set(appId, o);
    }
    return o;
  }

  private sub(o: { subs: Map<string, SlidingLog> }, name: string): SlidingLog {
    let l = o.subs.get(name);
    if (!l) {
      l = new SlidingLog(this.windowMs);
      o.subs.set(name, l);
    }
    return l;
  }

  remember(appId: string, t: number, member: string, sub?: string): void {
    const o = this.of(appId);
    o.log.add(t);
    if (sub !== undefined) this.sub(o, sub).add(t);
    o.calls.set(member, { t, member, ...(sub !== undefined && { sub }) });
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
      if (call.sub !== undefined) o.subs.get(call.sub)?.move(call.t, now);
      call.t = now;
    }
  }

  /** The call `member` never left this machine: it is no call at all, and its slot is free again. */
  release(appId: string, member: string): void {
    const o = this.apps.get(appId);
    const call = o?.calls.get(member);
    if (o && call) {
      o.log.remove(call.t);
      if (call.sub !== undefined) o.subs.get(call.sub)?.remove(call.t);
      o.calls.delete(member);
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

  /**
   * The fallback's decision for an app with reserves: the share rule (shares.ts) over this replica's
   * own calls, with this replica's part of the limit and of each reserve (the caller divides).
   */
  tryTakeShare(
    appId: string,
    now: number,
    limit: number,
    reserves: ReadonlyArray<{ client: string; reserve: number }>,
    asker: Asker,
    member: () => string,
  ): { admitted: true; member: string; sub: string; remaining: number; resetMs: number } | { admitted: false; waitMs: number } {
    const o = this.of(appId);
    const total = o.log.count(now);
    const entries = total >= limit ? o.log.entries(now) : [];
    const shared = this.sub(o, 'shared');
    const w: ShareWindow = {
      limit,
      total,
      ...(total >= limit && { hardFreeAt: limit === 0 ? now : entries[total - limit] }),
      ...(shared.count(now) > 0 && { sharedOldest: shared.entries(now)[0] }),
      reserved: reserves.map((r) => {
        const l = this.sub(o, r.client);
        const count = l.count(now);
        return { reserve: r.reserve, count, ...(count > 0 && { oldest: l.entries(now)[0] }) };
      }),
    };
    const d = decideShare(w, asker, now, this.windowMs);
    if (!d.admitted) return { admitted: false, waitMs: Math.max(1, d.retryAfterMs) };
    const m = member();
    const sub = d.into === 'shared' ? 'shared' : (reserves[asker.client] as { client: string }).client;
    this.remember(appId, now, m, sub);
    return { admitted: true, member: m, sub, remaining: d.remaining, resetMs: o.log.msUntilOldestExpires(now) };
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
