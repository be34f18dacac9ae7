// What a simulator family part exports: its per-app data and its router, serving the platform paths of one gateway family.
import type { Router } from 'express';
import type { SimulatorState } from '../state.js';

export interface SimulatorFamily<D extends object> {
  /** The gateway family it stands in for (src/families): server.ts checks that every registered family has one. */
  readonly name: string;
  /** This family's part of an app's data; the parts are merged into one object per app (state.appData). */
  createAppData(): D;
  /** Serves the family's platform paths (full paths: families span several platform prefixes). */
  router(state: SimulatorState): Router;
}

/** Keeps D inferred for the registry's AppData type. */
export const simulatorFamily = <D extends object>(f: SimulatorFamily<D>): SimulatorFamily<D> => f;
