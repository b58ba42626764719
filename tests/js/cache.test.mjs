// ResilientCache over a Map-backed async cache that fails on demand: FACT's fallbacks while
// degraded (put -> true, get -> undefined, delete -> 0), or errors when degradation is off.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CircuitBreaker, CircuitBreakerError, ResilientCache } from "./pkg.mjs";

class FlakyCache {
  constructor() {
    this.map = new Map();
    this.failing = false;
    this.calls = 0;
  }
  async #io() {
    this.calls += 1;
    if (this.failing) throw Object.assign(new Error("storage unavailable"), { name: "CacheError" });
  }
  async get(k) {
    await this.#io();
    return this.map.get(k);
  }
  async put(k, v) {
    await this.#io();
    this.map.set(k, v);
  }
  async delete(k) {
    await this.#io();
    return this.map.delete(k) ? 1 : 0;
  }
}

function setup(config, options) {
  const clock = { ms: 0 };
  const cache = new FlakyCache();
  const breaker = new CircuitBreaker(config, { clock: () => clock.ms });
  return { clock, cache, breaker, rc: new ResilientCache(cache, breaker, options) };
}

test("passes through while healthy", async () => {
  const { rc } = setup();
  assert.equal(await rc.put("k", "v"), true);
  assert.equal(await rc.get("k"), "v");
  assert.equal(await rc.get("missing"), undefined);
  assert.equal(await rc.delete("k"), 1);
  assert.equal(rc.metrics().circuitBreaker.successCount, 4);
});

test("cache errors give the fallbacks, trip the breaker, and then the cache is not called", async () => {
  const { cache, rc, breaker } = setup({ failureThreshold: 3, timeoutSeconds: 30 });
  cache.failing = true;
  assert.equal(await rc.put("k", "v"), true);
  assert.equal(await rc.get("k"), undefined);
  assert.equal(await rc.delete("k"), 0);
  assert.equal(breaker.state, "open");
  const calls = cache.calls;
  assert.equal(await rc.put("k", "v"), true);
  assert.equal(await rc.get("k"), undefined);
  assert.equal(await rc.delete("k"), 0);
  assert.equal(cache.calls, calls, "fail fast: the cache is not touched while OPEN");
  assert.equal(breaker.metrics().rejectedCount, 3);
  assert.deepEqual(
    breaker.recentFailures().map((f) => [f.errorType, f.operation]),
    [["CacheError", "put"], ["CacheError", "get"], ["CacheError", "delete"]],
  );
});

test("recovers after the timeout: probes reach the cache again and close the circuit", async () => {
  const { clock, cache, rc, breaker } = setup({ failureThreshold: 1, successThreshold: 2, timeoutSeconds: 5, recoveryFactor: 1 });
  cache.failing = true;
  await rc.get("k");
  assert.equal(breaker.state, "open");
  cache.failing = false;
  clock.ms = 5000;
  assert.equal(await rc.put("k", "v1"), true);
  assert.equal(breaker.state, "half_open");
  assert.equal(await rc.get("k"), "v1");
  assert.equal(breaker.state, "closed");
});

test("with gracefulDegradation off, refusals throw CircuitBreakerError and cache errors are rethrown", async () => {
  const { cache, rc } = setup({ failureThreshold: 1 }, { gracefulDegradation: false });
  cache.failing = true;
  await assert.rejects(rc.get("k"), { name: "CacheError", message: "storage unavailable" });
  const err = await rc.get("k").catch((e) => e);
  assert.ok(err instanceof CircuitBreakerError);
  assert.equal(err.code, "CIRCUIT_BREAKER_OPEN");
  assert.equal(err.operation, "get");
  rc.gracefulDegradation = true;
  assert.equal(await rc.get("k"), undefined, "the switch is live");
});

test("throttled calls in HALF_OPEN also get the fallback", async () => {
  const { clock, cache, rc, breaker } = setup({ failureThreshold: 1, timeoutSeconds: 1 });
  cache.failing = true;
  await rc.get("k");
  clock.ms = 1000;
  cache.failing = false;
  let release;
  const slowGet = cache.get.bind(cache);
  cache.get = (k) => new Promise((r) => (release = () => r(slowGet(k))));
  const probe = rc.get("k");
  assert.equal(await rc.get("k"), undefined, "second call throttled -> fallback");
  assert.equal(breaker.metrics().throttledCount, 1);
  release();
  assert.equal(await probe, undefined);
});

test("adapts Map (set), KV/Cache API style (put/match) and Redis style (del)", async () => {
  const map = new ResilientCache(new Map());
  assert.equal(await map.put("a", 1), true);
  assert.equal(await map.get("a"), 1);
  assert.equal(await map.delete("a"), true);
  const store = new Map();
  const redisLike = {
    get: async (k) => store.get(k) ?? null,
    set: async (k, v) => (store.set(k, v), "OK"),
    del: async (k) => (store.delete(k) ? 1 : 0),
  };
  const redis = new ResilientCache(redisLike);
  await redis.put("x", "y");
  assert.equal(await redis.get("x"), "y");
  assert.equal(await redis.delete("x"), 1);
});
