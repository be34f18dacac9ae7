// Renders /docs of the demo gateway in headless Chromium and saves docs/api-page.png: the check that the page really draws the operations (npx tsx scripts/docs-screenshot.ts).
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'docs/api-page.png');

/** Debian's package installs `chromium`; other systems name it otherwise. CHROMIUM overrides. */
function chromium(): string {
  const candidates = [process.env.CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome'].filter((c): c is string => !!c);
  for (const c of candidates) {
    try {
      execFileSync('which', [c], { stdio: 'ignore' });
      return c;
    } catch {
      // try the next name
    }
  }
  throw new Error('no Chromium found: apt-get install -y chromium (or set CHROMIUM)');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function main(): Promise<void> {
  const browser = chromium();
  const [port, simPort] = [await freePort(), await freePort()];
  const demo = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/demo.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: String(port), SIMULATOR_PORT: String(simPort) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  demo.stdout.on('data', (d) => (out += String(d)));
  const profile = mkdtempSync(path.join(os.tmpdir(), 'iotbff-chromium-'));
  try {
    const deadline = Date.now() + 30_000;
    let url: string | undefined;
    while (url === undefined) {
      url = out.match(/^API reference:\s+(\S+)$/m)?.[1];
      if (demo.exitCode !== null) throw new Error(`the demo exited early:\n${out}`);
      if (Date.now() > deadline) throw new Error(`the demo printed no /docs address:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    rmSync(OUT, { force: true });
    // The virtual time budget lets the page's scripts fetch /openapi.json and draw before the shot.
    execFileSync(
      browser,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--hide-scrollbars',
        `--user-data-dir=${profile}`,
        `--screenshot=${OUT}`,
        '--window-size=1280,2000',
        '--virtual-time-budget=15000',
        url,
      ],
      { stdio: 'inherit', timeout: 60_000 },
    );
    if (!existsSync(OUT) || statSync(OUT).size === 0) throw new Error('Chromium saved no screenshot');
    process.stdout.write(`saved ${path.relative(ROOT, OUT)} (${statSync(OUT).size} bytes) from ${url}\n`);
  } finally {
    demo.kill('SIGTERM');
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`docs-screenshot: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
