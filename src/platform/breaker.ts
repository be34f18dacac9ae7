// A circuit breaker towards the platform: fail fast while it is down, let one probe through after a cooldown.
// Hand-written (about 50 lines) because opossum, the well-kept library, needs Node 22 since v10 and wraps calls in timers of its own.

export type BreakerState = 'closed' | 'open' | 'half-open';

export type BreakerVerdict = { pass: true; probe: boolean } | { pass: false; retryAfterMs: number };

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  failures: number;
  cooldownMs: number;
}

/** Pure state machine: time comes in as an argument, so tests need no clock. */
export class CircuitBreaker {
  private consecutive = 0;
  private openedAt = 0;
  private probing = false;
  state: BreakerState = 'closed';

  constructor(private readonly opts: BreakerOptions) {}

  check(now: number): BreakerVerdict {
    if (this.state === 'closed') return { pass: true, probe: false };
    const until = this.openedAt + this.opts.cooldownMs;
    if (this.state === 'open' && now >= until) {
      this.state = 'half-open';
      this.probing = false;
    }
    if (this.state === 'half-open' && !this.probing) {
      this.probing = true;
      return { pass: true, probe: true };
    }
    return { pass: false, retryAfterMs: Math.max(0, until - now) || this.opts.cooldownMs };
  }

  success(): void {
    this.consecutive = 0;
    this.probing = false;
    this.state = 'closed';
  }

  failure(now: number): void {
    this.consecutive += 1;
    this.probing = false;
    if (this.state === 'half-open' || this.consecutive >= this.opts.failures) {
      this.state = 'open';
      this.openedAt = now;
    }
  }

  /** A probe that ended without telling anything (e.g. refused locally): let the next call probe instead. */
  release(): void {
    this.probing = false;
  }
}

/**
 * One breaker per app (contract §6): an app whose login or calls fail (a frozen app, a wrong secret's
 * outage-like answers, a route of its own that is down) pauses only itself. Apps come from the
 * configuration, so the map and the metric's `app` label stay bounded.
 */
export class AppBreakers {
  private readonly byApp = new Map<string, CircuitBreaker>();

  constructor(private readonly opts: BreakerOptions) {}

  for(appId: string): CircuitBreaker {
    let b = this.byApp.get(appId);
    if (!b) {
      b = new CircuitBreaker(this.opts);
      this.byApp.set(appId, b);
    }
    return b;
  }
}
