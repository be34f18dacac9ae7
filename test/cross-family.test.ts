// One round trip across the families through the gateway, as an operations team would make it: devices, a group, a command, data, an upgrade by group.
import assert from 'node:assert/strict';
import request from 'supertest';
import { closeAll, KEYS, startStack, type Stack } from './helpers/fixtures.js';

describe('across families, through the gateway', () => {
  let stack: Stack;
  before(async () => {
    // With every family's cache on, as in production: each write must drop what it makes stale.
    stack = await startStack({ rate: 100_000, env: { CACHE_TTL_SEC: '{}' } });
  });
  after(() => closeAll(stack.gw, stack.sim, stack.redis));

  const api = () => request(stack.gw.url);
  const GW = '/v1/apps/app-a';
  const info = { manufacturerName: 'HydroTech', deviceType: 'WaterMeter', model: 'WM100', protocolType: 'CoAP' };

  it('register two devices → group them → command one → report data → its history → upgrade the group → subtasks name both → delete them', async () => {
    const since = Date.now();
    const register = async (nodeId: string) =>
      (await api().post(`${GW}/devices`).set('X-Api-Key', KEYS.all).send({ nodeId, deviceInfo: info }).expect(201)).body.deviceId as string;
    const [d1, d2] = [await register('e2e-node-1'), await register('e2e-node-2')];
    assert.ok(d1 && d2 && d1 !== d2);

    const group = await api().post(`${GW}/groups`).set('X-Api-Key', KEYS.all).send({ name: 'e2eNorth', deviceIds: [d1, d2] }).expect(201);
    const devGroupId = group.body.id as string;
    const members = await api().get(`${GW}/groups/${devGroupId}/members`).set('X-Api-Key', KEYS.all).expect(200);
    assert.deepEqual(new Set(JSON.stringify(members.body).match(new RegExp(`${d1}|${d2}`, 'g'))), new Set([d1, d2]));

    const command = await api()
      .post(`${GW}/commands`)
      .set('X-Api-Key', KEYS.all)
      .send({ deviceId: d1, command: { serviceId: 'WaterMeter', method: 'SET_INTERVAL', paras: { value: 60 } }, expireTime: 3600 })
      .expect(201);
    assert.ok(command.body.commandId);
    const listed = await api().get(`${GW}/commands?deviceId=${d1}`).set('X-Api-Key', KEYS.all).expect(200);
    assert.ok(listed.body.data.some((c: { commandId: string }) => c.commandId === command.body.commandId));

    // The device reports a reading, as a meter would (the simulator's control endpoint).
    const sim = request(stack.sim.url);
    await sim.post(`/__control/devices/${d1}/data`).send({ serviceId: 'WaterMeter', data: { value: 42 } }).expect(204);
    const history = await api().get(`${GW}/devices/${d1}/history?gatewayId=${d1}&pageNo=0&pageSize=10`).set('X-Api-Key', KEYS.all).expect(200);
    assert.match(JSON.stringify(history.body), /"value":42/);

    const task = await api()
      .post(`${GW}/upgrade-tasks/software`)
      .set('X-Api-Key', KEYS.all)
      .send({ fileId: 'sw-pkg-0001', targets: { deviceGroups: ['e2eNorth'], ...info, protocolType: undefined } })
      .expect(201);
    const subtasks = await api().get(`${GW}/upgrade-tasks/${task.body.operationId}/subtasks`).set('X-Api-Key', KEYS.all).expect(200);
    assert.deepEqual(new Set(subtasks.body.data.map((s: { deviceId: string }) => s.deviceId)), new Set([d1, d2]));

    for (const d of [d1, d2]) await api().delete(`${GW}/devices/${d}`).set('X-Api-Key', KEYS.all).expect(204);
    await api().get(`${GW}/devices/${d1}`).set('X-Api-Key', KEYS.all).expect(404);

    // Contract §9: the platform's appId/accessAppId/ownerFlag are the gateway's; nothing it sent named another app.
    const { log } = await stack.sim.calls();
    const sent = log.filter((c) => c.at >= since && !c.path.startsWith('/iocm/app/sec/'));
    assert.ok(sent.length >= 12);
    for (const c of sent) {
      for (const owned of ['appId', 'accessAppId']) {
        const inQuery = c.query[owned];
        const inBody = c.body !== null && typeof c.body === 'object' ? (c.body as Record<string, unknown>)[owned] : undefined;
        for (const v of [inQuery, inBody]) if (v !== undefined) assert.equal(v, 'app-a', `${c.method} ${c.path} named ${owned}=${String(v)}`);
      }
      assert.equal(c.headers.app_key, 'app-a');
    }
  });
});
