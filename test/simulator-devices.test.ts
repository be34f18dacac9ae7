// The simulator's devices family over real HTTP: register, activation status, modify, delete, query one, the list, legacy paths, pushes and the device control endpoints.
import { strict as assert } from 'node:assert';
import request from 'supertest';
import type { Test } from 'supertest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { login, LOGIN_PATH } from '../src/simulator/auth.js';
import { controlRouter } from '../src/simulator/control.js';
import { dataSimulator } from '../src/simulator/families/data/router.js';
import { deviceSimulator } from '../src/simulator/families/devices/router.js';
import { Lifecycle, platformGate } from '../src/simulator/gate.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/server.js';
import { SimulatorState } from '../src/simulator/state.js';

const LOGIN = '/iocm/app/sec/v1.1.0/login';
const REG = '/iocm/app/reg/v1.1.0/deviceCredentials';
const DM = '/iocm/app/dm/v1.4.0/devices';

describe('simulator: devices', () => {
  let sim: RunningSimulator;
  const tokens = new Map<string, string>();
  const api = () => request(sim.url);

  before(async () => {
    sim = await startSimulator({ quiet: true, ratePerMinute: 100_000 });
  });
  after(() => sim.close());
  beforeEach(async () => {
    await api().post('/__control/reset').expect(200);
    tokens.clear();
    for (const [appId, secret] of [['demo-app', 'demo-secret'], ['demo-app-2', 'demo-secret-2']] as const) {
      const res = await api().post(LOGIN).type('form').send({ appId, secret }).expect(200);
      tokens.set(appId, res.body.accessToken as string);
    }
  });

  const as = (t: Test, appId = 'demo-app'): Test => t.set('app_key', appId).set('Authorization', `Bearer ${tokens.get(appId)}`);
  const expectError = (res: request.Response, status: number, code: string): void => {
    assert.equal(res.status, status, res.text);
    assert.equal(res.body.error_code, code, res.text);
    assert.equal(typeof res.body.error_desc, 'string');
  };
  async function register(body: object, appId = 'demo-app'): Promise<{ deviceId: string; verifyCode: string; timeout: number; psk: string }> {
    const res = await as(api().post(REG), appId).send(body).expect(200);
    return res.body;
  }

  describe('register (verification-code mode)', () => {
    it('answers 200 {deviceId, verifyCode, timeout, psk}, generating psk and defaulting verifyCode to nodeId', async () => {
      const res = await as(api().post(REG)).send({ nodeId: 'IMEI-0001' }).expect(200);
      assert.deepEqual(Object.keys(res.body).sort(), ['deviceId', 'psk', 'timeout', 'verifyCode']);
      assert.equal(res.body.verifyCode, 'IMEI-0001');
      assert.equal(res.body.timeout, 0);
      assert.match(res.body.psk, /^[0-9a-f]{32}$/);
      const given = await register({ nodeId: 'IMEI-0002', verifyCode: 'VC-2', psk: 'ABCDEF0123', timeout: 300 });
      assert.deepEqual([given.verifyCode, given.psk, given.timeout], ['VC-2', 'ABCDEF0123', 300]);
    });

    it('refuses a duplicate nodeId with 400 100426 and a taken verifyCode with 400 100416', async () => {
      await register({ nodeId: 'IMEI-1', verifyCode: 'VC-1' });
      expectError(await as(api().post(REG)).send({ nodeId: 'IMEI-1', verifyCode: 'VC-other' }), 400, '100426');
      expectError(await as(api().post(REG)).send({ nodeId: 'IMEI-2', verifyCode: 'VC-1' }), 400, '100416');
      // nodeIds are unique per app: another app may use the same one.
      await register({ nodeId: 'IMEI-1' }, 'demo-app-2');
    });

    const invalid: Array<[string, unknown, number, string]> = [
      ['a body that is not an object', [1, 2], 400, '100007'],
      ['no nodeId', { verifyCode: 'x' }, 400, '50400'],
      ['a nodeId of 257 characters', { nodeId: 'n'.repeat(257) }, 400, '50400'],
      ['a verifyCode that is not a string', { nodeId: 'n1', verifyCode: 7 }, 400, '100003'],
      ['a psk of 7 hex characters', { nodeId: 'n1', psk: 'abcdef0' }, 400, '50400'],
      ['a psk of 33 hex characters', { nodeId: 'n1', psk: 'a'.repeat(33) }, 400, '50400'],
      ['a psk that is not hex', { nodeId: 'n1', psk: 'xyzxyzxyz' }, 400, '50400'],
      ['a negative timeout', { nodeId: 'n1', timeout: -1 }, 400, '50400'],
      ['a timeout over INT_MAX', { nodeId: 'n1', timeout: 2_147_483_648 }, 400, '50400'],
      ['an imsi of 65 characters', { nodeId: 'n1', imsi: '1'.repeat(65) }, 400, '50400'],
      ['isSecure not a boolean', { nodeId: 'n1', isSecure: 'yes' }, 400, '50400'],
      ['deviceInfo not an object', { nodeId: 'n1', deviceInfo: 'WaterMeter' }, 400, '50400'],
    ];
    for (const [name, body, status, code] of invalid) {
      it(`refuses ${name} with ${status} ${code}`, async () => {
        expectError(await as(api().post(REG)).set('content-type', 'application/json').send(JSON.stringify(body)), status, code);
      });
    }

    it('accepts the legacy registration paths', async () => {
      for (const [i, path] of ['/iocm/app/reg/v1.1.0/devices', '/iocm/app/reg/v1.2.0/devices'].entries()) {
        const res = await as(api().post(path)).send({ nodeId: `legacy-${i}` }).expect(200);
        assert.ok(res.body.deviceId);
      }
    });

    it('refuses a foreign or unknown appId query with 403 100217 / 100203, and accepts its own', async () => {
      expectError(await as(api().post(`${REG}?appId=demo-app-2`)).send({ nodeId: 'a1' }), 403, '100217');
      expectError(await as(api().post(`${REG}?appId=nobody`)).send({ nodeId: 'a1' }), 403, '100203');
      await as(api().post(`${REG}?appId=demo-app`)).send({ nodeId: 'a1' }).expect(200);
    });

    it('needs a valid token (and only on its own paths)', async () => {
      expectError(await api().post(REG).set('app_key', 'demo-app').set('Authorization', 'Bearer nope').send({ nodeId: 'x' }), 403, '1010005');
      // An unknown path is still the platform's 404, not this family's 403.
      expectError(await api().get('/iocm/app/nothing/here'), 404, '100022');
    });
  });

  describe('activation status', () => {
    it('is false until the device first comes online, on the current and the legacy path', async () => {
      const { deviceId } = await register({ nodeId: 'act-1', deviceInfo: { name: 'meter one' } });
      const before = await as(api().get(`${REG}/${deviceId}`)).expect(200);
      assert.deepEqual(before.body, { deviceId, activated: false, name: 'meter one' });
      await api().post(`/__control/devices/${deviceId}/status`).send({ status: 'ONLINE' }).expect(204);
      await api().post(`/__control/devices/${deviceId}/status`).send({ status: 'OFFLINE' }).expect(204);
      const after = await as(api().get(`/iocm/app/reg/v1.1.0/devices/${deviceId}`)).expect(200);
      assert.equal(after.body.activated, true);
    });

    it("answers 404 100403 for an unknown device and 404 100418 for another app's", async () => {
      expectError(await as(api().get(`${REG}/no-such-device`)), 404, '100403');
      const { deviceId } = await register({ nodeId: 'other-app' }, 'demo-app-2');
      expectError(await as(api().get(`${REG}/${deviceId}`)), 404, '100418');
    });
  });

  describe('query one, modify, delete', () => {
    it('shows the registered device with the documented fields, never its psk or verifyCode', async () => {
      const { deviceId } = await register({
        nodeId: 'one-1',
        psk: '0123456789abcdef',
        imsi: '460001234567890',
        deviceInfo: { manufacturerName: 'HydroTech', deviceType: 'WaterMeter', model: 'WM100', protocolType: 'CoAP' },
      });
      const res = await as(api().get(`${DM}/${deviceId}`)).expect(200);
      const d = res.body;
      assert.equal(d.deviceId, deviceId);
      assert.equal(d.gatewayId, deviceId);
      assert.equal(d.nodeType, 'ENDPOINT');
      assert.match(d.createTime, /^\d{8}T\d{6}Z$/);
      assert.equal(d.creationTime, d.createTime);
      assert.match(d.lastModifiedTime, /^\d{8}T\d{6}Z$/);
      assert.equal(d.deviceInfo.nodeId, 'one-1');
      assert.equal(d.deviceInfo.deviceType, 'WaterMeter');
      assert.equal(d.deviceInfo.status, 'INACTIVE');
      assert.equal(d.deviceInfo.statusDetail, 'NOT_ACTIVE');
      assert.deepEqual(d.services, []);
      assert.equal(d.imsi, undefined, 'imsi only with select=imsi');
      assert.ok(!res.text.includes('0123456789abcdef') && !res.text.includes('verifyCode'));
      const withImsi = await as(api().get(`${DM}/${deviceId}?select=imsi`)).expect(200);
      assert.equal(withImsi.body.imsi, '460001234567890');
      expectError(await as(api().get(`${DM}/${deviceId}?select=everything`)), 400, '100405');
    });

    it('modifies with 204, shows the change, keeps the psk apart, on every dm version', async () => {
      const { deviceId } = await register({ nodeId: 'mod-1' });
      const res = await as(api().put(`${DM}/${deviceId}`)).send({ name: 'kitchen', region: 'EU', psk: 'aaaaaaaa', mute: 'TRUE', unknownField: 1 });
      assert.equal(res.status, 204, res.text);
      assert.equal(res.text, '');
      for (const v of ['v1.4.0', 'v1.3.0', 'v1.2.0', 'v1.1.0']) {
        const got = await as(api().get(`/iocm/app/dm/${v}/devices/${deviceId}`)).expect(200);
        assert.equal(got.body.deviceInfo.name, 'kitchen');
        assert.equal(got.body.deviceInfo.mute, 'TRUE');
        assert.ok(!got.text.includes('aaaaaaaa'));
      }
      await as(api().put(`/iocm/app/dm/v1.2.0/devices/${deviceId}`)).send({ location: 'hall' }).expect(204);
      expectError(await as(api().put(`${DM}/${deviceId}`)).send({ mute: 'maybe' }), 400, '100022');
      expectError(await as(api().put(`${DM}/${deviceId}`)).send({ psk: 'short' }), 400, '100022');
      expectError(await as(api().put(`${DM}/no-such`)).send({ name: 'x' }), 404, '100403');
    });

    it('deletes with 204; the device is then gone everywhere', async () => {
      const { deviceId } = await register({ nodeId: 'del-1' });
      await as(api().delete(`${DM}/${deviceId}?cascade=false`)).expect(204);
      expectError(await as(api().get(`${DM}/${deviceId}`)), 404, '100403');
      expectError(await as(api().delete(`${DM}/${deviceId}`)), 404, '100403');
      expectError(await as(api().get(`${REG}/${deviceId}`)), 404, '100403');
      const { deviceId: again } = await register({ nodeId: 'del-1' });
      expectError(await as(api().delete(`${DM}/${again}?cascade=perhaps`)), 400, '100022');
      await as(api().delete(`/iocm/app/dm/v1.1.0/devices/${again}`)).expect(204);
    });

    it("answers another app's device with 404 100418 on query, modify and delete", async () => {
      const { deviceId } = await register({ nodeId: 'theirs' }, 'demo-app-2');
      expectError(await as(api().get(`${DM}/${deviceId}`)), 404, '100418');
      expectError(await as(api().put(`${DM}/${deviceId}`)).send({ name: 'mine now' }), 404, '100418');
      expectError(await as(api().delete(`${DM}/${deviceId}`)), 404, '100418');
      await as(api().get(`${DM}/${deviceId}`), 'demo-app-2').expect(200);
    });
  });

  describe('the list', () => {
    it('pages with {totalCount, pageNo, pageSize, devices}, newest first by default, default page size 25', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await register({ nodeId: `list-${i}`, deviceInfo: { deviceType: i % 2 ? 'Odd' : 'Even' } })).deviceId);
      const all = await as(api().get(`${DM}?pageNo=0`)).expect(200);
      assert.deepEqual(Object.keys(all.body).sort(), ['devices', 'pageNo', 'pageSize', 'totalCount']);
      assert.equal(all.body.totalCount, 4);
      assert.equal(all.body.pageSize, 25);
      assert.deepEqual(all.body.devices.map((d: { deviceId: string }) => d.deviceId), [...ids].reverse());
      const asc = await as(api().get(`${DM}?pageNo=1&pageSize=3&sort=ASC`)).expect(200);
      assert.deepEqual(asc.body.devices.map((d: { deviceId: string }) => d.deviceId), [ids[3]]);
      assert.equal(asc.body.totalCount, 4);
      const odd = await as(api().get(`${DM}?pageNo=0&deviceType=Odd`)).expect(200);
      assert.equal(odd.body.totalCount, 2);
      const byGateway = await as(api().get(`${DM}?gatewayId=${ids[0]}`)).expect(200);
      assert.deepEqual(byGateway.body.devices.map((d: { deviceId: string }) => d.deviceId), [ids[0]]);
    });

    it('filters by status', async () => {
      const a = await register({ nodeId: 'st-a' });
      await register({ nodeId: 'st-b' });
      await api().post(`/__control/devices/${a.deviceId}/status`).send({ status: 'ONLINE' }).expect(204);
      const online = await as(api().get(`${DM}?pageNo=0&status=ONLINE`)).expect(200);
      assert.deepEqual(online.body.devices.map((d: { deviceId: string }) => d.deviceId), [a.deviceId]);
      const inactive = await as(api().get(`${DM}?pageNo=0&status=INACTIVE`)).expect(200);
      assert.equal(inactive.body.totalCount, 1);
    });

    it('filters by registration time', async () => {
      await register({ nodeId: 'time-1' });
      const past = await as(api().get(`${DM}?pageNo=0&endTime=20000101T000000Z`)).expect(200);
      assert.equal(past.body.totalCount, 0);
      const since = await as(api().get(`${DM}?pageNo=0&startTime=20000101T000000Z&endTime=20991231T235959Z`)).expect(200);
      assert.equal(since.body.totalCount, 1);
    });

    const invalid: Array<[string, string, string]> = [
      ['neither gatewayId nor pageNo', '', '100218'],
      ['pageSize 0', 'pageNo=0&pageSize=0', '100216'],
      ['pageSize 251', 'pageNo=0&pageSize=251', '100216'],
      ['a negative pageNo', 'pageNo=-1', '100216'],
      ['a pageNo that is not a number', 'pageNo=first', '100216'],
      ['an unknown status', 'pageNo=0&status=SLEEPING', '100216'],
      ['an unknown sort', 'pageNo=0&sort=UP', '100216'],
      ['an unknown nodeType', 'pageNo=0&nodeType=SENSOR', '100216'],
      ['a malformed startTime', 'pageNo=0&startTime=2024-01-01', '100216'],
      ['a start after the end', 'pageNo=0&startTime=20240102T000000Z&endTime=20240101T000000Z', '100216'],
      ['select other than imsi', 'pageNo=0&select=all', '100405'],
    ];
    for (const [name, query, code] of invalid) {
      it(`refuses ${name} with 400 ${code}`, async () => {
        expectError(await as(api().get(`${DM}?${query}`)), 400, code);
      });
    }

    it('is served on the legacy dm versions, and leaves the groups family its /devices/ids', async () => {
      await register({ nodeId: 'legacy-list' });
      for (const v of ['v1.3.0', 'v1.2.0', 'v1.1.0']) {
        const res = await as(api().get(`/iocm/app/dm/${v}/devices?pageNo=0`)).expect(200);
        assert.equal(res.body.totalCount, 1);
      }
      const ids = await as(api().get('/iocm/app/dm/v1.2.0/devices/ids?devGroupId=g1'));
      assert.notEqual(ids.body.error_code, '100403', 'the devices family answered the groups path');
    });
  });

  describe('control endpoints', () => {
    it('report data: 204, the device comes ONLINE, query one shows the newest reading per service', async () => {
      const { deviceId } = await register({ nodeId: 'ctl-1' });
      await api().post(`/__control/devices/${deviceId}/data`).send({ serviceId: 'WaterMeter', data: { value: 1 }, eventTime: '20240101T000000Z' }).expect(204);
      const res = await api().post(`/__control/devices/${deviceId}/data`).send({ serviceId: 'WaterMeter', serviceType: 'Water', data: { value: 42 } });
      assert.equal(res.status, 204);
      assert.equal(res.text, '');
      const d = (await as(api().get(`${DM}/${deviceId}`)).expect(200)).body;
      assert.equal(d.deviceInfo.status, 'ONLINE');
      assert.equal(d.services.length, 1);
      assert.deepEqual([d.services[0].serviceType, d.services[0].data], ['Water', { value: 42 }]);
    });

    it('refuses bad reports and statuses with 400, unknown devices with 404, and never answers a secret', async () => {
      const { deviceId, psk } = await register({ nodeId: 'ctl-2' });
      const cases: Array<[string, object, number]> = [
        ['data', { data: { v: 1 } }, 400],
        ['data', { serviceId: 'S', data: [1] }, 400],
        ['data', { serviceId: 'S', data: {}, eventTime: '2024-01-01' }, 400],
        ['data', { serviceId: 'S', data: {}, serviceType: 5 }, 400],
        ['status', { status: 'INACTIVE' }, 400],
        ['status', {}, 400],
      ];
      for (const [what, body, status] of cases) {
        const res = await api().post(`/__control/devices/${deviceId}/${what}`).send(body);
        assert.equal(res.status, status, `${what} ${JSON.stringify(body)}: ${res.text}`);
        assert.ok(!res.text.includes(psk));
      }
      await api().post('/__control/devices/nobody/data').send({ serviceId: 'S', data: {} }).expect(404);
      await api().post('/__control/devices/nobody/status').send({ status: 'ONLINE' }).expect(404);
    });

    it('are not platform calls: never logged, never counted', async () => {
      const { deviceId } = await register({ nodeId: 'ctl-3' });
      const before = (await api().get('/__control/calls').expect(200)).body.total;
      await api().post(`/__control/devices/${deviceId}/status`).send({ status: 'ONLINE' }).expect(204);
      await api().post(`/__control/devices/${deviceId}/data`).send({ serviceId: 'S', data: { a: 1 } }).expect(204);
      assert.equal((await api().get('/__control/calls').expect(200)).body.total, before);
    });
  });

  describe('pushes (the notify hook the events feature delivers)', () => {
    // The simulator's parts on a state of our own, so that the hook can be listened to; still real HTTP.
    let server: http.Server;
    let url: string;
    const pushes: Array<{ appId: string; body: Record<string, any> }> = [];
    let token: string;
    let state: SimulatorState;

    before(async () => {
      state = new SimulatorState(new Map([['demo-app', 'demo-secret']]), { ratePerMinute: 100_000, windowMs: 60_000, expiresIn: 3600 });
      state.onNotify((appId, body) => void pushes.push({ appId, body }));
      const app = express();
      app.use('/__control', controlRouter(state));
      app.use(platformGate(state, new Lifecycle()));
      app.post(LOGIN_PATH, login(state));
      app.use(deviceSimulator.router(state));
      app.use(dataSimulator.router(state));
      server = http.createServer(app);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      token = (await request(url).post(LOGIN).type('form').send({ appId: 'demo-app', secret: 'demo-secret' }).expect(200)).body.accessToken;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    const call = (t: Test): Test => t.set('app_key', 'demo-app').set('Authorization', `Bearer ${token}`);

    it('deviceAdded on register, deviceInfoChanged on modify, deviceDataChanged on a report, deviceDeleted on delete', async () => {
      const reg = await call(request(url).post(REG)).send({ nodeId: 'push-1', psk: 'feedfeedfeed', deviceInfo: { deviceType: 'WaterMeter' } }).expect(200);
      const deviceId = reg.body.deviceId as string;
      await call(request(url).put(`${DM}/${deviceId}`)).send({ name: 'renamed' }).expect(204);
      await request(url).post(`/__control/devices/${deviceId}/data`).send({ serviceId: 'WaterMeter', data: { value: 42 }, eventTime: '20240301T101010Z' }).expect(204);
      await call(request(url).delete(`${DM}/${deviceId}`)).expect(204);
      assert.deepEqual(pushes.map((p) => [p.appId, p.body.notifyType]), [
        ['demo-app', 'deviceAdded'],
        ['demo-app', 'deviceInfoChanged'],
        ['demo-app', 'deviceDataChanged'],
        ['demo-app', 'deviceDeleted'],
      ]);
      const [added, changed, data, deleted] = pushes.map((p) => p.body);
      assert.equal(added?.deviceId, deviceId);
      assert.equal(added?.gatewayId, deviceId);
      assert.equal(added?.nodeType, 'ENDPOINT');
      assert.deepEqual([added?.deviceInfo.status, added?.deviceInfo.statusDetail, added?.deviceInfo.deviceType], ['INACTIVE', 'NOT_ACTIVE', 'WaterMeter']);
      assert.equal(changed?.deviceInfo.name, 'renamed');
      assert.deepEqual(data?.service, { serviceId: 'WaterMeter', serviceType: 'WaterMeter', data: { value: 42 }, eventTime: '20240301T101010Z' });
      assert.deepEqual(deleted, { notifyType: 'deviceDeleted', deviceId, gatewayId: deviceId });
      assert.ok(!JSON.stringify(pushes).includes('feedfeedfeed'), 'a push never carries the psk');
    });

    it('tells the registry status listeners (pending commands are delivered from there) and the delete listeners', async () => {
      const reg = await call(request(url).post(REG)).send({ nodeId: 'listen-1' }).expect(200);
      const deviceId = reg.body.deviceId as string;
      const devices = state.appData('demo-app').devices;
      const changes: string[] = [];
      const deleted: string[] = [];
      const offStatus = devices.onStatus((d, previous) => void changes.push(`${d.deviceId === deviceId ? 'it' : 'other'}:${previous}->${d.status}`));
      const offDelete = devices.onDelete((d) => void deleted.push(d.deviceId));
      try {
        await request(url).post(`/__control/devices/${deviceId}/status`).send({ status: 'ONLINE' }).expect(204);
        await request(url).post(`/__control/devices/${deviceId}/status`).send({ status: 'OFFLINE' }).expect(204);
        // Reporting data brings an offline device online first.
        await request(url).post(`/__control/devices/${deviceId}/data`).send({ serviceId: 'S', data: { v: 1 } }).expect(204);
        await request(url).post(`/__control/devices/${deviceId}/data`).send({ serviceId: 'S', data: { v: 2 } }).expect(204);
        assert.deepEqual(changes, ['it:INACTIVE->ONLINE', 'it:ONLINE->OFFLINE', 'it:OFFLINE->ONLINE']);
        await call(request(url).delete(`${DM}/${deviceId}`)).expect(204);
        assert.deepEqual(deleted, [deviceId]);
      } finally {
        offStatus();
        offDelete();
      }
    });
  });
});
