// Finds a request's route description by one lookup on its path's shape, so that no request walks every route's Express layer (issue 15).
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { pathParams } from './types.js';

/** What a method and a path (below `/v1/apps/{appId}`) are to the routes. */
export type RouteMatch<T> =
  | { kind: 'route'; route: T; params: Record<string, string> }
  /** The path is a route's, the method none of its: 405 with these in `Allow`. */
  | { kind: 'method'; allowed: readonly string[] }
  | { kind: 'none' }
  /** A path parameter that is not valid percent-encoding: 400, as Express answers it. */
  | { kind: 'malformed' };

export interface RouteTable<T> {
  match(method: string, path: string): RouteMatch<T>;
}

interface Compiled<T> {
  route: T;
  /** Lower-cased literal segments; `undefined` where the template has a parameter. */
  literals: Array<string | undefined>;
  /** Parameter names, by segment index. */
  names: Array<string | undefined>;
  /** Every method of routes with this same template (for `Allow`). */
  allowed: string[];
}

/**
 * Compiles route templates (`/devices/{deviceId}`) into buckets by segment count. Matching follows what
 * Express 5's router did with one layer per route, so that moving to this table changed no answer: the first
 * registered template wins, literals compare case-insensitively, one trailing slash is ignored, a parameter
 * takes one non-empty segment and is percent-decoded.
 */
export function compileRoutes<T extends { method: string; path: string }>(routes: readonly T[]): RouteTable<T> {
  const byTemplate = new Map<string, string[]>();
  for (const r of routes) byTemplate.set(r.path, [...(byTemplate.get(r.path) ?? []), r.method]);
  const buckets = new Map<number, Array<Compiled<T>>>();
  for (const route of routes) {
    const segments = route.path.split('/').slice(1);
    const names = segments.map((s) => /^\{([A-Za-z][A-Za-z0-9]*)\}$/.exec(s)?.[1]);
    if (names.filter((n) => n !== undefined).length !== pathParams(route.path).length) {
      throw new Error(`route path ${route.path}: a parameter must be a whole segment`);
    }
    const compiled: Compiled<T> = {
      route,
      literals: segments.map((s, i) => (names[i] === undefined ? s.toLowerCase() : undefined)),
      names,
      allowed: byTemplate.get(route.path) as string[],
    };
    const bucket = buckets.get(segments.length) ?? [];
    bucket.push(compiled);
    buckets.set(segments.length, bucket);
  }

  const fits = (c: Compiled<T>, segments: readonly string[]): boolean => {
    for (let i = 0; i < segments.length; i++) {
      const literal = c.literals[i];
      const segment = segments[i] as string;
      if (literal === undefined ? segment === '' : literal.length !== segment.length || literal !== segment.toLowerCase()) return false;
    }
    return true;
  };

  return {
    match(method, path) {
      const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
      if (!trimmed.startsWith('/')) return { kind: 'none' };
      const segments = trimmed.split('/').slice(1);
      const candidates = buckets.get(segments.length);
      if (candidates === undefined) return { kind: 'none' };
      let pathFound: Compiled<T> | undefined;
      for (const c of candidates) {
        if (!fits(c, segments)) continue;
        pathFound ??= c;
        // Decoded before the method is looked at: Express's layers did, so a bad encoding is a 400 on any method.
        const params: Record<string, string> = {};
        for (let i = 0; i < segments.length; i++) {
          const name = c.names[i];
          if (name === undefined) continue;
          try {
            params[name] = decodeURIComponent(segments[i] as string);
          } catch {
            return { kind: 'malformed' };
          }
        }
        // HEAD is refused on every GET route (issue 17, finding 9): Express would answer it with the GET handler.
        if (method === 'HEAD' && c.route.method === 'GET') return { kind: 'method', allowed: c.allowed };
        if (c.route.method !== method) continue;
        return { kind: 'route', route: c.route, params };
      }
      return pathFound ? { kind: 'method', allowed: pathFound.allowed } : { kind: 'none' };
    },
  };
}

/** Runs a matched route's handlers in order, as an Express route would: an error or a throw goes to `done`. */
export function runChain(chain: readonly RequestHandler[], req: Request, res: Response, done: NextFunction): void {
  const step =
    (i: number) =>
    (err?: unknown): void => {
      if (err === 'route') {
        done();
        return;
      }
      if (err !== undefined && err !== null) {
        done(err);
        return;
      }
      const handler = chain[i];
      if (handler === undefined) {
        done();
        return;
      }
      try {
        const r = handler(req, res, step(i + 1)) as unknown;
        // An async handler's rejection is an error too (Express 5 does the same).
        if (r instanceof Promise) r.catch(done);
      } catch (thrown) {
        done(thrown);
      }
    };
  step(0)();
}
