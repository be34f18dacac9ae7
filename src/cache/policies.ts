// The upgrade family's cache policies (docs/cache.md has the reasons) and the per-operation TTL override rule, for the integrator to put on the route descriptions.
import { upgradeTags as t } from './key.js';
import type { CachePolicy, InvalidationPolicy, RouteParams } from './types.js';

const param = (p: RouteParams, name: string): string => {
  const v = p[name];
  if (v === undefined) throw new TypeError(`path parameter ${name} missing for a cache tag`);
  return v;
};

/** `cache` of each GET route of the upgrade family, by route id. */
export const UPGRADE_CACHE: Readonly<Record<string, CachePolicy>> = {
  listPackages: { ttlSec: 60, tags: () => [t.packageList] },
  getPackage: { ttlSec: 300, tags: (p) => [t.packageOf(param(p, 'fileId'))] },
  listUpgradeTasks: { ttlSec: 10, tags: () => [t.taskList] },
  getUpgradeTask: { ttlSec: 5, tags: (p) => [t.taskOf(param(p, 'operationId'))] },
  listUpgradeSubtasks: { ttlSec: 5, tags: (p) => [t.taskOf(param(p, 'operationId'))] },
};

/** `invalidates` of each write route of the upgrade family, by route id. */
export const UPGRADE_INVALIDATES: Readonly<Record<string, InvalidationPolicy>> = {
  deletePackage: (p) => [t.packageOf(param(p, 'fileId')), t.packageList],
  createSoftwareUpgradeTask: () => [t.taskList],
  createFirmwareUpgradeTask: () => [t.taskList],
};

/** What an upgrade event about `operationId` makes stale (contract §13: a subtask's result drops its task's status). */
export const upgradeEventTags = (operationId: string): string[] => [t.taskOf(operationId), t.taskList];

/**
 * The TTL an operation runs with: the configured override when there is one (CACHE_TTL_SEC, 0 = off), else the
 * route's default, else 0 (a GET without a policy is not cached). Negative or non-finite values mean off.
 */
export function ttlFor(opId: string, policy: CachePolicy | undefined, overrides: Readonly<Record<string, number>> = {}): number {
  const v = Object.hasOwn(overrides, opId) ? overrides[opId] : policy?.ttlSec;
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}
