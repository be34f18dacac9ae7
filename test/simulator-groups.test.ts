// The simulator's device groups over HTTP (platform-api.md §7.2): CRUD, names, members from the device registry, paging, errors as the platform answers them.
import { strict as assert } from 'node:assert';
import request from 'supertest';
import type { Test } from 'supertest';
import { DeviceRegistry } from '../src/simulator/families/devices/registry.js';
import { GroupStore } from '../src/simulator/families/groups/store.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/server.js';

const LOGIN = '/iocm/app/sec/v1.1.0/login';
const GROUPS = '/iocm/app/devgroup/v1.3.0/devGroups';
const MEMBERS = '/iocm/app/dm/v1.2.0/devices/ids';
const ADD = '/iocm/app/dm/v1.1.0/devices/addDevGroupTagToDevices';
const REMOVE = '/iocm/app/dm/v1.1.0/devices/deleteDevGroupTagFromDevices';

describe('simulator: device groups', () => {
  let sim: RunningSimulator;
  let token: string;
  const api = () => request(sim.url);
  const authed = (t: Test, app = 'demo-app', tok = token): Test => t.set('app_key', app).set('Authorization', `Bearer ${tok}`);
  const get = (path: string): Test => authed(api().get(path));
  const post = (path: string, body: unknown): Test => authed(api().post(path)).send(body as object);
  const put = (path: string, body: unknown): Test => authed(api().put(path)).send(body as object);
  const del = (path: string): Test => authed(api().delete(path));
  const expectError = (res: request.Response, status: number, code: string): void => {
    assert.equal(res.status, status, res.text);
    assert.equal(res.body.error_code, code, res.text);
    assert.equal(typeof res.body.error_desc, 'string');
  };
  const device = async (nodeId: string, appId = 'demo-app'): Promise<string> =>
    (await api().post('/__control/devices').send({ appId, nodeId }).expect(201)).body.deviceId as string;
  const create = async (body: object): Promise<Record<string, any>> => (await post(GROUPS, body).expect(200)).body;

  before(async () => {
    sim = await startSimulator({ quiet: true });
  });
  after(() => sim.close());
  beforeEach(async () => {
    await api().post('/__control/reset').expect(200);
    token = (await api().post(LOGIN).type('form').send({ appId: 'demo-app', secret: 'demo-secret' }).expect(200)).body.accessToken;
  });

  it('creates a group (200, the documented fields), gets it, and counts its members', async () => {
    const [a, b] = [await device('n-1'), await device('n-2')];
    const g = await create({ name: 'North1', description: 'north side', maxDevNum: 5, deviceIds: [a, b] });
    assert.deepEqual(Object.keys(g).sort(), ['appId', 'curDevNum', 'description', 'deviceIds', 'id', 'maxDevNum', 'name']);
    assert.equal(g.name, 'North1');
    assert.equal(g.appId, 'demo-app');
    assert.equal(g.curDevNum, 2);
    assert.deepEqual(g.deviceIds, [a, b]);
    const one = (await get(`${GROUPS}/${g.id}`).expect(200)).body;
    assert.deepEqual(one, { name: 'North1', description: 'north side', id: g.id, appId: 'demo-app', maxDevNum: 5, curDevNum: 2, creator: 'demo-app' });
    // A chosen ID is kept; defaults: empty description, maxDevNum 0 (no limit).
    const chosen = await create({ name: 'South', id: 'grp-south' });
    assert.equal(chosen.id, 'grp-south');
    assert.equal(chosen.maxDevNum, 0);
    assert.equal(chosen.curDevNum, 0);
  });

  it('refuses a taken name (100602, HTTP 200 as the group pages list it), an unknown device (100418) and an overfull group (100601)', async () => {
    await create({ name: 'Taken' });
    expectError(await post(GROUPS, { name: 'Taken' }), 200, '100602');
    expectError(await post(GROUPS, { name: 'Other', deviceIds: ['no-such-device'] }), 404, '100418');
    const [a, b] = [await device('f-1'), await device('f-2')];
    expectError(await post(GROUPS, { name: 'Small', maxDevNum: 1, deviceIds: [a, b] }), 200, '100601');
    await create({ name: 'Again', id: 'dup' });
    expectError(await post(GROUPS, { name: 'Again2', id: 'dup' }), 400, '100022');
    assert.equal((await get(GROUPS).expect(200)).body.totalCount, 2, 'only Taken and Again were created');
  });

  const invalidCreates: Array<[string, unknown]> = [
    ['no name', {}],
    ['a name with a dash', { name: 'north-1' }],
    ['a name of 51 characters', { name: 'a'.repeat(51) }],
    ['a description of 1025 characters', { name: 'ok', description: 'd'.repeat(1025) }],
    ['a negative maxDevNum', { name: 'ok', maxDevNum: -1 }],
    ['a fractional maxDevNum', { name: 'ok', maxDevNum: 1.5 }],
    ['deviceIds not a list', { name: 'ok', deviceIds: 'd' }],
    ['an unknown field', { name: 'ok', colour: 'red' }],
    ['an id of 51 characters', { name: 'ok', id: 'i'.repeat(51) }],
    ['a JSON array', []],
  ];
  for (const [name, body] of invalidCreates) {
    it(`refuses a create with ${name}: 400 100022`, async () => {
      expectError(await post(GROUPS, body), 400, '100022');
    });
  }

  it("answers another app's appId or accessAppId with 100217, and takes the app's own", async () => {
    expectError(await post(GROUPS, { name: 'X', appId: 'demo-app-2' }), 200, '100217');
    const g = await create({ name: 'Mine', appId: 'demo-app' });
    expectError(await get(`${GROUPS}?accessAppId=demo-app-2`), 200, '100217');
    expectError(await get(`${GROUPS}/${g.id}?accessAppId=demo-app-2`), 200, '100217');
    await get(`${GROUPS}/${g.id}?accessAppId=demo-app`).expect(200);
  });

  it('lists all groups without pageNo, pages with it (pageSize 1 by default), and filters by name', async () => {
    for (const name of ['G1', 'G2', 'G3']) await create({ name });
    const all = (await get(GROUPS).expect(200)).body;
    assert.deepEqual(Object.keys(all).sort(), ['list', 'pageNo', 'pageSize', 'totalCount']);
    assert.equal(all.totalCount, 3);
    assert.deepEqual(all.list.map((g: { name: string }) => g.name), ['G1', 'G2', 'G3']);
    assert.equal(all.list[0].creator, 'demo-app');
    const second = (await get(`${GROUPS}?pageNo=1`).expect(200)).body;
    assert.deepEqual([second.pageNo, second.pageSize, second.totalCount], [1, 1, 3]);
    assert.deepEqual(second.list.map((g: { name: string }) => g.name), ['G2']);
    const two = (await get(`${GROUPS}?pageNo=1&pageSize=2`).expect(200)).body;
    assert.deepEqual(two.list.map((g: { name: string }) => g.name), ['G3']);
    const byName = (await get(`${GROUPS}?name=G2`).expect(200)).body;
    assert.equal(byName.totalCount, 1);
    assert.equal(byName.list[0].name, 'G2');
    for (const q of ['pageNo=-1', 'pageNo=x', 'pageNo=0&pageSize=0', 'name=' + 'n'.repeat(51)]) {
      expectError(await get(`${GROUPS}?${q}`), 400, '100022');
    }
  });

  it('keeps groups per app', async () => {
    const g = await create({ name: 'Private' });
    const other = (await api().post(LOGIN).type('form').send({ appId: 'demo-app-2', secret: 'demo-secret-2' }).expect(200)).body.accessToken;
    expectError(await authed(api().get(`${GROUPS}/${g.id}`), 'demo-app-2', other), 200, '100603');
    assert.equal((await authed(api().get(GROUPS), 'demo-app-2', other).expect(200)).body.totalCount, 0);
    // The same name is free in another app.
    await authed(api().post(GROUPS), 'demo-app-2', other).send({ name: 'Private' }).expect(200);
  });

  it('modifies a group (name required, unique; a limit below its members refused) and answers without deviceIds', async () => {
    const [a, b] = [await device('m-1'), await device('m-2')];
    const g = await create({ name: 'Before', deviceIds: [a, b] });
    await create({ name: 'Other' });
    const res = (await put(`${GROUPS}/${g.id}`, { name: 'After', description: 'new', maxDevNum: 10 }).expect(200)).body;
    assert.deepEqual(res, { name: 'After', description: 'new', id: g.id, appId: 'demo-app', maxDevNum: 10, curDevNum: 2 });
    expectError(await put(`${GROUPS}/${g.id}`, { name: 'Other' }), 200, '100602');
    expectError(await put(`${GROUPS}/${g.id}`, { name: 'After', maxDevNum: 1 }), 200, '100601');
    expectError(await put(`${GROUPS}/${g.id}`, { description: 'no name' }), 400, '100022');
    expectError(await put(`${GROUPS}/${g.id}`, { name: 'After', deviceIds: [] }), 400, '100022');
    expectError(await put(`${GROUPS}/unknown-group`, { name: 'X' }), 200, '100603');
    // Its own name again is not a clash.
    await put(`${GROUPS}/${g.id}`, { name: 'After' }).expect(200);
  });

  it('deletes a group (200, no body): the group is gone, its devices stay', async () => {
    const a = await device('d-1');
    const g = await create({ name: 'Doomed', deviceIds: [a] });
    const res = await del(`${GROUPS}/${g.id}`).expect(200);
    assert.equal(res.text, '');
    expectError(await get(`${GROUPS}/${g.id}`), 200, '100603');
    expectError(await del(`${GROUPS}/${g.id}`), 200, '100603');
    // The device can join another group: it was not deleted with the group.
    await create({ name: 'Next', deviceIds: [a] });
  });

  it('adds members (echoing the body), lists them with paging, removes them (200, no body)', async () => {
    const ids = [await device('a-1'), await device('a-2'), await device('a-3')];
    const g = await create({ name: 'Members' });
    const added = (await post(ADD, { devGroupId: g.id, deviceIds: ids }).expect(200)).body;
    assert.deepEqual(added, { devGroupId: g.id, deviceIds: ids });
    // Adding a member again changes nothing.
    await post(ADD, { devGroupId: g.id, deviceIds: [ids[0]] }).expect(200);
    const all = (await get(`${MEMBERS}?devGroupId=${g.id}`).expect(200)).body;
    assert.deepEqual(all, { totalCount: 3, pageNo: 0, pageSize: 3, deviceIds: ids });
    const page = (await get(`${MEMBERS}?devGroupId=${g.id}&pageNo=1&pageSize=2`).expect(200)).body;
    assert.deepEqual(page, { totalCount: 3, pageNo: 1, pageSize: 2, deviceIds: [ids[2]] });
    assert.equal((await get(`${GROUPS}/${g.id}`).expect(200)).body.curDevNum, 3);

    const removed = await post(REMOVE, { devGroupId: g.id, deviceIds: [ids[1]] }).expect(200);
    assert.equal(removed.text, '');
    assert.deepEqual((await get(`${MEMBERS}?devGroupId=${g.id}`).expect(200)).body.deviceIds, [ids[0], ids[2]]);
    // A registered device that is not a member: nothing to remove, no error.
    await post(REMOVE, { devGroupId: g.id, deviceIds: [ids[1]] }).expect(200);
  });

  it('lets a device belong to several groups', async () => {
    const a = await device('multi-1');
    const [g1, g2] = [await create({ name: 'One' }), await create({ name: 'Two' })];
    await post(ADD, { devGroupId: g1.id, deviceIds: [a] }).expect(200);
    await post(ADD, { devGroupId: g2.id, deviceIds: [a] }).expect(200);
    assert.deepEqual((await get(`${MEMBERS}?devGroupId=${g2.id}`).expect(200)).body.deviceIds, [a]);
  });

  it('refuses member changes for an unknown group (100603), unknown devices (100418, all or nothing), an overfull group (100601), bad bodies (100022)', async () => {
    const [a, b] = [await device('r-1'), await device('r-2')];
    const g = await create({ name: 'Strict', maxDevNum: 1 });
    expectError(await post(ADD, { devGroupId: 'nope', deviceIds: [a] }), 200, '100603');
    expectError(await post(REMOVE, { devGroupId: 'nope', deviceIds: [a] }), 200, '100603');
    expectError(await post(ADD, { devGroupId: g.id, deviceIds: [a, 'ghost'] }), 404, '100418');
    expectError(await post(REMOVE, { devGroupId: g.id, deviceIds: ['ghost'] }), 404, '100418');
    expectError(await post(ADD, { devGroupId: g.id, deviceIds: [a, b] }), 200, '100601');
    assert.equal((await get(`${MEMBERS}?devGroupId=${g.id}`).expect(200)).body.totalCount, 0, 'a refused list adds none of its devices');
    const tooMany = Array.from({ length: 1001 }, () => a);
    for (const body of [{ deviceIds: [a] }, { devGroupId: g.id }, { devGroupId: g.id, deviceIds: tooMany }, { devGroupId: g.id, deviceIds: [a], x: 1 }]) {
      expectError(await post(ADD, body), 400, '100022');
    }
    expectError(await get(MEMBERS), 400, '100022');
    expectError(await get(`${MEMBERS}?devGroupId=nope`), 200, '100603');
  });

  it('drops a deleted device from its groups (the store over the registry the devices part deletes from)', () => {
    // Deleting a device is the devices part's API; its registry is what that API changes, so the store is
    // checked against the registry directly.
    const devices = new DeviceRegistry();
    const groups = new GroupStore();
    const [a, b] = [devices.register({ nodeId: 'gone-1' }), devices.register({ nodeId: 'gone-2' })];
    assert.ok(a && b);
    const g = groups.add({ name: 'Shrinks' });
    g.members.add(a.deviceId).add(b.deviceId);
    assert.deepEqual(groups.members(g, devices), [a.deviceId, b.deviceId]);
    devices.delete(a.deviceId);
    assert.deepEqual(groups.members(g, devices), [b.deviceId]);
  });

  it('asks for a token on its paths only', async () => {
    expectError(await api().get(GROUPS).set('app_key', 'demo-app'), 403, '1010005');
    expectError(await api().get(`${MEMBERS}?devGroupId=x`).set('app_key', 'demo-app'), 403, '1010005');
    expectError(await api().post(ADD).set('app_key', 'demo-app').send({}), 403, '1010005');
  });
});
