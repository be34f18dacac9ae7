// The fair-share admission rule of contract §11 as a pure function: reserves per client, the rest to whoever asks first; the Lua in scripts.ts decides the same way.

/**
 * One window of one app, as counted at the moment of a decision.
 * - `total`: every call holding a slot of the app (the app's log): the hard bound.
 * - `shared`: calls that used unreserved capacity without belonging to a reserved client's count
 *   (clients without a reserve, and logins/refreshes taken from the unreserved part).
 * - `reserved[i]`: the reserved client i: its reserve, its calls in the window, the oldest of them.
 * `oldest` values are times (ms) of the oldest entry of that log, or undefined when it is empty.
 */
export interface ShareWindow {
  limit: number;
  total: number;
  /** Time of the `total - limit + 1`-th oldest entry of the app's log when total >= limit (when the hard bound frees). */
  hardFreeAt?: number;
  sharedOldest?: number;
  reserved: ReadonlyArray<{ reserve: number; count: number; oldest?: number }>;
}

/**
 * Who asks: `client` is the index of the asking client in `reserved`, or -1 for a client without a
 * reserve of this app. `kind`: a call of the client's own, or a login/refresh its request needs.
 */
export interface Asker {
  client: number;
  kind: 'call' | 'token';
}

/**
 * Where an admitted call is counted: `reserved` in the asker's log (it counts towards its reserve),
 * `shared` in the unreserved log. Refused: how long until the asker could be admitted, other
 * clients' new calls aside (they can only make it later).
 */
export type ShareDecision =
  | { admitted: true; into: 'reserved' | 'shared'; remaining: number }
  | { admitted: false; retryAfterMs: number };

/** Slots kept free for reserved clients under their reserve: Σ max(0, reserve − count). */
export const unusedReserves = (w: ShareWindow): number =>
  w.reserved.reduce((sum, r) => sum + Math.max(0, r.reserve - r.count), 0);

/** Slots anyone may take: the limit minus calls in the window minus the reserves not yet used. */
export const unreservedFree = (w: ShareWindow): number => w.limit - w.total - unusedReserves(w);

/**
 * The rule. Invariant kept: total + unusedReserves ≤ limit (true with an empty window because the
 * reserves sum to at most the limit; a reserved call moves one slot from "unused" to "total", a
 * shared call needs a free unreserved slot, an expiry only lowers the sum). Hence:
 * - a client under its reserve always finds total < limit: never refused for the app quota;
 * - total never exceeds the limit.
 * A call of a client under its reserve counts in its reserve; over it, it competes for the
 * unreserved part like everyone else (and still counts in its own log: its count is every call it sent).
 * A login or refresh takes unreserved capacity when there is some, else the asker's reserve.
 */
export function decideShare(w: ShareWindow, who: Asker, now: number, windowMs: number): ShareDecision {
  const mine = who.client >= 0 ? w.reserved[who.client] : undefined;
  const free = unreservedFree(w);
  const underReserve = mine !== undefined && mine.count < mine.reserve;
  const hardRoom = w.total < w.limit;
  if (hardRoom && (free >= 1 || underReserve)) {
    // A token call uses the shared part first; a client's own call always counts as its own.
    const into = who.kind === 'token' && free >= 1 ? 'shared' : mine ? 'reserved' : 'shared';
    const after = {
      ...w,
      total: w.total + 1,
      reserved: w.reserved.map((r, i) => (i === who.client && into === 'reserved' ? { ...r, count: r.count + 1 } : r)),
    };
    return { admitted: true, into, remaining: remainingFor(after, who.client) };
  }
  return { admitted: false, retryAfterMs: Math.max(0, waitFor(w, who.client, now) + windowMs - now) };
}

/** What the asker could still take now: the unreserved part plus what is left of its own reserve. */
export function remainingFor(w: ShareWindow, client: number): number {
  const mine = client >= 0 ? w.reserved[client] : undefined;
  return Math.max(0, unreservedFree(w)) + (mine ? Math.max(0, mine.reserve - mine.count) : 0);
}

/**
 * The entry time whose expiry first admits the asker (add a window for the moment): a shared entry,
 * an entry of a client over its reserve (its leaving frees an unreserved slot), or the asker's own
 * oldest entry (then it is under its reserve again); and never before the hard bound frees.
 */
function waitFor(w: ShareWindow, client: number, now: number): number {
  let first = Infinity;
  if (w.sharedOldest !== undefined) first = Math.min(first, w.sharedOldest);
  w.reserved.forEach((r, i) => {
    if (r.oldest !== undefined && (r.count > r.reserve || (i === client && r.count >= r.reserve))) first = Math.min(first, r.oldest);
  });
  // Only possible when the logs disagree (a restore in flight): the hard bound is then the only clue, else a whole window.
  if (first === Infinity) first = w.hardFreeAt ?? now;
  return Math.max(first, w.hardFreeAt ?? -Infinity);
}
