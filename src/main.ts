// The production entry point: reads the configuration, connects, listens, and shuts down cleanly on SIGTERM.
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { createGateway } from './app.js';
import { buildMetricsApp } from './http/ops.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { RouteDescriptionError } from './routes/check.js';
import { createLogger } from './logger.js';
import { closeGracefully, createServer } from './server.js';
import { createCompatServer } from './compat/index.js';

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
    // A setting that only the routes can judge (CACHE_TTL_SEC): the same lines as any configuration problem.
    if (err instanceof ConfigError) {
      for (const line of err.problems) process.stderr.write(`config: ${line}\n`);
      process.stderr.write('iot-bff not started: fix the configuration above (see README, "Configuration").\n');
      process.exit(1);
    }
    // A family's route description that cannot be served: one line per problem, never a stack trace.
    if (!(err instanceof RouteDescriptionError)) throw err;
    for (const line of err.problems) process.stderr.write(`${line}\n`);
    process.stderr.write('iot-bff not started: fix the route descriptions above (see README, "Adding an API family").\n');
    process.exit(1);
  }
  if (!(await gateway.connect(3000))) logger.warn('redis not reachable at start: serving degraded until it is');
  const server = createServer(gateway.app, config);
  server.listen(config.port, config.host, () => {
    const { port } = server.address() as AddressInfo;
    logger.info({ port, apps: [...config.apps.keys()], store: config.redisTopology?.kind ?? 'memory' }, 'iot-bff listening');
  });

  // The platform's own API for SDK-based services, on its own port (contract §14).
  const compat = gateway.compatApp && config.compatPort !== null ? createCompatServer(gateway.compatApp, config) : undefined;
  compat?.listen(config.compatPort ?? 0, config.host, () => {
    const { port } = compat.address() as AddressInfo;
    logger.info({ port, tls: config.compatTls.cert !== undefined, mutualTls: config.compatTls.ca !== undefined }, 'iot-bff compat port listening');
  });

  // With METRICS_PORT, /metrics lives on its own listener (not on PORT), for the scraper's network only.
  let metricsServer: http.Server | undefined;
  if (config.metricsPort !== undefined) {
    metricsServer = createServer(buildMetricsApp(gateway.metrics), config);
    metricsServer.listen(config.metricsPort, config.host, () => {
      const { port } = metricsServer?.address() as AddressInfo;
      logger.info({ port }, 'metrics listening');
    });
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing requests in flight');
    gateway.drain();
    await Promise.all([
      closeGracefully(server, config.shutdownTimeoutMs),
      compat && closeGracefully(compat, config.shutdownTimeoutMs),
      metricsServer ? closeGracefully(metricsServer, config.shutdownTimeoutMs) : undefined,
    ]);
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
