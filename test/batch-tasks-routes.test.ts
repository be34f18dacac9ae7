// The three batch-task routes end to end through the gateway against the simulator: the app's appId filled into the body, taskId from the path into the query, validation before any platform call, mapping, Idempotency-Key.
import assert from 'node:assert/strict';
import request from 'supertest';
import { KEYS, type SimCall, type TestGateway, type TestRedis, type TestSimulator, closeAll, startStack, ROUTES } from './helpers/fixtures.js';
import { platformCallsSince, urlOf } from './helpers/routes.js';
import { captureSimulatorState, registerDevice } from './helpers/sim-state.js';
import type { SimulatorState } from '../src/simulator/state.js';

const P = '/iocm/app/batchtask/v1.1.0';
const byId = new Map(ROUTES.map((r) => [r.id, r]));
const command = { serviceId: 'WaterMeter', method: 'SET_VALUE', paras: { value: '1' } };

const task = (fields: Record<string, unknown> = {}, param: Record<string, unknown> = {}) => ({
  timeout: 60,
  taskName: 'nightly',
  taskType: 'DeviceCmd',
  param: { type: 'DeviceList', deviceList: ['dev-1'], command, ...param },
  ...fields,
});

describe('batch-tasks routes', () => {
  const stateOf = captureSimulatorState();
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: TestGateway;
  let state: SimulatorState;

  before(async () => {
    ({ redis, sim, gw } = await startStack({ rate: 100_000 }));
    state = stateOf();
  });
  after(() => closeAll(gw, sim, redis));

  const api = () => request(gw.url);
  const key = KEYS.all;

  const platformCalls = (since: number): Promise<SimCall[]> => platformCallsSince(sim, since);

  describe('forwarding and success statuses', () => {
    it("POST /batch-tasks → POST tasks with the app's appId filled into the body; 201 {taskID}; then the task and its subtasks", async () => {
      const devices = [registerDevice(state, 'app-a', {}, 'ONLINE'), registerDevice(state, 'app-a')].map((d) => d.deviceId);
      const body = task({ tags: [{ tagName: 'site', tagValue: 'north' }] }, { deviceList: devices, callbackUrl: 'https://na.example:8443/cb' });
      const since = Date.now();
      const created = await api().post(urlOf('createBatchTask')).set('X-Api-Key', key).send(body).expect(201);
      assert.deepEqual(Object.keys(created.body), ['taskID']);
      const taskId = created.body.taskID as string;

      const one = await api().get(urlOf('getBatchTask', { taskId })).query({ select: 'tag' }).set('X-Api-Key', key).expect(200);
      assert.equal(one.body.taskId, taskId);
      assert.equal(one.body.totalCnt, 2);
      const subs = await api()
        .get(urlOf('listBatchSubtasks', { taskId }))
        .query({ pageNo: '0', pageSize: '10', status: 'Pending' })
        .set('X-Api-Key', key)
        .expect(200);
      assert.equal(subs.body.totalCount, 1);
      assert.equal(subs.body.taskDetails[0].param.deviceId, devices[1]);

      const calls = await platformCalls(since);
      assert.deepEqual(
        calls.map((c) => `${c.method} ${c.path}`),
        [`POST ${P}/tasks`, `GET ${P}/tasks/${taskId}`, `GET ${P}/taskDetails`],
      );
      for (const c of calls) assert.equal(c.headers.app_key, 'app-a');
      assert.deepEqual(calls[0]?.body, { ...body, appId: 'app-a' });
      assert.deepEqual(calls[1]?.query, { select: 'tag' });
      // taskId is a query parameter at the platform: the gateway moves it there from the path.
      assert.deepEqual(calls[2]?.query, { pageNo: '0', pageSize: '10', status: 'Pending', taskId });
    });

    it('other task types pass their undocumented param on as given', async () => {
      const body = { timeout: 10, taskName: 'move', taskType: 'DeviceLocation', param: { anything: { nested: true } } };
      const since = Date.now();
      await api().post(urlOf('createBatchTask')).set('X-Api-Key', key).send(body).expect(201);
      assert.deepEqual((await platformCalls(since))[0]?.body, { ...body, appId: 'app-a' });
    });
  });

  describe('validation before any platform call (no platform code: the batch APIs document none)', () => {
    const cases: Array<{ name: string; route: string; params?: Record<string, string>; query?: Record<string, string>; body?: unknown; fields?: string[] }> = [
      { name: 'empty body', route: 'createBatchTask', body: {}, fields: ['timeout', 'taskName', 'taskType', 'param'] },
      { name: 'timeout 9', route: 'createBatchTask', body: task({ timeout: 9 }), fields: ['timeout'] },
      { name: 'timeout 2881', route: 'createBatchTask', body: task({ timeout: 2881 }), fields: ['timeout'] },
      { name: 'taskName longer than 256', route: 'createBatchTask', body: task({ taskName: 'n'.repeat(257) }), fields: ['taskName'] },
      { name: 'unknown taskType', route: 'createBatchTask', body: task({ taskType: 'DeviceReboot' }), fields: ['taskType'] },
      { name: 'an unknown field', route: 'createBatchTask', body: task({ priority: 1 }), fields: ['priority'] },
      { name: 'DeviceCmd: unknown selector', route: 'createBatchTask', body: task({}, { type: 'Everything' }), fields: ['param.type'] },
      { name: 'DeviceCmd: an unknown param field', route: 'createBatchTask', body: task({}, { expireTime: 5 }), fields: ['param.expireTime'] },
      { name: 'DeviceCmd: DeviceList without deviceList', route: 'createBatchTask', body: task({}, { deviceList: undefined }), fields: ['param.deviceList'] },
      { name: 'DeviceCmd: DeviceType without deviceType', route: 'createBatchTask', body: task({}, { type: 'DeviceType', deviceList: undefined }), fields: ['param.deviceType'] },
      { name: 'DeviceCmd: no command', route: 'createBatchTask', body: task({}, { command: undefined }), fields: ['param.command'] },
      { name: 'DeviceCmd: command.method longer than 128', route: 'createBatchTask', body: task({}, { command: { ...command, method: 'm'.repeat(129) } }), fields: ['param.command.method'] },
      { name: 'DeviceCmd: callbackUrl longer than 1024', route: 'createBatchTask', body: task({}, { callbackUrl: 'u'.repeat(1025) }), fields: ['param.callbackUrl'] },
      { name: 'DeviceCmd: maxRetransmit 4', route: 'createBatchTask', body: task({}, { maxRetransmit: 4 }), fields: ['param.maxRetransmit'] },
      { name: 'a tag without its value', route: 'createBatchTask', body: task({ tags: [{ tagName: 'k' }] }), fields: ['tags[0].tagValue'] },
      { name: 'an unknown query key', route: 'getBatchTask', params: { taskId: 't1' }, query: { fields: 'x' }, fields: ['fields'] },
      { name: 'a bad taskId', route: 'getBatchTask', params: { taskId: 'a b' }, fields: ['taskId'] },
      { name: 'unknown subtask status', route: 'listBatchSubtasks', params: { taskId: 't1' }, query: { status: 'Done' }, fields: ['status'] },
      { name: 'pageSize 0', route: 'listBatchSubtasks', params: { taskId: 't1' }, query: { pageSize: '0' }, fields: ['pageSize'] },
      { name: 'index -1', route: 'listBatchSubtasks', params: { taskId: 't1' }, query: { index: '-1' }, fields: ['index'] },
      { name: 'taskId in the query too', route: 'listBatchSubtasks', params: { taskId: 't1' }, query: { taskId: 't2' }, fields: ['taskId'] },
    ];
    for (const c of cases) {
      it(`${c.route}: ${c.name} → 400, nothing sent`, async () => {
        const spec = byId.get(c.route);
        assert.ok(spec);
        const before = (await sim.calls()).total;
        let req = api()[spec.method.toLowerCase() as 'get' | 'post'](urlOf(c.route, c.params)).set('X-Api-Key', key);
        if (c.query) req = req.query(c.query);
        if (c.body !== undefined) req = req.set('Content-Type', 'application/json').send(JSON.stringify(c.body));
        const res = await req;
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error.code, 'VALIDATION_FAILED');
        const details = res.body.error.details as Array<{ field: string; platformCode?: string }>;
        if (c.fields) assert.deepEqual(details.map((d) => d.field).sort(), [...c.fields].sort());
        assert.ok(details.every((d) => d.platformCode === undefined));
        assert.equal((await sim.calls()).total, before, 'an invalid request reached the platform');
      });
    }
  });

  describe('the platform-owned appId (contract §9)', () => {
    it('a caller-sent appId in the body or the query → 400, nothing sent', async () => {
      const before = (await sim.calls()).total;
      const inBody = await api().post(urlOf('createBatchTask')).set('X-Api-Key', key).send({ ...task(), appId: 'app-b' });
      assert.equal(inBody.status, 400);
      assert.deepEqual(inBody.body.error.details.map((d: { field: string }) => d.field), ['appId']);
      const inQuery = await api().get(urlOf('getBatchTask', { taskId: 't1' })).query({ appId: 'app-b' }).set('X-Api-Key', key);
      assert.equal(inQuery.status, 400);
      const accessAppId = await api().get(urlOf('listBatchSubtasks', { taskId: 't1' })).query({ accessAppId: 'app-b' }).set('X-Api-Key', key);
      assert.equal(accessAppId.status, 400);
      assert.equal((await sim.calls()).total, before);
    });

    it("app-b's task is created for app-b: the body carries the path's app", async () => {
      const since = Date.now();
      await api().post(urlOf('createBatchTask', {}, 'app-b')).set('X-Api-Key', key).send(task()).expect(201);
      const [call] = await platformCalls(since);
      assert.equal(call?.headers.app_key, 'app-b');
      assert.equal((call?.body as { appId: string }).appId, 'app-b');
    });
  });

  describe('platform errors and Idempotency-Key', () => {
    it("an unknown task: the platform's 100022 → 400 VALIDATION_FAILED with platformCode", async () => {
      const res = await api().get(urlOf('getBatchTask', { taskId: 'no-such-task' })).set('X-Api-Key', key);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'VALIDATION_FAILED');
      assert.equal(res.body.error.platformCode, '100022');
    });

    it('a repeat of the create with the same key answers the first 201 without a second platform call', async () => {
      const idem = `batch-${Date.now()}`;
      const before = (await sim.calls()).total;
      const first = await api().post(urlOf('createBatchTask')).set('X-Api-Key', key).set('Idempotency-Key', idem).send(task()).expect(201);
      const again = await api().post(urlOf('createBatchTask')).set('X-Api-Key', key).set('Idempotency-Key', idem).send(task()).expect(201);
      assert.deepEqual(again.body, first.body);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.equal((await sim.calls()).total, before + 1);
      await api().post(urlOf('createBatchTask')).set('X-Api-Key', key).set('Idempotency-Key', idem).send(task({ taskName: 'other' })).expect(422);
    });
  });

  describe('the whole suite', () => {
    it("every batch call the platform received named the path's own app, never a foreign one", async () => {
      const { log } = await sim.calls();
      const mine = log.filter((c) => c.path.startsWith(P));
      assert.ok(mine.length >= 5);
      for (const c of mine) {
        for (const owned of ['appId', 'accessAppId', 'ownerFlag']) assert.ok(!(owned in c.query), `${c.method} ${c.path}?${owned}`);
        if (c.method === 'POST') assert.equal((c.body as { appId: string }).appId, c.headers.app_key);
      }
    });

    it('/openapi.json documents the three routes with x-platform-api; the DeviceCmd param shape is conditional on taskType', async () => {
      const doc = (await api().get('/openapi.json').expect(200)).body;
      for (const spec of ROUTES.filter((r) => r.family === 'batch-tasks')) {
        const op = doc.paths[`/v1/apps/{appId}${spec.path}`]?.[spec.method.toLowerCase()];
        assert.ok(op, `${spec.id} not documented`);
        assert.deepEqual(op['x-platform-api'], { method: spec.platform.method, path: spec.platform.path });
        assert.ok(op.responses[String(spec.successStatus)]);
      }
      const schema = doc.paths['/v1/apps/{appId}/batch-tasks'].post.requestBody.content['application/json'].schema;
      const shape = JSON.stringify(schema);
      assert.match(shape, /"const":"DeviceCmd"/);
      assert.ok(!('appId' in schema.properties), 'appId is the gateway\'s');
    });
  });
});
