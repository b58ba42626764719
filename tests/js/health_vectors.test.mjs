// The loader of the health-report vectors, tests/vectors/health/*.json (format in
// tests/vectors/README.md): each replayed through CircuitBreaker.health() on an injected
// clock, as core/tests/health_vectors.rs replays them through Breaker::health and
// tests/python/test_health_vectors.py through health_report(). The vectors name thresholds
// and figures in the core's snake_case; the JS API takes and answers them in camelCase (rule
// names, states and severities are values, the same in every language).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { CircuitBreaker } from "./pkg.mjs";

const DIR = fileURLToPath(new URL("../vectors/health/", import.meta.url));
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort();
const MIN_VECTORS = 10;

const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const camelKeys = (o) => Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [camel(k), v]));

/** `actual` matches `expected` where `expected` says something (as the Rust and Python loaders). */
function matches(expected, actual, path) {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array, got ${JSON.stringify(actual)}`);
    assert.equal(actual.length, expected.length, `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    expected.forEach((e, i) => matches(e, actual[i], `${path}[${i}]`));
  } else if (expected !== null && typeof expected === "object") {
    for (const [k, v] of Object.entries(expected)) {
      // Figure names are camelCase in JS; alert keys (rule, severity, value, threshold) already are.
      const key = path.endsWith(".figures") ? camel(k) : k;
      assert.ok(actual !== null && typeof actual === "object" && key in actual, `${path}.${key}: missing`);
      matches(v, actual[key], `${path}.${key}`);
    }
  } else if (typeof expected === "number") {
    assert.ok(Math.abs(actual - expected) <= 1e-9 + 1e-9 * Math.abs(expected), `${path}: expected ${expected}, got ${actual}`);
  } else {
    assert.equal(actual, expected, path);
  }
}

function replay(vector) {
  const thresholds = camelKeys(vector.thresholds);
  let ns = 0;
  const breaker = new CircuitBreaker(camelKeys(vector.config), { clock: () => ns / 1e6, wallClock: () => ns / 1e9 });
  try {
    vector.steps.forEach((step, i) => {
      const where = `${vector.name} step ${i} (${step.op})`;
      switch (step.op) {
        case "advance":
          assert.ok(step.ms >= 0, `${where}: advance needs ms >= 0`);
          ns += Math.round(step.ms * 1e6);
          break;
        case "call": {
          const permit = breaker.tryAcquire("get");
          if (step.outcome === "success") breaker.onSuccess(permit);
          else if (step.outcome === "failure") breaker.onFailure(permit, new Error("boom"), "get");
          else assert.fail(`${where}: unknown outcome ${step.outcome}`);
          break;
        }
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
        case "health":
          matches(step.expect, breaker.health(thresholds), where);
          break;
        default:
          assert.fail(`${where}: unknown op`);
      }
    });
  } finally {
    breaker.dispose();
  }
}

test("the health vectors are found", () => {
  assert.ok(FILES.length >= MIN_VECTORS, `only ${FILES.length} health vectors in ${DIR}`);
});

for (const file of FILES) {
  const vector = JSON.parse(readFileSync(join(DIR, file), "utf8"));
  test(`health vector ${vector.name}`, () => {
    if (vector.thresholds_error !== undefined) {
      // The error names the field as written in JS (camelCase).
      const field = camel(vector.thresholds_error);
      const breaker = new CircuitBreaker();
      try {
        assert.throws(
          () => breaker.health(camelKeys(vector.thresholds)),
          (e) => (e instanceof TypeError || e instanceof RangeError) && e.message.includes(`thresholds.${field}`),
        );
      } finally {
        breaker.dispose();
      }
      return;
    }
    replay(vector);
  });
}
