// A refused call's CircuitBreakerError (issue 15: built without capturing a stack): it keeps
// its class, fields, message and the way it prints; its stack is the header line alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { CircuitBreaker, CircuitBreakerError, ErrorCode, ResilientCache } from "./pkg.mjs";

function manual(config) {
  const clock = { ms: 0 };
  const breaker = new CircuitBreaker(config, { clock: () => clock.ms, wallClock: () => 1000 });
  return { clock, breaker };
}

/** A breaker forced OPEN at 0 with a 10 s timeout, its clock at 2.5 s. */
function openAt2500() {
  const { clock, breaker } = manual({ timeoutSeconds: 10 });
  breaker.forceOpen();
  clock.ms = 2500;
  return breaker;
}

/** The same error as `e`, built by the public constructor with no stack frames. */
function constructedLike(e) {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const { code, retryAfterMs, state, operation } = e;
    return new CircuitBreakerError(e.message, { code, retryAfterMs, state, operation });
  } finally {
    Error.stackTraceLimit = limit;
  }
}

test("an OPEN refusal from execute, tryAcquire or the cache layer is a CircuitBreakerError with its fields and message", async () => {
  const breaker = openAt2500();
  const cache = new ResilientCache(new Map(), breaker, { gracefulDegradation: false });
  const refusals = [
    await breaker.execute(() => 1, "get").catch((e) => e),
    (() => {
      try {
        breaker.tryAcquire("get");
      } catch (e) {
        return e;
      }
    })(),
    await cache.get("k").catch((e) => e),
  ];
  for (const e of refusals) {
    assert.ok(e instanceof CircuitBreakerError && e instanceof Error);
    assert.equal(e.constructor, CircuitBreakerError);
    assert.equal(e.name, "CircuitBreakerError");
    assert.equal(e.code, ErrorCode.OPEN);
    assert.equal(e.retryAfterMs, 7500);
    assert.equal(e.state, "open");
    assert.equal(e.operation, "get");
    assert.equal(e.message, "Circuit breaker is OPEN: get refused, retry in 7500 ms [CIRCUIT_BREAKER_OPEN]");
    assert.equal(String(e), `CircuitBreakerError: ${e.message}`);
  }
  assert.equal(breaker.metrics().rejectedCount, 3);
});

test("a throttled refusal says so, with retryAfterMs 0", async () => {
  const { clock, breaker } = manual({ failureThreshold: 1, timeoutSeconds: 1 });
  breaker.forceOpen();
  clock.ms = 1000;
  let release;
  const probe = breaker.execute(() => new Promise((r) => (release = r)));
  const e = await breaker.execute(() => 1, "put").catch((x) => x);
  assert.ok(e instanceof CircuitBreakerError);
  assert.deepEqual(
    { code: e.code, retryAfterMs: e.retryAfterMs, state: e.state, operation: e.operation },
    { code: ErrorCode.THROTTLING, retryAfterMs: 0, state: "half_open", operation: "put" },
  );
  assert.equal(e.message, "Circuit breaker is HALF_OPEN and throttling: put refused [CIRCUIT_BREAKER_THROTTLING]");
  release(1);
  await probe;
});

test("a refusal prints, serialises and lists its keys as the constructed error does", async () => {
  const e = await openAt2500().execute(() => 1, "get").catch((x) => x);
  const c = constructedLike(e);
  assert.equal(inspect(e), inspect(c));
  assert.match(inspect(e), /^\[CircuitBreakerError: Circuit breaker is OPEN: get refused/);
  assert.equal(JSON.stringify(e), JSON.stringify(c));
  assert.deepEqual(Object.keys(e), Object.keys(c));
  assert.equal(Object.prototype.propertyIsEnumerable.call(e, "message"), false);
  assert.equal(Object.prototype.propertyIsEnumerable.call(e, "stack"), false);
});

test("a refusal's stack is its header line; message and stack can be replaced, one error at a time", async () => {
  const breaker = openAt2500();
  const a = await breaker.execute(() => 1, "get").catch((x) => x);
  const b = await breaker.execute(() => 1, "put").catch((x) => x);
  assert.equal(a.stack, `CircuitBreakerError: ${a.message}`);
  assert.doesNotMatch(a.stack, /\n\s+at /);
  a.message = "replaced";
  a.stack = "replaced stack";
  assert.equal(a.message, "replaced");
  assert.equal(a.stack, "replaced stack");
  assert.equal(String(a), "CircuitBreakerError: replaced");
  assert.match(b.message, /put refused/);
  assert.equal(b.stack, `CircuitBreakerError: ${b.message}`);
});

test("a CircuitBreakerError built by its constructor still captures its stack", () => {
  const e = new CircuitBreakerError("mine", { code: ErrorCode.OPEN, state: "open", operation: "x" });
  assert.equal(e.message, "mine");
  assert.equal(e.retryAfterMs, 0);
  assert.match(e.stack, /^CircuitBreakerError: mine\n\s+at /);
});
