// The Prometheus exposition (renderPrometheus / PrometheusExporter): its text parsed by a
// strict parser of the text format 0.0.4 (prometheus_text.mjs), its families checked against the core's
// declaration (metricFamilies(), the same the Python collector writes), its series through an
// outage on an injected clock, and bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CircuitBreaker,
  PROMETHEUS_CONTENT_TYPE,
  PrometheusExporter,
  ResilientCache,
  ShedError,
  metricFamilies,
  renderPrometheus,
} from "./pkg.mjs";
import { parse, sample } from "./prometheus_text.mjs";

const value = sample;

test("the exposition declares exactly the core's families, names, kinds, labels and help", () => {
  const b = new CircuitBreaker();
  const families = parse(renderPrometheus({ cache: b }));
  const core = metricFamilies();
  assert.deepEqual(
    [...families.keys()],
    core.map((f) => `fact_resilience_${f.name}${f.kind === "counter" ? "_total" : ""}`),
  );
  for (const f of core) {
    const got = families.get(`fact_resilience_${f.name}${f.kind === "counter" ? "_total" : ""}`);
    assert.equal(got.type, f.kind);
    assert.equal(got.help, f.help);
    for (const s of got.samples) assert.deepEqual(Object.keys(s.labels), ["breaker", ...f.labels]);
  }
  assert.deepEqual(
    core.map((f) => [f.name, f.kind, f.labels]),
    [
      ["state", "gauge", ["state"]],
      ["calls", "counter", ["outcome"]],
      ["transitions", "counter", ["from", "to", "reason"]],
      ["failure_rate", "gauge", []],
      ["time_in_state_seconds", "gauge", []],
      ["health_status", "gauge", []],
      ["health_alert", "gauge", ["rule", "severity"]],
    ],
    "the names and labels the Python collector and the dashboard use",
  );
  assert.equal(PROMETHEUS_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
  b.dispose();
});

test("an outage shows as the OPEN state, rejected calls, the trip's transition and a critical status", async () => {
  let now = 0;
  const b = new CircuitBreaker({ failureThreshold: 2, timeoutSeconds: 600, rollingWindowSeconds: 3600 }, { clock: () => now });
  const other = new CircuitBreaker({}, { clock: () => now });
  const exporter = new PrometheusExporter({ api: b }).add("other", other);
  for (let i = 0; i < 2; i++) await b.execute(() => Promise.reject(new Error("down"))).catch(() => {});
  for (let i = 0; i < 3; i++) await b.execute(() => 1).catch(() => {});
  now = 301_000;
  const f = parse(exporter.render());
  assert.equal(value(f, "fact_resilience_state", { breaker: "api", state: "open" }), 1);
  assert.equal(value(f, "fact_resilience_state", { breaker: "api", state: "closed" }), 0);
  assert.equal(value(f, "fact_resilience_calls_total", { breaker: "api", outcome: "rejected" }), 3);
  assert.equal(value(f, "fact_resilience_calls_total", { breaker: "api", outcome: "failure" }), 2);
  assert.equal(value(f, "fact_resilience_transitions_total", { breaker: "api", from: "closed", to: "open", reason: "failure_threshold" }), 1);
  assert.equal(value(f, "fact_resilience_failure_rate", { breaker: "api" }), 1);
  assert.equal(value(f, "fact_resilience_time_in_state_seconds", { breaker: "api" }), 301);
  assert.equal(value(f, "fact_resilience_health_status", { breaker: "api" }), 2);
  assert.equal(value(f, "fact_resilience_health_alert", { breaker: "api", rule: "critical_open_seconds", severity: "critical" }), 1);
  assert.equal(value(f, "fact_resilience_health_alert", { breaker: "api", rule: "critical_failure_rate", severity: "critical" }), 1);
  assert.equal(value(f, "fact_resilience_state", { breaker: "other", state: "closed" }), 1);
  assert.deepEqual(exporter.names(), ["api", "other"]);
  assert.equal(exporter.remove("other"), true);
  assert.ok(!exporter.render().includes('breaker="other"'));
  // Thresholds are the exporter's: with a longer open limit, only the failure rate fires.
  const lenient = parse(renderPrometheus({ api: b }, { thresholds: { criticalOpenSeconds: 600 }, namespace: "svc" }));
  assert.equal(value(lenient, "svc_health_alert", { breaker: "api", rule: "critical_open_seconds" }), 0);
  b.dispose();
  other.dispose();
});

test("a ResilientCache's shed calls are counted under outcome shed", async () => {
  const b = new CircuitBreaker();
  const cache = new ResilientCache(
    {
      get: async () => {
        throw new ShedError("pool exhausted");
      },
      put: async () => {},
      delete: async () => 1,
    },
    b,
  );
  assert.equal(await cache.get("k"), undefined, "the fallback answers");
  const f = parse(renderPrometheus({ cache }));
  assert.equal(value(f, "fact_resilience_calls_total", { breaker: "cache", outcome: "shed" }), 1);
  assert.equal(value(f, "fact_resilience_calls_total", { breaker: "cache", outcome: "failure" }), 0);
  b.dispose();
});

test("breaker names are escaped as label values and parse back unchanged", () => {
  const b = new CircuitBreaker();
  const name = 'a "quoted"\\back\nslash';
  const f = parse(renderPrometheus(new Map([[name, b]])));
  assert.equal(value(f, "fact_resilience_health_status", { breaker: name }), 0);
  b.dispose();
});

test("a bad namespace, a name given twice and anything but a breaker are clear errors", () => {
  const b = new CircuitBreaker();
  const cases = [
    [() => renderPrometheus({ b }, { namespace: "my-app" }), RangeError, /^options\.namespace must match \[a-zA-Z_\]\[a-zA-Z0-9_\]\* .* got "my-app"$/],
    [() => renderPrometheus({ b }, { namespace: "9lives" }), RangeError, /options\.namespace/],
    [() => renderPrometheus({ b }, { namespace: "" }), RangeError, /options\.namespace/],
    [() => renderPrometheus({ b }, { namespace: 7 }), TypeError, /^options\.namespace must be a string, got number$/],
    [() => renderPrometheus([["x", b], ["x", b]]), RangeError, /^breakers: a breaker is already registered under the name "x"$/],
    [() => new PrometheusExporter({ x: b }).add("x", b), RangeError, /^add: a breaker is already registered under the name "x"$/],
    [() => new PrometheusExporter().add("", b), RangeError, /^add: a breaker's name must not be empty$/],
    [() => new PrometheusExporter().add(1, b), TypeError, /^add: a breaker's name must be a string, got number$/],
    [() => renderPrometheus({ x: {} }), TypeError, /^breakers\["x"\] must be a CircuitBreaker or a ResilientCache, got object$/],
    [() => renderPrometheus(5), TypeError, /^breakers must be an object of named breakers/],
    [() => renderPrometheus({}, { thresholds: { criticalFailureRate: -0.5 } }), RangeError, /^options\.thresholds\.criticalFailureRate must be a number >= 0, got -0\.5$/],
    [() => renderPrometheus({}, { prefix: "x" }), TypeError, /^options\.prefix is not a known option$/],
  ];
  for (const [f, type, message] of cases) assert.throws(f, (e) => e instanceof type && message.test(e.message), String(message));
  b.dispose();
});

test("rendering 1,000 breakers exports every breaker's series", () => {
  // How long it takes is a benchmark figure (bindings-wasm/js/README.md), not a timed test.
  const breakers = new Map();
  for (let i = 0; i < 1000; i++) breakers.set(`b${i}`, new CircuitBreaker({ windowBuckets: 10 }));
  const f = parse(new PrometheusExporter(breakers).render());
  assert.equal(f.get("fact_resilience_state").samples.length, 3000);
  for (const b of breakers.values()) b.dispose();
});
