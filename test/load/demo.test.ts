// `npm run demo`: simulator and gateway start together (no Redis needed), the printed curl line works as shown, and with a redis-server at hand a reported reading reaches the demo webhook within a second.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT, freePort, waitFor } from '../helpers/fixtures.js';

async function runDemo(env: Record<string, string>, body: (out: () => string, port: number) => Promise<void>): Promise<void> {
  const [port, simPort] = [await freePort(), await freePort()];
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/demo.ts')], {
    cwd: ROOT,
    env: { ...env, PORT: String(port), SIMULATOR_PORT: String(simPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d) => (out += String(d)));
  proc.stderr.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  try {
    await body(() => out, port);
  } finally {
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, out);
  }
}

describe('demo', () => {
  it('prints a curl line that answers the package list (in-process store, events off)', async function () {
    this.timeout(30_000);
    // REDIS_URL=memory: what a machine without redis-server gets.
    await runDemo({ REDIS_URL: 'memory' }, async (out, port) => {
      await waitFor(() => /Ctrl-C/.test(out()), 20_000, 'the demo to print its lines');
      const line = (out().match(/^\s*(curl .*packages)$/m)?.[1] ?? '').trim();
      assert.match(line, new RegExp(`http://127\\.0\\.0\\.1:${port}/v1/apps/demo-app/packages`));
      assert.match(out(), /store: in-process/);
      assert.match(out(), /^Events: off \(they need Redis/m);
      // The API reference's address, on a line of its own, answering the page.
      const docs = out().match(/^API reference:\s+(\S+)$/m)?.[1];
      assert.equal(docs, `http://127.0.0.1:${port}/docs`);
      const page = await fetch(docs);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      // Run the line exactly as printed.
      const body = execFileSync('/bin/bash', ['-c', line], { encoding: 'utf8', timeout: 10_000, env: { PATH: process.env.PATH ?? '' } });
      const parsed = JSON.parse(body);
      assert.ok(Array.isArray(parsed.data) && parsed.data.length > 0, body);
    });
  });

  it('shows events end to end: the printed reading reaches the demo webhook within a second, and the SSE line streams it', async function () {
    this.timeout(30_000);
    await runDemo({ PATH: process.env.PATH ?? '' }, async (out, port) => {
      await waitFor(() => /Ctrl-C/.test(out()), 20_000, 'the demo to print its lines');
      assert.match(out(), /store: redis/);
      const report = (out().match(/^\s*(curl -s -X POST .*\/__control\/devices\/.*\/data)$/m)?.[1] ?? '').trim();
      assert.ok(report, out());
      const sseLine = (out().match(/^\s*(curl -sN .*\/events)/m)?.[1] ?? '').trim();
      assert.match(sseLine, new RegExp(`http://127\\.0\\.0\\.1:${port}/v1/apps/demo-app/events$`));
      // The SSE line as printed, run for a moment in the background.
      const sse = spawn('/bin/bash', ['-c', sseLine], { stdio: ['ignore', 'pipe', 'ignore'] });
      let streamed = '';
      sse.stdout.on('data', (d) => (streamed += String(d)));
      try {
        await new Promise((r) => setTimeout(r, 300));
        const t0 = Date.now();
        execFileSync('/bin/bash', ['-c', report], { encoding: 'utf8', timeout: 10_000 });
        await waitFor(() => /webhook received \(signature valid\): deviceDataChanged .*"value":42/.test(out()), 5_000, 'the reading at the demo webhook');
        assert.ok(Date.now() - t0 < 1_000, `took ${Date.now() - t0} ms`);
        await waitFor(() => /event: deviceDataChanged\ndata: .*"value":42/.test(streamed), 5_000, 'the reading on the stream');
      } finally {
        sse.kill();
      }
      // The callback URL (its token) is the gateway's secret: the demo never prints it.
      assert.doesNotMatch(out(), /\/callbacks\//);
    });
  });
});
