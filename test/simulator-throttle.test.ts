// The simulator's flow control (1010009), tested black-box over real HTTP(S).
import { strict as assert } from 'node:assert';
import { sleep } from './helpers/fixtures.js';
import { useSimulator, IODM, LOGIN, REFRESH } from './helpers/simulator.js';

describe('simulator: flow control', () => {
  const { api, login, authed, control, expectError } = useSimulator();

  const THROTTLED = '{"error_code":"1010009","error_desc":"app throttle exceed."}';

  it('refuses the 101st call in a minute with 403 1010009, counting the login', async () => {
    const t = await login();
    for (let i = 0; i < 99; i++) await authed(api().get(`${IODM}/category`), t.accessToken).expect(200);
    const over = await authed(api().get(`${IODM}/category`), t.accessToken);
    assert.equal(over.status, 403);
    assert.equal(over.text, THROTTLED);
    // Logins are throttled too, and the limit is per app.
    const overLogin = await api().post(LOGIN).type('form').send({ appId: 'demo-app', secret: 'demo-secret' });
    assert.equal(overLogin.status, 403);
    assert.equal(overLogin.text, THROTTLED);
    await login('demo-app-2', 'demo-secret-2');
    const calls = await api().get('/__control/calls').expect(200);
    assert.equal(calls.body.byApp['demo-app'], 102);
    assert.equal(calls.body.log.filter((e: { errorCode?: string }) => e.errorCode === '1010009').length, 2);
  });

  it('counts failed calls and refreshes, but never throttles unknown apps', async () => {
    await control('/config', { ratePerMinute: 4 });
    const t = await login();
    expectError(await authed(api().get(`${IODM}/category?pageSize=0`), t.accessToken), 400, '123029');
    expectError(await authed(api().get(`${IODM}/category`), 'wrong-token'), 403, '1010005');
    await api()
      .post(REFRESH)
      .send({ appId: 'demo-app', secret: 'demo-secret', refreshToken: t.refreshToken })
      .expect(200);
    expectError(await api().post(LOGIN).type('form').send({ appId: 'demo-app', secret: 'x' }), 403, '1010009');
    for (let i = 0; i < 6; i++) {
      expectError(await api().post(LOGIN).type('form').send({ appId: 'stranger', secret: 'x' }), 401, '100208');
    }
  });

  it('frees the quota as the sliding window moves, and throttled calls do not count', async () => {
    await control('/config', { ratePerMinute: 5, windowMs: 2000 });
    const t = await login();
    for (let i = 0; i < 4; i++) await authed(api().get(`${IODM}/category`), t.accessToken).expect(200);
    const filledAt = Date.now();
    await sleep(500);
    for (let i = 0; i < 3; i++) {
      expectError(await authed(api().get(`${IODM}/category`), t.accessToken), 403, '1010009');
    }
    // The five counted calls arrived before filledAt, so all have left the window 2000 ms later; had the
    // refused calls (at ~filledAt+500) counted, fewer than five calls would be allowed now.
    await sleep(Math.max(0, filledAt + 2100 - Date.now()));
    for (let i = 0; i < 5; i++) await authed(api().get(`${IODM}/category`), t.accessToken).expect(200);
    expectError(await authed(api().get(`${IODM}/category`), t.accessToken), 403, '1010009');
  });
});
