// Hostile and clumsy input (issue 10): every bad argument gets a clear error naming it, and
// nothing is lost, leaked or stuck: not a breaker, not an outcome, not a half-open probe slot.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CircuitBreaker, ResilientCache, __panicForTest, __throwForTest } from "./pkg.mjs";
import { liveHandles } from "../../bindings-wasm/js/pkg/fact_resilience_wasm.js";

const liveBreakers = () => liveHandles().length;

/** A breaker on a manual clock; `wall` is the wall clock's reading (epoch seconds). */
function manual(config, wallClock = () => 1000) {
  const clock = { ms: 0 };
  const breaker = new CircuitBreaker(config, { clock: () => clock.ms, wallClock });
  return { clock, breaker };
}

/** A HALF_OPEN breaker that admits one probe at a time: a leaked probe slot throttles every later call. */
function halfOpenOneSlot(wallClock) {
  const { clock, breaker } = manual(
    { failureThreshold: 1, timeoutSeconds: 1, halfOpenMaxInFlight: 1, recoveryFactor: 1, successThreshold: 2 },
    wallClock,
  );
  breaker.forceOpen();
  clock.ms = 1000;
  return { clock, breaker };
}

/** Runs `f` with `globalThis.reportError` captured; returns what was reported. */
async function capturingReports(f) {
  const reported = [];
  const saved = globalThis.reportError;
  globalThis.reportError = (e) => reported.push(e);
  try {
    await f();
  } finally {
    globalThis.reportError = saved;
  }
  return reported;
}

const hostileObjects = {
  "an object whose name getter throws": {
    get name() {
      throw new Error("no name for you");
    },
  },
  "a Proxy that throws on every trap": new Proxy(
    {},
    {
      get() {
        throw new Error("trap");
      },
      getPrototypeOf() {
        throw new Error("trap");
      },
      has() {
        throw new Error("trap");
      },
    },
  ),
};

for (const [what, hostile] of Object.entries(hostileObjects)) {
  test(`execute rejects with ${what} thrown by fn, records the failure and frees the probe slot`, async () => {
    const { clock, breaker } = halfOpenOneSlot();
    const p = breaker.execute(() => {
      throw hostile;
    });
    assert.ok(p instanceof Promise);
    // Kept aside, not resolved with: resolving reads `then`, and the Proxy throws at every look.
    let outcome = "resolved";
    await p.catch((e) => {
      outcome = e;
    });
    assert.ok(outcome === hostile, "rejected with the very object fn threw");
    assert.equal(breaker.state, "open", "the failed probe re-opened the circuit");
    const m = breaker.metrics();
    assert.equal(m.failureCount, 1);
    assert.equal(breaker.recentFailures()[0].errorType, "Error");
    clock.ms = 2000;
    assert.equal(await breaker.execute(() => "next probe"), "next probe");
  });
}

test("execute rejects when a thenable's then throws, and records the failure", async () => {
  const { clock, breaker } = halfOpenOneSlot();
  const bad = new Error("then exploded");
  const p = breaker.execute(() => ({
    then() {
      throw bad;
    },
  }));
  assert.ok(p instanceof Promise);
  await assert.rejects(p, (e) => e === bad);
  assert.equal(breaker.metrics().failureCount, 1);
  assert.equal(breaker.state, "open");
  clock.ms = 2000;
  assert.equal(await breaker.execute(() => 1), 1, "the probe slot was freed");
});

test("execute rejects a non-string operation name with a TypeError, admitting nothing", async () => {
  const { breaker } = halfOpenOneSlot();
  let called = false;
  for (const bad of [Symbol("op"), 42, { toString: () => "x" }]) {
    const p = breaker.execute(() => {
      called = true;
    }, bad);
    assert.ok(p instanceof Promise);
    await assert.rejects(p, { name: "TypeError", message: /^execute: operationName must be a string, got (symbol|number|object)/ });
  }
  assert.equal(called, false);
  assert.equal(breaker.metrics().halfOpenAdmitted, 0);
  assert.equal(await breaker.execute(() => "probe", "get"), "probe", "no probe slot was taken");
  assert.throws(() => breaker.tryAcquire(Symbol("op")), { name: "TypeError", message: /tryAcquire: operationName/ });
});

test("execute with a throwing wall clock rejects with fn's own error, records it and reports the clock", async () => {
  const clockBroke = new Error("wall clock broke");
  const { clock, breaker } = halfOpenOneSlot(() => {
    throw clockBroke;
  });
  const original = new Error("cache down");
  const before = Date.now() / 1000;
  const reported = await capturingReports(async () => {
    await assert.rejects(
      breaker.execute(() => {
        throw original;
      }),
      (e) => e === original,
    );
  });
  assert.deepEqual(reported, [clockBroke]);
  assert.equal(breaker.state, "open");
  const [record] = breaker.recentFailures();
  assert.equal(record.errorMessage, "cache down");
  assert.ok(record.timestamp >= before - 1, "stamped with Date.now() instead");
  clock.ms = 2000;
  const reportedAgain = await capturingReports(async () => {
    assert.equal(await breaker.execute(() => "ok"), "ok");
  });
  assert.deepEqual(reportedAgain, [], "a success reads no wall clock");
});

test("execute always returns a promise: a non-function fn and a failing clock reject", async () => {
  const { breaker } = manual();
  for (const bad of [undefined, null, 42, "fn", {}]) {
    const p = breaker.execute(bad);
    assert.ok(p instanceof Promise);
    await assert.rejects(p, { name: "TypeError", message: /^execute: fn must be a function/ });
  }
  const broken = new CircuitBreaker(undefined, { clock: () => 0 });
  broken._clock = () => {
    throw new Error("clock gone");
  };
  await assert.rejects(broken.execute(() => 1), /clock gone/);
});

test("a thenable resolves to the value it passes, as await would", async () => {
  const { breaker } = manual();
  assert.equal(
    await breaker.execute(() => ({
      then(ok) {
        ok(42);
      },
    })),
    42,
  );
  assert.equal(breaker.metrics().successCount, 1);
});

test("a thenable that calls back three times counts one success and cannot close the circuit", async () => {
  const { breaker } = halfOpenOneSlot();
  const value = await breaker.execute(() => ({
    then(ok, fail) {
      ok(1);
      ok(2);
      fail(new Error("late"));
      ok(3);
    },
  }));
  assert.equal(value, 1);
  const m = breaker.metrics();
  assert.equal(m.successCount, 1);
  assert.equal(m.failureCount, 0);
  assert.equal(m.halfOpenSuccesses, 1);
  assert.equal(breaker.state, "half_open", "successThreshold is 2");
});

test("a permit is spent by its first report; a second report throws and counts nothing", () => {
  const { breaker } = manual();
  const p = breaker.tryAcquire("get");
  assert.equal(p.reported, false);
  breaker.onSuccess(p);
  assert.equal(p.reported, true);
  for (const report of [() => breaker.onSuccess(p), () => breaker.onFailure(p, new Error("x")), () => breaker.onNeutral(p)]) {
    assert.throws(report, { name: "Error", message: /this permit's outcome was already reported/ });
  }
  const m = breaker.metrics();
  assert.deepEqual([m.successCount, m.failureCount, m.neutralCount], [1, 0, 0]);
});

test("anything but a permit from tryAcquire is a TypeError naming the argument", () => {
  const { breaker } = manual();
  const real = breaker.tryAcquire();
  for (const forged of [NaN, -1, 0, 2, "abc", null, undefined, {}, { bits: 0 }, Object.create(Object.getPrototypeOf(real))]) {
    assert.throws(() => breaker.onSuccess(forged), { name: "TypeError", message: /^onSuccess: permit must be a permit from tryAcquire/ });
    assert.throws(() => breaker.onFailure(forged, new Error("x")), { name: "TypeError", message: /^onFailure: permit/ });
    assert.throws(() => breaker.onNeutral(forged), { name: "TypeError", message: /^onNeutral: permit/ });
    assert.throws(() => CircuitBreaker.isProbe(forged), { name: "TypeError", message: /^isProbe: permit/ });
  }
  assert.throws(() => new real.constructor(Symbol("fact-resilience permit"), 0), TypeError);
  const m = breaker.metrics();
  assert.deepEqual([m.successCount, m.failureCount, m.neutralCount], [0, 0, 0]);
  breaker.onSuccess(real);
  assert.equal(breaker.metrics().successCount, 1);
});

test("a snapshot survives JSON when the wall clock returned NaN", async () => {
  const { breaker } = manual({ failureThreshold: 5 }, () => NaN);
  const reported = await capturingReports(() => breaker.execute(() => Promise.reject(new Error("x"))).catch(() => {}));
  assert.equal(reported.length, 1);
  assert.ok(reported[0] instanceof RangeError);
  assert.match(reported[0].message, /^options\.wallClock must return a finite number of seconds/);
  const json = JSON.parse(JSON.stringify(breaker.snapshot()));
  const back = CircuitBreaker.restore(json, { clock: () => 0 });
  assert.equal(back.metrics().failureCount, 1);
  assert.ok(Number.isFinite(back.recentFailures()[0].timestamp));
});

test("a failure record whose stamp JSON turned into null restores as NaN", () => {
  const { breaker } = manual();
  breaker.onFailure(breaker.tryAcquire(), new Error("x"));
  const snap = JSON.parse(JSON.stringify(breaker.snapshot()));
  snap.recentFailures[0].timestamp = null;
  snap.lastFailureTime = null;
  const back = CircuitBreaker.restore(snap, { clock: () => 0 });
  assert.ok(Number.isNaN(back.recentFailures()[0].timestamp));
  const again = CircuitBreaker.restore(JSON.parse(JSON.stringify(back.snapshot())), { clock: () => 0 });
  assert.equal(again.recentFailures().length, 1);
});

test("restore refuses half-open counters that could never close the circuit, naming the field", () => {
  const { breaker } = halfOpenOneSlot();
  breaker.onNeutral(breaker.tryAcquire());
  const snap = JSON.parse(JSON.stringify(breaker.snapshot()));
  assert.equal(snap.state, "half_open");
  const bad = (patch) => () => CircuitBreaker.restore({ ...structuredClone(snap), ...patch });
  const gradual = { config: { ...snap.config, recoveryFactor: 0.5 } };
  assert.throws(bad({ ...gradual, halfOpen: [0, 4294967295, 0] }), { name: "RangeError", message: /^snapshot\.halfOpen\[1\] \(admitted probes\) must leave room for another probe .* got 4294967295$/ });
  assert.throws(bad({ halfOpen: [1, 1, 2] }), { name: "RangeError", message: /^snapshot\.halfOpen\[2\] \(probe successes\) must be at most snapshot\.halfOpen\[1\] \(admitted probes, 1\), got 2$/ });
  assert.throws(bad({ state: "closed", halfOpen: [1, 1, 0] }), { name: "RangeError", message: /^snapshot\.halfOpen must be \[0, 0, 0\]/ });
  assert.throws(bad({ window: [[0, 1, 0], [1, 1, 3]] }), { name: "RangeError", message: /^snapshot\.window bucket of age 1 must have at most its calls \(1\) as failures, got 3$/ });
  const before = liveBreakers();
  assert.throws(bad({ halfOpen: [1, 1, 2] }));
  assert.equal(liveBreakers(), before);
  const fine = CircuitBreaker.restore(snap, { clock: () => 0 });
  assert.equal(fine.state, "half_open");
});

test("a clock that returns NaN, a string or a negative number is refused naming options.clock", async () => {
  for (const [reading, type] of [
    [NaN, RangeError],
    [Infinity, RangeError],
    [-1, RangeError],
    ["12", TypeError],
    [undefined, TypeError],
  ]) {
    assert.throws(() => new CircuitBreaker({}, { clock: () => reading }), (e) => {
      assert.ok(e instanceof type, `${String(reading)}: ${e}`);
      assert.match(e.message, /^options\.clock must return a (finite )?number of milliseconds/);
      return true;
    });
  }
  // A clock that goes bad later: every call that reads it says so, and the state is untouched.
  let reading = 0;
  const b = new CircuitBreaker({ failureThreshold: 1, timeoutSeconds: 1 }, { clock: () => reading });
  b.forceOpen();
  reading = NaN;
  await assert.rejects(b.execute(() => 1), { name: "RangeError", message: /options\.clock .* got NaN/ });
  assert.throws(() => b.tryAcquire(), { name: "RangeError", message: /options\.clock/ });
  assert.throws(() => b.poll(), { name: "RangeError", message: /options\.clock/ });
  reading = 1000;
  assert.equal(await b.execute(() => "probe"), "probe", "the timeout was not read as time 0");
});

test("a refused restore leaves no breaker behind", () => {
  const snap = new CircuitBreaker().snapshot();
  const before = liveBreakers();
  for (const bad of [{ ...snap, version: 9 }, { ...snap, counters: [1] }, "x", null, undefined, { ...snap, halfOpen: [0, 0, 1] }]) {
    assert.throws(() => CircuitBreaker.restore(bad));
  }
  assert.throws(() => CircuitBreaker.restore(snap, { clock: 5 }), /options\.clock/);
  assert.throws(() => CircuitBreaker.restore(snap, { clock: () => NaN }), /options\.clock/);
  assert.throws(() => new CircuitBreaker({ timeoutSeconds: -1 }));
  assert.equal(liveBreakers(), before);
});

test("dispose while execute is in flight: the caller still gets fn's result, or fn's error", async () => {
  const { breaker } = manual();
  let release;
  const pending = breaker.execute(() => new Promise((resolve) => (release = resolve)));
  breaker.dispose();
  release("the result");
  assert.equal(await pending, "the result");

  const other = manual().breaker;
  let reject;
  const failing = other.execute(() => new Promise((_, r) => (reject = r)));
  other.dispose();
  const own = new Error("own error");
  reject(own);
  await assert.rejects(failing, (e) => e === own);
});

test("a panic rebuilds the breaker from the config as it was given, not as mutated since", () => {
  const config = { failureThreshold: 7, timeoutSeconds: 10 };
  const b = new CircuitBreaker(config);
  config.failureThreshold = 1;
  config.surprise = true;
  assert.throws(() => __panicForTest(b), { name: "PanicError" });
  assert.equal(b.config.failureThreshold, 7);
  assert.equal(b.config.timeoutSeconds, 10);

  const later = { failureThreshold: 4 };
  b.setConfig(later);
  later.failureThreshold = 2;
  assert.throws(() => __panicForTest(b), { name: "PanicError" });
  assert.equal(b.config.failureThreshold, 4);

  const snap = b.snapshot();
  const restored = CircuitBreaker.restore(snap);
  snap.config.failureThreshold = 9;
  assert.throws(() => __panicForTest(restored), { name: "PanicError" });
  assert.equal(restored.config.failureThreshold, 4);
});

test("an exception that is not a trap, out of a wasm call, leaves every breaker usable", async () => {
  let ms = 0;
  const clock = () => ms;
  const bystander = new CircuitBreaker({ failureThreshold: 1, timeoutSeconds: 10 }, { clock });
  await bystander.execute(() => Promise.reject(new Error("x"))).catch(() => {});
  ms = 4000;
  const victim = new CircuitBreaker({ failureThreshold: 7 }, { clock });
  await victim.execute(() => 1);
  const cache = new ResilientCache(new Map([["k", "v"]]), victim);

  // Thrown as it is (a stack overflow stays a RangeError), not as a PanicError.
  assert.throws(() => __throwForTest(victim), (e) => e.name === "Error" && /deliberate exception/.test(e.message));

  // The victim was out of the table: it rebuilds itself from its config, fresh.
  assert.equal(victim.state, "closed");
  assert.equal(victim.config.failureThreshold, 7);
  assert.equal(victim.metrics().successCount, 0);
  assert.equal(await victim.execute(() => "alive"), "alive");
  assert.equal(await cache.get("k"), "v", "ResilientCache.get answers, not 'disposed'");
  // The bystander kept its state (OPEN since t=0, 6 s left) and its failure log.
  await assert.rejects(bystander.execute(() => 1), { code: "CIRCUIT_BREAKER_OPEN", retryAfterMs: 6000 });
  assert.equal(bystander.recentFailures().length, 1);
  // Twice over, and new breakers work, without reusing a handle in use.
  assert.throws(() => __throwForTest(victim), /deliberate exception/);
  const fresh = new CircuitBreaker({ failureThreshold: 2 }, { clock });
  assert.equal(await fresh.execute(() => 3), 3);
  assert.equal(bystander.state, "open");
  assert.equal(victim.config.failureThreshold, 7);
  assert.equal(fresh.config.failureThreshold, 2);
  victim.dispose();
  assert.throws(() => victim.state, /disposed/);
});

/**
 * Calls `call` at every stack depth from the deepest reachable upwards, so that some call runs
 * out of stack inside a wasm export. Returns the errors thrown.
 */
function atEveryDepth(call) {
  const errors = [];
  const dive = () => {
    try {
      dive();
    } catch {
      // the bottom
    }
    try {
      call();
    } catch (e) {
      errors.push(e);
    }
  };
  dive();
  return errors;
}

test("calls at every stack depth, down to overflowing, leave every breaker usable", async () => {
  let ms = 0;
  const clock = () => ms;
  const bystander = new CircuitBreaker({ failureThreshold: 1, timeoutSeconds: 10 }, { clock });
  await bystander.execute(() => Promise.reject(new Error("x"))).catch(() => {});
  const victim = new CircuitBreaker({ failureThreshold: 7 }, { clock });
  const cache = new ResilientCache(new Map([["k", "v"]]), victim);

  const errors = atEveryDepth(() => {
    victim.metrics();
    victim.onSuccess(victim.tryAcquire());
  });
  assert.ok(errors.length > 0, "the stack ran out");
  for (const e of errors) assert.ok(e instanceof RangeError, `only stack overflows, got ${e}`);

  assert.equal(victim.state, "closed");
  assert.equal(victim.config.failureThreshold, 7);
  assert.equal(await victim.execute(() => "alive"), "alive");
  assert.equal(await cache.get("k"), "v");
  assert.equal(bystander.state, "open", "the bystander kept its state");
  assert.equal(bystander.recentFailures().length, 1);
  const fresh = new CircuitBreaker();
  assert.equal(await fresh.execute(() => 3), 3);
  assert.equal(bystander.state, "open");
});
