// Issue 17, finding 5 ("unbounded metric labels and echoes"): platform codes outside the catalog are counted as `other`, odd statuses and errnos too, and `platformCode` is echoed only when it looks like one.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import request from 'supertest';
import { sanePlatformCode } from '../src/platform/client.js';
import { assertEnvelope, closeAll, gatewayEnv, KEYS, startGateway, startRedis, type TestGateway, type TestRedis } from './helpers/fixtures.js';
import { json, startHostilePlatform, type HostilePlatform } from './helpers/hostile-platform.js';

const LIST = '/v1/apps/app-a/packages?fileType=softwarePackage';

describe('issue 17 finding 5: bounded labels and echoes', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let hostile: HostilePlatform;
  let gw: TestGateway;

  before(async () => {
    redis = await startRedis();
    hostile = await startHostilePlatform();
    gw = await startGateway(gatewayEnv(hostile.url, redis.url, { BREAKER_FAILURES: '1000' }));
  });
  after(() => closeAll(gw, hostile, redis));

  const seriesOf = async (metric: string): Promise<string[]> =>
    (await gw.gateway.metrics.registry.metrics()).split('\n').filter((l) => l.startsWith(`${metric}{`));

  it('regression: 40 unknown platform codes make one `other` series, not 40', async () => {
    hostile.answer((_req, res, n) => json(res, 200, { error_code: String(9_000_000 + n), error_desc: 'nope' }));
    for (let i = 0; i < 40; i++) assertEnvelope(await request(gw.url).get(LIST).set('X-Api-Key', KEYS.all), 502, 'UPSTREAM_ERROR');
    const api = (await seriesOf('iotbff_platform_calls_total')).filter((l) => l.includes('kind="api"'));
    assert.deepEqual(api.map((l) => l.replace(/ \d+$/, '')), ['iotbff_platform_calls_total{app="app-a",kind="api",outcome="other"}']);
  });

  it('a catalog code keeps its own label and is echoed', async () => {
    hostile.answer((_req, res) => json(res, 200, { error_code: '100403', error_desc: 'no device' }));
    const e = assertEnvelope(await request(gw.url).get(LIST).set('X-Api-Key', KEYS.all), 404, 'NOT_FOUND');
    assert.equal(e.platformCode, '100403');
    assert.ok((await seriesOf('iotbff_platform_calls_total')).some((l) => l.includes('outcome="100403"')));
  });

  it('regression: a 4 KB error_code is neither a label value nor echoed as platformCode', async () => {
    const huge = '7'.repeat(4096);
    hostile.answer((_req, res) => json(res, 200, { error_code: huge }));
    const res = await request(gw.url).get(LIST).set('X-Api-Key', KEYS.all);
    const e = assertEnvelope(res, 502, 'UPSTREAM_ERROR');
    assert.equal(e.platformCode, undefined);
    assert.ok(res.text.length < 1000, `error body of ${res.text.length} bytes`);
    assert.ok(!(await gw.gateway.metrics.registry.metrics()).includes('7777777777777'));
  });

  it('odd HTTP statuses and unknown codes of other shapes are counted in fixed sets', async () => {
    const answers = [
      (res: import('node:http').ServerResponse) => json(res, 599, {}),
      (res: import('node:http').ServerResponse) => json(res, 299, { error_code: 'abc\r\ndef' }),
      (res: import('node:http').ServerResponse) => json(res, 200, { error_code: -5 }),
      (res: import('node:http').ServerResponse) => json(res, 200, { error_code: 1.5 }),
    ];
    for (const a of answers) {
      hostile.answer((_req, res) => a(res));
      const r = await request(gw.url).get(LIST).set('X-Api-Key', KEYS.all);
      assert.ok([502, 503].includes(r.status), String(r.status));
      assert.equal(r.body.error.platformCode, undefined);
    }
    const outcomes = new Set((await seriesOf('iotbff_platform_calls_total')).map((l) => /outcome="([^"]*)"/.exec(l)?.[1]));
    for (const o of outcomes) assert.match(String(o), /^(ok|other|bad-body|too-large|timeout|network|\d{1,10}|E[A-Z_]+|[A-Z_]+)$/);
    assert.ok(!outcomes.has('599'), '599 is not a registered status: counted as other');
  });

  it('sanePlatformCode keeps digits (at most 10) and nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(null)), (raw) => {
        const code = sanePlatformCode(raw);
        if (code !== undefined) assert.match(code, /^\d{1,10}$/);
      }),
    );
    assert.equal(sanePlatformCode('1010005'), '1010005');
    assert.equal(sanePlatformCode(100208), '100208');
    assert.equal(sanePlatformCode('12345678901'), undefined);
    assert.equal(sanePlatformCode('12a'), undefined);
  });
});
