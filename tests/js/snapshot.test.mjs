// snapshot() / CircuitBreaker.restore(): the whole state survives JSON, on another clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CircuitBreaker } from "./pkg.mjs";

test("round trip through JSON keeps state, counters, window and failures, rebased on the new clock", async () => {
  let a = 5_000_000;
  const src = new CircuitBreaker({ failureThreshold: 2, timeoutSeconds: 60 }, { clock: () => a, wallClock: () => 42 });
  await src.execute(() => 1);
  for (let i = 0; i < 2; i++) await src.execute(() => Promise.reject(new RangeError("x"))).catch(() => {});
  a += 30_000;
  const snap = src.snapshot();
  assert.equal(snap.version, 1);
  const json = JSON.parse(JSON.stringify(snap));
  assert.deepEqual(json, snap, "plain, JSON-safe data");

  let b = 7; // another isolate, whose clock reads 7 ms
  const dst = CircuitBreaker.restore(json, { clock: () => b });
  assert.equal(dst.state, "open");
  assert.deepEqual(dst.metrics(), src.metrics());
  assert.deepEqual(dst.recentFailures(), src.recentFailures());
  assert.deepEqual(dst.config, src.config);
  assert.deepEqual(dst.snapshot(), snap);
  b += 29_999;
  await assert.rejects(dst.execute(() => 1), { code: "CIRCUIT_BREAKER_OPEN", retryAfterMs: 1 });
  b += 1;
  assert.equal(await dst.execute(() => "probe"), "probe");
  assert.equal(dst.state, "half_open");
});

test("restore refuses malformed snapshots naming the field", () => {
  const snap = new CircuitBreaker().snapshot();
  const bad = (patch) => ({ ...structuredClone(snap), ...patch });
  assert.throws(() => CircuitBreaker.restore(bad({ version: 2 })), { name: "RangeError", message: /snapshot\.version 2 is not supported/ });
  assert.throws(() => CircuitBreaker.restore(bad({ state: "ajar" })), { name: "TypeError", message: /snapshot\.state/ });
  assert.throws(() => CircuitBreaker.restore(bad({ counters: [1, 2] })), { name: "RangeError", message: /snapshot\.counters\.length/ });
  assert.throws(() => CircuitBreaker.restore(bad({ counters: [0, 0, -1, 0, 0, 0] })), { name: "RangeError", message: /snapshot\.counters\[2\]/ });
  assert.throws(() => CircuitBreaker.restore(bad({ surprise: 1 })), { name: "TypeError", message: /snapshot\.surprise is not a known field/ });
  assert.throws(() => CircuitBreaker.restore(bad({ config: { ...snap.config, recoveryFactor: 3 } })), {
    name: "RangeError",
    message: /snapshot\.config\.recoveryFactor/,
  });
  const noWindow = structuredClone(snap);
  delete noWindow.window;
  assert.throws(() => CircuitBreaker.restore(noWindow), { name: "TypeError", message: /snapshot\.window is missing/ });
  assert.throws(() => CircuitBreaker.restore("{}"), { name: "TypeError", message: /snapshot must be an object/ });
});

test("permits issued before a snapshot cannot move the restored breaker", () => {
  const src = new CircuitBreaker({ failureThreshold: 1 }, { clock: () => 0 });
  const old = src.tryAcquire();
  const dst = CircuitBreaker.restore(src.snapshot(), { clock: () => 0 });
  dst.onFailure(old, new Error("late"));
  assert.equal(dst.state, "closed");
  assert.equal(dst.metrics().failureCount, 1);
});
