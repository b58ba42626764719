// ResilientCache with per-key breakers (`hierarchy`) and origin protection (`getOrLoad`): the
// core decides (the cache guard admits through the cache's breaker and the key's registry
// path; the origin guard decides lead, join, busy or stale); these tests check that the
// wrapper carries the decisions out. Injected clocks, no sleeps: a load resolves when the
// test says so.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BreakerRegistry, CircuitBreaker, CircuitBreakerError, ErrorCode, OriginGuard, ResilientCache } from "./pkg.mjs";

function clock() {
  const c = { ms: 0 };
  c.read = () => c.ms;
  return c;
}

/** A Map-backed cache that counts calls and fails the keys `failing(key)` says. */
function mapCache(failing = () => false) {
  const map = new Map();
  const cache = {
    map,
    calls: 0,
    get(k) {
      cache.calls++;
      if (failing(k)) throw new Error(`shard of ${k} down`);
      return map.get(k);
    },
    put(k, v) {
      cache.calls++;
      if (failing(k)) throw new Error(`shard of ${k} down`);
      map.set(k, v);
    },
    delete(k) {
      cache.calls++;
      return map.delete(k) ? 1 : 0;
    },
  };
  return cache;
}

/** A load the test resolves or rejects by hand, counting its calls. */
function manualLoad() {
  const l = { calls: 0, pending: [] };
  l.fn = () => {
    l.calls++;
    return new Promise((resolve, reject) => l.pending.push({ resolve, reject }));
  };
  return l;
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

test("single-flight: concurrent misses while the breaker is OPEN make one origin call", async () => {
  const c = clock();
  const breaker = new CircuitBreaker({ failureThreshold: 1 }, { clock: c.read });
  const cache = new ResilientCache(mapCache(), breaker, { singleFlight: true });
  breaker.forceOpen();
  const load = manualLoad();
  const waiting = Array.from({ length: 10 }, () => cache.getOrLoad("k", load.fn));
  await flush();
  assert.equal(load.calls, 1, "one origin call for ten misses");
  load.pending[0].resolve("v");
  assert.deepEqual(await Promise.all(waiting), Array(10).fill("v"));
  const m = cache.originMetrics();
  assert.deepEqual(
    { originCalls: m.originCalls, joined: m.joined, inFlight: m.inFlight },
    { originCalls: 1, joined: 9, inFlight: 0 },
  );
});

test("single-flight: a load's error rejects every caller that joined it, and nothing is stored", async () => {
  const inner = mapCache();
  const cache = new ResilientCache(inner, new CircuitBreaker(), { singleFlight: true });
  const load = manualLoad();
  const waiting = [cache.getOrLoad("k", load.fn), cache.getOrLoad("k", load.fn)];
  await flush();
  const boom = new Error("origin down");
  load.pending[0].reject(boom);
  for (const r of await Promise.allSettled(waiting)) assert.equal(r.reason, boom);
  assert.equal(inner.map.has("k"), false);
  // The next miss leads a new load.
  const again = cache.getOrLoad("k", () => "fresh");
  assert.equal(await again, "fresh");
  assert.equal(inner.map.get("k"), "fresh", "a loaded value is stored through the cache");
  assert.equal(cache.originMetrics().originCalls, 2);
});

test("without origin options every miss loads, and a hit does not", async () => {
  const inner = mapCache();
  const cache = new ResilientCache(inner, new CircuitBreaker());
  let loads = 0;
  const load = () => {
    loads++;
    return `v${loads}`;
  };
  const both = await Promise.all([cache.getOrLoad("k", load), cache.getOrLoad("k", load)]);
  assert.deepEqual(both.sort(), ["v1", "v2"], "no single-flight: each miss loads");
  assert.equal(await cache.getOrLoad("k", load), inner.map.get("k"), "then a hit");
  assert.equal(loads, 2);
  assert.equal(cache.originMetrics().originCalls, 2);
});

test("a load overtaken by a write to its key is returned but not stored (it may predate the write)", async () => {
  const inner = mapCache();
  const cache = new ResilientCache(inner, new CircuitBreaker(), { singleFlight: true });
  const load = manualLoad();
  const first = cache.getOrLoad("k", load.fn);
  await flush();
  await cache.delete("k"); // the write path invalidates while the load runs
  load.pending[0].resolve("before the write");
  assert.equal(await first, "before the write", "its callers still get it");
  await flush();
  assert.equal(inner.map.has("k"), false, "not put back into the cache over the invalidation");
  const second = cache.getOrLoad("k", load.fn);
  await flush();
  assert.equal(load.calls, 2, "the next miss loads afresh");
  load.pending[1].resolve("after the write");
  assert.equal(await second, "after the write");
  await flush();
  assert.equal(inner.map.get("k"), "after the write", "a load no write overtook is stored");
});

test("budget: beyond originBudget loads in flight, ORIGIN_BUSY or the configured fallback", async () => {
  const load = manualLoad();
  const strict = new ResilientCache(mapCache(), new CircuitBreaker(), { originBudget: 1 });
  const first = strict.getOrLoad("a", load.fn);
  await flush();
  await assert.rejects(strict.getOrLoad("b", load.fn), (e) => {
    assert.ok(e instanceof CircuitBreakerError);
    assert.equal(e.code, ErrorCode.ORIGIN_BUSY);
    assert.match(e.message, /ORIGIN_BUSY/);
    return true;
  });
  assert.equal(load.calls, 1, "the refused load never ran");
  load.pending[0].resolve("A");
  assert.equal(await first, "A");
  assert.equal(await strict.getOrLoad("b", () => "B"), "B", "the budget frees when a load ends");
  assert.equal(strict.originMetrics().busy, 1);

  const lenient = new ResilientCache(mapCache(), new CircuitBreaker(), { originBudget: 1, originBusyFallback: null });
  const lead = lenient.getOrLoad("a", load.fn);
  await flush();
  assert.equal(await lenient.getOrLoad("b", load.fn), null, "the fallback, even a falsy one");
  load.pending[1].resolve("A");
  await lead;
});

test("stale-if-error: a served value answers only while the cache is down, within its age, never after a write", async () => {
  const c = clock();
  const inner = mapCache();
  const breaker = new CircuitBreaker({ failureThreshold: 1 }, { clock: c.read });
  const cache = new ResilientCache(inner, breaker, { staleIfErrorMs: 1000 });
  let loads = 0;
  const load = () => `loaded${++loads}`;
  await cache.put("k", "v1");
  assert.equal(await cache.getOrLoad("k", load), "v1", "a hit, remembered");
  assert.equal(await cache.getOrLoad("j", load), "loaded1", "a loaded value is remembered too");

  // Healthy but missing (a plain miss): loaded, not answered stale.
  inner.map.delete("k");
  assert.equal(await cache.getOrLoad("k", load), "loaded2");

  breaker.forceOpen();
  c.ms += 400;
  assert.equal(await cache.getOrLoad("k", load), "loaded2", "down: the remembered value");
  assert.equal(await cache.getOrLoad("j", load), "loaded1");
  assert.equal(loads, 2, "the origin was spared");
  assert.equal(cache.originMetrics().staleServed, 2);

  // A write while down (skipped by the breaker) is still a write: no stale value after it.
  assert.equal(await cache.put("j", "new"), true);
  assert.equal(await cache.getOrLoad("j", load), "loaded3");
  // Past the age limit: loaded.
  c.ms += 700;
  assert.equal(await cache.getOrLoad("k", load), "loaded4");
  assert.equal(cache.originMetrics().staleServed, 2);
});

test("stale-if-error: an invalidation by prefix forgets every remembered value", async () => {
  const breaker = new CircuitBreaker();
  const inner = { ...mapCache(), invalidateByPrefix: () => 0 };
  const cache = new ResilientCache(inner, breaker, { staleIfErrorMs: 60_000 });
  inner.map = new Map([["k", "v"]]);
  inner.get = (k) => inner.map.get(k);
  assert.equal(await cache.getOrLoad("k", () => "loaded"), "v");
  await cache.invalidateByPrefix("");
  breaker.forceOpen();
  assert.equal(await cache.getOrLoad("k", () => "loaded"), "loaded");
});

test("per-key hierarchy: one failing key opens only its own breaker", async () => {
  const c = clock();
  const registry = new BreakerRegistry([{ name: "key", config: { failureThreshold: 2 } }], { clock: c.read });
  const inner = mapCache((k) => k.startsWith("bad:"));
  const breaker = new CircuitBreaker({ failureThreshold: 50 }, { clock: c.read });
  const cache = new ResilientCache(inner, breaker, { hierarchy: registry });
  await cache.put("good", "g");
  for (let i = 0; i < 2; i++) assert.equal(await cache.get("bad:1"), undefined, "a failure answers the fallback");
  assert.equal(registry.state(["bad:1"]), "open");
  assert.equal(registry.state(["good"]), "closed");
  assert.equal(breaker.state, "closed", "the whole cache stays up");
  const calls = inner.calls;
  assert.equal(await cache.get("bad:1"), undefined);
  assert.equal(inner.calls, calls, "the open key is not sent to the cache");
  assert.equal(await cache.get("good"), "g");
  // getOrLoad on the open key: the read is refused, so the cache is down for it.
  assert.equal(await cache.getOrLoad("bad:1", () => "from origin"), "from origin");
  assert.equal(breaker.metrics().failureCount, 2, "the outcome reaches the root breaker too");
});

test("per-key hierarchy: a failing key's pending invalidation, flushed in another key's call, is judged by the root alone", async () => {
  const c = clock();
  const registry = new BreakerRegistry([{ name: "key", config: { failureThreshold: 2, timeoutSeconds: 60 } }], { clock: c.read });
  const inner = mapCache((k) => k === "hot");
  const del = inner.delete;
  inner.delete = (k) => {
    if (k === "hot") throw new Error("shard of hot down");
    return del(k);
  };
  const breaker = new CircuitBreaker({ failureThreshold: 100 }, { clock: c.read });
  const cache = new ResilientCache(inner, breaker, { hierarchy: registry, staleKeys: "perKey" });
  for (let i = 0; i < 4; i++) {
    assert.equal(await cache.getOrLoad("hot", () => "from origin"), "from origin");
    assert.equal(await cache.getOrLoad("cold", () => "from origin"), "from origin");
  }
  assert.equal(registry.state(["hot"]), "open");
  assert.equal(registry.state(["cold"]), "closed", "the hot key's flushes are not charged to cold");
  assert.ok(breaker.metrics().failureCount > registry.metrics(["hot"]).failureCount, "the flushes did fail, judged by the root");
});

test("per-key hierarchy: the root's half-open move is heard when a key breaker refuses the call", async () => {
  const c = clock();
  const registry = new BreakerRegistry([{ name: "key", config: { failureThreshold: 1, timeoutSeconds: 60 } }], { clock: c.read });
  const breaker = new CircuitBreaker({ failureThreshold: 100, timeoutSeconds: 1 }, { clock: c.read });
  const heard = [];
  breaker.onStateChange(({ from, to }) => heard.push(`${from}->${to}`));
  const cache = new ResilientCache(mapCache((k) => k === "bad"), breaker, { hierarchy: registry });
  assert.equal(await cache.get("bad"), undefined); // the key's breaker opens
  breaker.forceOpen();
  c.ms += 2000; // past the root's timeout, not the key's
  assert.equal(await cache.get("bad"), undefined); // the root half-opens, then the key refuses
  assert.equal(breaker.state, "half_open");
  assert.equal(heard.at(-1), "open->half_open", heard.join(", "));
});

test("per-key hierarchy: keyPath maps a key to a path of the registry's levels", async () => {
  const registry = new BreakerRegistry(["shard", { name: "key", config: { failureThreshold: 1 } }]);
  const inner = mapCache((k) => k === "b:2");
  const cache = new ResilientCache(inner, new CircuitBreaker(), {
    hierarchy: registry,
    keyPath: (key) => key.split(":"),
  });
  await cache.get("b:2");
  assert.equal(registry.state(["b", "2"]), "open");
  assert.equal(registry.state(["b"]), "closed");
  assert.deepEqual(
    registry.summary().map((s) => [s.level, s.breakers, s.open]),
    [
      ["shard", 1, 0],
      ["key", 1, 1],
    ],
  );
});

test("with gracefulDegradation off, getOrLoad raises the read's error, as get does", async () => {
  const inner = mapCache((k) => k === "k");
  const cache = new ResilientCache(inner, new CircuitBreaker(), { gracefulDegradation: false });
  await assert.rejects(cache.getOrLoad("k", () => "loaded"), /shard of k down/);
  cache.gracefulDegradation = true;
  assert.equal(await cache.getOrLoad("k", () => "loaded"), "loaded", "degraded: the cache is down, the origin answers");
  assert.equal(cache.originMetrics().originCalls, 1);
});

test("bad input names the option or argument", async () => {
  const b = new CircuitBreaker();
  const make = (options) => new ResilientCache(mapCache(), b, options);
  assert.throws(() => make({ originBudget: 0 }), (e) => e instanceof RangeError && /^options\.originBudget must be at least 1/.test(e.message));
  assert.throws(() => make({ originBudget: 1.5 }), (e) => e instanceof RangeError && /^options\.originBudget/.test(e.message));
  assert.throws(() => make({ staleIfErrorMs: 0 }), (e) => e instanceof RangeError && /^options\.staleIfErrorMs must be greater than 0/.test(e.message));
  assert.throws(() => make({ staleIfErrorMs: -5 }), (e) => e instanceof RangeError && /^options\.staleIfErrorMs/.test(e.message));
  assert.throws(() => make({ staleIfErrorMs: "1" }), (e) => e instanceof TypeError && /^options\.staleIfErrorMs/.test(e.message));
  assert.throws(
    () => make({ staleIfErrorMs: 10, staleCapacity: 0 }),
    (e) => e instanceof RangeError && /^options\.staleCapacity must be at least 1 when options\.staleIfErrorMs is set/.test(e.message),
  );
  assert.throws(() => make({ singleFlight: "yes" }), (e) => e instanceof TypeError && /^options\.singleFlight/.test(e.message));
  assert.throws(() => make({ hierarchy: {} }), (e) => e instanceof TypeError && /^options\.hierarchy must be a BreakerRegistry/.test(e.message));
  assert.throws(() => make({ keyPath: "x" }), (e) => e instanceof TypeError && /^options\.keyPath must be a function/.test(e.message));
  assert.throws(() => new BreakerRegistry(["k"], { maxBreakers: 0 }), (e) => e instanceof RangeError && /^options\.maxBreakers must be at least 1/.test(e.message));
  assert.throws(() => new BreakerRegistry({ a: "b", b: "a" }), (e) => e instanceof RangeError && /^levels: the parent links form a cycle/.test(e.message));
  assert.throws(() => new BreakerRegistry([""]), (e) => e instanceof RangeError && /^levels\[0\]: a level's name must not be empty/.test(e.message));

  const two = new BreakerRegistry(["shard", "key"]);
  assert.throws(() => make({ hierarchy: two }), (e) => e instanceof RangeError && /^options\.keyPath is required: options\.hierarchy has 2 levels/.test(e.message));
  const cache = make({ hierarchy: two, keyPath: (k) => [k] });
  await assert.rejects(cache.getOrLoad("k", () => 1), (e) => e instanceof RangeError && /^options\.keyPath\(key\): path: expected 2 segments/.test(e.message));
  await assert.rejects(cache.get("k"), (e) => e instanceof RangeError && /^options\.keyPath/.test(e.message));
  const odd = make({ hierarchy: two, keyPath: () => "k" });
  await assert.rejects(odd.getOrLoad("k", () => 1), (e) => e instanceof TypeError && /^options\.keyPath\(key\) must return an array of strings/.test(e.message));
  assert.deepEqual([two.size, cache.metrics().guard.inFlight], [0, 0], "a refused path takes nothing");
  await assert.rejects(make().getOrLoad(1, () => 1), (e) => e instanceof TypeError && /^getOrLoad: key must be a string/.test(e.message));
  await assert.rejects(make().getOrLoad("k", 1), (e) => e instanceof TypeError && /^getOrLoad: load must be a function/.test(e.message));
});

test("BreakerRegistry: refusals carry the level, execute reports outcomes, a permit is reported once", async () => {
  const c = clock();
  const registry = new BreakerRegistry(
    [
      { name: "service", config: { failureThreshold: 10 } },
      { name: "key", config: { failureThreshold: 2 }, prefixes: { "vip:": { failureThreshold: 1 } } },
    ],
    { maxBreakers: 100, clock: c.read },
  );
  assert.deepEqual(registry.levels, ["service", "key"]);
  await assert.rejects(registry.execute(["cache", "vip:1"], () => Promise.reject(new Error("x"))), /x/);
  assert.throws(
    () => registry.acquire(["cache", "vip:1"]),
    (e) => e instanceof CircuitBreakerError && e.code === ErrorCode.OPEN && e.level === 1 && e.levelName === "key" && e.operation === "cache/vip:1",
  );
  assert.equal(await registry.execute(["cache", "user:1"], () => 42), 42);
  const permit = registry.acquire(["cache", "user:1"]);
  assert.deepEqual(registry.onSuccess(permit), []);
  assert.throws(() => registry.onSuccess(permit), /already reported/);
  assert.throws(() => registry.onSuccess({}), TypeError);
  assert.throws(() => registry.acquire("cache"), (e) => e instanceof TypeError && /^acquire: path must be an array of strings/.test(e.message));
  assert.equal(registry.metrics(["cache", "user:1"]).successCount, 2);
  assert.equal(registry.metrics(["nothing", "here"]), undefined);
  assert.equal(registry.size, 3);
  registry.dispose();
  assert.throws(() => registry.size, /disposed/);
});

test("a cache whose hierarchy was disposed refuses keyed calls rather than drop the per-key breakers", async () => {
  const registry = new BreakerRegistry(["key"]);
  const cache = new ResilientCache(mapCache(), new CircuitBreaker(), { hierarchy: registry });
  assert.equal(await cache.put("k", 1), true);
  registry.dispose();
  await assert.rejects(cache.get("k"), /options\.hierarchy \(a BreakerRegistry\) was disposed/);
});

test("a registry's or an origin guard's clock that is not a time is refused naming options.clock, as a breaker's", () => {
  for (const [bad, name] of [["soon", "TypeError"], [Number.NaN, "RangeError"], [-1, "RangeError"]]) {
    const registry = new BreakerRegistry(["key"], { clock: () => bad });
    assert.throws(() => registry.acquire(["k"]), { name, message: /^options\.clock must return a/ });
    const origin = new OriginGuard({ singleFlight: true, clock: () => bad });
    assert.throws(() => origin.begin("k"), { name, message: /^options\.clock must return a/ });
    assert.throws(() => new CircuitBreaker({}, { clock: () => bad }), { name, message: /^options\.clock must return a/ });
  }
});
