// The simulator's version packages, tested black-box over real HTTP(S).
import { strict as assert } from 'node:assert';
import type { Test } from 'supertest';
import { useSimulator, IODM } from './helpers/simulator.js';

describe('simulator: version packages', () => {
  const { api, login, authed, expectError } = useSimulator();

  let token: string;
  beforeEach(async () => {
    token = (await login()).accessToken;
  });
  const get = (path: string, appToken = token, appId = 'demo-app'): Test => authed(api().get(path), appToken, appId);

  it('lists seeded packages of both types with the documented fields', async () => {
    const res = await get(`${IODM}/category`).expect(200);
    assert.equal(res.body.pageNo, 0);
    assert.equal(res.body.pageSize, 10);
    assert.equal(res.body.totalCount, 5);
    assert.equal(res.body.data.length, 5);
    const types = new Set(res.body.data.map((p: { fileType: string }) => p.fileType));
    assert.deepEqual([...types].sort(), ['firmwarePackage', 'softwarePackage']);
    for (const p of res.body.data as Array<Record<string, string>>) {
      assert.deepEqual(Object.keys(p).sort(), [
        'date',
        'description',
        'deviceType',
        'fileId',
        'fileType',
        'manufacturerName',
        'model',
        'name',
        'protocolType',
        'uploadTime',
        'version',
      ]);
      assert.match(p.fileId ?? '', /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/);
      assert.match(p.uploadTime ?? '', /^\d{8}T\d{6}Z$/);
      assert.match(p.date ?? '', /^\d{8}T\d{6}Z$/);
    }
  });

  it('pages and filters the list', async () => {
    const all = (await get(`${IODM}/category`).expect(200)).body.data as Array<{ fileId: string }>;
    const page1 = await get(`${IODM}/category?pageNo=1&pageSize=2`).expect(200);
    assert.deepEqual(
      page1.body.data.map((p: { fileId: string }) => p.fileId),
      all.slice(2, 4).map((p) => p.fileId),
    );
    assert.equal(page1.body.totalCount, 5);
    assert.equal(page1.body.pageNo, 1);
    assert.equal(page1.body.pageSize, 2);
    assert.equal((await get(`${IODM}/category?pageNo=9`).expect(200)).body.data.length, 0);
    const fw = await get(`${IODM}/category?fileType=firmwarePackage`).expect(200);
    assert.equal(fw.body.totalCount, 2);
    assert.ok(fw.body.data.every((p: { fileType: string }) => p.fileType === 'firmwarePackage'));
    const meters = await get(`${IODM}/category?deviceType=WaterMeter&fileType=softwarePackage&version=V1.1.0`);
    assert.deepEqual(
      meters.body.data.map((p: { fileId: string }) => p.fileId),
      ['sw-pkg-0002'],
    );
  });

  const pagingCases: Array<[string, number, string]> = [
    ['pageSize=0', 400, '123029'],
    ['pageSize=101', 400, '123029'],
    ['pageNo=-1', 400, '123029'],
    ['pageNo=abc', 400, '120015'],
    ['pageSize=1.5', 400, '120015'],
    ['pageNo=1&pageNo=2', 400, '120015'],
    ['fileType=documentPackage', 400, '120015'],
  ];
  for (const [query, status, code] of pagingCases) {
    it(`answers ?${query} with ${status} ${code}`, async () => {
      expectError(await get(`${IODM}/category?${query}`), status, code);
    });
  }

  it('gets and deletes a package, 404 123002 when unknown, per app', async () => {
    const one = await get(`${IODM}/category/fw-pkg-0001`).expect(200);
    assert.equal(one.body.fileId, 'fw-pkg-0001');
    assert.equal(one.body.fileType, 'firmwarePackage');
    const missing = await get(`${IODM}/category/nope-0001`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error_code: '123002', error_desc: 'Device or package file not found.' });

    const del = await authed(api().delete(`${IODM}/category/fw-pkg-0001`), token).expect(200);
    assert.equal(del.text, '');
    expectError(await get(`${IODM}/category/fw-pkg-0001`), 404, '123002');
    expectError(await authed(api().delete(`${IODM}/category/fw-pkg-0001`), token), 404, '123002');
    assert.equal((await get(`${IODM}/category`).expect(200)).body.totalCount, 4);

    const other = (await login('demo-app-2', 'demo-secret-2')).accessToken;
    await get(`${IODM}/category/fw-pkg-0001`, other, 'demo-app-2').expect(200);
    await api().post('/__control/reset').expect(200);
    token = (await login()).accessToken;
    await get(`${IODM}/category/fw-pkg-0001`).expect(200);
  });
});
