// Bad input is refused with a TypeError (wrong shape or type) or a RangeError (out of bounds)
// whose message names the field as the caller wrote it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CircuitBreaker, ResilientCache } from "./pkg.mjs";

const refused = (fn, type, pattern) =>
  assert.throws(fn, (e) => {
    assert.ok(e instanceof type, `${e} should be a ${type.name}`);
    assert.match(e.message, pattern);
    return true;
  });

test("a config that is not an object is a TypeError", () => {
  for (const bad of [5, "x", true, [1], () => {}]) {
    refused(() => new CircuitBreaker(bad), TypeError, /^config must be an object/);
  }
  assert.doesNotThrow(() => new CircuitBreaker(undefined).dispose());
  assert.doesNotThrow(() => new CircuitBreaker(null).dispose());
});

test("an unknown config key is a TypeError naming it as written", () => {
  refused(() => new CircuitBreaker({ failureTreshold: 3 }), TypeError, /^config\.failureTreshold is not a known field/);
  refused(() => new CircuitBreaker({ failure_threshold: 3 }), TypeError, /config\.failure_threshold/);
});

test("an ill-typed field is a TypeError naming it", () => {
  refused(() => new CircuitBreaker({ failureThreshold: "5" }), TypeError, /^config\.failureThreshold must be a number, got string/);
  refused(() => new CircuitBreaker({ gradualRecovery: 1 }), TypeError, /^config\.gradualRecovery must be a boolean/);
  refused(() => new CircuitBreaker({ timeoutSeconds: null }), TypeError, /^config\.timeoutSeconds must be a number, got null/);
  refused(() => new CircuitBreaker({ timeoutSeconds: 10n }), TypeError, /config\.timeoutSeconds must be a number, got bigint/);
});

test("NaN, negative, zero and huge durations are RangeErrors naming the field", () => {
  for (const bad of [NaN, -1, 0, Infinity, 1e300, 4e9]) {
    refused(() => new CircuitBreaker({ timeoutSeconds: bad }), RangeError, /^config\.timeoutSeconds must be finite, > 0 and at most 100 years, got /);
    refused(() => new CircuitBreaker({ rollingWindowSeconds: bad }), RangeError, /^config\.rollingWindowSeconds /);
    refused(() => new CircuitBreaker({ probeLeaseSeconds: bad }), RangeError, /^config\.probeLeaseSeconds /);
  }
});

test("counts must be whole numbers; zero thresholds and factors out of [0.001, 1] are RangeErrors in the core's words", () => {
  refused(() => new CircuitBreaker({ failureThreshold: 2.5 }), RangeError, /^config\.failureThreshold must be an integer/);
  refused(() => new CircuitBreaker({ successThreshold: -1 }), RangeError, /^config\.successThreshold /);
  refused(() => new CircuitBreaker({ failureThreshold: 0 }), RangeError, /^config\.failureThreshold must be at least 1, got 0/);
  refused(() => new CircuitBreaker({ recoveryFactor: 1.5 }), RangeError, /^config\.recoveryFactor must be in \[0\.001, 1\] \(at least one probe per 1000 half-open calls, so the circuit can close\), got 1\.5$/);
  refused(() => new CircuitBreaker({ halfOpenMaxInFlight: 0 }), RangeError, /^config\.halfOpenMaxInFlight /);
});

test("setConfig refuses bad input and changes nothing", () => {
  const b = new CircuitBreaker({ failureThreshold: 2 });
  refused(() => b.setConfig({ timeoutSeconds: -5 }), RangeError, /config\.timeoutSeconds/);
  refused(() => b.setConfig("x"), TypeError, /config must be an object/);
  assert.equal(b.config.failureThreshold, 2);
});

test("options are checked: unknown keys and non-function clocks are TypeErrors", () => {
  refused(() => new CircuitBreaker({}, { clok: () => 0 }), TypeError, /options\.clok is not a known option/);
  refused(() => new CircuitBreaker({}, { clock: 5 }), TypeError, /options\.clock must be a function/);
  refused(() => new CircuitBreaker({}, { wallClock: "now" }), TypeError, /options\.wallClock must be a function/);
  refused(() => new CircuitBreaker({}, 7), TypeError, /options must be an object/);
});

test("execute needs a function, and says so in the promise it returns", async () => {
  const b = new CircuitBreaker();
  for (const bad of [undefined, null, 42, "fn", {}, Promise.resolve(1)]) {
    await assert.rejects(b.execute(bad), { name: "TypeError", message: /^execute: fn must be a function/ });
  }
  refused(() => b.onStateChange("nope"), TypeError, /listener must be a function/);
});

test("ResilientCache checks its cache, breaker and options", () => {
  refused(() => new ResilientCache({}), TypeError, /cache must have a get or match method/);
  refused(() => new ResilientCache(new Map(), {}), TypeError, /breaker must be a CircuitBreaker/);
  refused(() => new ResilientCache(new Map(), undefined, { gracefulDegradation: "yes" }), TypeError, /gracefulDegradation/);
});
