// The policies (issue 12) through the package's API beyond the vectors and README examples:
// the cache layer (slow calls, the ramp's fallbacks), failureWeights as config (read back,
// snapshots, bad input), and the new reasons in transitionCounts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CircuitBreaker, ResilientCache } from "./pkg.mjs";

test("slow cache calls open the circuit through ResilientCache, and the fallback answers", async () => {
  let ms = 0;
  const breaker = new CircuitBreaker(
    { slowCallDurationSeconds: 0.1, slowCallRateThreshold: 0.5, minimumCalls: 2 },
    { clock: () => ms },
  );
  const store = new Map([["k", "v"]]);
  let calls = 0;
  const slowCache = {
    async get(key) {
      calls++;
      ms += 500; // each read takes 500 ms on the breaker's clock
      return store.get(key);
    },
    async put(key, value) {
      store.set(key, value);
    },
  };
  const cache = new ResilientCache(slowCache, breaker);
  assert.equal(await cache.get("k"), "v");
  assert.equal(await cache.get("k"), "v", "slow, but answered: the rule judges, it does not time out");
  assert.equal(breaker.state, "open");
  assert.equal(breaker.transitionCounts().find((t) => t.reason === "slow_calls").count, 1);
  assert.equal(await cache.get("k"), undefined, "the fallback, without calling the cache");
  assert.equal(calls, 2);
});

test("calls the ramp turns away get ResilientCache's fallback", async () => {
  let ms = 0;
  const breaker = new CircuitBreaker(
    { failureThreshold: 1, successThreshold: 1, timeoutSeconds: 1, recoveryFactor: 0.5, rampSeconds: 10 },
    { clock: () => ms },
  );
  let down = true;
  const map = new Map([["k", "v"]]);
  const cache = new ResilientCache(
    {
      get: (k) => (down ? Promise.reject(new Error("down")) : map.get(k)),
      put: (k, v) => map.set(k, v),
    },
    breaker,
  );
  assert.equal(await cache.get("k"), undefined, "the failure's fallback");
  down = false;
  ms += 1000;
  assert.equal(await cache.get("k"), "v", "the probe closes the circuit");
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push(await cache.get("k"));
  assert.deepEqual(answers, ["v", undefined, "v", undefined]);
  assert.ok(cache.metrics().guard.fallbacks >= 2);
});

test("failureWeights read back, survive a snapshot, and refuse bad weights naming the kind", () => {
  const weights = { TimeoutError: 1.5, default: 0.5 };
  const b = new CircuitBreaker({ failureThreshold: 2, failureWeights: weights });
  weights.TimeoutError = 99; // the breaker kept a copy
  assert.deepEqual(b.config.failureWeights, { TimeoutError: 1.5, default: 0.5 });
  const again = CircuitBreaker.restore(JSON.parse(JSON.stringify(b.snapshot())));
  assert.deepEqual(again.config.failureWeights, { TimeoutError: 1.5, default: 0.5 });

  const before = JSON.stringify(b.config);
  assert.throws(() => b.setConfig({ failureWeights: { ok: 1, timeout: -1 } }), {
    name: "RangeError",
    message: 'config.failureWeights["timeout"] must be finite and at least 0 (each weight), got -1',
  });
  assert.throws(() => b.setConfig({ failureWeights: { timeout: "1" } }), {
    name: "TypeError",
    message: 'config.failureWeights["timeout"] must be a number, got string',
  });
  assert.throws(() => b.setConfig({ failureWeights: [1] }), { name: "TypeError", message: /config\.failureWeights must be an object/ });
  assert.equal(JSON.stringify(b.config), before, "nothing changed");
  b.setConfig({ failureWeights: {} });
  assert.deepEqual(b.config.failureWeights, {});
});

test("every new field refuses a bad value naming it", () => {
  const cases = {
    failureRateThreshold: 0,
    minimumCalls: 0,
    slowCallDurationSeconds: -1,
    slowCallRateThreshold: 1.5,
    openBackoffMultiplier: 0.5,
    maxTimeoutSeconds: NaN,
    jitter: 2,
    jitterSeed: 0,
    rampSeconds: -1,
  };
  for (const [field, value] of Object.entries(cases)) {
    assert.throws(() => new CircuitBreaker({ [field]: value }), (e) => e instanceof RangeError && e.message.startsWith(`config.${field} `), field);
  }
});
