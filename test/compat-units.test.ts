// Unit and property tests of the compat front's pure parts: the error mapping, request shaping, and the in-process session store.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { replayedToPlatformError, toPlatformError } from '../src/compat/errors.js';
import { shapeRequest } from '../src/compat/request.js';
import { digest, MemorySessionStore, REFRESH_TTL_SEC } from '../src/compat/sessions.js';
import { CATALOG, GatewayError, type ErrorCode } from '../src/errors.js';
import { PlatformError } from '../src/platform/client.js';
import { ROUTES } from './helpers/fixtures.js';

const spec = (id: string) => {
  const s = ROUTES.find((r) => r.id === id);
  assert.ok(s, id);
  return s;
};

describe('compat: errors in the platform format', () => {
  const platformSaid = (code: string, httpStatus: number) =>
    new GatewayError('NOT_FOUND', { platformCode: code, cause: new PlatformError('code', 'x', { platformCode: code, httpStatus, sent: true }) });

  it('quota refusals are the platform\'s 403 1010009, whoever refused (the app\'s quota, a hold-back, a client share)', () => {
    const r = toPlatformError(new GatewayError('RATE_LIMITED', { platformCode: '1010009', retryAfter: 3 }));
    assert.deepEqual(r, { status: 403, body: { error_code: '1010009', error_desc: 'app throttle exceed.' } });
    // The fair-shares feature's refusal, when it lands, is a quota refusal too (an envelope replayed with its code).
    const share = replayedToPlatformError(429, { code: 'CLIENT_RATE_LIMITED' as ErrorCode, message: 'm', retryable: true });
    assert.deepEqual([share.status, share.body.error_code], [403, '1010009']);
  });

  it("the platform's own code keeps the platform's status, even a 200 that carries error_code", () => {
    assert.deepEqual(
      [toPlatformError(platformSaid('100403', 404)).status, toPlatformError(platformSaid('100403', 404)).body.error_code],
      [404, '100403'],
    );
    assert.equal(toPlatformError(platformSaid('100428', 200)).status, 200);
  });

  it('validation: the API\'s platform code with 400, else 100022', () => {
    const coded = toPlatformError(new GatewayError('VALIDATION_FAILED', { platformCode: '123023', message: 'targets: both given' }));
    assert.deepEqual(coded, { status: 400, body: { error_code: '123023', error_desc: 'targets: both given' } });
    assert.equal(toPlatformError(new GatewayError('VALIDATION_FAILED')).body.error_code, '100022');
  });

  it('gateway faults: 500 50252 for an internal error; GW.-prefixed codes with the gateway\'s status otherwise', () => {
    assert.deepEqual(toPlatformError(new Error('boom')), { status: 500, body: { error_code: '50252', error_desc: 'Internal server error.' } });
    assert.deepEqual(toPlatformError(new GatewayError('INTERNAL')).body.error_code, '50252');
    assert.deepEqual([toPlatformError(new GatewayError('UPSTREAM_TIMEOUT')).status, toPlatformError(new GatewayError('UPSTREAM_TIMEOUT')).body.error_code], [504, 'GW.UPSTREAM_TIMEOUT']);
    assert.equal(toPlatformError(new GatewayError('UPSTREAM_UNAVAILABLE')).body.error_code, 'GW.UPSTREAM_UNAVAILABLE');
    // The platform refusing the gateway's own token is not the caller's session: no 1010005 that would make its SDK log in again.
    const auth = toPlatformError(new GatewayError('UPSTREAM_AUTH_FAILED', { platformCode: '1010005' }));
    assert.deepEqual([auth.status, auth.body.error_code], [502, 'GW.UPSTREAM_AUTH_FAILED']);
  });

  it('property: every gateway error becomes a platform-format error with an error status, and never a code the platform would not send', () => {
    const codes = Object.keys(CATALOG) as ErrorCode[];
    fc.assert(
      fc.property(fc.constantFrom(...codes), fc.option(fc.stringMatching(/^[0-9]{4,7}$/), { nil: undefined }), (code, platformCode) => {
        const r = toPlatformError(new GatewayError(code, platformCode === undefined ? {} : { platformCode }));
        assert.ok(r.status >= 400 && r.status < 600, String(r.status));
        assert.equal(typeof r.body.error_desc, 'string');
        assert.deepEqual(Object.keys(r.body), ['error_code', 'error_desc']);
        // Either a platform code (digits) or one of the gateway's, which say so.
        assert.match(r.body.error_code, /^([0-9]+|GW\.[A-Z_]+)$/);
        if (code === 'RATE_LIMITED') assert.equal(r.body.error_code, '1010009');
      }),
    );
  });
});

describe('compat: shaping a platform request into the pipeline\'s terms', () => {
  it('takes the path params from the platform path, queryFromPath and bodyFromPath', () => {
    const history = shapeRequest(spec('listDeviceHistory'), 'app-a', {
      pathParams: {},
      query: { deviceId: 'dev-1', gatewayId: 'dev-1', pageNo: '0' },
      body: undefined,
    });
    assert.deepEqual(history.params, { deviceId: 'dev-1' });
    assert.deepEqual(history.query, { gatewayId: 'dev-1', pageNo: '0' });

    const add = shapeRequest(spec('addGroupMembers'), 'app-a', { pathParams: {}, query: {}, body: { devGroupId: 'g1', deviceIds: ['d1'] } });
    assert.deepEqual(add.params, { devGroupId: 'g1' });
    assert.deepEqual(add.body, { deviceIds: ['d1'] });

    const one = shapeRequest(spec('getDevice'), 'app-a', { pathParams: { deviceId: 'd9' }, query: {}, body: undefined });
    assert.deepEqual(one.params, { deviceId: 'd9' });
  });

  it("takes out the SDK's appId for the session's own app only (another app's is left for validation to refuse)", () => {
    const own = shapeRequest(spec('listCommands'), 'app-a', { pathParams: {}, query: { appId: 'app-a', pageNo: '0' }, body: undefined });
    assert.deepEqual(own.query, { pageNo: '0' });
    const other = shapeRequest(spec('listCommands'), 'app-a', { pathParams: {}, query: { appId: 'app-b' }, body: undefined });
    assert.deepEqual(other.query, { appId: 'app-b' });
    const batch = shapeRequest(spec('createBatchTask'), 'app-a', { pathParams: {}, query: {}, body: { appId: 'app-a', taskName: 't' } });
    assert.deepEqual(batch.body, { taskName: 't' });
  });

  it('property: what the caller sends never becomes a param other than the route\'s own names', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })), (query) => {
        for (const s of ROUTES) {
          const shaped = shapeRequest(s, 'app-a', { pathParams: {}, query, body: { ...query } });
          const allowed = new Set([...(s.platform.queryFromPath ?? []), ...(s.platform.bodyFromPath ?? [])]);
          for (const k of Object.keys(shaped.params)) assert.ok(allowed.has(k), `${s.id}: ${k}`);
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('compat: the in-process session store (REDIS_URL=memory)', () => {
  it('issues random tokens, keeps digests only, expires them, and spends a refresh token once, for its own client', async () => {
    let now = 1_000_000;
    const store = new MemorySessionStore(60, () => now);
    const g = await store.issue('app-a', 'svc');
    assert.deepEqual(await store.check('app-a', g.accessToken), { appId: 'app-a', client: 'svc' });
    assert.equal(await store.check('app-b', g.accessToken), null, "another app's session");
    const inside = JSON.stringify([...(store as unknown as { entries: Map<string, unknown> }).entries.keys()]);
    assert.ok(!inside.includes(g.accessToken) && inside.includes(digest(g.accessToken)));
    now += 60_000;
    assert.equal(await store.check('app-a', g.accessToken), null, 'expired');
    assert.equal(await store.refresh('app-a', 'other', g.refreshToken), null, "another client's refresh token");
    const g2 = await store.issue('app-a', 'svc');
    const r = await store.refresh('app-a', 'svc', g2.refreshToken);
    assert.ok(r && (await store.check('app-a', r.accessToken)));
    assert.equal(await store.refresh('app-a', 'svc', g2.refreshToken), null, 'spent');
    now += REFRESH_TTL_SEC * 1000;
    assert.equal(await store.refresh('app-a', 'svc', r.refreshToken), null, 'refresh tokens expire too');
  });
});
