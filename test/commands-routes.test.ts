// The five command routes end to end through the gateway against the simulator: forwarding, statuses, validation before any platform call, error mapping, Idempotency-Key, the platform-owned appId.
import assert from 'node:assert/strict';
import request from 'supertest';
import { KEYS, type SimCall, type TestGateway, type TestRedis, type TestSimulator, closeAll, startStack, ROUTES } from './helpers/fixtures.js';
import { platformCallsSince, urlOf } from './helpers/routes.js';
import { captureSimulatorState, registerDevice } from './helpers/sim-state.js';
import type { SimulatorState } from '../src/simulator/state.js';
import { MAX_PENDING_PER_DEVICE } from '../src/simulator/families/commands/store.js';

const P = '/iocm/app/cmd/v1.4.0';
const byId = new Map(ROUTES.map((r) => [r.id, r]));
const command = { serviceId: 'WaterMeter', method: 'SET_VALUE', paras: { value: '1' } };

interface Case {
  name: string;
  route: string;
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  /** Every platformCode expected in `details`, order-insensitive. */
  codes: string[];
}

describe('commands routes', () => {
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
  const device = (status?: 'ONLINE') => registerDevice(state, 'app-a', {}, status).deviceId;

  const platformCalls = (since: number): Promise<SimCall[]> => platformCallsSince(sim, since);

  function assertForwarded(call: SimCall | undefined, method: string, path: string) {
    assert.ok(call, 'the platform received no call');
    assert.equal(call.method, method);
    assert.equal(call.path, path);
    assert.equal(call.headers.app_key, 'app-a');
    // The app acts on its own devices: the gateway sends no appId (platform-api.md §1.3).
    assert.ok(!('appId' in call.query), 'no appId in the query');
  }

  describe('forwarding and success statuses', () => {
    it('POST /commands → POST deviceCommands with the body as given; 201 with the platform body', async () => {
      const id = device();
      const body = { deviceId: id, command, callbackUrl: 'https://na.example:8443/cmd', expireTime: 3600, maxRetransmit: 1 };
      const since = Date.now();
      const res = await api().post(urlOf('createCommand')).set('X-Api-Key', key).send(body).expect(201);
      const [call] = await platformCalls(since);
      assertForwarded(call, 'POST', `${P}/deviceCommands`);
      assert.deepEqual(call?.body, body);
      assert.deepEqual(call?.query, {});
      assert.equal(res.body.deviceId, id);
      assert.equal(res.body.status, 'PENDING');
      assert.match(res.body.commandId, /^[0-9a-f]{32}$/);
    });

    it('GET /commands → GET deviceCommands with the query as given; 200 {pagination, data}', async () => {
      const id = device();
      await api().post(urlOf('createCommand')).set('X-Api-Key', key).send({ deviceId: id, command }).expect(201);
      const since = Date.now();
      const res = await api()
        .get(urlOf('listCommands'))
        .query({ deviceId: id, pageNo: '0', pageSize: '10', startTime: '20200101T000000Z', endTime: '20990101T000000Z' })
        .set('X-Api-Key', key)
        .expect(200);
      const [call] = await platformCalls(since);
      assertForwarded(call, 'GET', `${P}/deviceCommands`);
      assert.deepEqual(call?.query, { deviceId: id, pageNo: '0', pageSize: '10', startTime: '20200101T000000Z', endTime: '20990101T000000Z' });
      assert.deepEqual(res.body.pagination, { pageNo: 0, pageSize: 10, totalSize: 1 });
      assert.equal(res.body.data[0].deviceId, id);
    });

    it('PUT /commands/{deviceCommandId} → PUT deviceCommands/{deviceCommandId}; 200 with the canceled command', async () => {
      const created = await api().post(urlOf('createCommand')).set('X-Api-Key', key).send({ deviceId: device(), command }).expect(201);
      const commandId = created.body.commandId as string;
      const since = Date.now();
      const res = await api()
        .put(urlOf('modifyCommand', { deviceCommandId: commandId }))
        .set('X-Api-Key', key)
        .send({ status: 'CANCELED' })
        .expect(200);
      const [call] = await platformCalls(since);
      assertForwarded(call, 'PUT', `${P}/deviceCommands/${commandId}`);
      assert.deepEqual(call?.body, { status: 'CANCELED' });
      assert.equal(res.body.status, 'CANCELED');
    });

    it('POST /command-cancel-tasks → POST deviceCommandCancelTasks; 201; GET /command-cancel-tasks lists it', async () => {
      const id = device();
      await api().post(urlOf('createCommand')).set('X-Api-Key', key).send({ deviceId: id, command }).expect(201);
      const since = Date.now();
      const res = await api().post(urlOf('createCommandCancelTask')).set('X-Api-Key', key).send({ deviceId: id }).expect(201);
      assert.equal(res.body.totalCount, 1);
      assert.equal(res.body.deviceCommands[0].status, 'CANCELED');
      const list = await api()
        .get(urlOf('listCommandCancelTasks'))
        .query({ taskId: res.body.taskId, status: 'SUCCESS' })
        .set('X-Api-Key', key)
        .expect(200);
      assert.equal(list.body.pagination.totalSize, 1);
      const calls = await platformCalls(since);
      assertForwarded(calls[0], 'POST', `${P}/deviceCommandCancelTasks`);
      assert.deepEqual(calls[0]?.body, { deviceId: id });
      assertForwarded(calls[1], 'GET', `${P}/deviceCommandCancelTasks`);
      assert.deepEqual(calls[1]?.query, { taskId: res.body.taskId, status: 'SUCCESS' });
    });
  });

  describe('validation before any platform call', () => {
    const long = (n: number) => 'x'.repeat(n);
    const create = (fields: Record<string, unknown>) => ({ deviceId: 'dev-1', command, ...fields });
    const cases: Case[] = [
      { name: 'empty body', route: 'createCommand', body: {}, codes: ['100022', '100022'] },
      { name: 'deviceId longer than 64', route: 'createCommand', body: create({ deviceId: long(65) }), codes: ['100022'] },
      { name: 'blank deviceId', route: 'createCommand', body: create({ deviceId: '  ' }), codes: ['100022'] },
      { name: 'no command.serviceId', route: 'createCommand', body: create({ command: { method: 'M', paras: {} } }), codes: ['100022'] },
      { name: 'serviceId longer than 64', route: 'createCommand', body: create({ command: { ...command, serviceId: long(65) } }), codes: ['100022'] },
      { name: 'method longer than 128', route: 'createCommand', body: create({ command: { ...command, method: long(129) } }), codes: ['100022'] },
      { name: 'paras missing', route: 'createCommand', body: create({ command: { serviceId: 'S', method: 'M' } }), codes: ['100022'] },
      { name: 'paras not an object', route: 'createCommand', body: create({ command: { ...command, paras: [1] } }), codes: ['100022'] },
      { name: 'callbackUrl longer than 1024', route: 'createCommand', body: create({ callbackUrl: long(1025) }), codes: ['100022'] },
      { name: 'expireTime negative', route: 'createCommand', body: create({ expireTime: -1 }), codes: ['100022'] },
      { name: 'expireTime as text', route: 'createCommand', body: create({ expireTime: '10' }), codes: ['100022'] },
      { name: 'maxRetransmit 4', route: 'createCommand', body: create({ maxRetransmit: 4 }), codes: ['100022'] },
      { name: 'an unknown field', route: 'createCommand', body: create({ priority: 1 }), codes: [] },
      { name: 'an unknown field in command', route: 'createCommand', body: create({ command: { ...command, mode: 'ACK' } }), codes: [] },
      { name: 'not an object', route: 'createCommand', body: [1], codes: ['100022'] },
      { name: 'pageSize 1001', route: 'listCommands', query: { pageSize: '1001' }, codes: ['100022'] },
      { name: 'pageSize 0', route: 'listCommands', query: { pageSize: '0' }, codes: ['100022'] },
      { name: 'pageNo -1', route: 'listCommands', query: { pageNo: '-1' }, codes: ['100022'] },
      { name: 'startTime not compact UTC', route: 'listCommands', query: { startTime: '2024-01-01T00:00:00Z' }, codes: ['100022'] },
      { name: 'endTime 30 February', route: 'listCommands', query: { endTime: '20240230T000000Z' }, codes: ['100022'] },
      { name: 'endTime before startTime', route: 'listCommands', query: { startTime: '20240102T000000Z', endTime: '20240101T000000Z' }, codes: ['100022'] },
      { name: 'endTime equal to startTime', route: 'listCommands', query: { startTime: '20240101T000000Z', endTime: '20240101T000000Z' }, codes: ['100022'] },
      { name: 'a misspelt filter', route: 'listCommands', query: { deviceID: 'd' }, codes: [] },
      { name: 'status other than CANCELED', route: 'modifyCommand', params: { deviceCommandId: 'c1' }, body: { status: 'SENT' }, codes: ['100022'] },
      { name: 'no status', route: 'modifyCommand', params: { deviceCommandId: 'c1' }, body: {}, codes: ['100022'] },
      { name: 'another field beside status', route: 'modifyCommand', params: { deviceCommandId: 'c1' }, body: { status: 'CANCELED', expireTime: 1 }, codes: [] },
      { name: 'a path parameter with a space', route: 'modifyCommand', params: { deviceCommandId: 'a b' }, body: { status: 'CANCELED' }, codes: [] },
      { name: 'no deviceId', route: 'createCommandCancelTask', body: {}, codes: ['100022'] },
      { name: 'deviceId not a string', route: 'createCommandCancelTask', body: { deviceId: 7 }, codes: ['100022'] },
      { name: 'status not a cancel-task status', route: 'listCommandCancelTasks', query: { status: 'DONE' }, codes: ['100022'] },
      { name: 'taskId longer than 64', route: 'listCommandCancelTasks', query: { taskId: long(65) }, codes: ['100022'] },
      { name: 'pageSize 1001 (cancel tasks)', route: 'listCommandCancelTasks', query: { pageSize: '1001' }, codes: ['100022'] },
    ];

    for (const c of cases) {
      it(`${c.route}: ${c.name} → 400, nothing sent`, async () => {
        const spec = byId.get(c.route);
        assert.ok(spec);
        const before = (await sim.calls()).total;
        let req = api()[spec.method.toLowerCase() as 'get' | 'post' | 'put'](urlOf(c.route, c.params)).set('X-Api-Key', key);
        if (c.query) req = req.query(c.query);
        if (c.body !== undefined) req = req.set('Content-Type', 'application/json').send(JSON.stringify(c.body));
        const res = await req;
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error.code, 'VALIDATION_FAILED');
        const codes = (res.body.error.details as Array<{ platformCode?: string }>).map((d) => d.platformCode).filter((x) => x !== undefined);
        assert.deepEqual(codes.sort(), [...c.codes].sort());
        if (c.codes.length > 0) assert.equal(res.body.error.platformCode, c.codes[0]);
        assert.ok(!res.text.includes(long(65)), 'the caller-sent value is not echoed');
        assert.equal((await sim.calls()).total, before, 'an invalid request reached the platform');
      });
    }

    it('lets the valid edges through (pageSize 1000, either time alone, expireTime 0, paras with any keys)', async () => {
      const id = device();
      const valid: Array<[string, Record<string, string>?, unknown?]> = [
        ['listCommands', { pageSize: '1000', pageNo: '0' }],
        ['listCommands', { startTime: '20200101T000000Z' }],
        ['listCommands', { endTime: '20990101T000000Z' }],
        ['listCommandCancelTasks', { status: 'WAITTING', pageSize: '1' }],
        ['createCommand', undefined, { deviceId: id, command: { serviceId: 'S', method: 'M', paras: { any: { nested: [1] } } }, expireTime: 0, maxRetransmit: 0 }],
      ];
      for (const [route, query, body] of valid) {
        const spec = byId.get(route);
        assert.ok(spec);
        let req = api()[spec.method.toLowerCase() as 'get' | 'post'](urlOf(route)).set('X-Api-Key', key);
        if (query) req = req.query(query);
        if (body !== undefined) req = req.send(body as object);
        const res = await req;
        assert.ok(res.status === 200 || res.status === 201, `${route} ${JSON.stringify(query ?? body)}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    });
  });

  describe('the platform-owned appId (contract §9)', () => {
    for (const [where, name] of [
      ['query', 'appId'],
      ['query', 'accessAppId'],
      ['query', 'ownerFlag'],
      ['body', 'appId'],
    ] as const) {
      it(`${where} ${name} from a caller → 400, nothing sent`, async () => {
        const before = (await sim.calls()).total;
        const req =
          where === 'query'
            ? api().get(urlOf('listCommands')).query({ [name]: 'app-b' })
            : api().post(urlOf('createCommand')).send({ deviceId: 'd', command, [name]: 'app-b' });
        const res = await req.set('X-Api-Key', key);
        assert.equal(res.status, 400);
        assert.ok(res.body.error.details.some((d: { field: string }) => d.field === name));
        assert.equal((await sim.calls()).total, before);
      });
    }
  });

  describe('platform errors mapped by meaning, with platformCode', () => {
    it('unknown device (100418, HTTP 200 at the platform) → 404 NOT_FOUND', async () => {
      const res = await api().post(urlOf('createCommand')).set('X-Api-Key', key).send({ deviceId: 'no-such-device', command });
      assert.equal(res.status, 404, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'NOT_FOUND');
      assert.equal(res.body.error.platformCode, '100418');
    });

    it('unknown command (100434) → 404 NOT_FOUND', async () => {
      const res = await api().put(urlOf('modifyCommand', { deviceCommandId: 'c0ffee' })).set('X-Api-Key', key).send({ status: 'CANCELED' });
      assert.equal(res.status, 404, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'NOT_FOUND');
      assert.equal(res.body.error.platformCode, '100434');
    });

    it('cancel of a command no longer pending (100435) → 409 CONFLICT, not retryable', async () => {
      const created = await api().post(urlOf('createCommand')).set('X-Api-Key', key).send({ deviceId: device('ONLINE'), command, expireTime: 0 }).expect(201);
      const res = await api().put(urlOf('modifyCommand', { deviceCommandId: created.body.commandId })).set('X-Api-Key', key).send({ status: 'CANCELED' });
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'CONFLICT');
      assert.equal(res.body.error.platformCode, '100435');
      assert.equal(res.body.error.retryable, false);
    });

    it(`the ${MAX_PENDING_PER_DEVICE + 1}st pending command of a device (100223) → 409 CONFLICT`, async () => {
      const id = device();
      for (let i = 0; i < MAX_PENDING_PER_DEVICE; i++) await api().post(urlOf('createCommand')).set('X-Api-Key', key).send({ deviceId: id, command }).expect(201);
      const res = await api().post(urlOf('createCommand')).set('X-Api-Key', key).send({ deviceId: id, command });
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'CONFLICT');
      assert.equal(res.body.error.platformCode, '100223');
    });

    it("the platform's own input error (100022) → 400 VALIDATION_FAILED", async () => {
      await sim.control('faults', { count: 1, path: '/deviceCommands', status: 400, errorCode: '100022', errorDesc: 'from the simulator' });
      const res = await api().get(urlOf('listCommands')).set('X-Api-Key', key);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'VALIDATION_FAILED');
      assert.equal(res.body.error.platformCode, '100022');
      assert.ok(!res.text.includes('from the simulator'));
    });
  });

  describe('Idempotency-Key on the creating POSTs', () => {
    for (const route of ['createCommand', 'createCommandCancelTask'] as const) {
      it(`${route}: a repeat with the same key and body answers the first 201 without calling the platform again`, async () => {
        const id = device();
        const body = route === 'createCommand' ? { deviceId: id, command } : { deviceId: id };
        const idem = `k-${route}-${Date.now()}`;
        const before = (await sim.calls()).total;
        const first = await api().post(urlOf(route)).set('X-Api-Key', key).set('Idempotency-Key', idem).send(body).expect(201);
        const again = await api().post(urlOf(route)).set('X-Api-Key', key).set('Idempotency-Key', idem).send(body).expect(201);
        assert.deepEqual(again.body, first.body);
        assert.equal(again.headers['idempotent-replayed'], 'true');
        assert.equal((await sim.calls()).total, before + 1, 'one platform call');
        await api().post(urlOf(route)).set('X-Api-Key', key).set('Idempotency-Key', idem).send({ ...body, deviceId: device() }).expect(422);
      });
    }
  });

  // Last: mocha runs a suite's own tests before its nested suites, so this one is nested too.
  describe('the whole suite', () => {
    it('every platform call of this suite named no foreign app (no appId, accessAppId or ownerFlag)', async () => {
      const { log } = await sim.calls();
      const mine = log.filter((c) => c.path.startsWith(P));
      assert.ok(mine.length > 10);
      for (const c of mine) {
        for (const owned of ['appId', 'accessAppId', 'ownerFlag']) assert.ok(!(owned in c.query), `${c.method} ${c.path}?${owned}`);
        if (c.body !== null && typeof c.body === 'object') assert.ok(!('appId' in c.body), `${c.method} ${c.path} body appId`);
      }
    });

    it('/openapi.json documents the five routes with x-platform-api', async () => {
      const doc = (await api().get('/openapi.json').expect(200)).body;
      for (const spec of ROUTES.filter((r) => r.family === 'commands')) {
        const op = doc.paths[`/v1/apps/{appId}${spec.path}`]?.[spec.method.toLowerCase()];
        assert.ok(op, `${spec.id} not documented`);
        assert.deepEqual(op['x-platform-api'], { method: spec.platform.method, path: spec.platform.path });
        assert.ok(op.responses[String(spec.successStatus)]);
      }
    });
  });
});
