// Events' small pure parts and the declarative callbackUrl of a route (contract §10): injected, a caller's refused, scrubbed from answers; the subscription plan; cache tags from events.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import Joi from 'joi';
import { loadConfig } from '../src/config.js';
import { isGatewayCallbackUrl, scrubCallbackUrls, storedForms } from '../src/events/callback.js';
import { eventCacheTags, eventInvalidator } from '../src/events/invalidation.js';
import { planSubscriptions, retryDelay, SUBSCRIPTION_APIS, type PlatformSubscription } from '../src/events/subscriptions.js';
import { loggablePath } from '../src/http/request-context.js';
import { Idempotency, MemoryIdempotencyBackend } from '../src/idempotency.js';
import type { Forwarder, ForwardInput } from '../src/forward.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import { createPipeline } from '../src/pipeline.js';
import { checkRoutes } from '../src/routes/check.js';
import type { RouteSpec } from '../src/routes/types.js';
import { GatewayError } from '../src/errors.js';
import { upgradeEventTags } from '../src/cache/policies.js';
import { ROOT } from './helpers/fixtures.js';

const BASE = 'https://gw.example.com:8443';
const OURS = `${BASE}/callbacks/app-a/TOKEN-of-app-a`;

/** A test-only route shaped like a command create: the platform takes callbackUrl at the top of the body and echoes it. */
const createThing: RouteSpec = {
  id: 'testCreateThing', summary: 'test', family: 'test', method: 'POST', path: '/things',
  platform: { method: 'POST', path: '/test/things', callbackUrl: 'body' },
  body: Joi.object({ name: Joi.string().max(10).required(), callbackUrl: Joi.string().max(1024) }),
  successStatus: 201, idempotencyKey: true,
};
const getThing: RouteSpec = {
  id: 'testGetThing', summary: 'test', family: 'test', method: 'GET', path: '/things/{thingId}',
  platform: { method: 'GET', path: '/test/things/{thingId}', callbackUrl: 'echo' },
  successStatus: 200,
};

/** Records what would be sent and answers like a platform that echoes the body's callbackUrl (no network: the pipeline's own logic is under test). */
function echoingForwarder(sent: ForwardInput[]): Forwarder {
  return {
    async forward(_spec, input) {
      sent.push(input);
      const cb = (input.body as { callbackUrl?: string } | undefined)?.callbackUrl ?? OURS;
      return { status: 200, body: { thingId: 't1', callbackUrl: cb, nested: [{ callbackUrl: cb, keep: 1 }] }, headers: {} };
    },
    knownRefusal: () => undefined,
  };
}

function pipelineWith(events: boolean, sent: ForwardInput[]) {
  const config = loadConfig(
    { PLATFORM_URL: 'http://127.0.0.1:1', PLATFORM_APPS: JSON.stringify([{ appId: 'app-a', secret: 's' }]), GATEWAY_CLIENTS: JSON.stringify([{ name: 'c', key: 'k'.repeat(16), apps: ['*'] }]), REDIS_URL: 'memory' },
    ROOT,
  );
  return createPipeline({
    config,
    forwarder: echoingForwarder(sent),
    idempotency: new Idempotency(new MemoryIdempotencyBackend(), 60, createMetrics()),
    ...(events ? { callbacks: { urlOf: () => OURS, isGateways: (u: string) => isGatewayCallbackUrl(BASE, u) } } : {}),
  });
}
const call = (spec: RouteSpec, body: unknown, params: Record<string, string> = {}) => ({
  spec, appId: 'app-a', client: 'c', params, query: {}, body, startedAt: Date.now(), log: createLogger('silent'),
});

describe('events: a route’s callbackUrl (contract §10)', () => {
  it('sets the gateway’s callback in the platform body and removes it from the answer, at any depth', async () => {
    const sent: ForwardInput[] = [];
    const answer = await pipelineWith(true, sent).run(call(createThing, { name: 'x' }));
    assert.equal((sent[0]!.body as { callbackUrl: string }).callbackUrl, OURS);
    assert.deepEqual(answer.body, { thingId: 't1', nested: [{ keep: 1 }] });
    assert.doesNotMatch(JSON.stringify(answer.body), /TOKEN/);
    const echoed = await pipelineWith(true, sent).run(call(getThing, undefined, { thingId: 't1' }));
    assert.deepEqual(echoed.body, { thingId: 't1', nested: [{ keep: 1 }] });
  });

  it("refuses a caller's own callbackUrl with 400 while events are on, before anything is sent", async () => {
    const sent: ForwardInput[] = [];
    await assert.rejects(
      pipelineWith(true, sent).run(call(createThing, { name: 'x', callbackUrl: 'https://mine.example.com:443/cb' })),
      (err: unknown) => err instanceof GatewayError && err.code === 'VALIDATION_FAILED' && err.details?.[0]?.field === 'callbackUrl',
    );
    assert.equal(sent.length, 0);
  });

  it('changes nothing while events are off: a caller’s callbackUrl passes, the answer is the platform’s', async () => {
    const sent: ForwardInput[] = [];
    const answer = await pipelineWith(false, sent).run(call(createThing, { name: 'x', callbackUrl: 'https://mine.example.com:443/cb' }));
    assert.equal((sent[0]!.body as { callbackUrl: string }).callbackUrl, 'https://mine.example.com:443/cb');
    assert.equal((answer.body as { callbackUrl: string }).callbackUrl, 'https://mine.example.com:443/cb');
  });

  it('route checks: callbackUrl "body" needs a body sent by POST or PUT', () => {
    assert.deepEqual(checkRoutes([createThing, getThing]), []);
    const broken: RouteSpec = { ...getThing, id: 'testBroken', path: '/broken', platform: { ...getThing.platform, callbackUrl: 'body' } };
    assert.match(checkRoutes([broken]).join('\n'), /platform\.callbackUrl 'body' needs a route with a body/);
  });

  it('scrubs only the gateway’s URLs and returns the same object when nothing changes', () => {
    const mine = { callbackUrl: 'https://mine.example.com:443/cb', a: [1, { b: 2 }] };
    assert.equal(scrubCallbackUrls(mine, (u) => isGatewayCallbackUrl(BASE, u)), mine);
    assert.deepEqual(scrubCallbackUrls({ callbackurl: OURS, x: 1 }, (u) => isGatewayCallbackUrl(BASE, u)), { x: 1 });
    assert.ok(!isGatewayCallbackUrl(BASE, 'https://gw.example.com:8443.evil/callbacks/x'));
  });
});

describe('events: platform subscription plan', () => {
  const sub = (id: string, notifyType: string, callbackUrl = OURS): PlatformSubscription => ({ subscriptionId: id, notifyType, callbackUrl });

  it('reuses ours, adds what is missing, removes what nobody wants, leaves others’ alone', () => {
    const plan = planSubscriptions(
      [sub('1', 'deviceDataChanged'), sub('2', 'deviceDeleted'), sub('3', 'deviceAdded', 'https://other:1/x'), sub('4', 'deviceDataChanged')],
      ['deviceDataChanged', 'swUpgradeResultNotify', 'commandStatusChanged', 'deviceAdded'],
      OURS,
    );
    assert.deepEqual(plan, { add: ['deviceAdded', 'swUpgradeResultNotify'], remove: ['2', '4'], keep: ['deviceDataChanged'] });
  });

  it('property: after the plan, exactly the wanted subscribable types are ours, once each', () => {
    const types = ['deviceAdded', 'deviceDataChanged', 'deviceDeleted', 'swUpgradeResultNotify', 'fwUpgradeStateChangeNotify', 'commandStatusChanged'];
    fc.assert(
      fc.property(
        fc.array(fc.record({ t: fc.constantFrom(...types), ours: fc.boolean() }), { maxLength: 12 }),
        fc.subarray(types),
        (existing, wanted) => {
          const subs = existing.map((e, i) => sub(String(i), e.t, e.ours ? OURS : 'https://other:1/x'));
          const plan = planSubscriptions(subs, wanted, OURS);
          const after = [
            ...subs.filter((s) => s.callbackUrl === OURS && !plan.remove.includes(s.subscriptionId)).map((s) => s.notifyType),
            ...plan.add,
          ].sort();
          const expected = wanted.filter((t) => t !== 'commandStatusChanged').sort();
          assert.deepEqual(after, expected);
          for (const id of plan.remove) assert.equal(subs.find((s) => s.subscriptionId === id)?.callbackUrl, OURS);
        },
      ),
    );
  });

  it('backs off 1 s doubling to 5 min, or as the refusal says', () => {
    assert.deepEqual([1, 2, 3, 4].map((n) => retryDelay(n)), [1000, 2000, 4000, 8000]);
    assert.equal(retryDelay(30), 300_000);
    assert.equal(retryDelay(1, 7), 7000);
    fc.assert(fc.property(fc.integer({ min: 1, max: 100 }), (n) => retryDelay(n) >= 1000 && retryDelay(n) <= 300_000 && retryDelay(n + 1) >= retryDelay(n)));
  });

  it('describes its platform calls like routes (the forwarder’s input), none of them a /v1 route', () => {
    assert.deepEqual(checkRoutes(Object.values(SUBSCRIPTION_APIS)), []);
  });
});

describe('events: small parts of the wiring', () => {
  it('drops an upgrade task’s cached status on its subtasks’ progress and results, nothing else', async () => {
    assert.deepEqual(eventCacheTags('swUpgradeResultNotify', { operationId: 'op-1' }), upgradeEventTags('op-1'));
    assert.deepEqual(eventCacheTags('fwUpgradeStateChangeNotify', { operationId: 'op-2' }), upgradeEventTags('op-2'));
    assert.deepEqual(eventCacheTags('deviceDataChanged', { operationId: 'op-1' }), []);
    assert.deepEqual(eventCacheTags('swUpgradeResultNotify', {}), []);
    const seen: Array<[string, readonly string[]]> = [];
    await eventInvalidator(async (a, t) => void seen.push([a, t]))('app-a', 'swUpgradeResultNotify', { operationId: 'op-9' });
    assert.deepEqual(seen, [['app-a', upgradeEventTags('op-9')]]);
    await eventInvalidator(undefined)('app-a', 'swUpgradeResultNotify', { operationId: 'op-9' });
  });

  it('logs a callback path without its token, whatever answered it', () => {
    assert.equal(loggablePath('/callbacks/app-a/abcdef'), '/callbacks/app-a/[token]');
    assert.equal(loggablePath('/callbacks/app-a/abc/def'), '/callbacks/app-a/[token]');
    assert.equal(loggablePath('/callbacks/app-a'), '/callbacks/app-a');
    assert.equal(loggablePath('/v1/apps/a/packages'), '/v1/apps/a/packages');
  });
});

describe('events: what the store keeps of a push (raw webhooks deliver it)', () => {
  const TOKEN = 'TOKEN-of-app-a';

  it('keeps the text as received beside the compact form, which is the dedupe basis', () => {
    const text = '{ "notifyType": "deviceDataChanged",\n  "n": 12345678901234567890 }';
    const { compact, asReceived } = storedForms(text, JSON.parse(text) as Record<string, unknown>, TOKEN);
    assert.equal(asReceived, text);
    // The compact form cannot keep a 20-digit number (a double): only the text as received is the platform's.
    assert.equal(compact, '{"notifyType":"deviceDataChanged","n":12345678901234567000}');
  });

  it("keeps a push that names the gateway's callback only rewritten: its callbackUrl removed, the token nowhere", () => {
    const body = { deviceId: 'd1', commandId: 'c1', callbackUrl: OURS, result: { resultCode: 'SENT', note: `see ${OURS}` } };
    const { compact, asReceived } = storedForms(JSON.stringify(body), body, TOKEN);
    assert.equal(asReceived, undefined);
    assert.ok(!compact.includes(TOKEN));
    assert.deepEqual(JSON.parse(compact), { deviceId: 'd1', commandId: 'c1', result: { resultCode: 'SENT', note: `see ${BASE}/callbacks/app-a/[redacted]` } });
  });
});
