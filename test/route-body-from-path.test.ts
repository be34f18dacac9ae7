// platform.bodyFromPath: a gateway path parameter that the platform takes in its JSON body (the group member APIs), filled by toPlatform and checked at start.
import assert from 'node:assert/strict';
import Joi from 'joi';
import { checkRoutes } from '../src/routes/check.js';
import { toPlatform } from '../src/routes/platform-input.js';
import type { RouteSpec } from '../src/routes/types.js';

const base: RouteSpec = {
  id: 'addMembers',
  summary: 'Add members',
  family: 'test',
  method: 'POST',
  path: '/groups/{devGroupId}/members',
  platform: { method: 'POST', path: '/platform/addMembers', bodyFromPath: ['devGroupId'] },
  body: Joi.object({ deviceIds: Joi.array().items(Joi.string()).max(10).required() }),
  successStatus: 200,
};

describe('route descriptions: bodyFromPath', () => {
  it('puts the path value into the platform body, first, and leaves the query alone', () => {
    const out = toPlatform(base, 'app-a', { params: { devGroupId: 'g1' }, query: {}, body: { deviceIds: ['d1'] } });
    assert.deepEqual(out.query, {});
    assert.deepEqual(out.body, { devGroupId: 'g1', deviceIds: ['d1'] });
    assert.deepEqual(Object.keys(out.body as object), ['devGroupId', 'deviceIds']);
  });

  it('adds the app after it when the platform also takes appId in the body', () => {
    const spec = { ...base, platform: { ...base.platform, appId: 'body' as const } };
    const out = toPlatform(spec, 'app-a', { params: { devGroupId: 'g1' }, query: {}, body: { deviceIds: [] } });
    assert.deepEqual(out.body, { devGroupId: 'g1', deviceIds: [], appId: 'app-a' });
  });

  it('is accepted by the start-up check, and counts as filling the parameter', () => {
    assert.deepEqual(checkRoutes([base]), []);
    const unused = { ...base, platform: { method: 'POST' as const, path: '/platform/addMembers' } };
    assert.ok(checkRoutes([unused]).some((p) => p.includes('{devGroupId} fills nothing at the platform')));
  });

  it('refuses a name the path lacks, a route without a body, a body that declares the field, and a field filled twice', () => {
    const problems = (spec: RouteSpec) => checkRoutes([spec]).join('\n');
    assert.match(problems({ ...base, platform: { ...base.platform, bodyFromPath: ['devGroupId', 'other'] } }), /bodyFromPath names \{other\}, which the path lacks/);
    const { body: _omitted, ...noBody } = base;
    assert.match(problems(noBody), /the route takes no body/);
    assert.match(
      problems({ ...base, body: Joi.object({ devGroupId: Joi.string(), deviceIds: Joi.array() }) }),
      /the body declares devGroupId, which bodyFromPath fills from the path/,
    );
    assert.match(
      problems({ ...base, platform: { ...base.platform, queryFromPath: ['devGroupId'] } }),
      /cannot fill the platform's body and another place/,
    );
  });
});
