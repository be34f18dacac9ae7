// Helpers the family route suites share: a route's gateway URL, and the platform calls (not logins) the simulator saw.
import assert from 'node:assert/strict';
import { ROUTES, type SimCall, type TestSimulator } from './fixtures.js';

const byId = new Map(ROUTES.map((r) => [r.id, r]));

/** The gateway URL of a route, each path parameter encoded so that the gateway sees exactly the value. */
export function urlOf(routeId: string, params: Record<string, string> = {}, app = 'app-a'): string {
  const spec = byId.get(routeId);
  assert.ok(spec, `no route ${routeId}`);
  return `/v1/apps/${app}${spec.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''))}`;
}

/** The platform calls, logins and refreshes left out, that the simulator received since `since` (epoch ms). */
export async function platformCallsSince(sim: TestSimulator, since: number): Promise<SimCall[]> {
  const { log } = await sim.calls();
  return log.filter((c) => c.at >= since && !c.path.startsWith('/iocm/app/sec/'));
}
