// A Worker that protects a cache with the package, served by the real workerd runtime.
// The cache is a Map behind async methods that fail on demand (`/fail?on=1`). Module-level
// state lives as long as the isolate, as a breaker would in production.
import { CircuitBreaker, PROMETHEUS_CONTENT_TYPE, PrometheusExporter, ResilientCache } from "fact-resilience";
import { liveHandles } from "fact-resilience/pkg/fact_resilience_wasm.js";

const liveBreakers = () => liveHandles().length;

const store = new Map();
const cache = {
  failing: false,
  calls: 0,
  async get(k) {
    this.calls += 1;
    if (this.failing) throw new Error("cache unavailable");
    return store.get(k);
  },
  async put(k, v) {
    this.calls += 1;
    if (this.failing) throw new Error("cache unavailable");
    store.set(k, v);
  },
  async delete(k) {
    this.calls += 1;
    if (this.failing) throw new Error("cache unavailable");
    return store.delete(k) ? 1 : 0;
  },
};
const breaker = new CircuitBreaker({ failureThreshold: 3, successThreshold: 1, timeoutSeconds: 0.3 });
const transitions = [];
breaker.onStateChange((e) => transitions.push(`${e.from}->${e.to}:${e.reason}`));
const resilient = new ResilientCache(cache, breaker);
// Created once per isolate, as the breakers are: /metrics renders them on every scrape.
const exporter = new PrometheusExporter({ cache: resilient });

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const k = url.searchParams.get("k") ?? "key";
    let result;
    switch (url.pathname) {
      case "/health":
        result = "ok";
        break;
      case "/metrics":
        return new Response(exporter.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
      case "/ready": {
        // A readiness probe: 503 while the circuit is OPEN (the cache is being bypassed).
        const { status, body } = breaker.readiness("open");
        return Response.json(body, { status });
      }
      case "/fail":
        cache.failing = url.searchParams.get("on") === "1";
        result = cache.failing;
        break;
      case "/put":
        result = await resilient.put(k, url.searchParams.get("v") ?? "");
        break;
      case "/get":
        result = await resilient.get(k);
        break;
      case "/delete":
        result = await resilient.delete(k);
        break;
      case "/restore-refused": {
        // Refused restores must leave no breaker behind, with or without FinalizationRegistry.
        const before = liveBreakers();
        const snap = breaker.snapshot();
        for (const bad of [{ ...snap, version: 9 }, { ...snap, halfOpen: [0, 0, 1] }, null]) {
          try {
            CircuitBreaker.restore(bad);
          } catch {
            // refused, as it should be
          }
        }
        return Response.json({
          before,
          after: liveBreakers(),
          finalizationRegistry: typeof FinalizationRegistry === "function",
        });
      }
      default:
        return new Response("not found", { status: 404 });
    }
    const { circuitBreaker: m, guard } = resilient.metrics();
    return Response.json({
      result: result === undefined ? null : result,
      degraded: result === undefined,
      state: breaker.state,
      cacheCalls: cache.calls,
      rejected: m.rejectedCount,
      failures: m.failureCount,
      pendingKeys: guard.pendingKeys,
      flushes: guard.flushes,
      inFlight: guard.inFlight,
      transitions,
    });
  },
};
