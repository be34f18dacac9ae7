// What the quota limiter answers: a slot, or a refusal with its reason and retry time. Plain data; the HTTP answer is made in src/http/outcomes.ts.
import type { QuotaState } from './headers.js';

/** A taken slot, handed back with `done()` when the platform call has ended. */
export interface Slot {
  readonly appId: string;
  /** Its member in the shared log (unique per replica and call). */
  readonly member: string;
  /** Local time of admission. */
  readonly t: number;
  /** True when Redis admitted it (its end is then written back there too). */
  readonly shared: boolean;
  /** The share log it counts in (`shared` or a reserved client's name); undefined for an app without reserves. */
  readonly sub?: string;
}

/**
 * Why a slot was refused: `quota` the app used its slots of the window; `hold` the platform itself answered
 * 1010009 and the app is held back; `store-outage` the quota store cannot be reached and no local rule can
 * prove a call safe yet.
 */
export type QuotaRefusalReason = 'quota' | 'hold' | 'store-outage';

export interface QuotaAllowed {
  readonly kind: 'allowed';
  readonly slot: Slot;
  readonly state: QuotaState;
  /** Set when the caller waited for this slot (Prefer: wait): how long. */
  readonly waitedMs?: number;
}

export interface QuotaRefused {
  readonly kind: 'refused';
  readonly reason: QuotaRefusalReason;
  /** When a call may be admitted again (for Retry-After). */
  readonly retryAfterMs: number;
  readonly state: QuotaState;
}

export type QuotaOutcome = QuotaAllowed | QuotaRefused;

/** A refusal: nothing remains, and the window has room again after `retryAfterMs`. */
export function refused(reason: QuotaRefusalReason, retryAfterMs: number, limit: number, windowMs: number): QuotaRefused {
  return { kind: 'refused', reason, retryAfterMs, state: { limit, remaining: 0, resetMs: retryAfterMs, windowMs } };
}
