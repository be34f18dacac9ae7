// The platform circuit breaker's state machine.
import assert from 'node:assert/strict';
import { CircuitBreaker } from '../src/platform/breaker.js';

describe('circuit breaker', () => {
  it('opens after consecutive failures, fails fast, then lets one probe through after the cooldown', () => {
    const b = new CircuitBreaker({ failures: 3, cooldownMs: 1000 });
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(b.check(0), { pass: true, probe: false });
      b.failure(0);
    }
    assert.equal(b.state, 'open');
    assert.deepEqual(b.check(400), { pass: false, retryAfterMs: 600 });
    assert.deepEqual(b.check(1000), { pass: true, probe: true });
    // While the probe is out, others still fail fast.
    assert.equal(b.check(1001).pass, false);
    b.success();
    assert.equal(b.state, 'closed');
    assert.deepEqual(b.check(1002), { pass: true, probe: false });
  });

  it('re-opens when the probe fails, and a success resets the count', () => {
    const b = new CircuitBreaker({ failures: 2, cooldownMs: 100 });
    b.failure(0);
    b.success();
    b.failure(0);
    assert.equal(b.state, 'closed');
    b.failure(0);
    assert.equal(b.state, 'open');
    assert.equal(b.check(100).pass, true);
    b.failure(150);
    assert.equal(b.state, 'open');
    assert.equal(b.check(200).pass, false);
    assert.equal(b.check(250).pass, true);
  });

  it('hands the probe on when a probe ended without an answer', () => {
    const b = new CircuitBreaker({ failures: 1, cooldownMs: 10 });
    b.failure(0);
    assert.equal(b.check(10).pass, true);
    b.release();
    assert.deepEqual(b.check(11), { pass: true, probe: true });
  });
});
