// Issue 17, finding 9: a hostile login answer (CRLF in the token, absurd expiresIn) causes neither an outage for the token's lifetime nor a login storm; Idempotency-Key records are bounded by their TTL (measured).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import request from 'supertest';
import {
  DEFAULT_TOKEN_LIFETIME_SEC,
  isUsableToken,
  MAX_TOKEN_LENGTH,
  MAX_TOKEN_LIFETIME_SEC,
  MIN_TOKEN_LIFETIME_SEC,
  renewAt,
  tokenLifetimeSec,
} from '../src/tokens/policy.js';
import { assertEnvelope, closeAll, gatewayEnv, KEYS, startGateway, startRedis, type TestGateway, type TestRedis } from './helpers/fixtures.js';
import { json, startHostilePlatform, type HostilePlatform } from './helpers/hostile-platform.js';

const LIST = '/v1/apps/app-a/packages?fileType=softwarePackage';

describe('issue 17 finding 9: token policy bounds', () => {
  it('tokenLifetimeSec: always a whole number of seconds within [MIN, MAX], an hour for nonsense', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constant(undefined), fc.constant(null), fc.object()), (raw) => {
        const s = tokenLifetimeSec(raw);
        assert.ok(Number.isInteger(s) && s >= MIN_TOKEN_LIFETIME_SEC && s <= MAX_TOKEN_LIFETIME_SEC, String(s));
      }),
    );
    for (const raw of [0, -1, -3600, Number.NaN, 'abc', '', null, undefined, {}, Number.NEGATIVE_INFINITY]) {
      assert.equal(tokenLifetimeSec(raw), DEFAULT_TOKEN_LIFETIME_SEC, String(raw));
    }
    assert.equal(tokenLifetimeSec(0.001), MIN_TOKEN_LIFETIME_SEC);
    assert.equal(tokenLifetimeSec(1e308), MAX_TOKEN_LIFETIME_SEC);
    assert.equal(tokenLifetimeSec(Number.POSITIVE_INFINITY), DEFAULT_TOKEN_LIFETIME_SEC);
    assert.equal(tokenLifetimeSec('7200'), 7200);
  });

  it('a believed lifetime renews at most once a second, and its expiry is a finite number', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.string()), fc.integer({ min: 0, max: 2 ** 42 }), (raw, issuedAt) => {
        const s = tokenLifetimeSec(raw);
        const at = renewAt(issuedAt, s);
        assert.ok(Number.isFinite(at) && at - issuedAt >= 1000, `renews after ${at - issuedAt} ms`);
        assert.ok(Number.isFinite(issuedAt + s * 1000));
      }),
    );
  });

  it('isUsableToken: visible ASCII only, 1 to MAX_TOKEN_LENGTH characters', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0x2ff }), { maxLength: 40 }).map((cs) => String.fromCharCode(...cs)), (t) => {
        if (isUsableToken(t)) assert.match(t, /^[\x21-\x7e]+$/);
      }),
    );
    for (const bad of ['', 'a\r\nX-Evil: 1', 'a b', 'tök', 'a\tb', 'a'.repeat(MAX_TOKEN_LENGTH + 1), 42, null]) {
      assert.equal(isUsableToken(bad), false, JSON.stringify(bad));
    }
    assert.equal(isUsableToken('f7c12761cc8fa9034b901f60b56b8b83'), true);
  });
});

describe('issue 17 finding 9: hostile login answers through the gateway', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let hostile: HostilePlatform;
  let gw: TestGateway;

  before(async () => {
    redis = await startRedis();
    hostile = await startHostilePlatform();
  });
  beforeEach(async () => {
    await redis.flush();
    gw = await startGateway(gatewayEnv(hostile.url, redis.url, { BREAKER_FAILURES: '1000' }));
  });
  afterEach(() => gw.close());
  after(() => closeAll(hostile, redis));

  it('regression: a token with CRLF is refused at login (502), not cached: the next login serves at once', async () => {
    hostile.answerLogin((_req, res) => json(res, 200, { accessToken: 'abc\r\nX-Evil: 1', expiresIn: 3600 }));
    assertEnvelope(await request(gw.url).get(LIST).set('X-Api-Key', KEYS.all), 502, 'UPSTREAM_ERROR');
    assert.equal(hostile.hits(), 0, 'a call went out with a broken token');
    hostile.answerLogin((_req, res, n) => json(res, 200, { accessToken: `good-${n}`, expiresIn: 3600 }));
    assert.equal((await request(gw.url).get(LIST).set('X-Api-Key', KEYS.all)).status, 200);
  });

  for (const expiresIn of [0.001, 1e308, -5, 0, 'soon', '1e400']) {
    it(`regression: expiresIn ${JSON.stringify(expiresIn)} causes no login storm (20 calls, one login)`, async () => {
      hostile.answerLogin((_req, res, n) => json(res, 200, { accessToken: `tok-${n}`, expiresIn }));
      const before = hostile.logins();
      for (let i = 0; i < 20; i++) assert.equal((await request(gw.url).get(LIST).set('X-Api-Key', KEYS.all)).status, 200);
      assert.equal(hostile.logins() - before, 1);
    });
  }

  it('Idempotency-Key records expire (TTL = IDEMPOTENCY_TTL_SEC) and cost a bounded amount of Redis memory each', async () => {
    hostile.answer((_req, res) => json(res, 200, { operationId: 'op-1' }));
    const n = 50;
    const before = Number(/used_memory:(\d+)/.exec(await redis.client.info('memory'))?.[1]);
    for (let i = 0; i < n; i++) {
      const res = await request(gw.url)
        .post('/v1/apps/app-a/upgrade-tasks/software')
        .set('X-Api-Key', KEYS.all)
        .set('Idempotency-Key', `unique-${i}-${'k'.repeat(100)}`)
        .send({ fileId: 'sw-pkg-0001', targets: { devices: ['d1'] } });
      assert.equal(res.status, 201, res.text);
    }
    const keys = await redis.client.keys(`${gw.gateway.config.redisKeyPrefix}*idem*`);
    assert.equal(keys.length, n);
    for (const k of keys.slice(0, 5)) {
      const ttl = await redis.client.pttl(k);
      assert.ok(ttl > 0 && ttl <= 86_400_000, `record without a bounded TTL: ${ttl}`);
    }
    const perRecord = (Number(/used_memory:(\d+)/.exec(await redis.client.info('memory'))?.[1]) - before) / n;
    if (process.env.MEASURE) console.log(`idempotency record: ${Math.round(perRecord)} bytes`, await redis.client.memory('USAGE', keys[0]!));
    // Measured about 400-600 bytes per record (key, fingerprint, the stored answer); docs/security.md has the sums.
    assert.ok(perRecord < 2048, `${Math.round(perRecord)} bytes per record`);
  });
});
