// Token timing policy: renewal deadline, login back-off, retry delay.
import assert from 'node:assert/strict';
import { loginBackoffMs, renewAt, retryDelayMs } from '../src/tokens/policy.js';

describe('token policy', () => {
  it('renews an hour-long token five minutes early', () => {
    assert.equal(renewAt(0, 3600), 3600_000 - 300_000);
  });
  it('renews a short token a tenth early, at least a second, never before half its life', () => {
    assert.equal(renewAt(0, 100), 90_000);
    assert.equal(renewAt(0, 4), 3000);
    assert.equal(renewAt(0, 1), 500);
  });
  it('backs off logins after refused credentials: 5 s doubling up to 5 min', () => {
    assert.deepEqual([1, 2, 3].map(loginBackoffMs), [5000, 10_000, 20_000]);
    assert.equal(loginBackoffMs(30), 300_000);
  });
  it('jitters retries between half and all of the exponential step, capped', () => {
    assert.equal(retryDelayMs(1, 0), 50);
    assert.equal(retryDelayMs(1, 0.999), 100);
    assert.equal(retryDelayMs(3, 0), 200);
    assert.equal(retryDelayMs(20, 0.5), 1500);
  });
});
