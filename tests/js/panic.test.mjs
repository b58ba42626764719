// A Rust panic (a trap in wasm) becomes a thrown JS Error, never a dead module: the instance
// is replaced, other breakers keep their state, the breaker in use starts fresh.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CircuitBreaker, __panicForTest } from "./pkg.mjs";

test("a panic is thrown as an Error carrying the panic message, and the module keeps working", async () => {
  let ms = 0;
  const clock = () => ms;
  const bystander = new CircuitBreaker({ failureThreshold: 1, timeoutSeconds: 10 }, { clock });
  await bystander.execute(() => Promise.reject(new Error("x"))).catch(() => {});
  ms = 4000;
  const victim = new CircuitBreaker({ failureThreshold: 7 }, { clock });
  await victim.execute(() => 1);

  assert.throws(
    () => __panicForTest(victim),
    (e) => {
      assert.equal(e.name, "PanicError");
      assert.ok(e instanceof Error);
      assert.match(e.message, /deliberate panic for the recovery test/);
      assert.ok(e.cause instanceof WebAssembly.RuntimeError);
      return true;
    },
  );

  // The bystander kept its state (OPEN since t=0, 6 s left) and its failure log.
  assert.equal(bystander.state, "open");
  await assert.rejects(bystander.execute(() => 1), { code: "CIRCUIT_BREAKER_OPEN", retryAfterMs: 6000 });
  assert.equal(bystander.recentFailures().length, 1);
  // The victim was rebuilt from its config: fresh, but configured.
  assert.equal(victim.state, "closed");
  assert.equal(victim.config.failureThreshold, 7);
  assert.equal(victim.metrics().successCount, 0);
  assert.equal(await victim.execute(() => "alive"), "alive");
  // New breakers work, twice over.
  assert.throws(() => __panicForTest(victim), { name: "PanicError" });
  const fresh = new CircuitBreaker();
  assert.equal(await fresh.execute(async () => 3), 3);
  assert.equal(bystander.state, "open");
});

test("after a panic, registries and origin guards are recreated empty at their handles and keep working", async () => {
  const { BreakerRegistry, OriginGuard, ResilientCache } = await import("./pkg.mjs");
  let ms = 0;
  const clock = () => ms;
  const registry = new BreakerRegistry(["service", { name: "key", config: { failureThreshold: 1 } }], { clock });
  registry.onFailure(registry.acquire(["s", "k"]), new Error("down"));
  assert.equal(registry.state(["s", "k"]), "open");
  const inFlight = registry.acquire(["s", "other"]);
  const origin = new OriginGuard({ singleFlight: true, staleIfErrorMs: 1000, clock });
  origin.served("a", "A");
  const lead = origin.begin("b", true);
  assert.equal(lead.kind, "lead");
  const breaker = new CircuitBreaker(undefined, { clock });
  const cache = new ResilientCache(new Map([["x", "X"]]), breaker, { hierarchy: new BreakerRegistry(["key"]), staleIfErrorMs: 1000 });
  assert.equal(await cache.getOrLoad("x", () => "loaded"), "X");

  assert.throws(() => __panicForTest(breaker), { name: "PanicError" });

  // The registry: its levels kept, its breakers started afresh; a permit from before is spent
  // quietly (it names nothing in the new instance).
  assert.deepEqual(registry.levels, ["service", "key"]);
  assert.equal(registry.state(["s", "k"]), undefined);
  assert.deepEqual(registry.onSuccess(inFlight), []);
  assert.equal(registry.size, 0);
  registry.onFailure(registry.acquire(["s", "k"]), new Error("down"));
  assert.equal(registry.state(["s", "k"]), "open", "configured as before");
  // The origin guard: its remembered values are gone; a ticket from before is refused.
  assert.equal(origin.begin("a", true).kind, "lead");
  assert.throws(() => origin.end(lead.ticket, true, "B"), RangeError);
  assert.equal(origin.counters().inFlight, 1);
  // The cache: keyed calls and getOrLoad work on the new instance.
  assert.equal(await cache.get("x"), "X");
  assert.equal(await cache.getOrLoad("y", () => "loaded"), "loaded");
  assert.equal(cache.originMetrics().originCalls, 1);
});
