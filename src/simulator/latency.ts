// Injected latency: delays keyed by a path fragment ('' = every call); the largest matching delay wins.

export class LatencyRules {
  private readonly rules = new Map<string, number>();

  /** `{ms: 0}` without a path clears everything; with a path it clears only that rule. */
  set(ms: number, path = ''): void {
    if (ms > 0) this.rules.set(path, ms);
    else if (path === '') this.rules.clear();
    else this.rules.delete(path);
  }

  delayFor(path: string): number {
    let ms = 0;
    for (const [fragment, delay] of this.rules) if (path.includes(fragment) && delay > ms) ms = delay;
    return ms;
  }

  list(): Array<{ path: string; ms: number }> {
    return [...this.rules].map(([path, ms]) => ({ path, ms }));
  }

  clear(): void {
    this.rules.clear();
  }
}
