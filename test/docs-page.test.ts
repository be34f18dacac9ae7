// GET /docs: the API reference page is HTML from this origin only (no CDN), with its own CSP, and every asset it names is served.
import assert from 'node:assert/strict';
import request from 'supertest';
import { closeAll, startStack, type TestGateway, type TestRedis, type TestSimulator } from './helpers/fixtures.js';

describe('API reference page (/docs)', () => {
  let redis: TestRedis;
  let sim: TestSimulator;
  let gw: TestGateway;

  before(async () => {
    ({ redis, sim, gw } = await startStack());
  });
  after(() => closeAll(gw, sim, redis));

  /** Every src= and href= of the page. */
  const urlsOf = (html: string): string[] => [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);

  it('answers 200 text/html, without an API key, naming only same-origin scripts and styles', async () => {
    const res = await request(gw.url).get('/docs').expect(200);
    assert.match(res.headers['content-type'] ?? '', /^text\/html/);
    const urls = urlsOf(res.text);
    assert.ok(urls.length >= 3, res.text);
    for (const u of urls) {
      assert.ok(u.startsWith('/') && !u.startsWith('//'), `not same-origin: ${u}`);
      assert.doesNotMatch(u, /^https?:/);
    }
    assert.doesNotMatch(res.text, /https?:\/\//, 'no absolute URL at all in the page');
    assert.doesNotMatch(res.text, /<script>(?!<\/script>)/, 'no inline script');
  });

  it("serves the page with a policy of its own: scripts from 'self' only, nothing inline", async () => {
    const csp = (await request(gw.url).get('/docs').expect(200)).headers['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /connect-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-eval|https?:/);
    // Other routes keep helmet's default.
    const other = (await request(gw.url).get('/healthz').expect(200)).headers['content-security-policy'] ?? '';
    assert.notEqual(other, csp);
  });

  it('serves every script and stylesheet the page names, with its type, and the initializer points at /openapi.json', async () => {
    const html = (await request(gw.url).get('/docs').expect(200)).text;
    for (const u of urlsOf(html)) {
      const res = await request(gw.url).get(u).expect(200);
      const type = res.headers['content-type'] ?? '';
      if (u.endsWith('.js')) assert.match(type, /javascript/, u);
      if (u.endsWith('.css')) assert.match(type, /text\/css/, u);
      assert.ok(Number(res.headers['content-length'] ?? res.body.length ?? 0) > 0 || (res.text ?? '').length > 0, `${u} is empty`);
    }
    const init = (await request(gw.url).get('/docs/init.js').expect(200)).text;
    assert.match(init, /url: '\/openapi\.json'/);
    assert.match(init, /validatorUrl: null/);
    await request(gw.url).get('/openapi.json').expect(200);
  });

  it('serves no other file of the package, and no path outside it', async () => {
    for (const u of ['/docs/assets/index.html', '/docs/assets/package.json', '/docs/assets/..%2Fpackage.json', '/docs/assets/swagger-ui.js.map']) {
      const res = await request(gw.url).get(u);
      assert.equal(res.status, 404, u);
    }
  });
});
