// Whether the quota may trust Redis: one explicit state machine (connected, lost-waiting, degraded-share, restoring-settle) as pure functions of events and time.

/**
 * - `connected`: Redis decides every slot.
 * - `lost-waiting`: Redis was lost at `since`; for one window the other replicas' last calls are unknown,
 *   so no local share can be proven safe: refuse.
 * - `degraded-share`: a window has passed since the loss; this replica admits its share (quota ÷ replicas)
 *   of its own calls.
 * - `restoring-settle`: Redis answers again and this replica wrote its calls back, but the others may not
 *   have yet; keep the local rule (`share` says which) until `until`, then decide again.
 */
export type OutageState =
  | { readonly kind: 'connected' }
  | { readonly kind: 'lost-waiting'; readonly since: number }
  | { readonly kind: 'degraded-share'; readonly since: number }
  | { readonly kind: 'restoring-settle'; readonly since: number; readonly until: number; readonly share: boolean };

export interface Outage {
  readonly state: OutageState;
  /** After a failure Redis is not asked again before this time: a hung Redis costs one timeout, not one per request. */
  readonly retryAt: number;
  /**
   * Whether this replica ever trusted Redis or ever found it unreachable. Only a replica that reached
   * Redis at its very first try may take a missing (new) epoch marker for a new Redis and skip the
   * settle; one that met an outage, connected before or not, cannot know what the others must still
   * write back (issue 17, finding 3: a replica started during an outage skipped the settle).
   */
  readonly sawOutage: boolean;
}

/**
 * - `lost`: the connection closed, or a command failed and a ping confirmed it.
 * - `tick`: time passed (applied before every local decision).
 * - `restored`: Redis answers and this replica has written its own calls back; `epochCreatedAt` is when
 *   the epoch marker (a key without expiry) was (re-)created, i.e. when Redis last started without data.
 */
export type OutageEvent =
  | { readonly type: 'lost'; readonly now: number }
  | { readonly type: 'tick'; readonly now: number }
  | { readonly type: 'restored'; readonly now: number; readonly epochCreatedAt: number };

export interface OutageTimes {
  windowMs: number;
  /** How long replicas wait after Redis came back empty (or after a long outage) for each other to restore. */
  settleMs: number;
  /** How long after a failure Redis is left alone. */
  retryMs: number;
}

/** A limiter with Redis starts as if Redis had just been lost: nothing is admitted before it answers or a window passes. */
export const initialOutage = (now: number): Outage => ({
  state: { kind: 'lost-waiting', since: now },
  retryAt: 0,
  sawOutage: false,
});

export function transition(o: Outage, e: OutageEvent, times: OutageTimes): Outage {
  const s = o.state;
  switch (e.type) {
    case 'lost': {
      const retryAt = e.now + times.retryMs;
      if (s.kind === 'connected') return { ...o, sawOutage: true, retryAt, state: { kind: 'lost-waiting', since: e.now } };
      // Still the same outage: its blind window keeps counting from the first loss. A loss while settling
      // drops the settle; the next restore decides it again.
      if (s.kind === 'restoring-settle') {
        return { ...o, sawOutage: true, retryAt, state: { kind: s.share ? 'degraded-share' : 'lost-waiting', since: s.since } };
      }
      return { ...o, sawOutage: true, retryAt };
    }
    case 'tick': {
      const blindOver = s.kind !== 'connected' && e.now >= s.since + times.windowMs;
      if (s.kind === 'lost-waiting' && blindOver) return { ...o, state: { kind: 'degraded-share', since: s.since } };
      if (s.kind === 'restoring-settle' && blindOver && !s.share) return { ...o, state: { ...s, share: true } };
      return o;
    }
    case 'restored': {
      if (s.kind === 'connected') return o;
      if (s.kind === 'restoring-settle' && e.now < s.until) return o;
      let until = 0;
      // Redis restarted without its data a moment ago: every replica reconnecting now waits, not only the first.
      if (o.sawOutage && e.now - e.epochCreatedAt < times.settleMs) until = e.epochCreatedAt + times.settleMs;
      // After an outage longer than a window, replicas admitted calls on their own (their shares) that Redis
      // has not seen, even if it kept its data: wait once, so that every replica writes them back.
      if (s.kind !== 'restoring-settle' && e.now - s.since >= times.windowMs) until = Math.max(until, e.now + times.settleMs);
      if (until > e.now) {
        const share = s.kind === 'restoring-settle' ? s.share : s.kind === 'degraded-share';
        return { ...o, state: { kind: 'restoring-settle', since: s.since, until, share } };
      }
      return { state: { kind: 'connected' }, retryAt: 0, sawOutage: true };
    }
  }
}

/** How a slot is decided in a state (after a `tick`). */
export type Admission =
  | { readonly by: 'redis' }
  | { readonly by: 'refusal'; readonly retryAfterMs: number }
  | { readonly by: 'share' };

export function admission(s: OutageState, now: number, windowMs: number): Admission {
  switch (s.kind) {
    case 'connected':
      return { by: 'redis' };
    case 'degraded-share':
      return { by: 'share' };
    case 'lost-waiting':
      return { by: 'refusal', retryAfterMs: Math.max(0, s.since + windowMs - now) };
    case 'restoring-settle':
      return s.share ? { by: 'share' } : { by: 'refusal', retryAfterMs: Math.max(0, s.since + windowMs - now) };
  }
}

/** True while a settle is under way: a restore now would be early (the settle's timer restores again at its end). */
export const settling = (s: OutageState, now: number): boolean => s.kind === 'restoring-settle' && now < s.until;
