// The production entry point: reads the configuration, connects, listens, and shuts down cleanly on SIGTERM.
import type { AddressInfo } from 'node:net';
import { createGateway } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { RouteDescriptionError } from './routes/check.js';
import { createLogger } from './logger.js';
import { closeGracefully, createServer } from './server.js';

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.problems) process.stderr.write(`config: ${line}\n`);
      process.stderr.write('iot-bff not started: fix the configuration above (see README, "Configuration").\n');
    } else {
      process.stderr.write(`iot-bff not started: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config.logLevel);
  let gateway: ReturnType<typeof createGateway>;
  try {
    gateway = createGateway(config, logger);
  } catch (err) {
    // A family's route description that cannot be served: one line per problem, never a stack trace.
    if (!(err instanceof RouteDescriptionError)) throw err;
    for (const line of err.problems) process.stderr.write(`${line}\n`);
    process.stderr.write('iot-bff not started: fix the route descriptions above (see README, "Adding an API family").\n');
    process.exit(1);
  }
  if (!(await gateway.connect(3000))) logger.warn('redis not reachable at start: serving degraded until it is');
  const server = createServer(gateway.app, { requestTimeoutMs: config.requestTimeoutMs });
  server.listen(config.port, config.host, () => {
    const { port } = server.address() as AddressInfo;
    logger.info({ port, apps: [...config.apps.keys()], store: config.redisTopology?.kind ?? 'memory' }, 'iot-bff listening');
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing requests in flight');
    gateway.drain();
    await closeGracefully(server, config.shutdownTimeoutMs);
    await gateway.close();
    logger.info('stopped');
    logger.flush?.();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
}

void main();
