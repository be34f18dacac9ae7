// The simulator's family parts, one per gateway family (src/families/index.ts), and the per-app data they make together.
import { batchSimulator } from './batch/router.js';
import { commandSimulator } from './commands/router.js';
import { dataSimulator } from './data/router.js';
import { deviceSimulator } from './devices/router.js';
import { groupSimulator } from './groups/router.js';
import { upgradeSimulator } from './upgrade/router.js';

export const SIMULATOR_FAMILIES = [
  upgradeSimulator,
  deviceSimulator,
  dataSimulator,
  commandSimulator,
  groupSimulator,
  batchSimulator,
] as const;

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** One app's data: every family's part, merged (families read each other's, e.g. commands read the devices). */
export type AppData = UnionToIntersection<ReturnType<(typeof SIMULATOR_FAMILIES)[number]['createAppData']>>;

export function createAppData(): AppData {
  return Object.assign({}, ...SIMULATOR_FAMILIES.map((f) => f.createAppData())) as AppData;
}
