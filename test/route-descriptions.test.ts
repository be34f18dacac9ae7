// Route descriptions are checked at start: each kind of mistake stops the gateway with one line naming the route.
import assert from 'node:assert/strict';
import Joi from 'joi';
import { FAMILIES } from '../src/families/index.js';
import { routesOf } from '../src/families/registry.js';
import type { Family, RouteDescription } from '../src/families/types.js';
import { RouteDescriptionError } from '../src/routes/check.js';
import { withPlatformCodes } from '../src/routes/validate.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, ROUTES } from './helpers/fixtures.js';

const ok: RouteDescription = {
  id: 'getThing',
  summary: 'Get a thing',
  method: 'GET',
  path: '/things/{thingId}',
  platform: { method: 'GET', path: '/p/v1/things/{thingId}' },
  successStatus: 200,
};

const family = (routes: RouteDescription[], extra: Partial<Family> = {}): Family => ({
  name: 'things',
  description: 'Things.',
  routes,
  codes: { '900001': { meaning: 'invalid-input', message: 'Bad thing.' } },
  ...extra,
});

/** The one problem a family's routes have, as routesOf reports it. */
function problemOf(routes: RouteDescription[], extra: Partial<Family> = {}, knownCodes?: (c: string) => boolean): string {
  try {
    routesOf([family(routes, extra)], knownCodes);
  } catch (err) {
    assert.ok(err instanceof RouteDescriptionError, String(err));
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail('the description was accepted');
}

describe('route descriptions: checked at start', () => {
  it('accept every registered family, and give each route its family name', () => {
    assert.ok(ROUTES.length >= 8);
    for (const r of ROUTES) assert.ok(FAMILIES.some((f) => f.name === r.family), r.id);
    assert.doesNotThrow(() => routesOf([family([ok])]));
  });

  const cases: Array<[string, RouteDescription[], RegExp, Partial<Family>?]> = [
    ['a duplicate id', [ok, { ...ok, path: '/other/{thingId}', platform: { method: 'GET', path: '/p/v1/other/{thingId}' } }], /route getThing .*id used twice/],
    ['the same method and path twice', [ok, { ...ok, id: 'getThing2', platform: { method: 'GET', path: '/p/v1/x/{thingId}' } }], /route getThing2 .*same method and path/],
    ['a platform placeholder without a gateway parameter', [{ ...ok, platform: { method: 'GET', path: '/p/v1/things/{thingID}' } }], /route getThing .*platform placeholder \{thingID\}/],
    ['a gateway parameter that fills nothing', [{ ...ok, path: '/things/{thingId}/{extra}' }], /route getThing .*\{extra\} fills nothing/],
    ['a malformed placeholder', [{ ...ok, path: '/things/{thing-id}' }], /route getThing /],
    ['a body on a GET', [{ ...ok, body: Joi.object({}) }], /route getThing .*body is only for POST or PUT/],
    ['no platform path', [{ ...ok, platform: { method: 'GET', path: '' } }], /route getThing .*no platform path/],
    ['the same platform API twice', [ok, { ...ok, id: 'getThingAgain', path: '/thing/{thingId}' }], /route getThingAgain .*served by getThing/],
    ['an Idempotency-Key on a GET', [{ ...ok, idempotencyKey: true }], /route getThing .*Idempotency-Key is only for POST/],
    ['a queryFromPath name the path lacks', [{ ...ok, platform: { ...ok.platform, queryFromPath: ['nodeId'] } }], /route getThing .*queryFromPath names \{nodeId\}/],
    // Contract §13: only GET answers are cached, only writes make them stale.
    [
      'a cache policy on a write',
      [{ ...ok, method: 'DELETE', platform: { method: 'DELETE', path: '/p/v1/things/{thingId}' }, successStatus: 204, cache: { ttlSec: 5 } }],
      /route getThing .*cache policy is only for GET/,
    ],
    ['a negative cache TTL', [{ ...ok, cache: { ttlSec: -1 } }], /route getThing .*cache\.ttlSec must be/],
    ['invalidates on a GET', [{ ...ok, invalidates: () => ['things:list'] }], /route getThing .*invalidates is only for writes/],
    ['a query that declares the platform-owned appId', [{ ...ok, query: Joi.object({ appId: Joi.string() }) }], /route getThing .*query declares appId/],
    [
      'a Joi error type without a message',
      [{ ...ok, query: Joi.object({ n: Joi.number().greater(3) }) }],
      /route getThing .*query: Joi error type number\.greater has no message/,
    ],
    [
      'a custom rule type without its family wording',
      [{ ...ok, query: Joi.object({ n: withPlatformCodes(Joi.string(), { 'rule.odd': '900001' }) }) }],
      /Joi error type rule\.odd has no message/,
    ],
  ];
  for (const [what, routes, expected, extra] of cases) {
    it(`refuse ${what}, naming the route`, () => assert.match(problemOf(routes, extra), expected));
  }

  it("accept a custom rule's type once the family words it", () => {
    const route = { ...ok, query: Joi.object({ n: withPlatformCodes(Joi.string(), { 'rule.odd': '900001' }) }) };
    assert.doesNotThrow(() => routesOf([family([route], { messages: { 'rule.odd': 'must be odd' } })]));
  });

  it('refuse a platform code that the catalog does not know', () => {
    const route = { ...ok, platformErrorCodes: ['900002'] };
    assert.match(problemOf([route], {}, (c) => c === '900001'), /route getThing .*platform code 900002 is not in the catalog/);
  });

  it('refuse a family registered twice, or badly named', () => {
    assert.throws(() => routesOf([family([ok]), family([])]), /family things: registered twice/);
    assert.throws(() => routesOf([family([ok], { name: 'Things' })]), /family Things: name must be kebab-case/);
  });

  it("are all in the README's route tables, with the platform API each calls", () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const r of ROUTES) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${r.method} /v1/apps/{appId}${r.path}\` |`));
      assert.ok(row, `README lacks ${r.method} ${r.path}`);
      assert.ok(row.includes(`\`${r.platform.method} ${r.platform.path}\``), `${r.id}: README names another platform API`);
    }
  });
});
