// The cache guard beyond the vectors: the wasm boundary's answers to bad input (tested on the
// exported functions directly), bad input through ResilientCache (clear errors, no slot
// leaked), outcome classification, writes skipped while OPEN, listeners, success stamps,
// panics, and the breakers' hardening carried over to the cache (any exception out of an
// export heals, clock checks, a breaker disposed mid-call).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CircuitBreaker,
  CircuitBreakerError,
  ResilientCache,
  ShedError,
  __panicForTest,
  __throwForTest,
} from "./pkg.mjs";
import { epoch } from "../../bindings-wasm/js/low_level.js";
import {
  boundaryCodes,
  guardBegin,
  guardCounters,
  guardCreate,
  guardEnd,
  guardFlushed,
  guardFree,
} from "../../bindings-wasm/js/pkg/fact_resilience_wasm.js";
import { guardError } from "../../bindings-wasm/js/cache.js";

// The core's codes, as the module hands them out (the test calls exports directly).
const CODES = JSON.parse(boundaryCodes());
const { get: GET, store: STORE } = CODES.op;
const { success: SUCCESS, failure: FAILURE } = CODES.outcome;
const PER_KEY = CODES.staleKeys.per_key;
const inFlight = (g) => guardCounters(g).inFlight;

/** A guard at a handle no ResilientCache uses, on a fresh breaker. */
function rawGuard() {
  const breaker = new CircuitBreaker();
  const g = 10_000;
  assert.equal(guardCreate(g, PER_KEY, true, true, 16, false), 2, "per-key invalidation");
  return { breaker, g, done: () => (guardFree(g), breaker.dispose()) };
}

test("wasm boundary: a ticket used twice is refused and counts nothing the second time", () => {
  const { breaker, g, done } = rawGuard();
  const ticket = guardBegin(g, breaker._h, -1, GET, "k", true, 0);
  assert.ok(ticket >= 0, "a plain run is its ticket");
  assert.equal(guardEnd(g, breaker._h, -1, ticket, SUCCESS, undefined, undefined, undefined, 0, 1), 0);
  assert.equal(guardEnd(g, breaker._h, -1, ticket, SUCCESS, undefined, undefined, undefined, 0, 1), -1, "spent");
  assert.equal(guardFlushed(g, ticket), -1, "spent");
  for (const forged of [ticket + 0.5, -1, NaN, 2 ** 60]) {
    assert.equal(guardEnd(g, breaker._h, -1, forged, SUCCESS, undefined, undefined, undefined, 0, 1), -1, `forged ${forged}`);
  }
  assert.equal(breaker.metrics().successCount, 1);
  assert.equal(inFlight(g), 0);
  const e = guardError("guardEnd", -1, { ticket });
  assert.ok(e instanceof RangeError);
  assert.match(e.message, new RegExp(`^guardEnd: ticket ${ticket} is not a cache call in flight`));
  done();
});

test("wasm boundary: an unknown outcome kind changes nothing and the ticket can still end", () => {
  const { breaker, g, done } = rawGuard();
  const ticket = guardBegin(g, breaker._h, -1, STORE, "k", true, 0);
  for (const outcome of [5, 99, 2 ** 31]) {
    assert.equal(guardEnd(g, breaker._h, -1, ticket, outcome, "E", "m", "put", 0, 1), -2, `outcome ${outcome}`);
  }
  assert.equal(inFlight(g), 1, "still in flight");
  assert.equal(breaker.metrics().totalOperations, 0);
  const e = guardError("guardEnd", -2, { ticket, outcome: 5 });
  assert.ok(e instanceof RangeError);
  assert.match(e.message, /^guardEnd: outcome 5 is not an outcome kind/);
  const stored = guardEnd(g, breaker._h, -1, ticket, FAILURE, "E", "m", "put", 0, 1);
  assert.equal(stored & 3, 2, "a failed store answers with the fallback");
  assert.equal(inFlight(g), 0);
  assert.equal(breaker.metrics().failureCount, 1);
  done();
});

test("wasm boundary: an unknown operation, guard or option is a code and takes no slot", () => {
  const { breaker, g, done } = rawGuard();
  assert.equal(-guardBegin(g, breaker._h, -1, 4, "k", true, 0) & 7, 7, "unknown op");
  assert.equal(-guardBegin(g + 1, breaker._h, -1, GET, "k", true, 0) & 7, 6, "no guard");
  assert.equal(-guardBegin(g, 2 ** 31, -1, GET, "k", true, 0) & 7, 5, "no breaker");
  assert.equal(inFlight(g), 0);
  assert.equal(guardCreate(g + 1, 7, true, true, 1, false), -1, "unknown option");
  assert.equal(guardCreate(g + 1, PER_KEY, false, true, 1, false), -2, "per-key on a prefix-only cache");
  assert.equal(guardCounters(g + 1), null, "nothing was created");
  done();
});

function mapCache() {
  const map = new Map();
  return {
    map,
    failing: false,
    async get(k) {
      if (this.failing) throw new Error("down");
      return map.get(k);
    },
    async put(k, v) {
      if (this.failing) throw new Error("down");
      map.set(k, v);
    },
    async delete(k) {
      if (this.failing) throw new Error("down");
      return map.delete(k) ? 1 : 0;
    },
  };
}

function setup(config, options, cache = mapCache()) {
  const clock = { ms: 0 };
  const breaker = new CircuitBreaker(config, { clock: () => clock.ms });
  return { clock, cache, breaker, rc: new ResilientCache(cache, breaker, options) };
}

test("bad input through ResilientCache: clear errors naming the argument, no slot taken", async () => {
  const { rc, breaker } = setup();
  await assert.rejects(rc.get(1), { name: "TypeError", message: "get: key must be a string, got number" });
  await assert.rejects(rc.put(undefined, "v"), { name: "TypeError", message: "put: key must be a string, got undefined" });
  await assert.rejects(rc.delete(null), { name: "TypeError", message: "delete: key must be a string, got null" });
  await assert.rejects(rc.invalidateByPrefix({}), { name: "TypeError", message: "invalidateByPrefix: prefix must be a string, got object" });
  await assert.rejects(rc.invalidateByPrefix("p"), {
    name: "TypeError",
    message: "invalidateByPrefix: the cache has no invalidateByPrefix method",
  });
  assert.equal(rc.metrics().guard.inFlight, 0);
  assert.equal(breaker.metrics().totalOperations, 0, "the breaker was not asked");
  assert.equal(await rc.get("k"), undefined, "and the cache still works");
});

test("bad options are TypeErrors or RangeErrors naming the option", () => {
  const cache = mapCache();
  assert.throws(() => new ResilientCache(cache, undefined, { staleKeys: "sometimes" }), {
    name: "RangeError",
    message: 'options.staleKeys must be "auto", "off", "perKey" or "prefix", got "sometimes"',
  });
  assert.throws(() => new ResilientCache(cache, undefined, { staleKeys: 1 }), { name: "TypeError", message: /^options\.staleKeys must be a string/ });
  assert.throws(() => new ResilientCache(cache, undefined, { staleKeys: "prefix" }), {
    name: "TypeError",
    message: /^options\.staleKeys "prefix" needs a cache that can be flushed whole/,
  });
  const prefixOnly = { get() {}, put() {}, invalidateByPrefix() {}, prefix: "fact" };
  assert.throws(() => new ResilientCache(prefixOnly, undefined, { staleKeys: "perKey" }), {
    name: "TypeError",
    message: /^options\.staleKeys "perKey" needs a cache that can invalidate one key/,
  });
  assert.throws(() => new ResilientCache(cache, undefined, { maxPendingInvalidations: -1 }), {
    name: "RangeError",
    message: /^options\.maxPendingInvalidations must be an integer/,
  });
  assert.throws(() => new ResilientCache(cache, undefined, { isNeutral: true }), { name: "TypeError", message: /^options\.isNeutral must be a function/ });
  assert.throws(() => new ResilientCache(cache, undefined, { staleKeyz: "off" }), { name: "TypeError", message: "options.staleKeyz is not a known option" });
  assert.throws(() => new ResilientCache({ get() {} }), { name: "TypeError", message: /put or set/ });
});

test("outcomes: aborts and isNeutral errors propagate uncharged; timeouts count; shed does not", async () => {
  const neutral = Object.assign(new Error("not mine"), { code: "E_MINE" });
  const { cache, rc, breaker } = setup({ failureThreshold: 10 }, { isNeutral: (e) => e?.code === "E_MINE" });
  const failWith = (err) => {
    cache.get = async () => {
      throw err;
    };
  };
  failWith(new DOMException("gave up", "AbortError"));
  await assert.rejects(rc.get("k"), { name: "AbortError" });
  failWith(neutral);
  await assert.rejects(rc.get("k"), neutral);
  failWith(Object.assign(new Error("slow"), { name: "TimeoutError" }));
  assert.equal(await rc.get("k"), undefined, "a timeout answers with the fallback");
  failWith(new ShedError());
  assert.equal(await rc.get("k"), undefined, "shed answers with the fallback");
  failWith(Object.assign(new Error("no slot"), { name: "ShedError" }));
  assert.equal(await rc.get("k"), undefined, "matched by name too");
  const m = rc.metrics();
  assert.deepEqual(
    [m.guard.cancelled, m.guard.timeouts, m.guard.shed, m.guard.fallbacks, m.guard.inFlight],
    [2, 1, 2, 3, 0],
  );
  assert.equal(m.circuitBreaker.failureCount, 1, "only the timeout is charged");
  assert.equal(m.circuitBreaker.neutralCount, 4);
  assert.deepEqual(breaker.recentFailures().map((f) => [f.errorType, f.operation]), [["TimeoutError", "get"]]);
  assert.equal(new ShedError().code, "CACHE_SHED");
});

test("put and delete while OPEN are invalidated before the next read: the new value or a miss, never the old one", async () => {
  const { clock, cache, rc, breaker } = setup({ failureThreshold: 1, successThreshold: 1, timeoutSeconds: 5 });
  await rc.put("a", "old-a");
  await rc.put("b", "old-b");
  cache.failing = true;
  assert.equal(await rc.get("x"), undefined);
  assert.equal(breaker.state, "open");
  assert.equal(await rc.put("a", "new-a"), true, "skipped, remembered");
  assert.equal(await rc.delete("b"), 0, "skipped, remembered");
  assert.equal(rc.metrics().guard.pendingKeys, 2);
  cache.failing = false;
  clock.ms = 5000;
  assert.equal(await rc.get("a"), undefined, "a miss, not old-a");
  assert.equal(await rc.get("b"), undefined, "a miss, not old-b");
  assert.equal(breaker.state, "closed");
  assert.deepEqual([...cache.map.keys()], [], "both were invalidated");
  assert.equal(rc.metrics().guard.flushes, 1);
  assert.equal(await rc.put("a", "new-a"), true);
  assert.equal(await rc.get("a"), "new-a");
});

test("listeners see the OPEN -> HALF_OPEN move a cache call makes, and the close", async () => {
  const { clock, cache, rc, breaker } = setup({ failureThreshold: 1, successThreshold: 1, timeoutSeconds: 1 });
  const events = [];
  breaker.onStateChange((e) => events.push(`${e.from}->${e.to}:${e.reason}`));
  cache.failing = true;
  await rc.get("k");
  cache.failing = false;
  clock.ms = 1000;
  await rc.get("k");
  assert.deepEqual(events, ["closed->open:failure_threshold", "open->half_open:timeout_elapsed", "half_open->closed:probes_succeeded"]);
});

test("with degradation off, a refusal is a CircuitBreakerError and the skipped write is still remembered", async () => {
  const { clock, cache, rc } = setup({ failureThreshold: 1, successThreshold: 1, timeoutSeconds: 1 }, { gracefulDegradation: false });
  await rc.put("k", "old");
  cache.failing = true;
  await assert.rejects(rc.get("x"), { message: "down" });
  const err = await rc.put("k", "new").catch((e) => e);
  assert.ok(err instanceof CircuitBreakerError);
  assert.equal(err.code, "CIRCUIT_BREAKER_OPEN");
  assert.equal(err.operation, "put");
  assert.ok(err.retryAfterMs > 0 && err.retryAfterMs <= 1000, `retryAfterMs ${err.retryAfterMs}`);
  cache.failing = false;
  clock.ms = 1000;
  assert.equal(await rc.get("k"), undefined, "invalidated, not old");
});

test("successes are stamped when they complete, in execute and in the cache", async () => {
  // A 10 s call in a 5 s window: stamped at admission it would have left the window by the time
  // it completes; stamped at completion it is in it.
  const config = { rollingWindowSeconds: 5, windowBuckets: 5 };
  const { clock, cache, rc, breaker } = setup(config);
  const slowly = (value) => new Promise((resolve) => setImmediate(() => ((clock.ms += 10_000), resolve(value))));
  assert.equal(await breaker.execute(() => slowly("v")), "v");
  assert.equal(breaker.metrics().windowCalls, 1, "execute");
  cache.get = () => slowly("w");
  assert.equal(await rc.get("k"), "w");
  assert.equal(breaker.metrics().windowCalls, 1, "the cache: the first call left the window, the second is in it");
});

test("a panic restarts the module: the cache keeps working and a call in flight across it ends cleanly", async () => {
  const { cache, rc, breaker } = setup();
  await rc.put("k", "v");
  let release;
  const get = cache.get.bind(cache);
  cache.get = (k) => new Promise((r) => (release = () => r(get(k))));
  const inFlight = rc.get("k");
  assert.equal(rc.metrics().guard.inFlight, 1);
  assert.throws(() => __panicForTest(breaker), { name: "PanicError" });
  assert.equal(rc.metrics().guard.inFlight, 0, "the guard was recreated, fresh");
  release();
  assert.equal(await inFlight, "v", "its ticket is not ended in the new instance");
  cache.get = get;
  assert.equal(await rc.get("k"), "v");
  assert.equal(rc.metrics().guard.inFlight, 0);
});

test("a write skipped before a panic is never served stale after it: the recreated guard flushes everything", async () => {
  const cache = mapCache();
  cache.clear = function () {
    this.map.clear();
  };
  const { rc, breaker } = setup({ failureThreshold: 1, successThreshold: 1 }, undefined, cache);
  await rc.put("k", "old");
  breaker.forceOpen();
  assert.equal(await rc.put("k", "new"), true, "skipped while open");
  assert.equal(rc.metrics().guard.pendingKeys, 1);
  assert.throws(() => __panicForTest(breaker), { name: "PanicError" });
  breaker.forceClosed();
  assert.equal(await rc.get("k"), undefined, "the old value is gone, never served");
  assert.equal(rc.metrics().guard.flushes, 1);

  const { rc: noClear, breaker: b2 } = setup({ failureThreshold: 1 });
  b2.forceOpen();
  await noClear.put("k", "new");
  assert.throws(() => __panicForTest(b2), { name: "PanicError" });
  assert.equal(noClear.metrics().guard.droppedKeys, 1, "a cache that cannot be flushed whole counts the loss");

  const flushable = mapCache();
  flushable.clear = cache.clear;
  const { rc: idle, breaker: b3, cache: c3 } = setup(undefined, undefined, flushable);
  await idle.put("k", "v");
  assert.throws(() => __panicForTest(b3), { name: "PanicError" });
  assert.equal(await idle.get("k"), "v", "nothing was pending: nothing is flushed");
  assert.equal(c3.map.size, 1);
});

test("a prefix-only cache (FACT's CacheManager shape): delete is a prefix invalidation, invalidateByPrefix passes through", async () => {
  const store = new Map([["fact:a", 1], ["fact:b", 2], ["other", 3]]);
  const calls = [];
  const manager = {
    prefix: "fact",
    async get(k) {
      return store.get(k);
    },
    async put(k, v) {
      store.set(k, v);
    },
    async invalidateByPrefix(p) {
      calls.push(p);
      let n = 0;
      for (const k of [...store.keys()]) if (k.startsWith(p)) n += store.delete(k) ? 1 : 0;
      return n;
    },
  };
  const rc = new ResilientCache(manager);
  assert.equal(await rc.delete("fact:a"), 1);
  assert.equal(await rc.invalidateByPrefix("fact"), 1);
  assert.deepEqual(calls, ["fact:a", "fact"]);
  assert.deepEqual([...store.keys()], ["other"]);
});

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

/** A cache whose next `get` waits for `release()`. */
function holdNextGet(cache) {
  const get = cache.get.bind(cache);
  const held = {};
  cache.get = (k) => {
    cache.get = get;
    return new Promise((resolve, reject) => {
      held.release = () => resolve(get(k));
      held.fail = reject;
    });
  };
  return held;
}

test("an exception out of any export that is not a trap also recreates the guards: a call in flight gets the cache's answer", async () => {
  const { cache, rc, breaker } = setup();
  await rc.put("k", "v");
  const held = holdNextGet(cache);
  const inFlight = rc.get("k");
  assert.equal(rc.metrics().guard.inFlight, 1);
  const before = epoch;
  const other = new CircuitBreaker();
  assert.throws(() => __throwForTest(other), /deliberate exception/);
  assert.equal(epoch, before + 1, "one replacement");
  assert.equal(rc.metrics().guard.inFlight, 0, "the guard was recreated, fresh");
  held.release();
  assert.equal(await inFlight, "v", "its ticket is not ended in the new instance");
  assert.equal(await rc.get("k"), "v");
  assert.equal(breaker.metrics().successCount, 2, "the put and the last get; the call across the replacement is not recorded");
  assert.equal(rc.metrics().guard.inFlight, 0);
  other.dispose();
});

test("cache calls at every stack depth, down to overflowing, heal as breaker calls do", async () => {
  // metrics() (guardCounters) rather than get(): a promise rejected at the bottom of the stack
  // overflows Node's own rejection tracking, which only adds noise.
  const { rc, breaker } = setup({ failureThreshold: 7 });
  await rc.put("k", "v");
  const held = holdNextGet(rc.cache);
  const inFlight = rc.get("k");
  const before = epoch;
  const errors = [];
  const dive = () => {
    try {
      dive();
    } catch {
      // the bottom
    }
    try {
      rc.metrics();
    } catch (e) {
      errors.push(e);
    }
  };
  dive();
  assert.ok(errors.length > 0, "the stack ran out");
  for (const e of errors) assert.ok(e instanceof RangeError, `only stack overflows, got ${e}`);
  held.release();
  assert.equal(await inFlight, "v", "a call in flight across any replacement gets the cache's answer");
  assert.equal(await rc.get("k"), "v");
  assert.equal(rc.metrics().guard.inFlight, 0);
  assert.ok(epoch > before, "some overflow landed inside an export and replaced the instance");
  assert.equal(breaker.state, "closed");
  assert.equal(breaker.config.failureThreshold, 7);
});

test("a cache call reads the breaker's clock as execute does: refused at admission, reported at completion", async () => {
  const { clock, cache, rc, breaker } = setup();
  clock.ms = NaN;
  await assert.rejects(rc.get("k"), { name: "RangeError", message: /^options\.clock must return a finite number of milliseconds >= 0, got NaN/ });
  clock.ms = "later";
  await assert.rejects(rc.put("k", "v"), { name: "TypeError", message: /^options\.clock must return a number/ });
  clock.ms = 1000;
  assert.equal(rc.metrics().guard.inFlight, 0, "no slot taken");
  assert.equal(breaker.metrics().totalOperations, 0, "nothing counted");

  const held = holdNextGet(cache);
  const pending = rc.get("k");
  const reported = await capturingReports(async () => {
    clock.ms = -1;
    held.release();
    assert.equal(await pending, undefined, "the cache's answer (a miss)");
  });
  assert.equal(reported.length, 1);
  assert.match(reported[0].message, /^options\.clock/);
  clock.ms = 2000;
  assert.equal(breaker.metrics().successCount, 1, "recorded at the latest time seen");
  assert.equal(rc.metrics().guard.inFlight, 0);
});

test("a breaker disposed while a cache call runs records nothing: the caller gets the cache's answer or error", async () => {
  const { cache, rc, breaker } = setup();
  await rc.put("k", "v");
  let held = holdNextGet(cache);
  const pending = rc.get("k");
  breaker.dispose();
  held.release();
  assert.equal(await pending, "v");
  await assert.rejects(rc.get("k"), /disposed/);

  const other = setup();
  held = holdNextGet(other.cache);
  const failing = other.rc.get("k");
  other.breaker.dispose();
  const own = new Error("own error");
  held.fail(own);
  await assert.rejects(failing, (e) => e === own);
});
