// The simulator's command APIs directly over HTTP: states and their pushes, the pending limit, cancels, pagination, validation codes, legacy paths.
import assert from 'node:assert/strict';
import { closeAll, sleep, startTestSimulator, TEST_APPS, waitFor, type TestSimulator } from './helpers/fixtures.js';
import { captureSimulatorState, platformClient, registerDevice, type PlatformAnswer } from './helpers/sim-state.js';
import type { SimulatorState } from '../src/simulator/state.js';
import { DELIVER_MS, EXECUTE_MS, MAX_PENDING_PER_DEVICE, TIMEOUT_MS } from '../src/simulator/families/commands/store.js';

const P = '/iocm/app/cmd/v1.4.0';
const LEGACY = '/iocm/app/cmd/v1.2.0';
const [A, B] = TEST_APPS as [(typeof TEST_APPS)[number], (typeof TEST_APPS)[number]];
const command = (method = 'SET_VALUE') => ({ serviceId: 'WaterMeter', method, paras: { value: '1' } });
/** Long enough for a sent command to reach its final status. */
const SETTLE_MS = DELIVER_MS + EXECUTE_MS + TIMEOUT_MS + 100;

describe('simulator: commands', () => {
  const stateOf = captureSimulatorState();
  let sim: TestSimulator;
  let state: SimulatorState;
  let call: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<PlatformAnswer>;
  let pushes: Array<{ appId: string; body: any }>;

  before(async () => {
    sim = await startTestSimulator({}, { direct: true });
    state = stateOf();
    call = await platformClient(sim.url, A.appId, A.secret);
  });
  after(() => closeAll(sim));
  let stopListening: () => void;
  beforeEach(() => {
    pushes = [];
    stopListening = state.onNotify((appId, body) => void pushes.push({ appId, body }));
  });
  afterEach(() => stopListening());

  const pushedStatuses = (commandId: string) =>
    pushes.filter((p) => p.body.commandId === commandId).map((p) => p.body.result.resultCode as string);
  const device = (status?: 'ONLINE' | 'OFFLINE') => registerDevice(state, A.appId, {}, status);
  const create = (body: Record<string, unknown>) => call('POST', `${P}/deviceCommands`, body);
  const platformError = (res: PlatformAnswer, status: number, code: string) => {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error_code, code);
    assert.equal(typeof res.body.error_desc, 'string');
  };

  describe('create and the documented states', () => {
    it('a command to a device that is not online stays PENDING (201, DeviceCommandResp) until the device comes ONLINE, then goes SENT → DELIVERED → SUCCESSFUL, each change pushed', async () => {
      const d = device();
      const res = await create({ deviceId: d.deviceId, command: command(), callbackUrl: 'https://na.example:8443/cmd', maxRetransmit: 2 });
      assert.equal(res.status, 201);
      const c = res.body;
      assert.match(c.commandId, /^[0-9a-f]{32}$/);
      assert.equal(c.appId, A.appId);
      assert.equal(c.deviceId, d.deviceId);
      assert.deepEqual(c.command, command());
      assert.equal(c.callbackUrl, 'https://na.example:8443/cmd');
      assert.equal(c.expireTime, 172800, 'the documented default of 48 h');
      assert.equal(c.maxRetransmit, 2);
      assert.equal(c.status, 'PENDING');
      assert.match(c.creationTime, /^\d{8}T\d{6}Z$/);
      assert.equal(c.issuedTimes, 0);
      await sleep(SETTLE_MS);
      assert.deepEqual(pushedStatuses(c.commandId), ['PENDING'], 'nothing happens while the device is away');

      state.appData(A.appId).devices.setStatus(d.deviceId, 'ONLINE');
      await waitFor(() => pushedStatuses(c.commandId).length === 4, 5000, 'the pushes');
      assert.deepEqual(pushedStatuses(c.commandId), ['PENDING', 'SENT', 'DELIVERED', 'SUCCESSFUL']);
      const last = pushes.filter((p) => p.body.commandId === c.commandId).at(-1);
      assert.equal(last?.appId, A.appId);
      // The platform's push body (platform-api.md §6.5): no notifyType.
      assert.deepEqual(Object.keys(last?.body ?? {}).sort(), ['commandId', 'deviceId', 'result']);
      assert.deepEqual(Object.keys(last?.body.result ?? {}).sort(), ['resultCode', 'resultDetail']);
      // The push says nothing of where it goes: the store tells the part that delivers it.
      assert.equal(state.appData(A.appId).commands.callbackUrlOf(c.commandId), 'https://na.example:8443/cmd');

      const list = await call('GET', `${P}/deviceCommands?deviceId=${d.deviceId}`);
      const [shown] = list.body.data;
      assert.equal(shown.status, 'SUCCESSFUL');
      assert.equal(shown.issuedTimes, 1);
      for (const t of ['platformIssuedTime', 'deliveredTime', 'executeTime']) assert.match(shown[t], /^\d{8}T\d{6}Z$/, t);
      assert.equal(shown.result.resultCode, 'SUCCESSFUL');
    });

    it('pending commands go out in order when the device comes online', async () => {
      const d = device();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await create({ deviceId: d.deviceId, command: command() })).body.commandId);
      state.appData(A.appId).devices.setStatus(d.deviceId, 'ONLINE');
      await waitFor(() => ids.every((id) => pushedStatuses(id).at(-1) === 'SUCCESSFUL'), 5000, 'all three done');
      const sentOrder = pushes.filter((p) => p.body.result.resultCode === 'SENT' && ids.includes(p.body.commandId)).map((p) => p.body.commandId);
      assert.deepEqual(sentOrder, ids);
    });

    it('a command to an ONLINE device is sent at once and reaches SUCCESSFUL without any read', async () => {
      const d = device('ONLINE');
      const res = await create({ deviceId: d.deviceId, command: command(), expireTime: 30 });
      assert.equal(res.status, 201);
      assert.equal(res.body.status, 'SENT');
      await waitFor(() => pushedStatuses(res.body.commandId).at(-1) === 'SUCCESSFUL', 5000, 'the final push');
      assert.deepEqual(pushedStatuses(res.body.commandId), ['PENDING', 'SENT', 'DELIVERED', 'SUCCESSFUL']);
    });

    it('expireTime 0 starts at SENT: delivered to an online device, lost (TIMEOUT) on a sleeping one', async () => {
      const online = device('ONLINE');
      const asleep = device('OFFLINE');
      const ok = await create({ deviceId: online.deviceId, command: command(), expireTime: 0 });
      const lost = await create({ deviceId: asleep.deviceId, command: command(), expireTime: 0 });
      assert.equal(ok.body.status, 'SENT');
      assert.equal(lost.body.status, 'SENT');
      await sleep(SETTLE_MS);
      assert.deepEqual(pushedStatuses(ok.body.commandId), ['SENT', 'DELIVERED', 'SUCCESSFUL']);
      assert.deepEqual(pushedStatuses(lost.body.commandId), ['SENT', 'TIMEOUT']);
    });

    it('a command the device fails (method containing "fail") ends FAILED', async () => {
      const d = device('ONLINE');
      const res = await create({ deviceId: d.deviceId, command: command('FAIL_ME'), expireTime: 0 });
      await waitFor(() => pushedStatuses(res.body.commandId).at(-1) === 'FAILED', 5000, 'FAILED');
    });

    it('a cached command that outlives expireTime ends EXPIRED', async () => {
      const d = device();
      const res = await create({ deviceId: d.deviceId, command: command(), expireTime: 1 });
      await waitFor(() => pushedStatuses(res.body.commandId).at(-1) === 'EXPIRED', 5000, 'EXPIRED');
      state.appData(A.appId).devices.setStatus(d.deviceId, 'ONLINE');
      await sleep(DELIVER_MS + 50);
      assert.deepEqual(pushedStatuses(res.body.commandId), ['PENDING', 'EXPIRED'], 'an expired command is never sent');
    });

    it(`at most ${MAX_PENDING_PER_DEVICE} PENDING commands per device: the next is 400 100223`, async () => {
      const d = device();
      for (let i = 0; i < MAX_PENDING_PER_DEVICE; i++) assert.equal((await create({ deviceId: d.deviceId, command: command() })).status, 201);
      platformError(await create({ deviceId: d.deviceId, command: command() }), 400, '100223');
      // Another device is not affected, and canceling one frees a place.
      assert.equal((await create({ deviceId: device().deviceId, command: command() })).status, 201);
      const [first] = (await call('GET', `${P}/deviceCommands?deviceId=${d.deviceId}&pageSize=1`)).body.data;
      assert.equal((await call('PUT', `${P}/deviceCommands/${first.commandId}`, { status: 'CANCELED' })).status, 200);
      assert.equal((await create({ deviceId: d.deviceId, command: command() })).status, 201);
    });

    it('an unknown device is 100418, with the HTTP 200 the command APIs document', async () => {
      platformError(await create({ deviceId: 'no-such-device', command: command() }), 200, '100418');
    });
  });

  describe('cancel one (PUT deviceCommands/{id})', () => {
    it('cancels a PENDING command (200, CANCELED, pushed); any other status is 100435; an unknown ID 100434 (both HTTP 200)', async () => {
      const d = device();
      const c = (await create({ deviceId: d.deviceId, command: command() })).body;
      const res = await call('PUT', `${P}/deviceCommands/${c.commandId}`, { status: 'CANCELED' });
      assert.equal(res.status, 200);
      assert.equal(res.body.status, 'CANCELED');
      assert.equal(res.body.commandId, c.commandId);
      assert.deepEqual(pushedStatuses(c.commandId), ['PENDING', 'CANCELED']);
      platformError(await call('PUT', `${P}/deviceCommands/${c.commandId}`, { status: 'CANCELED' }), 200, '100435');
      const sent = (await create({ deviceId: device('ONLINE').deviceId, command: command(), expireTime: 0 })).body;
      platformError(await call('PUT', `${P}/deviceCommands/${sent.commandId}`, { status: 'CANCELED' }), 200, '100435');
      platformError(await call('PUT', `${P}/deviceCommands/00000000000000000000000000000000`, { status: 'CANCELED' }), 200, '100434');
      // A canceled command is not sent when the device comes online.
      state.appData(A.appId).devices.setStatus(d.deviceId, 'ONLINE');
      await sleep(DELIVER_MS + 50);
      assert.deepEqual(pushedStatuses(c.commandId), ['PENDING', 'CANCELED']);
    });

    it('only status CANCELED is accepted (100022)', async () => {
      const c = (await create({ deviceId: device().deviceId, command: command() })).body;
      for (const body of [{ status: 'SENT' }, {}, { status: 'canceled' }, 'not json']) {
        platformError(await call('PUT', `${P}/deviceCommands/${c.commandId}`, body), 400, '100022');
      }
    });
  });

  describe('cancel all pending of a device (deviceCommandCancelTasks)', () => {
    it('cancels every PENDING command of the device: 201 with the task, its count and the canceled commands; then listed', async () => {
      const d = device();
      const other = device();
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await create({ deviceId: d.deviceId, command: command() })).body.commandId);
      const untouched = (await create({ deviceId: other.deviceId, command: command() })).body.commandId;
      const res = await call('POST', `${P}/deviceCommandCancelTasks`, { deviceId: d.deviceId });
      assert.equal(res.status, 201);
      assert.match(res.body.taskId, /^[0-9a-f]{32}$/);
      assert.equal(res.body.appId, A.appId);
      assert.equal(res.body.deviceId, d.deviceId);
      assert.equal(res.body.status, 'SUCCESS');
      assert.equal(res.body.totalCount, 3);
      assert.deepEqual(res.body.deviceCommands.map((c: { commandId: string }) => c.commandId).sort(), [...ids].sort());
      assert.ok(res.body.deviceCommands.every((c: { status: string }) => c.status === 'CANCELED'));
      for (const id of ids) assert.deepEqual(pushedStatuses(id), ['PENDING', 'CANCELED']);
      assert.deepEqual(pushedStatuses(untouched), ['PENDING']);

      const list = await call('GET', `${P}/deviceCommandCancelTasks?deviceId=${d.deviceId}`);
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.pagination, { pageNo: 0, pageSize: 1000, totalSize: 1 });
      assert.equal(list.body.data[0].taskId, res.body.taskId);
      const byId = await call('GET', `${P}/deviceCommandCancelTasks?taskId=${res.body.taskId}&status=SUCCESS`);
      assert.equal(byId.body.pagination.totalSize, 1);
      const none = await call('GET', `${P}/deviceCommandCancelTasks?taskId=${res.body.taskId}&status=FAILED`);
      assert.equal(none.body.pagination.totalSize, 0);
      assert.deepEqual(none.body.data, []);
    });

    it('a device with nothing pending: a task with totalCount 0; an unknown device 100418; a bad body 100022', async () => {
      const res = await call('POST', `${P}/deviceCommandCancelTasks`, { deviceId: device().deviceId });
      assert.equal(res.status, 201);
      assert.equal(res.body.totalCount, 0);
      platformError(await call('POST', `${P}/deviceCommandCancelTasks`, { deviceId: 'no-such-device' }), 200, '100418');
      platformError(await call('POST', `${P}/deviceCommandCancelTasks`, {}), 400, '100022');
      platformError(await call('POST', `${P}/deviceCommandCancelTasks`, { deviceId: 'x'.repeat(65) }), 400, '100022');
    });
  });

  describe('queries', () => {
    it('{pagination{pageNo,pageSize,totalSize}, data}, newest first, paged, filtered by device and creation time', async () => {
      const d = device();
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await create({ deviceId: d.deviceId, command: command() })).body.commandId);
      const p1 = await call('GET', `${P}/deviceCommands?deviceId=${d.deviceId}&pageNo=1&pageSize=2`);
      assert.equal(p1.status, 200);
      assert.deepEqual(p1.body.pagination, { pageNo: 1, pageSize: 2, totalSize: 5 });
      assert.deepEqual(p1.body.data.map((c: { commandId: string }) => c.commandId), [ids[2], ids[1]]);
      const all = await call('GET', `${P}/deviceCommands`);
      assert.equal(all.body.pagination.pageSize, 1000, 'the documented default');
      assert.ok(all.body.pagination.totalSize >= 5);
      const future = await call('GET', `${P}/deviceCommands?deviceId=${d.deviceId}&startTime=20990101T000000Z`);
      assert.equal(future.body.pagination.totalSize, 0);
      const past = await call('GET', `${P}/deviceCommands?deviceId=${d.deviceId}&startTime=20200101T000000Z&endTime=20990101T000000Z`);
      assert.equal(past.body.pagination.totalSize, 5);
      platformError(await call('GET', `${P}/deviceCommands?deviceId=no-such-device`), 200, '100418');
    });

    const badQueries = [
      'pageSize=0',
      'pageSize=1001',
      'pageNo=-1',
      'pageNo=x',
      'startTime=2024-01-01',
      'endTime=20240230T000000Z',
      'startTime=20240102T000000Z&endTime=20240101T000000Z',
      `deviceId=${'d'.repeat(65)}`,
    ];
    for (const q of badQueries) {
      it(`GET deviceCommands?${q.slice(0, 60)} → 400 100022`, async () => {
        platformError(await call('GET', `${P}/deviceCommands?${q}`), 400, '100022');
      });
    }
    it('cancel task list: bad status or paging → 100022', async () => {
      platformError(await call('GET', `${P}/deviceCommandCancelTasks?status=DONE`), 400, '100022');
      platformError(await call('GET', `${P}/deviceCommandCancelTasks?pageSize=1001`), 400, '100022');
    });
  });

  describe('create: validation (100022)', () => {
    const d = () => device().deviceId;
    const cases: Array<[string, (id: string) => unknown]> = [
      ['no deviceId', () => ({ command: command() })],
      ['deviceId longer than 64', () => ({ deviceId: 'd'.repeat(65), command: command() })],
      ['no command', (id) => ({ deviceId: id })],
      ['serviceId longer than 64', (id) => ({ deviceId: id, command: { ...command(), serviceId: 's'.repeat(65) } })],
      ['method longer than 128', (id) => ({ deviceId: id, command: { ...command(), method: 'm'.repeat(129) } })],
      ['paras not an object', (id) => ({ deviceId: id, command: { ...command(), paras: 'x' } })],
      ['callbackUrl longer than 1024', (id) => ({ deviceId: id, command: command(), callbackUrl: `https://x/${'a'.repeat(1020)}` })],
      ['expireTime negative', (id) => ({ deviceId: id, command: command(), expireTime: -1 })],
      ['maxRetransmit 4', (id) => ({ deviceId: id, command: command(), maxRetransmit: 4 })],
      ['not JSON', () => '{'],
    ];
    for (const [name, body] of cases) {
      it(name, async () => platformError(await create(body(d()) as Record<string, unknown>), 400, '100022'));
    }
  });

  describe('apps, tokens and paths', () => {
    it("the appId query: the app's own is accepted, another app's is 100217, an unknown one 100203", async () => {
      const id = device().deviceId;
      assert.equal((await call('POST', `${P}/deviceCommands?appId=${A.appId}`, { deviceId: id, command: command() })).status, 201);
      platformError(await call('POST', `${P}/deviceCommands?appId=${B.appId}`, { deviceId: id, command: command() }), 200, '100217');
      platformError(await call('GET', `${P}/deviceCommands?appId=nobody`), 200, '100203');
    });

    it("another app's devices and commands are not this app's", async () => {
      const other = registerDevice(state, B.appId);
      platformError(await create({ deviceId: other.deviceId, command: command() }), 200, '100418');
      const callB = await platformClient(sim.url, B.appId, B.secret);
      const mine = (await create({ deviceId: device().deviceId, command: command() })).body;
      platformError(await callB('PUT', `${P}/deviceCommands/${mine.commandId}`, { status: 'CANCELED' }), 200, '100434');
    });

    it('without a valid token: 1010005 on the command paths only (other paths are not answered 403 by this part)', async () => {
      const res = await fetch(`${sim.url}${P}/deviceCommands`, { headers: { app_key: A.appId, authorization: 'Bearer nope' } });
      assert.equal(res.status, 403);
      assert.equal(((await res.json()) as { error_code: string }).error_code, '1010005');
      const elsewhere = await fetch(`${sim.url}/iocm/app/nothing-here`, { headers: { app_key: A.appId, authorization: 'Bearer nope' } });
      assert.equal(elsewhere.status, 404);
    });
  });

  describe('legacy v1.2.0 paths (platform-api.md §9)', () => {
    it('POST devices/{deviceId}/commands, GET queryCmd, POST cancelCmd act as their v1.4.0 counterparts', async () => {
      const d = device();
      const created = await call('POST', `${LEGACY}/devices/${d.deviceId}/commands`, { command: command(), expireTime: 60, requestId: 'r-1' });
      assert.equal(created.status, 201);
      assert.equal(created.body.deviceId, d.deviceId);
      assert.equal(created.body.status, 'PENDING');
      const q = await call('GET', `${LEGACY}/queryCmd?deviceId=${d.deviceId}`);
      assert.equal(q.status, 200);
      assert.equal(q.body.data[0].commandId, created.body.commandId);
      const canceled = await call('POST', `${LEGACY}/cancelCmd`, { deviceId: d.deviceId });
      assert.equal(canceled.status, 201);
      assert.equal(canceled.body.totalCount, 1);
    });
  });

  describe('reset', () => {
    it("a control reset forgets the commands, and the old commands' timers push nothing afterwards", async () => {
      const d = device('ONLINE');
      const c = (await create({ deviceId: d.deviceId, command: command() })).body;
      await sim.reset();
      const before = pushes.length;
      await sleep(SETTLE_MS);
      assert.equal(pushes.length, before, 'no push after the reset');
      call = await platformClient(sim.url, A.appId, A.secret);
      platformError(await call('PUT', `${P}/deviceCommands/${c.commandId}`, { status: 'CANCELED' }), 200, '100434');
    });
  });
});
