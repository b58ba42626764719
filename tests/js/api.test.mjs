// The CircuitBreaker API on an injected clock: execute with sync and async functions,
// refusals as CircuitBreakerError, commands, getters, config.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CircuitBreaker, CircuitBreakerError, ErrorCode } from "./pkg.mjs";

function manual(config) {
  const clock = { ms: 0 };
  const breaker = new CircuitBreaker(config, { clock: () => clock.ms, wallClock: () => 1000 + clock.ms / 1000 });
  return { clock, breaker };
}
const boom = () => {
  throw new Error("cache down");
};

test("execute returns the result of sync and async functions and counts successes", async () => {
  const { breaker } = manual();
  assert.equal(await breaker.execute(() => 1, "get"), 1);
  assert.equal(await breaker.execute(async () => 2, "get"), 2);
  assert.equal(await breaker.execute(() => Promise.resolve(3)), 3);
  const m = breaker.metrics();
  assert.equal(m.successCount, 3);
  assert.equal(m.totalOperations, 3);
  assert.equal(breaker.state, "closed");
});

test("execute rethrows the function's own error, sync or async, and records it", async () => {
  const { breaker } = manual();
  await assert.rejects(breaker.execute(boom, "put"), /cache down/);
  await assert.rejects(breaker.execute(async () => Promise.reject(new TypeError("bad"))), TypeError);
  const [a, b] = breaker.recentFailures();
  assert.deepEqual(a, { timestamp: 1000, errorType: "Error", errorMessage: "cache down", operation: "put" });
  assert.equal(b.errorType, "TypeError");
  assert.equal(b.operation, "execute");
  assert.equal(breaker.metrics().consecutiveFailures, 2);
});

test("opens after failureThreshold consecutive failures and refuses with CIRCUIT_BREAKER_OPEN", async () => {
  const { clock, breaker } = manual({ failureThreshold: 3, timeoutSeconds: 10 });
  for (let i = 0; i < 3; i++) await assert.rejects(breaker.execute(boom));
  assert.equal(breaker.state, "open");
  assert.ok(breaker.isOpen() && !breaker.isClosed() && !breaker.isHalfOpen());
  clock.ms = 4000;
  let called = false;
  const err = await breaker
    .execute(() => {
      called = true;
    }, "get")
    .catch((e) => e);
  assert.equal(called, false);
  assert.ok(err instanceof CircuitBreakerError);
  assert.equal(err.code, ErrorCode.OPEN);
  assert.equal(err.code, "CIRCUIT_BREAKER_OPEN");
  assert.equal(err.retryAfterMs, 6000);
  assert.equal(err.operation, "get");
  assert.match(err.message, /CIRCUIT_BREAKER_OPEN/);
  assert.equal(breaker.metrics().rejectedCount, 1);
});

test("half-open throttles with CIRCUIT_BREAKER_THROTTLING and closes after successThreshold probes", async () => {
  const { clock, breaker } = manual({ failureThreshold: 1, successThreshold: 2, timeoutSeconds: 1 });
  await assert.rejects(breaker.execute(boom));
  clock.ms = 1000;
  assert.equal(breaker.state, "open", "state has no side effects");
  assert.equal(await breaker.execute(() => "probe 1"), "probe 1");
  assert.equal(breaker.state, "half_open");
  const throttled = await breaker.execute(() => "no").catch((e) => e);
  assert.equal(throttled.code, ErrorCode.THROTTLING);
  assert.equal(await breaker.execute(() => "probe 2"), "probe 2");
  assert.equal(breaker.state, "closed");
  assert.equal(breaker.metrics().stateChanges, 3);
});

test("a function that is slow to settle holds its permit; outcomes may arrive out of order", async () => {
  const { breaker } = manual({ failureThreshold: 2 });
  let release;
  const slow = breaker.execute(() => new Promise((r) => (release = r)));
  await assert.rejects(breaker.execute(boom));
  release("late");
  assert.equal(await slow, "late");
  assert.equal(breaker.metrics().consecutiveFailures, 0);
});

test("forceOpen, forceClosed, reset and isCallPermitted", () => {
  const { clock, breaker } = manual({ timeoutSeconds: 2 });
  breaker.forceOpen();
  assert.equal(breaker.state, "open");
  assert.equal(breaker.isCallPermitted(), false);
  clock.ms = 2000;
  assert.equal(breaker.isCallPermitted(), true, "the timeout applies on access");
  assert.equal(breaker.state, "half_open");
  breaker.forceClosed();
  assert.equal(breaker.state, "closed");
  breaker.reset();
  assert.equal(breaker.metrics().stateChanges, 0);
});

test("low-level tryAcquire / onSuccess / onFailure / onNeutral", () => {
  const { breaker } = manual({ failureThreshold: 1 });
  const p = breaker.tryAcquire("get");
  assert.equal(p.probe, false);
  assert.equal(CircuitBreaker.isProbe(p), false);
  breaker.onNeutral(p);
  assert.equal(breaker.metrics().neutralCount, 1);
  breaker.onFailure(breaker.tryAcquire(), "a string error", "get");
  assert.equal(breaker.recentFailures()[0].errorType, "string");
  assert.throws(() => breaker.tryAcquire(), CircuitBreakerError);
});

test("config reads back in full, and setConfig replaces it live", async () => {
  const { clock, breaker } = manual({ failureThreshold: 1, timeoutSeconds: 60 });
  assert.deepEqual(breaker.config, {
    failureThreshold: 1,
    successThreshold: 3,
    timeoutSeconds: 60,
    rollingWindowSeconds: 300,
    windowBuckets: 60,
    gradualRecovery: true,
    recoveryFactor: 0.5,
    maxRecentFailures: 50,
    maxMessageBytes: 256,
    halfOpenMaxInFlight: null,
    probeLeaseSeconds: null,
    failureRateThreshold: null,
    minimumCalls: 20,
    slowCallDurationSeconds: null,
    slowCallRateThreshold: 1,
    openBackoffMultiplier: 1,
    maxTimeoutSeconds: null,
    jitter: 0,
    jitterSeed: null,
    rampSeconds: 0,
    failureWeights: {},
  });
  await assert.rejects(breaker.execute(boom));
  clock.ms = 500;
  breaker.setConfig({ ...breaker.config, timeoutSeconds: 0.5 });
  assert.equal(await breaker.execute(() => "ok"), "ok", "the new timeout counts from entering OPEN");
});

test("the default clock is performance.now and the default wall clock Date.now", async () => {
  const breaker = new CircuitBreaker({ failureThreshold: 1 });
  const before = Date.now() / 1000;
  await assert.rejects(breaker.execute(boom));
  const [f] = breaker.recentFailures();
  assert.ok(f.timestamp >= before - 1 && f.timestamp <= Date.now() / 1000 + 1);
  assert.ok(breaker.metrics().timeInCurrentStateMs >= 0);
});

test("dispose frees the breaker; later calls throw", () => {
  const { breaker } = manual();
  breaker.dispose();
  breaker.dispose();
  assert.throws(() => breaker.state, /disposed/);
});
