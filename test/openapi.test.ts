// Checks /openapi.json against the contract and against validateRequest itself, and docs/platform-codes.md against PLATFORM_CODES.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import Joi from 'joi';
import { SAFE_ID } from '../src/config.js';
import { CATALOG, GatewayError, toEnvelope, type ErrorCode } from '../src/errors.js';
import { mapPlatformCode, PLATFORM_CODES } from '../src/platform/codes.js';
import { joiToJsonSchema, type JsonSchema } from '../src/routes/joi-schema.js';
import { buildOpenApi } from '../src/routes/openapi.js';
import { FAMILIES } from '../src/families/index.js';
import { UPGRADE_ROUTES as upgradeRoutes } from './helpers/fixtures.js';
import { validateRequest } from '../src/routes/validate.js';
import { validationCases, validOnes } from './validation-cases.js';

// The generated document is plain JSON, walked freely here.
type Doc = any;

const doc: Doc = buildOpenApi(upgradeRoutes, FAMILIES, { title: 'iot-bff', version: '1.2.3' });

/** The contract's table (gateway-contract.md §3), written out independently of the route descriptions. */
const CONTRACT = [
  ['get', '/v1/apps/{appId}/packages', 200],
  ['get', '/v1/apps/{appId}/packages/{fileId}', 200],
  ['delete', '/v1/apps/{appId}/packages/{fileId}', 204],
  ['post', '/v1/apps/{appId}/upgrade-tasks/software', 201],
  ['post', '/v1/apps/{appId}/upgrade-tasks/firmware', 201],
  ['get', '/v1/apps/{appId}/upgrade-tasks', 200],
  ['get', '/v1/apps/{appId}/upgrade-tasks/{operationId}', 200],
  ['get', '/v1/apps/{appId}/upgrade-tasks/{operationId}/subtasks', 200],
] as const;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const operations = (): Array<[string, string, Doc]> =>
  Object.entries(doc.paths as Record<string, Doc>).flatMap(([path, item]) =>
    Object.entries(item as Record<string, Doc>)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, op]): [string, string, Doc] => [method, path, op]),
  );
const opOf = (routeId: string): Doc => {
  const found = operations().find(([, , op]) => op.operationId === routeId);
  assert.ok(found, `no operation ${routeId}`);
  return found[2];
};

/** Follows a local `$ref` (`#/components/…`). */
const deref = (node: Doc): Doc => {
  if (node?.$ref === undefined) return node;
  const parts = String(node.$ref).replace(/^#\//, '').split('/');
  return parts.reduce((at: Doc, key) => at?.[key], doc);
};

describe('openapi: the document', () => {
  it('is OpenAPI 3.1 with info, components and the API key security scheme', () => {
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    assert.deepEqual([doc.info.title, doc.info.version], ['iot-bff', '1.2.3']);
    assert.deepEqual(doc.components.securitySchemes.ApiKey, {
      type: 'apiKey',
      in: 'header',
      name: 'X-Api-Key',
      description: "The calling service's key.",
    });
    assert.deepEqual(doc.security, [{ ApiKey: [] }]);
    assert.ok(doc.components.schemas.ErrorEnvelope);
  });

  it('lists exactly the eight routes of the contract, with their methods and success statuses', () => {
    const listed = operations().map(([method, path, op]) => {
      const statuses = Object.keys(op.responses).filter((s) => /^2\d\d$/.test(s));
      assert.equal(statuses.length, 1, `${method} ${path} has one success status`);
      return [method, path, Number(statuses[0])];
    });
    assert.deepEqual(
      listed.map((x) => JSON.stringify(x)).sort(),
      CONTRACT.map((x) => JSON.stringify(x)).sort(),
    );
    for (const spec of upgradeRoutes) assert.ok(opOf(spec.id).responses[String(spec.successStatus)]);
    assert.equal(opOf('deletePackage').responses['204'].content, undefined, '204 has no body');
  });

  it('names, on every operation, the platform API it calls (x-platform-api, contract §9)', () => {
    for (const [method, path, op] of operations()) {
      const spec = upgradeRoutes.find((r) => r.id === op.operationId);
      assert.ok(spec, `${method} ${path}`);
      assert.deepEqual(op['x-platform-api'], { method: spec.platform.method, path: spec.platform.path });
      assert.ok(!String(op['x-platform-api'].path).includes('?'), 'no query in the platform path');
    }
    assert.deepEqual(opOf('listUpgradeSubtasks')['x-platform-api'], {
      method: 'GET',
      path: '/iodm/northbound/v1.5.0/operations/{operationId}/subOperations',
    });
  });

  it('never documents the platform-owned appId, accessAppId or ownerFlag as a query or body field', () => {
    const text = JSON.stringify(doc.paths);
    for (const [, , op] of operations()) {
      for (const p of op.parameters) if (p.in === 'query') assert.ok(!['appId', 'accessAppId', 'ownerFlag'].includes(p.name));
    }
    assert.ok(!/"(accessAppId|ownerFlag)"/.test(text));
  });

  it('documents every path parameter, appId included, with the safe-ID pattern', () => {
    assert.equal(SAFE_ID.source, '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$');
    for (const [, path, op] of operations()) {
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const documented = op.parameters.filter((p: Doc) => p.in === 'path');
      assert.deepEqual(documented.map((p: Doc) => p.name), inPath);
      for (const p of documented) {
        assert.equal(p.required, true);
        assert.deepEqual(p.schema, { type: 'string', pattern: SAFE_ID.source });
      }
    }
  });

  it('takes an Idempotency-Key header on the two POSTs only', () => {
    for (const [method, path, op] of operations()) {
      const has = op.parameters.some((p: Doc) => p.in === 'header' && p.name === 'Idempotency-Key');
      assert.equal(has, method === 'post', `${method} ${path}`);
    }
  });

  it('answers errors with the shared ErrorEnvelope, and documents the quota headers on 429', () => {
    for (const [method, path, op] of operations()) {
      for (const status of ['400', '401', '403', '404', '429', '502', '503', '504']) {
        const response = deref(op.responses[status]);
        assert.ok(response, `${method} ${path} documents ${status}`);
        assert.deepEqual(response.content['application/json'].schema, { $ref: '#/components/schemas/ErrorEnvelope' });
      }
      if (op.requestBody) assert.ok(deref(op.responses['413']), `${method} ${path} documents 413`);
      const limited = deref(op.responses['429']);
      for (const h of ['RateLimit', 'RateLimit-Policy', 'Retry-After']) assert.ok(deref(limited.headers[h]), `429 has ${h}`);
    }
  });

  it("gives the envelope's code the catalog's keys, and matches what toEnvelope produces", () => {
    const envelope = doc.components.schemas.ErrorEnvelope;
    assert.deepEqual(envelope.properties.error.properties.code.enum, Object.keys(CATALOG));
    // The document's own `#/components/…` references resolve against a copy of its components.
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ $id: 'https://example.invalid/openapi', components: doc.components });
    const validate = ajv.compile({ $ref: 'https://example.invalid/openapi#/components/schemas/ErrorEnvelope' });
    const full = toEnvelope(
      new GatewayError('VALIDATION_FAILED', {
        message: 'm',
        platformCode: '123023',
        details: [{ field: 'targets', message: 'x', platformCode: '123023' }],
      }),
      'req-1',
    );
    assert.ok(validate(full), JSON.stringify(validate.errors));
    assert.ok(validate(toEnvelope(new GatewayError('UPSTREAM_TIMEOUT'), 'req-2')));
    assert.equal(validate({ error: { ...full.error, code: 'NOT_A_CODE' } }), false);
    assert.equal(validate({ error: { ...full.error, details: [{ field: 'targets' }] } }), false, 'a detail needs a message');
  });

  it('lists the platform codes each route declares, and each field its own', () => {
    for (const spec of upgradeRoutes) assert.deepEqual(opOf(spec.id)['x-platform-error-codes'], spec.platformErrorCodes);
    const policy = opOf('createSoftwareUpgradeTask').requestBody.content['application/json'].schema.properties.policy;
    assert.deepEqual(policy.properties.startTime['x-platform-codes'], ['123026', '123032', '123033']);
    assert.deepEqual(policy.properties.endTime['x-platform-codes'], ['123026', '123034']);
  });

  it('refuses to render a Joi feature it does not know, rather than document it wrongly', () => {
    assert.throws(() => joiToJsonSchema(Joi.object({ when: Joi.date() })), /no JSON Schema rendering/);
    assert.throws(() => joiToJsonSchema(Joi.object({ s: Joi.string().email() })), /no JSON Schema rendering/);
    assert.throws(() => joiToJsonSchema(Joi.object({ a: Joi.string(), b: Joi.string() }).nand('a', 'b')), /no JSON Schema rendering/);
  });
});

// ---- The documented schemas against validateRequest ------------------------------------------------------

// Strict, except for `required` inside if/oneOf without a local `properties`, which is plain JSON Schema.
const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
ajv.addKeyword('x-platform-codes');
// Query values arrive as text; OpenAPI's parameter serialisation is what coercion stands for here.
const ajvQuery = new Ajv2020({ strict: true, strictRequired: false, allErrors: true, coerceTypes: true });
ajvQuery.addKeyword('x-platform-codes');

const compiled = new Map<string, { query: ValidateFunction; body?: ValidateFunction; path: Doc[] }>();
function documented(routeId: string) {
  let entry = compiled.get(routeId);
  if (entry === undefined) {
    const op = opOf(routeId);
    const queryParams = op.parameters.filter((p: Doc) => p.in === 'query');
    const query = ajvQuery.compile({
      type: 'object',
      properties: Object.fromEntries(queryParams.map((p: Doc) => [p.name, p.schema])),
      required: queryParams.filter((p: Doc) => p.required).map((p: Doc) => p.name),
      additionalProperties: false,
    });
    const bodySchema: JsonSchema | undefined = op.requestBody?.content['application/json'].schema;
    entry = {
      query,
      ...(bodySchema ? { body: ajv.compile(bodySchema) } : {}),
      path: op.parameters.filter((p: Doc) => p.in === 'path' && p.name !== 'appId'),
    };
    compiled.set(routeId, entry);
  }
  return entry;
}

/** Whether a request satisfies what /openapi.json says about it. */
type Request = { route: string; params?: Record<string, string>; query?: Record<string, string>; body?: unknown };
function documentedAccepts(c: Request): boolean {
  const d = documented(c.route);
  for (const p of d.path) {
    const value = c.params?.[p.name];
    if (value === undefined || !new RegExp(p.schema.pattern, 'u').test(value)) return false;
  }
  if (!d.query(structuredClone(c.query ?? {}))) return false;
  if (d.body === undefined) return c.body === undefined;
  return c.body !== undefined && d.body(c.body);
}

describe('openapi: documented schemas agree with validateRequest', () => {
  it('compiles every schema as JSON Schema 2020-12 in strict mode', () => {
    for (const spec of upgradeRoutes) assert.doesNotThrow(() => documented(spec.id), spec.id);
  });

  for (const c of validationCases) {
    const expected = c.beyondJsonSchema ? 'accepts' : 'refuses';
    it(`${expected} what the gateway refuses: ${c.route}: ${c.name}`, () => {
      const spec = upgradeRoutes.find((r) => r.id === c.route);
      assert.ok(spec);
      assert.throws(() => validateRequest(spec, { params: c.params ?? {}, query: c.query ?? {}, body: c.body }));
      assert.equal(documentedAccepts(c), c.beyondJsonSchema === true);
    });
  }

  for (const c of validOnes()) {
    it(`accepts what the gateway accepts: ${c.route}: ${c.name}`, () => {
      assert.equal(documentedAccepts(c), true);
    });
  }

  it('says the structural facts plainly', () => {
    const body = opOf('createFirmwareUpgradeTask').requestBody.content['application/json'].schema;
    assert.deepEqual(body.required, ['fileId', 'targets']);
    assert.equal(body.additionalProperties, false);
    assert.equal(body.properties.targets.properties.devices.maxItems, 256);
    assert.equal(body.properties.targets.properties.deviceGroups.maxItems, 256);
    assert.deepEqual(body.properties.targets.allOf[1], { oneOf: [{ required: ['deviceGroups'] }, { required: ['devices'] }] });
    assert.equal(body.properties.policy.properties.retryTimes.maximum, 5);
    assert.equal(body.properties.fileId.maxLength, 256);
    for (const id of ['listPackages', 'listUpgradeTasks', 'listUpgradeSubtasks']) {
      const params = Object.fromEntries(opOf(id).parameters.map((p: Doc) => [p.name, p.schema]));
      assert.deepEqual([params.pageSize.minimum, params.pageSize.maximum, params.pageSize.type], [1, 100, 'integer']);
      assert.equal(params.pageNo.minimum, 0);
    }
  });
});

// ---- Platform codes ---------------------------------------------------------------------------------------

interface DocRow {
  platformCode: string;
  code: string;
  status: number;
  retryable: boolean;
}

function documentedCodes(): DocRow[] {
  const text = readFileSync(new URL('../docs/platform-codes.md', import.meta.url), 'utf8');
  const section = text.split(/^## /m).find((s) => s.startsWith('By platform code'));
  assert.ok(section, 'docs/platform-codes.md has a "By platform code" section');
  return section
    .split('\n')
    .filter((line) => /^\| \d+ \|/.test(line))
    .map((line) => {
      const cells = line.split('|').map((c) => c.trim());
      // | code | meaning | source | `gateway code` | HTTP | retryable |
      const [, platformCode, , , code, status, retryable] = cells;
      return {
        platformCode: platformCode as string,
        code: (code ?? '').replace(/`/g, ''),
        status: Number(status),
        retryable: retryable === 'yes',
      };
    });
}

describe('platform codes: docs/platform-codes.md and PLATFORM_CODES', () => {
  it('list the same codes, each once', () => {
    const rows = documentedCodes();
    const codes = rows.map((r) => r.platformCode);
    assert.equal(new Set(codes).size, codes.length, 'no code documented twice');
    assert.deepEqual([...codes].sort(), Object.keys(PLATFORM_CODES).sort());
  });

  it('agree on the gateway code, HTTP status and retryable of every code', () => {
    for (const row of documentedCodes()) {
      const mapped = mapPlatformCode(row.platformCode);
      assert.deepEqual(
        { code: mapped.code, status: CATALOG[mapped.code].status, retryable: mapped.retryable },
        { code: row.code, status: row.status, retryable: row.retryable },
        row.platformCode,
      );
    }
  });

  it('follow the mapping of the issue', () => {
    const expect = (codes: string[], code: ErrorCode, retryable: boolean) => {
      for (const c of codes) assert.deepEqual([c, mapPlatformCode(c).code, mapPlatformCode(c).retryable], [c, code, retryable]);
    };
    expect(['123002', '100403', '100418'], 'NOT_FOUND', false);
    expect(
      [
        ...['120015', '102202', '50400', '100022', '100405', '100216', '123016', '123019', '123020', '123021'],
        ...['123022', '123023', '123024', '123025', '123026', '123028', '123029', '123032', '123033', '123034'],
      ],
      'VALIDATION_FAILED',
      false,
    );
    expect(['1010009'], 'RATE_LIMITED', true);
    expect(['1010005', '100208', '100247', '100025'], 'UPSTREAM_AUTH_FAILED', false);
    expect(['100001', '50252', '100023', '100220', '101016'], 'UPSTREAM_ERROR', true);
    assert.equal(CATALOG[mapPlatformCode('1010009').code].status, 429);
  });

  it('answer an unknown code, even a prototype key, with UPSTREAM_ERROR', () => {
    for (const unknown of ['999999', '', 'constructor', '__proto__', 'toString']) {
      const mapped = mapPlatformCode(unknown);
      assert.equal(mapped.code, 'UPSTREAM_ERROR', unknown);
      assert.equal(mapped.retryable, true);
      assert.equal(typeof mapped.message, 'string');
    }
  });

  it('know every code a route declares or a schema can answer', () => {
    for (const spec of upgradeRoutes) {
      for (const code of spec.platformErrorCodes ?? []) assert.ok(code in PLATFORM_CODES, `${spec.id}: ${code}`);
    }
    for (const c of validationCases) {
      for (const code of c.platformCodes) assert.equal(mapPlatformCode(code).code, 'VALIDATION_FAILED', code);
    }
  });
});
