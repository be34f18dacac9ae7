// The token manager's typed outcomes, in process (memory store, in-process quota, a scripted platform): each failure says why, and none is an HTTP error.
import assert from 'node:assert/strict';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import { PlatformError, type PlatformClient, type TokenGrant } from '../src/platform/client.js';
import { UPGRADE_CODES } from '../src/families/upgrade/codes.js';
import { createCodeCatalog, PLATFORM_CODE } from '../src/platform/codes.js';
import { QuotaLimiter } from '../src/quota/limiter.js';
import { TokenManager, type TokenOutcome } from '../src/tokens/manager.js';
import { MemoryTokenStore } from '../src/tokens/store.js';

type Script = () => Promise<TokenGrant>;

function setup(opts: { rate?: number; login: Script; replicas?: number }) {
  const metrics = createMetrics();
  const logger = createLogger('silent');
  const limiter = new QuotaLimiter({
    redis: null,
    keyPrefix: 't:',
    windowMs: 60_000,
    holdMs: 5000,
    replicas: 1,
    rateOf: () => opts.rate ?? 100,
    metrics,
    logger,
    replicaId: 'r1',
  });
  let logins = 0;
  const client: PlatformClient = {
    login: () => {
      logins += 1;
      return opts.login();
    },
    refresh: () => Promise.reject(new Error('not used')),
    call: () => Promise.reject(new Error('not used')),
    close: () => undefined,
  };
  const tokens = new TokenManager({
    store: new MemoryTokenStore(),
    client,
    limiter,
    catalog: createCodeCatalog([{ name: 'device-upgrade', codes: UPGRADE_CODES }]),
    apps: new Map([['app-a', { appId: 'app-a', secret: 's', ratePerMinute: opts.rate ?? 100 }]]),
    lockTtlMs: 2000,
    platformTimeoutMs: 2000,
    waitLimitMs: 4000,
    loginDeadlineMs: 2000,
    replicas: opts.replicas ?? 1,
    metrics,
    logger,
    replicaId: 'r1',
  });
  return { tokens, limiter, logins: () => logins };
}

const grant: TokenGrant = { accessToken: 'at-1', refreshToken: undefined, expiresIn: 3600 };
const refusal = (platformCode: string) => () => Promise.reject(new PlatformError('code', 'refused', { sent: true, platformCode }));
const inAMinute = () => Date.now() + 60_000;

describe('token manager outcomes', () => {
  it('a token: ok, and from memory afterwards (one login)', async () => {
    const t = setup({ login: async () => grant });
    assert.deepEqual(await t.tokens.get('app-a', inAMinute()), { ok: true, token: 'at-1' });
    assert.deepEqual(await t.tokens.get('app-a', inAMinute()), { ok: true, token: 'at-1' });
    assert.equal(t.logins(), 1);
  });

  for (const code of [PLATFORM_CODE.CREDENTIALS_REFUSED, PLATFORM_CODE.APP_FROZEN, PLATFORM_CODE.REQUIRED_PARAMETER_MISSING]) {
    it(`a login refused with ${code} (meaning credentials-refused): that reason and code, then the back-off without calling the platform`, async () => {
      const t = setup({ login: refusal(code) });
      const first = await t.tokens.get('app-a', inAMinute());
      assert.equal(first.ok, false);
      assert.equal(!first.ok && first.reason, 'credentials-refused');
      assert.ok(!first.ok && first.reason === 'credentials-refused' && first.platformCode === code && first.retryAfterMs > 4000);
      const again: TokenOutcome = await t.tokens.get('app-a', inAMinute());
      assert.equal(!again.ok && again.reason, 'credentials-refused');
      assert.equal(t.logins(), 1, 'backed off');
    });
  }

  it('a login failing with a code of another meaning: a platform error, and no back-off', async () => {
    const t = setup({ login: refusal('100001') });
    const r = await t.tokens.get('app-a', inAMinute());
    assert.ok(!r.ok && r.reason === 'platform-error' && r.error.platformCode === '100001');
    await t.tokens.get('app-a', inAMinute());
    assert.equal(t.logins(), 2);
  });

  it('a login throttled by the platform: a quota refusal (hold), and the app is held back for everyone', async () => {
    const t = setup({ login: refusal(PLATFORM_CODE.THROTTLED) });
    const r = await t.tokens.get('app-a', inAMinute());
    assert.ok(!r.ok && r.reason === 'quota-refused' && r.quota.reason === 'hold', JSON.stringify(r));
    assert.equal(t.limiter.known('app-a')?.reason, 'hold');
  });

  it('no quota slot for the login: a quota refusal, and the platform is not called', async () => {
    const t = setup({ rate: 1, login: async () => grant });
    const slot = await t.limiter.take('app-a');
    assert.equal(slot.kind, 'allowed');
    const r = await t.tokens.get('app-a', inAMinute());
    assert.ok(!r.ok && r.reason === 'quota-refused' && r.quota.reason === 'quota');
    assert.equal(t.logins(), 0);
  });

  it("the caller's deadline first: a timeout that says the platform is slow (this process's own login is out)", async () => {
    const t = setup({ login: () => new Promise((resolve) => setTimeout(() => resolve(grant), 300)) });
    const r = await t.tokens.get('app-a', Date.now() + 50);
    assert.deepEqual(r, { ok: false, reason: 'timeout', platformSlow: true });
    // The shared login goes on for the others.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(await t.tokens.get('app-a', inAMinute()), { ok: true, token: 'at-1' });
  });

  it('an unknown app: that reason, without a platform call', async () => {
    const t = setup({ login: async () => grant });
    assert.deepEqual(await t.tokens.get('app-x', inAMinute()), { ok: false, reason: 'unknown-app' });
    assert.equal(t.logins(), 0);
  });

  it('a bug is not an outcome: it is thrown, for the error middleware', async () => {
    const t = setup({ login: () => Promise.reject(new TypeError('boom')) });
    await assert.rejects(t.tokens.get('app-a', inAMinute()), TypeError);
  });
});
