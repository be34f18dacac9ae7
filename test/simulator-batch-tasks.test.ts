// The simulator's batch-task APIs directly over HTTP: DeviceCmd tasks make real commands, counts and subtasks follow them, validation answers 100022.
import assert from 'node:assert/strict';
import { closeAll, sleep, startTestSimulator, TEST_APPS, waitFor, type TestSimulator } from './helpers/fixtures.js';
import { captureSimulatorState, platformClient, registerDevice, type PlatformAnswer } from './helpers/sim-state.js';
import type { SimulatorState } from '../src/simulator/state.js';
import { DELIVER_MS, EXECUTE_MS, MAX_PENDING_PER_DEVICE } from '../src/simulator/families/commands/store.js';

const P = '/iocm/app/batchtask/v1.1.0';
const CMD = '/iocm/app/cmd/v1.4.0';
const [A, B] = TEST_APPS as [(typeof TEST_APPS)[number], (typeof TEST_APPS)[number]];
const command = { serviceId: 'WaterMeter', method: 'SET_VALUE', paras: { value: '1' } };

describe('simulator: batch tasks', () => {
  const stateOf = captureSimulatorState();
  let sim: TestSimulator;
  let state: SimulatorState;
  let call: (method: string, path: string, body?: unknown) => Promise<PlatformAnswer>;

  before(async () => {
    sim = await startTestSimulator({}, { direct: true });
    state = stateOf();
    call = await platformClient(sim.url, A.appId, A.secret);
  });
  after(() => closeAll(sim));

  const task = (fields: Record<string, unknown> = {}, param: Record<string, unknown> = {}) => ({
    appId: A.appId,
    timeout: 60,
    taskName: 'nightly',
    taskType: 'DeviceCmd',
    param: { type: 'DeviceList', command, ...param },
    ...fields,
  });
  const create = (body: unknown) => call('POST', `${P}/tasks`, body);
  const platformError = (res: PlatformAnswer, status: number, code: string) => {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error_code, code);
  };

  it('a DeviceCmd task makes one command per device: {taskID}; counts and subtasks follow the commands to the end', async () => {
    const online = registerDevice(state, A.appId, {}, 'ONLINE');
    const away = registerDevice(state, A.appId);
    const res = await create(task({}, { deviceList: [online.deviceId, away.deviceId, 'no-such-device'], callbackUrl: 'https://na.example:8443/cb' }));
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body), ['taskID']);
    const id = res.body.taskID as string;

    const first = (await call('GET', `${P}/tasks/${id}`)).body;
    assert.equal(first.taskId, id);
    assert.equal(first.appId, A.appId);
    assert.equal(first.taskType, 'DeviceCmd');
    assert.equal(first.taskName, 'nightly');
    assert.equal(first.timeout, 60);
    assert.equal(first.totalCnt, 3);
    assert.equal(first.failCnt, 1, 'the unknown device');
    assert.equal(first.status, 'Processing');
    assert.match(first.startTime, /^\d{8}T\d{6}Z$/);

    // The commands are real: the device's own command list shows them, with the task's callbackUrl.
    const cmds = (await call('GET', `${CMD}/deviceCommands?deviceId=${away.deviceId}`)).body.data;
    assert.equal(cmds.length, 1);
    assert.equal(cmds[0].status, 'PENDING');
    assert.equal(cmds[0].callbackUrl, 'https://na.example:8443/cb');

    await sleep(DELIVER_MS + EXECUTE_MS + 50);
    const later = (await call('GET', `${P}/tasks/${id}`)).body;
    assert.equal(later.successCnt, 1);
    assert.equal(later.failCnt, 1);
    assert.equal(later.completeCnt, later.successCnt + later.failCnt + later.timeoutCnt);
    assert.equal(later.status, 'Processing', 'the away device still has its command pending');

    const subs = await call('GET', `${P}/taskDetails?taskId=${id}&pageSize=10`);
    assert.equal(subs.status, 200);
    assert.deepEqual(Object.keys(subs.body).sort(), ['pageNo', 'pageSize', 'taskDetails', 'totalCount']);
    assert.equal(subs.body.totalCount, 3);
    const byDevice = new Map(subs.body.taskDetails.map((d: any) => [d.param.deviceId, d]));
    assert.equal((byDevice.get(online.deviceId) as any).status, 'Success');
    assert.equal((byDevice.get(away.deviceId) as any).status, 'Pending');
    assert.equal((byDevice.get('no-such-device') as any).status, 'Fail');
    assert.equal((byDevice.get('no-such-device') as any).error.errorCode, '100418');
    for (const d of subs.body.taskDetails) assert.deepEqual(Object.keys(d).sort(), ['error', 'output', 'param', 'status']);

    state.appData(A.appId).devices.setStatus(away.deviceId, 'ONLINE');
    await waitFor(async () => (await call('GET', `${P}/tasks/${id}`)).body.status === 'Complete', 5000, 'the task to complete');
    const done = (await call('GET', `${P}/tasks/${id}`)).body;
    assert.equal(done.successCnt, 2);
    assert.equal(done.progress, 100);
    assert.equal(done.successRate, 66);
  });

  it('subtasks: pageSize defaults to 1 (SDK reference); filters by status, deviceId, commandId, index', async () => {
    const devices = [0, 1, 2].map(() => registerDevice(state, A.appId));
    const id = (await create(task({}, { deviceList: devices.map((d) => d.deviceId) }))).body.taskID;
    const one = (await call('GET', `${P}/taskDetails?taskId=${id}`)).body;
    assert.equal(one.pageSize, 1);
    assert.equal(one.pageNo, 0);
    assert.equal(one.totalCount, 3);
    assert.equal(one.taskDetails.length, 1);
    const second = (await call('GET', `${P}/taskDetails?taskId=${id}&pageNo=1&pageSize=1`)).body.taskDetails[0];
    assert.equal(second.param.index, 1);
    const byDevice = (await call('GET', `${P}/taskDetails?taskId=${id}&pageSize=10&deviceId=${devices[2]?.deviceId}`)).body;
    assert.equal(byDevice.totalCount, 1);
    const byCommand = (await call('GET', `${P}/taskDetails?taskId=${id}&pageSize=10&commandId=${byDevice.taskDetails[0].param.commandId}`)).body;
    assert.equal(byCommand.taskDetails[0].param.deviceId, devices[2]?.deviceId);
    assert.equal((await call('GET', `${P}/taskDetails?taskId=${id}&pageSize=10&status=Pending`)).body.totalCount, 3);
    assert.equal((await call('GET', `${P}/taskDetails?taskId=${id}&pageSize=10&status=Success`)).body.totalCount, 0);
    assert.equal((await call('GET', `${P}/taskDetails?taskId=${id}&index=2`)).body.totalCount, 1);
  });

  it('DeviceType and Broadcast select from the registry; a device at its pending limit fails its subtask with 100223', async () => {
    const meter = registerDevice(state, B.appId, { deviceType: 'Meter', model: 'M1' });
    registerDevice(state, B.appId, { deviceType: 'Lamp' });
    const callB = await platformClient(sim.url, B.appId, B.secret);
    const byType = await callB('POST', `${P}/tasks`, task({ appId: B.appId }, { type: 'DeviceType', deviceType: 'Meter', model: 'M1' }));
    const t1 = (await callB('GET', `${P}/tasks/${byType.body.taskID}`)).body;
    assert.equal(t1.totalCnt, 1);
    const sub = (await callB('GET', `${P}/taskDetails?taskId=${byType.body.taskID}`)).body.taskDetails[0];
    assert.equal(sub.param.deviceId, meter.deviceId);
    const all = await callB('POST', `${P}/tasks`, task({ appId: B.appId }, { type: 'Broadcast' }));
    assert.equal((await callB('GET', `${P}/tasks/${all.body.taskID}`)).body.totalCnt, state.appData(B.appId).devices.list().length);

    const full = registerDevice(state, A.appId);
    for (let i = 0; i < MAX_PENDING_PER_DEVICE; i++) await call('POST', `${CMD}/deviceCommands`, { deviceId: full.deviceId, command });
    const over = (await create(task({}, { deviceList: [full.deviceId] }))).body.taskID;
    const detail = (await call('GET', `${P}/taskDetails?taskId=${over}`)).body.taskDetails[0];
    assert.equal(detail.status, 'Fail');
    assert.equal(detail.error.errorCode, '100223');
  });

  it('other task types are accepted and finish at once with no subtasks', async () => {
    const res = await create({ appId: A.appId, timeout: 10, taskName: 'move', taskType: 'DeviceLocation', param: { anything: true }, tags: [{ tagName: 'k', tagValue: 'v' }] });
    assert.equal(res.status, 200);
    const t = (await call('GET', `${P}/tasks/${res.body.taskID}`)).body;
    assert.equal(t.totalCnt, 0);
    assert.equal(t.status, 'Complete');
    assert.deepEqual(t.tags, [{ tagName: 'k', tagValue: 'v' }]);
  });

  describe('validation and apps (100022, 100203, 100217)', () => {
    const bad: Array<[string, unknown]> = [
      ['no appId', { ...task(), appId: undefined }],
      ['timeout 9', task({ timeout: 9 })],
      ['timeout 2881', task({ timeout: 2881 })],
      ['timeout not an integer', task({ timeout: 1.5 })],
      ['taskName longer than 256', task({ taskName: 'n'.repeat(257) })],
      ['unknown taskType', task({ taskType: 'DeviceReboot' })],
      ['param not an object', task({ param: [] })],
      ['DeviceCmd without type', task({ param: { command, deviceList: ['d'] } })],
      ['DeviceList without deviceList', task({}, { deviceList: undefined })],
      ['DeviceType without deviceType', task({}, { type: 'DeviceType' })],
      ['DeviceArea without deviceLocation', task({}, { type: 'DeviceArea' })],
      ['GroupList without groupList', task({}, { type: 'GroupList' })],
      ['command without method', task({}, { deviceList: ['d'], command: { serviceId: 'S', paras: {} } })],
      ['maxRetransmit 4', task({}, { deviceList: ['d'], maxRetransmit: 4 })],
      ['a tag without a value', task({ tags: [{ tagName: 'k' }] }, { deviceList: ['d'] })],
      ['not JSON', '{'],
    ];
    for (const [name, body] of bad) it(name, async () => platformError(await create(body), 400, '100022'));

    it("another app's appId is 100217, an unknown app's 100203", async () => {
      platformError(await create(task({ appId: B.appId }, { deviceList: ['d'] })), 403, '100217');
      platformError(await create(task({ appId: 'nobody' }, { deviceList: ['d'] })), 403, '100203');
      platformError(await call('GET', `${P}/tasks/x?appId=${B.appId}`), 403, '100217');
    });

    it('queries: an unknown task, a missing taskId, bad paging or status → 100022', async () => {
      platformError(await call('GET', `${P}/tasks/no-such-task`), 400, '100022');
      platformError(await call('GET', `${P}/taskDetails`), 400, '100022');
      platformError(await call('GET', `${P}/taskDetails?taskId=no-such-task`), 400, '100022');
      const id = (await create(task({}, { deviceList: ['d'] }))).body.taskID;
      for (const q of ['pageSize=0', 'pageNo=-1', 'status=Done', 'index=x']) {
        platformError(await call('GET', `${P}/taskDetails?taskId=${id}&${q}`), 400, '100022');
      }
    });

    it("a task of another app is not this app's", async () => {
      const id = (await create(task({}, { deviceList: ['d'] }))).body.taskID;
      const callB = await platformClient(sim.url, B.appId, B.secret);
      platformError(await callB('GET', `${P}/tasks/${id}`), 400, '100022');
    });
  });
});
