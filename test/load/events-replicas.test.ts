// Events over two gateway replicas as real processes (load suite: two child start-ups take longer than 15 s on a loaded 2-core machine): platform subscriptions made once and counted in the quota; a replica SIGKILLed mid-burst loses nothing that was answered 200.
import assert from 'node:assert/strict';
import net from 'node:net';
import request from 'supertest';
import { callbackToken } from '../../src/events/callback.js';
import {
  KEYS,
  closeAll,
  gatewayEnv,
  sleep,
  spawnGateway,
  startRedis,
  startTestSimulator,
  waitFor,
  type ChildGateway,
  type TestRedis,
  type TestSimulator,
} from '../helpers/fixtures.js';
import { CALLBACK_SECRET, startReceiver, type Receiver } from '../helpers/events.js';

/** The load balancer the platform pushes to: one address for every replica (round robin per connection). */
async function startBalancer(backends: () => string[]): Promise<{ url: string; close(): Promise<void> }> {
  let next = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const list = backends();
    const target = new URL(list[next++ % list.length] as string);
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const quotaAllowed = async (url: string, app: string): Promise<number> => {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('iotbff_quota_decisions_total{') && line.includes(`app="${app}"`) && line.includes('decision="allowed"')) sum += Number(line.split(' ').pop());
  }
  return sum;
};

describe('events over two replicas (child processes)', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let sim: TestSimulator;
  let receiver: Receiver;
  let lb: Awaited<ReturnType<typeof startBalancer>>;
  let a: ChildGateway;
  let b: ChildGateway;
  const urls: string[] = [];

  before(async () => {
    redis = await startRedis({ own: true });
    sim = await startTestSimulator();
    receiver = await startReceiver();
    lb = await startBalancer(() => urls);
    const env = gatewayEnv(sim.url, redis.url, {
      CALLBACK_BASE_URL: lb.url,
      CALLBACK_SECRET,
      WEBHOOK_TIMEOUT_MS: '1000',
      GATEWAY_REPLICAS: '2',
      LOG_LEVEL: 'debug',
    });
    a = await spawnGateway(env);
    b = await spawnGateway(env);
    urls.push(a.url, b.url);
  });
  after(async () => {
    for (const g of [a, b]) if (g && g.proc.exitCode === null && g.proc.signalCode === null) g.kill('SIGKILL');
    await closeAll(lb, receiver, sim, redis);
  });

  it('subscribes once across both replicas, each call counted in the app’s quota', async () => {
    // Two webhooks created at once on two replicas: both ask for a reconciliation; one does it.
    const [w1, w2] = await Promise.all([
      request(a.url).post('/v1/apps/app-a/webhooks').set('x-api-key', KEYS.all).send({ url: receiver.url, notifyTypes: ['deviceDataChanged', 'deviceDeleted'] }),
      request(b.url).post('/v1/apps/app-a/webhooks').set('x-api-key', KEYS.all).send({ url: receiver.url, notifyTypes: ['deviceDataChanged'] }),
    ]);
    assert.equal(w1.status, 201, w1.text);
    assert.equal(w2.status, 201, w2.text);
    const subscribes = async () => (await sim.calls()).log.filter((c) => c.method === 'POST' && c.path === '/iocm/app/sub/v1.2.0/subscriptions');
    await waitFor(async () => (await subscribes()).length >= 2, 15_000, 'the subscriptions');
    await sleep(1500); // a second reconciliation, if one were wrongly made, would show by now
    const made = (await subscribes()).map((c) => (c.body as { notifyType: string }).notifyType).sort();
    assert.deepEqual(made, ['deviceDataChanged', 'deviceDeleted']);
    for (const c of await subscribes()) assert.ok(String((c.body as { callbackUrl: string }).callbackUrl).startsWith(`${lb.url}/callbacks/app-a/`));
    // Every platform call of app-a (logins, queries, subscribes) took a quota slot on one of the replicas.
    const platformCalls = (await sim.calls()).log.filter((c) => c.appId === 'app-a').length;
    const counted = (await quotaAllowed(a.url, 'app-a')) + (await quotaAllowed(b.url, 'app-a'));
    assert.ok(platformCalls >= 3, `platform calls ${platformCalls}`);
    assert.equal(counted, platformCalls);
  });

  it('a replica SIGKILLed mid-burst loses nothing that was answered 200', async () => {
    receiver.got.length = 0;
    const path = `/callbacks/app-a/${callbackToken(CALLBACK_SECRET, 'app-a')}`;
    const stored: string[] = [];
    const push = async (url: string, i: number): Promise<void> => {
      try {
        const r = await fetch(`${url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ notifyType: 'deviceDataChanged', deviceId: `burst-${i}`, service: { serviceId: 'WaterMeter', data: { value: i } } }),
        });
        if (r.status === 200) stored.push(((await r.json()) as { id: string }).id);
      } catch {
        // refused by a dead replica: not answered 200, the platform would push again
      }
    };
    const n = 300;
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      if (i === n / 2) a.kill('SIGKILL');
      inflight.push(push(i % 2 === 0 ? a.url : b.url, i));
      if (i % 10 === 9) await Promise.all(inflight.splice(0));
    }
    await Promise.all(inflight);
    assert.ok(stored.length >= n / 2, `stored ${stored.length}`);
    // Two webhooks want deviceDataChanged: each stored event reaches the receiver once per webhook, at least.
    const times = () => {
      const m = new Map<string, number>();
      for (const g of receiver.got) m.set(String(g.headers['webhook-id']), (m.get(String(g.headers['webhook-id'])) ?? 0) + 1);
      return m;
    };
    await waitFor(() => stored.every((id) => (times().get(id) ?? 0) >= 2), 30_000, 'every stored event delivered to both webhooks');
    for (const id of stored) assert.ok((times().get(id) ?? 0) >= 2, `event ${id} answered 200 but not delivered`);
    // No secret in what the surviving replica wrote.
    assert.ok(!b.output().includes(CALLBACK_SECRET));
    assert.ok(!b.output().includes(callbackToken(CALLBACK_SECRET, 'app-a')));
  });
});
