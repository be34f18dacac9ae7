// The six devices routes end to end against the simulator: what the platform receives, the statuses, validation before any platform call, errors mapped by meaning, Idempotency-Key, and the platform-owned appId.
import assert from 'node:assert/strict';
import request from 'supertest';
import {
  assertEnvelope,
  closeAll,
  KEYS,
  ROUTES,
  startStack,
  type SimCall,
  type TestGateway,
  type TestRedis,
  type TestSimulator,
} from './helpers/fixtures.js';
import { platformCallsSince, urlOf } from './helpers/routes.js';

const REG = '/iocm/app/reg/v1.1.0';
const DM = '/iocm/app/dm/v1.4.0';
const byId = new Map(ROUTES.map((r) => [r.id, r]));

interface Case {
  name: string;
  route: string;
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  /** Every platformCode expected in `details`, order-insensitive. */
  codes: string[];
}

const ID = { deviceId: 'dev-1' };
const reg = (fields: Record<string, unknown>): Case['body'] => ({ nodeId: 'node-1', ...fields });

/** Requests the gateway must refuse before any platform call, with the platform's codes where it documents one. */
const INVALID: Case[] = [
  // register (§5.1): 50400 generic, 100003 for verifyCode, 100007 for a body that is no request at all
  { name: 'no nodeId', route: 'registerDevice', body: { verifyCode: 'v' }, codes: ['50400'] },
  { name: 'an empty body', route: 'registerDevice', body: {}, codes: ['50400'] },
  { name: 'a body that is an array', route: 'registerDevice', body: [{ nodeId: 'n' }], codes: ['100007'] },
  { name: 'a nodeId of 257 characters', route: 'registerDevice', body: reg({ nodeId: 'n'.repeat(257) }), codes: ['50400'] },
  { name: 'a blank nodeId', route: 'registerDevice', body: reg({ nodeId: '   ' }), codes: ['50400'] },
  { name: 'a verifyCode that is a number', route: 'registerDevice', body: reg({ verifyCode: 12 }), codes: ['100003'] },
  { name: 'a verifyCode of 257 characters', route: 'registerDevice', body: reg({ verifyCode: 'v'.repeat(257) }), codes: ['100003'] },
  { name: 'a psk of 7 hex characters', route: 'registerDevice', body: reg({ psk: 'abcdef1' }), codes: ['50400'] },
  { name: 'a psk of 33 hex characters', route: 'registerDevice', body: reg({ psk: 'a'.repeat(33) }), codes: ['50400'] },
  { name: 'a psk that is not hex', route: 'registerDevice', body: reg({ psk: 'not-hex-at-all' }), codes: ['50400'] },
  { name: 'a negative timeout', route: 'registerDevice', body: reg({ timeout: -1 }), codes: ['50400'] },
  { name: 'a timeout over INT_MAX', route: 'registerDevice', body: reg({ timeout: 2_147_483_648 }), codes: ['50400'] },
  { name: 'a timeout that is text', route: 'registerDevice', body: reg({ timeout: '10' }), codes: ['50400'] },
  { name: 'an imsi of 65 characters', route: 'registerDevice', body: reg({ imsi: '1'.repeat(65) }), codes: ['50400'] },
  { name: 'isSecure as text', route: 'registerDevice', body: reg({ isSecure: 'true' }), codes: ['50400'] },
  { name: 'an unknown field', route: 'registerDevice', body: reg({ nodeID: 'typo' }), codes: [] },
  { name: 'an unknown deviceInfo field', route: 'registerDevice', body: reg({ deviceInfo: { deviceType: 'W', colour: 'red' } }), codes: [] },
  { name: 'a deviceInfo value that is a number', route: 'registerDevice', body: reg({ deviceInfo: { model: 100 } }), codes: ['50400'] },
  {
    name: 'several problems at once',
    route: 'registerDevice',
    body: { verifyCode: 5, psk: 'zz', timeout: -3 },
    codes: ['50400', '100003', '50400', '50400'],
  },
  // modify (§5.3): no error table documented, so no codes
  { name: 'modify: an unknown field', route: 'modifyDevice', params: ID, body: { nmae: 'x' }, codes: [] },
  { name: 'modify: mute other than TRUE/FALSE', route: 'modifyDevice', params: ID, body: { mute: 'yes' }, codes: [] },
  { name: 'modify: a bad psk', route: 'modifyDevice', params: ID, body: { psk: 'xyz' }, codes: [] },
  { name: 'modify: a name of 257 characters', route: 'modifyDevice', params: ID, body: { name: 'n'.repeat(257) }, codes: [] },
  { name: 'modify: an unknown deviceConfig field', route: 'modifyDevice', params: ID, body: { deviceConfig: { dataConfig: { ttl: 3 } } }, codes: [] },
  { name: 'modify: a negative dataAgingTime', route: 'modifyDevice', params: ID, body: { deviceConfig: { dataConfig: { dataAgingTime: -1 } } }, codes: [] },
  { name: 'modify: an unknown customFields field', route: 'modifyDevice', params: ID, body: { customFields: [{ fieldName: 'a', extra: 1 }] }, codes: [] },
  { name: 'modify: a tagType that is an object', route: 'modifyDevice', params: ID, body: { tags: [{ tagName: 't', tagType: {} }] }, codes: [] },
  { name: 'modify: 1001 tags', route: 'modifyDevice', params: ID, body: { tags: Array.from({ length: 1001 }, () => ({ tagName: 't' })) }, codes: [] },
  // delete (§5.4)
  { name: 'delete: cascade not a boolean', route: 'deleteDevice', params: ID, query: { cascade: 'maybe' }, codes: [] },
  { name: 'delete: an unknown query key', route: 'deleteDevice', params: ID, query: { force: 'true' }, codes: [] },
  // query one (§5.5): 100405
  { name: 'get: select other than imsi', route: 'getDevice', params: ID, query: { select: 'all' }, codes: ['100405'] },
  { name: 'get: an unknown query key', route: 'getDevice', params: ID, query: { fields: 'x' }, codes: [] },
  { name: 'activation: any query key', route: 'getDeviceActivation', params: ID, query: { verbose: '1' }, codes: [] },
  // path parameters
  { name: 'get: a traversal as deviceId', route: 'getDevice', params: { deviceId: '..' }, codes: [] },
  { name: 'get: a deviceId of 129 characters', route: 'getDevice', params: { deviceId: 'd'.repeat(129) }, codes: [] },
  { name: 'activation: unicode in deviceId', route: 'getDeviceActivation', params: { deviceId: 'dév' }, codes: [] },
  // the list (§5.6): 100216, 100218, 100405
  { name: 'list: neither gatewayId nor pageNo', route: 'listDevices', query: {}, codes: ['100218'] },
  { name: 'list: pageSize 0', route: 'listDevices', query: { pageNo: '0', pageSize: '0' }, codes: ['100216'] },
  { name: 'list: pageSize 251', route: 'listDevices', query: { pageNo: '0', pageSize: '251' }, codes: ['100216'] },
  { name: 'list: a negative pageNo', route: 'listDevices', query: { pageNo: '-1' }, codes: ['100216'] },
  { name: 'list: pageNo not a number', route: 'listDevices', query: { pageNo: 'one' }, codes: ['100216'] },
  { name: 'list: an unknown status', route: 'listDevices', query: { pageNo: '0', status: 'online' }, codes: ['100216'] },
  { name: 'list: an unknown sort', route: 'listDevices', query: { pageNo: '0', sort: 'asc' }, codes: ['100216'] },
  { name: 'list: an unknown nodeType', route: 'listDevices', query: { pageNo: '0', nodeType: 'UNKNOWN' }, codes: ['100216'] },
  { name: 'list: select other than imsi', route: 'listDevices', query: { pageNo: '0', select: 'x' }, codes: ['100405'] },
  { name: 'list: a malformed startTime', route: 'listDevices', query: { pageNo: '0', startTime: '2024-01-01T00:00:00Z' }, codes: ['100216'] },
  { name: 'list: 30 February', route: 'listDevices', query: { pageNo: '0', endTime: '20240230T000000Z' }, codes: ['100216'] },
  {
    name: 'list: a start after the end',
    route: 'listDevices',
    query: { pageNo: '0', startTime: '20240102T000000Z', endTime: '20240101T000000Z' },
    codes: ['100216'],
  },
  { name: 'list: a misspelt key', route: 'listDevices', query: { pageNo: '0', pagesize: '10' }, codes: [] },
];

/** Requests that must pass validation (they may still be refused by the platform, never with 400 by the gateway's rules). */
const VALID: Case[] = [
  { name: 'register, everything', route: 'registerDevice', codes: [], body: {
    nodeId: 'valid-all', verifyCode: 'valid-all-vc', timeout: 0, psk: 'ABCDEF0123456789abcdef0123456789', endUserId: 'u', imsi: '4600',
    isSecure: true, productId: 'p1', deviceInfo: { manufacturerId: 'Water', manufacturerName: 'Water', deviceType: 'WaterMeter', model: 'demo', protocolType: 'CoAP' },
  } },
  { name: 'list by gatewayId only', route: 'listDevices', query: { gatewayId: 'gw-1' }, codes: [] },
  { name: 'list, a window of one instant', route: 'listDevices', query: { pageNo: '0', startTime: '20240101T000000Z', endTime: '20240101T000000Z' }, codes: [] },
  { name: 'list, every filter', route: 'listDevices', codes: [], query: {
    pageNo: '0', pageSize: '250', status: 'ONLINE', sort: 'ASC', nodeType: 'ENDPOINT', deviceType: 'W', location: 'l', name: 'n', select: 'imsi',
  } },
];

describe('devices routes', () => {
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

  function assertForwarded(call: SimCall | undefined, method: string, path: string): SimCall {
    assert.ok(call, 'the platform received no call');
    assert.equal(`${call.method} ${call.path}`, `${method} ${path}`);
    assert.equal(call.headers.app_key, 'app-a');
    assert.match(String(call.headers.authorization), /^Bearer \S+$/);
    // The gateway acts with the path app's own token and names no authorising app (see routes.ts).
    assert.equal(call.query.appId, undefined);
    return call;
  }

  let nodeSeq = 0;
  const nextNode = () => `node-${Date.now()}-${nodeSeq++}`;
  async function register(body: Record<string, unknown> = {}, app = 'app-a'): Promise<{ deviceId: string; psk: string }> {
    const res = await api().post(urlOf('registerDevice', {}, app)).set('X-Api-Key', key).send({ nodeId: nextNode(), ...body });
    assert.equal(res.status, 201, res.text);
    return res.body;
  }

  describe('forwarding and statuses', () => {
    it('POST /devices → POST reg deviceCredentials with the body; 201 with the platform body', async () => {
      const since = Date.now();
      const body = { nodeId: nextNode(), verifyCode: `vc-${nodeSeq}`, psk: '00112233aabbccdd', timeout: 0, deviceInfo: { deviceType: 'WaterMeter' } };
      const res = await api().post(urlOf('registerDevice')).set('X-Api-Key', key).send(body).expect(201);
      const call = assertForwarded((await platformCalls(since))[0], 'POST', `${REG}/deviceCredentials`);
      assert.deepEqual(call.body, body);
      assert.deepEqual(Object.keys(res.body).sort(), ['deviceId', 'psk', 'timeout', 'verifyCode']);
      assert.equal(res.body.psk, '00112233aabbccdd', "the caller gets the device's key it registered");
    });

    it('GET /devices/{deviceId}/activation → GET reg deviceCredentials/{deviceId}; 200', async () => {
      const { deviceId } = await register();
      const since = Date.now();
      const res = await api().get(urlOf('getDeviceActivation', { deviceId })).set('X-Api-Key', key).expect(200);
      assertForwarded((await platformCalls(since))[0], 'GET', `${REG}/deviceCredentials/${deviceId}`);
      assert.deepEqual(res.body, { deviceId, activated: false, name: null });
    });

    it('PUT /devices/{deviceId} → PUT dm devices/{deviceId} with the body; 204 without a body', async () => {
      const { deviceId } = await register();
      const since = Date.now();
      const body = { name: 'kitchen meter', mute: 'FALSE', deviceConfig: { dataConfig: { dataAgingTime: 30 } }, tags: [{ tagName: 'floor', tagValue: '2', tagType: 1 }] };
      const res = await api().put(urlOf('modifyDevice', { deviceId })).set('X-Api-Key', key).send(body).expect(204);
      assert.equal(res.text, '');
      assert.deepEqual(assertForwarded((await platformCalls(since))[0], 'PUT', `${DM}/devices/${deviceId}`).body, body);
      const got = await api().get(urlOf('getDevice', { deviceId })).set('X-Api-Key', key).expect(200);
      assert.equal(got.body.deviceInfo.name, 'kitchen meter');
    });

    it('GET /devices/{deviceId} → GET dm devices/{deviceId} with the query; 200 the device', async () => {
      const { deviceId } = await register({ imsi: '460011' });
      const since = Date.now();
      const res = await api().get(`${urlOf('getDevice', { deviceId })}?select=imsi`).set('X-Api-Key', key).expect(200);
      assert.deepEqual(assertForwarded((await platformCalls(since))[0], 'GET', `${DM}/devices/${deviceId}`).query, { select: 'imsi' });
      assert.equal(res.body.deviceId, deviceId);
      assert.equal(res.body.imsi, '460011');
    });

    it('GET /devices → GET dm devices with the query; 200 {totalCount, pageNo, pageSize, devices}', async () => {
      const { deviceId } = await register({ deviceInfo: { deviceType: 'ListMe' } });
      const since = Date.now();
      const res = await api().get(`${urlOf('listDevices')}?pageNo=0&pageSize=10&deviceType=ListMe`).set('X-Api-Key', key).expect(200);
      assert.deepEqual(assertForwarded((await platformCalls(since))[0], 'GET', `${DM}/devices`).query, { pageNo: '0', pageSize: '10', deviceType: 'ListMe' });
      assert.deepEqual([res.body.totalCount, res.body.pageNo, res.body.pageSize], [1, 0, 10]);
      assert.equal(res.body.devices[0].deviceId, deviceId);
    });

    it('DELETE /devices/{deviceId} → DELETE dm devices/{deviceId} with cascade; 204, then 404', async () => {
      const { deviceId } = await register();
      const since = Date.now();
      const res = await api().delete(`${urlOf('deleteDevice', { deviceId })}?cascade=true`).set('X-Api-Key', key).expect(204);
      assert.equal(res.text, '');
      assert.deepEqual(assertForwarded((await platformCalls(since))[0], 'DELETE', `${DM}/devices/${deviceId}`).query, { cascade: 'true' });
      const gone = await api().get(urlOf('getDevice', { deviceId })).set('X-Api-Key', key);
      assert.equal(assertEnvelope(gone, 404, 'NOT_FOUND').platformCode, '100403');
    });
  });

  describe('platform errors mapped by meaning', () => {
    it('a duplicate nodeId → 409 CONFLICT with platformCode 100426', async () => {
      const nodeId = nextNode();
      await register({ nodeId });
      const res = await api().post(urlOf('registerDevice')).set('X-Api-Key', key).send({ nodeId });
      const e = assertEnvelope(res, 409, 'CONFLICT');
      assert.equal(e.platformCode, '100426');
      assert.equal(e.retryable, false);
    });

    it('a verifyCode in use → 409 CONFLICT with platformCode 100416', async () => {
      const verifyCode = `vc-${nextNode()}`;
      await register({ verifyCode });
      const res = await api().post(urlOf('registerDevice')).set('X-Api-Key', key).send({ nodeId: nextNode(), verifyCode });
      assert.equal(assertEnvelope(res, 409, 'CONFLICT').platformCode, '100416');
    });

    it("an unknown device → 404 100403; another app's device → 404 100418, on every device route", async () => {
      const { deviceId: theirs } = await register({}, 'app-b');
      const calls: Array<[string, (url: string) => request.Test]> = [
        ['getDevice', (u) => api().get(u)],
        ['getDeviceActivation', (u) => api().get(u)],
        ['modifyDevice', (u) => api().put(u).send({ name: 'x' })],
        ['deleteDevice', (u) => api().delete(u)],
      ];
      for (const [route, send] of calls) {
        const unknown = await send(urlOf(route, { deviceId: 'no-such-device' })).set('X-Api-Key', key);
        assert.equal(assertEnvelope(unknown, 404, 'NOT_FOUND').platformCode, '100403', route);
        const foreign = await send(urlOf(route, { deviceId: theirs })).set('X-Api-Key', key);
        assert.equal(assertEnvelope(foreign, 404, 'NOT_FOUND').platformCode, '100418', route);
      }
    });

    const forced: Array<[string, number, number, string]> = [
      // [platform code, platform status, gateway status, gateway code]
      ['50400', 400, 400, 'VALIDATION_FAILED'],
      ['100007', 400, 400, 'VALIDATION_FAILED'],
      ['100003', 400, 400, 'VALIDATION_FAILED'],
      ['100416', 400, 409, 'CONFLICT'],
      ['100426', 400, 409, 'CONFLICT'],
      ['100403', 404, 404, 'NOT_FOUND'],
      ['100418', 200, 404, 'NOT_FOUND'],
    ];
    for (const [code, status, gwStatus, gwCode] of forced) {
      it(`${code} from the platform (HTTP ${status}) → ${gwStatus} ${gwCode} with platformCode`, async () => {
        await sim.control('faults', { count: 1, path: '/deviceCredentials', appId: 'app-b', status, errorCode: code, errorDesc: 'from the simulator' });
        const res = await api().post(urlOf('registerDevice', {}, 'app-b')).set('X-Api-Key', key).send({ nodeId: nextNode() });
        const e = assertEnvelope(res, gwStatus, gwCode);
        assert.equal(e.platformCode, code);
        assert.ok(!res.text.includes('from the simulator'), "the platform's text is not passed on");
      });
    }
  });

  describe('Idempotency-Key on register', () => {
    it('a repeat with the same key and body replays the 201 without a second platform call; another body gets 422', async () => {
      const body = { nodeId: nextNode() };
      const idem = `reg-${nodeSeq}`;
      const since = Date.now();
      const first = await api().post(urlOf('registerDevice')).set('X-Api-Key', key).set('Idempotency-Key', idem).send(body).expect(201);
      const again = await api().post(urlOf('registerDevice')).set('X-Api-Key', key).set('Idempotency-Key', idem).send(body).expect(201);
      assert.deepEqual(again.body, first.body);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.equal((await platformCalls(since)).length, 1);
      const other = await api().post(urlOf('registerDevice')).set('X-Api-Key', key).set('Idempotency-Key', idem).send({ nodeId: nextNode() });
      assertEnvelope(other, 422, 'IDEMPOTENCY_KEY_REUSED');
      assert.equal((await platformCalls(since)).length, 1);
    });
  });

  describe('validation before any platform call', () => {
    const send = (c: Case) => {
      const spec = byId.get(c.route);
      assert.ok(spec);
      const method = spec.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
      let req = api()[method](urlOf(c.route, c.params)).set('X-Api-Key', key);
      if (c.query) req = req.query(c.query);
      if (c.body !== undefined) req = req.set('Content-Type', 'application/json').send(JSON.stringify(c.body));
      return req;
    };

    for (const c of INVALID) {
      it(`${c.route}: refuses ${c.name}`, async () => {
        const before = (await sim.calls()).total;
        const res = await send(c);
        const e = assertEnvelope(res, 400, 'VALIDATION_FAILED');
        const codes = (e.details as Array<{ platformCode?: string }>).flatMap((d) => (d.platformCode === undefined ? [] : [d.platformCode]));
        assert.deepEqual(codes.sort(), [...c.codes].sort(), JSON.stringify(e.details));
        if (c.codes.length > 0) assert.equal(e.platformCode, (e.details as Array<{ platformCode?: string }>)[0]?.platformCode);
        for (const code of codes) assert.ok(byId.get(c.route)?.platformErrorCodes?.includes(code), `${code} not declared by ${c.route}`);
        assert.equal((await sim.calls()).total, before, 'an invalid request reached the platform');
      });
    }

    it('lets every valid request of the table through', async () => {
      for (const c of VALID) {
        const res = await send(c);
        assert.ok(res.status < 400, `${c.name}: ${res.status} ${res.text}`);
      }
    });

    it("never echoes a refused psk, nor logs a registered one", async () => {
      const secret = 'c0ffee00c0ffee00c0ffee00c0ffee00c';
      const refused = await send({ name: 'psk', route: 'registerDevice', body: reg({ psk: secret }), codes: [] });
      assertEnvelope(refused, 400, 'VALIDATION_FAILED');
      assert.ok(!refused.text.includes(secret));
      const { psk } = await register({ psk: 'ab12cd34ef56ab12' });
      const generated = await register();
      for (const p of [psk, generated.psk, secret]) assert.ok(!gw.logs.join('').includes(p), 'a psk was logged');
    });
  });

  describe('the platform-owned appId', () => {
    const cases: Array<[string, (t: ReturnType<typeof api>) => request.Test]> = [
      ['?appId on the list', (a) => a.get(`${urlOf('listDevices')}?pageNo=0&appId=app-b`)],
      ['?accessAppId on query one', (a) => a.get(`${urlOf('getDevice', ID)}?accessAppId=app-b`)],
      ['?ownerFlag on delete', (a) => a.delete(`${urlOf('deleteDevice', ID)}?ownerFlag=true`)],
      ['?appId on activation', (a) => a.get(`${urlOf('getDeviceActivation', ID)}?appId=app-a`)],
      ['appId in the register body', (a) => a.post(urlOf('registerDevice')).send({ nodeId: 'n', appId: 'app-b' })],
      ['appId in the modify body', (a) => a.put(urlOf('modifyDevice', ID)).send({ appId: 'app-b' })],
    ];
    for (const [name, send] of cases) {
      it(`refuses ${name} with 400, nothing sent`, async () => {
        const before = (await sim.calls()).total;
        const res = await send(api()).set('X-Api-Key', key);
        const e = assertEnvelope(res, 400, 'VALIDATION_FAILED');
        assert.ok((e.details as Array<{ field: string }>).some((d) => /(^|\.)(appId|accessAppId|ownerFlag)$/.test(d.field)));
        assert.equal((await sim.calls()).total, before);
      });
    }

    it('no call of this suite reached the platform with an appId other than its own app', async () => {
      const { log } = await sim.calls();
      const foreign = log.filter((c) => c.query.appId !== undefined && c.query.appId !== c.appId);
      assert.deepEqual(foreign, []);
    });
  });

  describe('/openapi.json', () => {
    it('documents the six routes with x-platform-api and their success statuses', async () => {
      const doc = (await api().get('/openapi.json').expect(200)).body;
      const expected: Array<[string, string, string, string, number]> = [
        ['post', '/devices', 'POST', `${REG}/deviceCredentials`, 201],
        ['get', '/devices/{deviceId}/activation', 'GET', `${REG}/deviceCredentials/{deviceId}`, 200],
        ['put', '/devices/{deviceId}', 'PUT', `${DM}/devices/{deviceId}`, 204],
        ['delete', '/devices/{deviceId}', 'DELETE', `${DM}/devices/{deviceId}`, 204],
        ['get', '/devices/{deviceId}', 'GET', `${DM}/devices/{deviceId}`, 200],
        ['get', '/devices', 'GET', `${DM}/devices`, 200],
      ];
      for (const [method, path, pMethod, pPath, status] of expected) {
        const op = doc.paths[`/v1/apps/{appId}${path}`]?.[method];
        assert.ok(op, `${method} ${path} is not documented`);
        assert.deepEqual(op['x-platform-api'], { method: pMethod, path: pPath });
        assert.ok(op.responses[String(status)], `${method} ${path}: no ${status}`);
      }
    });
  });
});
