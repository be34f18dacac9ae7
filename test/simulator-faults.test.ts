// The simulator's injected faults and latency, tested black-box over real HTTP(S).
import { strict as assert } from 'node:assert';
import type { Test } from 'supertest';
import { useSimulator, IODM, LOGIN } from './helpers/simulator.js';

describe('simulator: faults and latency', () => {
  const { api, login, authed, control, expectError } = useSimulator();

  let token: string;
  beforeEach(async () => {
    token = (await login()).accessToken;
  });
  const category = (): Test => authed(api().get(`${IODM}/category`), token);
  const fault = (rule: object): Test => control('/faults', rule);

  it('answers an error fault with the given status and platform error body, once per count', async () => {
    await fault({ count: 2, path: '/category', status: 503, errorCode: '50252' });
    for (let i = 0; i < 2; i++) {
      const res = await category();
      assert.equal(res.status, 503);
      assert.deepEqual(res.body, { error_code: '50252', error_desc: 'Internal server error.' });
    }
    await category().expect(200);
  });

  it('answers an error fault without a code with a plain body and honours errorDesc', async () => {
    await fault({ count: 1, status: 502 });
    const plain = await category();
    assert.equal(plain.status, 502);
    assert.match(plain.headers['content-type'] ?? '', /text\/plain/);
    assert.equal(plain.text, 'Bad Gateway');
    await fault({ count: 1, errorCode: '1010009', status: 403, errorDesc: 'app throttle exceed.' });
    expectError(await category(), 403, '1010009');
  });

  it('queues rules in order and matches on path, method and appId', async () => {
    await fault({ count: 1, errorCode: '100001', status: 500 });
    await fault({ count: 1, errorCode: '50252', status: 500 });
    await fault({ count: 1, appId: 'demo-app-2', errorCode: '100001', status: 500 });
    await fault({ count: 1, method: 'delete', errorCode: '100001', status: 500 });
    await fault({ count: 1, path: '/operations', errorCode: '100001', status: 500 });
    expectError(await category(), 500, '100001');
    expectError(await category(), 500, '50252');
    await category().expect(200);
    const pending = await api().get('/__control/faults').expect(200);
    assert.equal(pending.body.pending.length, 3);
    expectError(await authed(api().delete(`${IODM}/category/sw-pkg-0003`), token), 500, '100001');
    await api().delete('/__control/faults').expect(200);
    await authed(api().get(`${IODM}/operations`), token).expect(200);
  });

  it('applies faults to logins too', async () => {
    await fault({ count: 1, path: '/login', status: 500, errorCode: '50252' });
    expectError(await api().post(LOGIN).type('form').send({ appId: 'demo-app', secret: 'demo-secret' }), 500, '50252');
    await login();
  });

  it('answers garbage with 200 and a body that is not JSON', async () => {
    await fault({ count: 1, mode: 'garbage' });
    const res = await category().buffer(true).parse((r, cb) => {
      let text = '';
      r.on('data', (c: Buffer) => (text += c.toString()));
      r.on('end', () => cb(null, text));
    });
    assert.equal(res.status, 200);
    assert.throws(() => JSON.parse(res.body as string));
    await category().expect(200);
  });

  it('resets the connection without an answer', async () => {
    await fault({ count: 1, mode: 'reset' });
    await assert.rejects(category().then(() => undefined), (err: NodeJS.ErrnoException) => {
      assert.match(String(err.code ?? err.message), /ECONNRESET|socket hang up/i);
      return true;
    });
    await category().expect(200);
  });

  it('hangs until the client gives up', async () => {
    await fault({ count: 1, mode: 'hang' });
    const started = Date.now();
    await assert.rejects(category().timeout(400).then(() => undefined), /Timeout/i);
    assert.ok(Date.now() - started >= 350);
    await category().expect(200);
    const log = (await api().get('/__control/calls').expect(200)).body.log as Array<{ fault?: string; status: number }>;
    const hung = log.find((e) => e.fault === 'hang');
    assert.ok(hung);
    assert.equal(hung.status, 0);
  });

  it('delays every call, or only those whose path matches, until cleared', async () => {
    await control('/latency', { ms: 300 });
    let t0 = Date.now();
    await category().expect(200);
    assert.ok(Date.now() - t0 >= 280, 'delayed');

    await control('/latency', { ms: 0 });
    await control('/latency', { ms: 400, path: '/operations' });
    t0 = Date.now();
    await category().expect(200);
    assert.ok(Date.now() - t0 < 250, 'other paths are not delayed');
    t0 = Date.now();
    await authed(api().get(`${IODM}/operations`), token).expect(200);
    assert.ok(Date.now() - t0 >= 380, 'matching path delayed');

    await control('/latency', { ms: 0 });
    t0 = Date.now();
    await authed(api().get(`${IODM}/operations`), token).expect(200);
    assert.ok(Date.now() - t0 < 250, 'cleared');
  });
});
