// The simulator's data family over real HTTP: history is what devices reported through the control endpoint; capabilities follow from it.
import { strict as assert } from 'node:assert';
import request from 'supertest';
import type { Test } from 'supertest';
import { startSimulator, type RunningSimulator } from '../src/simulator/server.js';

const LOGIN = '/iocm/app/sec/v1.1.0/login';
const REG = '/iocm/app/reg/v1.1.0/deviceCredentials';
const HISTORY = '/iocm/app/data/v1.2.0/deviceDataHistory';
const CAPABILITIES = '/iocm/app/data/v1.1.0/deviceCapabilities';

describe('simulator: data', () => {
  let sim: RunningSimulator;
  let token = '';
  let deviceId = '';
  const api = () => request(sim.url);
  const as = (t: Test): Test => t.set('app_key', 'demo-app').set('Authorization', `Bearer ${token}`);
  const report = (body: object, id = deviceId) => api().post(`/__control/devices/${id}/data`).send(body).expect(204);
  const expectError = (res: request.Response, status: number, code: string): void => {
    assert.equal(res.status, status, res.text);
    assert.equal(res.body.error_code, code, res.text);
  };
  const history = (query: string) => as(api().get(`${HISTORY}?deviceId=${deviceId}&gatewayId=${deviceId}${query}`));

  before(async () => {
    sim = await startSimulator({ quiet: true, ratePerMinute: 100_000 });
  });
  after(() => sim.close());
  beforeEach(async () => {
    await api().post('/__control/reset').expect(200);
    token = (await api().post(LOGIN).type('form').send({ appId: 'demo-app', secret: 'demo-secret' }).expect(200)).body.accessToken;
    deviceId = (await as(api().post(REG)).send({ nodeId: 'meter-1' }).expect(200)).body.deviceId;
  });

  describe('history', () => {
    it('is empty before any report, in the {totalCount, pageNo, pageSize, deviceDataHistoryDTOs} envelope', async () => {
      const res = await history('').expect(200);
      assert.deepEqual(res.body, { totalCount: 0, pageNo: 0, pageSize: 20, deviceDataHistoryDTOs: [] });
    });

    it('holds what the device reported, newest first, with the documented fields', async () => {
      await report({ serviceId: 'WaterMeter', data: { value: 1 }, eventTime: '20240101T000000Z' });
      await report({ serviceId: 'Battery', data: { level: 90 }, eventTime: '20240102T000000Z' });
      await report({ serviceId: 'WaterMeter', data: { value: 2 }, eventTime: '20240103T000000Z' });
      const res = await history('').expect(200);
      assert.equal(res.body.totalCount, 3);
      assert.deepEqual(res.body.deviceDataHistoryDTOs[0], {
        deviceId,
        gatewayId: deviceId,
        appId: 'demo-app',
        serviceId: 'WaterMeter',
        data: { value: 2 },
        timestamp: '20240103T000000Z',
      });
      assert.deepEqual(res.body.deviceDataHistoryDTOs.map((h: { timestamp: string }) => h.timestamp), ['20240103T000000Z', '20240102T000000Z', '20240101T000000Z']);
    });

    it('filters by serviceId, property and time, and pages', async () => {
      for (let day = 1; day <= 5; day++) await report({ serviceId: 'WaterMeter', data: { value: day }, eventTime: `2024010${day}T000000Z` });
      await report({ serviceId: 'Battery', data: { level: 50 }, eventTime: '20240106T000000Z' });
      assert.equal((await history('&serviceId=Battery').expect(200)).body.totalCount, 1);
      assert.equal((await history('&property=value').expect(200)).body.totalCount, 5);
      const window = await history('&startTime=20240102T000000Z&endTime=20240104T000000Z').expect(200);
      assert.deepEqual(window.body.deviceDataHistoryDTOs.map((h: { data: { value: number } }) => h.data.value), [4, 3, 2]);
      const page = await history('&pageNo=1&pageSize=2').expect(200);
      assert.deepEqual([page.body.totalCount, page.body.pageNo, page.body.pageSize], [6, 1, 2]);
      assert.deepEqual(page.body.deviceDataHistoryDTOs.map((h: { data: { value: number } }) => h.data.value), [4, 3]);
      // Another gateway than the device's has no data of it.
      assert.equal((await as(api().get(`${HISTORY}?deviceId=${deviceId}&gatewayId=elsewhere`)).expect(200)).body.totalCount, 0);
    });

    it('is served on the legacy v1.1.0 path', async () => {
      await report({ serviceId: 'WaterMeter', data: { value: 7 } });
      const res = await as(api().get(`/iocm/app/data/v1.1.0/deviceDataHistory?deviceId=${deviceId}&gatewayId=${deviceId}`)).expect(200);
      assert.equal(res.body.totalCount, 1);
    });

    it('answers 404 100418 for a device this app does not have, 400 100022 for bad input', async () => {
      expectError(await as(api().get(`${HISTORY}?deviceId=nobody&gatewayId=nobody`)), 404, '100418');
      expectError(await as(api().get(`${HISTORY}?deviceId=${deviceId}`)), 400, '100022');
      expectError(await as(api().get(`${HISTORY}?gatewayId=${deviceId}`)), 400, '100022');
      expectError(await history('&pageSize=0'), 400, '100022');
      expectError(await history('&pageNo=-1'), 400, '100022');
      expectError(await history('&startTime=yesterday'), 400, '100022');
      expectError(await history('&startTime=20240102T000000Z&endTime=20240101T000000Z'), 400, '100022');
    });

    it("refuses another app's appId with 403 100217", async () => {
      expectError(await history('&appId=demo-app-2'), 403, '100217');
    });
  });

  describe('capabilities', () => {
    it('lists one service per reported serviceId with a property per data key', async () => {
      await report({ serviceId: 'WaterMeter', data: { value: 1, unit: 'm3' } });
      await report({ serviceId: 'Battery', serviceType: 'Power', data: { level: 90.5, charging: false } });
      const res = await as(api().get(`${CAPABILITIES}?deviceId=${deviceId}`)).expect(200);
      const [cap] = res.body.deviceCapabilities;
      assert.equal(res.body.deviceCapabilities.length, 1);
      assert.equal(cap.deviceId, deviceId);
      const services = Object.fromEntries(cap.serviceCapabilities.map((s: { serviceId: string }) => [s.serviceId, s]));
      assert.deepEqual(Object.keys(services).sort(), ['Battery', 'WaterMeter']);
      assert.equal(services.Battery.serviceType, 'Power');
      assert.deepEqual(
        services.Battery.properties.map((p: { propertyName: string; dataType: string }) => [p.propertyName, p.dataType]),
        [['level', 'decimal'], ['charging', 'bool']],
      );
      assert.deepEqual(services.WaterMeter.commands, []);
    });

    it('answers an empty list for an unknown device, and 400 100022 without deviceId or gatewayId', async () => {
      assert.deepEqual((await as(api().get(`${CAPABILITIES}?deviceId=nobody`)).expect(200)).body, { deviceCapabilities: [] });
      const byGateway = await as(api().get(`${CAPABILITIES}?gatewayId=${deviceId}`)).expect(200);
      assert.equal(byGateway.body.deviceCapabilities.length, 1);
      expectError(await as(api().get(CAPABILITIES)), 400, '100022');
    });
  });
});
