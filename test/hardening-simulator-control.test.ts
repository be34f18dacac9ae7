// Issue 17, finding 7 ("the simulator's GET /__control/calls returns app secrets and Bearer tokens"): the call log is redacted, and SIMULATOR_CONTROL_TOKEN guards every control endpoint.
import assert from 'node:assert/strict';
import request from 'supertest';
import { REDACTED, tokenFingerprint } from '../src/simulator/calllog.js';
import { settingsFromEnv } from '../src/simulator/env.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/server.js';

const TOKEN = 'control-token-0123456789abcdef';
const APP = { appId: 'demo-app', secret: 'demo-secret-that-must-not-leak' };
const LOGIN = '/iocm/app/sec/v1.1.0/login';
const REFRESH = '/iocm/app/sec/v1.1.0/refreshToken';

describe('issue 17 finding 7: simulator control endpoints', function () {
  this.timeout(20_000);
  let sim: RunningSimulator;
  before(async () => {
    sim = await startSimulator({ apps: [APP], quiet: true, port: 0, controlToken: TOKEN });
  });
  after(() => sim.close());

  it('regression: GET /__control/calls never shows a secret or a token (login form, refresh JSON, Bearer header, a malformed body)', async () => {
    const login = await request(sim.url).post(LOGIN).type('form').send(APP).expect(200);
    const { accessToken, refreshToken } = login.body as { accessToken: string; refreshToken: string };
    await request(sim.url).get('/iodm/northbound/v1.5.0/category').set('app_key', APP.appId).set('Authorization', `Bearer ${accessToken}`);
    await request(sim.url).post(REFRESH).send({ ...APP, refreshToken });
    await request(sim.url).post(REFRESH).set('content-type', 'application/json').send(`{"appId":"demo-app","secret":"${APP.secret}",`);
    const res = await request(sim.url).get('/__control/calls').set('X-Control-Token', TOKEN).expect(200);
    for (const s of [APP.secret, accessToken, refreshToken]) assert.ok(!res.text.includes(s), `leaked: ${s.slice(0, 6)}…`);
    const log = res.body.log as Array<{ path: string; headers: Record<string, string>; body: any }>;
    assert.equal(log[0]!.body.secret, REDACTED);
    assert.equal(log[0]!.body.appId, APP.appId, 'what is not secret stays useful');
    assert.equal(log[1]!.headers.authorization, `Bearer ${tokenFingerprint(accessToken)}`);
    assert.equal(log[2]!.body.refreshToken, tokenFingerprint(refreshToken));
    // The in-process log (tests in the same process) still has what was sent.
    assert.equal(sim.rawCalls().log[1]!.headers.authorization, `Bearer ${accessToken}`);
  });

  it('regression: with SIMULATOR_CONTROL_TOKEN set, every control endpoint answers 401 without it', async () => {
    const endpoints: Array<[string, string]> = [
      ['get', '/__control/calls'], ['delete', '/__control/calls'], ['post', '/__control/reset'], ['get', '/__control/config'],
      ['post', '/__control/config'], ['get', '/__control/faults'], ['post', '/__control/faults'], ['delete', '/__control/faults'],
      ['get', '/__control/latency'], ['post', '/__control/latency'], ['post', '/__control/revoke'], ['post', '/__control/freeze'],
      ['get', '/__control/tokens/demo-app'], ['post', '/__control/devices'], ['post', '/__control/devices/x/data'],
      ['post', '/__control/devices/x/status'], ['get', '/__control/no-such'],
    ];
    for (const [method, path] of endpoints) {
      for (const headers of [{}, { 'X-Control-Token': 'wrong' }, { Authorization: `Bearer ${TOKEN}x` }, { 'X-Control-Token': TOKEN.slice(0, -1) }]) {
        const res = await (request(sim.url) as any)[method](path).set(headers).send({});
        assert.equal(res.status, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
      }
    }
    await request(sim.url).get('/__control/config').set('Authorization', `Bearer ${TOKEN}`).expect(200);
    await request(sim.url).get('/__control/config').set('X-Control-Token', TOKEN).expect(200);
    // The platform side and health are not control endpoints.
    await request(sim.url).get('/healthz').expect(200);
  });

  it('SIMULATOR_CONTROL_TOKEN is read from the environment; a short one is refused', () => {
    const ok = settingsFromEnv({ SIMULATOR_CONTROL_TOKEN: TOKEN });
    assert.ok(ok.ok && ok.settings.options.controlToken === TOKEN);
    const none = settingsFromEnv({});
    assert.ok(none.ok && none.settings.options.controlToken === undefined);
    const short = settingsFromEnv({ SIMULATOR_CONTROL_TOKEN: 'short' });
    assert.ok(!short.ok && short.errors.some((e) => e.includes('SIMULATOR_CONTROL_TOKEN')));
    assert.ok(!short.ok && !short.errors.join().includes('short'), 'the token is never echoed');
  });
});
