// The one JS loader for tests/vectors/cache/*.json (format: tests/vectors/README.md, "Cache
// vectors"): every vector replayed through the public ResilientCache on an injected clock,
// against an in-memory cache built from the vector's capabilities, which fails each call as
// the step's `cache` list says and records its calls under the canonical names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { CircuitBreaker, CircuitBreakerError, ResilientCache, ShedError } from "./pkg.mjs";

const DIR = fileURLToPath(new URL("../vectors/cache/", import.meta.url));
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort();
const MIN_CACHE_VECTORS = 25;
const PREFIX = "fact";

const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const camelKeys = (o) => Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [camel(k), v]));

function close(actual, expected) {
  if (typeof expected === "number" && typeof actual === "number") {
    return Math.abs(actual - expected) <= 1e-9 + 1e-12 * Math.abs(expected);
  }
  return actual === expected;
}

/** The error a manager call raises for a `cache` script entry, tagged with the entry. */
function raised(kind) {
  let err;
  switch (kind) {
    case "error":
      err = new Error("boom");
      break;
    case "timeout":
      err = Object.assign(new Error("the server took too long"), { name: "TimeoutError" });
      break;
    case "shed":
      err = new ShedError();
      break;
    case "cancelled":
      err = new DOMException("the caller gave up", "AbortError");
      break;
    default:
      throw new Error(`unknown cache outcome ${JSON.stringify(kind)}`);
  }
  err.vectorOutcome = kind;
  return err;
}

/** The in-memory cache: get/put always, delete if per_key, invalidateByPrefix always and its prefix if flush_all. */
function memoryCache({ per_key: perKey = false, flush_all: flushAll = true } = {}) {
  const entries = new Map();
  const cache = {
    calls: [],
    script: [],
    io(name, arg) {
      this.calls.push([name, arg]);
      const next = this.script.shift() ?? "ok";
      if (next !== "ok") throw raised(next);
    },
    async get(k) {
      this.io("get", k);
      return entries.get(k);
    },
    async put(k, v) {
      this.io("store", k);
      entries.set(k, v);
    },
    async invalidateByPrefix(p) {
      this.io("invalidate_by_prefix", p);
      let n = 0;
      for (const k of [...entries.keys()]) {
        if (p === PREFIX || k.startsWith(p)) n += entries.delete(k) ? 1 : 0;
      }
      return n;
    },
  };
  if (perKey) {
    cache.delete = async function (k) {
      this.io("invalidate", k);
      return entries.delete(k) ? 1 : 0;
    };
  }
  if (flushAll) cache.prefix = PREFIX;
  return cache;
}

const CALLS = { get: "get", store: "put", invalidate: "delete", invalidate_by_prefix: "invalidateByPrefix" };

async function replay(vector) {
  let ns = 0;
  const breaker = new CircuitBreaker(camelKeys(vector.config), {
    clock: () => ns / 1e6,
    wallClock: () => ns / 1e9,
  });
  const spec = vector.cache ?? {};
  const cache = memoryCache(spec.capabilities);
  const options = {};
  if ("stale_keys" in spec) options.staleKeys = camel(spec.stale_keys);
  if ("max_pending" in spec) options.maxPendingInvalidations = spec.max_pending;
  if ("degrade" in spec) options.gracefulDegradation = spec.degrade;
  if ("cache_error" in vector) {
    assert.throws(
      () => new ResilientCache(cache, breaker, options),
      (e) => e instanceof TypeError && e.message.startsWith(`options.${camel(vector.cache_error)}`),
    );
    return;
  }
  const rc = new ResilientCache(cache, breaker, options);
  for (const [i, step] of vector.steps.entries()) {
    const where = `${vector.name} step ${i} ${JSON.stringify(step)}`;
    let answer = null;
    if ("advance" in step) {
      ns += Math.round(step.advance * 1e9);
    } else if ("set" in step) {
      if ("degrade" in step.set) rc.gracefulDegradation = step.set.degrade;
    } else if ("call" in step) {
      const method = CALLS[step.call];
      assert.ok(method, `${where}: unknown call`);
      cache.calls = [];
      cache.script = [...(step.cache ?? [])];
      const args = step.call === "store" ? [step.key, step.value] : [step.key];
      try {
        answer = { returned: await rc[method](...args) };
      } catch (e) {
        answer = { raised: e };
      }
    }
    check(rc, breaker, cache, step.expect ?? {}, answer, where);
  }
  assert.equal(rc.metrics().guard.inFlight, 0, `${vector.name}: a call was left in flight`);
  breaker.dispose();
}

function raisedName(e) {
  if (e instanceof CircuitBreakerError) return e.code;
  return e.vectorOutcome ?? `unexpected ${e}`;
}

function check(rc, breaker, cache, expect, answer, where) {
  for (const [key, want] of Object.entries(expect)) {
    switch (key) {
      case "returns":
        assert.ok(answer !== null, `${where}: returns is only for a call`);
        assert.ok(!("raised" in answer), `${where}: raised ${answer.raised}`);
        if (want === null) assert.equal(answer.returned, undefined, `${where}: returns`);
        else assert.deepEqual(answer.returned, want, `${where}: returns`);
        break;
      case "raises":
        assert.ok(answer !== null, `${where}: raises is only for a call`);
        assert.ok("raised" in answer, `${where}: returned ${JSON.stringify(answer.returned)}`);
        assert.equal(raisedName(answer.raised), want, `${where}: raises`);
        break;
      case "manager_calls":
        assert.deepEqual(cache.calls, want, `${where}: manager_calls`);
        break;
      case "state":
        assert.equal(breaker.state, want, `${where}: state`);
        break;
      case "guard": {
        const g = rc.metrics().guard;
        for (const [k, w] of Object.entries(want)) {
          assert.ok(camel(k) in g, `${where}: metrics().guard has no ${camel(k)}`);
          assert.equal(g[camel(k)], w, `${where}: guard.${camel(k)}`);
        }
        break;
      }
      case "breaker": {
        const m = breaker.metrics();
        for (const [k, w] of Object.entries(want)) {
          assert.ok(camel(k) in m, `${where}: metrics has no ${camel(k)}`);
          assert.ok(close(m[camel(k)], w), `${where}: breaker.${camel(k)} = ${m[camel(k)]}, want ${w}`);
        }
        break;
      }
      default:
        assert.fail(`${where}: unknown expectation ${key}`);
    }
  }
}

test(`at least ${MIN_CACHE_VECTORS} cache vectors are present`, () => {
  assert.ok(FILES.length >= MIN_CACHE_VECTORS, `found ${FILES.length} cache vectors in ${DIR}`);
});

for (const file of FILES) {
  test(`cache vector ${file}`, async () => {
    await replay(JSON.parse(readFileSync(join(DIR, file), "utf8")));
  });
}
