// The registry of API families: the router, /openapi.json, the code catalog, the docs' tests and the simulator read this list.
import type { Family } from './types.js';
import { upgradeFamily } from './upgrade/index.js';

/** Adding a family: a folder beside this file, and one line here. */
export const FAMILIES: readonly Family[] = Object.freeze([upgradeFamily]);
