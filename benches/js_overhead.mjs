// Per-call overhead of fact-resilience vs opossum and cockatiel, side by side in one Node run.
// Each scenario runs ROUNDS interleaved rounds of ITER awaited calls per library; the table
// shows medians in ns per call over a direct `await fn()` baseline. Memory: JS heap (after GC)
// plus wasm linear memory growth, per breaker, over 10,000 instances.
// Ends with a summary against the targets (ratios to this run's opossum and cockatiel).
// Run with `make bench-js` (node --expose-gc benches/js_overhead.mjs).
import { createRequire } from "node:module";
import { CircuitBreaker, ResilientCache } from "../bindings-wasm/js/entry/node.js";
import { initSync } from "../bindings-wasm/js/pkg/fact_resilience_wasm.js";

const require = createRequire(import.meta.url);
const Opossum = require("opossum");
const cockatiel = require("cockatiel");

const ITER = Number(process.env.ITER ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(run, iter) {
  const t0 = process.hrtime.bigint();
  await run(iter);
  return Number(process.hrtime.bigint() - t0) / iter;
}

// `fewer` maps a library to a smaller call count per round, for one too slow for `iter`.
async function scenario(name, impls, iter = ITER, fewer = {}) {
  const samples = Object.fromEntries(Object.keys(impls).map((k) => [k, []]));
  const calls = (k) => fewer[k] ?? iter;
  for (const [k, run] of Object.entries(impls)) await run(Math.min(calls(k), 20_000)); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, run] of Object.entries(impls)) samples[k].push(await time(run, calls(k)));
  }
  const base = median(samples.direct);
  const row = { scenario: name };
  for (const k of Object.keys(impls)) if (k !== "direct") row[k] = Math.max(0, median(samples[k]) - base);
  row.directNs = base;
  return row;
}

const ok = async () => 1;
let n = 0;
const tenPercent = async () => {
  n += 1;
  if (n % 10 === 0) throw new Error("boom");
  return 1;
};
const swallow = () => {};

// ---- async closed success ------------------------------------------------------------
const ours = new CircuitBreaker();
// opossum as its README shows it (a call timeout, so a timer per call: the 1,634 ns
// figure), and with the timeout off, for transparency.
const opossum = new Opossum(ok);
const opossumNoTimer = new Opossum(ok, { timeout: false });
const cock = cockatiel.circuitBreaker(cockatiel.handleAll, {
  halfOpenAfter: 10_000,
  breaker: new cockatiel.ConsecutiveBreaker(5),
});
const closed = await scenario("async closed success", {
  direct: async (k) => { for (let i = 0; i < k; i++) await ok(); },
  "fact-resilience": async (k) => { for (let i = 0; i < k; i++) await ours.execute(ok); },
  opossum: async (k) => { for (let i = 0; i < k; i++) await opossum.fire(); },
  "opossum (timeout: false)": async (k) => { for (let i = 0; i < k; i++) await opossumNoTimer.fire(); },
  cockatiel: async (k) => { for (let i = 0; i < k; i++) await cock.execute(ok); },
});

// ---- open fast-fail -----------------------------------------------------------------
const oursOpen = new CircuitBreaker();
oursOpen.forceOpen();
const cache = new ResilientCache(new Map(), oursOpen);
const opossumOpen = new Opossum(ok, { timeout: false });
opossumOpen.open();
const cockOpen = cockatiel.circuitBreaker(cockatiel.handleAll, {
  halfOpenAfter: 1e9,
  breaker: new cockatiel.ConsecutiveBreaker(1),
});
cockOpen.isolate();
const open = await scenario("open fast-fail", {
  direct: async (k) => { for (let i = 0; i < k; i++) await ok(); },
  "fact-resilience (ResilientCache fallback)": async (k) => { for (let i = 0; i < k; i++) await cache.get("k"); },
  "fact-resilience (execute, throws)": async (k) => { for (let i = 0; i < k; i++) await oursOpen.execute(ok).catch(swallow); },
  opossum: async (k) => { for (let i = 0; i < k; i++) await opossumOpen.fire().catch(swallow); },
  cockatiel: async (k) => { for (let i = 0; i < k; i++) await cockOpen.execute(ok).catch(swallow); },
});

// ---- closed with 10% failures (thresholds high enough never to trip) ----------------
const oursTen = new CircuitBreaker({ failureThreshold: 1_000_000 });
const opossumTen = new Opossum(tenPercent, { timeout: false }); // default 50% threshold: 10% never trips
const cockTen = cockatiel.circuitBreaker(cockatiel.handleAll, {
  halfOpenAfter: 10_000,
  breaker: new cockatiel.ConsecutiveBreaker(1_000_000),
});
const ten = await scenario("closed, 10% failures", {
  direct: async (k) => { for (let i = 0; i < k; i++) await tenPercent().catch(swallow); },
  "fact-resilience": async (k) => { for (let i = 0; i < k; i++) await oursTen.execute(tenPercent).catch(swallow); },
  opossum: async (k) => { for (let i = 0; i < k; i++) await opossumTen.fire().catch(swallow); },
  cockatiel: async (k) => { for (let i = 0; i < k; i++) await cockTen.execute(tenPercent).catch(swallow); },
}, ITER, { opossum: Math.min(ITER, 2_000) }); // opossum spends ~0.2 ms per failed call here

// ---- memory per breaker -------------------------------------------------------------
const COUNT = 10_000;
const wasmMemory = initSync().memory;
function heap() {
  for (let i = 0; i < 4; i++) globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}
function perBreaker(make, withWasm) {
  const keep = [];
  const h0 = heap();
  const w0 = wasmMemory.buffer.byteLength;
  for (let i = 0; i < COUNT; i++) keep.push(make());
  const h1 = heap();
  const w1 = wasmMemory.buffer.byteLength;
  const bytes = (h1 - h0 + (withWasm ? w1 - w0 : 0)) / COUNT;
  return { bytes, keep };
}
const memOurs = perBreaker(() => new CircuitBreaker(), true);
const memOursSmall = perBreaker(() => new CircuitBreaker({ windowBuckets: 10 }), true);
const memCock = perBreaker(
  () => cockatiel.circuitBreaker(cockatiel.handleAll, { halfOpenAfter: 10_000, breaker: new cockatiel.ConsecutiveBreaker(5) }),
  false,
);
const memOpossum = perBreaker(() => new Opossum(ok, { timeout: false }), false);
for (const b of memOpossum.keep) b.shutdown();
for (const b of [opossum, opossumNoTimer, opossumOpen, opossumTen]) b.shutdown();

const fmt = (x) => (x === undefined ? "" : Math.round(x).toLocaleString("en-US"));
console.log(`Node ${process.version}, ${ITER} calls x ${ROUNDS} rounds, medians, ns per call over a direct call\n`);
for (const row of [closed, open, ten]) {
  const cols = Object.keys(row).filter((k) => k !== "scenario" && k !== "directNs");
  console.log(`${row.scenario} (direct call: ${fmt(row.directNs)} ns)`);
  for (const c of cols) {
    const vsO = row[c] / row.opossum;
    const vsC = row[c] / row.cockatiel;
    console.log(`  ${c.padEnd(44)} ${fmt(row[c]).padStart(7)} ns   ${vsO.toFixed(3)}x opossum   ${vsC.toFixed(3)}x cockatiel`);
  }
}
console.log(`\nmemory per breaker over ${COUNT.toLocaleString("en-US")} instances (JS heap + wasm memory growth)`);
console.log(`  fact-resilience (default config, 60 window buckets) ${fmt(memOurs.bytes)} B`);
console.log(`  fact-resilience (windowBuckets: 10)                 ${fmt(memOursSmall.bytes)} B`);
console.log(`  cockatiel                                           ${fmt(memCock.bytes)} B`);
console.log(`  opossum                                             ${fmt(memOpossum.bytes)} B`);
const oursNs = closed["fact-resilience"];
const yes = (ok) => (ok ? "met" : "NOT met");
console.log("\ntargets (issue)");
console.log(`  async closed success < cockatiel: ${fmt(oursNs)} vs ${fmt(closed.cockatiel)} ns (${(oursNs / closed.cockatiel).toFixed(2)}x) ${yes(oursNs < closed.cockatiel)}`);
console.log(`  async closed success <= 0.2x opossum: ${(oursNs / closed.opossum).toFixed(3)}x (opossum ${fmt(closed.opossum)} ns here; ${(oursNs / closed["opossum (timeout: false)"]).toFixed(3)}x opossum without its timeout) ${yes(oursNs <= 0.2 * closed.opossum)}`);
console.log(`  open fast-fail (fallback) <= 0.1x opossum: ${(open["fact-resilience (ResilientCache fallback)"] / open.opossum).toFixed(3)}x ${yes(open["fact-resilience (ResilientCache fallback)"] <= 0.1 * open.opossum)}`);
console.log(`  closed, 10% failures < cockatiel: ${(ten["fact-resilience"] / ten.cockatiel).toFixed(2)}x ${yes(ten["fact-resilience"] < ten.cockatiel)}`);
console.log(`  memory per breaker < cockatiel: ${fmt(memOurs.bytes)} vs ${fmt(memCock.bytes)} B ${yes(memOurs.bytes < memCock.bytes)}`);
console.log(`\nJSON ${JSON.stringify({ closed, open, ten, memory: { ours: memOurs.bytes, oursWindow10: memOursSmall.bytes, cockatiel: memCock.bytes, opossum: memOpossum.bytes } })}`);
