// The health report, readiness and transition counts through the JS API, on an injected
// clock (the rules themselves are the core's, replayed from tests/vectors/health/ by
// health_vectors.test.mjs); and bad input naming the argument as written in JS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CircuitBreaker, ResilientCache, readiness } from "./pkg.mjs";

function breakerAt(config) {
  const clock = { ms: 0 };
  const breaker = new CircuitBreaker(config, { clock: () => clock.ms });
  return [breaker, clock];
}

test("readiness is 503 while OPEN under the default policy and 200 once HALF_OPEN", () => {
  const [b, clock] = breakerAt({ failureThreshold: 1, timeoutSeconds: 10 });
  assert.deepEqual(b.readiness().status, 200);
  b.forceOpen();
  const r = b.readiness();
  assert.equal(r.status, 503);
  assert.equal(r.body.ready, false);
  assert.equal(r.body.unreadyWhen, "open");
  assert.equal(r.body.figures.state, "open");
  clock.ms = 10_000;
  b.poll();
  assert.equal(b.readiness().status, 200, "half-open serves again");
  b.dispose();
});

test("the critical and warning policies follow the report's status", () => {
  const [b, clock] = breakerAt({ failureThreshold: 1, timeoutSeconds: 1000 });
  b.forceOpen();
  clock.ms = 300_000;
  assert.equal(b.readiness("critical").status, 200, "300 s open is not above 300");
  clock.ms = 300_001;
  assert.equal(b.readiness("critical").status, 503);
  assert.equal(b.readiness("critical", { criticalOpenSeconds: 600 }).status, 200, "thresholds are the caller's");
  b.forceClosed();
  assert.equal(b.readiness("warning").status, 200);
  b.dispose();
});

test("health() lists the firing alert with its value and threshold, in camelCase figures", () => {
  const [b, clock] = breakerAt({ failureThreshold: 1000 });
  for (let i = 0; i < 3; i++) b.onFailure(b.tryAcquire(), new Error("down"));
  b.onSuccess(b.tryAcquire());
  clock.ms = 1;
  const h = b.health({ warningFailureRate: 0.5, criticalFailureRate: 0.8 });
  assert.equal(h.status, "warning");
  assert.deepEqual(h.alerts, [{ rule: "warning_failure_rate", severity: "warning", value: 0.75, threshold: 0.5 }]);
  assert.deepEqual(Object.keys(h.figures), [
    "state",
    "timeInStateSeconds",
    "failureRate",
    "windowCalls",
    "stateChangesLastHour",
    "recoveryAttempts",
  ]);
  assert.equal(h.figures.windowCalls, 4);
  b.dispose();
});

test("transitionCounts counts every kind the core counts, zeros included, until reset", () => {
  const [b, clock] = breakerAt({ failureThreshold: 1, timeoutSeconds: 1, successThreshold: 1, gradualRecovery: false });
  b.onFailure(b.tryAcquire(), new Error("down"));
  clock.ms = 1000;
  b.onSuccess(b.tryAcquire());
  const counts = b.transitionCounts();
  assert.equal(counts.length, 10);
  const n = (from, to, reason) => counts.find((c) => c.from === from && c.to === to && c.reason === reason)?.count;
  assert.equal(n("closed", "open", "failure_threshold"), 1);
  assert.equal(n("open", "half_open", "timeout_elapsed"), 1);
  assert.equal(n("half_open", "closed", "probes_succeeded"), 1);
  assert.equal(n("half_open", "open", "probe_failed"), 0);
  b.reset();
  assert.ok(b.transitionCounts().every((c) => c.count === 0));
  b.dispose();
});

test("readiness() of many named breakers is ready only if every one is", () => {
  const a = new CircuitBreaker();
  const b = new CircuitBreaker();
  const cache = new ResilientCache(new Map(), b);
  assert.equal(readiness({ a, cache }).status, 200);
  b.forceOpen();
  const r = readiness(new Map([["a", a], ["cache", cache]]));
  assert.equal(r.status, 503);
  assert.deepEqual(Object.keys(r.body), ["ready", "unreadyWhen", "breakers"]);
  assert.equal(r.body.breakers.a.ready, true);
  assert.equal(r.body.breakers.cache.ready, false);
  assert.equal(readiness(cache).status, 503, "a cache alone: its breaker");
  a.dispose();
  b.dispose();
});

test("bad thresholds and policies are refused naming the argument", () => {
  const b = new CircuitBreaker();
  const cases = [
    [() => b.health({ criticalOpenSeconds: -1 }), RangeError, "thresholds.criticalOpenSeconds must be a number >= 0, got -1"],
    [() => b.health({ warningHalfOpenSeconds: NaN }), RangeError, "thresholds.warningHalfOpenSeconds must be a finite number, got NaN"],
    [() => b.health({ criticalFailureRate: 1.5 }), RangeError, "thresholds.criticalFailureRate must be a failure rate, at most 1, got 1.5"],
    [() => b.health({ criticalOpenMinutes: 5 }), TypeError, "thresholds.criticalOpenMinutes is not a known field"],
    [() => b.health({ critical_open_seconds: 5 }), TypeError, "thresholds.critical_open_seconds is not a known field"],
    [() => b.health({ criticalOpenSeconds: "300" }), TypeError, "thresholds.criticalOpenSeconds must be a number, got string"],
    [() => b.health(5), TypeError, "thresholds must be an object, got number"],
    [() => b.readiness("closed"), RangeError, 'unreadyWhen must be one of open, critical, warning, got "closed"'],
    [() => b.readiness(1), TypeError, "unreadyWhen must be one of open, critical, warning, got number"],
    [() => readiness(b, { unreadyWhen: "never" }), RangeError, 'options.unreadyWhen must be one of open, critical, warning, got "never"'],
    [() => readiness(b, { thresholds: { warningRecoveryAttempts: -2 } }), RangeError, "options.thresholds.warningRecoveryAttempts must be a number >= 0, got -2"],
    [() => readiness(b, { policy: "open" }), TypeError, "options.policy is not a known option"],
    [() => readiness({ a: {} }), TypeError, 'target["a"] must be a CircuitBreaker or a ResilientCache, got object'],
    [() => readiness([["a", b], ["a", b]]), RangeError, 'target: a breaker is already registered under the name "a"'],
  ];
  for (const [f, type, message] of cases) assert.throws(f, (e) => e instanceof type && e.message === message, message);
  b.dispose();
  assert.throws(() => b.health(), /disposed/);
});
