// End to end in the real Cloudflare Workers runtime (npm `workerd`): a Worker on 127.0.0.1
// protects a cache that fails on demand; over HTTP we check that the breaker trips after the
// threshold, serves degraded answers while OPEN without touching the cache, remembers the
// writes it skipped and invalidates them when it recovers after its 0.3 s timeout (a read
// then gets the new value or a miss, never the old one), and that /ready and /metrics (the
// Prometheus text, parsed strictly) follow the outage. This is the one suite that waits on
// the real clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { parse, sample } from "../js/prometheus_text.mjs";
import { WORKERD, freePort, stopGroup } from "./workerd.mjs";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const WASM = fileURLToPath(new URL("../../bindings-wasm/js/pkg/fact_resilience_wasm_bg.wasm", import.meta.url));

/** Starts workerd on a free port; returns `{ call, base, stop }` once it answers /health. */
async function startWorkerd() {
  assert.ok(existsSync(WORKERD), "npm workerd is installed (make test-js runs npm ci)");
  assert.ok(existsSync(WASM), "the package is built (make build-wasm)");
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(WORKERD, ["serve", "config.capnp", "--socket-addr", `http=127.0.0.1:${port}`], {
    cwd: HERE,
    detached: true,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const onExit = () => stopGroup(child);
  process.once("exit", onExit);
  const stop = () => {
    process.removeListener("exit", onExit);
    stopGroup(child);
  };
  const call = async (path) => {
    const res = await fetch(base + path, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200, path);
    return res.json();
  };
  let ready = false;
  for (let i = 0; i < 100 && !ready && child.exitCode === null; i++) {
    try {
      ready = (await call("/health")).result === "ok";
    } catch {
      await sleep(100);
    }
  }
  if (!ready) stop();
  assert.ok(ready, "workerd answered on 127.0.0.1");
  return { call, base, stop };
}

test("workerd: getOrLoad makes one origin call per key per flight, and answers stale values while the cache is down", { timeout: 60_000 }, async () => {
  const { call, stop } = await startWorkerd();
  try {
    // Healthy: five concurrent misses, one origin call; the value is stored.
    let r = await call("/load?k=p&n=5");
    assert.deepEqual(r.values, Array(5).fill("origin:p:1"));
    assert.equal(r.originCalls, 1);
    assert.deepEqual([r.origin.originCalls, r.origin.joined], [1, 4]);
    assert.deepEqual([r.keyState, r.state], ["closed", "closed"]);
    // Hits: the origin is not called.
    r = await call("/load?k=p&n=3");
    assert.deepEqual(r.values, Array(3).fill("origin:p:1"));
    assert.equal(r.originCalls, 1);
    // The cache is down: the remembered value answers; a key never served loads once.
    assert.equal((await call("/load-outage?on=1")).result, "open");
    r = await call("/load?k=p&n=3");
    assert.deepEqual(r.values, Array(3).fill("origin:p:1"));
    assert.deepEqual([r.originCalls, r.origin.staleServed], [1, 3]);
    r = await call("/load?k=q&n=4");
    assert.deepEqual(r.values, Array(4).fill("origin:q:2"));
    assert.deepEqual([r.originCalls, r.origin.originCalls, r.origin.inFlight], [2, 2, 0]);
  } finally {
    stop();
  }
});

test("workerd: trips after the threshold, degrades while open, recovers after the timeout without serving stale values", { timeout: 60_000 }, async () => {
  const { call, base, stop } = await startWorkerd();
  try {
    // A refused restore leaves no breaker behind (there may be no FinalizationRegistry here).
    const leak = await call("/restore-refused");
    assert.equal(leak.after, leak.before, `restore leaked (FinalizationRegistry: ${leak.finalizationRegistry})`);

    // Healthy.
    assert.deepEqual((await call("/put?k=a&v=1")).result, true);
    let r = await call("/get?k=a");
    assert.equal(r.result, "1");
    assert.equal(r.state, "closed");

    // Failing: three failures trip it; every answer is a fallback, never an error.
    await call("/fail?on=1");
    for (let i = 0; i < 3; i++) {
      r = await call("/get?k=a");
      assert.equal(r.degraded, true);
    }
    assert.equal(r.state, "open");
    assert.equal(r.failures, 3);
    assert.deepEqual(r.transitions, ["closed->open:failure_threshold"]);

    // Open: degraded answers without touching the cache; the skipped writes are remembered.
    const calls = r.cacheCalls;
    assert.equal((await call("/put?k=a&v=2")).result, true, "put -> true while open");
    assert.equal((await call("/delete?k=c")).result, 0, "delete -> 0 while open");
    r = await call("/get?k=a");
    assert.equal(r.degraded, true, "get -> undefined while open");
    assert.equal(r.cacheCalls, calls, "the cache is not called while open");
    assert.equal(r.rejected, 3);
    assert.equal(r.pendingKeys, 2, "a and c are remembered");

    // Observability while OPEN: the readiness probe fails, /metrics shows the trip.
    let res = await fetch(`${base}/ready`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 503, "not ready while open");
    assert.deepEqual([(await res.json()).ready, r.state], [false, "open"]);
    res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    let metrics = parse(await res.text());
    assert.equal(sample(metrics, "fact_resilience_state", { breaker: "cache", state: "open" }), 1);
    assert.equal(sample(metrics, "fact_resilience_calls_total", { breaker: "cache", outcome: "rejected" }), 3);
    assert.equal(sample(metrics, "fact_resilience_calls_total", { breaker: "cache", outcome: "failure" }), 3);
    assert.equal(
      sample(metrics, "fact_resilience_transitions_total", { breaker: "cache", from: "closed", to: "open", reason: "failure_threshold" }),
      1,
    );

    // The cache heals; after the 0.3 s timeout the next call probes and closes the circuit.
    // The cache still holds a=1, which the skipped put made stale: the probe invalidates a
    // and c first, so the read is a miss, never the old "1".
    await call("/fail?on=0");
    await sleep(400);
    r = await call("/get?k=a");
    assert.equal(r.result, null, "a miss, not the stale value");
    assert.equal(r.state, "closed");
    assert.equal(r.cacheCalls, calls + 3, "invalidate a, invalidate c, get a");
    assert.deepEqual([r.pendingKeys, r.flushes, r.inFlight], [0, 1, 0]);
    assert.deepEqual(r.transitions, [
      "closed->open:failure_threshold",
      "open->half_open:timeout_elapsed",
      "half_open->closed:probes_succeeded",
    ]);
    res = await fetch(`${base}/ready`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200, "ready again once closed");
    metrics = parse(await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })).text());
    assert.equal(sample(metrics, "fact_resilience_state", { breaker: "cache", state: "closed" }), 1);
    assert.equal(
      sample(metrics, "fact_resilience_transitions_total", { breaker: "cache", from: "half_open", to: "closed", reason: "probes_succeeded" }),
      1,
    );
    assert.equal((await call("/put?k=a&v=3")).result, true);
    assert.equal((await call("/get?k=a")).result, "3");
  } finally {
    stop();
  }
});
