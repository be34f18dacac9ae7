// Which cached answers an event makes stale (contract §13): an upgrade subtask's progress or result drops its task's cached status and the task list.
import { upgradeEventTags } from '../cache/policies.js';

const UPGRADE_TYPES: ReadonlySet<string> = new Set([
  'swUpgradeStateChangeNotify',
  'swUpgradeResultNotify',
  'fwUpgradeStateChangeNotify',
  'fwUpgradeResultNotify',
]);

/** The cache tags an event invalidates; empty when it changes nothing the cache holds. */
export function eventCacheTags(notifyType: string, body: Record<string, unknown>): string[] {
  if (UPGRADE_TYPES.has(notifyType) && typeof body.operationId === 'string' && body.operationId !== '') return upgradeEventTags(body.operationId);
  return [];
}

/** The Events `onEvent` hook around a cache's invalidate (GetCache.invalidate); a no-op without a cache. */
export function eventInvalidator(
  invalidate: ((appId: string, tags: readonly string[]) => Promise<unknown>) | undefined,
): (appId: string, notifyType: string, body: Record<string, unknown>) => Promise<void> {
  return async (appId, notifyType, body) => {
    const tags = eventCacheTags(notifyType, body);
    if (tags.length > 0 && invalidate) await invalidate(appId, tags);
  };
}
