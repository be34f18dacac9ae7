// The route table that replaced one Express layer per route (issue 15): it must answer every path exactly as Express 5's router did.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { match as expressMatch } from 'path-to-regexp';
import { compileRoutes, type RouteMatch } from '../src/routes/dispatch.js';
import { toExpressPath } from '../src/routes/types.js';
import { ROUTES } from './helpers/fixtures.js';

type R = { id: string; method: string; path: string };

/**
 * What Express 5 did with the layers the router used to register, in order: per route a HEAD layer (GET
 * routes, refused), then its method's layer; then per path template an `all` layer (405). Matching as the
 * `router` package does: case-insensitive, one trailing slash allowed, parameters percent-decoded.
 */
function expressAnswer(routes: readonly R[], method: string, path: string): RouteMatch<R> {
  const matchers = routes.map((r) => ({
    r,
    m: expressMatch(toExpressPath(r.path), { sensitive: false, end: true, trailing: true, decode: decodeURIComponent }),
  }));
  const allowed = new Map<string, string[]>();
  for (const r of routes) allowed.set(r.path, [...(allowed.get(r.path) ?? []), r.method]);
  // A parameter that cannot be decoded fails the layer's match itself, whatever the method: 400 (Express).
  const matched: Array<{ r: R; params: Record<string, string> }> = [];
  for (const { r, m } of matchers) {
    let found;
    try {
      found = m(path);
    } catch {
      return { kind: 'malformed' };
    }
    if (found) matched.push({ r, params: { ...(found.params as Record<string, string>) } });
  }
  for (const { r, params } of matched) {
    if (method === 'HEAD' && r.method === 'GET') return { kind: 'method', allowed: allowed.get(r.path) as string[] };
    if (method === r.method) return { kind: 'route', route: r, params };
  }
  const first = matched[0];
  if (first) return { kind: 'method', allowed: allowed.get(first.r.path) as string[] };
  return { kind: 'none' };
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS'];
const table = compileRoutes(ROUTES);

describe('route dispatch: one lookup instead of a layer per route', () => {
  it('finds every route of the registry by its own path, with its parameters decoded', () => {
    for (const r of ROUTES) {
      const path = r.path.replace(/\{(\w+)\}/g, (_, n: string) => encodeURIComponent(`${n} é/1`));
      const m = table.match(r.method, path);
      assert.equal(m.kind, 'route', `${r.method} ${path}`);
      if (m.kind !== 'route') continue;
      assert.equal(m.route.id, r.id);
      for (const name of Object.keys(m.params)) assert.equal(m.params[name], `${name} é/1`);
    }
  });

  it('answers another method on a known path with the path\'s methods, HEAD on a GET route included', () => {
    const list = ROUTES.find((r) => r.id === 'listPackages') as R;
    const head = table.match('HEAD', list.path);
    assert.equal(head.kind, 'method');
    if (head.kind === 'method') assert.ok(head.allowed.includes('GET'));
    assert.deepEqual(table.match('PATCH', list.path), { kind: 'method', allowed: head.kind === 'method' ? head.allowed : [] });
  });

  it('matches literals case-insensitively and ignores one trailing slash, as Express did', () => {
    assert.equal(table.match('GET', '/PACKAGES/').kind, 'route');
    assert.equal(table.match('GET', '/packages//').kind, 'none');
    assert.equal(table.match('GET', '/nothing-here').kind, 'none');
    assert.equal(table.match('GET', '').kind, 'none');
  });

  it('says a parameter that is not valid percent-encoding is malformed (Express: 400)', () => {
    const get = ROUTES.find((r) => r.id === 'getPackage') as R;
    assert.deepEqual(table.match('GET', get.path.replace('{fileId}', '%E0%A4%A')), { kind: 'malformed' });
  });

  it('refuses a template whose parameter is not a whole segment (the description check would too)', () => {
    assert.throws(() => compileRoutes([{ method: 'GET', path: '/a/x{id}' }]), /whole segment/);
  });

  it('property: for any method and any path made from the routes\' own, the same answer as Express 5\'s layers', () => {
    const segment = fc.oneof(
      fc.constantFrom(...new Set(ROUTES.flatMap((r) => r.path.split('/').filter((s) => s !== '' && !s.startsWith('{'))))),
      fc.stringMatching(/^[A-Za-z0-9._~%-]{0,12}$/),
      fc.constantFrom('%41', '%zz', '%E0%A4%A', 'UPGRADE-TASKS', 'Devices', ''),
    );
    const fromRoute = fc
      .record({ r: fc.constantFrom(...ROUTES), fill: fc.array(segment, { minLength: 4, maxLength: 4 }), upper: fc.boolean() })
      .map(({ r, fill, upper }) => {
        let i = 0;
        const p = r.path.replace(/\{\w+\}/g, () => fill[i++ % fill.length] as string);
        return upper ? p.toUpperCase() : p;
      });
    const anyPath = fc.array(segment, { minLength: 0, maxLength: 6 }).map((s) => `/${s.join('/')}`);
    fc.assert(
      fc.property(fc.constantFrom(...METHODS), fc.oneof(fromRoute, anyPath), fc.boolean(), (method, path, slash) => {
        const p = slash ? `${path}/` : path;
        const ours = table.match(method, p);
        const theirs = expressAnswer(ROUTES, method, p);
        if (ours.kind === 'route' && theirs.kind === 'route') {
          assert.equal(ours.route.id, (theirs.route as (typeof ROUTES)[number]).id, `${method} ${p}`);
          assert.deepEqual(ours.params, theirs.params, `${method} ${p}`);
        } else {
          assert.deepEqual(ours, theirs, `${method} ${p}`);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
