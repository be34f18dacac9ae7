// What a family folder exports: its route descriptions, platform codes and rule wording, registered in families/index.ts.
import type { PlatformCodeTable } from '../platform/codes.js';
import type { RouteSpec } from '../routes/types.js';

/** A route as a family writes it; the registry adds the family's name and wording (see registry.ts). */
export type RouteDescription = Omit<RouteSpec, 'family' | 'messages'>;

export interface Family {
  /** kebab-case; the OpenAPI tag, the `family` of each route, and the simulator part's name. */
  readonly name: string;
  /** One line for the OpenAPI tag and the README. */
  readonly description: string;
  readonly routes: readonly RouteDescription[];
  /** The platform codes this family's APIs document, with their meanings (merged into one catalog). */
  readonly codes: PlatformCodeTable;
  /** Wording of the family's own schema rules (Joi error types `rule.*`). */
  readonly messages?: Readonly<Record<string, string>>;
}
