// The simulator's HTTPS and client certificates, tested black-box over real HTTP(S).
import { strict as assert } from 'node:assert';
import { readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { startSimulator, type RunningSimulator } from '../src/simulator/server.js';
import { makeTestPki } from './helpers/fixtures.js';
import { useSimulator, LOGIN } from './helpers/simulator.js';

describe('simulator: HTTPS with client certificates', () => {
  useSimulator();

  let dir: string;
  let secure: RunningSimulator;
  let oneWay: RunningSimulator;
  const pem = (name: string): Buffer => readFileSync(join(dir, name));

  before(async function () {
    this.timeout(30_000);
    dir = makeTestPki();
    const tls = { cert: pem('server.crt'), key: pem('server.key') };
    secure = await startSimulator({ quiet: true, tls: { ...tls, ca: pem('ca.crt') } });
    oneWay = await startSimulator({ quiet: true, tls });
  });
  after(async () => {
    await secure?.close();
    await oneWay?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `rogue` presents a certificate from a CA the server does not trust. */
  function get(url: string, who: 'none' | 'client' | 'rogue'): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = https.get(
        url,
        {
          ca: pem('ca.crt'),
          agent: false,
          ...(who !== 'none' && { cert: pem(`${who}.crt`), key: pem(`${who}.key`) }),
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    });
  }

  it('serves HTTPS and refuses a client without a certificate when a CA is configured', async () => {
    assert.match(secure.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    await assert.rejects(get(`${secure.url}/healthz`, 'none'), (err: NodeJS.ErrnoException) => {
      assert.match(`${err.code} ${err.message}`, /CERTIFICATE|ECONNRESET|socket hang up/i);
      return true;
    });
    await assert.rejects(get(`${secure.url}/healthz`, 'rogue'));
    const ok = await get(`${secure.url}/healthz`, 'client');
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { status: 'ok' });
  });

  it('lets a certified client log in over mutual TLS', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(
        `${secure.url}${LOGIN}`,
        {
          method: 'POST',
          ca: pem('ca.crt'),
          cert: pem('client.crt'),
          key: pem('client.key'),
          agent: false,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
        (r) => {
          let body = '';
          r.on('data', (c: Buffer) => (body += c.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end('appId=demo-app&secret=demo-secret');
    });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).tokenType, 'bearer');
  });

  it('does not ask for a client certificate without a CA', async () => {
    const res = await get(`${oneWay.url}/healthz`, 'none');
    assert.equal(res.status, 200);
  });
});
