// The compat port driven by a client that speaks exactly what Huawei's PHP SDK sends, with the simulator as the platform (contract §14).
import assert from 'node:assert/strict';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { createCompatServer } from '../src/compat/index.js';
import { closeGracefully } from '../src/server.js';
import {
  closeAll,
  CLIENTS,
  gatewayEnv,
  KEYS,
  LOGIN_ROUTE,
  sleep,
  startGateway,
  startRedis,
  startTestSimulator,
  TEST_APPS,
  type TestGateway,
  type TestRedis,
  type TestSimulator,
} from './helpers/fixtures.js';
import { platformCallsSince } from './helpers/routes.js';
import { NorthApiException, SdkClient } from './helpers/sdk-client.js';

/** A second service of app-b, with a key of its own. */
const SVC_B = { name: 'svc-b', key: 'key-of-service-b-0123456789abcdef', apps: ['app-b'] };
/** A client with a request rate of its own (contract §11): three requests a minute, whichever front they use. */
const SVC_SLOW = { name: 'svc-slow', key: 'key-of-slow-service-0123456789abcd', apps: ['app-a'], rateLimit: { requests: 3, windowSec: 60 } };
/** app-b's quota is small, so that sharing it is visible; app-a's is not the subject here. */
const APPS = JSON.stringify([
  { ...TEST_APPS[0], ratePerMinute: 1000 },
  { ...TEST_APPS[1], ratePerMinute: 4 },
]);

interface Replica {
  gw: TestGateway;
  server: http.Server;
  url: string;
  close(): Promise<void>;
}

async function startReplica(env: Record<string, string>): Promise<Replica> {
  const gw = await startGateway(env);
  const app = gw.gateway.compatApp;
  assert.ok(app, 'COMPAT_PORT set: the gateway builds the compat app');
  const server = createCompatServer(app, gw.gateway.config);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    gw,
    server,
    url,
    close: async () => {
      await closeGracefully(server, 500);
      await gw.close();
    },
  };
}

/** Runs an SDK call that must fail; returns the NorthApiException, as the SDK hands it to its caller. */
async function refused(p: Promise<unknown>): Promise<NorthApiException> {
  try {
    await p;
  } catch (err) {
    if (err instanceof NorthApiException) return err;
    throw err;
  }
  assert.fail('the call succeeded');
}

describe('compat port: a PHP-SDK service behind the gateway', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  let a: Replica;
  /** A second replica on the same Redis, issuing short sessions (COMPAT_SESSION_TTL_SEC=1). */
  let b: Replica;
  const tokensSeen: string[] = [];

  before(async () => {
    redis = await startRedis({ own: false });
    sim = await startTestSimulator();
    const env = gatewayEnv(sim.url, redis.url, {
      PLATFORM_APPS: APPS,
      GATEWAY_CLIENTS: JSON.stringify([...CLIENTS, SVC_B, SVC_SLOW]),
      COMPAT_PORT: '8743',
      LOG_LEVEL: 'debug',
    });
    a = await startReplica(env);
    b = await startReplica({ ...env, COMPAT_SESSION_TTL_SEC: '1' });
  });
  after(() => closeAll(a, b, sim, redis));

  const sdk = (url: string, appId: string, secret: string) => new SdkClient({ baseUrl: url, appId, secret });
  const login = async (c: SdkClient) => {
    const t = await c.getAuthToken();
    tokensSeen.push(t.accessToken, t.refreshToken);
    return t.accessToken;
  };
  const platformLogins = async (appId: string) =>
    (await sim.calls()).log.filter((c) => `${c.method} ${c.path}` === LOGIN_ROUTE && c.appId === appId).length;

  it('logs in with the gateway API key as the secret: the platform\'s answer shape, the gateway\'s own token, nothing sent to the platform', async () => {
    const before = (await sim.calls()).total;
    const c = sdk(a.url, 'app-a', KEYS.all);
    const t = await c.getAuthToken();
    tokensSeen.push(t.accessToken, t.refreshToken);
    assert.deepEqual(Object.keys(t).sort(), ['accessToken', 'expiresIn', 'refreshToken', 'scope', 'tokenType']);
    assert.equal(t.tokenType, 'bearer');
    assert.equal(t.scope, 'default');
    assert.equal(t.expiresIn, 3600);
    assert.ok(t.accessToken.length >= 40 && t.refreshToken !== t.accessToken);
    assert.equal((await sim.calls()).total, before, 'a compat login reaches nothing');
  });

  it('refuses a wrong key, a key not allowed that app, and an unknown app with the platform\'s 401 100208; empty fields 400 102202', async () => {
    for (const [appId, secret] of [
      ['app-a', 'not-a-key-0123456789abcdef0123'],
      ['app-b', KEYS.onlyA],
      ['no-such-app', KEYS.all],
      ['app-a', TEST_APPS[0]!.secret], // the platform secret is not a gateway key
    ] as const) {
      const e = await refused(sdk(a.url, appId, secret).getAuthToken());
      assert.equal(e.httpStatusCode, 401);
      assert.equal(e.error_code, '100208');
    }
    const e = await refused(sdk(a.url, 'app-a', '').getAuthToken());
    assert.deepEqual([e.httpStatusCode, e.error_code], [400, '102202']);
  });

  it('answers a bad session as the platform does: 403 1010005 (unknown token, another app\'s session), 401 100025 without app_key', async () => {
    const token = await login(sdk(a.url, 'app-a', KEYS.all));
    let e = await refused(sdk(a.url, 'app-a', KEYS.all).queryUpgradePackageList('not-a-session'));
    assert.deepEqual([e.httpStatusCode, e.error_code], [403, '1010005']);
    // A session of app-a presented for app-b, by a client that may use both.
    e = await refused(sdk(a.url, 'app-b', KEYS.all).queryUpgradePackageList(token));
    assert.deepEqual([e.httpStatusCode, e.error_code], [403, '1010005']);
    e = await refused(new SdkClient({ baseUrl: a.url, appId: '', secret: KEYS.all }).queryUpgradePackageList(token));
    assert.deepEqual([e.httpStatusCode, e.error_code], [401, '100025']);
  });

  it('a device registered and commanded, its history read with the SDK\'s appId in the query: the platform\'s statuses and bodies unchanged', async () => {
    const c = sdk(a.url, 'app-a', KEYS.all);
    const token = await login(c);
    const since = Date.now();
    const reg = await c.regDirectDevice(token, {
      nodeId: 'compat-node-1',
      verifyCode: 'compat-node-1',
      timeout: 0,
      deviceInfo: { manufacturerName: 'HydroTech', deviceType: 'WaterMeter', model: 'WM100', protocolType: 'CoAP' },
    });
    const deviceId = reg.deviceId as string;
    assert.ok(deviceId);
    const regStatus = c.lastStatus;

    const cmd = await c.postDeviceCommand(token, {
      deviceId,
      command: { serviceId: 'WaterMeter', method: 'SET_INTERVAL', paras: { value: 60 } },
      expireTime: 3600,
    });
    assert.ok(cmd.commandId);
    const cmdStatus = c.lastStatus;
    const listed = await c.queryDeviceCommand(token, { deviceId, pageNo: 0, pageSize: 10, appId: 'app-a' });
    // The SDK reads Pagination.totalSize: the platform's own envelope, not the gateway's.
    assert.ok(listed.pagination.totalSize >= 1);
    assert.ok(listed.data.some((x: { commandId: string }) => x.commandId === cmd.commandId));

    await sim.control(`devices/${deviceId}/data`, { serviceId: 'WaterMeter', data: { value: 42 } });
    const history = await c.queryDeviceDataHistory(token, { deviceId, gatewayId: deviceId, pageNo: 0, pageSize: 10, appId: 'app-a' });
    assert.match(JSON.stringify(history), /"value":42/);

    const { log } = await sim.calls();
    const sent = log.filter((x) => x.at >= since && !x.path.startsWith('/iocm/app/sec/'));
    const status = (path: string) => sent.find((x) => x.method === 'POST' && x.path === path)?.status;
    assert.equal(regStatus, status('/iocm/app/reg/v1.1.0/deviceCredentials'), "the platform's status, not the gateway's 201");
    assert.equal(cmdStatus, status('/iocm/app/cmd/v1.4.0/deviceCommands'));
    const hist = sent.find((x) => x.path === '/iocm/app/data/v1.2.0/deviceDataHistory');
    assert.equal(hist?.query.deviceId, deviceId);
    for (const x of sent) assert.equal(x.headers.app_key, 'app-a');
    assert.ok(sent.every((x) => x.headers.authorization !== `Bearer ${token}`), 'the session token never reaches the platform');

    await c.deleteDirectDevice(token, deviceId);
    assert.equal(c.lastStatus, 204);
    const gone = await refused(c.querySingleDeviceInfo(token, deviceId));
    assert.equal(gone.error_code, '100403');
    assert.equal(gone.httpStatusCode, (await sim.calls()).log.at(-1)?.status, "the platform's status for its own code");
  });

  it('the upgrade round trip: packages, a software task, the task and its subtasks', async () => {
    const c = sdk(a.url, 'app-a', KEYS.all);
    const token = await login(c);
    const reg = await c.regDirectDevice(token, {
      nodeId: 'compat-node-2',
      verifyCode: 'compat-node-2',
      deviceInfo: { manufacturerName: 'HydroTech', deviceType: 'WaterMeter', model: 'WM100', protocolType: 'CoAP' },
    });
    const list = await c.queryUpgradePackageList(token, { fileType: 'softwarePackage', pageNo: 0, pageSize: 10 });
    assert.ok(list.data.some((p: { fileId: string }) => p.fileId === 'sw-pkg-0001'));
    const pkg = await c.queryUpgradePackage(token, 'sw-pkg-0001');
    assert.equal(pkg.fileId, 'sw-pkg-0001');
    const task = await c.createSoftwareUpgradeTask(token, { fileId: 'sw-pkg-0001', targets: { devices: [reg.deviceId] } });
    assert.ok(task.operationId);
    const one = await c.queryUpgradeTask(token, task.operationId);
    assert.equal(one.operationId, task.operationId);
    const subs = await c.queryUpgradeSubTask(token, task.operationId, { pageNo: 0, pageSize: 10 });
    assert.deepEqual(subs.data.map((s: { deviceId: string }) => s.deviceId), [reg.deviceId]);
  });

  it("an invalid request gets the platform's code for that API (400 123023), and reaches nothing", async () => {
    const c = sdk(a.url, 'app-a', KEYS.all);
    const token = await login(c);
    const before = (await sim.calls()).total;
    const e = await refused(
      c.createSoftwareUpgradeTask(token, { fileId: 'sw-pkg-0001', targets: { devices: ['d1'], deviceGroups: ['g1'] } }),
    );
    assert.deepEqual([e.httpStatusCode, e.error_code], [400, '123023']);
    // Without a documented code for the API: the platform's generic 100022.
    const e2 = await refused(c.queryDeviceCommand(token, { pageSize: 'many' }));
    assert.deepEqual([e2.httpStatusCode, e2.error_code], [400, '100022']);
    // Another app's appId in the query is not the SDK's own: refused, never forwarded.
    const e3 = await refused(c.queryDeviceCommand(token, { appId: 'app-b' }));
    assert.deepEqual([e3.httpStatusCode, e3.error_code], [400, '100022']);
    assert.equal((await sim.calls()).total, before);
  });

  it('a path or method the platform does not serve gets its answer (404 100022); subscriptions a clear platform-format error', async () => {
    const c = sdk(a.url, 'app-a', KEYS.all);
    const token = await login(c);
    let e = await refused(c.invoke('GET', '/iocm/app/nothing/v9.9.9/here', token));
    assert.deepEqual([e.httpStatusCode, e.error_code], [404, '100022']);
    e = await refused(c.invoke('PUT', '/iodm/northbound/v1.5.0/category', token, undefined, { a: 1 }));
    assert.deepEqual([e.httpStatusCode, e.error_code], [404, '100022']);
    const before = (await sim.calls()).total;
    const head = await fetch(`${a.url}/iodm/northbound/v1.5.0/category`, { method: 'HEAD', headers: { app_key: 'app-a', authorization: `Bearer ${token}` } });
    assert.equal(head.status, 404);
    assert.equal((await sim.calls()).total, before, 'a HEAD spends no platform call');
    e = await refused(c.subDeviceManagementData(token, 'swUpgradeResultNotify', 'https://10.0.0.7:8443/push'));
    assert.equal(e.error_code, 'GW.SUBSCRIPTIONS_NOT_AVAILABLE');
    assert.equal(e.httpStatusCode, 501);
  });

  it('Idempotency-Key replays answer as each front answered the first time (compat: the platform\'s status and body; /v1: 201 and its envelope), one platform call per key', async () => {
    const c = sdk(a.url, 'app-a', KEYS.all);
    const token = await login(c);
    const CREATE = '/iodm/northbound/v1.5.0/operations/softwareUpgrade';
    const body = (device: string) => ({ fileId: 'sw-pkg-0001', targets: { devices: [device] } });
    const viaCompat = (key: string, device: string, fileId = 'sw-pkg-0001') =>
      fetch(`${a.url}${CREATE}`, {
        method: 'POST',
        headers: { app_key: 'app-a', Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Idempotency-Key': key },
        body: JSON.stringify({ ...body(device), fileId }),
      });
    const viaV1 = (key: string, device: string, fileId = 'sw-pkg-0001') =>
      fetch(`${a.gw.url}/v1/apps/app-a/upgrade-tasks/software`, {
        method: 'POST',
        headers: { 'X-Api-Key': KEYS.all, 'Content-Type': 'application/json', 'Idempotency-Key': key },
        body: JSON.stringify({ ...body(device), fileId }),
      });
    const creates = async (device: string) => (await sim.calls()).log.filter((x) => x.method === 'POST' && x.path === CREATE && JSON.stringify(x.body).includes(device));
    const read = async (r: Response) => ({ status: r.status, replayed: r.headers.get('idempotent-replayed'), body: (await r.json()) as any });

    // First through compat: its replays there answer the platform's status and body; /v1 answers its own 201 envelope.
    const first = await read(await viaCompat('compat-key-1', 'idem-dev-1'));
    const [sent] = await creates('idem-dev-1');
    assert.equal(first.status, sent?.status, "the platform's status the first time");
    assert.notEqual(first.status, 201, 'the simulator answers the create with a status of its own (else this test shows nothing)');
    const again = await read(await viaCompat('compat-key-1', 'idem-dev-1'));
    assert.deepEqual(again, { ...first, replayed: 'true' });
    const onV1 = await read(await viaV1('compat-key-1', 'idem-dev-1'));
    assert.equal(onV1.status, 201);
    assert.equal(onV1.replayed, 'true');
    assert.deepEqual(onV1.body, { operationId: first.body.operationId });
    assert.equal((await creates('idem-dev-1')).length, 1);

    // First through /v1: replayed there as 201, and on compat as the platform answered it.
    const v1First = await read(await viaV1('v1-key-1', 'idem-dev-2'));
    assert.equal(v1First.status, 201);
    const [sent2] = await creates('idem-dev-2');
    const onCompat = await read(await viaCompat('v1-key-1', 'idem-dev-2'));
    assert.equal(onCompat.replayed, 'true');
    assert.equal(onCompat.status, sent2?.status);
    assert.equal(onCompat.body.operationId, v1First.body.operationId);
    assert.ok(!('error' in onCompat.body), 'no gateway envelope on the compat port');
    assert.deepEqual(await read(await viaV1('v1-key-1', 'idem-dev-2')), { ...v1First, replayed: 'true' });
    assert.equal((await creates('idem-dev-2')).length, 1);

    // A platform refusal replays with the platform's own code and HTTP status on compat: here its 200 with an
    // error_code, which the gateway itself answers as 404 on /v1.
    await sim.control('faults', { count: 1, path: CREATE, status: 200, errorCode: '123002', errorDesc: 'not found' });
    const refusal = await viaCompat('compat-key-2', 'idem-dev-3', 'no-such-package');
    const refused1 = { status: refusal.status, body: (await refusal.json()) as any };
    assert.deepEqual([refused1.status, refused1.body.error_code], [200, '123002']);
    const refusal2 = await viaCompat('compat-key-2', 'idem-dev-3', 'no-such-package');
    assert.equal(refusal2.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual({ status: refusal2.status, body: await refusal2.json() }, refused1);
    const v1Refusal = await viaV1('compat-key-2', 'idem-dev-3', 'no-such-package');
    assert.equal(v1Refusal.status, 404, '/v1 replays its own status for the same record');
    assert.equal(((await v1Refusal.json()) as { error: { platformCode: string } }).error.platformCode, '123002');
    assert.equal((await creates('idem-dev-3')).length, 1);
  });

  it('two services with different keys share one app\'s quota exactly: the rest get 403 1010009', async () => {
    const s1 = sdk(a.url, 'app-b', KEYS.all);
    const s2 = sdk(b.url, 'app-b', SVC_B.key);
    const [t1, t2] = [await login(s1), await login(s2)];
    const since = Date.now();
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      for (const [c, t] of [[s1, t1], [s2, t2]] as const) {
        outcomes.push(await c.queryUpgradePackageList(t).then(() => 'ok', (e: NorthApiException) => `${e.httpStatusCode} ${e.error_code}`));
      }
    }
    const ok = outcomes.filter((o) => o === 'ok').length;
    assert.ok(outcomes.every((o) => o === 'ok' || o === '403 1010009'), outcomes.join(', '));
    const { log } = await sim.calls();
    const atPlatform = log.filter((x) => x.at >= since && x.appId === 'app-b');
    // Every platform call of app-b (the gateway's one login included) took one of its 4 slots; none was refused there.
    assert.equal(atPlatform.length, 4);
    assert.equal(ok, atPlatform.filter((x) => !x.path.startsWith('/iocm/app/sec/')).length);
    assert.ok(atPlatform.every((x) => x.errorCode === undefined));
  });

  it('a client\'s request rate counts its /v1 and compat requests together; over it, compat answers 403 1010009 and nothing is sent', async () => {
    const v1 = await fetch(`${a.gw.url}/v1/apps/app-a/packages`, { headers: { 'x-api-key': SVC_SLOW.key } });
    assert.equal(v1.status, 200, await v1.text());
    const c = sdk(a.url, 'app-a', SVC_SLOW.key);
    // The login is not a platform API call, nor counted: only calls to the platform's APIs are.
    const token = await login(c);
    await c.queryUpgradePackageList(token);
    await c.queryUpgradePackageList(token);
    const since = Date.now();
    const refused = await c.queryUpgradePackageList(token).then(
      () => assert.fail('a fourth request in the minute passed'),
      (e: unknown) => e as NorthApiException,
    );
    assert.equal(refused.httpStatusCode, 403);
    assert.equal(refused.error_code, '1010009');
    assert.deepEqual(await platformCallsSince(sim, since), []);
    // And /v1 sees the same spent rate.
    const after = await fetch(`${a.gw.url}/v1/apps/app-a/packages`, { headers: { 'x-api-key': SVC_SLOW.key } });
    assert.equal(after.status, 429);
    assert.equal(((await after.json()) as { error: { code: string } }).error.code, 'CLIENT_RATE_LIMITED');
  });

  it('sessions are shared by replicas, expire, and the SDK then logs in again; refresh spends its refresh token', async () => {
    const c = sdk(b.url, 'app-a', KEYS.onlyA);
    const short = await login(c); // replica b issues 1-second sessions
    const onA = sdk(a.url, 'app-a', KEYS.onlyA);
    assert.ok(await onA.queryUpgradePackageList(short), 'a session issued by one replica is valid on another');
    await sleep(1100);
    const e = await refused(onA.queryUpgradePackageList(short));
    assert.deepEqual([e.httpStatusCode, e.error_code], [403, '1010005']);
    const again = await login(onA);
    assert.ok(await onA.queryUpgradePackageList(again));

    const first = await c.getAuthToken();
    tokensSeen.push(first.accessToken, first.refreshToken);
    const renewed = await onA.refreshAuthToken(first.refreshToken);
    tokensSeen.push(renewed.accessToken, renewed.refreshToken);
    assert.equal(renewed.tokenType, 'bearer');
    assert.ok(await onA.queryUpgradePackageList(renewed.accessToken));
    const spent = await refused(onA.refreshAuthToken(first.refreshToken));
    assert.deepEqual([spent.httpStatusCode, spent.error_code], [401, '100208']);
    // Another client's key cannot trade this client's refresh token.
    const stolen = await refused(sdk(a.url, 'app-a', KEYS.all).refreshAuthToken(renewed.refreshToken));
    assert.deepEqual([stolen.httpStatusCode, stolen.error_code], [401, '100208']);
  });

  it('the platform saw one login per app however many SDK logins there were; no token or key in logs or Redis', async () => {
    assert.ok(tokensSeen.length >= 16);
    assert.equal(await platformLogins('app-a'), 1);
    assert.equal(await platformLogins('app-b'), 1);

    const logs = [...a.gw.logs, ...b.gw.logs].join('');
    for (const secret of [...tokensSeen, KEYS.all, KEYS.onlyA, SVC_B.key]) assert.ok(!logs.includes(secret), 'a secret in the logs');

    const r = new Redis(redis.url, { lazyConnect: true });
    try {
      await r.connect();
      const prefix = a.gw.gateway.config.redisKeyPrefix;
      const keys = await r.keys(`${prefix}compat:*`);
      assert.ok(keys.length > 0);
      for (const k of keys) assert.match(k, /^[^:]+:compat:\{app-[ab]\}:(access|refresh):[0-9a-f]{64}$/);
      const values = await Promise.all(keys.map((k) => r.get(k)));
      const stored = keys.join('\n') + values.join('\n');
      for (const t of tokensSeen) assert.ok(!stored.includes(t), 'a raw token in Redis');
      const ttl = await r.ttl(keys[0]!);
      assert.ok(ttl > 0, 'sessions expire');
    } finally {
      r.disconnect();
    }
  });
});
