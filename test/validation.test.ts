// Runs the validation table against validateRequest: every refusal carries the platform's codes, every valid request passes.
import assert from 'node:assert/strict';
import { GatewayError } from '../src/errors.js';
import { pathParams, type RouteSpec } from '../src/routes/types.js';
import { UPGRADE_ROUTES as upgradeRoutes } from './helpers/fixtures.js';
import { MAX_DETAILS, validateRequest } from '../src/routes/validate.js';
import { compactUtc, validationCases, validOnes, type ValidationCase } from './validation-cases.js';

const spec = (id: string): RouteSpec => {
  const found = upgradeRoutes.find((r) => r.id === id);
  assert.ok(found, `no route ${id}`);
  return found;
};

function refusal(run: () => unknown): GatewayError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
    return err;
  }
  assert.fail('the request was accepted');
}

const run = (c: { route: string; params?: Record<string, string>; query?: Record<string, string>; body?: unknown }, now?: Date) =>
  validateRequest(spec(c.route), { params: c.params ?? {}, query: c.query ?? {}, body: c.body }, now);

const sorted = (xs: readonly string[]) => [...xs].sort();

describe('validateRequest: the validation table', () => {
  for (const c of validationCases) {
    it(`refuses ${c.route}: ${c.name}`, () => {
      const err = refusal(() => run(c));
      assert.equal(err.status, 400);
      assert.equal(err.code, 'VALIDATION_FAILED');
      assert.equal(err.retryable, false);
      const details = err.details ?? [];
      assert.ok(details.length > 0, 'details list the problems');
      const codes = details.flatMap((d) => (d.platformCode === undefined ? [] : [d.platformCode]));
      assert.deepEqual(sorted(codes), sorted(c.platformCodes));
      if (c.fields) assert.deepEqual(sorted(details.map((d) => d.field)), sorted(c.fields));
      const first = details[0];
      assert.ok(first);
      assert.equal(err.platformCode, first.platformCode);
      assert.ok(err.message.startsWith(`${first.field}: ${first.message}`), err.message);
      // Every code the gateway answers is one the route declares, so OpenAPI and docs list it.
      for (const code of codes) assert.ok(spec(c.route).platformErrorCodes?.includes(code), `${code} not declared by ${c.route}`);
    });
  }

  it('covers every rule of the issue at least once', () => {
    const seen = new Set(validationCases.flatMap((c) => c.platformCodes));
    const rules = [
      ...['120015', '123019', '123020', '123021', '123022', '123023', '123024'],
      ...['123025', '123026', '123028', '123029', '123032', '123033', '123034'],
    ];
    assert.deepEqual(rules.filter((code) => !seen.has(code)), []);
    assert.ok(validationCases.some((c) => c.platformCodes.length >= 3), 'a case with several failures at once');
    for (const route of upgradeRoutes) assert.ok(validationCases.some((c) => c.route === route.id), `no case for ${route.id}`);
  });
});

describe('validateRequest: valid requests', () => {
  for (const c of validOnes()) {
    it(`lets through ${c.route}: ${c.name}`, () => {
      const out = run(c);
      assert.deepEqual(out.params, c.params ?? {});
      assert.deepEqual(out.body, c.body);
    });
  }

  it('converts query numbers from text and leaves the rest as given', () => {
    const out = run({ route: 'listPackages', query: { pageNo: '3', pageSize: '25', version: '1.0' } });
    assert.deepEqual(out.query, { pageNo: 3, pageSize: 25, version: '1.0' });
  });

  it('checks every captured path value, appId included, and returns them', () => {
    const out = validateRequest(spec('getPackage'), { params: { appId: 'app-1', fileId: 'f1' }, query: {}, body: undefined });
    assert.deepEqual(out.params, { appId: 'app-1', fileId: 'f1' });
    const err = refusal(() => validateRequest(spec('getPackage'), { params: { appId: '../x', fileId: 'f1' }, query: {}, body: undefined }));
    assert.deepEqual(err.details?.map((d) => d.field), ['appId']);
  });

  it('refuses a missing path parameter', () => {
    const err = refusal(() => validateRequest(spec('getUpgradeTask'), { params: {}, query: {}, body: undefined }));
    assert.deepEqual(err.details?.map((d) => d.field), ['operationId']);
  });

  it('refuses a body on a route that takes none, but not an empty one', () => {
    const err = refusal(() => run({ route: 'deletePackage', params: { fileId: 'f1' }, body: { force: true } }));
    assert.deepEqual(err.details?.map((d) => d.field), ['body']);
    assert.doesNotThrow(() => run({ route: 'deletePackage', params: { fileId: 'f1' }, body: {} }));
  });
});

describe('validateRequest: time rules against a given now', () => {
  const now = new Date('2030-06-15T12:00:00.000Z');
  const at = (seconds: number) => compactUtc(new Date(now.getTime() + seconds * 1000));
  const window = (start: number, end: number) => ({
    route: 'createSoftwareUpgradeTask',
    body: { fileId: 'pkg-1', targets: { devices: ['d1'] }, policy: { executeType: 'custom', startTime: at(start), endTime: at(end) } },
  });
  const codesOf = (c: ReturnType<typeof window>) => refusal(() => run(c, now)).details?.map((d) => d.platformCode);

  it('accepts a start at exactly now, and refuses one second earlier (no slack)', () => {
    assert.doesNotThrow(() => run(window(0, 3600), now));
    assert.deepEqual(codesOf(window(-1, 3600)), ['123033']);
  });

  it('needs the end more than 5 minutes after the start', () => {
    assert.deepEqual(codesOf(window(60, 60 + 300)), ['123034']);
    assert.doesNotThrow(() => run(window(60, 60 + 301), now));
  });

  it('reports a start after the end as 123032 alone, not also as a short window', () => {
    assert.deepEqual(codesOf(window(600, 300)), ['123032']);
  });

  it('judges order only for a custom window', () => {
    const c = window(-3600, -3590);
    (c.body.policy as { executeType: string }).executeType = 'now';
    assert.doesNotThrow(() => run(c, now));
  });
});

describe('validateRequest: the error itself', () => {
  it('answers the contract example: both target lists', () => {
    const err = refusal(() =>
      run({
        route: 'createSoftwareUpgradeTask',
        body: { fileId: 'p', targets: { devices: ['d'], deviceGroups: ['g'], deviceType: 't', model: 'm', manufacturerName: 'x' } },
      }),
    );
    assert.equal(err.message, 'targets: deviceGroups and devices cannot both be given');
    assert.equal(err.platformCode, '123023');
    assert.deepEqual(err.details, [{ field: 'targets', message: 'deviceGroups and devices cannot both be given', platformCode: '123023' }]);
  });

  it('puts failures with a platform code first and counts the rest in the summary', () => {
    const err = refusal(() => run({ route: 'listPackages', query: { zzz: '1', pageSize: '500' } }));
    assert.deepEqual(err.details?.map((d) => d.field), ['pageSize', 'zzz']);
    assert.equal(err.platformCode, '123029');
    assert.equal(err.message, 'pageSize: must be at most 100 (and 1 more problem)');
  });

  it('lists at most MAX_DETAILS problems, and counts them all in the message', () => {
    const err = refusal(() =>
      run({ route: 'createSoftwareUpgradeTask', body: { fileId: 'p', targets: { devices: Array.from({ length: 250 }, (_, i) => i) } } }),
    );
    assert.equal(err.details?.length, MAX_DETAILS);
    assert.match(err.message, /^targets\.devices\[0\]: must be a string \(and 249 more problems\)$/);
  });

  it('has no top-level platformCode when no failure has one', () => {
    const err = refusal(() => run({ route: 'getPackage', params: { fileId: '..' } }));
    assert.equal(err.platformCode, undefined);
  });

  it('never repeats what the caller sent', () => {
    const marker = 'ZQXJ-marker';
    const c: ValidationCase = {
      name: 'marker',
      route: 'createSoftwareUpgradeTask',
      params: { bogus: `${marker}/..` },
      query: { [`${marker}`]: marker },
      body: {
        fileId: { [marker]: marker },
        targets: { devices: [marker.repeat(30)], deviceGroups: [marker] },
        policy: { executeType: marker, startTime: marker, endTime: `${marker}Z`, retryType: marker, retryTimes: marker },
      },
      platformCodes: [],
    };
    const err = refusal(() => run(c));
    const texts = [err.message, ...(err.details ?? []).map((d) => d.message)];
    for (const text of texts) assert.ok(!text.includes(marker), `echoed: ${text}`);
    // Field names of unknown keys are shown (so the caller finds the typo), but never at any length.
    const long = refusal(() => run({ route: 'listPackages', query: { ['k'.repeat(5000)]: '1' } }));
    assert.ok((long.details?.[0]?.field.length ?? Infinity) <= 65);
  });
});

describe('upgradeRoutes: the descriptions', () => {
  /** platform-api.md §3, written out independently of the descriptions. */
  const PLATFORM: Record<string, string> = {
    listPackages: 'GET /iodm/northbound/v1.5.0/category',
    getPackage: 'GET /iodm/northbound/v1.5.0/category/{fileId}',
    deletePackage: 'DELETE /iodm/northbound/v1.5.0/category/{fileId}',
    createSoftwareUpgradeTask: 'POST /iodm/northbound/v1.5.0/operations/softwareUpgrade',
    createFirmwareUpgradeTask: 'POST /iodm/northbound/v1.5.0/operations/firmwareUpgrade',
    listUpgradeTasks: 'GET /iodm/northbound/v1.5.0/operations',
    getUpgradeTask: 'GET /iodm/northbound/v1.5.0/operations/{operationId}',
    listUpgradeSubtasks: 'GET /iodm/northbound/v1.5.0/operations/{operationId}/subOperations',
  };

  it('call the platform APIs of platform-api.md §3, with the same path parameters', () => {
    assert.deepEqual(
      Object.fromEntries(upgradeRoutes.map((r) => [r.id, `${r.platform.method} ${r.platform.path}`])),
      PLATFORM,
    );
    for (const r of upgradeRoutes) assert.deepEqual(pathParams(r.platform.path), pathParams(r.path), r.id);
  });

  it('take an Idempotency-Key, a body and a shaped response on the two POSTs only', () => {
    for (const r of upgradeRoutes) {
      const post = r.method === 'POST';
      assert.equal(r.idempotencyKey === true, post, r.id);
      assert.equal(r.body !== undefined, post, r.id);
      assert.equal(r.shapeResponse !== undefined, post, r.id);
    }
  });

  it('answer a created task with exactly {operationId}', () => {
    for (const id of ['createSoftwareUpgradeTask', 'createFirmwareUpgradeTask']) {
      const shape = spec(id).shapeResponse;
      assert.ok(shape);
      assert.deepEqual(shape({ operationId: 'op-9', status: 'wait', extra: { a: 1 } }), { operationId: 'op-9' });
      for (const bad of [{}, null, 'op-9', { operationId: '' }, { operationId: {} }]) {
        assert.throws(() => shape(bad), (err: unknown) => err instanceof GatewayError && err.code === 'UPSTREAM_ERROR');
      }
    }
  });
});
