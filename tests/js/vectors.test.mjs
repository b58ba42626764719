// The one loader for the breaker's vectors, tests/vectors/**/*.json except cache/ (the cache
// layer's, replayed by cache_vectors.test.mjs): every vector replayed through the JS API
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
const FILES = readdirSync(DIR, { recursive: true })
  .filter((f) => f.endsWith(".json") && !/^(cache|health)\//.test(f.replaceAll("\\", "/")))
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

function replay(vector) {
  let ns = 0;
  const breaker = new CircuitBreaker(camelKeys(vector.config), {
    clock: () => ns / 1e6,
    wallClock: () => ns / 1e9,
  });
  const events = [];
  breaker.onStateChange((e) => events.push(e));
  const permits = new Map();
  const take = (name) => {
    assert.ok(permits.has(name), `no permit named ${name}`);
    const p = permits.get(name);
    permits.delete(name);
    return p;
  };
  vector.steps.forEach((step, i) => {
    const where = `${vector.name} step ${i} ${JSON.stringify(step)}`;
    events.length = 0;
    switch (step.op) {
      case "advance":
        ns += Math.round(step.ms * 1e6);
        break;
      case "acquire": {
        let permit;
        try {
          permit = breaker.tryAcquire(step.operation ?? "get");
        } catch (e) {
          assert.ok(e instanceof CircuitBreakerError, `${where}: ${e}`);
          const outcome = { CIRCUIT_BREAKER_OPEN: "open", CIRCUIT_BREAKER_THROTTLING: "throttled" }[e.code];
          assert.equal(outcome, step.expect, `${where}: got ${e.code}`);
          assert.ok(e.message.includes(e.code), where);
          if ("retry_after_ms" in step) {
            assert.ok(close(e.retryAfterMs, step.retry_after_ms), `${where}: retryAfterMs ${e.retryAfterMs}`);
          }
          break;
        }
        assert.equal(step.expect, "admitted", `${where}: admitted`);
        if ("probe" in step) assert.equal(CircuitBreaker.isProbe(permit), step.probe, `${where}: probe`);
        if ("permit" in step) permits.set(step.permit, permit);
        else breaker.onNeutral(permit);
        break;
      }
      case "success":
        breaker.onSuccess(take(step.permit));
        break;
      case "failure":
        breaker.onFailure(
          take(step.permit),
          failure(step.error_type ?? "CacheError", step.message ?? "boom"),
          step.operation ?? "get",
        );
        break;
      case "neutral":
        breaker.onNeutral(take(step.permit));
        break;
      case "poll":
        breaker.poll();
        break;
      case "force_open":
        breaker.forceOpen();
        break;
      case "force_closed":
        breaker.forceClosed();
        break;
      case "reset":
        breaker.reset();
        break;
      case "set_config":
        if ("error" in step) {
          const before = JSON.stringify(breaker.config);
          assert.throws(
            () => breaker.setConfig(camelKeys(step.config)),
            (e) => (e instanceof RangeError || e instanceof TypeError) && e.message.startsWith(`config.${camel(step.error)}`),
            where,
          );
          assert.equal(JSON.stringify(breaker.config), before, `${where}: config changed`);
        } else {
          breaker.setConfig(camelKeys(step.config));
        }
        break;
      default:
        assert.fail(`unknown op in ${where}`);
    }
    check(breaker, events, step, where);
  });
  breaker.dispose();
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
