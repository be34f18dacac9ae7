// Platform tokens: one login across replicas, renewal before expiry, 1010005 recovery, refused credentials, and secrets kept out of logs.
import assert from 'node:assert/strict';
import request from 'supertest';
import {
  KEYS,
  assertEnvelope,
  LOGIN_ROUTE,
  REFRESH_ROUTE,
  TEST_APPS,
  gatewayEnv,
  sleep,
  spawnGateway,
  startGateway,
  startRedis,
  startTestSimulator,
  waitFor,
  type TestGateway,
  type TestRedis,
  type TestSimulator,
  closeAll,
  appsWithRate,
} from './helpers/fixtures.js';

const list = (url: string, app = 'app-a') => request(url).get(`/v1/apps/${app}/packages`).set('X-Api-Key', KEYS.all);
const highQuota = appsWithRate(10_000);

describe('tokens', () => {
  let redis: TestRedis;
  let sim: TestSimulator;

  before(async () => {
    redis = await startRedis({ own: true });
    sim = await startTestSimulator({ ratePerMinute: 10_000 });
  });
  after(() => closeAll(sim, redis));
  beforeEach(async () => {
    await sim.reset();
    await redis.flush();
  });

  async function pair(extra: Record<string, string> = {}): Promise<[TestGateway, TestGateway]> {
    const env = gatewayEnv(sim.url, redis.url, { PLATFORM_APPS: highQuota, GATEWAY_REPLICAS: '2', ...extra });
    return [await startGateway(env), await startGateway(env)];
  }

  it('cold start: two replicas and 240 concurrent requests make exactly one login, and all succeed', async () => {
    const gws = await pair();
    try {
      const results = await Promise.all(
        Array.from({ length: 240 }, (_, i) => list((gws[i % 2] as TestGateway).url)),
      );
      assert.deepEqual(
        results.map((r) => r.status).filter((s) => s !== 200),
        [],
      );
      const calls = await sim.calls();
      assert.equal(calls.byRoute[LOGIN_ROUTE], 1);
      assert.equal(calls.byRoute['GET /iodm/northbound/v1.5.0/category'], 240);
      assert.ok(!calls.log.some((c) => c.errorCode === '1010005'), 'no request used a superseded token');
    } finally {
      for (const g of gws) await g.close();
    }
  });

  it('renews before expiry across several lifetimes: the platform never sees an expired token', async function () {
    this.timeout(20_000);
    await sim.control('config', { expiresIn: 2 });
    const gws = await pair();
    try {
      const until = Date.now() + 6500;
      let i = 0;
      while (Date.now() < until) {
        const rs = await Promise.all([list((gws[i % 2] as TestGateway).url), list((gws[(i + 1) % 2] as TestGateway).url)]);
        for (const r of rs) assert.equal(r.status, 200, JSON.stringify(r.body));
        i += 1;
        await sleep(100);
      }
      const calls = await sim.calls();
      assert.ok(!calls.log.some((c) => c.errorCode === '1010005'), 'an expired or superseded token reached the platform');
      const renewals = (calls.byRoute[LOGIN_ROUTE] ?? 0) + (calls.byRoute[REFRESH_ROUTE] ?? 0);
      assert.ok(renewals >= 3, `expected renewals across lifetimes, saw ${renewals}`);
      assert.ok((calls.byRoute[REFRESH_ROUTE] ?? 0) >= 1, 'refresh tokens are used before logging in again');
    } finally {
      for (const g of gws) await g.close();
    }
  });

  it('revocation: the next request still succeeds, with exactly one extra login', async () => {
    const gws = await pair();
    try {
      assert.equal((await list(gws[0].url)).status, 200);
      assert.equal((await list(gws[1].url)).status, 200);
      await sim.control('revoke', { appId: 'app-a' });
      const [r1, r2] = await Promise.all([list(gws[0].url), list(gws[1].url)]);
      assert.equal(r1.status, 200);
      assert.equal(r2.status, 200);
      assert.equal((await sim.calls()).byRoute[LOGIN_ROUTE], 2);
      // Operators see it per app: one 1010005 retry on each replica, one login in all.
      const metrics = await Promise.all(gws.map(async (g) => (await request(g.url).get('/metrics')).text));
      for (const m of metrics) assert.match(m, /iotbff_token_events_total\{app="app-a",event="reject_retry"\} 1/);
      const logins = metrics.map((m) => Number(/iotbff_token_events_total\{app="app-a",event="login"\} (\d+)/.exec(m)?.[1] ?? 0));
      assert.equal(logins[0]! + logins[1]!, 2);
    } finally {
      for (const g of gws) await g.close();
    }
  });

  it('a token rejected again right after renewal: 502 UPSTREAM_AUTH_FAILED with 1010005', async () => {
    const [gw, other] = await pair();
    try {
      assert.equal((await list(gw.url)).status, 200);
      await sim.control('faults', { count: 2, path: '/category', status: 403, errorCode: '1010005', errorDesc: 'x' });
      const res = await list(gw.url);
      assert.equal(res.status, 502);
      assert.equal(res.body.error.code, 'UPSTREAM_AUTH_FAILED');
      assert.equal(res.body.error.platformCode, '1010005');
    } finally {
      await gw.close();
      await other.close();
    }
  });

  it('wrong secret: 502 UPSTREAM_AUTH_FAILED 100208, then backs off without calling the platform', async () => {
    const apps = JSON.stringify([{ appId: 'app-a', secret: 'wrong-secret-000000' }, TEST_APPS[1]]);
    const gw = await startGateway(gatewayEnv(sim.url, redis.url, { PLATFORM_APPS: apps }));
    try {
      const first = await list(gw.url);
      assert.equal(first.status, 502);
      assert.equal(first.body.error.code, 'UPSTREAM_AUTH_FAILED');
      assert.equal(first.body.error.platformCode, '100208');
      assert.ok(Number(first.headers['retry-after']) >= 1);
      const again = await Promise.all([list(gw.url), list(gw.url), list(gw.url)]);
      for (const r of again) assert.equal(r.body.error.platformCode, '100208');
      assert.equal((await sim.calls()).byRoute[LOGIN_ROUTE], 1, 'the platform was hammered with a wrong secret');
      assert.equal((await list(gw.url, 'app-b')).status, 200, 'another app is not affected');
    } finally {
      await gw.close();
    }
  });

  it('a frozen app: 502 UPSTREAM_AUTH_FAILED 100247', async () => {
    await sim.control('freeze', { appId: 'app-a', frozen: true });
    const gw = await startGateway(gatewayEnv(sim.url, redis.url));
    try {
      const res = await list(gw.url);
      assert.equal(res.status, 502);
      assert.equal(res.body.error.platformCode, '100247');
    } finally {
      await gw.close();
    }
  });

  it('lock holder killed mid-login: the other replica gets a token once the lock expires', async function () {
    this.timeout(30_000);
    const env = gatewayEnv(sim.url, redis.url, {
      PLATFORM_APPS: highQuota,
      GATEWAY_REPLICAS: '2',
      PLATFORM_TIMEOUT_MS: '8000',
      TOKEN_LOCK_TTL_MS: '2000',
    });
    const [a, b] = await Promise.all([spawnGateway(env), spawnGateway(env)]);
    try {
      await sim.control('latency', { ms: 5000, path: '/login' });
      const pending = fetch(`${a.url}/v1/apps/app-a/packages`, { headers: { 'X-Api-Key': KEYS.all } }).catch(() => null);
      const lockKey = `${env.REDIS_KEY_PREFIX}token-lock:{app-a}`;
      await waitFor(async () => (await redis.client.exists(lockKey)) === 1, 5000, 'A to take the login lock');
      a.kill('SIGKILL');
      await a.exited;
      await pending;
      await sim.control('latency', { ms: 0 });
      const started = Date.now();
      const res = await list(b.url);
      const waited = Date.now() - started;
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(waited < 2000 + 1500, `B waited ${waited} ms, longer than the lock's expiry allows`);
    } finally {
      a.kill('SIGKILL');
      b.kill('SIGKILL');
      await Promise.all([a.exited, b.exited]);
      await sim.control('latency', { ms: 0 });
    }
  });

  it('regression: replicas in a key rotation read each other\'s sealed tokens instead of logging in (review finding)', async () => {
    const [oldKey, newKey] = ['ab'.repeat(32), 'cd'.repeat(32)];
    const env = gatewayEnv(sim.url, redis.url, { TOKEN_ENCRYPTION_KEY: oldKey });
    const before = await startGateway(env);
    const during = await startGateway({ ...env, TOKEN_ENCRYPTION_KEY: `${newKey},${oldKey}` });
    try {
      for (let i = 0; i < 5; i++) {
        assert.equal((await list(before.url)).status, 200);
        assert.equal((await list(during.url)).status, 200);
      }
      assert.equal((await sim.calls()).byRoute[LOGIN_ROUTE], 1);
    } finally {
      await closeAll(before, during);
    }
  });

  it('a login refused with 1010009: 429 with Retry-After and the quota headers, and the app held back', async () => {
    await sim.control('faults', { count: 1, path: '/login', status: 403, errorCode: '1010009', errorDesc: 'app throttle exceed.' });
    const gw = await startGateway(gatewayEnv(sim.url, redis.url));
    try {
      const res = await list(gw.url);
      assertEnvelope(res, 429, 'RATE_LIMITED');
      assert.equal(res.body.error.platformCode, '1010009');
      assert.equal(res.headers['retry-after'], '60');
      assert.match(String(res.headers.ratelimit), /^"app";r=0;t=60$/);
      const calls = (await sim.calls()).total;
      assertEnvelope(await list(gw.url), 429, 'RATE_LIMITED');
      assert.equal((await sim.calls()).total, calls, 'a held-back app called the platform');
    } finally {
      await gw.close();
    }
  });

  it('tokens at rest are sealed when TOKEN_ENCRYPTION_KEY is set', async () => {
    const gw = await startGateway(gatewayEnv(sim.url, redis.url, { TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32) }));
    try {
      assert.equal((await list(gw.url)).status, 200);
      // The in-process log: over HTTP the simulator shows only a fingerprint of each token.
      const sent = sim.rawCalls().log.find((c) => c.path.endsWith('/category'));
      const token = String(sent?.headers.authorization).replace(/^Bearer /i, '');
      const stored = await redis.client.hgetall(`${gw.gateway.config.redisKeyPrefix}token:{app-a}`);
      assert.match(stored.at ?? '', /^v1\./);
      assert.ok(!JSON.stringify(stored).includes(token), 'the token is stored in clear');
    } finally {
      await gw.close();
    }
  });

  it('keeps working from the in-process copy while Redis is down', async function () {
    this.timeout(20_000);
    const gw = await startGateway(gatewayEnv(sim.url, redis.url, { PLATFORM_APPS: highQuota, QUOTA_WINDOW_MS: '500' }));
    try {
      assert.equal((await list(gw.url)).status, 200);
      await redis.stop();
      // The quota refuses for one window after losing Redis (see docs); tokens need no Redis meanwhile.
      await sleep(600);
      const res = await list(gw.url);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal((await sim.calls()).byRoute[LOGIN_ROUTE], 1);
    } finally {
      await redis.start();
      await gw.close();
    }
  });

  it('never writes the secret, the tokens or the API key in its logs, metrics, error bodies or /readyz', async function () {
    this.timeout(20_000);
    await sim.control('config', { expiresIn: 2 });
    const gw = await startGateway(gatewayEnv(sim.url, redis.url, { PLATFORM_APPS: highQuota, LOG_LEVEL: 'trace' }));
    try {
      // A full scenario: login, calls, refresh, revocation and retry, platform errors, an auth failure.
      const answers: string[] = [];
      const keep = (r: request.Response) => {
        answers.push(JSON.stringify(r.headers) + r.text);
        return r;
      };
      for (let i = 0; i < 5; i++) assert.equal(keep(await list(gw.url)).status, 200);
      await sleep(1200);
      keep(await list(gw.url));
      await sim.control('revoke', { appId: 'app-a' });
      keep(await list(gw.url));
      keep(await request(gw.url).get('/v1/apps/app-a/packages/nope').set('X-Api-Key', KEYS.all));
      keep(await request(gw.url).get('/v1/apps/app-a/packages').set('X-Api-Key', `${KEYS.all}x`));
      await sim.control('faults', { count: 2, path: '/category', status: 403, errorCode: '1010005' });
      keep(await list(gw.url)); // 502 UPSTREAM_AUTH_FAILED
      keep(
        await request(gw.url)
          .post('/v1/apps/app-a/upgrade-tasks/software')
          .set('X-Api-Key', KEYS.all)
          .send({ fileId: 'sw-pkg-0001', targets: { devices: ['d1'] } }),
      );
      keep(await request(gw.url).get('/readyz'));
      // The in-process log, tokens as sent (over HTTP the simulator redacts them).
      const calls = sim.rawCalls();
      const tokens = new Set<string>();
      for (const c of calls.log) {
        const auth = c.headers.authorization;
        if (auth) tokens.add(auth.replace(/^bearer /i, ''));
        const body = c.body as { refreshToken?: string } | undefined;
        if (body?.refreshToken) tokens.add(body.refreshToken);
      }
      assert.ok(tokens.size >= 2, 'the scenario used several tokens');
      const output = gw.logs.join('');
      assert.ok(output.length > 1000, 'the gateway wrote logs');
      const secrets = [...tokens, KEYS.all, TEST_APPS[0]!.secret, TEST_APPS[1]!.secret];
      for (const s of secrets) assert.ok(!output.includes(s), `a secret or token appears in the logs: ${s.slice(0, 4)}…`);
      const metrics = await request(gw.url).get('/metrics');
      for (const s of secrets) assert.ok(!metrics.text.includes(s), 'a secret appears in /metrics');
      assert.ok(answers.some((a) => a.includes('UPSTREAM_AUTH_FAILED')), 'the scenario had platform errors');
      for (const s of secrets) assert.ok(!answers.join('\n').includes(s), 'a secret appears in an answer');
    } finally {
      await gw.close();
    }
  });
});
