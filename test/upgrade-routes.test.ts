// The eight device-upgrade routes end to end: what the platform receives, what the caller gets, validation before any platform call, and platform errors normalized.
import assert from 'node:assert/strict';
import request from 'supertest';
import { validationCases, validOnes } from './validation-cases.js';
import {
  KEYS,
  LOGIN_ROUTE,
  type SimCall,
  type TestGateway,
  type TestRedis,
  type TestSimulator,
  closeAll,
  startStack,
  ROUTES,
} from './helpers/fixtures.js';
import { platformCallsSince, urlOf } from './helpers/routes.js';

const P = '/iodm/northbound/v1.5.0';
const byId = new Map(ROUTES.map((r) => [r.id, r]));

describe('device-upgrade routes', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: TestGateway;

  before(async () => {
    ({ redis, sim, gw } = await startStack({ rate: 100_000 }));
  });
  after(() => closeAll(gw, sim, redis));

  const api = () => request(gw.url);
  const key = KEYS.all;

  const platformCalls = (since: number): Promise<SimCall[]> => platformCallsSince(sim, since);

  function assertForwarded(call: SimCall | undefined, method: string, path: string) {
    assert.ok(call, 'the platform received no call');
    assert.equal(call.method, method);
    assert.equal(call.path, path);
    assert.equal(call.headers.app_key, 'app-a');
    assert.match(String(call.headers.authorization), /^Bearer \S+$/);
  }

  describe('forwarding', () => {
    it('GET /packages → GET category, with the query as given, answering the platform body', async () => {
      const since = Date.now();
      const res = await api()
        .get(`${urlOf('listPackages')}?fileType=softwarePackage&pageNo=0&pageSize=2`)
        .set('X-Api-Key', key)
        .expect(200);
      const [call] = await platformCalls(since);
      assertForwarded(call, 'GET', `${P}/category`);
      assert.deepEqual(call?.query, { fileType: 'softwarePackage', pageNo: '0', pageSize: '2' });
      assert.equal(res.body.pageSize, 2);
      assert.ok(res.body.data.length <= 2);
      assert.ok(res.body.data.every((p: { fileType: string }) => p.fileType === 'softwarePackage'));
      assert.equal(typeof res.body.totalCount, 'number');
    });

    it('GET /packages/{fileId} → GET category/{fileId}', async () => {
      const since = Date.now();
      const res = await api().get(urlOf('getPackage', { fileId: 'fw-pkg-0001' })).set('X-Api-Key', key).expect(200);
      assertForwarded((await platformCalls(since))[0], 'GET', `${P}/category/fw-pkg-0001`);
      assert.equal(res.body.fileId, 'fw-pkg-0001');
    });

    it('POST /upgrade-tasks/software → POST operations/softwareUpgrade with the body; 201 {operationId}', async () => {
      const since = Date.now();
      const body = { fileId: 'sw-pkg-0001', targets: { devices: ['dev-1', 'dev-2'] }, policy: { executeType: 'now' } };
      const res = await api().post(urlOf('createSoftwareUpgradeTask')).set('X-Api-Key', key).send(body).expect(201);
      const [call] = await platformCalls(since);
      assertForwarded(call, 'POST', `${P}/operations/softwareUpgrade`);
      assert.deepEqual(call?.body, body);
      assert.match(String(call?.headers['content-type']), /application\/json/);
      assert.deepEqual(Object.keys(res.body), ['operationId']);
    });

    it('POST /upgrade-tasks/firmware → POST operations/firmwareUpgrade; then the task, the list and the subtasks', async () => {
      const since = Date.now();
      const created = await api()
        .post(urlOf('createFirmwareUpgradeTask'))
        .set('X-Api-Key', key)
        .send({ fileId: 'fw-pkg-0001', targets: { devices: ['meter-7'] } })
        .expect(201);
      const id = created.body.operationId as string;
      const task = await api().get(urlOf('getUpgradeTask', { operationId: id })).set('X-Api-Key', key).expect(200);
      assert.equal(task.body.operationId, id);
      assert.equal(task.body.operateType, 'firmware_upgrade');
      const list = await api()
        .get(`${urlOf('listUpgradeTasks')}?operationType=firmware_upgrade&pageSize=100`)
        .set('X-Api-Key', key)
        .expect(200);
      assert.ok(list.body.data.some((t: { operationId: string }) => t.operationId === id));
      const subs = await api()
        .get(`${urlOf('listUpgradeSubtasks', { operationId: id })}?pageNo=0&pageSize=10`)
        .set('X-Api-Key', key)
        .expect(200);
      assert.equal(subs.body.data[0].deviceId, 'meter-7');
      const calls = await platformCalls(since);
      assert.deepEqual(
        calls.map((c) => `${c.method} ${c.path}`),
        [
          `POST ${P}/operations/firmwareUpgrade`,
          `GET ${P}/operations/${id}`,
          `GET ${P}/operations`,
          `GET ${P}/operations/${id}/subOperations`,
        ],
      );
      assert.deepEqual(calls[2]?.query, { operationType: 'firmware_upgrade', pageSize: '100' });
      assert.deepEqual(calls[3]?.query, { pageNo: '0', pageSize: '10' });
      for (const c of calls) assertForwarded(c, c.method, c.path);
    });

    it('DELETE /packages/{fileId} → DELETE category/{fileId}; 204 with no body', async () => {
      const since = Date.now();
      const res = await api().delete(urlOf('deletePackage', { fileId: 'sw-pkg-0002' })).set('X-Api-Key', key).expect(204);
      assert.equal(res.text, '');
      assertForwarded((await platformCalls(since))[0], 'DELETE', `${P}/category/sw-pkg-0002`);
      await api().get(urlOf('getPackage', { fileId: 'sw-pkg-0002' })).set('X-Api-Key', key).expect(404);
    });

    it('logged in once for all of the above', async () => {
      assert.equal((await sim.calls()).byRoute[LOGIN_ROUTE], 1);
    });
  });

  describe('validation before any platform call', () => {
    for (const c of validationCases.filter((x) => !x.directOnly)) {
      it(`${c.route}: ${c.name}`, async () => {
        const spec = byId.get(c.route);
        assert.ok(spec);
        const before = (await sim.calls()).total;
        let req = api()[spec.method === 'DELETE' ? 'delete' : (spec.method.toLowerCase() as 'get' | 'post')](
          urlOf(c.route, c.params),
        );
        req = req.set('X-Api-Key', key);
        if (c.query) req = req.query(c.query);
        if (spec.method === 'POST') {
          req = req.set('Content-Type', 'application/json');
          if (c.body !== undefined) req = req.send(JSON.stringify(c.body));
        }
        const res = await req;
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error.code, 'VALIDATION_FAILED');
        assert.equal(res.body.error.requestId, res.headers['x-request-id']);
        const codes = (res.body.error.details as Array<{ platformCode?: string }>)
          .map((d) => d.platformCode)
          .filter((x): x is string => x !== undefined)
          .sort();
        assert.deepEqual(codes, [...c.platformCodes].sort());
        if (c.platformCodes.length > 0) assert.ok(c.platformCodes.includes(res.body.error.platformCode));
        assert.equal((await sim.calls()).total, before, 'an invalid request reached the platform');
      });
    }

    it('lets every valid request of the table through', async () => {
      for (const v of validOnes()) {
        const spec = byId.get(v.route);
        assert.ok(spec);
        let req = api()[spec.method === 'DELETE' ? 'delete' : (spec.method.toLowerCase() as 'get' | 'post')](
          urlOf(v.route, v.params),
        );
        req = req.set('X-Api-Key', key);
        if (v.query) req = req.query(v.query);
        if (v.body !== undefined) req = req.send(v.body as object);
        const res = await req;
        assert.notEqual(res.status, 400, `${v.name}: ${JSON.stringify(res.body)}`);
      }
    });
  });

  describe('platform errors, forced through the simulator', () => {
    const cases: Array<[string, number, string, number, string, boolean]> = [
      // [errorCode, platform status, path fragment, gateway status, gateway code, retryable]
      ['123002', 404, '/category', 404, 'NOT_FOUND', false],
      ['123016', 400, '/category', 400, 'VALIDATION_FAILED', false],
      ['123029', 400, '/category', 400, 'VALIDATION_FAILED', false],
      ['120015', 400, '/category', 400, 'VALIDATION_FAILED', false],
      ['100001', 500, '/category', 502, 'UPSTREAM_ERROR', true],
      ['1010009', 403, '/category', 429, 'RATE_LIMITED', true],
    ];
    for (const [errorCode, status, path, gwStatus, gwCode, retryable] of cases) {
      it(`${errorCode} → ${gwStatus} ${gwCode}`, async () => {
        await sim.control('faults', { count: 1, path, status, errorCode, errorDesc: 'from the simulator' });
        const res = await api().get(urlOf('listPackages')).set('X-Api-Key', key);
        assert.equal(res.status, gwStatus, JSON.stringify(res.body));
        assert.equal(res.body.error.code, gwCode);
        assert.equal(res.body.error.platformCode, errorCode);
        assert.equal(res.body.error.retryable, retryable);
        assert.ok(!res.text.includes('from the simulator'), "the platform's text is not passed on verbatim");
        if (errorCode === '1010009') await redis.client.del(`${gw.gateway.config.redisKeyPrefix}hold:{app-a}`);
      });
    }

    it('1010005 → a renewed token and one retry; the caller sees success', async () => {
      // app-b: app-a is held back by the 1010009 case above (in this replica's memory too).
      const logins = (await sim.calls()).byRoute[LOGIN_ROUTE] ?? 0;
      await sim.control('revoke', { appId: 'app-b' });
      await api().get(urlOf('listPackages', {}, 'app-b')).set('X-Api-Key', key).expect(200);
      await sim.control('faults', { count: 1, path: '/category', appId: 'app-b', status: 403, errorCode: '1010005' });
      await api().get(urlOf('listPackages', {}, 'app-b')).set('X-Api-Key', key).expect(200);
      assert.ok(((await sim.calls()).byRoute[LOGIN_ROUTE] ?? 0) > logins);
    });

    it('5xx without a body and unparseable bodies → 502 UPSTREAM_ERROR, retryable', async () => {
      await sim.control('faults', { count: 3, path: '/operations/', status: 502, appId: 'app-b' });
      const res = await api().get(urlOf('getUpgradeTask', { operationId: 'op-x' }, 'app-b')).set('X-Api-Key', key);
      assert.equal(res.status, 502);
      assert.equal(res.body.error.code, 'UPSTREAM_ERROR');
      assert.equal(res.body.error.retryable, true);
      await sim.control('faults', { count: 1, path: '/softwareUpgrade', mode: 'garbage', appId: 'app-b' });
      const garbage = await api()
        .post(urlOf('createSoftwareUpgradeTask', {}, 'app-b'))
        .set('X-Api-Key', key)
        .send({ fileId: 'sw-pkg-0001', targets: { devices: ['d'] } });
      assert.equal(garbage.status, 502);
      assert.equal(garbage.body.error.code, 'UPSTREAM_ERROR');
    });
  });

  describe('/openapi.json', () => {
    it('documents all eight routes with their methods and success statuses', async () => {
      const doc = (await api().get('/openapi.json').expect(200)).body;
      assert.match(doc.openapi, /^3\.1\./);
      for (const spec of ROUTES) {
        const op = doc.paths[`/v1/apps/{appId}${spec.path}`]?.[spec.method.toLowerCase()];
        assert.ok(op, `${spec.method} ${spec.path} is not documented`);
        assert.equal(op.operationId, spec.id);
        assert.ok(op.responses[String(spec.successStatus)], `${spec.id}: no ${spec.successStatus} response`);
      }
      assert.ok(doc.components.schemas.ErrorEnvelope);
      // A create answers exactly {operationId}, and says so.
      const created = doc.paths['/v1/apps/{appId}/upgrade-tasks/software'].post.responses['201'].content['application/json'].schema;
      assert.deepEqual(created.required, ['operationId']);
      assert.equal(created.properties.operationId.type, 'string');
    });
  });
});
