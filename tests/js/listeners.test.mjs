// onStateChange: every transition reaches listeners, once, with from/to/reason/at; no timers:
// a timed transition is seen on the first access after it is due.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CircuitBreaker } from "./pkg.mjs";

test("listeners see a full trip and recovery, in order", async () => {
  let ms = 0;
  const b = new CircuitBreaker({ failureThreshold: 2, successThreshold: 1, timeoutSeconds: 1 }, { clock: () => ms });
  const seen = [];
  b.onStateChange((e) => seen.push(e));
  for (let i = 0; i < 2; i++) await b.execute(() => Promise.reject(new Error("x"))).catch(() => {});
  ms = 999;
  await b.execute(() => 1).catch(() => {});
  ms = 1000;
  assert.deepEqual(seen.map((e) => e.to), ["open"], "nothing happens until an access");
  await b.execute(() => 1);
  assert.deepEqual(seen, [
    { from: "closed", to: "open", reason: "failure_threshold", at: 0 },
    { from: "open", to: "half_open", reason: "timeout_elapsed", at: 1000 },
    { from: "half_open", to: "closed", reason: "probes_succeeded", at: 1000 },
  ]);
});

test("an event's time is the core's: the instant the change was made, not a later reading", () => {
  // A clock that moves on every reading: a time read again when the event is sent would differ.
  let ms = 0;
  const clock = () => (ms += 10);
  const b = new CircuitBreaker({ failureThreshold: 1, timeoutSeconds: 1 }, { clock });
  const seen = [];
  b.onStateChange((e) => seen.push(e));
  b.onFailure(b.tryAcquire(), new Error("down")); // created at 10, admitted at 20, failed at 30
  ms = 2000;
  b.onSuccess(b.tryAcquire()); // admitted (and moved to HALF_OPEN) at 2010
  assert.deepEqual(
    seen.map((e) => [e.to, e.at]),
    [
      ["open", 30],
      ["half_open", 2010],
    ],
  );
});

test("commands notify too; no-op commands do not", () => {
  const b = new CircuitBreaker();
  const reasons = [];
  b.onStateChange((e) => reasons.push(e.reason));
  b.forceClosed();
  b.forceOpen();
  b.forceOpen();
  b.reset();
  b.reset();
  assert.deepEqual(reasons, ["forced_open", "reset"]);
});

test("unsubscribe stops delivery; several listeners each get the event", () => {
  const b = new CircuitBreaker();
  const a = [];
  const c = [];
  const off = b.onStateChange((e) => a.push(e.to));
  b.onStateChange((e) => c.push(e.to));
  b.forceOpen();
  off();
  b.forceClosed();
  assert.deepEqual(a, ["open"]);
  assert.deepEqual(c, ["open", "closed"]);
});

test("a throwing listener does not change the call's outcome nor stop other listeners; it is reported", async (t) => {
  const reported = [];
  t.mock.method(console, "error", (...args) => reported.push(args));
  const b = new CircuitBreaker({ failureThreshold: 1 });
  b.onStateChange(() => {
    throw new Error("listener bug");
  });
  const after = [];
  b.onStateChange((e) => after.push(e.to));
  await assert.rejects(b.execute(() => Promise.reject(new Error("real"))), /real/);
  assert.equal(b.state, "open");
  assert.deepEqual(after, ["open"]);
  assert.equal(reported.length, 1);
  assert.match(reported[0][1].message, /listener bug/);
});
