// Black-box tests of the platform simulator over real HTTP(S): auth, flow control, upgrade APIs, faults, control API, CLI.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import request from 'supertest';
import type { Test } from 'supertest';
import { settingsFromEnv } from '../src/simulator/env.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/server.js';
import { toCompactUtc } from '../src/simulator/time.js';
import { makeTestPki } from './helpers/fixtures.js';

const LOGIN = '/iocm/app/sec/v1.1.0/login';
const REFRESH = '/iocm/app/sec/v1.1.0/refreshToken';
const IODM = '/iodm/northbound/v1.5.0';
const ROOT = new URL('..', import.meta.url).pathname;

interface Tokens {
  accessToken: string;
  tokenType: string;
  refreshToken: string;
  expiresIn: number;
  scope: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const compact = (offsetMs: number): string => toCompactUtc(Date.now() + offsetMs);
const MIN = 60_000;

describe('simulator', function () {
  let sim: RunningSimulator;
  const api = (): ReturnType<typeof request> => request(sim.url);

  async function login(appId = 'demo-app', secret = 'demo-secret'): Promise<Tokens> {
    const res = await api().post(LOGIN).type('form').send({ appId, secret }).expect(200);
    return res.body as Tokens;
  }
  const authed = (t: Test, token: string, appId = 'demo-app'): Test =>
    t.set('app_key', appId).set('Authorization', `Bearer ${token}`);
  const control = (path: string, body: object): Test => api().post(`/__control${path}`).send(body).expect(200);
  const expectError = (res: request.Response, status: number, code: string): void => {
    assert.equal(res.status, status, `status for ${code}: ${res.text}`);
    assert.equal(res.body.error_code, code, res.text);
    assert.equal(typeof res.body.error_desc, 'string');
  };

  before(async () => {
    sim = await startSimulator({ quiet: true });
  });
  after(() => sim.close());
  beforeEach(() => api().post('/__control/reset').expect(200));

  describe('authentication', () => {
    it('logs in with a form-encoded body and returns the five token fields', async () => {
      const res = await api().post(LOGIN).type('form').send({ appId: 'demo-app', secret: 'demo-secret' }).expect(200);
      assert.match(res.headers['content-type'] ?? '', /application\/json/);
      const t = res.body as Tokens;
      assert.deepEqual(Object.keys(t).sort(), ['accessToken', 'expiresIn', 'refreshToken', 'scope', 'tokenType']);
      assert.equal(t.tokenType, 'bearer');
      assert.equal(t.scope, 'default');
      assert.equal(t.expiresIn, 3600);
      assert.ok(t.accessToken.length >= 16 && t.refreshToken.length >= 16);
      assert.notEqual(t.accessToken, t.refreshToken);
    });

    it('answers a wrong secret or an unknown app with 401 100208', async () => {
      for (const form of [
        { appId: 'demo-app', secret: 'nope' },
        { appId: 'no-such-app', secret: 'demo-secret' },
      ]) {
        const res = await api().post(LOGIN).type('form').send(form);
        assert.equal(res.status, 401);
        assert.deepEqual(res.body, { error_code: '100208', error_desc: 'AppId or secret is not right.' });
      }
    });

    it('answers a missing field, an empty body or a JSON body with 400 102202', async () => {
      const cases: Test[] = [
        api().post(LOGIN).type('form').send({ appId: 'demo-app' }),
        api().post(LOGIN).type('form').send({ secret: 'demo-secret' }),
        api().post(LOGIN).type('form').send({ appId: '', secret: 'demo-secret' }),
        api().post(LOGIN),
        api().post(LOGIN).send({ appId: 'demo-app', secret: 'demo-secret' }),
      ];
      for (const c of cases) {
        const res = await c;
        assert.equal(res.status, 400);
        assert.deepEqual(res.body, { error_code: '102202', error_desc: 'Required Parameter is null or empty.' });
      }
    });

    it('keeps only the newest token of an app valid', async () => {
      const first = await login();
      await authed(api().get(`${IODM}/category`), first.accessToken).expect(200);
      const second = await login();
      const stale = await authed(api().get(`${IODM}/category`), first.accessToken);
      assert.equal(stale.status, 403);
      assert.deepEqual(stale.body, { error_code: '1010005', error_desc: 'App_key or access_token is invalid.' });
      await authed(api().get(`${IODM}/category`), second.accessToken).expect(200);
      // Another app's login leaves this app's token alone.
      await login('demo-app-2', 'demo-secret-2');
      await authed(api().get(`${IODM}/category`), second.accessToken).expect(200);
    });

    it('accepts the bearer scheme in any case', async () => {
      const t = await login();
      await api()
        .get(`${IODM}/category`)
        .set('app_key', 'demo-app')
        .set('Authorization', `bearer ${t.accessToken}`)
        .expect(200);
      await api()
        .get(`${IODM}/category`)
        .set('app_key', 'demo-app')
        .set('Authorization', `BEARER ${t.accessToken}`)
        .expect(200);
    });

    it('answers a missing app_key with 401 100025 and a bad token or app_key mismatch with 403 1010005', async () => {
      const t = await login();
      const noKey = await api().get(`${IODM}/category`).set('Authorization', `Bearer ${t.accessToken}`);
      assert.equal(noKey.status, 401);
      assert.deepEqual(noKey.body, { error_code: '100025', error_desc: 'AppId for auth not exist.' });
      expectError(await api().get(`${IODM}/category`).set('app_key', 'demo-app'), 403, '1010005');
      expectError(await authed(api().get(`${IODM}/category`), 'not-a-token'), 403, '1010005');
      expectError(await authed(api().get(`${IODM}/category`), t.accessToken, 'demo-app-2'), 403, '1010005');
      expectError(
        await api().get(`${IODM}/category`).set('app_key', 'demo-app').set('Authorization', t.accessToken),
        403,
        '1010005',
      );
    });

    it('refreshes with JSON, issuing new tokens and invalidating the old access token', async () => {
      const old = await login();
      const res = await api()
        .post(REFRESH)
        .send({ appId: 'demo-app', secret: 'demo-secret', refreshToken: old.refreshToken })
        .expect(200);
      const fresh = res.body as Tokens;
      assert.equal(fresh.tokenType, 'bearer');
      assert.equal(fresh.scope, 'default');
      assert.equal(fresh.expiresIn, 3600);
      assert.notEqual(fresh.accessToken, old.accessToken);
      assert.notEqual(fresh.refreshToken, old.refreshToken);
      expectError(await authed(api().get(`${IODM}/category`), old.accessToken), 403, '1010005');
      await authed(api().get(`${IODM}/category`), fresh.accessToken).expect(200);
      // The superseded refresh token is no longer honoured.
      expectError(
        await api().post(REFRESH).send({ appId: 'demo-app', secret: 'demo-secret', refreshToken: old.refreshToken }),
        401,
        '100208',
      );
    });

    it('answers bad refresh requests with 100208, 102202 and 50400', async () => {
      const t = await login();
      expectError(
        await api().post(REFRESH).send({ appId: 'demo-app', secret: 'wrong', refreshToken: t.refreshToken }),
        401,
        '100208',
      );
      expectError(
        await api().post(REFRESH).send({ appId: 'demo-app', secret: 'demo-secret', refreshToken: 'bogus' }),
        401,
        '100208',
      );
      expectError(await api().post(REFRESH).send({ appId: 'demo-app', secret: 'demo-secret' }), 400, '102202');
      expectError(
        await api().post(REFRESH).type('json').send('{"appId": "demo-app", "secret":'),
        400,
        '50400',
      );
      expectError(
        await api().post(REFRESH).send({ appId: 'demo-app', secret: 'demo-secret', refreshToken: 42 }),
        400,
        '50400',
      );
      // The failed attempts did not disturb the current token.
      await authed(api().get(`${IODM}/category`), t.accessToken).expect(200);
    });

    it('expires access tokens after expiresIn seconds', async () => {
      await control('/config', { expiresIn: 1 });
      const t = await login();
      assert.equal(t.expiresIn, 1);
      await authed(api().get(`${IODM}/category`), t.accessToken).expect(200);
      await sleep(1200);
      expectError(await authed(api().get(`${IODM}/category`), t.accessToken), 403, '1010005');
      const status = await api().get('/__control/tokens/demo-app').expect(200);
      assert.deepEqual(status.body, { current: false, issued: 1 });
    });

    it('revokes the current token through the control API, leaving the refresh token usable', async () => {
      const t = await login();
      await control('/revoke', { appId: 'demo-app' });
      expectError(await authed(api().get(`${IODM}/category`), t.accessToken), 403, '1010005');
      const res = await api()
        .post(REFRESH)
        .send({ appId: 'demo-app', secret: 'demo-secret', refreshToken: t.refreshToken })
        .expect(200);
      await authed(api().get(`${IODM}/category`), (res.body as Tokens).accessToken).expect(200);
    });

    it('refuses login and refresh of a frozen app with 400 100247', async () => {
      const t = await login();
      await control('/freeze', { appId: 'demo-app', frozen: true });
      const res = await api().post(LOGIN).type('form').send({ appId: 'demo-app', secret: 'demo-secret' });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, {
        error_code: '100247',
        error_desc: 'Operation not allowed. The application has been frozen.',
      });
      expectError(
        await api().post(REFRESH).send({ appId: 'demo-app', secret: 'demo-secret', refreshToken: t.refreshToken }),
        400,
        '100247',
      );
      await login('demo-app-2', 'demo-secret-2');
      await control('/freeze', { appId: 'demo-app', frozen: false });
      await login();
    });

    it('reports token status per app without token values', async () => {
      assert.deepEqual((await api().get('/__control/tokens/demo-app').expect(200)).body, { current: false, issued: 0 });
      await login();
      await login();
      const res = await api().get('/__control/tokens/demo-app').expect(200);
      assert.deepEqual(res.body, { current: true, issued: 2 });
      await api().get('/__control/tokens/nobody').expect(404);
    });
  });

  describe('flow control', () => {
    const THROTTLED = '{"error_code":"1010009","error_desc":"app throttle exceed."}';

    it('refuses the 101st call in a minute with 403 1010009, counting the login', async () => {
      const t = await login();
      for (let i = 0; i < 99; i++) await authed(api().get(`${IODM}/category`), t.accessToken).expect(200);
      const over = await authed(api().get(`${IODM}/category`), t.accessToken);
      assert.equal(over.status, 403);
      assert.equal(over.text, THROTTLED);
      // Logins are throttled too, and the limit is per app.
      const overLogin = await api().post(LOGIN).type('form').send({ appId: 'demo-app', secret: 'demo-secret' });
      assert.equal(overLogin.status, 403);
      assert.equal(overLogin.text, THROTTLED);
      await login('demo-app-2', 'demo-secret-2');
      const calls = await api().get('/__control/calls').expect(200);
      assert.equal(calls.body.byApp['demo-app'], 102);
      assert.equal(calls.body.log.filter((e: { errorCode?: string }) => e.errorCode === '1010009').length, 2);
    });

    it('counts failed calls and refreshes, but never throttles unknown apps', async () => {
      await control('/config', { ratePerMinute: 4 });
      const t = await login();
      expectError(await authed(api().get(`${IODM}/category?pageSize=0`), t.accessToken), 400, '123029');
      expectError(await authed(api().get(`${IODM}/category`), 'wrong-token'), 403, '1010005');
      await api()
        .post(REFRESH)
        .send({ appId: 'demo-app', secret: 'demo-secret', refreshToken: t.refreshToken })
        .expect(200);
      expectError(await api().post(LOGIN).type('form').send({ appId: 'demo-app', secret: 'x' }), 403, '1010009');
      for (let i = 0; i < 6; i++) {
        expectError(await api().post(LOGIN).type('form').send({ appId: 'stranger', secret: 'x' }), 401, '100208');
      }
    });

    it('frees the quota as the sliding window moves, and throttled calls do not count', async () => {
      await control('/config', { ratePerMinute: 5, windowMs: 2000 });
      const t = await login();
      for (let i = 0; i < 4; i++) await authed(api().get(`${IODM}/category`), t.accessToken).expect(200);
      const filledAt = Date.now();
      await sleep(500);
      for (let i = 0; i < 3; i++) {
        expectError(await authed(api().get(`${IODM}/category`), t.accessToken), 403, '1010009');
      }
      // The five counted calls arrived before filledAt, so all have left the window 2000 ms later; had the
      // refused calls (at ~filledAt+500) counted, fewer than five calls would be allowed now.
      await sleep(Math.max(0, filledAt + 2100 - Date.now()));
      for (let i = 0; i < 5; i++) await authed(api().get(`${IODM}/category`), t.accessToken).expect(200);
      expectError(await authed(api().get(`${IODM}/category`), t.accessToken), 403, '1010009');
    });
  });

  describe('version packages', () => {
    let token: string;
    beforeEach(async () => {
      token = (await login()).accessToken;
    });
    const get = (path: string, appToken = token, appId = 'demo-app'): Test => authed(api().get(path), appToken, appId);

    it('lists seeded packages of both types with the documented fields', async () => {
      const res = await get(`${IODM}/category`).expect(200);
      assert.equal(res.body.pageNo, 0);
      assert.equal(res.body.pageSize, 10);
      assert.equal(res.body.totalCount, 5);
      assert.equal(res.body.data.length, 5);
      const types = new Set(res.body.data.map((p: { fileType: string }) => p.fileType));
      assert.deepEqual([...types].sort(), ['firmwarePackage', 'softwarePackage']);
      for (const p of res.body.data as Array<Record<string, string>>) {
        assert.deepEqual(Object.keys(p).sort(), [
          'date',
          'description',
          'deviceType',
          'fileId',
          'fileType',
          'manufacturerName',
          'model',
          'name',
          'protocolType',
          'uploadTime',
          'version',
        ]);
        assert.match(p.fileId ?? '', /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/);
        assert.match(p.uploadTime ?? '', /^\d{8}T\d{6}Z$/);
        assert.match(p.date ?? '', /^\d{8}T\d{6}Z$/);
      }
    });

    it('pages and filters the list', async () => {
      const all = (await get(`${IODM}/category`).expect(200)).body.data as Array<{ fileId: string }>;
      const page1 = await get(`${IODM}/category?pageNo=1&pageSize=2`).expect(200);
      assert.deepEqual(
        page1.body.data.map((p: { fileId: string }) => p.fileId),
        all.slice(2, 4).map((p) => p.fileId),
      );
      assert.equal(page1.body.totalCount, 5);
      assert.equal(page1.body.pageNo, 1);
      assert.equal(page1.body.pageSize, 2);
      assert.equal((await get(`${IODM}/category?pageNo=9`).expect(200)).body.data.length, 0);
      const fw = await get(`${IODM}/category?fileType=firmwarePackage`).expect(200);
      assert.equal(fw.body.totalCount, 2);
      assert.ok(fw.body.data.every((p: { fileType: string }) => p.fileType === 'firmwarePackage'));
      const meters = await get(`${IODM}/category?deviceType=WaterMeter&fileType=softwarePackage&version=V1.1.0`);
      assert.deepEqual(
        meters.body.data.map((p: { fileId: string }) => p.fileId),
        ['sw-pkg-0002'],
      );
    });

    const pagingCases: Array<[string, number, string]> = [
      ['pageSize=0', 400, '123029'],
      ['pageSize=101', 400, '123029'],
      ['pageNo=-1', 400, '123029'],
      ['pageNo=abc', 400, '120015'],
      ['pageSize=1.5', 400, '120015'],
      ['pageNo=1&pageNo=2', 400, '120015'],
      ['fileType=documentPackage', 400, '120015'],
    ];
    for (const [query, status, code] of pagingCases) {
      it(`answers ?${query} with ${status} ${code}`, async () => {
        expectError(await get(`${IODM}/category?${query}`), status, code);
      });
    }

    it('gets and deletes a package, 404 123002 when unknown, per app', async () => {
      const one = await get(`${IODM}/category/fw-pkg-0001`).expect(200);
      assert.equal(one.body.fileId, 'fw-pkg-0001');
      assert.equal(one.body.fileType, 'firmwarePackage');
      const missing = await get(`${IODM}/category/nope-0001`);
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body, { error_code: '123002', error_desc: 'Device or package file not found.' });

      const del = await authed(api().delete(`${IODM}/category/fw-pkg-0001`), token).expect(200);
      assert.equal(del.text, '');
      expectError(await get(`${IODM}/category/fw-pkg-0001`), 404, '123002');
      expectError(await authed(api().delete(`${IODM}/category/fw-pkg-0001`), token), 404, '123002');
      assert.equal((await get(`${IODM}/category`).expect(200)).body.totalCount, 4);

      const other = (await login('demo-app-2', 'demo-secret-2')).accessToken;
      await get(`${IODM}/category/fw-pkg-0001`, other, 'demo-app-2').expect(200);
      await api().post('/__control/reset').expect(200);
      token = (await login()).accessToken;
      await get(`${IODM}/category/fw-pkg-0001`).expect(200);
    });
  });

  describe('upgrade tasks', () => {
    let token: string;
    beforeEach(async () => {
      token = (await login()).accessToken;
      // Upgrade tasks by group name target the group's real members, and an unknown group is refused
      // (123002): so the groups these tests name exist, with members that are registered devices.
      const device = async (nodeId: string): Promise<string> =>
        (await api().post('/__control/devices').send({ appId: 'demo-app', nodeId }).expect(201)).body.deviceId as string;
      const members = { north: [await device('north-1'), await device('north-2')], south: [await device('south-1')] };
      for (const [name, deviceIds] of Object.entries(members)) {
        await authed(api().post('/iocm/app/devgroup/v1.3.0/devGroups'), token).send({ name, deviceIds }).expect(200);
      }
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

    it('lists one subtask per device, and one per member of each group', async () => {
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

  describe('faults and latency', () => {
    let token: string;
    beforeEach(async () => {
      token = (await login()).accessToken;
    });
    const category = (): Test => authed(api().get(`${IODM}/category`), token);
    const fault = (rule: object): Test => control('/faults', rule);

    it('answers an error fault with the given status and platform error body, once per count', async () => {
      await fault({ count: 2, path: '/category', status: 503, errorCode: '50252' });
      for (let i = 0; i < 2; i++) {
        const res = await category();
        assert.equal(res.status, 503);
        assert.deepEqual(res.body, { error_code: '50252', error_desc: 'Internal server error.' });
      }
      await category().expect(200);
    });

    it('answers an error fault without a code with a plain body and honours errorDesc', async () => {
      await fault({ count: 1, status: 502 });
      const plain = await category();
      assert.equal(plain.status, 502);
      assert.match(plain.headers['content-type'] ?? '', /text\/plain/);
      assert.equal(plain.text, 'Bad Gateway');
      await fault({ count: 1, errorCode: '1010009', status: 403, errorDesc: 'app throttle exceed.' });
      expectError(await category(), 403, '1010009');
    });

    it('queues rules in order and matches on path, method and appId', async () => {
      await fault({ count: 1, errorCode: '100001', status: 500 });
      await fault({ count: 1, errorCode: '50252', status: 500 });
      await fault({ count: 1, appId: 'demo-app-2', errorCode: '100001', status: 500 });
      await fault({ count: 1, method: 'delete', errorCode: '100001', status: 500 });
      await fault({ count: 1, path: '/operations', errorCode: '100001', status: 500 });
      expectError(await category(), 500, '100001');
      expectError(await category(), 500, '50252');
      await category().expect(200);
      const pending = await api().get('/__control/faults').expect(200);
      assert.equal(pending.body.pending.length, 3);
      expectError(await authed(api().delete(`${IODM}/category/sw-pkg-0003`), token), 500, '100001');
      await api().delete('/__control/faults').expect(200);
      await authed(api().get(`${IODM}/operations`), token).expect(200);
    });

    it('applies faults to logins too', async () => {
      await fault({ count: 1, path: '/login', status: 500, errorCode: '50252' });
      expectError(await api().post(LOGIN).type('form').send({ appId: 'demo-app', secret: 'demo-secret' }), 500, '50252');
      await login();
    });

    it('answers garbage with 200 and a body that is not JSON', async () => {
      await fault({ count: 1, mode: 'garbage' });
      const res = await category().buffer(true).parse((r, cb) => {
        let text = '';
        r.on('data', (c: Buffer) => (text += c.toString()));
        r.on('end', () => cb(null, text));
      });
      assert.equal(res.status, 200);
      assert.throws(() => JSON.parse(res.body as string));
      await category().expect(200);
    });

    it('resets the connection without an answer', async () => {
      await fault({ count: 1, mode: 'reset' });
      await assert.rejects(category().then(() => undefined), (err: NodeJS.ErrnoException) => {
        assert.match(String(err.code ?? err.message), /ECONNRESET|socket hang up/i);
        return true;
      });
      await category().expect(200);
    });

    it('hangs until the client gives up', async () => {
      await fault({ count: 1, mode: 'hang' });
      const started = Date.now();
      await assert.rejects(category().timeout(400).then(() => undefined), /Timeout/i);
      assert.ok(Date.now() - started >= 350);
      await category().expect(200);
      const log = (await api().get('/__control/calls').expect(200)).body.log as Array<{ fault?: string; status: number }>;
      const hung = log.find((e) => e.fault === 'hang');
      assert.ok(hung);
      assert.equal(hung.status, 0);
    });

    it('delays every call, or only those whose path matches, until cleared', async () => {
      await control('/latency', { ms: 300 });
      let t0 = Date.now();
      await category().expect(200);
      assert.ok(Date.now() - t0 >= 280, 'delayed');

      await control('/latency', { ms: 0 });
      await control('/latency', { ms: 400, path: '/operations' });
      t0 = Date.now();
      await category().expect(200);
      assert.ok(Date.now() - t0 < 250, 'other paths are not delayed');
      t0 = Date.now();
      await authed(api().get(`${IODM}/operations`), token).expect(200);
      assert.ok(Date.now() - t0 >= 380, 'matching path delayed');

      await control('/latency', { ms: 0 });
      t0 = Date.now();
      await authed(api().get(`${IODM}/operations`), token).expect(200);
      assert.ok(Date.now() - t0 < 250, 'cleared');
    });
  });

  describe('control API', () => {
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
      assert.equal(listCall.headers.authorization, `Bearer ${t.accessToken}`);
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

  describe('HTTPS with client certificates', () => {
    let dir: string;
    let secure: RunningSimulator;
    let oneWay: RunningSimulator;
    const pem = (name: string): Buffer => readFileSync(join(dir, name));

    before(async function () {
      this.timeout(30_000);
      dir = makeTestPki();
      const tls = { cert: pem('server.crt'), key: pem('server.key') };
      secure = await startSimulator({ quiet: true, tls: { ...tls, ca: pem('ca.crt') } });
      oneWay = await startSimulator({ quiet: true, tls });
    });
    after(async () => {
      await secure?.close();
      await oneWay?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    /** `rogue` presents a certificate from a CA the server does not trust. */
    function get(url: string, who: 'none' | 'client' | 'rogue'): Promise<{ status: number; body: string }> {
      return new Promise((resolve, reject) => {
        const req = https.get(
          url,
          {
            ca: pem('ca.crt'),
            agent: false,
            ...(who !== 'none' && { cert: pem(`${who}.crt`), key: pem(`${who}.key`) }),
          },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      });
    }

    it('serves HTTPS and refuses a client without a certificate when a CA is configured', async () => {
      assert.match(secure.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      await assert.rejects(get(`${secure.url}/healthz`, 'none'), (err: NodeJS.ErrnoException) => {
        assert.match(`${err.code} ${err.message}`, /CERTIFICATE|ECONNRESET|socket hang up/i);
        return true;
      });
      await assert.rejects(get(`${secure.url}/healthz`, 'rogue'));
      const ok = await get(`${secure.url}/healthz`, 'client');
      assert.equal(ok.status, 200);
      assert.deepEqual(JSON.parse(ok.body), { status: 'ok' });
    });

    it('lets a certified client log in over mutual TLS', async () => {
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = https.request(
          `${secure.url}${LOGIN}`,
          {
            method: 'POST',
            ca: pem('ca.crt'),
            cert: pem('client.crt'),
            key: pem('client.key'),
            agent: false,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          },
          (r) => {
            let body = '';
            r.on('data', (c: Buffer) => (body += c.toString()));
            r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end('appId=demo-app&secret=demo-secret');
      });
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body).tokenType, 'bearer');
    });

    it('does not ask for a client certificate without a CA', async () => {
      const res = await get(`${oneWay.url}/healthz`, 'none');
      assert.equal(res.status, 200);
    });
  });

  describe('CLI and environment', () => {
    function run(env: Record<string, string>, until?: RegExp): Promise<{ code: number | null; out: string; err: string }> {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/simulator/main.ts'], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', SIMULATOR_HOST: '127.0.0.1', ...env },
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (until && until.test(out)) child.kill('SIGTERM');
        });
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        child.on('error', reject);
        child.on('exit', (code) => resolve({ code, out, err }));
      });
    }

    it('prints its URL, and exits 0 on SIGTERM', async function () {
      this.timeout(20_000);
      const res = await run({ SIMULATOR_PORT: '0' }, /listening on http:\/\/127\.0\.0\.1:\d+/);
      assert.equal(res.code, 0, res.err);
      assert.match(res.out, /platform simulator listening on http:\/\/127\.0\.0\.1:\d+/);
      assert.doesNotMatch(res.out, /demo-secret/);
    });

    it('exits 1 with one line per configuration problem and no stack trace', async function () {
      this.timeout(20_000);
      const res = await run({
        SIMULATOR_PORT: 'eighty',
        SIMULATOR_RATE_PER_MINUTE: '0',
        PLATFORM_APPS: '[{"appId":"a","secret":"top-secret"},{"appId":"a","secret":"second-secret"}]',
        SIMULATOR_TLS_CERT_FILE: '/nonexistent/cert.pem',
      });
      assert.equal(res.code, 1);
      const lines = res.err.trim().split('\n');
      assert.equal(lines.length, 5, res.err);
      for (const line of lines) assert.match(line, /^simulator: /);
      assert.doesNotMatch(res.err, /\n\s+at /);
      assert.doesNotMatch(res.err, /top-secret|second-secret/);
    });

    it('reads apps, limits and TLS files from the environment', () => {
      const files: Record<string, string> = { '/c': 'CERT', '/k': 'KEY' };
      const read = (p: string): Buffer => {
        const v = files[p];
        if (v === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
        return Buffer.from(v);
      };
      const ok = settingsFromEnv(
        {
          PLATFORM_APPS: '[{"appId":"x","secret":"s","ratePerMinute":5}]',
          SIMULATOR_PORT: '9000',
          SIMULATOR_WINDOW_MS: '1000',
          SIMULATOR_EXPIRES_IN: '60',
          SIMULATOR_TLS_CERT_FILE: '/c',
          SIMULATOR_TLS_KEY_FILE: '/k',
        },
        read,
      );
      assert.ok(ok.ok);
      assert.equal(ok.settings.port, 9000);
      assert.equal(ok.settings.host, '0.0.0.0');
      assert.deepEqual(ok.settings.options.apps, [{ appId: 'x', secret: 's' }]);
      assert.equal(ok.settings.options.ratePerMinute, 100);
      assert.equal(ok.settings.options.windowMs, 1000);
      assert.equal(ok.settings.options.expiresIn, 60);
      assert.equal(ok.settings.options.tls?.cert.toString(), 'CERT');

      const defaults = settingsFromEnv({}, read);
      assert.ok(defaults.ok);
      assert.equal(defaults.settings.port, 8743);
      assert.equal(defaults.settings.options.apps, undefined);
      assert.equal(defaults.settings.options.tls, undefined);

      const bad = settingsFromEnv({ SIMULATOR_TLS_CA_FILE: '/c', SIMULATOR_TLS_KEY_FILE: '/k', PLATFORM_APPS: '{}' }, read);
      assert.ok(!bad.ok);
      assert.equal(bad.errors.length, 3, bad.errors.join('\n'));
    });
  });
});
