// fact-resilience/otel with the OpenTelemetry SDK's in-memory reader and span exporter (dev
// dependencies of the tests, installed in bindings-wasm/js): the instruments through a trip
// and a recovery on an injected clock, a span per guarded call with the seed's attributes,
// and bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { CircuitBreaker, ResilientCache, metricFamilies } from "./pkg.mjs";
import { BreakerInstruments, traceCalls } from "../../bindings-wasm/js/otel.js";

// The SDK resolves from the package's node_modules, where npm ci installs the dev dependencies.
const require = createRequire(new URL("../../bindings-wasm/js/package.json", import.meta.url));
const load = (name) => import(pathToFileURL(require.resolve(name)).href);
const { MeterProvider, MetricReader } = await load("@opentelemetry/sdk-metrics");
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = await load("@opentelemetry/sdk-trace-base");

/** A reader collected on demand (no export interval: no timer). */
class OnDemandReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

async function collect(reader) {
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  const points = new Map();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const m of scope.metrics) points.set(m.descriptor.name, { descriptor: m.descriptor, points: m.dataPoints });
  }
  return points;
}

const point = (metrics, name, attributes) => {
  const m = metrics.get(name);
  assert.ok(m, `no instrument ${name}`);
  const p = m.points.filter((d) => Object.entries(attributes).every(([k, v]) => d.attributes[k] === v));
  assert.equal(p.length, 1, `${name} ${JSON.stringify(attributes)}: ${p.length} points`);
  return p[0].value;
};

test("the instruments are the core's families and follow a trip and a recovery", async () => {
  let now = 0;
  const b = new CircuitBreaker({ failureThreshold: 2, timeoutSeconds: 1, successThreshold: 1, gradualRecovery: false }, { clock: () => now });
  const reader = new OnDemandReader();
  const provider = new MeterProvider({ readers: [reader] });
  const instruments = new BreakerInstruments({ api: b }, { meterProvider: provider });
  let m = await collect(reader);
  assert.deepEqual([...m.keys()].sort(), metricFamilies().map((f) => `fact_resilience.${f.name}`).sort());
  assert.equal(m.get("fact_resilience.time_in_state_seconds").descriptor.unit, "s");
  assert.equal(m.get("fact_resilience.calls").descriptor.description, metricFamilies()[1].help);
  assert.equal(point(m, "fact_resilience.state", { breaker: "api", state: "closed" }), 1);

  for (let i = 0; i < 2; i++) await b.execute(() => Promise.reject(new Error("down"))).catch(() => {});
  await b.execute(() => 1).catch(() => {});
  m = await collect(reader);
  assert.equal(point(m, "fact_resilience.state", { breaker: "api", state: "open" }), 1);
  assert.equal(point(m, "fact_resilience.calls", { breaker: "api", outcome: "rejected" }), 1);
  assert.equal(point(m, "fact_resilience.calls", { breaker: "api", outcome: "failure" }), 2);
  assert.equal(point(m, "fact_resilience.transitions", { breaker: "api", from: "closed", to: "open", reason: "failure_threshold" }), 1);
  assert.equal(point(m, "fact_resilience.health_status", { breaker: "api" }), 2, "failure rate 1 is critical");

  now = 1000;
  await b.execute(() => "ok");
  m = await collect(reader);
  assert.equal(point(m, "fact_resilience.state", { breaker: "api", state: "closed" }), 1);
  assert.equal(point(m, "fact_resilience.transitions", { breaker: "api", from: "half_open", to: "closed", reason: "probes_succeeded" }), 1);
  assert.equal(point(m, "fact_resilience.calls", { breaker: "api", outcome: "success" }), 1);

  const cache = new ResilientCache(new Map(), new CircuitBreaker());
  instruments.add("cache", cache);
  assert.deepEqual(instruments.names(), ["api", "cache"]);
  m = await collect(reader);
  assert.equal(point(m, "fact_resilience.calls", { breaker: "cache", outcome: "shed" }), 0);
  instruments.close();
  await provider.shutdown();
  b.dispose();
  cache.breaker.dispose();
});

test("traceCalls: a span per execute with circuit.state, operation.name, outcome and error.type", async () => {
  let now = 0;
  const b = new CircuitBreaker({ failureThreshold: 1, timeoutSeconds: 1, successThreshold: 1 }, { clock: () => now });
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  traceCalls(b, { tracerProvider: provider });
  assert.equal(await b.execute(() => 1, "get"), 1);
  const boom = new TypeError("down");
  await assert.rejects(b.execute(() => Promise.reject(boom), "get"), boom);
  await assert.rejects(b.execute(() => 1, "get"), { code: "CIRCUIT_BREAKER_OPEN" });
  now = 1000;
  assert.equal(await b.execute(() => 2, "put"), 2);
  const spans = exporter.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, status: s.status.code }));
  assert.deepEqual(spans, [
    { name: "circuit_breaker get", attributes: { "circuit.state": "closed", "operation.name": "get", outcome: "success" }, status: 0 },
    {
      name: "circuit_breaker get",
      attributes: { "circuit.state": "closed", "operation.name": "get", outcome: "failure", "error.type": "TypeError" },
      status: 2,
    },
    { name: "circuit_breaker get", attributes: { "circuit.state": "open", "operation.name": "get", outcome: "rejected" }, status: 0 },
    { name: "circuit_breaker put", attributes: { "circuit.state": "open", "operation.name": "put", outcome: "success" }, status: 0 },
  ]);
  // fn's own CircuitBreakerError (from another breaker) is a failure, not a refusal.
  const inner = new CircuitBreaker();
  inner.forceOpen();
  await assert.rejects(b.execute(() => inner.execute(() => 1), "nested"));
  const last = exporter.getFinishedSpans().at(-1);
  assert.equal(last.attributes.outcome, "failure");
  assert.equal(last.attributes["error.type"], "CircuitBreakerError");
  await provider.shutdown();
  b.dispose();
  inner.dispose();
});

test("bad input to the OpenTelemetry hook is refused naming it", () => {
  const b = new CircuitBreaker();
  const cache = new ResilientCache(new Map(), b);
  assert.throws(() => new BreakerInstruments({ b }, { namespace: "my.app" }), (e) => e instanceof RangeError && /^options\.namespace must match/.test(e.message));
  assert.throws(() => new BreakerInstruments([["b", b], ["b", cache]]), (e) => e instanceof RangeError && e.message === 'breakers: a breaker is already registered under the name "b"');
  assert.throws(() => new BreakerInstruments({ b }, { thresholds: { warningFailureRate: 2 } }), (e) => e instanceof RangeError && e.message.startsWith("options.thresholds.warningFailureRate"));
  assert.throws(() => traceCalls({}), (e) => e instanceof TypeError && e.message === "traceCalls: target must be a CircuitBreaker, got object");
  assert.throws(() => traceCalls(cache), (e) => e instanceof TypeError && /ResilientCache/.test(e.message));
  b.dispose();
});
