// The data routes end to end against the simulator: a device's history (what it reported through the control endpoint) and its capabilities, validation before any platform call, errors by meaning.
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

const DATA = '/iocm/app/data';
const byId = new Map(ROUTES.map((r) => [r.id, r]));

interface Case {
  name: string;
  route: string;
  deviceId?: string;
  query: Record<string, string>;
  codes: string[];
}

const GW = { gatewayId: 'dev-1' };

const INVALID: Case[] = [
  // history (§5.7): error table not retrieved, so no platform codes
  { name: 'no gatewayId', route: 'listDeviceHistory', query: {}, codes: [] },
  { name: 'a blank gatewayId', route: 'listDeviceHistory', query: { gatewayId: ' ' }, codes: [] },
  { name: 'a deviceId in the query (it is the path)', route: 'listDeviceHistory', query: { ...GW, deviceId: 'other' }, codes: [] },
  { name: 'pageSize 0', route: 'listDeviceHistory', query: { ...GW, pageSize: '0' }, codes: [] },
  { name: 'a negative pageNo', route: 'listDeviceHistory', query: { ...GW, pageNo: '-1' }, codes: [] },
  { name: 'a serviceId of 257 characters', route: 'listDeviceHistory', query: { ...GW, serviceId: 's'.repeat(257) }, codes: [] },
  { name: 'a malformed startTime', route: 'listDeviceHistory', query: { ...GW, startTime: '20241301T000000Z' }, codes: [] },
  { name: 'a start after the end', route: 'listDeviceHistory', query: { ...GW, startTime: '20240102T000000Z', endTime: '20240101T000000Z' }, codes: [] },
  { name: 'an unknown key', route: 'listDeviceHistory', query: { ...GW, services: 'x' }, codes: [] },
  { name: 'a traversal as deviceId', route: 'listDeviceHistory', deviceId: '..', query: GW, codes: [] },
  // capabilities (§5.8): 100022
  { name: 'a gatewayId of 257 characters', route: 'getDeviceCapabilities', query: { gatewayId: 'g'.repeat(257) }, codes: ['100022'] },
  { name: 'a blank gatewayId', route: 'getDeviceCapabilities', query: { gatewayId: '  ' }, codes: ['100022'] },
  { name: 'an unknown key', route: 'getDeviceCapabilities', query: { serviceId: 'x' }, codes: [] },
];

describe('data routes', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: TestGateway;
  let deviceId = '';

  before(async () => {
    ({ redis, sim, gw } = await startStack({ rate: 100_000 }));
    const res = await request(gw.url).post('/v1/apps/app-a/devices').set('X-Api-Key', KEYS.all).send({ nodeId: `data-${Date.now()}` }).expect(201);
    deviceId = res.body.deviceId;
  });
  after(() => closeAll(gw, sim, redis));

  const api = () => request(gw.url);
  const key = KEYS.all;
  const report = (body: object) => sim.control(`devices/${deviceId}/data`, body);

  const platformCalls = (since: number): Promise<SimCall[]> => platformCallsSince(sim, since);

  describe('forwarding and statuses', () => {
    it('GET /devices/{deviceId}/history → GET deviceDataHistory?deviceId=…; 200 with what the device reported', async () => {
      await report({ serviceId: 'WaterMeter', data: { value: 41 }, eventTime: '20240101T000000Z' });
      await report({ serviceId: 'WaterMeter', data: { value: 42 }, eventTime: '20240102T000000Z' });
      const since = Date.now();
      const res = await api()
        .get(`${urlOf('listDeviceHistory', { deviceId })}?gatewayId=${deviceId}&pageNo=0&pageSize=10&serviceId=WaterMeter`)
        .set('X-Api-Key', key)
        .expect(200);
      const [call] = await platformCalls(since);
      assert.ok(call);
      assert.equal(`${call.method} ${call.path}`, `GET ${DATA}/v1.2.0/deviceDataHistory`);
      // deviceId moves from the gateway's path to the platform's query; no appId is sent.
      assert.deepEqual(call.query, { gatewayId: deviceId, pageNo: '0', pageSize: '10', serviceId: 'WaterMeter', deviceId });
      assert.equal(res.body.totalCount, 2);
      assert.deepEqual(
        res.body.deviceDataHistoryDTOs.map((h: { data: unknown; timestamp: string }) => [h.data, h.timestamp]),
        [[{ value: 42 }, '20240102T000000Z'], [{ value: 41 }, '20240101T000000Z']],
      );
    });

    it('a time window is forwarded and applied', async () => {
      const res = await api()
        .get(urlOf('listDeviceHistory', { deviceId }))
        .query({ gatewayId: deviceId, startTime: '20240102T000000Z', endTime: '20240102T000000Z' })
        .set('X-Api-Key', key)
        .expect(200);
      assert.equal(res.body.totalCount, 1);
    });

    it('GET /devices/{deviceId}/capabilities → GET deviceCapabilities?deviceId=…; 200', async () => {
      const since = Date.now();
      const res = await api().get(urlOf('getDeviceCapabilities', { deviceId })).set('X-Api-Key', key).expect(200);
      const [call] = await platformCalls(since);
      assert.ok(call);
      assert.equal(`${call.method} ${call.path}`, `GET ${DATA}/v1.1.0/deviceCapabilities`);
      assert.deepEqual(call.query, { deviceId });
      assert.equal(res.body.deviceCapabilities[0].deviceId, deviceId);
      assert.equal(res.body.deviceCapabilities[0].serviceCapabilities[0].serviceId, 'WaterMeter');
    });
  });

  describe('platform errors mapped by meaning', () => {
    it('history of a device the app does not have → 404 NOT_FOUND with platformCode 100418', async () => {
      const res = await api().get(urlOf('listDeviceHistory', { deviceId: 'no-such-device' })).query({ gatewayId: 'no-such-device' }).set('X-Api-Key', key);
      const e = assertEnvelope(res, 404, 'NOT_FOUND');
      assert.equal(e.platformCode, '100418');
    });

    it("the platform's 100022 → 400 VALIDATION_FAILED with platformCode", async () => {
      await sim.control('faults', { count: 1, path: '/deviceCapabilities', status: 400, errorCode: '100022', errorDesc: 'from the simulator' });
      const res = await api().get(urlOf('getDeviceCapabilities', { deviceId })).set('X-Api-Key', key);
      assert.equal(assertEnvelope(res, 400, 'VALIDATION_FAILED').platformCode, '100022');
      assert.ok(!res.text.includes('from the simulator'));
    });
  });

  describe('validation before any platform call', () => {
    for (const c of INVALID) {
      it(`${c.route}: refuses ${c.name}`, async () => {
        const before = (await sim.calls()).total;
        const res = await api().get(urlOf(c.route, { deviceId: c.deviceId ?? 'dev-1' })).query(c.query).set('X-Api-Key', key);
        const e = assertEnvelope(res, 400, 'VALIDATION_FAILED');
        const codes = (e.details as Array<{ platformCode?: string }>).flatMap((d) => (d.platformCode === undefined ? [] : [d.platformCode]));
        assert.deepEqual(codes.sort(), [...c.codes].sort(), JSON.stringify(e.details));
        for (const code of codes) assert.ok(byId.get(c.route)?.platformErrorCodes?.includes(code));
        assert.equal((await sim.calls()).total, before, 'an invalid request reached the platform');
      });
    }

    for (const [name, query] of [
      ['?appId', { appId: 'app-b' }],
      ['?accessAppId', { accessAppId: 'app-b' }],
      ['?ownerFlag', { ownerFlag: 'true' }],
    ] as const) {
      it(`refuses a caller's ${name} on both routes, nothing sent`, async () => {
        const before = (await sim.calls()).total;
        for (const route of ['listDeviceHistory', 'getDeviceCapabilities']) {
          const res = await api().get(urlOf(route, { deviceId })).query({ ...GW, ...query }).set('X-Api-Key', key);
          assertEnvelope(res, 400, 'VALIDATION_FAILED');
        }
        assert.equal((await sim.calls()).total, before);
      });
    }
  });

  it('/openapi.json documents both routes with x-platform-api, deviceId as a path parameter', async () => {
    const doc = (await api().get('/openapi.json').expect(200)).body;
    const history = doc.paths['/v1/apps/{appId}/devices/{deviceId}/history'].get;
    assert.deepEqual(history['x-platform-api'], { method: 'GET', path: `${DATA}/v1.2.0/deviceDataHistory` });
    assert.ok(history.parameters.some((p: { name: string; in: string }) => p.name === 'deviceId' && p.in === 'path'));
    const caps = doc.paths['/v1/apps/{appId}/devices/{deviceId}/capabilities'].get;
    assert.deepEqual(caps['x-platform-api'], { method: 'GET', path: `${DATA}/v1.1.0/deviceCapabilities` });
  });
});
