// A clean stop is not an outage: the gateway's own Redis close at shutdown logs no `redis unavailable` warning.
import assert from 'node:assert/strict';
import { closeAll, startStack, waitFor, type Stack } from './helpers/fixtures.js';

describe('redis connection: deliberate close', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    if (stack) await closeAll(stack.sim, stack.redis);
    stack = undefined;
  });

  it('closing the gateway logs the close at info, and no redis unavailable warning', async () => {
    stack = await startStack();
    assert.ok(stack.gw.logs.some((l) => l.includes('redis connected')), 'connected first');
    await stack.gw.close();
    // quit() resolves on Redis' OK; the socket's close and end follow a moment later.
    await waitFor(() => stack!.gw.logs.filter((l) => l.includes('"msg":"redis connection closed"')).length === 2, 3000, 'both connections to end');
    const after = stack.gw.logs.join('');
    assert.doesNotMatch(after, /redis unavailable/, 'a clean close was reported as an outage');
  });

  it('a Redis that goes away while the gateway runs is still a warning', async function () {
    this.timeout(20_000);
    stack = await startStack({ ownRedis: true });
    await stack.redis.stop();
    try {
      await waitFor(() => stack!.gw.logs.some((l) => l.includes('redis unavailable')), 5000, 'an outage to be warned about');
    } finally {
      await stack.gw.close();
      await stack.redis.start();
    }
  });
});
