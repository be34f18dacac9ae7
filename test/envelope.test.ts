// Every failure answers the contract's envelope with the right status and requestId, and never a stack trace.
import assert from 'node:assert/strict';
import net from 'node:net';
import request from 'supertest';
import {
  KEYS,
  assertEnvelope,
  gatewayEnv,
  startGateway,
  type TestGateway,
  type TestRedis,
  type TestSimulator,
  closeAll,
  startStack,
} from './helpers/fixtures.js';

const validTask = { fileId: 'sw-pkg-0001', targets: { devices: ['dev-1'] } };

describe('error envelope', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: TestGateway;

  before(async () => {
    ({ redis, sim, gw } = await startStack({ env: { BODY_LIMIT: '2kb' } }));
  });
  after(() => closeAll(gw, sim, redis));
  beforeEach(() => sim.reset());

  const api = () => request(gw.url);
  it('unknown routes: 404 NOT_FOUND, inside and outside /v1', async () => {
    assertEnvelope(await api().get('/nope'), 404, 'NOT_FOUND');
    assertEnvelope(await api().get('/v1/apps/app-a/nope').set('X-Api-Key', KEYS.all), 404, 'NOT_FOUND');
  });

  it('a known path with another method: 405 with Allow', async () => {
    const res = await api().put('/v1/apps/app-a/packages').set('X-Api-Key', KEYS.all);
    assertEnvelope(res, 405, 'METHOD_NOT_ALLOWED');
    assert.equal(res.headers.allow, 'GET');
  });

  it('malformed JSON: 400 VALIDATION_FAILED, nothing sent', async () => {
    const res = await api()
      .post('/v1/apps/app-a/upgrade-tasks/software')
      .set('X-Api-Key', KEYS.all)
      .set('Content-Type', 'application/json')
      .send('{"fileId": ');
    assertEnvelope(res, 400, 'VALIDATION_FAILED');
    assert.equal((await sim.calls()).total, 0);
  });

  it('a body over BODY_LIMIT: 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await api()
      .post('/v1/apps/app-a/upgrade-tasks/software')
      .set('X-Api-Key', KEYS.all)
      .send({ ...validTask, targets: { devices: Array.from({ length: 200 }, (_, i) => `device-${i}-xxxxxxxx`) } });
    assertEnvelope(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('a body that is not JSON: 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await api()
      .post('/v1/apps/app-a/upgrade-tasks/software')
      .set('X-Api-Key', KEYS.all)
      .set('Content-Type', 'text/plain')
      .send('fileId=1');
    assertEnvelope(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('Joi failures: 400 with platformCode and details', async () => {
    const res = await api()
      .post('/v1/apps/app-a/upgrade-tasks/software')
      .set('X-Api-Key', KEYS.all)
      .send({ fileId: 'sw-pkg-0001', targets: { devices: ['d'], deviceGroups: ['g'] } });
    const e = assertEnvelope(res, 400, 'VALIDATION_FAILED');
    assert.equal(e.platformCode, '123023');
    assert.ok(e.details.some((d: { platformCode?: string }) => d.platformCode === '123023'));
  });

  it('a platform error: mapped by its code, with the platform code', async () => {
    const res = await api().get('/v1/apps/app-a/packages/does-not-exist').set('X-Api-Key', KEYS.all);
    const e = assertEnvelope(res, 404, 'NOT_FOUND');
    assert.equal(e.platformCode, '123002');
  });

  it('an error_code in an HTTP 200 body is an error; an unknown code is 502 UPSTREAM_ERROR', async () => {
    await sim.control('faults', { count: 1, path: '/category', status: 200, errorCode: '999999', errorDesc: 'odd' });
    const res = await api().get('/v1/apps/app-a/packages').set('X-Api-Key', KEYS.all);
    const e = assertEnvelope(res, 502, 'UPSTREAM_ERROR');
    assert.equal(e.platformCode, '999999');
    assert.ok(!res.text.includes('odd'), "the platform's error_desc is not passed on verbatim");
  });

  it('a platform that cannot be reached: 503 UPSTREAM_UNAVAILABLE', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const dead = await startGateway(gatewayEnv(`http://127.0.0.1:${port}`, redis.url));
    try {
      const res = await request(dead.url).get('/v1/apps/app-a/packages').set('X-Api-Key', KEYS.all);
      const e = assertEnvelope(res, 503, 'UPSTREAM_UNAVAILABLE');
      assert.equal(e.retryable, true);
      assert.ok(res.headers['retry-after']);
    } finally {
      await dead.close();
    }
  });

  it('a malformed percent-encoding in the path: 400, not 500', async () => {
    assertEnvelope(await api().get('/v1/apps/app-a/packages/%E0%A4%A').set('X-Api-Key', KEYS.all), 400, 'VALIDATION_FAILED');
  });

  it('headers too large for Node: still an envelope', async () => {
    const res = await api().get('/healthz').set('X-Big', 'x'.repeat(20_000));
    assert.equal(res.status, 431);
    assert.equal(res.body.error.code, 'VALIDATION_FAILED');
    assert.equal(res.body.error.requestId, res.headers['x-request-id']);
  });
});
