// The cache policy a route description declares (GET: how long, which tags; writes: which tags they make stale), and the shapes the cache passes around.

/** Path parameters as validated (SAFE_ID strings) and the query as validated (numbers stay numbers). */
export type RouteParams = Readonly<Record<string, string>>;
export type RouteQuery = Readonly<Record<string, unknown>>;

/**
 * Declared on a GET route description (the integrator adds `cache?: CachePolicy` to RouteSpec).
 * `ttlSec` is the default; configuration may override it per operation (0 = not cached).
 */
export interface CachePolicy {
  readonly ttlSec: number;
  /**
   * Tags the entry is filed under, so that a write can drop it: the resource's own tag
   * (e.g. `upgrade-task:op-1`) and the lists it appears in (e.g. `upgrade-tasks:list`).
   */
  readonly tags?: (params: RouteParams, query: RouteQuery) => readonly string[];
}

/**
 * Declared on a write route description (POST/PUT/DELETE) as `invalidates?: InvalidationPolicy`:
 * the tags whose entries the write makes stale. Called before the gateway answers the write, also
 * when the write failed after it was sent (the platform may have applied it).
 */
export type InvalidationPolicy = (params: RouteParams, body: unknown) => readonly string[];

/** What the integrator adds to RouteSpec (kept here so that the cache does not depend on the router). */
export interface CacheableRoute {
  readonly cache?: CachePolicy;
  readonly invalidates?: InvalidationPolicy;
}

/** A successful answer as the cache keeps it: only what every caller may see (no quota headers, no request id). */
export interface CachedAnswer {
  status: number;
  body: unknown;
}

/**
 * A failure as it may be shared with other callers that waited for the same platform call: the gateway's
 * code and what the envelope shows, never the cause, a token or a raw platform body.
 */
export interface SharedError {
  code: string;
  status: number;
  message: string;
  retryable: boolean;
  platformCode?: string;
  retryAfter?: number;
  /** Only the quota headers (RateLimit*, Retry-After): the app's state, not a secret. */
  headers?: Record<string, string>;
}

/** Turns a load's failure into a SharedError and back (see errors.ts for the GatewayError codec). */
export interface ErrorCodec {
  /** undefined: this failure must not be shared (waiters then take over and load themselves). */
  encode(err: unknown): SharedError | undefined;
  /** An error of the caller's kind, carrying `extraHeaders` (Cache-Status) on the answer. */
  decode(shared: SharedError, extraHeaders: Record<string, string>): Error;
  /** The error a request gets when its deadline passes while it waits for another's platform call. */
  timeout(extraHeaders: Record<string, string>): Error;
  /** The same failure with `extraHeaders` added to its answer (the loader's own failure). */
  withHeaders(err: unknown, extraHeaders: Record<string, string>): unknown;
}
