// What the platform is sent besides its path: the query parameters and body fields the gateway fills in.
import type { RouteSpec } from './types.js';

/**
 * What the platform is sent besides the path: path parameters it takes as query parameters, and the app
 * it acts for where the platform takes one (contract §9; a caller's own was refused in validation).
 */
export function toPlatform(
  spec: RouteSpec,
  appId: string,
  input: { params: Record<string, string>; query: Record<string, unknown>; body: unknown },
): { query: Record<string, unknown>; body: unknown } {
  const fromPath = spec.platform.queryFromPath ?? [];
  let query = input.query;
  if (fromPath.length > 0 || spec.platform.appId === 'query') {
    query = { ...query };
    for (const name of fromPath) query[name] = input.params[name];
    if (spec.platform.appId === 'query') query.appId = appId;
  }
  let body = input.body;
  if (spec.platform.appId === 'body' && body !== null && typeof body === 'object' && !Array.isArray(body)) {
    body = { ...(body as Record<string, unknown>), appId };
  }
  return { query, body };
}

