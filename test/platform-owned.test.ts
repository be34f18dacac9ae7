// The platform's appId/accessAppId/ownerFlag are the gateway's to set (contract §9): refused from callers, filled in where the platform wants one.
import assert from 'node:assert/strict';
import Joi from 'joi';
import request from 'supertest';
import { toPlatform } from '../src/routes/platform-input.js';
import type { RouteSpec } from '../src/routes/types.js';
import { assertEnvelope, closeAll, KEYS, startStack, type Stack } from './helpers/fixtures.js';

const spec = (platform: Partial<RouteSpec['platform']>): RouteSpec => ({
  id: 'listThingData',
  summary: 'x',
  family: 'things',
  method: 'POST',
  path: '/things/{deviceId}/data',
  platform: { method: 'POST', path: '/p/data', ...platform },
  body: Joi.object({}),
  successStatus: 200,
});

describe('platform-owned parameters', () => {
  describe('toPlatform', () => {
    const input = { params: { deviceId: 'd-1' }, query: { pageNo: 0 }, body: { a: 1 } };

    it('puts path parameters the platform takes as query parameters into the query', () => {
      assert.deepEqual(toPlatform(spec({ queryFromPath: ['deviceId'] }), 'app-a', input).query, { pageNo: 0, deviceId: 'd-1' });
    });

    it("fills the path's app as appId in the query or in the body, where the platform wants it", () => {
      assert.deepEqual(toPlatform(spec({ appId: 'query' }), 'app-a', input), { query: { pageNo: 0, appId: 'app-a' }, body: { a: 1 } });
      assert.deepEqual(toPlatform(spec({ appId: 'body' }), 'app-a', input), { query: { pageNo: 0 }, body: { a: 1, appId: 'app-a' } });
    });

    it('sends none otherwise, and never changes the validated input it was given', () => {
      assert.deepEqual(toPlatform(spec({}), 'app-a', input), { query: { pageNo: 0 }, body: { a: 1 } });
      toPlatform(spec({ appId: 'body', queryFromPath: ['deviceId'] }), 'app-a', input);
      assert.deepEqual(input, { params: { deviceId: 'd-1' }, query: { pageNo: 0 }, body: { a: 1 } });
    });
  });

  describe('through the gateway', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ rate: 100_000 });
    });
    after(() => closeAll(stack.gw, stack.sim, stack.redis));

    const cases: Array<[string, string, object | undefined]> = [
      ['appId in the query', '/v1/apps/app-a/packages?appId=app-b', undefined],
      ['accessAppId in the query', '/v1/apps/app-a/upgrade-tasks?accessAppId=app-b', undefined],
      ['ownerFlag in the query', '/v1/apps/app-a/upgrade-tasks?ownerFlag=1', undefined],
      [
        'appId in a body',
        '/v1/apps/app-a/upgrade-tasks/software',
        { appId: 'app-b', fileId: 'sw-pkg-0001', targets: { devices: ['d1'] }, policy: { executeType: 'now' } },
      ],
    ];
    for (const [what, url, body] of cases) {
      it(`refuses ${what} with 400, and nothing reaches the platform`, async () => {
        const before = (await stack.sim.calls()).total;
        const req = body === undefined ? request(stack.gw.url).get(url) : request(stack.gw.url).post(url).send(body);
        const res = await req.set('X-Api-Key', KEYS.all);
        const err = assertEnvelope(res, 400, 'VALIDATION_FAILED');
        const field = /[?&](\w+)=/.exec(url)?.[1] ?? 'appId';
        assert.ok(err.details.some((d: { field: string; message: string }) => d.field === field && /set by the gateway/.test(d.message)));
        assert.equal((await stack.sim.calls()).total, before);
      });
    }
  });
});
