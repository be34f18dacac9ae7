// Events core (src/events): callback, dedupe, durable store, webhook registry and ownership, signed delivery with retries and takeover, SSE resume, no secrets in logs.
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import http from 'node:http';
import type net from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import request from 'supertest';
import { GatewayError } from '../src/errors.js';
import { Events, type EventsOptions } from '../src/events/index.js';
import { callbackToken, tokenMatches } from '../src/events/callback.js';
import { hostAllowed } from '../src/events/webhooks.js';
import { formatSse } from '../src/events/sse.js';
import { retrySchedule } from '../src/events/delivery.js';
import { notifyTypeOf } from '../src/events/notify.js';
import { errorHandler, notFound } from '../src/http/errors.js';
import { requestContext } from '../src/http/request-context.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import { connectWithin, createRedis } from '../src/redis.js';
import { assertEnvelope, sleep, startRedis, waitFor, type TestRedis } from './helpers/fixtures.js';

const CALLBACK_SECRET = 'callback-secret-for-tests-0123456789-abcdef';
const BASE = 'http://127.0.0.1:1'; // only used to build URLs; the tests post to the in-process app
const APPS = new Set(Array.from({ length: 16 }, (_, i) => `app-${i}`));
/** Short delays so that retries, leases and claims happen within a test. */
const FAST = {
  attemptTimeoutMs: 2000,
  retryDelaysMs: [100, 200],
  retryForMs: 60_000,
  leaseMs: 3000,
  claimIdleMs: 2500,
  scanIntervalMs: 100,
  pollMs: 200,
};

// ---------------------------------------------------------------------------------------------
// Helpers: a gateway-like app around one Events instance, webhook receivers, an SSE client

interface Node {
  events: Events;
  registry: Registry;
  redis: Redis;
  url: string;
  logs: string[];
  close(): Promise<void>;
}

async function startNode(redisUrl: string, prefix: string, extra: Partial<EventsOptions> = {}): Promise<Node> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger('debug', sink);
  const metrics = createMetrics();
  const redis = createRedis({ url: redisUrl, commandTimeoutMs: 500, logger, name: 'events-test' });
  await connectWithin(redis, 3000);
  const events = new Events({
    redis,
    keyPrefix: prefix,
    logger,
    registry: metrics.registry,
    callbackSecret: CALLBACK_SECRET,
    callbackBaseUrl: BASE,
    apps: APPS,
    bodyLimit: '4kb',
    delivery: FAST,
    sse: { heartbeatMs: 100, pollMs: 200, maxStreamsPerClient: 2 },
    ...extra,
  });
  const app = express();
  app.use(requestContext(logger, metrics));
  app.use(events.callbackRouter());
  // Stands in for the gateway's authentication: the client's name comes from a header.
  app.use(
    '/v1/apps/:appId',
    (req, res, next) => {
      const name = req.get('x-client');
      if (!name) throw new GatewayError('UNAUTHENTICATED');
      (res.locals as Record<string, unknown>).client = { name };
      next();
    },
    events.apiRouter(),
  );
  app.use(notFound);
  app.use(errorHandler());
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  await events.start();
  const { port } = server.address() as net.AddressInfo;
  let closed = false;
  return {
    events,
    registry: metrics.registry,
    redis,
    url: `http://127.0.0.1:${port}`,
    logs,
    async close() {
      if (closed) return;
      closed = true;
      await events.stop(500);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      redis.disconnect();
    },
  };
}

interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** What the receiver answered: a status, or "hang". */
  answer: number | 'hang';
}

interface Receiver {
  url: string;
  got: Received[];
  /** Successful (2xx-answered) deliveries per webhook-id. */
  okCount(id: string): number;
  close(): Promise<void>;
}

/** A webhook receiver on a free port; `behave` decides each answer from the request and how often its webhook-id came before. */
async function startReceiver(behave: (r: Received, seenBefore: number) => number | 'hang' = () => 200): Promise<Receiver> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += String(c)));
    req.on('end', () => {
      const r: Received = {
        id: String(req.headers['webhook-id']),
        timestamp: String(req.headers['webhook-timestamp']),
        signature: String(req.headers['webhook-signature']),
        body,
        answer: 200,
      };
      const before = got.filter((g) => g.id === r.id).length;
      r.answer = behave(r, before);
      got.push(r);
      if (r.answer === 'hang') return; // never answers: the sender's deadline must end it
      res.statusCode = r.answer;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    okCount: (id) => got.filter((g) => g.id === id && typeof g.answer === 'number' && g.answer < 300).length,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function verify(secret: string, r: Received): any {
  return new Webhook(secret).verify(r.body, {
    'webhook-id': r.id,
    'webhook-timestamp': r.timestamp,
    'webhook-signature': r.signature,
  });
}

interface SseClient {
  status: number;
  events: Array<{ id: string; event: string; data: any }>;
  comments: number;
  close(): void;
}

async function openSse(url: string, headers: Record<string, string>): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const c: SseClient = { status: res.statusCode ?? 0, events: [], comments: 0, close: () => req.destroy() };
      let buf = '';
      res.on('data', (d) => {
        buf += String(d);
        let at: number;
        while ((at = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, at);
          buf = buf.slice(at + 2);
          const ev: Record<string, string> = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) c.comments++;
            const m = /^(id|event|data): (.*)$/.exec(line);
            if (m) ev[m[1] as string] = m[2] as string;
          }
          if (ev.data) c.events.push({ id: ev.id ?? '', event: ev.event ?? '', data: JSON.parse(ev.data) });
        }
      });
      res.on('error', () => undefined);
      resolve(c);
    });
    req.on('error', reject);
  });
}

const push = (url: string, appId: string, body: unknown, token = callbackToken(CALLBACK_SECRET, appId)) =>
  request(url).post(`/callbacks/${appId}/${token}`).set('Content-Type', 'application/json').send(JSON.stringify(body));

const dataPush = (deviceId: string, n: number) => ({
  notifyType: 'deviceDataChanged',
  requestId: null,
  deviceId,
  gatewayId: deviceId,
  service: { serviceId: 'WaterMeter', serviceType: 'WaterMeter', data: { reading: n }, eventTime: '20261130T044000Z' },
});

async function createWebhook(url: string, appId: string, client: string, hookUrl: string, notifyTypes = ['deviceDataChanged']) {
  const res = await request(url).post(`/v1/apps/${appId}/webhooks`).set('x-client', client).send({ url: hookUrl, notifyTypes });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string; url: string; notifyTypes: string[]; secret: string };
}

/** Secrets seen by the tests, searched for in every captured log line at the end. */
const secrets: string[] = [CALLBACK_SECRET];

// ---------------------------------------------------------------------------------------------

describe('events: pure parts', () => {
  it('derives a per-app token, stable and different per app, and compares it exactly', () => {
    const a = callbackToken(CALLBACK_SECRET, 'app-1');
    assert.equal(a, callbackToken(CALLBACK_SECRET, 'app-1'));
    assert.notEqual(a, callbackToken(CALLBACK_SECRET, 'app-2'));
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(tokenMatches(CALLBACK_SECRET, 'app-1', a));
    assert.ok(!tokenMatches(CALLBACK_SECRET, 'app-2', a));
    assert.ok(!tokenMatches(CALLBACK_SECRET, 'app-1', a.slice(1)));
    assert.ok(!tokenMatches(CALLBACK_SECRET, 'app-1', ''));
  });

  it('reads notifyType, and names command status pushes commandStatusChanged', () => {
    assert.equal(notifyTypeOf({ notifyType: 'deviceAdded', deviceId: 'd' }), 'deviceAdded');
    assert.equal(notifyTypeOf({ deviceId: 'd', commandId: 'c1', result: { resultCode: 'SENT', resultDetail: null } }), 'commandStatusChanged');
    assert.equal(notifyTypeOf({ deviceId: 'd' }), 'unknown');
    assert.equal(notifyTypeOf({ notifyType: 'a b\nc' }), 'unknown');
  });

  it('matches allowed host patterns', () => {
    assert.ok(hostAllowed('anything.example', []));
    assert.ok(hostAllowed('hooks.svc.internal', ['*.svc.internal']));
    assert.ok(!hostAllowed('svc.internal', ['*.svc.internal']));
    assert.ok(!hostAllowed('evilsvc.internal', ['*.svc.internal']));
    assert.ok(hostAllowed('LOCALHOST', ['localhost']));
    assert.ok(!hostAllowed('10.0.0.8', ['10.0.0.7']));
  });

  it('retries within 10 s first, at most an hour apart, for at least 24 h', () => {
    const at = retrySchedule();
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    assert.ok((gaps[0] as number) <= 10_000);
    assert.ok(gaps.every((g) => g <= 3_600_000));
    assert.ok(gaps.every((g, i) => i === 0 || g >= (gaps[i - 1] as number)), 'never shrinking');
    assert.ok((at[at.length - 1] as number) >= 24 * 3_600_000);
    assert.ok((at[at.length - 2] as number) < 24 * 3_600_000, 'stops right after 24 h');
    assert.deepEqual(retrySchedule([100, 200], 250), [0, 100, 300]);
  });

  it('writes one SSE message per event, data on one line', () => {
    const text = formatSse({ id: 'app-1:1-0', appId: 'app-1', notifyType: 'deviceAdded', receivedAt: '2026-01-01T00:00:00.000Z', data: { s: 'a\nb' } });
    assert.equal(text.split('\n\n').length, 2);
    assert.match(text, /^id: app-1:1-0\nevent: deviceAdded\ndata: \{.*\}\n\n$/);
  });
});

describe('events', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let node: Node;
  const prefix = `t${Math.random().toString(36).slice(2, 8)}:`;
  const stream = (appId: string) => `${prefix}events:{${appId}}`;
  const receivers: Receiver[] = [];
  const nodes: Node[] = [];

  before(async () => {
    redis = await startRedis({ own: true });
    node = await startNode(redis.url, prefix);
    nodes.push(node);
  });
  after(async () => {
    for (const n of nodes) await n.close();
    for (const r of receivers) await r.close();
    await redis?.close();
  });

  describe('callback', () => {
    it('answers 404 to a wrong token or an unknown app, and stores nothing', async () => {
      const wrong = await push(node.url, 'app-0', dataPush('d', 1), callbackToken('another-secret-of-enough-length-0123456789', 'app-0'));
      assertEnvelope(wrong, 404, 'NOT_FOUND');
      const otherApps = await push(node.url, 'app-0', dataPush('d', 1), callbackToken(CALLBACK_SECRET, 'app-1'));
      assertEnvelope(otherApps, 404, 'NOT_FOUND');
      const unknown = await push(node.url, 'no-such-app', dataPush('d', 1));
      assertEnvelope(unknown, 404, 'NOT_FOUND');
      assert.equal(await redis.client.exists(stream('app-0'), stream('no-such-app')), 0);
    });

    it('stores a push, answers 200 with its id, and stores an identical re-push once', async () => {
      const body = dataPush('dev-dup', 1);
      const first = await push(node.url, 'app-1', body);
      assert.equal(first.status, 200);
      assert.equal(first.body.duplicate, false);
      const again = await push(node.url, 'app-1', body);
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, { id: first.body.id, duplicate: true });
      const other = await push(node.url, 'app-1', dataPush('dev-dup', 2));
      assert.notEqual(other.body.id, first.body.id);
      assert.equal(await redis.client.xlen(stream('app-1')), 2);
    });

    it('refuses a body that is not a JSON object (400) or too large (413), storing nothing', async () => {
      const token = callbackToken(CALLBACK_SECRET, 'app-2');
      const bad = await request(node.url).post(`/callbacks/app-2/${token}`).set('Content-Type', 'application/json').send('{not json');
      assertEnvelope(bad, 400, 'VALIDATION_FAILED');
      const arr = await request(node.url).post(`/callbacks/app-2/${token}`).set('Content-Type', 'application/json').send('[1,2]');
      assertEnvelope(arr, 400, 'VALIDATION_FAILED');
      const big = await push(node.url, 'app-2', { notifyType: 'deviceAdded', pad: 'x'.repeat(5000) });
      assertEnvelope(big, 413, 'PAYLOAD_TOO_LARGE');
      assert.equal(await redis.client.exists(stream('app-2')), 0);
    });

    it('stores a command status push as commandStatusChanged, also when the platform says text/plain', async () => {
      const token = callbackToken(CALLBACK_SECRET, 'app-2');
      const res = await request(node.url)
        .post(`/callbacks/app-2/${token}`)
        .set('Content-Type', 'text/plain;charset=UTF-8')
        .send(JSON.stringify({ deviceId: 'd1', commandId: 'c1', result: { resultCode: 'DELIVERED', resultDetail: null } }));
      assert.equal(res.status, 200);
      const rows = await redis.client.xrange(stream('app-2'), '-', '+');
      assert.equal(rows.length, 1);
      assert.deepEqual(rows[0]?.[1].slice(0, 2), ['t', 'commandStatusChanged']);
    });

    it('survives a flushed script cache and a script run twice (NOSCRIPT, retried append)', async () => {
      await redis.client.script('FLUSH');
      const body = JSON.stringify(dataPush('dev-noscript', 1));
      const a = await node.events.store.append('app-3', 'deviceDataChanged', body);
      const b = await node.events.store.append('app-3', 'deviceDataChanged', body);
      assert.equal(a.duplicate, false);
      assert.deepEqual(b, { id: a.id, duplicate: true });
      assert.equal(await redis.client.xlen(stream('app-3')), 1);
    });
  });

  describe('webhooks registry', () => {
    it('shows the secret once, never lists it, stores it sealed, and validates input', async () => {
      const created = await createWebhook(node.url, 'app-4', 'ops-portal', 'http://127.0.0.1:9/hook', ['deviceAdded', 'swUpgradeResultNotify']);
      secrets.push(created.secret);
      assert.match(created.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.equal(Buffer.from(created.secret.slice(6), 'base64').length, 32);
      const list = await request(node.url).get('/v1/apps/app-4/webhooks').set('x-client', 'ops-portal');
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.webhooks.map((w: any) => w.id),
        [created.id],
      );
      assert.ok(!JSON.stringify(list.body).includes(created.secret.slice(6)));
      assert.ok(!('secret' in list.body.webhooks[0]));
      const one = await request(node.url).get(`/v1/apps/app-4/webhooks/${created.id}`).set('x-client', 'ops-portal');
      assert.equal(one.status, 200);
      assert.ok(!('secret' in one.body));
      const raw = JSON.stringify(await redis.client.hgetall(`${prefix}webhooks:{app-4}`));
      assert.ok(!raw.includes(created.secret.slice(6)), 'secret stored in the clear');

      const bad = await request(node.url)
        .post('/v1/apps/app-4/webhooks')
        .set('x-client', 'ops-portal')
        .send({ url: 'ftp://x.example/h', notifyTypes: ['deviceAdded', 'noSuchType'] });
      const e = assertEnvelope(bad, 400, 'VALIDATION_FAILED');
      assert.deepEqual(e.details.map((d: any) => d.field).sort(), ['notifyTypes.1', 'url']);
      for (const url of ['not a url', 'http://user:pw@h.example/x', 'mailto:a@b.c']) {
        const r = await request(node.url).post('/v1/apps/app-4/webhooks').set('x-client', 'ops-portal').send({ url, notifyTypes: ['deviceAdded'] });
        assertEnvelope(r, 400, 'VALIDATION_FAILED');
      }
      const none = await request(node.url).post('/v1/apps/app-4/webhooks').set('x-client', 'ops-portal').send({ url: 'http://h.example/x', notifyTypes: [] });
      assertEnvelope(none, 400, 'VALIDATION_FAILED');
    });

    it('refuses hosts outside WEBHOOK_ALLOWED_HOSTS', async () => {
      const restricted = await startNode(redis.url, prefix, { allowedHosts: ['*.svc.internal'], delivery: { ...FAST } });
      nodes.push(restricted);
      const no = await request(restricted.url).post('/v1/apps/app-4/webhooks').set('x-client', 'a').send({ url: 'http://evil.example/h', notifyTypes: ['deviceAdded'] });
      assertEnvelope(no, 400, 'VALIDATION_FAILED');
      const yes = await request(restricted.url).post('/v1/apps/app-4/webhooks').set('x-client', 'a').send({ url: 'https://hooks.svc.internal:8443/h', notifyTypes: ['deviceAdded'] });
      assert.equal(yes.status, 201);
      secrets.push(yes.body.secret);
      await restricted.close();
    });

    it('a client neither sees nor deletes another client’s webhook', async () => {
      const mine = await createWebhook(node.url, 'app-5', 'rollout', 'http://127.0.0.1:9/mine');
      secrets.push(mine.secret);
      const other = (path: string, method: 'get' | 'delete' | 'post' = 'get') => request(node.url)[method](`/v1/apps/app-5${path}`).set('x-client', 'ops-portal');
      const list = await other('/webhooks');
      assert.deepEqual(list.body, { webhooks: [] });
      assertEnvelope(await other(`/webhooks/${mine.id}`), 404, 'NOT_FOUND');
      assertEnvelope(await other(`/webhooks/${mine.id}`, 'delete'), 404, 'NOT_FOUND');
      assertEnvelope(await other(`/webhooks/${mine.id}/deliveries`), 404, 'NOT_FOUND');
      assertEnvelope(await other(`/webhooks/${mine.id}/redeliver`, 'post'), 404, 'NOT_FOUND');
      const still = await request(node.url).get(`/v1/apps/app-5/webhooks/${mine.id}`).set('x-client', 'rollout');
      assert.equal(still.status, 200);
      const del = await request(node.url).delete(`/v1/apps/app-5/webhooks/${mine.id}`).set('x-client', 'rollout');
      assert.equal(del.status, 204);
      assertEnvelope(await request(node.url).get(`/v1/apps/app-5/webhooks/${mine.id}`).set('x-client', 'rollout'), 404, 'NOT_FOUND');
      assert.equal(await redis.client.exists(`${prefix}webhooks:{app-5}`), 0);
    });
  });

  describe('delivery', () => {
    it('delivers a burst exactly once each, in arrival order, signed (Standard Webhooks), only the wanted types', async () => {
      const rx = await startReceiver();
      receivers.push(rx);
      const hook = await createWebhook(node.url, 'app-6', 'rollout', rx.url);
      secrets.push(hook.secret);
      const ids: string[] = [];
      for (let i = 0; i < 100; i++) {
        const res = await push(node.url, 'app-6', dataPush(`dev-${i % 7}`, i));
        assert.equal(res.status, 200);
        ids.push(res.body.id);
        if (i % 10 === 0) assert.equal((await push(node.url, 'app-6', { notifyType: 'deviceAdded', deviceId: `x${i}` })).status, 200);
      }

      await waitFor(() => rx.got.length >= 100, 20_000, 'all deliveries');
      await sleep(300); // a duplicate, if any, would arrive now
      assert.equal(rx.got.length, 100);
      assert.deepEqual(
        rx.got.map((g) => g.id),
        ids,
        'first attempts in arrival order, each once',
      );
      for (const g of rx.got) {
        const body = verify(hook.secret, g);
        assert.equal(body.id, g.id);
        assert.equal(body.appId, 'app-6');
        assert.equal(body.notifyType, 'deviceDataChanged');
        assert.ok(!Number.isNaN(Date.parse(body.receivedAt)));
        assert.equal(body.data.service.serviceId, 'WaterMeter');
      }
      assert.throws(() => verify(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, rx.got[0] as Received));
      const log = await request(node.url).get(`/v1/apps/app-6/webhooks/${hook.id}/deliveries`).set('x-client', 'rollout');
      assert.equal(log.status, 200);
      assert.equal(log.body.deliveries.length, 100, 'the log is bounded');
      assert.deepEqual(Object.keys(log.body.deliveries[0]).sort(), ['at', 'attempt', 'code', 'eventId', 'ms', 'status']);
      assert.equal(log.body.deliveries[0].status, 'delivered');
      assert.equal(log.body.deliveries[0].code, 200);
      const text = await node.registry.metrics();
      assert.match(text, /iotbff_event_deliveries_total\{notify_type="deviceDataChanged",outcome="delivered"\} \d+/);
      assert.match(text, /iotbff_events_received_total\{notify_type="deviceAdded",outcome="stored"\} \d+/);
      assert.match(text, /iotbff_event_delivery_latency_seconds_count\{attempt="first"\} \d+/);
    });

    it('retries a failing receiver with the same webhook-id until it answers, and logs the attempts', async () => {
      const rx = await startReceiver((_r, before) => (before < 2 ? 503 : 200));
      receivers.push(rx);
      const hook = await createWebhook(node.url, 'app-7', 'rollout', rx.url);
      secrets.push(hook.secret);
      const res = await push(node.url, 'app-7', dataPush('dev-r', 1));
      await waitFor(() => rx.okCount(res.body.id) === 1, 10_000, 'the third attempt');
      assert.deepEqual(
        rx.got.map((g) => [g.id, g.answer]),
        [
          [res.body.id, 503],
          [res.body.id, 503],
          [res.body.id, 200],
        ],
      );
      for (const g of rx.got) verify(hook.secret, g);
      const log = await request(node.url).get(`/v1/apps/app-7/webhooks/${hook.id}/deliveries`).set('x-client', 'rollout');
      assert.deepEqual(
        log.body.deliveries.map((d: any) => [d.attempt, d.status, d.code]),
        [
          [3, 'delivered', 200],
          [2, 'retrying', 503],
          [1, 'retrying', 503],
        ],
      );
    });

    it('gives up after the retry period, keeps the event as failed, and redelivers it on request', async () => {
      const short = await startNode(redis.url, prefix, { delivery: { ...FAST, retryDelaysMs: [50], retryForMs: 300 } });
      nodes.push(short);
      let healthy = false;
      const rx = await startReceiver(() => (healthy ? 200 : 500));
      receivers.push(rx);
      // Only the short-lived node delivers for this app: the main node's lease scans would race it otherwise.
      await node.events.workers.stop(100);
      try {
        const hook = await createWebhook(short.url, 'app-8', 'rollout', rx.url);
        secrets.push(hook.secret);
        const res = await push(short.url, 'app-8', dataPush('dev-f', 1));
        const deliveries = () => request(short.url).get(`/v1/apps/app-8/webhooks/${hook.id}/deliveries`).set('x-client', 'rollout');
        await waitFor(async () => (await deliveries()).body.deliveries[0]?.status === 'failed', 10_000, 'given up');
        assert.ok(rx.got.length >= 2);
        healthy = true;
        const redo = await request(short.url).post(`/v1/apps/app-8/webhooks/${hook.id}/redeliver`).set('x-client', 'rollout').send({});
        assert.deepEqual([redo.status, redo.body], [202, { scheduled: 1 }]);
        await waitFor(() => rx.okCount(res.body.id) === 1, 10_000, 'redelivery');
        assert.equal((await deliveries()).body.deliveries[0].status, 'delivered');
        const again = await request(short.url).post(`/v1/apps/app-8/webhooks/${hook.id}/redeliver`).set('x-client', 'rollout').send({});
        assert.deepEqual(again.body, { scheduled: 0 }, 'nothing failed any more');
        const byId = await request(short.url).post(`/v1/apps/app-8/webhooks/${hook.id}/redeliver`).set('x-client', 'rollout').send({ eventIds: [res.body.id] });
        assert.deepEqual(byId.body, { scheduled: 1 });
        await waitFor(() => rx.okCount(res.body.id) === 2, 10_000, 'redelivery by id');
      } finally {
        await short.close();
        node.events.workers.start();
      }
    });

    it('a hanging receiver does not delay a healthy one', async () => {
      // A 5 s attempt deadline: room enough for the healthy webhook on a loaded machine; only this node delivers.
      const patient = await startNode(redis.url, prefix, { delivery: { ...FAST, attemptTimeoutMs: 5000, claimIdleMs: 6000 } });
      nodes.push(patient);
      await node.events.workers.stop(100);
      try {
        const hanging = await startReceiver(() => 'hang');
        const healthy = await startReceiver();
        receivers.push(hanging, healthy);
        const h1 = await createWebhook(patient.url, 'app-9', 'rollout', hanging.url);
        const h2 = await createWebhook(patient.url, 'app-9', 'ops-portal', healthy.url);
        secrets.push(h1.secret, h2.secret);
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push((await push(patient.url, 'app-9', dataPush('dev-h', i))).body.id);
        await waitFor(() => healthy.got.length === 5, 5_000, 'healthy deliveries');
        // The healthy webhook got everything while the hanging one was still stuck in its first attempt.
        assert.equal(hanging.got.length, 1);
        assert.deepEqual(
          healthy.got.map((g) => g.id),
          ids,
        );
        // And the hanging one moves on after its deadline: its second event's first attempt comes.
        await waitFor(() => hanging.got.some((g) => g.id === ids[1]), 10_000, 'the hanging webhook to move on');
      } finally {
        await patient.close();
        node.events.workers.start();
      }
    });

    it('two replicas deliver each event once; a replica dying mid-delivery has its pending entries claimed by the other', async () => {
      const second = await startNode(redis.url, prefix);
      nodes.push(second);
      let hangReading = -1;
      const rx = await startReceiver((r, before) => (r.body.includes(`"reading":${hangReading}}`) && before === 0 ? 'hang' : 200));
      receivers.push(rx);
      const hook = await createWebhook(node.url, 'app-10', 'rollout', rx.url);
      secrets.push(hook.secret);
      const key = `app-10/${hook.id}`;
      await waitFor(() => node.events.workers.running.includes(key) || second.events.workers.running.includes(key), 5_000, 'a runner');
      const [holder, other] = node.events.workers.running.includes(key) ? [node, second] : [second, node];
      assert.ok(!other.events.workers.running.includes(key), 'one runner per webhook');

      // Part 1: a burst through both replicas' callbacks, delivered exactly once each.
      const ids: string[] = [];
      for (let i = 0; i < 60; i++) ids.push((await push(i % 2 ? node.url : second.url, 'app-10', dataPush('dev-2r', i))).body.id);
      await waitFor(() => ids.every((id) => rx.okCount(id) === 1), 10_000, 'burst delivered');
      await sleep(300);
      assert.equal(rx.got.length, 60);

      // Part 2: the holder dies (its Redis connection cut, like a killed process) while an attempt hangs.
      hangReading = 105;
      const more: string[] = [];
      for (let i = 0; i < 10; i++) more.push((await push(other.url, 'app-10', dataPush('dev-2r', 100 + i))).body.id);
      const hung = more[5];
      await waitFor(() => rx.got.some((g) => g.answer === 'hang'), 10_000, 'a hanging attempt');
      holder.redis.disconnect(); // dies: no ack, no lease renewal, no release
      const all = [...ids, ...more];
      await waitFor(() => all.every((id) => rx.okCount(id) >= 1), 20_000, 'the other replica to take over');
      assert.ok(other.events.workers.running.includes(key), 'the survivor runs the webhook');
      await sleep(300);
      for (const id of all) assert.equal(rx.okCount(id), 1, `${id} delivered once`);
      const okOrder = rx.got.filter((g) => g.answer === 200).map((g) => g.id);
      assert.deepEqual(okOrder, all, 'first deliveries in arrival order, across the takeover too');
      // Only the entry that hung was attempted twice (the dead replica's attempt never got an answer).
      const twice = all.filter((id) => rx.got.filter((g) => g.id === id).length > 1);
      assert.deepEqual(twice, [hung]);
      assert.ok(other.logs.some((l) => l.includes('claimed pending deliveries of another replica')));
      // The dead replica's consumer is dropped from the group once it has nothing pending.
      const consumers = async () => ((await redis.client.xinfo('CONSUMERS', stream('app-10'), `wh:${hook.id}`)) as unknown[][]).length;
      await waitFor(async () => (await consumers()) === 1, 10_000, 'the dead consumer to be forgotten');
      await holder.close();
      if (holder === node) {
        node = second; // later tests use a live node
      }
    });
  });

  describe('handover', () => {
    it('a replica stopping cleanly hands its webhook and unfinished entries over at once, not after lease and claim times', async () => {
      // Lease and claim times far above the wait below: only a release and a hand-back can meet it.
      const slow = { delivery: { ...FAST, leaseMs: 30_000, claimIdleMs: 30_000 } };
      const a = await startNode(redis.url, `${prefix}h`, slow);
      const b = await startNode(redis.url, `${prefix}h`, slow);
      nodes.push(a, b);
      let hangReading = -1;
      const rx = await startReceiver((r, before) => (r.body.includes(`"reading":${hangReading}}`) && before === 0 ? 'hang' : 200));
      receivers.push(rx);
      const hook = await createWebhook(a.url, 'app-12', 'rollout', rx.url);
      secrets.push(hook.secret);
      const key = `app-12/${hook.id}`;
      await waitFor(() => a.events.workers.running.includes(key) || b.events.workers.running.includes(key), 5_000, 'a runner');
      const [holder, other] = a.events.workers.running.includes(key) ? [a, b] : [b, a];
      hangReading = 3;
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) ids.push((await push(other.url, 'app-12', dataPush('dev-h', i))).body.id);
      await waitFor(() => rx.got.some((g) => g.answer === 'hang'), 5_000, 'a hanging attempt');
      await holder.close(); // graceful: the hanging attempt is aborted after the grace period
      await waitFor(() => ids.every((id) => rx.okCount(id) === 1), 10_000, 'the other replica to deliver the rest');
      assert.deepEqual(
        rx.got.filter((g) => g.answer === 200).map((g) => g.id),
        ids,
      );
      await other.close();
    });
  });

  describe('live stream (SSE)', () => {
    it('streams live events, resumes after Last-Event-ID, filters by notifyType, sends heartbeats, bounds streams per client', async () => {
      const a = await push(node.url, 'app-11', dataPush('dev-s', 1));
      const b = await push(node.url, 'app-11', { notifyType: 'deviceAdded', deviceId: 'dev-s2' });
      const c = await push(node.url, 'app-11', dataPush('dev-s', 2));
      const resumed = await openSse(`${node.url}/v1/apps/app-11/events`, { 'x-client': 'ops-portal', 'Last-Event-ID': a.body.id });
      const filtered = await openSse(`${node.url}/v1/apps/app-11/events?notifyType=deviceAdded,deviceDeleted`, {
        'x-client': 'ops-portal',
        'Last-Event-ID': a.body.id,
      });
      assert.equal(resumed.status, 200);
      const over = await request(node.url).get('/v1/apps/app-11/events').set('x-client', 'ops-portal');
      assertEnvelope(over, 429, 'TOO_MANY_STREAMS');
      await waitFor(() => resumed.events.length === 2 && filtered.events.length === 1, 5_000, 'resumed events');
      assert.deepEqual(
        resumed.events.map((e) => [e.id, e.event]),
        [
          [b.body.id, 'deviceAdded'],
          [c.body.id, 'deviceDataChanged'],
        ],
      );
      assert.equal(resumed.events[1]?.data.data.service.data.reading, 2);
      const d = await push(node.url, 'app-11', { notifyType: 'deviceDeleted', deviceId: 'dev-s2' });
      await waitFor(() => resumed.events.length === 3 && filtered.events.length === 2, 5_000, 'live event');
      assert.equal(resumed.events[2]?.id, d.body.id);
      assert.deepEqual(
        filtered.events.map((e) => e.event),
        ['deviceAdded', 'deviceDeleted'],
      );
      await waitFor(() => resumed.comments >= 2, 5_000, 'heartbeats');
      resumed.close();
      filtered.close();
      await waitFor(() => node.events.sse.open === 0, 5_000, 'streams cleaned up');
      const third = await openSse(`${node.url}/v1/apps/app-11/events`, { 'x-client': 'ops-portal' });
      assert.equal(third.status, 200, 'the bound is released on close');
      third.close();
      const wrong = await request(node.url).get('/v1/apps/app-11/events').set('x-client', 'x').set('Last-Event-ID', 'app-12:1-0');
      assertEnvelope(wrong, 400, 'VALIDATION_FAILED');
      await waitFor(() => node.events.sse.open === 0, 5_000, 'streams cleaned up');
    });
  });

  describe('secrets', () => {
    it('no webhook secret, callback secret or callback token appears in the logs', async () => {
      const logs = nodes.flatMap((n) => n.logs).join('');
      assert.ok(logs.length > 0);
      assert.ok(logs.includes('"path":"/callbacks/app-6/[token]"'), 'callback requests are logged, token hidden');
      const tokens = [...APPS].map((a) => callbackToken(CALLBACK_SECRET, a));
      for (const s of [...secrets, ...secrets.map((x) => x.slice(6)), ...tokens]) assert.ok(!logs.includes(s), 'a secret was logged');
      assert.ok(secrets.length >= 8);
    });
  });
});

describe('events: shutdown', function () {
  this.timeout(30_000);
  it('stop() ends streams and workers and leaves no timer behind', async () => {
    const redis = await startRedis({ own: true });
    // Every timer created by src/events code while the node lives, until it fires or is cleared.
    const live = new Map<number, string>();
    const hook = createHook({
      init(id, type) {
        if (type !== 'Timeout') return;
        // The first frame outside Node and this hook is the code that set the timer (not, say, the http server's socket timers).
        const frame = (new Error().stack ?? '').split('\n').slice(1).find((l) => !l.includes('(node:') && !l.includes('at node:') && !l.includes('events.test.ts'));
        if (frame?.includes('/src/events/')) live.set(id, frame);
      },
      destroy(id) {
        live.delete(id);
      },
    });
    hook.enable();
    const n = await startNode(redis.url, 'stop:');
    const rx = await startReceiver();
    try {
      await createWebhook(n.url, 'app-0', 'c', rx.url);
      const sse = await openSse(`${n.url}/v1/apps/app-0/events`, { 'x-client': 'c' });
      await push(n.url, 'app-0', dataPush('d', 1));
      await waitFor(() => rx.got.length === 1 && sse.events.length === 1, 5_000, 'delivery and stream');
      assert.ok(live.size > 0, 'the hook sees the module timers');
      await n.close();
      assert.equal(n.events.sse.open, 0);
      assert.deepEqual(n.events.workers.running, []);
      await sleep(100);
      assert.deepEqual([...live.values()], [], 'timers left behind');
    } finally {
      hook.disable();
      await n.close();
      await rx.close();
      await redis.close();
    }
  });
});

describe('events: Redis down', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let node: Node;
  before(async () => {
    redis = await startRedis({ own: true });
    node = await startNode(redis.url, 'down:');
  });
  after(async () => {
    await node?.close();
    await redis?.close();
  });

  it('answers 503 at the callback when Redis cannot store the event, and 200 again once it is back', async () => {
    assert.equal((await push(node.url, 'app-0', dataPush('d', 1))).status, 200);
    await redis.stop();
    const res = await push(node.url, 'app-0', dataPush('d', 2));
    assertEnvelope(res, 503, 'SERVICE_UNAVAILABLE');
    assert.equal(res.headers['retry-after'], '1');
    const hooks = await request(node.url).get('/v1/apps/app-0/webhooks').set('x-client', 'a');
    assertEnvelope(hooks, 503, 'SERVICE_UNAVAILABLE');
    await redis.start();
    await waitFor(async () => (await push(node.url, 'app-0', dataPush('d', 3))).status === 200, 10_000, 'redis back');
  });
});
