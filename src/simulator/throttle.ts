// Per-app flow control: at most `limit` counted calls in any `windowMs` interval (a sliding log, so no boundary bursts).

/** Timestamps of one app's counted calls, oldest first; `head` skips expired ones without O(n) shifts. */
interface AppWindow {
  stamps: number[];
  head: number;
}

export class SlidingWindowLimiter {
  private readonly windows = new Map<string, AppWindow>();

  /** Counts the call and returns true, or returns false (and counts nothing) when the app is over its quota. */
  tryAcquire(appId: string, now: number, limit: number, windowMs: number): boolean {
    let w = this.windows.get(appId);
    if (!w) {
      w = { stamps: [], head: 0 };
      this.windows.set(appId, w);
    }
    while (w.head < w.stamps.length && (w.stamps[w.head] ?? 0) <= now - windowMs) w.head++;
    if (w.head > 1024 && w.head * 2 > w.stamps.length) {
      w.stamps = w.stamps.slice(w.head);
      w.head = 0;
    }
    if (w.stamps.length - w.head >= limit) return false;
    w.stamps.push(now);
    return true;
  }

  clear(): void {
    this.windows.clear();
  }
}
