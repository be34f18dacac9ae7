// The platform's subscription APIs on the compat port, answered from the events feature's raw webhooks (real Redis, the real webhook registry; then a whole gateway with the simulator and real receivers): shapes, the SDK's spellings, ownership, the platform's push body delivered unchanged.
import assert from 'node:assert/strict';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { buildCompatApp, createCompatServer, RedisSessionStore } from '../src/compat/index.js';
import { webhookSubscriptions } from '../src/compat/subscriptions.js';
import { loadConfig } from '../src/config.js';
import { Events } from '../src/events/index.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import type { Pipeline } from '../src/pipeline.js';
import { closeGracefully } from '../src/server.js';
import { startEventsGateway, startReceiver, type Receiver } from './helpers/events.js';
import {
  closeAll,
  gatewayEnv,
  KEYS,
  ROOT,
  ROUTES,
  sleep,
  startRedis,
  startTestSimulator,
  waitFor,
  type TestRedis,
  type TestSimulator,
} from './helpers/fixtures.js';
import { NorthApiException, SdkClient } from './helpers/sdk-client.js';

describe('compat port: platform subscriptions become the caller\'s webhooks', () => {
  let redis: TestRedis;
  let conn: Redis;
  let events: Events;
  let server: http.Server;
  let url: string;
  const calls: string[] = [];

  before(async () => {
    redis = await startRedis({ own: false });
    const config = loadConfig({ ...gatewayEnv('http://127.0.0.1:9', redis.url), COMPAT_PORT: '8743', PORT: '0' }, ROOT);
    conn = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const logger = createLogger('silent');
    events = new Events({
      redis: conn,
      keyPrefix: config.redisKeyPrefix,
      logger,
      callbackSecret: 'a-callback-secret-of-at-least-32-chars',
      callbackBaseUrl: 'http://127.0.0.1:9',
      apps: config.apps,
    });
    // Subscriptions never reach the pipeline (nor the platform): a call to it fails the test.
    const pipeline: Pipeline = {
      run: async (call) => {
        calls.push(call.spec.id);
        throw new Error('the pipeline is not on the subscriptions path');
      },
      refusedEarly: (call) => {
        calls.push(call.spec.id);
        return undefined;
      },
    };
    const app = buildCompatApp({
      config,
      routes: ROUTES,
      pipeline,
      sessions: new RedisSessionStore(conn, config.redisKeyPrefix, 60),
      logger,
      metrics: createMetrics(),
      subscriptions: webhookSubscriptions(events),
    });
    server = createCompatServer(app, config);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await closeGracefully(server, 500);
    await events.stop(0);
    conn.disconnect();
    await redis.close();
  });

  it('subscribe (callbackUrl or the SDK\'s callbackurl), list, get, delete one and by filter; other clients see none', async () => {
    const c = new SdkClient({ baseUrl: url, appId: 'app-a', secret: KEYS.all });
    const token = (await c.getAuthToken()).accessToken;
    const service = await c.invoke('POST', '/iocm/app/sub/v1.2.0/subscriptions', token, undefined, {
      notifyType: 'deviceDataChanged',
      callbackUrl: 'http://10.0.0.7:8443/push',
    });
    assert.equal(c.lastStatus, 201);
    assert.deepEqual(Object.keys(service).sort(), ['callbackUrl', 'notifyType', 'subscriptionId']);
    assert.equal(service.notifyType, 'deviceDataChanged');
    assert.equal(await c.subDeviceManagementData(token, 'swUpgradeResultNotify', 'http://10.0.0.7:8443/upgrades'), null);
    assert.equal(c.lastStatus, 200, 'management subscribe: 200 without a body, as the platform');

    const listed = await c.invoke('GET', '/iocm/app/sub/v1.2.0/subscriptions', token, { pageNo: 0, pageSize: 1 });
    assert.equal(listed.totalCount, 2);
    assert.equal(listed.subscriptions.length, 1);
    const one = await c.invoke('GET', `/iocm/app/sub/v1.2.0/subscriptions/${service.subscriptionId}`, token);
    assert.deepEqual(one, service);

    // They are the client's webhooks: /v1 sees them under the same owner, another client sees none.
    assert.equal((await events.listWebhooks('app-a', 'ops-portal')).length, 2);
    const other = new SdkClient({ baseUrl: url, appId: 'app-a', secret: KEYS.onlyA });
    const otherToken = (await other.getAuthToken()).accessToken;
    assert.equal((await other.invoke('GET', '/iocm/app/sub/v1.2.0/subscriptions', otherToken)).totalCount, 0);
    const notTheirs = await other.invoke('DELETE', `/iocm/app/sub/v1.2.0/subscriptions/${service.subscriptionId}`, otherToken).catch((e) => e);
    assert.ok(notTheirs instanceof NorthApiException && notTheirs.httpStatusCode === 404);

    assert.equal(await c.invoke('DELETE', `/iocm/app/sub/v1.2.0/subscriptions/${service.subscriptionId}`, token), null);
    assert.equal(c.lastStatus, 204);
    await c.invoke('DELETE', '/iocm/app/sub/v1.2.0/subscriptions', token, { notifyType: 'swUpgradeResultNotify' });
    assert.equal((await events.listWebhooks('app-a', 'ops-portal')).length, 0);

    // A callback URL nobody can deliver to: the platform's own code for it (platform-api.md §6.2), not the generic 100022.
    for (const callbackUrl of ['not a url', 'ftp://files.example:21/x']) {
      const bad = await c.invoke('POST', '/iocm/app/sub/v1.2.0/subscriptions', token, undefined, { notifyType: 'deviceDataChanged', callbackUrl }).catch((e) => e);
      assert.ok(bad instanceof NorthApiException);
      assert.deepEqual([bad.httpStatusCode, bad.error_code], [400, '100222'], callbackUrl);
    }
    // Another bad field stays the generic invalid input.
    const badType = await c.invoke('POST', '/iocm/app/sub/v1.2.0/subscriptions', token, undefined, { notifyType: 'noSuchType', callbackUrl: 'https://svc.example:8443/push' }).catch((e) => e);
    assert.deepEqual([badType.httpStatusCode, badType.error_code], [400, '100022']);
    assert.deepEqual(calls, []);
  });
});

describe('compat port subscriptions through the gateway: the platform\'s push body, unchanged, at the service\'s callbackUrl', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: Awaited<ReturnType<typeof startEventsGateway>>;
  let compat: http.Server;
  let raw: Receiver;
  let signed: Receiver;
  let c: SdkClient;
  let token: string;
  let v1Secret: string;
  const subs: Record<string, { subscriptionId: string; notifyType: string; callbackUrl: string }> = {};
  /** What the simulator pushed, serialized as it sends it (JSON.stringify of the body, src/simulator/families/subscriptions). */
  const pushed: string[] = [];

  before(async () => {
    redis = await startRedis({ own: false });
    sim = await startTestSimulator();
    sim.onNotify((appId, body) => void (appId === 'app-a' && pushed.push(JSON.stringify(body))));
    raw = await startReceiver();
    signed = await startReceiver();
    gw = await startEventsGateway(gatewayEnv(sim.url, redis.url, { COMPAT_PORT: '8743' }));
    compat = createCompatServer(gw.gateway.compatApp!, gw.gateway.config);
    await new Promise<void>((r) => compat.listen(0, '127.0.0.1', () => r()));
    c = new SdkClient({ baseUrl: `http://127.0.0.1:${(compat.address() as AddressInfo).port}`, appId: 'app-a', secret: KEYS.all });
    token = (await c.getAuthToken()).accessToken;
  });
  after(async () => {
    await closeGracefully(compat, 500);
    await closeAll(gw, sim, raw, signed, redis);
  });

  const v1 = (path: string, init: RequestInit = {}) =>
    fetch(`${gw.url}/v1/apps/app-a${path}`, { ...init, headers: { 'x-api-key': KEYS.all, 'content-type': 'application/json', ...init.headers } });
  const platformSubscribes = async () => (await sim.calls()).log.filter((x) => x.method === 'POST' && /\/app\/sub\//.test(x.path));

  it("an SDK subscription is the client's raw webhook: 201 with the platform's DTO, listed and read back; the platform sees only the gateway's own subscription", async () => {
    for (const notifyType of ['deviceDataChanged', 'deviceAdded']) {
      subs[notifyType] = await c.subDeviceData(token, { notifyType, callbackUrl: raw.url });
      assert.equal(c.lastStatus, 201);
      assert.deepEqual({ ...subs[notifyType], subscriptionId: 'x' }, { subscriptionId: 'x', notifyType, callbackUrl: raw.url });
    }
    // A /v1 webhook of the same client on the same app: envelope, signed.
    const created = await v1('/webhooks', { method: 'POST', body: JSON.stringify({ url: signed.url, notifyTypes: ['deviceDataChanged'] }) });
    assert.equal(created.status, 201);
    v1Secret = ((await created.json()) as { secret: string }).secret;

    const listed = await c.queryBatchSubscriptions(token, { pageNo: 0, pageSize: 10 });
    assert.equal(listed.totalCount, 2, 'the /v1 envelope webhook is not one of its platform subscriptions');
    assert.deepEqual(await c.querySingleSubscription(token, subs.deviceAdded!.subscriptionId), subs.deviceAdded);
    const onV1 = ((await (await v1('/webhooks')).json()) as { webhooks: Array<{ url: string; format: string }> }).webhooks;
    assert.deepEqual(onV1.map((w) => `${w.format} ${w.url === raw.url ? 'raw' : 'signed'}`).sort(), ['envelope signed', 'raw raw', 'raw raw']);

    await waitFor(async () => (await platformSubscribes()).filter((x) => x.status < 300).length === 2, 10_000, 'the gateway\'s platform subscriptions');
    const calls = await platformSubscribes();
    assert.deepEqual(calls.map((x) => (x.body as { notifyType: string }).notifyType).sort(), ['deviceAdded', 'deviceDataChanged']);
    const ours = gw.gateway.events!.callbackUrl('app-a');
    for (const x of calls) assert.equal((x.body as { callbackUrl: string }).callbackUrl, ours);
    assert.ok(!JSON.stringify((await sim.calls()).log).includes(raw.url), "the service's URL never reached the platform");
  });

  it("pushes reach the callbackUrl as the platform sent them, byte for byte and unsigned; the /v1 webhook beside it gets the signed envelope", async () => {
    const reg = await c.regDirectDevice(token, { nodeId: 'compat-sub-1', verifyCode: 'compat-sub-1', deviceInfo: { manufacturerName: 'HydroTech', deviceType: 'WaterMeter', model: 'WM100', protocolType: 'CoAP' } });
    await sim.control(`devices/${reg.deviceId}/data`, { serviceId: 'WaterMeter', data: { value: 42 } });
    await waitFor(() => raw.got.length === 2 && signed.got.length === 1, 10_000, 'both deliveries');
    const sent = pushed.filter((b) => b.includes(reg.deviceId));
    assert.equal(sent.length, 2);
    // Two webhooks (one per subscription), and the platform's pushes race each other: compared as a set.
    assert.deepEqual(raw.got.map((d) => d.body).sort(), [...sent].sort(), "the platform's bodies, unchanged");
    const reading = sent.find((b) => b.includes('deviceDataChanged'))!;
    assert.deepEqual(JSON.parse(reading).service.data, { value: 42 });
    for (const d of raw.got) {
      assert.equal(d.headers['content-type'], 'application/json');
      for (const h of ['webhook-signature', 'webhook-id', 'webhook-timestamp']) assert.equal(d.headers[h], undefined, h);
    }
    const env = new Webhook(v1Secret).verify(signed.got[0]!.body, signed.got[0]!.headers as Record<string, string>) as { notifyType: string; data: unknown };
    assert.equal(env.notifyType, 'deviceDataChanged');
    assert.deepEqual(env.data, JSON.parse(reading));
  });

  it('a push laid out otherwise (indentation, a 20-digit number, an escape) is delivered as received; the envelope carries it parsed', async () => {
    const text = '{\n  "notifyType" : "deviceDataChanged",\n  "deviceId": "laid-out",\n  "service": {"data": {"n": 12345678901234567890, "s": "caf\\u00e9"}}\n}';
    const at = await fetch(gw.gateway.events!.callbackUrl('app-a'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
    assert.equal(at.status, 200);
    await waitFor(() => raw.got.length === 3 && signed.got.length === 2, 10_000, 'both deliveries');
    assert.equal(raw.got[2]!.body, text);
    assert.equal(JSON.parse(signed.got[1]!.body).data.service.data.s, 'café');
  });

  it("commands: the service's own callbackUrl is refused in the platform's format, unsent; a commandStatusChanged subscription gets the platform's command pushes, never the gateway's callback", async () => {
    const cmdRx = await startReceiver();
    try {
      const reg = await c.regDirectDevice(token, { nodeId: 'compat-sub-2', verifyCode: 'compat-sub-2' });
      const command = { serviceId: 'WaterMeter', method: 'SET_INTERVAL', paras: { value: 60 } };
      const before = (await sim.calls()).total;
      const refused = await c.postDeviceCommand(token, { deviceId: reg.deviceId, command, callbackUrl: 'http://10.0.0.7:8443/cmd' }).catch((e) => e);
      assert.ok(refused instanceof NorthApiException, String(refused));
      assert.deepEqual([refused.httpStatusCode, refused.error_code], [400, '100022']);
      assert.match(refused.error_desc, /commandStatusChanged/);
      assert.equal((await sim.calls()).total, before, 'nothing reached the platform');

      const sub = await c.subDeviceData(token, { notifyType: 'commandStatusChanged', callbackUrl: cmdRx.url });
      assert.equal(sub.notifyType, 'commandStatusChanged');
      const cmd = await c.postDeviceCommand(token, { deviceId: reg.deviceId, command, expireTime: 3600 });
      assert.ok(!JSON.stringify(cmd).includes('/callbacks/'), 'no callback URL in the answer');
      await sim.control(`devices/${reg.deviceId}/status`, { status: 'ONLINE' });
      await waitFor(() => cmdRx.got.length >= 1, 10_000, 'a command status push');
      const sent = pushed.filter((b) => b.includes(cmd.commandId));
      for (const d of cmdRx.got) assert.ok(sent.includes(d.body), `not a push the platform sent, unchanged (no notifyType added): ${d.body}`);
      assert.equal(JSON.parse(cmdRx.got[0]!.body).notifyType, undefined);

      // A push that names the gateway's callback (the platform echoes callbackUrl in command bodies): removed, the token nowhere.
      const url = gw.gateway.events!.callbackUrl('app-a');
      const echo = { deviceId: reg.deviceId, commandId: 'echoed-cmd', callbackUrl: url, result: { resultCode: 'SENT', resultDetail: null } };
      assert.equal((await fetch(url, { method: 'POST', body: JSON.stringify(echo) })).status, 200);
      const echoed = () => cmdRx.got.find((d) => d.body.includes('echoed-cmd'))?.body;
      await waitFor(() => echoed() !== undefined, 10_000, 'the echoing push');
      const got = echoed()!;
      assert.deepEqual(JSON.parse(got), { deviceId: reg.deviceId, commandId: 'echoed-cmd', result: { resultCode: 'SENT', resultDetail: null } });
      assert.ok(!got.includes(url.split('/').pop()!), 'the path token');
      assert.ok(!signed.got.some((d) => d.body.includes(url.split('/').pop()!)));
    } finally {
      await cmdRx.close();
    }
  });

  it('another client neither sees nor deletes them; deleting stops deliveries; the /v1 webhook stays', async () => {
    const other = new SdkClient({ baseUrl: c.info.baseUrl, appId: 'app-a', secret: KEYS.onlyA });
    const otherToken = (await other.getAuthToken()).accessToken;
    assert.equal((await other.queryBatchSubscriptions(otherToken)).totalCount, 0);
    const e1 = await other.querySingleSubscription(otherToken, subs.deviceDataChanged!.subscriptionId).catch((e) => e);
    assert.ok(e1 instanceof NorthApiException && e1.httpStatusCode === 404);
    const e2 = await other.deleteSingleSubscription(otherToken, subs.deviceDataChanged!.subscriptionId).catch((e) => e);
    assert.ok(e2 instanceof NorthApiException && e2.httpStatusCode === 404);
    assert.equal((await c.queryBatchSubscriptions(token)).totalCount, 3);

    assert.equal(await c.deleteSingleSubscription(token, subs.deviceDataChanged!.subscriptionId), null);
    assert.equal(c.lastStatus, 204);
    const deliveredRaw = raw.got.length;
    const deliveredSigned = signed.got.length;
    const dev = pushed.length;
    await sim.control('devices', { appId: 'app-a', nodeId: 'compat-sub-3' }).then((d: { deviceId: string }) =>
      sim.control(`devices/${d.deviceId}/data`, { serviceId: 'WaterMeter', data: { value: 7 } }),
    );
    await waitFor(() => signed.got.length === deliveredSigned + 1, 10_000, 'the /v1 delivery');
    assert.ok(pushed.length > dev);
    await sleep(300); // a raw runner woken by the same event would have delivered by now
    assert.equal(raw.got.length, deliveredRaw, 'no delivery after the delete');

    // The SDK's batch delete (no filters reach the gateway) takes its subscriptions, not the client's /v1 webhook.
    assert.equal(await c.deleteBatchSubscriptions(token), null);
    assert.equal((await c.queryBatchSubscriptions(token)).totalCount, 0);
    const left = ((await (await v1('/webhooks')).json()) as { webhooks: Array<{ format: string }> }).webhooks;
    assert.deepEqual(left.map((w) => w.format), ['envelope']);
  });
});
