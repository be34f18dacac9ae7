// Waiting for a platform slot instead of a 429 (Prefer: wait, RFC 7240): one queue per app and share class, first come first served, woken when the limiter says the next slot frees, never by polling.
import type { QuotaMetrics } from './metrics.js';
import type { QuotaAllowed, QuotaOutcome, QuotaRefused } from './outcome.js';

/** A caller's wait: until when (absolute ms) it may wait, and the signal of its disconnect. */
export interface WaitRequest {
  until: number;
  signal?: AbortSignal;
}

interface Waiter {
  readonly until: number;
  readonly since: number;
  readonly take: () => Promise<QuotaOutcome>;
  readonly resolve: (o: QuotaOutcome) => void;
  readonly abort?: { signal: AbortSignal; listener: () => void };
}

interface Queue {
  readonly appId: string;
  readonly waiters: Waiter[];
  /** When the limiter said the next slot frees (local ms). */
  nextAt: number;
  timer?: NodeJS.Timeout;
}

export interface SlotWaitersOptions {
  /** Waiters per app on this replica (QUOTA_MAX_WAITERS). */
  maxWaiters: number;
  metrics: QuotaMetrics;
  /** The limiter's refusal for `appId` with that retry time (its headers included). */
  refusal: (appId: string, retryAfterMs: number) => QuotaRefused;
}

/** A timer fires this much after the slot frees, so that the limiter's own known refusal has expired too. */
const WAKE_SLACK_MS = 5;

export class SlotWaiters {
  private readonly queues = new Map<string, Queue>();
  private readonly perApp = new Map<string, number>();

  constructor(private readonly o: SlotWaitersOptions) {}

  /** True while callers of this class wait: a caller that does not wait must not take the slot they wait for. */
  queued(classKey: string): number | undefined {
    const q = this.queues.get(classKey);
    return q && q.waiters.length > 0 ? Math.max(1, q.nextAt - Date.now()) : undefined;
  }

  /**
   * Puts a caller that was refused (the next slot frees in `retryAfterMs`) in its class's queue, or
   * answers the refusal at once when the wait would pass its limit or the app's bound.
   */
  enqueue(appId: string, classKey: string, retryAfterMs: number, wait: WaitRequest, take: () => Promise<QuotaOutcome>): Promise<QuotaOutcome> {
    const now = Date.now();
    const existing = this.queues.get(classKey);
    const nextAt = existing && existing.waiters.length > 0 ? Math.max(existing.nextAt, now + retryAfterMs) : now + retryAfterMs;
    if (nextAt > wait.until || wait.signal?.aborted) {
      this.o.metrics.waits.inc({ app: appId, outcome: 'refused' });
      return Promise.resolve(this.o.refusal(appId, nextAt - now));
    }
    if ((this.perApp.get(appId) ?? 0) >= this.o.maxWaiters) {
      this.o.metrics.waits.inc({ app: appId, outcome: 'refused' });
      return Promise.resolve(this.o.refusal(appId, nextAt - now));
    }
    let q = existing;
    if (!q) {
      q = { appId, waiters: [], nextAt };
      this.queues.set(classKey, q);
    }
    const queue = q;
    return new Promise<QuotaOutcome>((resolve) => {
      const waiter: Waiter = {
        until: wait.until,
        since: now,
        take,
        resolve,
        ...(wait.signal && {
          abort: {
            signal: wait.signal,
            // The caller left: its place goes to the next one, and nothing is taken for it.
            listener: () => {
              if (this.remove(queue, waiter)) {
                this.o.metrics.waits.inc({ app: appId, outcome: 'abandoned' });
                resolve(this.o.refusal(appId, Math.max(1, queue.nextAt - Date.now())));
              }
            },
          },
        }),
      };
      waiter.abort?.signal.addEventListener('abort', waiter.abort.listener, { once: true });
      queue.waiters.push(waiter);
      this.count(appId, +1);
      if (!queue.timer && queue.waiters.length === 1) this.arm(classKey, queue, nextAt);
    });
  }

  private arm(classKey: string, q: Queue, at: number): void {
    q.nextAt = at;
    clearTimeout(q.timer);
    q.timer = setTimeout(() => void this.wake(classKey, q), Math.max(0, at - Date.now()) + WAKE_SLACK_MS);
  }

  /** The slot the limiter announced should be free: the head asks for it; the others follow while slots remain. */
  private async wake(classKey: string, q: Queue): Promise<void> {
    q.timer = undefined;
    while (q.waiters.length > 0) {
      const head = q.waiters[0] as Waiter;
      let r: QuotaOutcome;
      try {
        r = await head.take();
      } catch {
        r = this.o.refusal(q.appId, 1000);
      }
      // It may have left while the limiter answered.
      if (q.waiters[0] !== head) {
        if (r.kind === 'allowed') {
          // The slot goes to the next in line, or back to the limiter if nobody waits any more.
          const next = q.waiters[0];
          if (next) {
            this.remove(q, next);
            this.o.metrics.waits.inc({ app: q.appId, outcome: 'admitted' });
            next.resolve({ ...r, waitedMs: Date.now() - next.since } satisfies QuotaAllowed);
          } else {
            this.handBack?.(r);
          }
        }
        continue;
      }
      if (r.kind === 'allowed') {
        this.remove(q, head);
        this.o.metrics.waits.inc({ app: q.appId, outcome: 'admitted' });
        head.resolve({ ...r, waitedMs: Date.now() - head.since } satisfies QuotaAllowed);
        continue;
      }
      const at = Date.now() + r.retryAfterMs;
      // Those who cannot wait that long are answered now, in order; a refusal that is not the quota's (a hold
      // past their limit, the store out) reaches them the same way.
      for (const w of [...q.waiters]) {
        if (w.until < at || r.reason === 'store-outage') {
          this.remove(q, w);
          this.o.metrics.waits.inc({ app: q.appId, outcome: 'refused' });
          w.resolve(r);
        }
      }
      if (q.waiters.length > 0) this.arm(classKey, q, at);
      break;
    }
    if (q.waiters.length === 0 && !q.timer && this.queues.get(classKey) === q) this.queues.delete(classKey);
  }

  /** Releases a slot taken for a waiter that left meanwhile (set by the limiter). */
  handBack?: (allowed: QuotaAllowed) => void;

  private remove(q: Queue, w: Waiter): boolean {
    const i = q.waiters.indexOf(w);
    if (i < 0) return false;
    q.waiters.splice(i, 1);
    w.abort?.signal.removeEventListener('abort', w.abort.listener);
    this.count(q.appId, -1);
    return true;
  }

  private count(appId: string, d: number): void {
    const n = (this.perApp.get(appId) ?? 0) + d;
    this.perApp.set(appId, n);
    this.o.metrics.waiting.set({ app: appId }, n);
  }
}
