// Record of every platform call the simulator saw, so tests can check what the gateway really sent.

export interface CallEntry {
  at: number;
  method: string;
  path: string;
  query: Record<string, unknown>;
  appId: string | null;
  /** 0 while unanswered, and forever for `hang` and `reset` faults. */
  status: number;
  errorCode?: string;
  /** Set when an injected fault decided the outcome. */
  fault?: 'error' | 'hang' | 'garbage' | 'reset';
  headers: { app_key?: string; authorization?: string; 'content-type'?: string };
  body: unknown;
}

export interface CallSummary {
  total: number;
  byApp: Record<string, number>;
  byRoute: Record<string, number>;
  log: CallEntry[];
}

const MAX_ENTRIES = 50_000;
// Bodies dominate memory; past this budget the oldest entries go even before MAX_ENTRIES is reached.
const MAX_BODY_BYTES = 32 * 1024 * 1024;

export class CallLog {
  private entries: CallEntry[] = [];
  private sizes: number[] = [];
  private head = 0;
  private bodyBytes = 0;
  // Counters cover every call since the last reset, independent of what the capped log still holds.
  private total = 0;
  private byApp = new Map<string, number>();
  private byRoute = new Map<string, number>();

  add(entry: CallEntry, bodyBytes: number): void {
    this.entries.push(entry);
    this.sizes.push(bodyBytes);
    this.bodyBytes += bodyBytes;
    this.total++;
    if (entry.appId !== null) this.byApp.set(entry.appId, (this.byApp.get(entry.appId) ?? 0) + 1);
    const route = `${entry.method} ${entry.path}`;
    this.byRoute.set(route, (this.byRoute.get(route) ?? 0) + 1);
    while (this.entries.length - this.head > MAX_ENTRIES || this.bodyBytes > MAX_BODY_BYTES) {
      this.bodyBytes -= this.sizes[this.head] ?? 0;
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Without `since`: exact counters since reset plus the retained log.
   * With `since`: counters computed from the retained entries at or after it (exact unless the log was capped).
   */
  summary(since?: number): CallSummary {
    const retained = this.entries.slice(this.head);
    if (since === undefined) {
      return {
        total: this.total,
        byApp: Object.fromEntries(this.byApp),
        byRoute: Object.fromEntries(this.byRoute),
        log: retained,
      };
    }
    const log = retained.filter((e) => e.at >= since);
    const byApp: Record<string, number> = {};
    const byRoute: Record<string, number> = {};
    for (const e of log) {
      if (e.appId !== null) byApp[e.appId] = (byApp[e.appId] ?? 0) + 1;
      const route = `${e.method} ${e.path}`;
      byRoute[route] = (byRoute[route] ?? 0) + 1;
    }
    return { total: log.length, byApp, byRoute, log };
  }

  clear(): void {
    this.entries = [];
    this.sizes = [];
    this.head = 0;
    this.bodyBytes = 0;
    this.total = 0;
    this.byApp.clear();
    this.byRoute.clear();
  }
}
