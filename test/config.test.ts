// Configuration: one parse at start, environment over file, every problem on its own readable line, no secret echoed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, DERIVED, ENV_VARS, SETTINGS, configurationTable, loadConfig, type Config } from '../src/config.js';
import { ROOT } from './helpers/fixtures.js';

const SECRET = 'very-secret-value-1234567890';
const base = {
  PLATFORM_URL: 'https://iot.example.com:8743/',
  PLATFORM_APPS: JSON.stringify([{ appId: 'appA', secret: SECRET }]),
  GATEWAY_CLIENTS: JSON.stringify([{ name: 'ops', key: 'k'.repeat(32), apps: ['*'] }]),
};
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'iotbff-config-'));

function problemsOf(env: Record<string, string>, cwd = tmp()): string[] {
  try {
    loadConfig(env, cwd);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('config', () => {
  it('parses a minimal configuration, applies the defaults, and freezes it', () => {
    const c = loadConfig(base, tmp());
    assert.equal(c.port, 8080);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.platformUrl, 'https://iot.example.com:8743');
    assert.equal(c.platformTimeoutMs, 10_000);
    assert.equal(c.bodyLimit, '256kb');
    assert.equal(c.replicas, 1);
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(c.apps.get('appA')?.ratePerMinute, 100);
    assert.equal(c.clients[0]?.keySha256.length, 32);
    assert.ok(Object.isFrozen(c));
    assert.throws(() => {
      (c as { port: number }).port = 1;
    });
  });

  it('selects the in-process store with REDIS_URL=memory', () => {
    assert.equal(loadConfig({ ...base, REDIS_URL: 'memory' }, tmp()).redisUrl, null);
  });

  it('reports every missing variable on its own line', () => {
    const problems = problemsOf({});
    assert.deepEqual(
      problems.map((p) => p.split(':')[0]).sort(),
      ['GATEWAY_CLIENTS', 'PLATFORM_APPS', 'PLATFORM_URL'],
    );
    for (const p of problems) assert.match(p, /^[A-Z_]+: .*required/);
  });

  it('names the variable and the field of each invalid value, without echoing values', () => {
    const problems = problemsOf({
      ...base,
      PORT: 'eighty',
      PLATFORM_URL: 'ftp://x',
      PLATFORM_APPS: JSON.stringify([{ appId: 'bad/app', secret: SECRET, ratePerMinute: 0 }]),
      GATEWAY_CLIENTS: '{not json ' + SECRET,
    });
    const text = problems.join('\n');
    assert.match(text, /^PORT: /m);
    assert.match(text, /^PLATFORM_URL: /m);
    assert.match(text, /^PLATFORM_APPS\[0\]\.appId: /m);
    assert.match(text, /^PLATFORM_APPS\[0\]\.ratePerMinute: /m);
    assert.match(text, /^GATEWAY_CLIENTS: is not valid JSON$/m);
    assert.ok(!text.includes(SECRET), 'a secret was echoed');
  });

  it('regression: a malformed TOKEN_ENCRYPTION_KEY is reported without being printed (review finding)', () => {
    const key = 'SECRETSECRET'.repeat(6);
    const problems = problemsOf({ ...base, TOKEN_ENCRYPTION_KEY: key, QUOTA_HOLD_MS: '0' });
    const text = problems.join('\n');
    assert.match(text, /^TOKEN_ENCRYPTION_KEY: must be keys of 64 hex characters/m);
    assert.match(text, /^QUOTA_HOLD_MS: /m);
    assert.ok(!text.includes('SECRETSECRET'), text);
  });

  it('takes several comma-separated token encryption keys (the first seals)', () => {
    const c = loadConfig({ ...base, TOKEN_ENCRYPTION_KEY: `${'ab'.repeat(32)},${'cd'.repeat(32)}` }, tmp());
    assert.deepEqual(c.tokenEncryptionKeys.map((k) => k.toString('hex')), ['ab'.repeat(32), 'cd'.repeat(32)]);
  });

  it('rejects clients naming unknown apps, duplicate keys, and a "*" mixed with names', () => {
    const key = 'k'.repeat(32);
    const problems = problemsOf({
      ...base,
      GATEWAY_CLIENTS: JSON.stringify([
        { name: 'a', key, apps: ['nope'] },
        { name: 'b', key, apps: ['*', 'appA'] },
      ]),
    });
    const text = problems.join('\n');
    assert.match(text, /GATEWAY_CLIENTS\[0\]\.apps: names an app that is not configured: nope/);
    assert.match(text, /GATEWAY_CLIENTS\[1\]: uses the same key/);
    assert.match(text, /GATEWAY_CLIENTS\[1\]\.apps: "\*" must stand alone/);
  });

  it('accepts a client given by keySha256 instead of key', () => {
    const c = loadConfig(
      { ...base, GATEWAY_CLIENTS: JSON.stringify([{ name: 'x', keySha256: 'ab'.repeat(32), apps: ['appA'] }]) },
      tmp(),
    );
    assert.equal(c.clients[0]?.keySha256.toString('hex'), 'ab'.repeat(32));
  });

  it('reads config/gateway.json, and the environment wins over it', () => {
    const dir = tmp();
    mkdirSync(path.join(dir, 'config'));
    writeFileSync(
      path.join(dir, 'config', 'gateway.json'),
      JSON.stringify({ ...base, PLATFORM_APPS: JSON.parse(base.PLATFORM_APPS), PORT: 9000, BODY_LIMIT: '1mb' }),
    );
    const c = loadConfig({ PORT: '9100' }, dir);
    assert.equal(c.port, 9100);
    assert.equal(c.bodyLimit, '1mb');
    assert.equal(c.apps.size, 1);
  });

  it('reads secrets from *_FILE variables (Docker secrets)', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'apps.json'), base.PLATFORM_APPS);
    const c = loadConfig({ ...base, PLATFORM_APPS: '', PLATFORM_APPS_FILE: 'apps.json' }, dir);
    assert.equal(c.apps.get('appA')?.secret, SECRET);
    assert.match(problemsOf({ ...base, PLATFORM_APPS: '', PLATFORM_APPS_FILE: 'missing.json' }, dir).join(), /PLATFORM_APPS_FILE: cannot read missing.json \(ENOENT\)/);
  });

  it('reads the platform TLS files, and says which one it cannot read', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'ca.pem'), 'PEM');
    const c = loadConfig({ ...base, PLATFORM_CA_FILE: 'ca.pem' }, dir);
    assert.equal(c.platformTls.ca?.toString(), 'PEM');
    assert.match(problemsOf({ ...base, PLATFORM_CERT_FILE: 'c.pem', PLATFORM_KEY_FILE: 'k.pem' }, dir).join('\n'), /PLATFORM_CERT_FILE: cannot read/);
    assert.match(problemsOf({ ...base, PLATFORM_CERT_FILE: 'c.pem' }, dir).join('\n'), /PLATFORM_KEY_FILE/);
  });

  it('npm start without configuration exits non-zero with one readable line per problem and no stack trace', function () {
    this.timeout(20_000);
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^config: PLATFORM_URL: is required$/m);
    assert.match(r.stderr, /^config: PLATFORM_APPS: is required$/m);
    assert.match(r.stderr, /^config: GATEWAY_CLIENTS: is required$/m);
    assert.doesNotMatch(r.stderr + r.stdout, /\n\s+at /, 'a stack trace was printed');
  });
});

describe('config: one table of settings', () => {
  const settings = Object.entries(SETTINGS);

  it('declares every variable once, each with a doc line and either a default, required, or a shown default', () => {
    const envs = settings.map(([, s]) => s.env);
    assert.equal(new Set(envs).size, envs.length, 'a variable declared twice');
    assert.deepEqual([...ENV_VARS], envs);
    for (const [key, s] of settings) {
      assert.match(s.env, /^[A-Z][A-Z0-9_]*$/, key);
      assert.ok(s.doc.trim().length > 0 && !s.doc.includes('|') && !s.doc.includes('\n'), `${s.env}: one Markdown line`);
      const described = ('default' in s && s.default !== undefined) || ('required' in s && s.required) || ('shown' in s && s.shown);
      assert.ok(described, `${s.env}: says what happens when it is not set`);
    }
  });

  it('keeps the variables the deployment files and the old list used (no name changed)', () => {
    for (const name of [
      'CONFIG_FILE', 'PORT', 'HOST', 'PLATFORM_URL', 'PLATFORM_APPS', 'PLATFORM_APPS_FILE', 'GATEWAY_CLIENTS',
      'GATEWAY_CLIENTS_FILE', 'REDIS_URL', 'REDIS_COMMAND_TIMEOUT_MS', 'REDIS_KEY_PREFIX', 'PLATFORM_CA_FILE',
      'PLATFORM_CERT_FILE', 'PLATFORM_KEY_FILE', 'PLATFORM_TIMEOUT_MS', 'PLATFORM_KEEPALIVE_MS', 'BODY_LIMIT',
      'GATEWAY_REPLICAS', 'LOG_LEVEL', 'QUOTA_WINDOW_MS', 'QUOTA_HOLD_MS', 'TOKEN_LOCK_TTL_MS', 'TOKEN_ENCRYPTION_KEY',
      'IDEMPOTENCY_TTL_SEC', 'BREAKER_FAILURES', 'BREAKER_COOLDOWN_MS', 'SHUTDOWN_TIMEOUT_MS',
    ]) {
      assert.ok(ENV_VARS.includes(name), name);
    }
  });

  it("the README's configuration table is the one generated from the settings (add a setting: document it)", () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const m = /<!-- settings:begin[^>]*-->\n([\s\S]*?)\n<!-- settings:end -->/.exec(readme);
    assert.ok(m, 'README.md has the <!-- settings:begin --> … <!-- settings:end --> section');
    const expected = configurationTable();
    assert.equal(m[1], expected, `README.md's configuration table is out of date; paste this between the markers:\n\n${expected}\n`);
    for (const name of ENV_VARS) assert.ok(m[1]!.includes(`| \`${name}\` |`), `${name} has a row`);
  });

  it('applies every default of the table, and sets each value from its variable', () => {
    const c = loadConfig(base, tmp());
    const byKey = c as unknown as Record<string, unknown>;
    for (const [key, s] of settings) {
      if (s.kind === 'value' && 'default' in s && s.default !== undefined) {
        const expected = 'to' in s && s.to ? (s.to as (v: unknown) => unknown)(s.default) : s.default;
        assert.equal(byKey[key], expected, `${s.env} → config.${key}`);
      }
    }
    const custom = loadConfig({ ...base, PLATFORM_KEEPALIVE_MS: '1234', BREAKER_COOLDOWN_MS: '77', LOG_LEVEL: 'debug' }, tmp());
    assert.equal(custom.platformKeepAliveMs, 1234);
    assert.equal(custom.breakerCooldownMs, 77);
    assert.equal(custom.logLevel, 'debug');
  });

  it('derives the values other modules used to compute themselves', () => {
    const c = loadConfig(base, tmp());
    assert.equal(c.requestTimeoutMs, 15_000);
    assert.equal(c.idempotencyPendingMs, 15_000);
    assert.equal(c.platformGetAttempts, 3);
    assert.equal(c.tokenLoginDeadlineMs, 10_000);
    assert.equal(c.tokenWaitLimitMs, 25_000);
    const d = loadConfig({ ...base, PLATFORM_TIMEOUT_MS: '8000', TOKEN_LOCK_TTL_MS: '2000' }, tmp());
    assert.equal(d.requestTimeoutMs, 13_000);
    assert.equal(d.idempotencyPendingMs, 13_000);
    assert.equal(d.tokenLoginDeadlineMs, 2000);
    assert.equal(d.tokenWaitLimitMs, 10_000);
    for (const key of Object.keys(DERIVED)) assert.equal(typeof (c as unknown as Record<string, unknown>)[key], 'number', key);
  });

  it('accepts TOKEN_LOCK_TTL_MS below or above PLATFORM_TIMEOUT_MS (the login is bounded by the lower one)', () => {
    assert.equal(loadConfig({ ...base, PLATFORM_TIMEOUT_MS: '3000', TOKEN_LOCK_TTL_MS: '4000' }, tmp()).tokenLoginDeadlineMs, 3000);
    assert.equal(loadConfig({ ...base, PLATFORM_TIMEOUT_MS: '4000', TOKEN_LOCK_TTL_MS: '3000' }, tmp()).tokenLoginDeadlineMs, 3000);
    assert.match(problemsOf({ ...base, TOKEN_LOCK_TTL_MS: '50' }).join('\n'), /^TOKEN_LOCK_TTL_MS: must be greater than or equal to 100$/m);
  });

  it('types Config from the table (checked by npm run typecheck)', () => {
    const c: Config = loadConfig(base, tmp());
    // Each line fails to compile if the table's types were lost (any) or wrong.
    // @ts-expect-error port is a number
    const port: string = c.port;
    // @ts-expect-error redisUrl is null for the in-process store
    const redisUrl: string = c.redisUrl;
    // @ts-expect-error inputs of composites are not on Config
    void c.platformApps;
    assert.throws(() => {
      // @ts-expect-error Config is read-only (and frozen)
      c.idempotencyPendingMs = 1;
    });
    assert.equal(typeof port, 'number');
    assert.equal(typeof redisUrl, 'string');
  });
});
