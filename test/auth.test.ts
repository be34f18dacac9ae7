// Callers: X-Api-Key authentication, per-app access (401 / 403 / 404), and that refused calls reach nothing.
import assert from 'node:assert/strict';
import request from 'supertest';
import { findClient } from '../src/http/auth.js';
import { loadConfig } from '../src/config.js';
import {
  KEYS,
  assertEnvelope,
  type TestGateway,
  type TestRedis,
  type TestSimulator,
  closeAll,
  startStack,
} from './helpers/fixtures.js';

describe('auth', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: TestGateway;

  before(async () => {
    ({ redis, sim, gw } = await startStack());
  });
  after(() => closeAll(gw, sim, redis));
  beforeEach(() => sim.reset());

  it('401 without a key, and with an unknown key, on known and unknown routes alike', async () => {
    assertEnvelope(await request(gw.url).get('/v1/apps/app-a/packages'), 401, 'UNAUTHENTICATED');
    assertEnvelope(await request(gw.url).get('/v1/apps/app-a/packages').set('X-Api-Key', 'nope'), 401, 'UNAUTHENTICATED');
    assertEnvelope(await request(gw.url).get('/v1/whatever'), 401, 'UNAUTHENTICATED');
    assertEnvelope(await request(gw.url).get('/v1/apps/app-a/packages').set('X-Api-Key', ''), 401, 'UNAUTHENTICATED');
  });

  it('403 when the key may not act for the app, whether the app exists or not', async () => {
    assertEnvelope(await request(gw.url).get('/v1/apps/app-b/packages').set('X-Api-Key', KEYS.onlyA), 403, 'FORBIDDEN');
    assertEnvelope(await request(gw.url).get('/v1/apps/no-such-app/packages').set('X-Api-Key', KEYS.onlyA), 403, 'FORBIDDEN');
  });

  it('404 for an app that is not configured, to a key allowed every app', async () => {
    assertEnvelope(await request(gw.url).get('/v1/apps/no-such-app/packages').set('X-Api-Key', KEYS.all), 404, 'NOT_FOUND');
  });

  it('lets an allowed key through to the platform', async () => {
    const res = await request(gw.url).get('/v1/apps/app-a/packages').set('X-Api-Key', KEYS.onlyA);
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.body.data));
  });

  it('refused callers reach nothing and spend no quota', async () => {
    const quotaKey = `${gw.gateway.config.redisKeyPrefix}quota:{app-a}`;
    const usedBefore = await redis.client.zcard(quotaKey);
    await request(gw.url).get('/v1/apps/app-b/packages').set('X-Api-Key', KEYS.onlyA);
    await request(gw.url).get('/v1/apps/app-a/packages').set('X-Api-Key', 'wrong');
    await request(gw.url).get('/v1/apps/ghost/packages').set('X-Api-Key', KEYS.all);
    assert.equal((await sim.calls()).total, 0);
    assert.equal(await redis.client.zcard(quotaKey), usedBefore);
    assert.deepEqual(await redis.client.keys(`${gw.gateway.config.redisKeyPrefix}quota:{app-b}`), []);
  });

  it('matches keys by SHA-256 digest against every client', () => {
    const config = loadConfig({
      PLATFORM_URL: 'http://x',
      PLATFORM_APPS: '[{"appId":"a","secret":"s"}]',
      GATEWAY_CLIENTS: JSON.stringify([
        { name: 'one', key: 'a'.repeat(20), apps: ['*'] },
        { name: 'two', keySha256: 'c'.repeat(64), apps: ['a'] },
      ]),
    });
    assert.equal(findClient(config.clients, 'a'.repeat(20))?.name, 'one');
    assert.equal(findClient(config.clients, 'a'.repeat(19)), undefined);
  });
});
