// The eight group routes through the gateway against the simulator: what the platform receives, what the caller gets, validation before any platform call, errors mapped by meaning.
import assert from 'node:assert/strict';
import request from 'supertest';
import { KEYS, type SimCall, type TestGateway, type TestRedis, type TestSimulator, closeAll, startStack, ROUTES } from './helpers/fixtures.js';
import { platformCallsSince, urlOf } from './helpers/routes.js';

const GROUPS = '/iocm/app/devgroup/v1.3.0/devGroups';
const MEMBERS = '/iocm/app/dm/v1.2.0/devices/ids';
const ADD = '/iocm/app/dm/v1.1.0/devices/addDevGroupTagToDevices';
const REMOVE = '/iocm/app/dm/v1.1.0/devices/deleteDevGroupTagFromDevices';
const byId = new Map(ROUTES.map((r) => [r.id, r]));

describe('groups routes', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: TestGateway;

  before(async () => {
    ({ redis, sim, gw } = await startStack({ rate: 100_000 }));
  });
  after(() => closeAll(gw, sim, redis));

  const api = () => request(gw.url);
  const key = KEYS.all;
  const device = async (nodeId: string, appId = 'app-a'): Promise<string> =>
    ((await sim.control('devices', { appId, nodeId })) as { deviceId: string }).deviceId;
  let seq = 0;
  const freshName = () => `Grp${Date.now().toString(36)}${++seq}`;
  const createGroup = async (body: object): Promise<Record<string, any>> =>
    (await api().post(urlOf('createGroup')).set('X-Api-Key', key).send(body).expect(201)).body;

  const platformCalls = (since: number): Promise<SimCall[]> => platformCallsSince(sim, since);

  function assertForwarded(call: SimCall | undefined, method: string, path: string, query: Record<string, string> = {}): SimCall {
    assert.ok(call, 'the platform received no call');
    assert.equal(`${call.method} ${call.path}`, `${method} ${path}`);
    assert.deepEqual(call.query, query);
    assert.equal(call.headers.app_key, 'app-a');
    assert.match(String(call.headers.authorization), /^Bearer \S+$/);
    return call;
  }

  describe('forwarding and status mapping', () => {
    it('POST /groups → POST devGroups with the body as given; 201 with the platform body', async () => {
      const a = await device('fwd-create-1');
      const name = freshName();
      const since = Date.now();
      const res = await api()
        .post(urlOf('createGroup'))
        .set('X-Api-Key', key)
        .send({ name, description: '', maxDevNum: 0, deviceIds: [a] })
        .expect(201);
      const call = assertForwarded((await platformCalls(since))[0], 'POST', GROUPS);
      // No appId added: the platform acts for the token's app, which is the path's app.
      assert.deepEqual(call.body, { name, description: '', maxDevNum: 0, deviceIds: [a] });
      assert.equal(res.body.name, name);
      assert.equal(res.body.curDevNum, 1);
      assert.deepEqual(res.body.deviceIds, [a]);
      assert.equal(typeof res.body.id, 'string');
    });

    it('GET /groups → GET devGroups with the query as given; 200', async () => {
      const name = freshName();
      await createGroup({ name });
      const since = Date.now();
      const res = await api().get(urlOf('listGroups')).query({ name, pageNo: 0, pageSize: 5 }).set('X-Api-Key', key).expect(200);
      assertForwarded((await platformCalls(since))[0], 'GET', GROUPS, { name, pageNo: '0', pageSize: '5' });
      assert.equal(res.body.totalCount, 1);
      assert.equal(res.body.list[0].name, name);
    });

    it('GET, PUT and DELETE /groups/{devGroupId} → devGroups/{devGroupId}; 200, 200, 204 without a body', async () => {
      const g = await createGroup({ name: freshName() });
      const since = Date.now();
      const one = await api().get(urlOf('getGroup', { devGroupId: g.id })).set('X-Api-Key', key).expect(200);
      assert.equal(one.body.id, g.id);
      const newName = freshName();
      const changed = await api()
        .put(urlOf('modifyGroup', { devGroupId: g.id }))
        .set('X-Api-Key', key)
        .send({ name: newName, maxDevNum: 3 })
        .expect(200);
      assert.equal(changed.body.name, newName);
      assert.equal(changed.body.maxDevNum, 3);
      const gone = await api().delete(urlOf('deleteGroup', { devGroupId: g.id })).set('X-Api-Key', key).expect(204);
      assert.equal(gone.text, '');
      const calls = await platformCalls(since);
      assertForwarded(calls[0], 'GET', `${GROUPS}/${g.id}`);
      assert.deepEqual(assertForwarded(calls[1], 'PUT', `${GROUPS}/${g.id}`).body, { name: newName, maxDevNum: 3 });
      assertForwarded(calls[2], 'DELETE', `${GROUPS}/${g.id}`);
    });

    it('members: GET → devices/ids?devGroupId=…; POST → addDevGroupTagToDevices with devGroupId in the body (200); POST …/remove → deleteDevGroupTagFromDevices (204)', async () => {
      const ids = [await device('fwd-m-1'), await device('fwd-m-2')];
      const g = await createGroup({ name: freshName() });
      const since = Date.now();
      const added = await api()
        .post(urlOf('addGroupMembers', { devGroupId: g.id }))
        .set('X-Api-Key', key)
        .send({ deviceIds: ids })
        .expect(200);
      assert.deepEqual(added.body, { devGroupId: g.id, deviceIds: ids });
      const listed = await api()
        .get(urlOf('listGroupMembers', { devGroupId: g.id }))
        .query({ pageNo: 0, pageSize: 10 })
        .set('X-Api-Key', key)
        .expect(200);
      assert.deepEqual(listed.body.deviceIds, ids);
      assert.equal(listed.body.totalCount, 2);
      const removed = await api()
        .post(urlOf('removeGroupMembers', { devGroupId: g.id }))
        .set('X-Api-Key', key)
        .send({ deviceIds: [ids[0]] })
        .expect(204);
      assert.equal(removed.text, '');
      const calls = await platformCalls(since);
      assert.deepEqual(assertForwarded(calls[0], 'POST', ADD).body, { devGroupId: g.id, deviceIds: ids });
      assertForwarded(calls[1], 'GET', MEMBERS, { devGroupId: g.id, pageNo: '0', pageSize: '10' });
      assert.deepEqual(assertForwarded(calls[2], 'POST', REMOVE).body, { devGroupId: g.id, deviceIds: [ids[0]] });
      const after = await api().get(urlOf('listGroupMembers', { devGroupId: g.id })).set('X-Api-Key', key).expect(200);
      assert.deepEqual(after.body.deviceIds, [ids[1]]);
    });
  });

  describe('Idempotency-Key on POST /groups', () => {
    it('a repeat replays the 201 without a second platform call', async () => {
      const name = freshName();
      const idem = `grp-${name}`;
      const since = Date.now();
      const first = await api().post(urlOf('createGroup')).set('X-Api-Key', key).set('Idempotency-Key', idem).send({ name }).expect(201);
      const again = await api().post(urlOf('createGroup')).set('X-Api-Key', key).set('Idempotency-Key', idem).send({ name }).expect(201);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.deepEqual(again.body, first.body);
      assert.equal((await platformCalls(since)).filter((c) => c.path === GROUPS).length, 1);
      // Without the key the same body reaches the platform, which refuses the taken name.
      const third = await api().post(urlOf('createGroup')).set('X-Api-Key', key).send({ name });
      assert.equal(third.status, 409);
    });

    it('is accepted on no other group route', () => {
      for (const spec of ROUTES.filter((r) => r.family === 'groups')) assert.equal(spec.idempotencyKey === true, spec.id === 'createGroup', spec.id);
    });
  });

  describe('platform errors, by meaning', () => {
    const expectError = (res: request.Response, status: number, code: string, platformCode: string) => {
      assert.equal(res.status, status, res.text);
      assert.equal(res.body.error.code, code);
      assert.equal(res.body.error.platformCode, platformCode);
      assert.equal(res.body.error.retryable, false);
      assert.equal(res.body.error.requestId, res.headers['x-request-id']);
    };

    it('a taken name → 409 CONFLICT 100602 (the platform answers it with HTTP 200)', async () => {
      const name = freshName();
      await createGroup({ name });
      expectError(await api().post(urlOf('createGroup')).set('X-Api-Key', key).send({ name }), 409, 'CONFLICT', '100602');
      const other = await createGroup({ name: freshName() });
      expectError(
        await api().put(urlOf('modifyGroup', { devGroupId: other.id })).set('X-Api-Key', key).send({ name }),
        409,
        'CONFLICT',
        '100602',
      );
    });

    it('a full group → 409 CONFLICT 100601', async () => {
      const [a, b] = [await device('full-1'), await device('full-2')];
      const g = await createGroup({ name: freshName(), maxDevNum: 1, deviceIds: [a] });
      expectError(
        await api().post(urlOf('addGroupMembers', { devGroupId: g.id })).set('X-Api-Key', key).send({ deviceIds: [b] }),
        409,
        'CONFLICT',
        '100601',
      );
    });

    it('an unknown group → 404 NOT_FOUND 100603 on every route that names one', async () => {
      const id = 'no-such-group';
      const answers = [
        await api().get(urlOf('getGroup', { devGroupId: id })).set('X-Api-Key', key),
        await api().put(urlOf('modifyGroup', { devGroupId: id })).set('X-Api-Key', key).send({ name: 'X' }),
        await api().delete(urlOf('deleteGroup', { devGroupId: id })).set('X-Api-Key', key),
        await api().get(urlOf('listGroupMembers', { devGroupId: id })).set('X-Api-Key', key),
        await api().post(urlOf('addGroupMembers', { devGroupId: id })).set('X-Api-Key', key).send({ deviceIds: [] }),
        await api().post(urlOf('removeGroupMembers', { devGroupId: id })).set('X-Api-Key', key).send({ deviceIds: [] }),
      ];
      for (const res of answers) expectError(res, 404, 'NOT_FOUND', '100603');
    });

    it('an unknown device → 404 NOT_FOUND 100418', async () => {
      const g = await createGroup({ name: freshName() });
      expectError(
        await api().post(urlOf('addGroupMembers', { devGroupId: g.id })).set('X-Api-Key', key).send({ deviceIds: ['ghost-device'] }),
        404,
        'NOT_FOUND',
        '100418',
      );
      expectError(await api().post(urlOf('createGroup')).set('X-Api-Key', key).send({ name: freshName(), deviceIds: ['ghost'] }), 404, 'NOT_FOUND', '100418');
    });

    it("the platform's input error → 400 VALIDATION_FAILED 100022", async () => {
      await sim.control('faults', { count: 1, path: GROUPS, status: 400, errorCode: '100022', errorDesc: 'from the simulator' });
      const res = await api().get(urlOf('listGroups')).set('X-Api-Key', key);
      expectError(res, 400, 'VALIDATION_FAILED', '100022');
      assert.ok(!res.text.includes('from the simulator'), "the platform's text is not passed on");
    });
  });

  describe('validation before any platform call', () => {
    const long = (n: number, c = 'a') => c.repeat(n);
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `dev-${i}`);
    // [route, params, query, body, a field the answer names (as the gateway names them: the platform-owned ones with their place)]
    const cases: Array<[string, Record<string, string>, Record<string, unknown> | undefined, unknown, string]> = [
      ['createGroup', {}, undefined, {}, 'name'],
      ['createGroup', {}, undefined, { name: 'north-1' }, 'name'],
      ['createGroup', {}, undefined, { name: 'Nörth' }, 'name'],
      ['createGroup', {}, undefined, { name: long(51) }, 'name'],
      ['createGroup', {}, undefined, { name: 7 }, 'name'],
      ['createGroup', {}, undefined, { name: 'ok', description: long(1025) }, 'description'],
      ['createGroup', {}, undefined, { name: 'ok', maxDevNum: -1 }, 'maxDevNum'],
      ['createGroup', {}, undefined, { name: 'ok', maxDevNum: 1.5 }, 'maxDevNum'],
      ['createGroup', {}, undefined, { name: 'ok', maxDevNum: '3' }, 'maxDevNum'],
      ['createGroup', {}, undefined, { name: 'ok', maxDevNum: 2_147_483_648 }, 'maxDevNum'],
      ['createGroup', {}, undefined, { name: 'ok', deviceIds: 'dev-1' }, 'deviceIds'],
      ['createGroup', {}, undefined, { name: 'ok', deviceIds: ['dev-1', ''] }, 'deviceIds[1]'],
      ['createGroup', {}, undefined, { name: 'ok', deviceIds: [' '] }, 'deviceIds[0]'],
      ['createGroup', {}, undefined, { name: 'ok', id: '' }, 'id'],
      ['createGroup', {}, undefined, { name: 'ok', id: long(51) }, 'id'],
      ['createGroup', {}, undefined, { name: 'ok', colour: 'red' }, 'colour'],
      ['createGroup', {}, undefined, { name: 'ok', appId: 'app-a' }, 'body.appId'],
      ['createGroup', {}, undefined, [], 'body'],
      ['listGroups', {}, { pageNo: -1 }, undefined, 'pageNo'],
      ['listGroups', {}, { pageSize: 0 }, undefined, 'pageSize'],
      ['listGroups', {}, { pageNo: 'first' }, undefined, 'pageNo'],
      ['listGroups', {}, { name: long(51) }, undefined, 'name'],
      ['listGroups', {}, { pagesize: 5 }, undefined, 'pagesize'],
      ['listGroups', {}, { accessAppId: 'app-b' }, undefined, 'query.accessAppId'],
      ['getGroup', { devGroupId: 'a b' }, undefined, undefined, 'devGroupId'],
      ['getGroup', { devGroupId: 'g1' }, { accessAppId: 'app-a' }, undefined, 'query.accessAppId'],
      ['modifyGroup', { devGroupId: 'g1' }, undefined, { description: 'no name' }, 'name'],
      ['modifyGroup', { devGroupId: 'g1' }, undefined, { name: 'ok', deviceIds: [] }, 'deviceIds'],
      ['modifyGroup', { devGroupId: 'g1' }, undefined, { name: 'ok', maxDevNum: -5 }, 'maxDevNum'],
      ['modifyGroup', { devGroupId: 'g1' }, { accessAppId: 'app-a' }, { name: 'ok' }, 'query.accessAppId'],
      ['deleteGroup', { devGroupId: 'g1' }, { cascade: 'true' }, undefined, 'cascade'],
      ['deleteGroup', { devGroupId: '..' }, undefined, undefined, 'devGroupId'],
      ['listGroupMembers', { devGroupId: 'g1' }, { pageSize: 0 }, undefined, 'pageSize'],
      ['listGroupMembers', { devGroupId: 'g1' }, { devGroupId: 'g2' }, undefined, 'devGroupId'],
      ['listGroupMembers', { devGroupId: 'g1' }, { accessAppId: 'app-a' }, undefined, 'query.accessAppId'],
      ['addGroupMembers', { devGroupId: 'g1' }, undefined, {}, 'deviceIds'],
      ['addGroupMembers', { devGroupId: 'g1' }, undefined, { deviceIds: ids(1001) }, 'deviceIds'],
      ['addGroupMembers', { devGroupId: 'g1' }, undefined, { deviceIds: [42] }, 'deviceIds[0]'],
      ['addGroupMembers', { devGroupId: 'g1' }, undefined, { deviceIds: ['d'], devGroupId: 'g2' }, 'devGroupId'],
      ['addGroupMembers', { devGroupId: 'g1' }, { accessAppId: 'app-a' }, { deviceIds: ['d'] }, 'query.accessAppId'],
      ['removeGroupMembers', { devGroupId: 'g1' }, undefined, { deviceIds: ids(1001) }, 'deviceIds'],
      ['removeGroupMembers', { devGroupId: 'g1' }, undefined, { deviceIds: 'd' }, 'deviceIds'],
      ['removeGroupMembers', { devGroupId: 'g1' }, undefined, { deviceIds: ['d'], ownerFlag: 'true' }, 'body.ownerFlag'],
    ];
    for (const [route, params, query, body, field] of cases) {
      it(`${route}: ${field} ← ${String(JSON.stringify(query ?? body ?? params)).slice(0, 60)}`, async () => {
        const spec = byId.get(route);
        assert.ok(spec);
        const before = (await sim.calls()).total;
        const method = spec.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
        let req = api()[method](urlOf(route, params)).set('X-Api-Key', key);
        if (query) req = req.query(query);
        if (body !== undefined) req = req.set('Content-Type', 'application/json').send(JSON.stringify(body));
        const res = await req;
        assert.equal(res.status, 400, res.text);
        assert.equal(res.body.error.code, 'VALIDATION_FAILED');
        const fields = (res.body.error.details as Array<{ field: string; platformCode?: string }>).map((d) => d.field);
        // Fields are named without their root (query/body), as every other validation detail is.
        const name = field.replace(/^(query|body)\./, "");
        assert.ok(fields.includes(name), `${name} not in ${JSON.stringify(fields)}`);
        // The platform documents no validation code for the group APIs: none is claimed.
        assert.equal(res.body.error.platformCode, undefined);
        assert.ok(!res.text.includes('north-1') && !res.text.includes('Nörth'), 'a message never echoes the value');
        assert.equal((await sim.calls()).total, before, 'an invalid request reached the platform');
      });
    }

    it('lets the limits themselves through', async () => {
      const [a] = [await device('limit-1')];
      const name = `${long(44, 'Z')}${Date.now().toString(36).slice(-6)}`;
      assert.equal(name.length, 50);
      const g = await createGroup({ name, description: '', maxDevNum: 0, id: `id-${freshName()}` });
      await createGroup({ name: freshName(), maxDevNum: 2_147_483_647, description: long(1024, 'd') });
      await api().get(urlOf('listGroups')).query({ pageNo: 0, pageSize: 1000 }).set('X-Api-Key', key).expect(200);
      // 1,000 IDs pass validation; the platform then refuses the unknown ones.
      const res = await api().post(urlOf('addGroupMembers', { devGroupId: g.id })).set('X-Api-Key', key).send({ deviceIds: [a, ...ids(999)] });
      assert.equal(res.status, 404);
      assert.equal(res.body.error.platformCode, '100418');
      await api().post(urlOf('addGroupMembers', { devGroupId: g.id })).set('X-Api-Key', key).send({ deviceIds: [] }).expect(200);
    });
  });

  describe("the platform's appId and accessAppId", () => {
    it('are never sent: every group call the simulator received names no app but its own app_key', async () => {
      const { log } = await sim.calls();
      const groupCalls = log.filter((c) => c.path.startsWith('/iocm/app/devgroup/') || c.path.startsWith('/iocm/app/dm/'));
      assert.ok(groupCalls.length >= 10, 'the suite made group calls');
      for (const c of groupCalls) {
        assert.ok(!('appId' in c.query) && !('accessAppId' in c.query), `${c.method} ${c.path} ${JSON.stringify(c.query)}`);
        const body = c.body as Record<string, unknown> | undefined;
        assert.ok(body === undefined || typeof body !== 'object' || !('appId' in body), `${c.method} ${c.path} body has appId`);
      }
    });
  });
});
