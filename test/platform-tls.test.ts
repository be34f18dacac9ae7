// The platform client over TLS: the gateway trusts the platform's CA from PLATFORM_CA_FILE and presents its client certificate when the platform demands one.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import {
  KEYS,
  gatewayEnv,
  makeTestPki,
  startGateway,
  startRedis,
  startTestSimulator,
  type TestRedis,
  type TestSimulator,
} from './helpers/fixtures.js';

describe('platform TLS', () => {
  let dir: string;
  let redis: TestRedis;
  let sim: TestSimulator;
  const file = (name: string) => path.join(dir, name);

  before(async function () {
    this.timeout(30_000);
    dir = makeTestPki();
    redis = await startRedis();
    sim = await startTestSimulator({
      tls: { cert: readFileSync(file('server.crt')), key: readFileSync(file('server.key')), ca: readFileSync(file('ca.crt')) },
    });
  });
  after(async () => {
    await sim?.close();
    await redis?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function listWith(extra: Record<string, string>) {
    assert.match(sim.url, /^https:/);
    const gw = await startGateway(gatewayEnv(sim.url, redis.url, extra));
    try {
      return await request(gw.url).get('/v1/apps/app-a/packages').set('X-Api-Key', KEYS.all);
    } finally {
      await gw.close();
    }
  }

  it('forwards over mutual TLS with the configured CA, certificate and key', async () => {
    const res = await listWith({
      PLATFORM_CA_FILE: file('ca.crt'),
      PLATFORM_CERT_FILE: file('client.crt'),
      PLATFORM_KEY_FILE: file('client.key'),
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(Array.isArray(res.body.data));
  });

  it('without a client certificate the platform refuses the handshake: 503 UPSTREAM_UNAVAILABLE', async () => {
    const res = await listWith({ PLATFORM_CA_FILE: file('ca.crt') });
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'UPSTREAM_UNAVAILABLE');
  });

  it('a platform certificate from an untrusted CA is refused: 503 UPSTREAM_UNAVAILABLE', async () => {
    const res = await listWith({ PLATFORM_CERT_FILE: file('client.crt'), PLATFORM_KEY_FILE: file('client.key') });
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'UPSTREAM_UNAVAILABLE');
  });
});
