// Joi → JSON Schema (2020-12, OpenAPI 3.1's dialect) over schema.describe(): exactly the Joi features the routes use, and a throw for any other.
import type Joi from 'joi';
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

export class UnsupportedJoi extends Error {
  constructor(at: string, what: string) {
    super(`openapi: ${what} at "${at || '(root)'}" has no JSON Schema rendering; extend src/routes/joi-schema.ts`);
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
  // `key.when(sibling, { is, then: <schema>, otherwise?: <schema> })`: the key's shape depends on the sibling.
  const shapes: JsonSchema[] = [];

  for (const [key, child] of Object.entries(d.keys ?? {})) {
    const path = at ? `${at}.${key}` : key;
    properties[key] = convert(child, path);
    if (child.flags?.presence === 'required') required.push(key);
    for (const when of child.whens ?? []) {
      if (!isRequiredOnly(when.then)) {
        shapes.push(whenShape(when, key, path));
        continue;
      }
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
  allOf.push(...shapes);
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

/** `then: Joi.required()` and nothing else. */
const isRequiredOnly = (then: Description | undefined): boolean =>
  then?.type === 'any' && then.flags?.presence === 'required' && Object.keys(then).every((k) => ['type', 'flags'].includes(k));

/**
 * `key.when(sibling, { is, then: <schema>, otherwise?: <schema> })` as `if`/`then`/`else` on the key's
 * property (a batch task's `param` has the DeviceCmd shape only when taskType is DeviceCmd).
 */
function whenShape(when: When, key: string, at: string): JsonSchema {
  if (when.switch !== undefined || when.then === undefined) throw new UnsupportedJoi(at, 'when() with switch or without then');
  const out: JsonSchema = {
    if: siblingCondition(when, at),
    then: { properties: { [key]: convert(when.then, at) } },
  };
  if (when.otherwise !== undefined) out.else = { properties: { [key]: convert(when.otherwise, at) } };
  return out;
}

/** The `if` of `key.when(sibling, { is, then: required })`. */
function whenCondition(when: When, at: string): JsonSchema {
  if (when.otherwise !== undefined) throw new UnsupportedJoi(at, 'when() other than "is …, then required" on a sibling');
  return siblingCondition(when, at);
}

/** The condition on the sibling: that it exists, or that it has one value. */
function siblingCondition(when: When, at: string): JsonSchema {
  const sibling = when.ref?.path;
  const onSibling = sibling?.length === 1 && (when.ref?.ancestor ?? 1) === 1;
  if (when.switch !== undefined || !onSibling) {
    throw new UnsupportedJoi(at, 'when() other than "is …, then …" on a sibling');
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

