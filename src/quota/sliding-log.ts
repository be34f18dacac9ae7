// An exact sliding-window log of one app's platform calls, in process: policy maths only, time passed in.

/**
 * Timestamps (epoch ms) of admitted calls, oldest first. A call at `t` counts in every window
 * (now - windowMs, now] that contains it. Expiry is computed from timestamps, never from timers
 * (rate-limiter-flexible#152: timers drift and leak).
 */
export class SlidingLog {
  private times: number[] = [];
  private head = 0;

  constructor(readonly windowMs: number) {}

  private prune(now: number): void {
    const edge = now - this.windowMs;
    while (this.head < this.times.length && (this.times[this.head] as number) <= edge) this.head += 1;
    // Compact now and then so that the array does not grow for ever.
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }

  count(now: number): number {
    this.prune(now);
    return this.times.length - this.head;
  }

  /** Records a call. Out-of-order times (restored entries) are inserted in place. */
  add(t: number): void {
    const n = this.times.length;
    if (n === this.head || (this.times[n - 1] as number) <= t) {
      this.times.push(t);
      return;
    }
    let i = n;
    while (i > this.head && (this.times[i - 1] as number) > t) i -= 1;
    this.times.splice(i, 0, t);
  }

  /** Moves one entry from time `from` to time `to` (a call that ended later than it was admitted). */
  /** Takes one entry at `t` out (a call that was never made); nothing if there is none. */
  remove(t: number): void {
    let lo = this.head;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.times[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    if (lo < this.times.length && this.times[lo] === t) this.times.splice(lo, 1);
  }

  move(from: number, to: number): void {
    // The live part is sorted: find the first `from` by bisection instead of a scan.
    let lo = this.head;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.times[mid] as number) < from) lo = mid + 1;
      else hi = mid;
    }
    if (lo < this.times.length && this.times[lo] === from) {
      this.times.splice(lo, 1);
      this.add(to);
    }
  }

  /** Admits a call if fewer than `limit` are in the window, recording it. */
  tryTake(now: number, limit: number): boolean {
    if (this.count(now) >= limit) return false;
    this.add(now);
    return true;
  }

  /**
   * Milliseconds until a call would be admitted under `limit`: 0 if one would be now; otherwise
   * the time until enough of the oldest calls leave the window.
   */
  msUntilFree(now: number, limit: number): number {
    const count = this.count(now);
    if (count < limit) return 0;
    const freeing = this.times[this.head + (count - limit)] as number;
    return freeing + this.windowMs - now;
  }

  /** Milliseconds until the oldest call leaves the window (0 when empty). */
  msUntilOldestExpires(now: number): number {
    if (this.count(now) === 0) return 0;
    return (this.times[this.head] as number) + this.windowMs - now;
  }

  entries(now: number): number[] {
    this.prune(now);
    return this.times.slice(this.head);
  }
}
