// CLI entry (`npm run simulator`): starts the platform simulator from environment variables.
import { settingsFromEnv } from './env.js';
import { createLogger } from './log.js';
import { DEMO_APPS, startSimulator } from './server.js';

const result = settingsFromEnv(process.env);
if (!result.ok) {
  for (const e of result.errors) console.error(`simulator: ${e}`);
  process.exit(1);
}
const { port, host, options } = result.settings;
const logger = createLogger();

try {
  const sim = await startSimulator({ ...options, port, host });
  const apps = (options.apps ?? DEMO_APPS).map((a) => a.appId);
  logger.info(
    { url: sim.url, apps, tls: options.tls ? (options.tls.ca ? 'mutual' : 'server') : 'off' },
    `platform simulator listening on ${sim.url}`,
  );
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void sim.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  console.error(`simulator: cannot listen on ${host}:${port} (${e.code ?? e.message})`);
  process.exit(1);
}
