// Builds /openapi.json (OpenAPI 3.1) from the route descriptions and the very Joi schemas that validate the requests.
import type Joi from 'joi';
import { SAFE_ID } from '../config.js';
import { CATALOG, type ErrorCode } from '../errors.js';
import { pathParams, type RouteSpec } from './types.js';
import { codesIn, platformCodesOf } from './validate.js';

export type JsonSchema = { [keyword: string]: unknown };

/*
 * Joi → JSON Schema (2020-12, the dialect of OpenAPI 3.1) by a small converter over `schema.describe()`,
 * rather than a library: it covers exactly the Joi features the routes use, renders `xor` and `when` as
 * the `oneOf` and `if`/`then` that mean the same thing, carries the platform codes along, and throws on
 * any feature it does not know, so that a new schema can never be documented wrongly without a failing test.
 * Rules JSON Schema cannot express (`custom`: times relative to now, calendar dates) are named in the
 * node's description.
 */

class UnsupportedJoi extends Error {
  constructor(at: string, what: string) {
    super(`openapi: ${what} at "${at || '(root)'}" has no JSON Schema rendering; extend src/routes/openapi.ts`);
    this.name = 'UnsupportedJoi';
  }
}

interface Rule {
  name: string;
  args?: Record<string, unknown>;
}

type Description = Joi.Description & {
  flags?: Record<string, unknown>;
  rules?: Rule[];
  keys?: Record<string, Description>;
  items?: Description[];
  allow?: unknown[];
  whens?: When[];
  dependencies?: Array<{ rel: string; peers: string[] }>;
};

interface When {
  ref?: { path: string[]; ancestor?: number };
  is?: Description;
  then?: Description;
  otherwise?: Description;
  switch?: unknown;
}

/** `"/^a+$/"` (describe()'s rendering of a RegExp) → `^a+$`; flags have no JSON Schema equivalent. */
function regexSource(rendered: unknown, at: string): string {
  const text = String(rendered);
  const end = text.lastIndexOf('/');
  if (!text.startsWith('/') || end <= 0 || end !== text.length - 1) {
    throw new UnsupportedJoi(at, `regex ${text} with flags`);
  }
  return text.slice(1, end);
}

const limit = (rule: Rule): unknown => rule.args?.limit;

/** The allowed values of a `.valid()` list, without Joi's `{override: true}` marker. */
const valids = (d: Description): unknown[] =>
  (d.allow ?? []).filter((v) => !(v !== null && typeof v === 'object' && 'override' in v));

function convert(d: Description, at: string): JsonSchema {
  const flags = d.flags ?? {};
  const out: JsonSchema = {};
  const checkedBeyond: string[] = [];
  const patterns: string[] = [];

  const knownFlags = ['presence', 'only', 'description', 'unknown', 'default'];
  for (const flag of Object.keys(flags)) if (!knownFlags.includes(flag)) throw new UnsupportedJoi(at, `flag ${flag}`);
  if (flags.presence === 'forbidden') throw new UnsupportedJoi(at, 'forbidden()');

  switch (d.type) {
    case 'any':
      break;
    case 'string': {
      // Joi refuses '' unless it is explicitly allowed.
      out.type = 'string';
      let minLength = valids(d).includes('') ? 0 : 1;
      for (const rule of d.rules ?? []) {
        if (rule.name === 'max') out.maxLength = limit(rule);
        else if (rule.name === 'min') minLength = Math.max(minLength, Number(limit(rule)));
        else if (rule.name === 'pattern') {
          const options = rule.args?.options as { invert?: boolean } | undefined;
          if (options?.invert) throw new UnsupportedJoi(at, 'inverted pattern');
          patterns.push(regexSource(rule.args?.regex, at));
        } else if (rule.name === 'custom') checkedBeyond.push(String(rule.args?.description ?? 'a custom rule'));
        else throw new UnsupportedJoi(at, `string rule ${rule.name}`);
      }
      // An enum says it all; a minimum length beside it would only be noise.
      if (minLength > 0 && flags.only !== true) out.minLength = minLength;
      break;
    }
    case 'number': {
      out.type = (d.rules ?? []).some((r) => r.name === 'integer') ? 'integer' : 'number';
      for (const rule of d.rules ?? []) {
        if (rule.name === 'integer') continue;
        if (rule.name === 'min') out.minimum = limit(rule);
        else if (rule.name === 'max') out.maximum = limit(rule);
        else if (rule.name === 'greater') out.exclusiveMinimum = limit(rule);
        else if (rule.name === 'less') out.exclusiveMaximum = limit(rule);
        else if (rule.name === 'custom') checkedBeyond.push(String(rule.args?.description ?? 'a custom rule'));
        else throw new UnsupportedJoi(at, `number rule ${rule.name}`);
      }
      break;
    }
    case 'boolean':
      out.type = 'boolean';
      break;
    case 'array': {
      out.type = 'array';
      const items = d.items ?? [];
      if (items.length > 1) throw new UnsupportedJoi(at, 'array with several item schemas');
      if (items[0] !== undefined) out.items = convert(items[0], `${at}[]`);
      for (const rule of d.rules ?? []) {
        if (rule.name === 'min') out.minItems = limit(rule);
        else if (rule.name === 'max') out.maxItems = limit(rule);
        else throw new UnsupportedJoi(at, `array rule ${rule.name}`);
      }
      break;
    }
    case 'object':
      Object.assign(out, convertObject(d, at));
      break;
    default:
      throw new UnsupportedJoi(at, `type ${String(d.type)}`);
  }

  if (flags.only === true) out.enum = valids(d);
  else if (valids(d).some((v) => v !== '')) throw new UnsupportedJoi(at, 'allow() without valid()');
  if (patterns.length === 1) out.pattern = patterns[0];
  else if (patterns.length > 1) out.allOf = patterns.map((pattern) => ({ pattern }));
  if (flags.default !== undefined) out.default = flags.default;

  const description = [typeof flags.description === 'string' ? flags.description : undefined];
  if (checkedBeyond.length > 0) description.push(`Also checked by the gateway: ${checkedBeyond.join('; ')}.`);
  const text = description.filter((s) => s !== undefined).join(' ');
  if (text !== '') out.description = text;
  const codes = platformCodesOf(d);
  if (codes !== undefined) out['x-platform-codes'] = codesIn(codes).sort();
  return out;
}

function convertObject(d: Description, at: string): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  // Conditions grouped by their `if`, so that one condition requiring three keys is written once.
  const conditional = new Map<string, { if: JsonSchema; required: string[] }>();

  for (const [key, child] of Object.entries(d.keys ?? {})) {
    const path = at ? `${at}.${key}` : key;
    properties[key] = convert(child, path);
    if (child.flags?.presence === 'required') required.push(key);
    for (const when of child.whens ?? []) {
      const condition = whenCondition(when, path);
      const id = JSON.stringify(condition);
      const entry = conditional.get(id) ?? { if: condition, required: [] };
      entry.required.push(key);
      conditional.set(id, entry);
    }
  }

  const out: JsonSchema = { type: 'object', properties };
  if (required.length > 0) out.required = required;
  out.additionalProperties = d.flags?.unknown === true;
  const allOf: JsonSchema[] = [...conditional.values()].map((c) => ({ if: c.if, then: { required: c.required } }));
  for (const dep of d.dependencies ?? []) {
    // Joi's xor is "exactly one of"; oneOf over one `required` per peer says the same.
    if (dep.rel === 'xor') allOf.push({ oneOf: dep.peers.map((peer) => ({ required: [peer] })) });
    else if (dep.rel === 'or') allOf.push({ anyOf: dep.peers.map((peer) => ({ required: [peer] })) });
    else throw new UnsupportedJoi(at, `object dependency ${dep.rel}`);
  }
  if (allOf.length === 1) Object.assign(out, allOf[0]);
  else if (allOf.length > 1) out.allOf = allOf;
  return out;
}

/** The `if` of `key.when(sibling, { is, then: required })`; the only `when` forms the routes use. */
function whenCondition(when: When, at: string): JsonSchema {
  const sibling = when.ref?.path;
  const onSibling = sibling?.length === 1 && (when.ref?.ancestor ?? 1) === 1;
  if (when.switch !== undefined || when.otherwise !== undefined || !onSibling) {
    throw new UnsupportedJoi(at, 'when() other than "is …, then required" on a sibling');
  }
  const then = when.then;
  const thenRequired = then?.type === 'any' && then.flags?.presence === 'required';
  if (!thenRequired || Object.keys(then).some((k) => !['type', 'flags'].includes(k))) {
    throw new UnsupportedJoi(at, 'when() whose then is not required()');
  }
  const name = sibling[0] as string;
  const is = when.is;
  const isFlags = is?.flags ?? {};
  const values = is ? valids(is) : [];
  if (is?.type === 'any' && isFlags.presence === 'required' && isFlags.only === undefined) return { required: [name] };
  if (is?.type === 'any' && isFlags.only === true && values.length === 1) {
    return { properties: { [name]: { const: values[0] } }, required: [name] };
  }
  throw new UnsupportedJoi(at, 'when() whose condition is neither exist() nor a single value');
}

/** The JSON Schema of a Joi schema, as /openapi.json shows it. */
export function joiToJsonSchema(schema: Joi.Schema): JsonSchema {
  return convert(schema.describe() as Description, '');
}

// ---- Document ----------------------------------------------------------------------------------------

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
  };
  if (platformCodes.length > 0) op['x-platform-error-codes'] = platformCodes;
  if (spec.body !== undefined) op.requestBody = { required: true, content: json(joiToJsonSchema(spec.body)) };
  return op;
}

/** The OpenAPI 3.1 document of the given routes, all under `/v1/apps/{appId}`. */
export function buildOpenApi(specs: readonly RouteSpec[], info: { title: string; version: string }): object {
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
    tags: [...new Set(specs.map((s) => s.family))].map((name) => ({ name })),
    security: [{ ApiKey: [] }],
    paths,
    components: components(),
  };
}
