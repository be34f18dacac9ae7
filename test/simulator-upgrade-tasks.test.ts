// The simulator's upgrade tasks, tested black-box over real HTTP(S).
import { strict as assert } from 'node:assert';
import type { Test } from 'supertest';
import { sleep } from './helpers/fixtures.js';
import { useSimulator, IODM, MIN, compact } from './helpers/simulator.js';

describe('simulator: upgrade tasks', () => {
  const { api, login, authed, expectError } = useSimulator();

  let token: string;
  beforeEach(async () => {
    token = (await login()).accessToken;
  });
  const post = (route: 'softwareUpgrade' | 'firmwareUpgrade', body: unknown): Test =>
    authed(api().post(`${IODM}/operations/${route}`), token).send(body as object);
  const get = (path: string): Test => authed(api().get(path), token);
  const groups = { deviceType: 'WaterMeter', model: 'WM100', manufacturerName: 'HydroTech' };
  const devices = { devices: ['dev-1'] };
  const custom = (startOffset: number, endOffset: number): object => ({
    executeType: 'custom',
    startTime: compact(startOffset),
    endTime: compact(endOffset),
  });
  const many = (n: number): string[] => Array.from({ length: n }, (_, i) => `d-${i}`);

  // [name, body (a string is sent raw), HTTP status, error code]
  const invalid: Array<[string, unknown, number, string]> = [
    ['malformed JSON', '{"fileId": "sw-pkg-0001",', 400, '120015'],
    ['a JSON array', '[]', 400, '120015'],
    ['fileId missing', { targets: devices }, 400, '120015'],
    ['fileId not a string', { fileId: 7, targets: devices }, 400, '120015'],
    ['devices not a list', { fileId: 'sw-pkg-0001', targets: { devices: 'dev-1' } }, 400, '120015'],
    ['targets missing', { fileId: 'sw-pkg-0001' }, 400, '123022'],
    ['neither devices nor groups', { fileId: 'sw-pkg-0001', targets: { deviceType: 'WaterMeter' } }, 400, '123022'],
    ['both devices and groups', { fileId: 'sw-pkg-0001', targets: { ...devices, deviceGroups: ['g'], ...groups } }, 400, '123023'],
    ['257 devices', { fileId: 'sw-pkg-0001', targets: { devices: many(257) } }, 400, '123024'],
    ['257 groups', { fileId: 'sw-pkg-0001', targets: { deviceGroups: many(257), ...groups } }, 400, '123024'],
    ['groups without deviceType', { fileId: 'sw-pkg-0001', targets: { deviceGroups: ['g'], model: 'WM100', manufacturerName: 'HydroTech' } }, 400, '123020'],
    ['groups without model', { fileId: 'sw-pkg-0001', targets: { deviceGroups: ['g'], deviceType: 'WaterMeter', manufacturerName: 'HydroTech' } }, 400, '123021'],
    ['groups without manufacturerName', { fileId: 'sw-pkg-0001', targets: { deviceGroups: ['g'], deviceType: 'WaterMeter', model: 'WM100' } }, 400, '123019'],
    ['policy without executeType', { fileId: 'sw-pkg-0001', targets: devices, policy: {} }, 400, '123025'],
    ['unknown executeType', { fileId: 'sw-pkg-0001', targets: devices, policy: { executeType: 'later' } }, 400, '123025'],
    ['custom without times', { fileId: 'sw-pkg-0001', targets: devices, policy: { executeType: 'custom' } }, 400, '123026'],
    ['custom with ISO times', { fileId: 'sw-pkg-0001', targets: devices, policy: { executeType: 'custom', startTime: '2099-01-01T00:00:00Z', endTime: '2099-01-02T00:00:00Z' } }, 400, '123026'],
    ['custom with an impossible date', { fileId: 'sw-pkg-0001', targets: devices, policy: { executeType: 'custom', startTime: '20991301T000000Z', endTime: '20991401T000000Z' } }, 400, '123026'],
    ['retryType without retryTimes', { fileId: 'sw-pkg-0001', targets: devices, policy: { executeType: 'now', retryType: true } }, 400, '123028'],
    ['retryTimes 6', { fileId: 'sw-pkg-0001', targets: devices, policy: { executeType: 'now', retryType: true, retryTimes: 6 } }, 400, '123028'],
    ['retryTimes 0', { fileId: 'sw-pkg-0001', targets: devices, policy: { executeType: 'now', retryType: true, retryTimes: 0 } }, 400, '123028'],
    ['start after end', { fileId: 'sw-pkg-0001', targets: devices, policy: custom(20 * MIN, 10 * MIN) }, 400, '123032'],
    ['start in the past', { fileId: 'sw-pkg-0001', targets: devices, policy: custom(-10 * MIN, 10 * MIN) }, 400, '123033'],
    ['window of exactly 5 minutes', { fileId: 'sw-pkg-0001', targets: devices, policy: custom(10 * MIN, 15 * MIN) }, 400, '123034'],
    ['unknown fileId', { fileId: 'sw-pkg-9999', targets: devices }, 404, '123002'],
    ['firmware package for a software task', { fileId: 'fw-pkg-0001', targets: devices }, 400, '123016'],
    ['groups not matching the package', { fileId: 'sw-pkg-0001', targets: { deviceGroups: ['g'], ...groups, model: 'WM200' } }, 400, '123016'],
  ];
  for (const [name, body, status, code] of invalid) {
    it(`refuses ${name} with ${status} ${code}`, async () => {
      const req = typeof body === 'string' ? post('softwareUpgrade', undefined).type('json').send(body) : post('softwareUpgrade', body);
      expectError(await req, status, code);
    });
  }

  it('refuses a software package on the firmware route with 123016', async () => {
    expectError(await post('firmwareUpgrade', { fileId: 'sw-pkg-0001', targets: devices }), 400, '123016');
    expectError(await post('firmwareUpgrade', { targets: devices }), 400, '120015');
  });

  // Built when each test runs: times relative to now must not age while earlier suites run.
  const valid: Array<[string, () => unknown]> = [
    ['no policy', () => ({ fileId: 'sw-pkg-0001', targets: devices })],
    ['256 devices', () => ({ fileId: 'sw-pkg-0001', targets: { devices: many(256) } })],
    ['matching groups', () => ({ fileId: 'sw-pkg-0001', targets: { deviceGroups: ['north', 'south'], ...groups } })],
    ['a custom window', () => ({ fileId: 'sw-pkg-0001', targets: devices, policy: custom(10 * MIN, 20 * MIN) })],
    ['a start 30 s in the past (clock slack)', () => ({ fileId: 'sw-pkg-0001', targets: devices, policy: custom(-30_000, 10 * MIN) })],
    ['retries', () => ({ fileId: 'sw-pkg-0001', targets: devices, policy: { executeType: 'now', retryType: true, retryTimes: 5 } })],
    ['device_online', () => ({ fileId: 'sw-pkg-0001', targets: devices, policy: { executeType: 'device_online' } })],
  ];
  for (const [name, body] of valid) {
    it(`accepts ${name} with 200 {operationId}`, async () => {
      const res = await post('softwareUpgrade', body()).expect(200);
      assert.deepEqual(Object.keys(res.body), ['operationId']);
      assert.match(res.body.operationId, /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/);
    });
  }

  it('creates software and firmware tasks, then gets and lists them', async () => {
    const sw = (await post('softwareUpgrade', { fileId: 'sw-pkg-0001', targets: { devices: ['m-1', 'm-2'] } }).expect(200)).body.operationId as string;
    const fw = (await post('firmwareUpgrade', { fileId: 'fw-pkg-0002', targets: { devices: ['lamp-1'] }, policy: { executeType: 'now' } }).expect(200)).body.operationId as string;
    assert.notEqual(sw, fw);

    const one = await get(`${IODM}/operations/${sw}`).expect(200);
    assert.deepEqual(Object.keys(one.body).sort(), [
      'createTime',
      'extendPara',
      'operateType',
      'operationId',
      'policy',
      'staResult',
      'startTime',
      'status',
      'stopTime',
      'targets',
    ]);
    assert.equal(one.body.operationId, sw);
    assert.equal(one.body.operateType, 'software_upgrade');
    assert.equal(one.body.status, 'wait');
    assert.match(one.body.createTime, /^\d{8}T\d{6}Z$/);
    assert.deepEqual(one.body.targets, { devices: ['m-1', 'm-2'] });
    assert.equal(one.body.policy.executeType, 'now');
    assert.deepEqual(one.body.staResult, { total: 2, wait: 2, processing: 0, success: 0, fail: 0, stop: 0, timeout: 0 });

    const list = await get(`${IODM}/operations`).expect(200);
    assert.equal(list.body.totalCount, 2);
    assert.equal(list.body.totalSize, 2);
    assert.equal(list.body.pageNo, 0);
    assert.equal(list.body.pageSize, 10);
    assert.deepEqual(list.body.data.map((o: { operationId: string }) => o.operationId).sort(), [sw, fw].sort());

    const fwOnly = await get(`${IODM}/operations?operationType=firmware_upgrade`).expect(200);
    assert.deepEqual(fwOnly.body.data.map((o: { operationId: string }) => o.operationId), [fw]);
    assert.equal(fwOnly.body.data[0].operateType, 'firmware_upgrade');
    const byDevice = await get(`${IODM}/operations?deviceId=m-2`).expect(200);
    assert.deepEqual(byDevice.body.data.map((o: { operationId: string }) => o.operationId), [sw]);
    const byType = await get(`${IODM}/operations?deviceType=StreetLight&model=SL7`).expect(200);
    assert.equal(byType.body.totalCount, 1);
    assert.equal((await get(`${IODM}/operations?operationStatus=success`).expect(200)).body.totalCount, 0);
    assert.equal((await get(`${IODM}/operations?pageNo=1&pageSize=1`).expect(200)).body.data.length, 1);
    expectError(await get(`${IODM}/operations?operationType=reboot`), 400, '120015');
    expectError(await get(`${IODM}/operations?pageSize=500`), 400, '123029');

    expectError(await get(`${IODM}/operations/op-unknown`), 404, '123002');
    expectError(await get(`${IODM}/operations/op-unknown/subOperations`), 404, '123002');
    // Tasks belong to the app that created them.
    const other = (await login('demo-app-2', 'demo-secret-2')).accessToken;
    expectError(await authed(api().get(`${IODM}/operations/${sw}`), other, 'demo-app-2'), 404, '123002');
  });

  it('lists one subtask per device, and a few invented ones per group', async () => {
    const id = (await post('softwareUpgrade', { fileId: 'sw-pkg-0001', targets: { devices: ['a', 'b', 'c'] } }).expect(200)).body.operationId as string;
    const subs = await get(`${IODM}/operations/${id}/subOperations`).expect(200);
    assert.equal(subs.body.totalCount, 3);
    assert.equal(subs.body.pageNo, 0);
    assert.equal(subs.body.pageSize, 10);
    assert.deepEqual(subs.body.data.map((s: { deviceId: string }) => s.deviceId), ['a', 'b', 'c']);
    for (const s of subs.body.data as Array<Record<string, unknown>>) {
      assert.deepEqual(Object.keys(s).sort(), [
        'createTime',
        'detailInfo',
        'deviceId',
        'extendInfo',
        'operateType',
        'startTime',
        'status',
        'stopTime',
        'subOperationId',
      ]);
      assert.equal(s.status, 'wait');
      assert.equal(s.operateType, 'software_upgrade');
    }
    const paged = await get(`${IODM}/operations/${id}/subOperations?pageNo=1&pageSize=2`).expect(200);
    assert.deepEqual(paged.body.data.map((s: { deviceId: string }) => s.deviceId), ['c']);
    assert.equal((await get(`${IODM}/operations/${id}/subOperations?subOperationStatus=success`)).body.totalCount, 0);
    expectError(await get(`${IODM}/operations/${id}/subOperations?pageSize=0`), 400, '123029');

    const g = (await post('softwareUpgrade', { fileId: 'sw-pkg-0001', targets: { deviceGroups: ['north', 'south'], ...groups } }).expect(200)).body.operationId as string;
    const gSubs = await get(`${IODM}/operations/${g}/subOperations`).expect(200);
    assert.ok(gSubs.body.totalCount >= 2);
    const ids = gSubs.body.data.map((s: { deviceId: string }) => s.deviceId);
    assert.equal(new Set(ids).size, ids.length);
    const again = (await post('softwareUpgrade', { fileId: 'sw-pkg-0001', targets: { deviceGroups: ['north', 'south'], ...groups } }).expect(200)).body.operationId as string;
    const againIds = (await get(`${IODM}/operations/${again}/subOperations`).expect(200)).body.data.map((s: { deviceId: string }) => s.deviceId);
    assert.deepEqual(againIds, ids, 'group members are deterministic');
  });

  it('moves immediate tasks from wait to a final status, while scheduled ones keep waiting', async () => {
    const now = (await post('softwareUpgrade', { fileId: 'sw-pkg-0001', targets: { devices: ['ok-1', 'ok-2'] } }).expect(200)).body.operationId as string;
    const failing = (await post('firmwareUpgrade', { fileId: 'fw-pkg-0001', targets: { devices: ['ok-3', 'will-fail-1'] } }).expect(200)).body.operationId as string;
    const later = (await post('softwareUpgrade', { fileId: 'sw-pkg-0001', targets: devices, policy: custom(10 * MIN, 20 * MIN) }).expect(200)).body.operationId as string;
    const online = (await post('softwareUpgrade', { fileId: 'sw-pkg-0001', targets: devices, policy: { executeType: 'device_online' } }).expect(200)).body.operationId as string;
    assert.equal((await get(`${IODM}/operations/${now}`).expect(200)).body.status, 'wait');

    await sleep(3200);
    const done = (await get(`${IODM}/operations/${now}`).expect(200)).body;
    assert.equal(done.status, 'success');
    assert.deepEqual(done.staResult, { total: 2, wait: 0, processing: 0, success: 2, fail: 0, stop: 0, timeout: 0 });
    assert.match(done.stopTime, /^\d{8}T\d{6}Z$/);
    const failed = (await get(`${IODM}/operations/${failing}`).expect(200)).body;
    assert.equal(failed.status, 'failed');
    assert.equal(failed.staResult.fail, 1);
    assert.equal(failed.staResult.success, 1);
    const failedSubs = await get(`${IODM}/operations/${failing}/subOperations?subOperationStatus=fail`).expect(200);
    assert.deepEqual(failedSubs.body.data.map((s: { deviceId: string }) => s.deviceId), ['will-fail-1']);
    assert.equal((await get(`${IODM}/operations/${later}`).expect(200)).body.status, 'wait');
    assert.equal((await get(`${IODM}/operations/${online}`).expect(200)).body.status, 'wait');
    const waiting = await get(`${IODM}/operations?operationStatus=wait`).expect(200);
    assert.deepEqual(waiting.body.data.map((o: { operationId: string }) => o.operationId).sort(), [later, online].sort());
  });
});
