// The edge: how quota refusals, token failures and platform errors become HTTP answers (src/http/outcomes.ts), without a server.
import assert from 'node:assert/strict';
import { FAMILIES } from '../src/families/index.js';
import { platformErrorToGateway, quotaRefusalError, tokenFailureError, withQuota } from '../src/http/outcomes.js';
import { PlatformError } from '../src/platform/client.js';
import { createCodeCatalog, PLATFORM_CODE } from '../src/platform/codes.js';
import { refused } from '../src/quota/outcome.js';
import { isPlatformOutage, type TokenFailure } from '../src/tokens/outcome.js';

const catalog = createCodeCatalog(FAMILIES);

describe('outcomes at the edge', () => {
  it('a quota refusal: 429 with the platform throttle code, Retry-After rounded up and the quota headers', () => {
    const e = quotaRefusalError(refused('quota', 12_001, 100, 60_000));
    assert.deepEqual([e.code, e.status, e.platformCode, e.retryAfter, e.retryable], ['RATE_LIMITED', 429, PLATFORM_CODE.THROTTLED, 13, true]);
    assert.equal(e.headers?.RateLimit, '"app";r=0;t=13');
    assert.match(quotaRefusalError(refused('hold', 500, 100, 60_000)).message, /held back/);
    assert.equal(quotaRefusalError(refused('hold', 500, 100, 60_000)).retryAfter, 1, 'never Retry-After: 0');
  });

  it('a quota store outage: 503 SERVICE_UNAVAILABLE, without quota headers (nothing is known)', () => {
    const e = quotaRefusalError(refused('store-outage', 1000, 100, 60_000));
    assert.deepEqual([e.code, e.status, e.retryAfter, e.headers], ['SERVICE_UNAVAILABLE', 503, 1, undefined]);
  });

  it('token failures: each reason its answer', () => {
    const cases: Array<[TokenFailure, string, number | undefined]> = [
      [{ ok: false, reason: 'credentials-refused', platformCode: '100208', retryAfterMs: 4200 }, 'UPSTREAM_AUTH_FAILED', 5],
      [{ ok: false, reason: 'quota-refused', quota: refused('quota', 3000, 5, 60_000) }, 'RATE_LIMITED', 3],
      [{ ok: false, reason: 'timeout', platformSlow: false }, 'UPSTREAM_TIMEOUT', undefined],
      [{ ok: false, reason: 'store-outage', retryAfterMs: 1000 }, 'SERVICE_UNAVAILABLE', 1],
      [{ ok: false, reason: 'unknown-app' }, 'NOT_FOUND', undefined],
      [
        { ok: false, reason: 'platform-error', error: new PlatformError('unavailable', 'refused', { sent: false }) },
        'UPSTREAM_UNAVAILABLE',
        1,
      ],
    ];
    for (const [f, code, retryAfter] of cases) {
      const e = tokenFailureError(f, catalog);
      assert.deepEqual([e.code, e.retryAfter], [code, retryAfter], f.reason);
    }
    const refusedLogin = tokenFailureError({ ok: false, reason: 'credentials-refused', platformCode: '100247', retryAfterMs: 1 }, catalog);
    assert.equal(refusedLogin.platformCode, '100247');
  });

  it('a token failure is a platform outage only when the platform was unwell (the breaker counts those)', () => {
    const outage = (error: PlatformError): TokenFailure => ({ ok: false, reason: 'platform-error', error });
    assert.equal(isPlatformOutage(outage(new PlatformError('timeout', 't', { sent: true }))), true);
    assert.equal(isPlatformOutage(outage(new PlatformError('code', 'c', { sent: true, platformCode: '100208' }))), false);
    assert.equal(isPlatformOutage({ ok: false, reason: 'timeout', platformSlow: true }), true);
    assert.equal(isPlatformOutage({ ok: false, reason: 'timeout', platformSlow: false }), false, 'waiting for another replica');
    assert.equal(isPlatformOutage({ ok: false, reason: 'store-outage', retryAfterMs: 1000 }), false);
    // The answer to a login of this process still out at the deadline carries the platform timeout as its cause.
    assert.ok(tokenFailureError({ ok: false, reason: 'timeout', platformSlow: true }, catalog).cause instanceof PlatformError);
  });

  it('platform errors: by code through the catalog (message ours, code kept), otherwise by kind', () => {
    const byCode = platformErrorToGateway(new PlatformError('code', 'x', { sent: true, platformCode: '123002' }), catalog);
    assert.deepEqual([byCode.code, byCode.platformCode, byCode.message], ['NOT_FOUND', '123002', 'No such version package or device.']);
    const unknown = platformErrorToGateway(new PlatformError('code', 'x', { sent: true, platformCode: '424242' }), catalog);
    assert.deepEqual([unknown.code, unknown.platformCode, unknown.retryable], ['UPSTREAM_ERROR', '424242', true]);
    const timeout = platformErrorToGateway(new PlatformError('timeout', 'x', { sent: true }), catalog);
    assert.deepEqual([timeout.code, timeout.sent], ['UPSTREAM_TIMEOUT', true]);
    const http4 = platformErrorToGateway(new PlatformError('http', 'x', { sent: true, httpStatus: 404 }), catalog);
    assert.deepEqual([http4.code, http4.retryable], ['UPSTREAM_ERROR', false]);
  });

  it('withQuota adds the quota headers to an error without its own, and marks an error raised before sending', () => {
    const state = { limit: 100, remaining: 3, resetMs: 1000, windowMs: 60_000 };
    const withHeaders = withQuota(platformErrorToGateway(new PlatformError('bad-body', 'x', { sent: true }), catalog), state);
    assert.equal((withHeaders as { headers?: Record<string, string> }).headers?.['RateLimit-Remaining'], '3');
    const notSent = withQuota(quotaRefusalError(refused('quota', 1000, 100, 60_000)), undefined, false) as { sent?: boolean };
    assert.equal(notSent.sent, false);
    const plain = new Error('bug');
    assert.equal(withQuota(plain, state), plain, 'anything else is left to the error middleware');
  });
});
