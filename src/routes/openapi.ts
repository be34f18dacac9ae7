// Builds the /openapi.json document (OpenAPI 3.1) from the route descriptions, once at start; schemas come from joi-schema.ts.
import { SAFE_ID } from '../config.js';
import { CATALOG, type ErrorCode } from '../errors.js';
import { joiToJsonSchema, UnsupportedJoi, type JsonSchema } from './joi-schema.js';
import type { Family } from '../families/types.js';
import { pathParams, type RouteSpec } from './types.js';

const ERROR_ENVELOPE = '#/components/schemas/ErrorEnvelope';
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const header = (name: string) => ({ $ref: `#/components/headers/${name}` });

const HEADERS: Record<string, JsonSchema> = {
  'X-Request-Id': {
    description: "The request's ID: the caller's when it is well-formed, otherwise generated. Also in every log line.",
    schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
  },
  RateLimit: {
    description: 'IETF RateLimit field: the remaining calls `r` and the seconds `t` until the window has room.',
    schema: { type: 'string' },
  },
  'RateLimit-Policy': {
    description: "IETF RateLimit-Policy field: the app's quota `q` per window `w` seconds.",
    schema: { type: 'string' },
  },
  'RateLimit-Limit': { description: 'Calls allowed per window (older drafts).', schema: { type: 'string' } },
  'RateLimit-Remaining': { description: 'Calls left in the window (older drafts).', schema: { type: 'string' } },
  'RateLimit-Reset': { description: 'Seconds until the window has room (older drafts).', schema: { type: 'string' } },
  'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer', minimum: 1 } },
};

const QUOTA_HEADERS = ['RateLimit', 'RateLimit-Policy', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'];

/** The error responses, by status; descriptions list the catalog's codes that answer with that status. */
const ERROR_RESPONSES: ReadonlyArray<{ name: string; status: number; headers?: string[] }> = [
  { name: 'BadRequest', status: 400 },
  { name: 'Unauthenticated', status: 401 },
  { name: 'Forbidden', status: 403 },
  { name: 'NotFound', status: 404 },
  { name: 'Conflict', status: 409 },
  { name: 'PayloadTooLarge', status: 413 },
  { name: 'UnsupportedMediaType', status: 415 },
  { name: 'IdempotencyKeyReused', status: 422 },
  { name: 'RateLimited', status: 429, headers: [...QUOTA_HEADERS, 'Retry-After'] },
  { name: 'Internal', status: 500 },
  { name: 'BadGateway', status: 502 },
  { name: 'Unavailable', status: 503, headers: ['Retry-After'] },
  { name: 'GatewayTimeout', status: 504 },
];

const codesWithStatus = (status: number): ErrorCode[] =>
  (Object.keys(CATALOG) as ErrorCode[]).filter((code) => CATALOG[code].status === status);

function errorResponse(status: number, headers: readonly string[] = [], extra = ''): JsonSchema {
  const codes = codesWithStatus(status)
    .map((c) => `\`${c}\` (${CATALOG[c].message})`)
    .join('; ');
  return {
    description: `${codes}${extra}`,
    headers: Object.fromEntries(['X-Request-Id', ...headers].map((h) => [h, header(h)])),
    content: json({ $ref: ERROR_ENVELOPE }),
  };
}

function components(): JsonSchema {
  return {
    securitySchemes: {
      ApiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key', description: "The calling service's key." },
    },
    headers: HEADERS,
    schemas: {
      ErrorDetail: {
        type: 'object',
        required: ['field', 'message'],
        additionalProperties: false,
        properties: {
          field: {
            type: 'string',
            description: 'Dotted path of the offending field, e.g. `targets.deviceGroups`, or a parameter name.',
          },
          message: { type: 'string' },
          platformCode: {
            type: 'string',
            description: 'The platform error code for this problem, when the platform defines one.',
          },
        },
      },
      ErrorEnvelope: {
        type: 'object',
        required: ['error'],
        additionalProperties: false,
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message', 'retryable', 'requestId'],
            additionalProperties: false,
            properties: {
              code: { type: 'string', enum: Object.keys(CATALOG) },
              message: { type: 'string' },
              retryable: { type: 'boolean' },
              platformCode: {
                type: 'string',
                description:
                  'The platform error code, whether the platform returned it or the gateway found the problem first.',
              },
              details: { type: 'array', items: { $ref: '#/components/schemas/ErrorDetail' } },
              requestId: { type: 'string' },
            },
          },
        },
      },
    },
    responses: Object.fromEntries(ERROR_RESPONSES.map((r) => [r.name, errorResponse(r.status, r.headers)])),
  };
}

const PATH_PARAM_SCHEMA = { type: 'string', pattern: SAFE_ID.source };

function operation(spec: RouteSpec): JsonSchema {
  const parameters: JsonSchema[] = ['appId', ...pathParams(spec.path)].map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: PATH_PARAM_SCHEMA,
  }));
  if (spec.query !== undefined) {
    const query = joiToJsonSchema(spec.query);
    // Each key becomes its own parameter, so a rule tying keys together would be lost: refuse it.
    for (const keyword of ['allOf', 'oneOf', 'anyOf', 'if']) {
      if (keyword in query) throw new UnsupportedJoi(`${spec.id} query`, 'a rule across query parameters');
    }
    const required = new Set((query.required as string[] | undefined) ?? []);
    for (const [name, schema] of Object.entries(query.properties as Record<string, JsonSchema>)) {
      parameters.push({ name, in: 'query', required: required.has(name), schema });
    }
  }
  if (spec.idempotencyKey) {
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: [
        'Repeating the request with the same key and body within 24 h returns the first answer without calling',
        'the platform again; the same key with another body is refused (422); a repeat while the first is',
        'running waits or gets 409.',
      ].join(' '),
      schema: { type: 'string', pattern: '^[!-~]{1,255}$' },
    });
  }

  const platformCodes = [...(spec.platformErrorCodes ?? [])];
  const success: JsonSchema =
    spec.successStatus === 204
      ? { description: 'Done; no content.' }
      : {
          description: spec.successStatus === 201 ? 'Created.' : "The platform's answer.",
          content: json(spec.response ? joiToJsonSchema(spec.response) : {}),
        };
  success.headers = Object.fromEntries(['X-Request-Id', ...QUOTA_HEADERS].map((h) => [h, header(h)]));

  const ref = (name: string) => ({ $ref: `#/components/responses/${name}` });
  const responses: Record<string, unknown> = {
    [String(spec.successStatus)]: success,
    '400': errorResponse(
      400,
      [],
      platformCodes.length > 0 ? `. Platform codes this API defines: ${platformCodes.join(', ')}.` : '',
    ),
    '401': ref('Unauthenticated'),
    '403': ref('Forbidden'),
    '404': ref('NotFound'),
  };
  if (spec.idempotencyKey) responses['409'] = ref('Conflict');
  if (spec.body !== undefined) {
    responses['413'] = ref('PayloadTooLarge');
    responses['415'] = ref('UnsupportedMediaType');
  }
  if (spec.idempotencyKey) responses['422'] = ref('IdempotencyKeyReused');
  Object.assign(responses, {
    '429': ref('RateLimited'),
    '500': ref('Internal'),
    '502': ref('BadGateway'),
    '503': ref('Unavailable'),
    '504': ref('GatewayTimeout'),
  });

  const op: JsonSchema = {
    operationId: spec.id,
    summary: spec.summary,
    tags: [spec.family],
    description: `Forwarded to the platform's \`${spec.platform.method} ${spec.platform.path}\`.`,
    parameters,
    responses,
    // Contract §9: tools and people find the gateway operation for a platform API through this.
    'x-platform-api': { method: spec.platform.method, path: spec.platform.path },
  };
  if (platformCodes.length > 0) op['x-platform-error-codes'] = platformCodes;
  if (spec.body !== undefined) op.requestBody = { required: true, content: json(joiToJsonSchema(spec.body)) };
  return op;
}

/** The OpenAPI 3.1 document of the given routes, all under `/v1/apps/{appId}`. */
export function buildOpenApi(
  specs: readonly RouteSpec[],
  families: readonly Pick<Family, 'name' | 'description'>[],
  info: { title: string; version: string },
): object {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const spec of specs) {
    const path = `/v1/apps/{appId}${spec.path}`;
    const item = (paths[path] ??= {});
    const method = spec.method.toLowerCase();
    if (item[method] !== undefined) throw new Error(`openapi: two routes for ${spec.method} ${path}`);
    item[method] = operation(spec);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: info.title,
      version: info.version,
      description: [
        'Gateway in front of the Huawei IoT (OceanConnect) northbound API. Every error has the ErrorEnvelope',
        "body; `platformCode` carries the platform's code when it defines one for the case.",
      ].join(' '),
    },
    tags: [...new Set(specs.map((s) => s.family))].map((name) => {
      const description = families.find((f) => f.name === name)?.description;
      return description === undefined ? { name } : { name, description };
    }),
    security: [{ ApiKey: [] }],
    paths,
    components: components(),
  };
}
