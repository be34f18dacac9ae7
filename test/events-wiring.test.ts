// Events wired into the gateway (issue 12): simulator → platform subscription → callback → signed webhook and SSE, events off → 404, Redis down → 503, no secret in any output.
import assert from 'node:assert/strict';
import http from 'node:http';
import { Webhook } from 'standardwebhooks';
import request from 'supertest';
import { loadConfig } from '../src/config.js';
import { CALLBACK_SECRET, startEventsGateway, startReceiver, type Receiver } from './helpers/events.js';
import {
  KEYS,
  ROOT,
  assertEnvelope,
  closeAll,
  gatewayEnv,
  startRedis,
  startTestSimulator,
  waitFor,
  type TestRedis,
  type TestSimulator,
} from './helpers/fixtures.js';

/** Reads an SSE stream into parsed events until closed. */
function openSse(url: string, key: string): { events: Array<{ id: string; event: string; data: any }>; raw: () => string; close(): void } {
  const events: Array<{ id: string; event: string; data: any }> = [];
  let raw = '';
  const req = http.get(url, { headers: { 'x-api-key': key, accept: 'text/event-stream' } }, (res) => {
    let buf = '';
    res.on('data', (c) => {
      buf += String(c);
      raw += String(c);
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const f: Record<string, string> = {};
        for (const line of block.split('\n')) {
          const m = /^(\w+): (.*)$/.exec(line);
          if (m) f[m[1] as string] = m[2] as string;
        }
        if (f.data) events.push({ id: f.id ?? '', event: f.event ?? '', data: JSON.parse(f.data) });
      }
    });
  });
  req.on('error', () => undefined);
  return { events, raw: () => raw, close: () => req.destroy() };
}

const registerDevice = async (gw: string, nodeId: string): Promise<string> => {
  const r = await request(gw).post('/v1/apps/app-a/devices').set('x-api-key', KEYS.all).send({ nodeId, verifyCode: nodeId });
  assert.equal(r.status, 201, r.text);
  return r.body.deviceId as string;
};

describe('events wired into the gateway', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: Awaited<ReturnType<typeof startEventsGateway>>;
  let receiver: Receiver;

  before(async () => {
    redis = await startRedis({ own: true });
    sim = await startTestSimulator();
    receiver = await startReceiver();
    gw = await startEventsGateway(gatewayEnv(sim.url, redis.url));
  });
  after(async () => closeAll(gw, sim, receiver, redis));

  it('simulator → platform subscription → callback → signed webhook and SSE, within a second', async () => {
    const created = await request(gw.url)
      .post('/v1/apps/app-a/webhooks')
      .set('x-api-key', KEYS.all)
      .send({ url: receiver.url, notifyTypes: ['deviceDataChanged', 'swUpgradeResultNotify'] });
    assert.equal(created.status, 201, created.text);
    const secret = created.body.secret as string;
    // The subscription manager subscribes the gateway's callback at the platform, through the forwarder.
    await waitFor(async () => {
      const calls = await sim.calls();
      return calls.log.filter((c) => c.method === 'POST' && /\/app\/sub\//.test(c.path) && c.status < 300).length === 2;
    }, 10_000, 'both subscriptions');
    const subs = (await sim.calls()).log.filter((c) => c.method === 'POST' && /\/app\/sub\//.test(c.path));
    assert.deepEqual(subs.map((c) => c.path).sort(), ['/iocm/app/sub/v1.2.0/subscriptions', '/iodm/app/sub/v1.1.0/subscribe']);
    for (const c of subs) assert.match(String((c.body as { callbackUrl: string }).callbackUrl), new RegExp(`^${gw.url}/callbacks/app-a/[A-Za-z0-9_-]{43}$`));

    const sse = openSse(`${gw.url}/v1/apps/app-a/events?notifyType=deviceDataChanged`, KEYS.all);
    try {
      await waitFor(() => sse.raw().length > 0, 5_000, 'the stream to open');
      const deviceId = await registerDevice(gw.url, 'meter-wired-1');
      const t0 = Date.now();
      await sim.control(`devices/${deviceId}/data`, { serviceId: 'WaterMeter', data: { value: 42 } });
      await waitFor(() => receiver.got.length === 1 && sse.events.length === 1, 5_000, 'the reading at the webhook and on the stream');
      assert.ok(Date.now() - t0 < 1_000, `took ${Date.now() - t0} ms`);
      const d = receiver.got[0]!;
      const verified = new Webhook(secret).verify(d.body, d.headers as Record<string, string>) as any;
      assert.equal(verified.notifyType, 'deviceDataChanged');
      assert.equal(verified.data.service.data.value, 42);
      assert.equal(d.headers['webhook-id'], verified.id);
      assert.equal(sse.events[0]!.id, verified.id);
      assert.equal(sse.events[0]!.event, 'deviceDataChanged');
    } finally {
      sse.close();
    }
  });

  it('the webhook and stream APIs keep contract §3\'s caller rules: no key 401, a key not allowed the app 403 (known app or not), an unknown app 404', async () => {
    for (const path of ['/v1/apps/app-a/webhooks', '/v1/apps/app-a/events']) {
      assertEnvelope(await request(gw.url).get(path), 401, 'UNAUTHENTICATED');
    }
    for (const app of ['app-b', 'no-such-app']) {
      assertEnvelope(await request(gw.url).get(`/v1/apps/${app}/webhooks`).set('x-api-key', KEYS.onlyA), 403, 'FORBIDDEN');
      assertEnvelope(await request(gw.url).post(`/v1/apps/${app}/webhooks`).set('x-api-key', KEYS.onlyA).send({ url: receiver.url, notifyTypes: ['deviceAdded'] }), 403, 'FORBIDDEN');
    }
    assertEnvelope(await request(gw.url).get('/v1/apps/no-such-app/events').set('x-api-key', KEYS.all), 404, 'NOT_FOUND');
    assert.equal((await request(gw.url).get('/v1/apps/app-a/webhooks').set('x-api-key', KEYS.onlyA)).status, 200);
  });

  it('pushes an upgrade subtask result from the simulator (the upgrade part notifies)', async () => {
    const before = receiver.got.length;
    const r = await request(gw.url)
      .post('/v1/apps/app-a/upgrade-tasks/software')
      .set('x-api-key', KEYS.all)
      .send({ fileId: 'sw-pkg-0001', targets: { devices: ['meter-up-1'] }, policy: { executeType: 'now' } });
    assert.equal(r.status, 201, r.text);
    await waitFor(() => receiver.got.length > before, 8_000, 'the upgrade result');
    const ev = JSON.parse(receiver.got[receiver.got.length - 1]!.body);
    assert.equal(ev.notifyType, 'swUpgradeResultNotify');
    assert.equal(ev.data.operationId, r.body.operationId);
  });

  it("commands carry the gateway's callback (a caller's own is refused), and no answer shows it (contract §10)", async () => {
    const deviceId = await registerDevice(gw.url, 'cmd-callback-node');
    const command = { serviceId: 'WaterMeter', method: 'SET_INTERVAL', paras: { value: 60 } };
    const refused = await request(gw.url)
      .post('/v1/apps/app-a/commands')
      .set('x-api-key', KEYS.all)
      .send({ deviceId, command, callbackUrl: 'http://elsewhere.example:8080/cb' });
    assertEnvelope(refused, 400, 'VALIDATION_FAILED');
    const since = Date.now();
    const created = await request(gw.url).post('/v1/apps/app-a/commands').set('x-api-key', KEYS.all).send({ deviceId, command });
    assert.equal(created.status, 201, created.text);
    const sent = (await sim.calls()).log.find((c) => c.at >= since && c.method === 'POST' && c.path.endsWith('/deviceCommands'));
    assert.equal((sent?.body as { callbackUrl?: string } | undefined)?.callbackUrl, gw.gateway.events!.callbackUrl('app-a'));
    const listed = await request(gw.url).get(`/v1/apps/app-a/commands?deviceId=${deviceId}`).set('x-api-key', KEYS.all);
    assert.equal(listed.status, 200, listed.text);
    for (const text of [created.text, listed.text]) assert.ok(!text.includes('/callbacks/'), `the callback URL leaked: ${text}`);
  });

  it('the callback refuses a wrong token with 404 and stores nothing; the access log never shows a token', async () => {
    const wrong = await request(gw.url).post('/callbacks/app-a/not-the-token').send({ notifyType: 'deviceDataChanged' });
    assertEnvelope(wrong, 404, 'NOT_FOUND');
    const other = await request(gw.url).get('/callbacks/app-a/some-token-value');
    assert.equal(other.status, 404);
    const text = gw.logs.join('');
    assert.doesNotMatch(text, /not-the-token|some-token-value/);
    assert.match(text, /"path":"\/callbacks\/app-a\/\[token\]"/);
  });

  it('no secret (webhook secret, CALLBACK_SECRET, callback token) in logs, answers or metrics', async () => {
    const created = await request(gw.url).post('/v1/apps/app-a/webhooks').set('x-api-key', KEYS.all).send({ url: receiver.url, notifyTypes: ['deviceDeleted'] });
    const secret = created.body.secret as string;
    const list = await request(gw.url).get('/v1/apps/app-a/webhooks').set('x-api-key', KEYS.all);
    const metrics = await request(gw.url).get('/metrics');
    const token = gw.gateway.events!.callbackUrl('app-a').split('/').pop()!;
    await gw.gateway.subscriptions!.settled('app-a');
    const everything = gw.logs.join('') + list.text + metrics.text;
    for (const s of [secret, secret.slice(6), CALLBACK_SECRET, token]) assert.ok(!everything.includes(s), 'a secret leaked');
  });
});

describe('events wiring: off, and Redis down', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let sim: TestSimulator;
  before(async () => {
    redis = await startRedis({ own: true });
    sim = await startTestSimulator();
  });
  after(async () => closeAll(sim, redis));

  it('without CALLBACK_BASE_URL the event routes answer 404 and no callback exists', async () => {
    const gw = await startEventsGateway(gatewayEnv(sim.url, redis.url), { events: false });
    try {
      assert.equal(gw.gateway.events, undefined);
      assertEnvelope(await request(gw.url).get('/v1/apps/app-a/webhooks').set('x-api-key', KEYS.all), 404, 'NOT_FOUND');
      assertEnvelope(await request(gw.url).get('/v1/apps/app-a/events').set('x-api-key', KEYS.all), 404, 'NOT_FOUND');
      assert.equal((await request(gw.url).post('/callbacks/app-a/x').send({})).status, 404);
    } finally {
      await gw.close();
    }
  });

  it('refuses CALLBACK_BASE_URL without an explicit port, without CALLBACK_SECRET, or with REDIS_URL=memory', () => {
    const env = gatewayEnv(sim.url, redis.url);
    const problems = (extra: Record<string, string>): string => {
      try {
        loadConfig({ ...env, ...extra }, ROOT);
        return '';
      } catch (err) {
        return String((err as { problems?: string[] }).problems?.join('\n'));
      }
    };
    assert.match(problems({ CALLBACK_BASE_URL: 'https://gw.example.com', CALLBACK_SECRET }), /^CALLBACK_BASE_URL: must be a URL with an explicit port/m);
    assert.match(problems({ CALLBACK_BASE_URL: 'https://gw.example.com:443' }), /^CALLBACK_SECRET: is required when CALLBACK_BASE_URL is set$/m);
    assert.match(problems({ CALLBACK_BASE_URL: 'https://gw.example.com:443', CALLBACK_SECRET: 'short' }), /^CALLBACK_SECRET: /m);
    assert.match(problems({ CALLBACK_BASE_URL: 'https://gw.example.com:443', CALLBACK_SECRET, REDIS_URL: 'memory' }), /events need Redis/);
    assert.doesNotMatch(problems({ CALLBACK_BASE_URL: 'https://gw.example.com:443', CALLBACK_SECRET: 'short' }), /short/);
    const c = loadConfig({ ...env, CALLBACK_BASE_URL: 'https://gw.example.com:8443/', CALLBACK_SECRET, WEBHOOK_ALLOWED_HOSTS: '*.internal,10.0.0.5' }, ROOT);
    assert.equal(c.callbackBaseUrl, 'https://gw.example.com:8443');
    assert.deepEqual(c.webhookAllowedHosts, ['*.internal', '10.0.0.5']);
    assert.equal(c.webhookClaimIdleMs, 15_000);
  });

  it('answers 503 on the callback while Redis is down, 200 once it is back', async () => {
    const own = await startRedis({ own: true });
    const gw = await startEventsGateway(gatewayEnv(sim.url, own.url));
    try {
      const cb = new URL(gw.gateway.events!.callbackUrl('app-b')).pathname;
      assert.equal((await request(gw.url).post(cb).send({ notifyType: 'deviceDeleted', deviceId: 'd0' })).status, 200);
      await own.stop();
      assertEnvelope(await request(gw.url).post(cb).send({ notifyType: 'deviceDeleted', deviceId: 'd1' }), 503, 'SERVICE_UNAVAILABLE');
      await own.start();
      await waitFor(async () => (await request(gw.url).post(cb).send({ notifyType: 'deviceDeleted', deviceId: 'd2' })).status === 200, 10_000, 'Redis back');
    } finally {
      await gw.close();
      await own.close();
    }
  });
});
