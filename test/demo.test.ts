// `npm run demo`: simulator and gateway start together with no Redis, and the printed curl line works as shown.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT, freePort, waitFor } from './helpers/fixtures.js';

describe('demo', () => {
  it('prints a curl line that answers the package list', async function () {
    this.timeout(30_000);
    const [port, simPort] = [await freePort(), await freePort()];
    const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/demo.ts')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', PORT: String(port), SIMULATOR_PORT: String(simPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d) => (out += String(d)));
    proc.stderr.on('data', (d) => (out += String(d)));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    try {
      await waitFor(() => /curl .*\n/.test(out), 20_000, 'the demo to print its curl line');
      const line = (out.match(/^\s*(curl .*)$/m)?.[1] ?? '').trim();
      assert.match(line, new RegExp(`http://127\\.0\\.0\\.1:${port}/v1/apps/demo-app/packages`));
      assert.match(out, /store: in-process/);
      // The API reference's address, on a line of its own, answering the page.
      const docs = out.match(/^API reference:\s+(\S+)$/m)?.[1];
      assert.equal(docs, `http://127.0.0.1:${port}/docs`);
      const page = await fetch(docs);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      // Run the line exactly as printed.
      const body = execFileSync('bash', ['-c', line], { encoding: 'utf8', timeout: 10_000 });
      const parsed = JSON.parse(body);
      assert.ok(Array.isArray(parsed.data) && parsed.data.length > 0, body);
    } finally {
      proc.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });
});
