// Everything the simulator remembers between calls, in one place so a control reset can clear it all.
import { CallLog } from './calllog.js';
import { FaultQueue } from './faults.js';
import { LatencyRules } from './latency.js';
import { createAppData, type AppData } from './families/index.js';
import { SlidingWindowLimiter } from './throttle.js';
import { TokenStore } from './tokens.js';

export interface SimulatorConfig {
  ratePerMinute: number;
  windowMs: number;
  expiresIn: number;
}

export type { AppData };

export class SimulatorState {
  config: SimulatorConfig;
  readonly frozen = new Set<string>();
  readonly tokens = new TokenStore();
  readonly limiter = new SlidingWindowLimiter();
  readonly calls = new CallLog();
  readonly faults = new FaultQueue();
  readonly latency = new LatencyRules();
  private data = new Map<string, AppData>();
  /** Who hears what happens on the platform (the subscriptions part pushes it to callbacks). */
  private readonly listeners = new Set<(appId: string, body: Record<string, unknown>) => void>();

  constructor(
    /** appId → secret */
    readonly apps: ReadonlyMap<string, string>,
    private readonly initial: SimulatorConfig,
  ) {
    this.config = { ...initial };
    this.reset();
  }

  reset(): void {
    this.config = { ...this.initial };
    this.frozen.clear();
    this.tokens.clear();
    this.limiter.clear();
    this.calls.clear();
    this.faults.clear();
    this.latency.clear();
    this.data = new Map([...this.apps.keys()].map((id) => [id, createAppData()]));
  }

  /** Something happened that the platform would push (platform-api.md §6.5): the body as the platform sends it. */
  notify(appId: string, body: Record<string, unknown>): void {
    for (const listener of this.listeners) listener(appId, body);
  }

  onNotify(listener: (appId: string, body: Record<string, unknown>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  isKnownApp(appId: string | null): appId is string {
    return appId !== null && this.apps.has(appId);
  }

  /** Only called for authenticated apps, which are always known. */
  appData(appId: string): AppData {
    const d = this.data.get(appId);
    if (!d) throw new Error(`unknown app ${appId}`);
    return d;
  }
}
