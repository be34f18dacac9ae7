// The declarative description of one platform API: the router, validation, forwarding and /openapi.json all derive from it.
import type Joi from 'joi';

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
    /** Platform path with the same `{name}` placeholders, e.g. `/iodm/northbound/v1.5.0/category/{fileId}`. */
    readonly path: string;
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
}

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
