// The simulator's login, refresh and tokens, tested black-box over real HTTP(S).
import { strict as assert } from 'node:assert';
import type { Test } from 'supertest';
import { sleep } from './helpers/fixtures.js';
import { useSimulator, IODM, LOGIN, REFRESH, type Tokens } from './helpers/simulator.js';

describe('simulator: authentication', () => {
  const { api, login, authed, control, expectError } = useSimulator();

  it('logs in with a form-encoded body and returns the five token fields', async () => {
    const res = await api().post(LOGIN).type('form').send({ appId: 'demo-app', secret: 'demo-secret' }).expect(200);
    assert.match(res.headers['content-type'] ?? '', /application\/json/);
    const t = res.body as Tokens;
    assert.deepEqual(Object.keys(t).sort(), ['accessToken', 'expiresIn', 'refreshToken', 'scope', 'tokenType']);
    assert.equal(t.tokenType, 'bearer');
    assert.equal(t.scope, 'default');
    assert.equal(t.expiresIn, 3600);
    assert.ok(t.accessToken.length >= 16 && t.refreshToken.length >= 16);
    assert.notEqual(t.accessToken, t.refreshToken);
  });

  it('answers a wrong secret or an unknown app with 401 100208', async () => {
    for (const form of [
      { appId: 'demo-app', secret: 'nope' },
      { appId: 'no-such-app', secret: 'demo-secret' },
    ]) {
      const res = await api().post(LOGIN).type('form').send(form);
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, { error_code: '100208', error_desc: 'AppId or secret is not right.' });
    }
  });

  it('answers a missing field, an empty body or a JSON body with 400 102202', async () => {
    const cases: Test[] = [
      api().post(LOGIN).type('form').send({ appId: 'demo-app' }),
      api().post(LOGIN).type('form').send({ secret: 'demo-secret' }),
      api().post(LOGIN).type('form').send({ appId: '', secret: 'demo-secret' }),
      api().post(LOGIN),
      api().post(LOGIN).send({ appId: 'demo-app', secret: 'demo-secret' }),
    ];
    for (const c of cases) {
      const res = await c;
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { error_code: '102202', error_desc: 'Required Parameter is null or empty.' });
    }
  });

  it('keeps only the newest token of an app valid', async () => {
    const first = await login();
    await authed(api().get(`${IODM}/category`), first.accessToken).expect(200);
    const second = await login();
    const stale = await authed(api().get(`${IODM}/category`), first.accessToken);
    assert.equal(stale.status, 403);
    assert.deepEqual(stale.body, { error_code: '1010005', error_desc: 'App_key or access_token is invalid.' });
    await authed(api().get(`${IODM}/category`), second.accessToken).expect(200);
    // Another app's login leaves this app's token alone.
    await login('demo-app-2', 'demo-secret-2');
    await authed(api().get(`${IODM}/category`), second.accessToken).expect(200);
  });

  it('accepts the bearer scheme in any case', async () => {
    const t = await login();
    await api()
      .get(`${IODM}/category`)
      .set('app_key', 'demo-app')
      .set('Authorization', `bearer ${t.accessToken}`)
      .expect(200);
    await api()
      .get(`${IODM}/category`)
      .set('app_key', 'demo-app')
      .set('Authorization', `BEARER ${t.accessToken}`)
      .expect(200);
  });

  it('answers a missing app_key with 401 100025 and a bad token or app_key mismatch with 403 1010005', async () => {
    const t = await login();
    const noKey = await api().get(`${IODM}/category`).set('Authorization', `Bearer ${t.accessToken}`);
    assert.equal(noKey.status, 401);
    assert.deepEqual(noKey.body, { error_code: '100025', error_desc: 'AppId for auth not exist.' });
    expectError(await api().get(`${IODM}/category`).set('app_key', 'demo-app'), 403, '1010005');
    expectError(await authed(api().get(`${IODM}/category`), 'not-a-token'), 403, '1010005');
    expectError(await authed(api().get(`${IODM}/category`), t.accessToken, 'demo-app-2'), 403, '1010005');
    expectError(
      await api().get(`${IODM}/category`).set('app_key', 'demo-app').set('Authorization', t.accessToken),
      403,
      '1010005',
    );
  });

  it('refreshes with JSON, issuing new tokens and invalidating the old access token', async () => {
    const old = await login();
    const res = await api()
      .post(REFRESH)
      .send({ appId: 'demo-app', secret: 'demo-secret', refreshToken: old.refreshToken })
      .expect(200);
    const fresh = res.body as Tokens;
    assert.equal(fresh.tokenType, 'bearer');
    assert.equal(fresh.scope, 'default');
    assert.equal(fresh.expiresIn, 3600);
    assert.notEqual(fresh.accessToken, old.accessToken);
    assert.notEqual(fresh.refreshToken, old.refreshToken);
    expectError(await authed(api().get(`${IODM}/category`), old.accessToken), 403, '1010005');
    await authed(api().get(`${IODM}/category`), fresh.accessToken).expect(200);
    // The superseded refresh token is no longer honoured.
    expectError(
      await api().post(REFRESH).send({ appId: 'demo-app', secret: 'demo-secret', refreshToken: old.refreshToken }),
      401,
      '100208',
    );
  });

  it('answers bad refresh requests with 100208, 102202 and 50400', async () => {
    const t = await login();
    expectError(
      await api().post(REFRESH).send({ appId: 'demo-app', secret: 'wrong', refreshToken: t.refreshToken }),
      401,
      '100208',
    );
    expectError(
      await api().post(REFRESH).send({ appId: 'demo-app', secret: 'demo-secret', refreshToken: 'bogus' }),
      401,
      '100208',
    );
    expectError(await api().post(REFRESH).send({ appId: 'demo-app', secret: 'demo-secret' }), 400, '102202');
    expectError(
      await api().post(REFRESH).type('json').send('{"appId": "demo-app", "secret":'),
      400,
      '50400',
    );
    expectError(
      await api().post(REFRESH).send({ appId: 'demo-app', secret: 'demo-secret', refreshToken: 42 }),
      400,
      '50400',
    );
    // The failed attempts did not disturb the current token.
    await authed(api().get(`${IODM}/category`), t.accessToken).expect(200);
  });

  it('expires access tokens after expiresIn seconds', async () => {
    await control('/config', { expiresIn: 1 });
    const t = await login();
    assert.equal(t.expiresIn, 1);
    await authed(api().get(`${IODM}/category`), t.accessToken).expect(200);
    await sleep(1200);
    expectError(await authed(api().get(`${IODM}/category`), t.accessToken), 403, '1010005');
    const status = await api().get('/__control/tokens/demo-app').expect(200);
    assert.deepEqual(status.body, { current: false, issued: 1 });
  });

  it('revokes the current token through the control API, leaving the refresh token usable', async () => {
    const t = await login();
    await control('/revoke', { appId: 'demo-app' });
    expectError(await authed(api().get(`${IODM}/category`), t.accessToken), 403, '1010005');
    const res = await api()
      .post(REFRESH)
      .send({ appId: 'demo-app', secret: 'demo-secret', refreshToken: t.refreshToken })
      .expect(200);
    await authed(api().get(`${IODM}/category`), (res.body as Tokens).accessToken).expect(200);
  });

  it('refuses login and refresh of a frozen app with 400 100247', async () => {
    const t = await login();
    await control('/freeze', { appId: 'demo-app', frozen: true });
    const res = await api().post(LOGIN).type('form').send({ appId: 'demo-app', secret: 'demo-secret' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, {
      error_code: '100247',
      error_desc: 'Operation not allowed. The application has been frozen.',
    });
    expectError(
      await api().post(REFRESH).send({ appId: 'demo-app', secret: 'demo-secret', refreshToken: t.refreshToken }),
      400,
      '100247',
    );
    await login('demo-app-2', 'demo-secret-2');
    await control('/freeze', { appId: 'demo-app', frozen: false });
    await login();
  });

  it('reports token status per app without token values', async () => {
    assert.deepEqual((await api().get('/__control/tokens/demo-app').expect(200)).body, { current: false, issued: 0 });
    await login();
    await login();
    const res = await api().get('/__control/tokens/demo-app').expect(200);
    assert.deepEqual(res.body, { current: true, issued: 2 });
    await api().get('/__control/tokens/nobody').expect(404);
  });
});
