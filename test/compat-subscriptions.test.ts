// The platform's subscription APIs on the compat port, answered from the events feature's webhooks (real Redis, the real webhook registry): shapes, the SDK's spellings, ownership.
import assert from 'node:assert/strict';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { buildCompatApp, createCompatServer, RedisSessionStore } from '../src/compat/index.js';
import { webhookSubscriptions } from '../src/compat/subscriptions.js';
import { loadConfig } from '../src/config.js';
import { Events } from '../src/events/index.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import type { Pipeline } from '../src/pipeline.js';
import { closeGracefully } from '../src/server.js';
import { gatewayEnv, KEYS, ROOT, ROUTES, startRedis, type TestRedis } from './helpers/fixtures.js';
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

    const bad = await c.invoke('POST', '/iocm/app/sub/v1.2.0/subscriptions', token, undefined, { notifyType: 'deviceDataChanged', callbackUrl: 'not a url' }).catch((e) => e);
    assert.ok(bad instanceof NorthApiException);
    assert.deepEqual([bad.httpStatusCode, bad.error_code], [400, '100022']);
    assert.deepEqual(calls, []);
  });
});
