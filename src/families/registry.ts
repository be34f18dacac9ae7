// Turns the registered families into the routes the gateway serves, checked once at start (routes/check.ts).
import { checkRoutes, RouteDescriptionError } from '../routes/check.js';
import type { RouteSpec } from '../routes/types.js';
import type { Family } from './types.js';

/** Every route of every family, with its family's name and wording; throws RouteDescriptionError on a mistake. */
export function routesOf(families: readonly Family[], knownCodes?: (code: string) => boolean): readonly RouteSpec[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const f of families) {
    if (!/^[a-z][a-z0-9-]*$/.test(f.name)) problems.push(`family ${f.name}: name must be kebab-case`);
    if (names.has(f.name)) problems.push(`family ${f.name}: registered twice`);
    names.add(f.name);
  }
  const routes = families.flatMap((f) =>
    f.routes.map((r): RouteSpec => Object.freeze({ ...r, family: f.name, ...(f.messages ? { messages: f.messages } : {}) })),
  );
  problems.push(...checkRoutes(routes, knownCodes));
  if (problems.length > 0) throw new RouteDescriptionError(problems);
  return Object.freeze(routes);
}
