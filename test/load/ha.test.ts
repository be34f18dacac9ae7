// Redis beyond one server (issue 14, contract §12): two gateway child processes on a real 3-primary Cluster and on a real Sentinel set whose primary is SIGKILLed mid-stream.
import assert from 'node:assert/strict';
import {
  LOGIN_ROUTE,
  TEST_APPS,
  KEYS,
  gatewayEnv,
  maxInAnyWindow,
  sleep,
  spawnGateway,
  startTestSimulator,
  waitFor,
  type ChildGateway,
  type SimCall,
  type TestSimulator,
} from '../helpers/fixtures.js';
import { ask, hostPort, startCluster, startSentinelSet, type TestCluster, type TestSentinelSet } from '../helpers/redis-topologies.js';

/** A short window (both sides) keeps the scenarios fast; the rule is the same as with 60 s. */
const WINDOW_MS = 4000;
const RATE = 12;
const APPS = JSON.stringify(TEST_APPS.map((a) => ({ ...a, ratePerMinute: RATE })));

interface Answer {
  at: number;
  status: number;
  code?: string;
  body: any;
  gw: number;
}

async function send(url: string, path: string, init: { method?: string; body?: unknown; idemKey?: string } = {}): Promise<Omit<Answer, 'at' | 'gw'>> {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      'x-api-key': KEYS.all,
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(init.idemKey ? { 'idempotency-key': init.idemKey } : {}),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    // A hung answer fails the suite instead of hanging it.
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: kept as text for the assertion message
  }
  return { status: res.status, code: body?.error?.code, body };
}

/** Statuses with their error codes, e.g. {"200": 290, "503 SERVICE_UNAVAILABLE": 10}, for assertion messages. */
function outcomes(answers: Answer[]): string {
  const h: Record<string, number> = {};
  for (const a of answers) {
    const k = a.code ? `${a.status} ${a.code}` : String(a.status);
    h[k] = (h[k] ?? 0) + 1;
  }
  return JSON.stringify(h);
}

/** Requests of app-a from `concurrency` loops, spread over the replicas, until `stop()` says so. */
async function stream(gws: ChildGateway[], concurrency: number, stop: () => boolean, out: Answer[]): Promise<void> {
  let n = 0;
  const loop = async () => {
    while (!stop()) {
      const gw = n++ % gws.length;
      const a = await send((gws[gw] as ChildGateway).url, '/v1/apps/app-a/packages');
      out.push({ ...a, at: Date.now(), gw });
      // A 503 answers at once: pace the retries as a client honouring Retry-After loosely would.
      if (a.status !== 200) await sleep(50);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
}

const platformCalls = (log: SimCall[], app: string) => log.filter((c) => c.appId === app);
const logins = (log: SimCall[], app: string) => platformCalls(log, app).filter((c) => `${c.method} ${c.path}` === LOGIN_ROUTE);

async function stopAll(gws: ChildGateway[]): Promise<void> {
  await Promise.all(
    gws.map(async (g) => {
      g.kill('SIGTERM');
      await Promise.race([g.exited, sleep(8000)]);
      if (g.proc.exitCode === null) g.kill('SIGKILL');
    }),
  );
}

describe('HA: two gateway replicas on a 3-primary Redis Cluster', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let sim: TestSimulator;
  let gws: ChildGateway[] = [];

  before(async () => {
    cluster = await startCluster();
    sim = await startTestSimulator({ ratePerMinute: RATE, windowMs: WINDOW_MS });
    // No REDIS_URL: with REDIS_CLUSTER_NODES its default must not be used as an address.
    const env = gatewayEnv(sim.url, '', {
      REDIS_CLUSTER_NODES: cluster.nodes.map(hostPort).join(','),
      PLATFORM_APPS: APPS,
      QUOTA_WINDOW_MS: String(WINDOW_MS),
      GATEWAY_REPLICAS: '2',
    });
    delete (env as Record<string, string | undefined>).REDIS_URL;
    gws = await Promise.all([spawnGateway(env), spawnGateway(env)]);
  });
  after(async () => {
    await stopAll(gws);
    await sim?.close();
    await cluster?.stop();
  });

  it('names the cluster and its primaries in /readyz and the start log', async () => {
    const primaries = cluster.nodes.map(hostPort).sort();
    for (const gw of gws) {
      await waitFor(async () => (await fetch(`${gw.url}/readyz`)).status === 200, 10_000, 'readyz 200');
      const body = (await (await fetch(`${gw.url}/readyz`)).json()) as any;
      assert.equal(body.redis.topology, 'cluster');
      assert.deepEqual(body.redis.primaries, primaries);
      assert.match(gw.output(), /"msg":"redis topology"/);
      assert.match(gw.output(), /"topology":"cluster"/);
    }
  });

  it('cold start: 200 concurrent requests over both replicas make exactly one login per app, and no 500', async () => {
    const answers = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const gw = i % 2;
        const app = i % 4 < 2 ? 'app-a' : 'app-b';
        return { ...(await send((gws[gw] as ChildGateway).url, `/v1/apps/${app}/packages`)), at: Date.now(), gw };
      }),
    );
    const { log } = await sim.calls();
    assert.equal(logins(log, 'app-a').length, 1, outcomes(answers));
    assert.equal(logins(log, 'app-b').length, 1, outcomes(answers));
    // The quota (12 per window, the login included) refuses most of them: 200 and 429 only.
    for (const a of answers) assert.ok(a.status === 200 || a.status === 429, outcomes(answers));
    assert.ok(answers.some((a) => a.status === 200));
  });

  it(`the quota is exact over both replicas: never more than ${RATE} calls in any ${WINDOW_MS} ms at the platform, and no 1010009 from it`, async () => {
    await sleep(WINDOW_MS);
    await sim.reset();
    const answers: Answer[] = [];
    const until = Date.now() + 3 * WINDOW_MS;
    await stream(gws, 6, () => Date.now() > until, answers);
    const { log } = await sim.calls();
    const calls = platformCalls(log, 'app-a');
    assert.ok(maxInAnyWindow(log, 'app-a', WINDOW_MS) <= RATE, `max ${maxInAnyWindow(log, 'app-a', WINDOW_MS)} in a window`);
    assert.equal(calls.filter((c) => c.errorCode === '1010009').length, 0, 'the platform refused a call: the gateway let too many through');
    // The limit was reached (the test proves something): at least two windows' worth got through.
    assert.ok(calls.length >= 2 * RATE, `only ${calls.length} calls: ${outcomes(answers)}`);
    for (const a of answers) assert.ok(a.status === 200 || a.status === 429, outcomes(answers));
  });
});

describe('HA: two gateway replicas on a Sentinel set whose primary is SIGKILLed mid-stream', function () {
  this.timeout(150_000);
  let set: TestSentinelSet;
  let sim: TestSimulator;
  let gws: ChildGateway[] = [];

  before(async () => {
    set = await startSentinelSet();
    sim = await startTestSimulator({ ratePerMinute: RATE, windowMs: WINDOW_MS });
    const env = gatewayEnv(sim.url, '', {
      REDIS_SENTINELS: set.sentinels.map(hostPort).join(','),
      REDIS_SENTINEL_NAME: set.name,
      PLATFORM_APPS: APPS,
      QUOTA_WINDOW_MS: String(WINDOW_MS),
      GATEWAY_REPLICAS: '2',
    });
    delete (env as Record<string, string | undefined>).REDIS_URL;
    gws = await Promise.all([spawnGateway(env), spawnGateway(env)]);
    for (const gw of gws) await waitFor(async () => (await fetch(`${gw.url}/readyz`)).status === 200, 10_000, 'readyz 200');
  });
  after(async () => {
    await stopAll(gws);
    await sim?.close();
    await set?.stop();
  });

  it('no 500, back within 20 s on the promoted replica (named by /readyz), quota exact at the platform, idempotency across the failover', async () => {
    const first = await set.primary();
    for (const gw of gws) {
      const body = (await (await fetch(`${gw.url}/readyz`)).json()) as any;
      assert.deepEqual(body.redis, { topology: 'sentinel', primary: hostPort(first) });
    }

    // An Idempotency-Key answered before the failover, and replicated (the replica's offset caught up).
    const task = { fileId: 'sw-pkg-0001', targets: { devices: ['dev-1'] } };
    const key = `ha-before-${Date.now()}`;
    const created = await send((gws[0] as ChildGateway).url, '/v1/apps/app-b/upgrade-tasks/software', { method: 'POST', body: task, idemKey: key });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const offset = Number(/master_repl_offset:(\d+)/.exec(String(await ask(first, 'INFO', 'replication')))?.[1]);
    const replica = set.nodes.find((n) => hostPort(n) !== hostPort(first));
    assert.ok(replica);
    await waitFor(
      async () => Number(/slave_repl_offset:(\d+)/.exec(String(await ask(replica, 'INFO', 'replication')))?.[1]) >= offset,
      5000,
      'the replica to have the record',
    );

    // The stream: app-a over both replicas, above its quota, while the primary dies.
    const answers: Answer[] = [];
    let stopAt = Number.POSITIVE_INFINITY;
    const running = stream(gws, 6, () => Date.now() > stopAt, answers);
    await sleep(1500);
    const killedAt = Date.now();
    const old = await set.killPrimary();
    // A create during the switch: 201 or 503, never 500.
    const during = await send((gws[1] as ChildGateway).url, '/v1/apps/app-b/upgrade-tasks/software', {
      method: 'POST',
      body: task,
      idemKey: `ha-during-${Date.now()}`,
    });
    assert.ok(during.status === 201 || during.status === 503, JSON.stringify(during.body));
    const promoted = await set.waitForPromotion(old, 20_000);
    // Back: each replica serves app-a again (200) within 20 s of the kill.
    let backAt = 0;
    for (const gw of gws) {
      await waitFor(
        async () => {
          const a = await send(gw.url, '/v1/apps/app-b/packages');
          return a.status === 200;
        },
        Math.max(1000, killedAt + 20_000 - Date.now()),
        'service back within 20 s of the kill',
      );
      backAt = Math.max(backAt, Date.now());
    }
    // Then two more windows of the stream on the promoted primary.
    stopAt = Date.now() + 2 * WINDOW_MS;
    await running;

    const statuses = outcomes(answers);
    for (const a of answers) assert.ok([200, 429, 503].includes(a.status), `a ${a.status} in ${statuses}`);
    for (const a of answers) if (a.status === 503) assert.equal(a.code, 'SERVICE_UNAVAILABLE', statuses);
    assert.ok(answers.some((a) => a.status === 503 && a.at > killedAt), `the kill went unnoticed? ${statuses}`);
    assert.ok(answers.some((a) => a.status === 200 && a.at > backAt), `no success after the failover: ${statuses}`);
    assert.ok(backAt - killedAt <= 20_000, `back after ${backAt - killedAt} ms`);

    // The quota held at the platform across the switch.
    const { log } = await sim.calls();
    assert.ok(maxInAnyWindow(log, 'app-a', WINDOW_MS) <= RATE, `max ${maxInAnyWindow(log, 'app-a', WINDOW_MS)} in a window`);
    assert.equal(platformCalls(log, 'app-a').filter((c) => c.errorCode === '1010009').length, 0, 'the platform refused a call');

    // /readyz names the promoted primary; the old one gets nothing.
    for (const gw of gws) {
      await waitFor(async () => (await fetch(`${gw.url}/readyz`)).status === 200, 10_000, 'readyz 200 after the failover');
      const body = (await (await fetch(`${gw.url}/readyz`)).json()) as any;
      assert.deepEqual(body.redis, { topology: 'sentinel', primary: hostPort(promoted) });
    }

    // The key answered before the failover replays on either replica: same task, no second platform call.
    const creates = () => sim.calls().then((c) => c.log.filter((x) => x.appId === 'app-b' && x.method === 'POST' && x.path.includes('softwareUpgrade')).length);
    const before = await creates();
    for (const gw of gws) {
      const again = await send(gw.url, '/v1/apps/app-b/upgrade-tasks/software', { method: 'POST', body: task, idemKey: key });
      assert.equal(again.status, 201, JSON.stringify(again.body));
      assert.deepEqual(again.body, created.body);
    }
    assert.equal(await creates(), before, 'a replayed key reached the platform');
  });
});
