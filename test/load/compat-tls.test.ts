// The compat port as main.ts starts it (a real child process): HTTPS with COMPAT_TLS_CERT_FILE/KEY_FILE, mutual TLS with COMPAT_TLS_CA_FILE, sessions in process with REDIS_URL=memory.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { closeAll, freePort, gatewayEnv, KEYS, makeTestPki, spawnGateway, startTestSimulator, type ChildGateway, type TestSimulator } from '../helpers/fixtures.js';
import { SdkClient } from '../helpers/sdk-client.js';

describe('compat port over mutual TLS, started by main.ts', () => {
  let sim: TestSimulator;
  let child: ChildGateway;
  let port: number;
  let pki: string;
  const pem = (name: string) => readFileSync(path.join(pki, name));

  before(async () => {
    pki = makeTestPki();
    sim = await startTestSimulator();
    port = await freePort();
    child = await spawnGateway(
      gatewayEnv(sim.url, 'memory', {
        COMPAT_PORT: String(port),
        COMPAT_TLS_CERT_FILE: path.join(pki, 'server.crt'),
        COMPAT_TLS_KEY_FILE: path.join(pki, 'server.key'),
        COMPAT_TLS_CA_FILE: path.join(pki, 'ca.crt'),
      }),
    );
  });
  after(async () => {
    child?.kill('SIGTERM');
    if (child) assert.equal(await child.exited, 0, 'a clean shutdown with the compat port open');
    await closeAll(sim);
  });

  const client = (tls: { cert?: Buffer; key?: Buffer }) =>
    new SdkClient({ baseUrl: `https://127.0.0.1:${port}`, appId: 'app-a', secret: KEYS.all, tls: { ca: pem('ca.crt'), ...tls } });

  it('serves the SDK with a client certificate signed by the CA: login and a call', async () => {
    const c = client({ cert: pem('client.crt'), key: pem('client.key') });
    const t = await c.getAuthToken();
    const list = await c.queryUpgradePackageList(t.accessToken);
    assert.ok(Array.isArray(list.data));
    assert.match(child.output(), /compat port listening/);
    assert.ok(!child.output().includes(t.accessToken) && !child.output().includes(KEYS.all), 'no token or key in the logs');
  });

  it('refuses a connection without a client certificate, or with one the CA did not sign', async () => {
    await assert.rejects(client({}).getAuthToken());
    await assert.rejects(client({ cert: pem('rogue.crt'), key: pem('rogue.key') }).getAuthToken());
  });
});
