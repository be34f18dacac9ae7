// The simulator's its control API, tested black-box over real HTTP(S).
import { strict as assert } from 'node:assert';
import http from 'node:http';
import request from 'supertest';
import { tokenFingerprint } from '../src/simulator/calllog.js';
import { startSimulator } from '../src/simulator/server.js';
import { sleep } from './helpers/fixtures.js';
import { useSimulator, IODM, LOGIN } from './helpers/simulator.js';

describe('simulator: control API', () => {
  const { api, login, authed, control, expectError } = useSimulator();

  it('logs platform calls with app, route, status, error code, headers and body', async () => {
    const since = Date.now();
    const t = await login();
    await authed(api().get(`${IODM}/category?pageSize=2&fileType=softwarePackage`), t.accessToken).expect(200);
    await authed(api().get(`${IODM}/category/missing-1`), t.accessToken).expect(404);
    await api().get('/no/such/api').expect(404);
    const res = await api().get('/__control/calls').expect(200);
    const { total, byApp, byRoute, log } = res.body;
    assert.equal(total, 4);
    assert.deepEqual(byApp, { 'demo-app': 3 });
    assert.deepEqual(byRoute, {
      'POST /iocm/app/sec/v1.1.0/login': 1,
      'GET /iodm/northbound/v1.5.0/category': 1,
      'GET /iodm/northbound/v1.5.0/category/missing-1': 1,
      'GET /no/such/api': 1,
    });
    const [loginCall, listCall, missingCall, unknownCall] = log;
    assert.equal(loginCall.method, 'POST');
    assert.equal(loginCall.path, LOGIN);
    assert.equal(loginCall.appId, 'demo-app');
    assert.equal(loginCall.status, 200);
    assert.match(loginCall.headers['content-type'], /application\/x-www-form-urlencoded/);
    assert.equal(loginCall.body.appId, 'demo-app');
    assert.ok(loginCall.at >= since);
    assert.equal(listCall.path, `${IODM}/category`);
    assert.deepEqual(listCall.query, { pageSize: '2', fileType: 'softwarePackage' });
    assert.equal(listCall.headers.app_key, 'demo-app');
    // Redacted, but still telling which token was used (issue 17, finding 7).
    assert.equal(listCall.headers.authorization, `Bearer ${tokenFingerprint(t.accessToken)}`);
    assert.equal(missingCall.status, 404);
    assert.equal(missingCall.errorCode, '123002');
    assert.equal(unknownCall.appId, null);
    assert.equal(unknownCall.status, 404);
    assert.equal(unknownCall.errorCode, '100022');

    const later = Date.now() + 1;
    await sleep(5);
    await authed(api().get(`${IODM}/operations`), t.accessToken).expect(200);
    const recent = await api().get(`/__control/calls?since=${later}`).expect(200);
    assert.equal(recent.body.total, 1);
    assert.deepEqual(recent.body.byRoute, { 'GET /iodm/northbound/v1.5.0/operations': 1 });
    await api().get('/__control/calls?since=yesterday').expect(400);
  });

  it('never counts, logs or throttles control and health calls', async () => {
    await control('/config', { ratePerMinute: 1 });
    await login();
    await api().get('/healthz').expect(200, { status: 'ok' });
    await control('/latency', { ms: 0 });
    await control('/faults', { count: 1, path: '/never' });
    await api().delete('/__control/faults').expect(200);
    await control('/revoke', { appId: 'demo-app' });
    await control('/freeze', { appId: 'demo-app-2', frozen: false });
    await api().get('/__control/tokens/demo-app').expect(200);
    await api().get('/__control/config').expect(200);
    const calls = await api().get('/__control/calls').expect(200);
    assert.equal(calls.body.total, 1);
    assert.equal(calls.body.log.length, 1);
    expectError(await api().post(LOGIN).type('form').send({ appId: 'demo-app', secret: 'demo-secret' }), 403, '1010009');
  });

  it('changes config at run time, validates it, and reset restores the configured values', async () => {
    const res = await control('/config', { ratePerMinute: 7, windowMs: 1234 });
    assert.deepEqual(res.body, { ratePerMinute: 7, windowMs: 1234, expiresIn: 3600 });
    await api().post('/__control/config').send({ ratePerMinute: 0 }).expect(400);
    await api().post('/__control/config').send({ expiresIn: 'soon' }).expect(400);
    await api().post('/__control/config').type('json').send('{oops').expect(400);
    const t = await login();
    await api().post('/__control/reset').expect(200);
    assert.deepEqual((await api().get('/__control/config').expect(200)).body, {
      ratePerMinute: 100,
      windowMs: 60000,
      expiresIn: 3600,
    });
    assert.equal((await api().get('/__control/calls').expect(200)).body.total, 0);
    expectError(await authed(api().get(`${IODM}/category`), t.accessToken), 403, '1010005');
  });

  it('rejects bad control requests', async () => {
    await api().post('/__control/faults').send({ count: 0 }).expect(400);
    await api().post('/__control/faults').send({ count: 1, mode: 'explode' }).expect(400);
    await api().post('/__control/latency').send({ ms: -1 }).expect(400);
    await api().post('/__control/revoke').send({}).expect(400);
    await api().post('/__control/revoke').send({ appId: 'nobody' }).expect(404);
    await api().post('/__control/freeze').send({ appId: 'demo-app' }).expect(400);
    await api().get('/__control/nothing').expect(404);
  });

  it('closes promptly despite idle keep-alive sockets and hung requests', async () => {
    const own = await startSimulator({ quiet: true });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const idle = await request(own.url).get('/healthz').agent(agent).expect(200);
      assert.equal(idle.headers['keep-alive'], 'timeout=65');
      await request(own.url).post('/__control/faults').send({ count: 1, mode: 'hang' }).expect(200);
      const hung = request(own.url).post(LOGIN).type('form').send({ appId: 'demo-app', secret: 'demo-secret' }).then(
        () => 'answered',
        () => 'failed',
      );
      await sleep(100);
      const started = Date.now();
      await own.close();
      assert.ok(Date.now() - started < 2000, 'close() did not wait for sockets');
      assert.equal(await hung, 'failed');
    } finally {
      agent.destroy();
      await own.close();
    }
  });

  it('answers unknown platform paths with 404 and an error body', async () => {
    const res = await api().get('/iocm/app/dm/v9.9.9/devices');
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, { error_code: '100022', error_desc: 'The input is invalid.' });
  });
});
