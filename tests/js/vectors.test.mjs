// The one loader for the breaker's vectors, tests/vectors/**/*.json except cache/ (the cache
// layer's, replayed by cache_vectors.test.mjs), health/ (health_vectors.test.mjs), registry/
// and origin/ (registry_vectors.test.mjs, origin_vectors.test.mjs): every vector replayed through the JS API
// (CircuitBreaker) on an injected clock. Time is kept as integer nanoseconds and handed to the
// breaker as milliseconds; the wall clock stamped on failures is the same time in seconds.
// Transitions are observed through onStateChange, so every transition must reach listeners.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { CircuitBreaker, CircuitBreakerError } from "./pkg.mjs";

const DIR = fileURLToPath(new URL("../vectors/", import.meta.url));
const OTHERS = /^(cache|health|registry|origin)\//;
const FILES = readdirSync(DIR, { recursive: true })
  .filter((f) => f.endsWith(".json") && !OTHERS.test(f.replaceAll("\\", "/")))
  .sort();
const MIN_VECTORS = 40;

const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const camelKeys = (o) => Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [camel(k), v]));

function close(actual, expected) {
  if (expected === null || actual === null) return actual === expected;
  if (typeof expected === "number" && typeof actual === "number") {
    return Math.abs(actual - expected) <= 1e-9 + 1e-12 * Math.abs(expected);
  }
  return actual === expected;
}

function failure(type, message) {
  const e = new Error(message);
  e.name = type;
  return e;
}

/** A refused acquire: the error must be the one `step.expect` names. */
function refused(e, step, where) {
  assert.ok(e instanceof CircuitBreakerError, `${where}: ${e}`);
  const outcome = { CIRCUIT_BREAKER_OPEN: "open", CIRCUIT_BREAKER_THROTTLING: "throttled" }[e.code];
  assert.equal(outcome, step.expect, `${where}: got ${e.code}`);
  assert.ok(e.message.includes(e.code), where);
  if ("retry_after_ms" in step) {
    assert.ok(close(e.retryAfterMs, step.retry_after_ms), `${where}: retryAfterMs ${e.retryAfterMs}`);
  }
}

function acquire(r, step, where) {
  let permit;
  try {
    permit = r.breaker.tryAcquire(step.operation ?? "get");
  } catch (e) {
    refused(e, step, where);
    return;
  }
  assert.equal(step.expect, "admitted", `${where}: admitted`);
  if ("probe" in step) assert.equal(CircuitBreaker.isProbe(permit), step.probe, `${where}: probe`);
  if ("permit" in step) r.permits.set(step.permit, permit);
  else r.breaker.onNeutral(permit);
}

function setConfig(r, step, where) {
  if (!("error" in step)) {
    r.breaker.setConfig(camelKeys(step.config));
    return;
  }
  const before = JSON.stringify(r.breaker.config);
  assert.throws(
    () => r.breaker.setConfig(camelKeys(step.config)),
    (e) => (e instanceof RangeError || e instanceof TypeError) && e.message.startsWith(`config.${camel(step.error)}`),
    where,
  );
  assert.equal(JSON.stringify(r.breaker.config), before, `${where}: config changed`);
}

// Each step op, on a replay `r` (its breaker, clock and named permits).
const STEPS = {
  advance: (r, step) => (r.ns += Math.round(step.ms * 1e6)),
  acquire,
  success: (r, step) => r.breaker.onSuccess(r.take(step.permit)),
  failure: (r, step) =>
    r.breaker.onFailure(
      r.take(step.permit),
      failure(step.error_type ?? "CacheError", step.message ?? "boom"),
      step.operation ?? "get",
    ),
  neutral: (r, step) => r.breaker.onNeutral(r.take(step.permit)),
  poll: (r) => r.breaker.poll(),
  force_open: (r) => r.breaker.forceOpen(),
  force_closed: (r) => r.breaker.forceClosed(),
  reset: (r) => r.breaker.reset(),
  set_config: setConfig,
};

function replay(vector) {
  const r = { ns: 0, permits: new Map(), events: [] };
  r.breaker = new CircuitBreaker(camelKeys(vector.config), {
    clock: () => r.ns / 1e6,
    wallClock: () => r.ns / 1e9,
  });
  r.breaker.onStateChange((e) => r.events.push(e));
  r.take = (name) => {
    assert.ok(r.permits.has(name), `no permit named ${name}`);
    const p = r.permits.get(name);
    r.permits.delete(name);
    return p;
  };
  vector.steps.forEach((step, i) => {
    const where = `${vector.name} step ${i} ${JSON.stringify(step)}`;
    const run = STEPS[step.op];
    assert.ok(run !== undefined, `unknown op in ${where}`);
    r.events.length = 0;
    run(r, step, where);
    check(r.breaker, r.events, step, where);
  });
  r.breaker.dispose();
}

function check(breaker, events, step, where) {
  if ("transition" in step) {
    const got = events.map((e) => [e.from, e.to, e.reason]);
    const want = step.transition === null ? [] : [[step.transition.from, step.transition.to, step.transition.reason]];
    assert.deepEqual(got, want, `${where}: transitions`);
  }
  if ("state" in step) assert.equal(breaker.state, step.state, `${where}: state`);
  if ("metrics" in step || "recent_failures" in step) {
    const m = breaker.metrics();
    for (const [key, want] of Object.entries(step.metrics ?? {})) {
      const got = m[camel(key)];
      assert.ok(got !== undefined, `${where}: metrics has no ${camel(key)}`);
      assert.ok(close(got, want), `${where}: metrics.${camel(key)} = ${got}, want ${want}`);
    }
    if ("recent_failures" in step) {
      const got = breaker.recentFailures();
      assert.equal(got.length, step.recent_failures.length, `${where}: recent failures ${JSON.stringify(got)}`);
      step.recent_failures.forEach((w, i) => {
        for (const [k, v] of Object.entries(w)) {
          assert.ok(close(got[i][camel(k)], v), `${where}: recentFailures[${i}].${camel(k)} = ${got[i][camel(k)]}, want ${v}`);
        }
      });
    }
  }
}

test(`at least ${MIN_VECTORS} vectors are present (hand-written and generated/)`, () => {
  assert.ok(FILES.length >= MIN_VECTORS, `found ${FILES.length} vectors in ${DIR}`);
});

for (const file of FILES) {
  test(`vector ${file}`, () => {
    const vector = JSON.parse(readFileSync(join(DIR, file), "utf8"));
    if ("config_error" in vector) {
      assert.throws(
        () => new CircuitBreaker(camelKeys(vector.config)),
        (e) => e instanceof RangeError && e.message.startsWith(`config.${camel(vector.config_error)}`),
      );
      return;
    }
    replay(vector);
  });
}
