// `npm run demo`: the platform simulator and the gateway together, with demo credentials, and a curl line that works.
import type { AddressInfo } from 'node:net';
import { createGateway } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { closeGracefully, createServer } from './server.js';
import { DEMO_APPS, startSimulator } from './simulator/server.js';

export const DEMO_KEY = 'demo-key-not-for-production-0001';

async function main(): Promise<void> {
  const simPort = Number(process.env.SIMULATOR_PORT ?? 8743);
  const sim = await startSimulator({ apps: DEMO_APPS, port: simPort, host: '127.0.0.1', quiet: true });
  let config;
  try {
    config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...process.env,
      PLATFORM_URL: sim.url,
      PLATFORM_APPS: JSON.stringify(DEMO_APPS),
      GATEWAY_CLIENTS: JSON.stringify([{ name: 'demo', key: DEMO_KEY, apps: ['*'] }]),
      // The demo needs nothing installed: the in-process store unless a Redis is named.
      REDIS_URL: process.env.REDIS_URL ?? 'memory',
    });
  } catch (err) {
    if (err instanceof ConfigError) for (const p of err.problems) process.stderr.write(`config: ${p}\n`);
    await sim.close();
    process.exit(1);
  }
  const gateway = createGateway(config, createLogger(config.logLevel));
  await gateway.connect(3000);
  const server = createServer(gateway.app, { requestTimeoutMs: config.requestTimeoutMs });
  server.on('error', async (err: NodeJS.ErrnoException) => {
    process.stderr.write(`demo: cannot listen on port ${config.port} (${err.code}); set PORT to another port\n`);
    await sim.close();
    process.exit(1);
  });
  server.listen(config.port, config.host, () => {
    const { port } = server.address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;
    process.stdout.write(
      [
        `platform simulator: ${sim.url}  (apps: ${DEMO_APPS.map((a) => a.appId).join(', ')})`,
        `gateway:            ${base}  (store: ${config.redisUrl ? 'redis' : 'in-process'})`,
        '',
        'Try it:',
        `  curl -s -H 'X-Api-Key: ${DEMO_KEY}' ${base}/v1/apps/demo-app/packages`,
        '',
        'Ctrl-C stops both.',
        '',
      ].join('\n'),
    );
  });
  const stop = async () => {
    gateway.drain();
    await closeGracefully(server, 2000);
    await gateway.close();
    await sim.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

void main();
