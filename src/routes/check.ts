// Checks route descriptions at start, so that a mistake stops the gateway with one line naming the route instead of a 500 at request time.
import type Joi from 'joi';
import { unboundedArrays } from './bounds.js';
import { codesIn, MESSAGES, platformCodesOf } from './validate.js';
import { pathParams, PLATFORM_OWNED, type RouteSpec } from './types.js';

/** A description that cannot be served; its message is one line naming the route. */
export class RouteDescriptionError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`route descriptions: ${problems.join('; ')}`);
    this.name = 'RouteDescriptionError';
  }
}

type Description = Joi.Description & {
  flags?: Record<string, unknown>;
  rules?: Array<{ name: string; args?: Record<string, unknown> }>;
  keys?: Record<string, Description>;
  items?: Description[];
  allow?: unknown[];
  whens?: Array<{ then?: Description; otherwise?: Description; is?: Description }>;
  dependencies?: Array<{ rel: string }>;
};

/** Error types a rule of a type can raise, where the name alone does not say it. */
const RULE_TYPES: Readonly<Record<string, (d: Description, rule: { name: string; args?: Record<string, unknown> }) => string[]>> = {
  pattern: (d, rule) => [(rule.args?.options as { name?: string } | undefined)?.name ? `${d.type}.pattern.name` : `${d.type}.pattern.base`],
  custom: () => ['any.custom'],
};

/**
 * The Joi error types a schema can raise, as far as describe() tells: base types, presence, allowed
 * values, rules, object dependencies, and the types named in its platform-code declarations (which is
 * how a custom rule's `rule.*` types become known).
 */
export function errorTypesOf(schema: Joi.Schema): Set<string> {
  const out = new Set<string>();
  const walk = (d: Description): void => {
    const type = d.type ?? 'any';
    if (type !== 'any') out.add(`${type}.base`);
    if (d.flags?.presence === 'required') out.add('any.required');
    if (d.flags?.only === true) out.add('any.only');
    if (type === 'string') out.add('string.empty');
    if (type === 'number') out.add('number.unsafe').add('number.infinity');
    if (type === 'object') out.add('object.unknown');
    for (const rule of d.rules ?? []) {
      const special = RULE_TYPES[rule.name];
      for (const t of special ? special(d, rule) : [`${type}.${rule.name}`]) out.add(t);
    }
    for (const dep of d.dependencies ?? []) {
      out.add(`object.${dep.rel}`);
      if (dep.rel === 'xor' || dep.rel === 'or') out.add('object.missing');
    }
    const codes = platformCodesOf(d);
    if (codes !== undefined && typeof codes !== 'string') for (const t of Object.keys(codes)) if (t !== '*') out.add(t);
    for (const child of Object.values(d.keys ?? {})) walk(child);
    for (const item of d.items ?? []) walk(item);
    for (const w of d.whens ?? []) for (const branch of [w.then, w.otherwise]) if (branch) walk(branch);
  };
  walk(schema.describe() as Description);
  return out;
}

// A rule without a type prefix (`items`) raises its items' own errors; `integer` on a number is `number.integer`.
const SILENT_RULES = new Set(['array.items']);

/** Every problem of a list of descriptions, one line each; empty when they can all be served. */
export function checkRoutes(specs: readonly RouteSpec[], knownCodes?: (code: string) => boolean): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  const endpoints = new Set<string>();
  const platformApis = new Map<string, string>();
  for (const spec of specs) {
    const say = (what: string) => problems.push(`route ${spec.id || '(no id)'} (${spec.method} ${spec.path}): ${what}`);
    if (!/^[a-z][A-Za-z0-9]*$/.test(spec.id)) say('id must be camelCase letters and digits');
    if (ids.has(spec.id)) say('id used twice');
    ids.add(spec.id);
    const endpoint = `${spec.method} ${spec.path.replace(/\{[^}]*\}/g, '{}')}`;
    if (endpoints.has(endpoint)) say('another route has the same method and path');
    endpoints.add(endpoint);
    if (!spec.path.startsWith('/') || /[^A-Za-z0-9/{}_-]/.test(spec.path)) say('path must start with / and hold only letters, digits, -, _ and {placeholders}');
    if (!spec.platform?.path?.startsWith('/')) say('no platform path');
    else {
      const platformApi = `${spec.platform.method} ${spec.platform.path}`;
      const other = platformApis.get(platformApi);
      if (other !== undefined) say(`platform API ${platformApi} is served by ${other} already`);
      platformApis.set(platformApi, spec.id);
    }
    const gatewayParams = pathParams(spec.path);
    const seen = new Set<string>();
    for (const p of gatewayParams) {
      if (seen.has(p)) say(`placeholder {${p}} appears twice`);
      seen.add(p);
      if (p === 'appId') say('{appId} is the gateway\'s own path parameter');
    }
    if (/\{(?![A-Za-z][A-Za-z0-9]*\})/.test(spec.path) || /\{(?![A-Za-z][A-Za-z0-9]*\})/.test(spec.platform?.path ?? '')) {
      say('a placeholder is not {name}');
    }
    const fromPath = new Set(spec.platform?.queryFromPath ?? []);
    for (const p of pathParams(spec.platform?.path ?? '')) {
      if (!seen.has(p)) say(`platform placeholder {${p}} has no gateway path parameter of that name`);
      if (fromPath.has(p)) say(`{${p}} cannot fill both the platform path and its query`);
    }
    for (const p of fromPath) if (!seen.has(p)) say(`queryFromPath names {${p}}, which the path lacks`);
    const intoBody = new Set(spec.platform?.bodyFromPath ?? []);
    for (const p of intoBody) {
      if (!seen.has(p)) say(`bodyFromPath names {${p}}, which the path lacks`);
      if (fromPath.has(p) || pathParams(spec.platform?.path ?? '').includes(p)) say(`{${p}} cannot fill the platform's body and another place`);
      if (spec.body === undefined) say(`bodyFromPath names {${p}}, but the route takes no body`);
      else if (Object.keys((spec.body.describe() as Description).keys ?? {}).includes(p)) say(`the body declares ${p}, which bodyFromPath fills from the path`);
    }
    for (const p of gatewayParams) {
      const fills = pathParams(spec.platform?.path ?? '').includes(p) || fromPath.has(p) || intoBody.has(p);
      if (!fills) say(`path parameter {${p}} fills nothing at the platform`);
    }
    const bodyMethod = spec.method === 'POST' || spec.method === 'PUT';
    if (spec.body !== undefined && !bodyMethod) say('a body is only for POST or PUT');
    if (spec.body !== undefined && !(spec.platform.method === 'POST' || spec.platform.method === 'PUT')) say('the platform method takes no body');
    if (spec.idempotencyKey && spec.method !== 'POST') say('Idempotency-Key is only for POST');
    if (spec.platform?.callbackUrl === 'body' && (spec.body === undefined || !(spec.platform.method === 'POST' || spec.platform.method === 'PUT'))) {
      say("platform.callbackUrl 'body' needs a route with a body sent to a POST or PUT platform API");
    }
    if (spec.platform?.callbackUrl !== undefined && spec.platform.callbackUrl !== 'body' && spec.platform.callbackUrl !== 'echo') {
      say("platform.callbackUrl must be 'body' or 'echo'");
    }
    if (spec.successStatus === 204 && spec.response !== undefined) say('a 204 has no response body');
    // Contract §13: only GET answers are cached, and only writes make cached answers stale.
    if (spec.cache !== undefined) {
      if (spec.method !== 'GET') say('a cache policy is only for GET');
      const ttl = spec.cache.ttlSec;
      if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 0) say('cache.ttlSec must be a number of seconds ≥ 0');
      if (spec.cache.tags !== undefined && typeof spec.cache.tags !== 'function') say('cache.tags must be a function of the validated parameters and query');
    }
    if (spec.invalidates !== undefined) {
      if (spec.method === 'GET') say('invalidates is only for writes (POST, PUT, DELETE)');
      if (typeof spec.invalidates !== 'function') say('invalidates must be a function of the validated parameters and body');
    }
    for (const [where, schema] of [['query', spec.query], ['body', spec.body]] as const) {
      if (schema === undefined) continue;
      const keys = Object.keys(((schema.describe() as Description).keys ?? {}));
      for (const owned of PLATFORM_OWNED) if (keys.includes(owned)) say(`${where} declares ${owned}, which only the gateway sets`);
      // Contract §6: the work of validation is bounded by the schema, so every list declares its maximum.
      for (const at of unboundedArrays(schema)) say(`${where}: the list ${at} declares no max()`);
      for (const type of errorTypesOf(schema)) {
        if (SILENT_RULES.has(type)) continue;
        if (!(type in MESSAGES) && !(spec.messages !== undefined && type in spec.messages)) say(`${where}: Joi error type ${type} has no message`);
      }
      if (knownCodes) {
        const walk = (d: Description): void => {
          const codes = platformCodesOf(d);
          for (const c of codes === undefined ? [] : codesIn(codes)) if (!knownCodes(c)) say(`${where}: platform code ${c} is not in the catalog`);
          for (const child of Object.values(d.keys ?? {})) walk(child);
          for (const item of d.items ?? []) walk(item);
        };
        walk(schema.describe() as Description);
      }
    }
    if (knownCodes) for (const c of spec.platformErrorCodes ?? []) if (!knownCodes(c)) say(`platform code ${c} is not in the catalog`);
  }
  return problems;
}
