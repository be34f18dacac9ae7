// Cache keys and tags (pure): one key per app, operation, path parameters and normalised query, all in the app's Redis Cluster slot.
import { createHash } from 'node:crypto';
import type { RouteParams, RouteQuery } from './types.js';

/**
 * A stable text for a validated value: object keys sorted (so query order never matters), arrays kept in
 * order (a repeated parameter's order may matter to the platform), undefined dropped as the platform never
 * sees it, and types kept (`1` and `"1"` differ; after Joi both arrive as the type the schema says).
 */
export function canonical(value: unknown): string {
  if (value === undefined) return 'u';
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? `n${value}` : `n${String(value)}`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `b${value}`;
  if (value instanceof Date) return `d${value.toISOString()}`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  // Functions and symbols never come out of validation; refuse rather than collide.
  throw new TypeError(`cannot build a cache key from a ${typeof value}`);
}

/** An app ID may not break the `{appId}` hash tag (it comes from configuration, so this is a programming error). */
function checkAppId(appId: string): void {
  if (!/^[^{}\s]{1,128}$/.test(appId)) throw new TypeError(`app ID unfit for a cache key: ${JSON.stringify(appId)}`);
}

export interface KeyParts {
  prefix: string;
  appId: string;
  opId: string;
  params: RouteParams;
  query: RouteQuery;
}

/** The hash of the request's identity: 128 bits of SHA-256, base64url (22 characters). */
export function requestHash(params: RouteParams, query: RouteQuery): string {
  return createHash('sha256').update(canonical({ p: params, q: query })).digest('base64url').slice(0, 22);
}

/** Where the answer lives: `<prefix>cache:{appId}:<opId>:<hash>`, like every other per-app key (`<prefix><kind>:{appId}`). */
export function cacheKey(parts: KeyParts): string {
  checkAppId(parts.appId);
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(parts.opId)) throw new TypeError(`operation ID unfit for a cache key: ${parts.opId}`);
  return `${parts.prefix}cache:{${parts.appId}}:${parts.opId}:${requestHash(parts.params, parts.query)}`;
}

/** Every per-key companion (lock) and per-app key (tag index, tag epoch, channel), from the entry key or the app. */
export const keys = {
  lock: (entryKey: string): string => entryKey.replace(/cache:\{/, 'cache-lock:{'),
  tagSet: (prefix: string, appId: string, tag: string): string => `${prefix}cache-tag:{${appId}}:${tag}`,
  tagEpoch: (prefix: string, appId: string, tag: string): string => `${prefix}cache-epoch:{${appId}}:${tag}`,
  channel: (prefix: string, appId: string): string => `${prefix}cache-done:{${appId}}`,
  app: (entryKey: string): string | undefined => /:\{([^{}]+)\}:/.exec(entryKey)?.[1],
};

/** A tag names a resource (`upgrade-task:op-1`) or a list (`upgrade-tasks:list`); it must fit in a key. */
export function checkTag(tag: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(tag)) throw new TypeError(`cache tag unfit for a key: ${JSON.stringify(tag)}`);
  return tag;
}

/** Tags of the upgrade family (contract §3), in one place so that reads and writes agree on the names. */
export const upgradeTags = {
  packageList: 'packages:list',
  packageOf: (fileId: string) => `package:${fileId}`,
  taskList: 'upgrade-tasks:list',
  taskOf: (operationId: string) => `upgrade-task:${operationId}`,
} as const;
