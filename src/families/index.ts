// The registry of API families: the router, /openapi.json, the code catalog, the docs' tests and the simulator read this list.
import { batchFamily } from './batch/index.js';
import { commandFamily } from './commands/index.js';
import { dataFamily } from './data/index.js';
import { deviceFamily } from './devices/index.js';
import { groupFamily } from './groups/index.js';
import type { Family } from './types.js';
import { upgradeFamily } from './upgrade/index.js';

/** Adding a family: a folder beside this file (and its simulator part in src/simulator/families/), and one line here. */
export const FAMILIES: readonly Family[] = Object.freeze([
  upgradeFamily,
  deviceFamily,
  dataFamily,
  commandFamily,
  groupFamily,
  batchFamily,
]);
