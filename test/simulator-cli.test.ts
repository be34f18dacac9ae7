// The simulator's its command line and environment, tested black-box over real HTTP(S).
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { settingsFromEnv } from '../src/simulator/env.js';
import { ROOT } from './helpers/fixtures.js';
import { useSimulator } from './helpers/simulator.js';

describe('simulator: CLI and environment', () => {
  useSimulator();

  function run(env: Record<string, string>, until?: RegExp): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/simulator/main.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', SIMULATOR_HOST: '127.0.0.1', ...env },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (until && until.test(out)) child.kill('SIGTERM');
      });
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, out, err }));
    });
  }

  it('prints its URL, and exits 0 on SIGTERM', async function () {
    this.timeout(20_000);
    const res = await run({ SIMULATOR_PORT: '0' }, /listening on http:\/\/127\.0\.0\.1:\d+/);
    assert.equal(res.code, 0, res.err);
    assert.match(res.out, /platform simulator listening on http:\/\/127\.0\.0\.1:\d+/);
    assert.doesNotMatch(res.out, /demo-secret/);
  });

  it('exits 1 with one line per configuration problem and no stack trace', async function () {
    this.timeout(20_000);
    const res = await run({
      SIMULATOR_PORT: 'eighty',
      SIMULATOR_RATE_PER_MINUTE: '0',
      PLATFORM_APPS: '[{"appId":"a","secret":"top-secret"},{"appId":"a","secret":"second-secret"}]',
      SIMULATOR_TLS_CERT_FILE: '/nonexistent/cert.pem',
    });
    assert.equal(res.code, 1);
    const lines = res.err.trim().split('\n');
    assert.equal(lines.length, 5, res.err);
    for (const line of lines) assert.match(line, /^simulator: /);
    assert.doesNotMatch(res.err, /\n\s+at /);
    assert.doesNotMatch(res.err, /top-secret|second-secret/);
  });

  it('reads apps, limits and TLS files from the environment', () => {
    const files: Record<string, string> = { '/c': 'CERT', '/k': 'KEY' };
    const read = (p: string): Buffer => {
      const v = files[p];
      if (v === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
      return Buffer.from(v);
    };
    const ok = settingsFromEnv(
      {
        PLATFORM_APPS: '[{"appId":"x","secret":"s","ratePerMinute":5}]',
        SIMULATOR_PORT: '9000',
        SIMULATOR_WINDOW_MS: '1000',
        SIMULATOR_EXPIRES_IN: '60',
        SIMULATOR_TLS_CERT_FILE: '/c',
        SIMULATOR_TLS_KEY_FILE: '/k',
      },
      read,
    );
    assert.ok(ok.ok);
    assert.equal(ok.settings.port, 9000);
    assert.equal(ok.settings.host, '0.0.0.0');
    assert.deepEqual(ok.settings.options.apps, [{ appId: 'x', secret: 's' }]);
    assert.equal(ok.settings.options.ratePerMinute, 100);
    assert.equal(ok.settings.options.windowMs, 1000);
    assert.equal(ok.settings.options.expiresIn, 60);
    assert.equal(ok.settings.options.tls?.cert.toString(), 'CERT');

    const defaults = settingsFromEnv({}, read);
    assert.ok(defaults.ok);
    assert.equal(defaults.settings.port, 8743);
    assert.equal(defaults.settings.options.apps, undefined);
    assert.equal(defaults.settings.options.tls, undefined);

    const bad = settingsFromEnv({ SIMULATOR_TLS_CA_FILE: '/c', SIMULATOR_TLS_KEY_FILE: '/k', PLATFORM_APPS: '{}' }, read);
    assert.ok(!bad.ok);
    assert.equal(bad.errors.length, 3, bad.errors.join('\n'));
  });
});
