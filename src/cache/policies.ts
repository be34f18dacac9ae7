// The cache rules shared by every family: the per-operation TTL override (CACHE_TTL_SEC), the path-parameter reader of tag functions, and what an upgrade event makes stale. Each route's own TTL and tags live in its description (src/families/*/routes.ts).
import { upgradeTags as t } from './key.js';
import type { CachePolicy, RouteParams } from './types.js';

/**
 * A path parameter a tag function needs. Validation guarantees it; a missing one is a bug in a route
 * description, so it throws (500) rather than file an entry under a tag no write would ever name.
 */
export const tagParam = (p: RouteParams, name: string): string => {
  const v = p[name];
  if (v === undefined) throw new TypeError(`path parameter ${name} missing for a cache tag`);
  return v;
};

/** What an upgrade event about `operationId` makes stale (contract §13: a subtask's result drops its task's status). */
export const upgradeEventTags = (operationId: string): string[] => [t.taskOf(operationId), t.taskList];

/** The CACHE_TTL_SEC key that sets every cached operation at once (e.g. `{"*": 0}`: the cache off). */
export const ALL_OPERATIONS = '*';

/**
 * The TTL an operation runs with: the configured override for the operation when there is one (CACHE_TTL_SEC,
 * 0 = off), else the `*` override for routes that have a policy, else the route's default, else 0 (a GET
 * without a policy is not cached). Negative or non-finite values mean off.
 */
export function ttlFor(opId: string, policy: CachePolicy | undefined, overrides: Readonly<Record<string, number>> = {}): number {
  let v: number | undefined = policy?.ttlSec;
  if (Object.hasOwn(overrides, opId)) v = overrides[opId];
  // `*` only re-times what has a policy: a GET without tags could never be dropped by a write.
  else if (policy !== undefined && Object.hasOwn(overrides, ALL_OPERATIONS)) v = overrides[ALL_OPERATIONS];
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}
