// Shapes a request made to a platform path into the pipeline's terms: path params from the path's placeholders and from the query/body fields the route description names; the SDKs' own appId taken out.
import type { RouteSpec } from '../routes/types.js';

export interface ShapedRequest {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The platform's `appId` names the app a call acts for; the SDKs send it (in the query, or a body) for their
 * own app. Taken out when it is the session's app, so that validation (which refuses a caller's appId on
 * /v1) sees the request as a /v1 caller would send it; another app's is left for validation to refuse.
 */
function withoutOwnApp(value: Record<string, unknown>, appId: string): Record<string, unknown> {
  if (value.appId !== appId) return value;
  const { appId: _own, ...rest } = value;
  return rest;
}

/**
 * `pathParams` are the platform path's placeholders (Express's params); the parameters the gateway's path
 * takes and the platform carries in its query or body (`queryFromPath`, `bodyFromPath`) are moved from there
 * into the params. A missing one is simply absent: validation reports it as required, as on /v1.
 */
export function shapeRequest(
  spec: RouteSpec,
  appId: string,
  input: { pathParams: Record<string, string>; query: unknown; body: unknown },
): ShapedRequest {
  const params: Record<string, string> = { ...input.pathParams };
  let query = withoutOwnApp(isPlainObject(input.query) ? { ...input.query } : {}, appId);
  for (const name of spec.platform.queryFromPath ?? []) {
    const v = query[name];
    if (typeof v === 'string') params[name] = v;
    if (v !== undefined) {
      query = { ...query };
      delete query[name];
    }
  }
  let body = input.body;
  if (isPlainObject(body)) {
    body = withoutOwnApp(body, appId);
    for (const name of spec.platform.bodyFromPath ?? []) {
      const b = body as Record<string, unknown>;
      const v = b[name];
      if (typeof v === 'string') params[name] = v;
      if (v !== undefined) {
        const { [name]: _moved, ...rest } = b;
        body = rest;
      }
    }
  }
  return { params, query, body };
}
