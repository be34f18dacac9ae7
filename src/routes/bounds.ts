// Bounds the work of validating one request: lists over their maximum and floods of unknown keys are cut before Joi looks at them.
import type Joi from 'joi';

/**
 * Contract §6, "No request can stall the others": Joi with `abortEarly: false` checks every item of a list
 * even after the list's `max` has failed, and every unknown key of an object, so a 240 KB body of 120,000
 * numbers cost seconds of one event loop. The limits a schema declares are checked here first, in time
 * proportional to the schema rather than the body, and Joi then sees at most what the schema allows.
 */

/** What of a schema node bounds the work: an array's maximum, a closed object's keys. */
type Shape =
  | { readonly kind: 'array'; readonly max: number; readonly item: Shape | undefined }
  | { readonly kind: 'object'; readonly keys: ReadonlyMap<string, Shape> }
  | { readonly kind: 'other' };

/**
 * Unknown keys of one object that are still reported one by one, past them the rest is cut (and counted);
 * and the items of a list over its maximum that are still checked.
 */
export const MAX_UNKNOWN_KEYS = 20;

type Description = Joi.Description & {
  flags?: { unknown?: boolean };
  rules?: Array<{ name: string; args?: { limit?: unknown } }>;
  keys?: Record<string, Description>;
  items?: Description[];
};

const OTHER: Shape = { kind: 'other' };

function shapeFrom(d: Description): Shape {
  if (d.type === 'array') {
    const max = d.rules?.find((r) => r.name === 'max')?.args?.limit;
    const item = d.items?.length === 1 ? shapeFrom(d.items[0] as Description) : undefined;
    return typeof max === 'number' ? { kind: 'array', max, item } : OTHER;
  }
  // An object without declared keys, or one that allows unknown keys, holds free-form data (a command's
  // `paras`): nothing of it is a field the gateway checks, so nothing is cut.
  if (d.type === 'object' && d.keys !== undefined && d.flags?.unknown !== true) {
    return { kind: 'object', keys: new Map(Object.entries(d.keys).map(([k, v]) => [k, shapeFrom(v)])) };
  }
  return OTHER;
}

const shapes = new WeakMap<Joi.Schema, Shape>();

function shapeOf(schema: Joi.Schema): Shape {
  let shape = shapes.get(schema);
  if (shape === undefined) {
    shape = shapeFrom(schema.describe() as Description);
    shapes.set(schema, shape);
  }
  return shape;
}

/** A limit found broken before validation: where, and which Joi error type it stands for. */
export interface Overrun {
  path: Array<string | number>;
  type: 'array.max' | 'object.unknown';
  /** For array.max: the declared maximum. For object.unknown: how many unknown keys were cut unreported. */
  limit: number;
}

/**
 * The value cut to what the schema allows (lists to their maximum, unknown keys to the first
 * MAX_UNKNOWN_KEYS), and the overruns found. Cuts copy; the input is never changed. A value within its
 * limits is returned as it is, so valid requests pay one walk over the schema's declared fields.
 */
export function cutToLimits(schema: Joi.Schema, value: unknown): { value: unknown; overruns: Overrun[] } {
  const overruns: Overrun[] = [];
  const walk = (shape: Shape, v: unknown, path: Array<string | number>): unknown => {
    if (shape.kind === 'array') {
      if (!Array.isArray(v)) return v;
      let out: unknown[] = v;
      if (v.length > shape.max) {
        overruns.push({ path, type: 'array.max', limit: shape.max });
        // The request is refused already; the first few items' own problems are enough to answer.
        out = v.slice(0, Math.min(shape.max, MAX_UNKNOWN_KEYS));
      }
      const item = shape.item;
      if (item === undefined || item.kind === 'other') return out;
      let copied = out !== v;
      for (let i = 0; i < out.length; i += 1) {
        const cut = walk(item, out[i], [...path, i]);
        if (cut !== out[i]) {
          if (!copied) out = [...out];
          copied = true;
          out[i] = cut;
        }
      }
      return out;
    }
    if (shape.kind === 'object') {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
      const source = v as Record<string, unknown>;
      const keys = Object.keys(source);
      let out: Record<string, unknown> | undefined;
      let unknown = 0;
      for (const key of keys) if (!shape.keys.has(key)) unknown += 1;
      const cutUnknown = Math.max(0, unknown - MAX_UNKNOWN_KEYS);
      if (cutUnknown > 0) {
        // Built anew rather than copied and deleted from: deleting thousands of keys is itself slow.
        out = {};
        let kept = 0;
        for (const key of keys) {
          if (shape.keys.has(key) || (kept += 1) <= MAX_UNKNOWN_KEYS) {
            // Defined, not assigned: an own `__proto__` key must stay a key, not become the prototype.
            Object.defineProperty(out, key, { value: source[key], enumerable: true, writable: true, configurable: true });
          }
        }
      }
      for (const [key, child] of shape.keys) {
        if (!Object.hasOwn(source, key)) continue;
        const cut = walk(child, source[key], [...path, key]);
        if (cut !== source[key]) {
          out ??= { ...source };
          out[key] = cut;
        }
      }
      if (cutUnknown > 0) overruns.push({ path, type: 'object.unknown', limit: cutUnknown });
      return out ?? v;
    }
    return v;
  };
  return { value: walk(shapeOf(schema), value, []), overruns };
}

/** The paths of arrays that declare no maximum: their validation would be unbounded (routes/check.ts refuses them). */
export function unboundedArrays(schema: Joi.Schema): string[] {
  const out: string[] = [];
  const walk = (d: Description, at: string): void => {
    if (d.type === 'array' && !d.rules?.some((r) => r.name === 'max')) out.push(at || '(root)');
    for (const [k, child] of Object.entries(d.keys ?? {})) walk(child, at ? `${at}.${k}` : k);
    for (const item of d.items ?? []) walk(item, `${at}[]`);
  };
  walk(schema.describe() as Description, '');
  return out;
}
