// Configuration: one parse at start, environment over file, every problem on its own readable line, no secret echoed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, DEFAULTS, loadConfig } from '../src/config.js';
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
    assert.equal(c.port, DEFAULTS.PORT);
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

