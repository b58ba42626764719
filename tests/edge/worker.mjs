// A Worker that protects a cache with the package, served by the real workerd runtime.
// The cache is a Map behind async methods that fail on demand (`/fail?on=1`). Module-level
// state lives as long as the isolate, as a breaker would in production.
import {
  BreakerRegistry,
  CircuitBreaker,
  PROMETHEUS_CONTENT_TYPE,
  PrometheusExporter,
  ResilientCache,
} from "fact-resilience";
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

// A second cache, for getOrLoad: per-key breakers and origin protection in front of an origin
// that counts its calls and answers after 20 ms (so that concurrent misses overlap).
const loaded = new Map();
const originCache = {
  async get(k) {
    return loaded.get(k);
  },
  async put(k, v) {
    loaded.set(k, v);
  },
  async delete(k) {
    return loaded.delete(k) ? 1 : 0;
  },
};
const keys = new BreakerRegistry([{ name: "key", config: { failureThreshold: 2 } }], { maxBreakers: 1000 });
const originBreaker = new CircuitBreaker({ failureThreshold: 3 });
const protectedCache = new ResilientCache(originCache, originBreaker, {
  hierarchy: keys,
  singleFlight: true,
  originBudget: 4,
  staleIfErrorMs: 60_000,
});
let originCalls = 0;

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
      case "/load": {
        // n concurrent getOrLoad calls for one key.
        const n = Number(url.searchParams.get("n") ?? "1");
        const load = async () => {
          originCalls += 1;
          const call = originCalls;
          await new Promise((resolve) => setTimeout(resolve, 20));
          return `origin:${k}:${call}`;
        };
        const values = await Promise.all(Array.from({ length: n }, () => protectedCache.getOrLoad(k, load)));
        return Response.json({
          values,
          originCalls,
          origin: protectedCache.originMetrics(),
          keyState: keys.state([k]) ?? null,
          state: originBreaker.state,
        });
      }
      case "/load-outage":
        if (url.searchParams.get("on") === "1") originBreaker.forceOpen();
        else originBreaker.forceClosed();
        result = originBreaker.state;
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
