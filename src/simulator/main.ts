// CLI entry (`npm run simulator`): starts the platform simulator from environment variables.
import { settingsFromEnv } from './env.js';
import { createLogger } from './log.js';
import { DEMO_APPS, startSimulator, type RunningSimulator } from './server.js';

const result = settingsFromEnv(process.env);
if (!result.ok) {
  for (const e of result.errors) console.error(`simulator: ${e}`);
  process.exit(1);
}
const { port, host, options } = result.settings;
const logger = createLogger();

// Installed before the URL is printed: whoever reads that line may signal us at once.
let sim: RunningSimulator | undefined;
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void (sim?.close() ?? Promise.resolve()).then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

try {
  sim = await startSimulator({ ...options, port, host });
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  console.error(`simulator: cannot listen on ${host}:${port} (${e.code ?? e.message})`);
  process.exit(1);
}
const apps = (options.apps ?? DEMO_APPS).map((a) => a.appId);
const tls = options.tls ? (options.tls.ca ? 'mutual' : 'server') : 'off';
// The address it is bound to (0.0.0.0 in a container), not sim.url, which is how a local client reaches it.
const scheme = options.tls ? 'https' : 'http';
const bound = `${host.includes(':') ? `[${host}]` : host}:${sim.port}`;
logger.info({ address: bound, scheme, url: sim.url, apps, tls }, `platform simulator listening on ${scheme}://${bound}`);
