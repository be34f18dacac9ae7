// Checks one request against its RouteSpec before it spends quota, reporting every problem at once with the platform's code.
import Joi from 'joi';
import { SAFE_ID } from '../config.js';
import { GatewayError, type ErrorDetail } from '../errors.js';
import { cutToLimits } from './bounds.js';
import { pathParams, PLATFORM_OWNED, type RouteSpec } from './types.js';

/**
 * The platform code(s) a failure of one schema node stands for: one code for every failure of the node,
 * or a code per Joi error type, with `'*'` for the node's other failures. Applies to failures reported at
 * that node only, not below it, so an unknown key (reported at its own path) never inherits a code.
 */
export type PlatformCodes = string | Readonly<Record<string, string>>;

const META_KEY = 'platformCodes';

/**
 * Declares, on the schema node itself, which platform code its failures carry. Kept as Joi metadata so
 * that the rule and its code are written together, and so that /openapi.json can list the codes too.
 */
export function withPlatformCodes<T extends Joi.Schema>(schema: T, codes: PlatformCodes): T {
  return schema.meta({ [META_KEY]: codes }) as T;
}

/** Reads the declaration made by withPlatformCodes from a node of `schema.describe()`. */
export function platformCodesOf(description: Joi.Description): PlatformCodes | undefined {
  for (const meta of description.metas ?? []) {
    if (meta !== null && typeof meta === 'object' && META_KEY in meta) {
      return (meta as Record<string, PlatformCodes>)[META_KEY];
    }
  }
  return undefined;
}

/** Every code a declaration can yield (for documentation and consistency checks). */
export function codesIn(codes: PlatformCodes): string[] {
  return typeof codes === 'string' ? [codes] : [...new Set(Object.values(codes))];
}

/** Array positions collapse to `[]`, so that one declaration on `items` covers every element. */
const nodeKey = (path: ReadonlyArray<string | number>): string =>
  JSON.stringify(path.map((p) => (typeof p === 'number' ? '[]' : p)));

const tables = new WeakMap<Joi.Schema, Map<string, PlatformCodes>>();

/** The schema's declarations, by node, computed once per schema. */
export function platformCodeTable(schema: Joi.Schema): ReadonlyMap<string, PlatformCodes> {
  let table = tables.get(schema);
  if (table === undefined) {
    const declared = new Map<string, PlatformCodes>();
    const walk = (d: Joi.Description, path: Array<string | number>): void => {
      const codes = platformCodesOf(d);
      if (codes !== undefined) declared.set(nodeKey(path), codes);
      const keys = (d.keys ?? {}) as Record<string, Joi.Description>;
      for (const [key, child] of Object.entries(keys)) walk(child, [...path, key]);
      for (const item of (d.items ?? []) as Joi.Description[]) walk(item, [...path, 0]);
    };
    walk(schema.describe(), []);
    table = declared;
    tables.set(schema, table);
  }
  return table;
}

function platformCodeFor(schema: Joi.Schema, path: ReadonlyArray<string | number>, type: string): string | undefined {
  const codes = platformCodeTable(schema).get(nodeKey(path));
  if (codes === undefined) return undefined;
  return typeof codes === 'string' ? codes : (codes[type] ?? codes['*']);
}

/**
 * Our wording for every Joi error type these schemas can raise. None interpolates `{{#value}}`: a message
 * never repeats what the caller sent. Rules of our own (`rule.*`) declare their message next to the rule
 * with `.messages()`.
 */
export const MESSAGES: Readonly<Record<string, string>> = Object.freeze({
  'any.required': 'is required',
  'any.only': 'must be one of: {{#valids}}',
  'any.custom': 'is invalid',
  'object.base': 'must be a JSON object',
  'object.unknown': 'is not a known field',
  'object.xor': 'only one of {{#peers}} may be given',
  'object.missing': 'one of {{#peers}} is required',
  'string.base': 'must be a string',
  'string.empty': 'must not be empty',
  'string.min': 'must be at least {{#limit}} characters long',
  'string.max': 'must be at most {{#limit}} characters long',
  'string.pattern.base': 'has the wrong format',
  'string.pattern.name': 'must have the format {{#name}}',
  'number.base': 'must be a number',
  'number.integer': 'must be an integer',
  'number.min': 'must be at least {{#limit}}',
  'number.max': 'must be at most {{#limit}}',
  'number.unsafe': 'must be a safe integer',
  'number.infinity': 'must be a finite number',
  'boolean.base': 'must be true or false',
  'array.base': 'must be an array',
  'array.min': 'must hold at least {{#limit}} item(s)',
  'array.max': 'must hold at most {{#limit}} items',
  // Rules shared by families (families/common/schema.ts); a family's own rules are worded in its folder.
  // Here rather than next to each rule: a node with .messages() of its own makes Joi clone the whole
  // table each time the node is validated.
  'rule.notAnInstant': 'is not a real date and time',
});

const PATTERN_MESSAGES: Readonly<Record<string, string>> = { 'not blank': 'must not be blank' };

/** The schema of a route that takes no query parameters: every key is unknown. */
const EMPTY = Joi.object({});

const isOurMessage = (type: string): boolean => type in MESSAGES || type.startsWith('rule.');

const JOI_OPTIONS = {
  abortEarly: false,
  errors: { wrap: { label: false, array: false } },
} as const satisfies Joi.ValidationOptions;

/** At most this many problems are listed in `details`. */
export const MAX_DETAILS = 100;

/** Unknown keys are caller-chosen text: shown so the caller can find the typo, but never at any length. */
const MAX_FIELD_SEGMENT = 64;

function fieldOf(root: string, path: ReadonlyArray<string | number>): string {
  if (path.length === 0) return root;
  return path
    .map((p, i) => {
      if (typeof p === 'number') return `[${p}]`;
      const segment = p.length > MAX_FIELD_SEGMENT ? `${p.slice(0, MAX_FIELD_SEGMENT)}…` : p;
      return i === 0 ? segment : `.${segment}`;
    })
    .join('');
}

/** A problem, with the depth of its path: a whole object's failure outranks its members' (see below). */
interface Found {
  detail: ErrorDetail;
  depth: number;
}

function found(field: string, message: string, depth: number, platformCode?: string): Found {
  const detail: ErrorDetail = { field, message };
  if (platformCode !== undefined) detail.platformCode = platformCode;
  return { detail, depth };
}

/**
 * Joi compiles `messages` (two dozen templates) on every validate() call that passes them as options;
 * set on the schema, they are compiled once, and a validate() without options reuses cached preferences.
 */
const prepared = new WeakMap<Joi.Schema, { convert: Joi.ObjectSchema; strict: Joi.ObjectSchema }>();

function withOptions(schema: Joi.ObjectSchema, convert: boolean, own: Readonly<Record<string, string>> | undefined): Joi.ObjectSchema {
  let p = prepared.get(schema);
  if (p === undefined) {
    const options = { ...JOI_OPTIONS, messages: own === undefined ? MESSAGES : { ...MESSAGES, ...own } };
    p = { convert: schema.prefs({ ...options, convert: true }), strict: schema.prefs({ ...options, convert: false }) };
    prepared.set(schema, p);
  }
  return convert ? p.convert : p.strict;
}

function check(
  schema: Joi.ObjectSchema,
  value: unknown,
  root: string,
  convert: boolean,
  now: Date | undefined,
  own: Readonly<Record<string, string>> | undefined,
): { value: unknown; problems: Found[] } {
  // Limits first, so that Joi's work is bounded by the schema, not by the body (routes/bounds.ts).
  const cut = cutToLimits(schema, value);
  const { error, value: checked } = withOptions(schema, convert, own).validate(cut.value, now === undefined ? undefined : { context: { now } });
  const overruns = cut.overruns.map((o) =>
    o.type === 'array.max'
      ? found(fieldOf(root, o.path), `must hold at most ${o.limit} items`, o.path.length, platformCodeFor(schema, o.path, o.type))
      : found(fieldOf(root, o.path), `holds ${o.limit} more fields that are not known`, o.path.length + 1),
  );
  const problems = (error?.details ?? []).map((d) => {
    // A named pattern may have wording of its own (kept here, not in a .messages() on the node: see MESSAGES).
    const named = d.type === 'string.pattern.name' ? PATTERN_MESSAGES[String(d.context?.name)] : undefined;
    const message = named ?? (isOurMessage(d.type) ? d.message : 'is invalid');
    return found(fieldOf(root, d.path), message, d.path.length, platformCodeFor(schema, d.path, d.type));
  });
  return { value: checked, problems: [...overruns, ...problems] };
}

/**
 * Joi's clone silently drops a `__proto__` key (@hapi/hoek), so `unknown(false)` never reports it and the
 * request would be forwarded without it; the contract wants it refused like any unknown key (fuzz.test.ts).
 * Only called on input Joi accepted, whose shape the schema bounds; a `__proto__` value is not entered.
 */
function protoKeys(value: unknown, root: string): Found[] {
  const out: Found[] = [];
  const walk = (v: unknown, path: Array<string | number>): void => {
    if (v === null || typeof v !== 'object') return;
    for (const key of Object.keys(v)) {
      const at = [...path, Array.isArray(v) ? Number(key) : key];
      if (key === '__proto__') out.push(found(fieldOf(root, at), MESSAGES['object.unknown'] as string, at.length));
      else walk((v as Record<string, unknown>)[key], at);
    }
  };
  walk(value, []);
  return out;
}

const OWNED_RULE = 'is set by the gateway from the app in the path';

/**
 * The platform's appId/accessAppId/ownerFlag are the gateway's to set (contract §9): refused with a message
 * of their own rather than as an unknown field, and taken out so that the schema does not report them twice.
 */
function withoutOwned(value: unknown, root: string, problems: Found[]): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  let rest: Record<string, unknown> | undefined;
  for (const name of PLATFORM_OWNED) {
    if (!Object.hasOwn(value, name)) continue;
    problems.push(found(fieldOf(root, [name]), OWNED_RULE, 1));
    rest ??= { ...(value as Record<string, unknown>) };
    delete rest[name];
  }
  return rest ?? value;
}

/** Accepted on a route that declares no body: what a body parser leaves when nothing was sent. */
const isNoBody = (body: unknown): boolean =>
  body === undefined ||
  (body !== null && typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0);

/** A template's parameter names, parsed once per template rather than on every request. */
const templateParams = new Map<string, string[]>();

const PARAM_RULE = "must be 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit";

export interface ValidatedRequest {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
}

/**
 * Validates path parameters, query and body of one request. Throws one VALIDATION_FAILED GatewayError
 * listing every problem; otherwise returns the values to forward (query numbers converted from text).
 * Time rules are judged against `now`.
 */
export function validateRequest(
  spec: RouteSpec,
  input: { params: Record<string, string>; query: unknown; body: unknown },
  now?: Date,
): ValidatedRequest {
  const problems: Found[] = [];

  // Every value the router captured is checked, not only the template's: appId included when given.
  const params: Record<string, string> = {};
  let names = templateParams.get(spec.path);
  if (names === undefined) templateParams.set(spec.path, (names = pathParams(spec.path)));
  for (const name of names.length === 0 ? Object.keys(input.params) : new Set([...names, ...Object.keys(input.params)])) {
    const value = input.params[name];
    if (value === undefined) problems.push(found(name, 'is required', 0));
    else if (typeof value !== 'string' || !SAFE_ID.test(value)) problems.push(found(name, PARAM_RULE, 0));
    else params[name] = value;
  }

  // Query strings arrive as text, so numbers and booleans are converted; a route without a query schema
  // takes none. Unknown keys are refused rather than dropped: a misspelt filter (`pagesize`, `devicetype`)
  // would otherwise silently return another list than the caller asked for.
  const query = check(spec.query ?? EMPTY, withoutOwned(input.query ?? {}, 'query', problems), 'query', true, now, spec.messages);
  problems.push(...query.problems);

  let body: unknown;
  if (spec.body === undefined) {
    if (!isNoBody(input.body)) problems.push(found('body', 'this route takes no request body', 0));
  } else {
    // A JSON body already has its types: a string where a number belongs is the caller's bug, not text to
    // convert. Unknown keys are refused (see the schemas) rather than passed on or dropped. No body at all
    // is judged as `{}`, which is what a body parser makes of an empty JSON body, so that both get the
    // same answer (each required field, with its code).
    const given = withoutOwned(input.body === undefined ? {} : input.body, 'body', problems);
    const checked = check(spec.body, given, 'body', false, now, spec.messages);
    problems.push(...checked.problems);
    if (checked.problems.length === 0) problems.push(...protoKeys(given, 'body'));
    body = checked.value;
  }

  if (problems.length > 0) {
    // The top-level code and message should be what the platform itself would have answered. So failures
    // with a platform code come first, and among them a whole object's before its members' (the platform
    // judges "devices and deviceGroups both given" before "deviceType missing for the groups"); otherwise
    // the schema's order is kept (Array.prototype.sort is stable).
    const uncoded = (p: Found) => (p.detail.platformCode === undefined ? 1 : 0);
    const ordered = [...problems].sort((a, b) => uncoded(a) - uncoded(b) || a.depth - b.depth).map((p) => p.detail);
    const first = ordered[0] as ErrorDetail;
    const more = ordered.length - 1;
    throw new GatewayError('VALIDATION_FAILED', {
      message: `${first.field}: ${first.message}${more > 0 ? ` (and ${more} more problem${more > 1 ? 's' : ''})` : ''}`,
      ...(first.platformCode !== undefined ? { platformCode: first.platformCode } : {}),
      // A body within BODY_LIMIT can still hold thousands of bad array items; listing each would make the
      // answer many times larger than the request. The message still counts them all.
      details: ordered.slice(0, MAX_DETAILS),
    });
  }
  return { params, query: (query.value ?? {}) as Record<string, unknown>, body };
}
