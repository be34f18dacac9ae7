// `npm run demo`: the platform simulator and the gateway together, with demo credentials, a curl line that works, and events end to end when a redis-server is at hand.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { createGateway } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { closeGracefully, createServer } from './server.js';
import { DEMO_APPS, startSimulator } from './simulator/server.js';

export const DEMO_KEY = 'demo-key-not-for-production-0001';

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });

/**
 * Events need Redis (a stream per app). The demo installs nothing: it starts a throwaway redis-server when one is
 * on the PATH (no persistence, loopback only, stopped with the demo), and otherwise runs without events.
 */
async function startDemoRedis(): Promise<{ url: string; proc: ChildProcess } | undefined> {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const failed = await new Promise<boolean>((resolve) => {
    proc.once('error', () => resolve(true));
    const deadline = Date.now() + 5000;
    const probe = () => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(false);
      });
      sock.once('error', () => {
        sock.destroy();
        if (proc.exitCode !== null || Date.now() > deadline) resolve(true);
        else setTimeout(probe, 50);
      });
    };
    probe();
  });
  if (failed) {
    proc.kill();
    return undefined;
  }
  return { url: `redis://127.0.0.1:${port}`, proc };
}

/** A webhook receiver of the demo: verifies each delivery's signature and prints it on one line. */
async function startDemoReceiver(secret: () => string | undefined): Promise<{ url: string; close(): void }> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += String(c)));
    req.on('end', () => {
      const s = secret();
      try {
        if (!s) throw new Error('no secret yet');
        const e = new Webhook(s).verify(body, req.headers as Record<string, string>) as { notifyType: string; data: Record<string, unknown> };
        process.stdout.write(`webhook received (signature valid): ${e.notifyType} ${JSON.stringify(e.data)}\n`);
        res.statusCode = 204;
      } catch {
        res.statusCode = 400;
      }
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/demo-hook`, close: () => void server.close() };
}

async function main(): Promise<void> {
  const simPort = Number(process.env.SIMULATOR_PORT ?? 8743);
  const sim = await startSimulator({ apps: DEMO_APPS, port: simPort, host: '127.0.0.1', quiet: true });
  // Events are on when the demo has a Redis: the one named by REDIS_URL, or a throwaway redis-server.
  const ownRedis = process.env.REDIS_URL ? undefined : await startDemoRedis();
  const redisUrl = process.env.REDIS_URL ?? ownRedis?.url;
  const port = Number(process.env.PORT ?? 8080);
  const eventsEnv: Record<string, string> =
    redisUrl && redisUrl !== 'memory' && port > 0 ? { CALLBACK_BASE_URL: `http://127.0.0.1:${port}`, CALLBACK_SECRET: randomBytes(32).toString('base64url') } : {};
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
      // The demo needs nothing installed: the in-process store unless a Redis is named or found.
      REDIS_URL: redisUrl ?? 'memory',
      ...eventsEnv,
    });
  } catch (err) {
    if (err instanceof ConfigError) for (const p of err.problems) process.stderr.write(`config: ${p}\n`);
    ownRedis?.proc.kill();
    await sim.close();
    process.exit(1);
  }
  const gateway = createGateway(config, createLogger(config.logLevel));
  await gateway.connect(3000);
  const server = createServer(gateway.app, { requestTimeoutMs: config.requestTimeoutMs });
  server.on('error', async (err: NodeJS.ErrnoException) => {
    process.stderr.write(`demo: cannot listen on port ${config.port} (${err.code}); set PORT to another port\n`);
    ownRedis?.proc.kill();
    await sim.close();
    process.exit(1);
  });
  let webhookSecret: string | undefined;
  const receiver = gateway.events ? await startDemoReceiver(() => webhookSecret) : undefined;
  await new Promise<void>((r) => server.listen(config.port, config.host, () => r()));
  {
    const { port } = server.address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;
    const events: string[] = [];
    if (gateway.events && receiver) {
      // A demo webhook and a demo device, through the gateway's own API, as an internal service would do it.
      const api = async (path: string, body: unknown) => {
        const r = await fetch(`${base}/v1/apps/demo-app${path}`, {
          method: 'POST',
          headers: { 'x-api-key': DEMO_KEY, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
        return (await r.json()) as Record<string, unknown>;
      };
      const hook = await api('/webhooks', { url: receiver.url, notifyTypes: ['deviceDataChanged', 'deviceAdded', 'swUpgradeResultNotify'] });
      webhookSecret = hook.secret as string;
      // The platform subscription is made before the lines below are printed, so that the first reading is pushed.
      await gateway.subscriptions?.settled('demo-app');
      const device = await api('/devices', { nodeId: 'demo-meter-1', verifyCode: 'demo-meter-1' });
      events.push(
        '',
        `Events (store: redis; a demo webhook receiver prints every delivery, signature checked):`,
        `  curl -s -X POST -H 'Content-Type: application/json' -d '{"serviceId":"WaterMeter","data":{"value":42}}' ${sim.url}/__control/devices/${String(device.deviceId)}/data`,
        `  curl -sN -H 'X-Api-Key: ${DEMO_KEY}' ${base}/v1/apps/demo-app/events     # the same events live (SSE)`,
      );
    } else {
      events.push('', 'Events: off (they need Redis: put redis-server on the PATH, or set REDIS_URL).');
    }
    process.stdout.write(
      [
        `platform simulator: ${sim.url}  (apps: ${DEMO_APPS.map((a) => a.appId).join(', ')})`,
        `gateway:            ${base}  (store: ${config.redisUrl ? 'redis' : 'in-process'})`,
        `API reference:      ${base}/docs`,
        '',
        'Try it:',
        `  curl -s -H 'X-Api-Key: ${DEMO_KEY}' ${base}/v1/apps/demo-app/packages`,
        ...events,
        '',
        'Ctrl-C stops both.',
        '',
      ].join('\n'),
    );
  }
  const stop = async () => {
    gateway.drain();
    await closeGracefully(server, 2000);
    await gateway.close();
    receiver?.close();
    ownRedis?.proc.kill();
    await sim.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

void main();
