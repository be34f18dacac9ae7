// The declarative description of one platform API: the router, validation, forwarding and /openapi.json all derive from it.
import type Joi from 'joi';
import type { CachePolicy, InvalidationPolicy } from '../cache/types.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteSpec {
  /** Stable name, used as the OpenAPI operationId and as the metrics' `route` label. */
  readonly id: string;
  readonly summary: string;
  /** OpenAPI tag, one per API family (e.g. "device-upgrade"). */
  readonly family: string;
  readonly method: HttpMethod;
  /**
   * Path below `/v1/apps/{appId}`, with `{name}` placeholders, e.g. `/packages/{fileId}`.
   * Every placeholder is a path parameter checked against SAFE_ID before anything else happens.
   */
  readonly path: string;
  readonly platform: {
    readonly method: HttpMethod;
    /**
     * Platform path template, e.g. `/iodm/northbound/v1.5.0/category/{fileId}`. Each of its placeholders is
     * a gateway path parameter of the same name (contract §9: a parameter is named as the field it fills).
     */
    readonly path: string;
    /**
     * Gateway path parameters that the platform takes as query parameters of the same name, e.g. a device's
     * history at `/devices/{deviceId}/history` → `GET …/deviceDataHistory?deviceId=…`.
     */
    readonly queryFromPath?: readonly string[];
    /**
     * Gateway path parameters that the platform takes as top-level fields of its JSON body, e.g. a group's
     * members at `/groups/{devGroupId}/members` → `POST …/addDevGroupTagToDevices` with `{devGroupId, …}`.
     * The route's body schema must not declare them: the path is the only place a caller names them.
     */
    readonly bodyFromPath?: readonly string[];
    /**
     * Where the platform takes the `appId` of the app a call acts for ("authorized application", contract §9):
     * the gateway fills it from the path's app. Absent: the gateway sends none (the platform then acts for the
     * app of the token). Callers never send it (see PLATFORM_OWNED).
     */
    readonly appId?: 'query' | 'body';
    /**
     * The platform's `callbackUrl` (contract §10), while events are on. `'body'`: the platform takes it at the top
     * of this route's body (a command's status pushes go there); the gateway sets its own callback and refuses a
     * caller's with 400. `'echo'`: the platform's answer may echo it. Either way the gateway's callback URL (its
     * path token is a secret) is removed from the answer. With events off, neither changes anything.
     */
    readonly callbackUrl?: 'body' | 'echo';
  };
  /** Query schema (keys keep the platform's names). Absent = no query parameters accepted. */
  readonly query?: Joi.ObjectSchema;
  /** Body schema for POST/PUT. Absent = no body accepted. */
  readonly body?: Joi.ObjectSchema;
  /** Status the gateway answers on success. */
  readonly successStatus: 200 | 201 | 204;
  /** The success body, for /openapi.json only (absent: "the platform's answer", any JSON). Not enforced. */
  readonly response?: Joi.Schema;
  /** Builds the gateway's success body from the platform's parsed body (default: the platform's body as is). */
  readonly shapeResponse?: (platformBody: unknown) => unknown;
  /** POST routes that create something accept an Idempotency-Key (contract §3 "Headers"). */
  readonly idempotencyKey?: boolean;
  /** Platform codes this API documents for invalid input, so that OpenAPI and docs can list them. */
  readonly platformErrorCodes?: readonly string[];
  /** Wording of the family's own schema rules (`rule.*`), added by the registry from the family. */
  readonly messages?: Readonly<Record<string, string>>;
  /**
   * GET only: the answer is cached per app in Redis for `ttlSec` (CACHE_TTL_SEC may override it, 0 = off), filed
   * under `tags` so that writes can drop it (contract §13, docs/cache.md). Absent = never cached.
   */
  readonly cache?: CachePolicy;
  /**
   * Writes only (POST/PUT/DELETE): the cache tags this write makes stale (the resource and the lists holding it),
   * dropped before the write is answered, also when it failed after being sent.
   */
  readonly invalidates?: InvalidationPolicy;
}

/**
 * Parameters that say on whose behalf a platform call acts. They are the gateway's to set from the app in
 * the path, never a caller's (contract §9): a caller who sends one, in the query or at the top of a body, gets 400.
 */
export const PLATFORM_OWNED: readonly string[] = Object.freeze(['appId', 'accessAppId', 'ownerFlag']);

/** Names of the `{placeholders}` of a path template, in order. */
export function pathParams(template: string): string[] {
  return [...template.matchAll(/\{([A-Za-z][A-Za-z0-9]*)\}/g)].map((m) => m[1] as string);
}

/** Fills a template; values must already be checked against SAFE_ID, and are encoded once more all the same. */
export function fillPath(template: string, params: Readonly<Record<string, string>>): string {
  return template.replace(/\{([A-Za-z][A-Za-z0-9]*)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`path parameter ${name} missing`);
    return encodeURIComponent(value);
  });
}

/** `/packages/{fileId}` → `/packages/:fileId` (Express 5 syntax). */
export function toExpressPath(template: string): string {
  return template.replace(/\{([A-Za-z][A-Za-z0-9]*)\}/g, ':$1');
}
