// Per-call overhead and memory of fact-resilience vs opossum and cockatiel, like for like, in
// one Node run: every path puts our figure beside each peer doing the same work (a success
// beside a success, a refusal that throws beside a refusal that throws, a fallback value beside
// a fallback value). Each scenario runs ROUNDS interleaved rounds of ITER awaited calls per
// library; figures are medians in ns per call over a direct `await fn()` baseline. Memory per
// breaker is measured in a fresh process per library (rss and wasm memory only grow).
// Ends with the issues' targets as ratios to this run's peers, and one JSON line.
// Run with `make bench-js` (node --expose-gc benches/js_overhead.mjs).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { CircuitBreaker, ResilientCache } from "../bindings-wasm/js/entry/node.js";
import { initSync } from "../bindings-wasm/js/pkg/fact_resilience_wasm.js";

const require = createRequire(import.meta.url);
const Opossum = require("opossum");
const cockatiel = require("cockatiel");

const ITER = Number(process.env.ITER ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const COUNT = 10_000; // breakers per memory measurement
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x) => (x === undefined || Number.isNaN(x) ? "" : Math.round(x).toLocaleString("en-US"));

// ---- memory per breaker (child process: `--memory <library>`) ------------------------

const MAKERS = {
  "fact-resilience": () => new CircuitBreaker(),
  "fact-resilience (windowBuckets: 10)": () => new CircuitBreaker({ windowBuckets: 10 }),
  cockatiel: () =>
    cockatiel.circuitBreaker(cockatiel.handleAll, { halfOpenAfter: 10_000, breaker: new cockatiel.ConsecutiveBreaker(5) }),
  opossum: () => new Opossum(async () => 1, { timeout: false }),
};

function memoryChild(name) {
  const make = MAKERS[name];
  const wasm = initSync().memory;
  const read = () => {
    for (let i = 0; i < 4; i++) globalThis.gc();
    const m = process.memoryUsage();
    return { heap: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss, wasm: wasm.buffer.byteLength };
  };
  for (let i = 0; i < 100; i++) make(); // warm-up: code, maps and the first wasm pages
  const keep = [];
  const m0 = read();
  for (let i = 0; i < COUNT; i++) keep.push(make());
  const m1 = read();
  const per = Object.fromEntries(Object.keys(m0).map((k) => [k, (m1[k] - m0[k]) / COUNT]));
  if (name === "opossum") for (const b of keep) b.shutdown();
  process.stdout.write(JSON.stringify(per));
}

function memoryOf(name) {
  const r = spawnSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), "--memory", name], {
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`memory child for ${name} failed: ${r.stderr || r.error}`);
  return JSON.parse(r.stdout);
}

if (process.argv[2] === "--memory") {
  memoryChild(process.argv[3]);
  process.exit(0);
}

// ---- timing ---------------------------------------------------------------------------

async function time(run, iter) {
  const t0 = process.hrtime.bigint();
  await run(iter);
  return Number(process.hrtime.bigint() - t0) / iter;
}

/**
 * Runs `direct` and every library's loop interleaved; returns { name, directNs, ours: {label: ns},
 * peers: {label: ns} }, each over the direct baseline. `fewer` maps a label to a smaller call
 * count per round, for one too slow for ITER.
 */
async function scenario(name, direct, ours, peers, fewer = {}) {
  const all = { direct, ...ours, ...peers };
  const samples = Object.fromEntries(Object.keys(all).map((k) => [k, []]));
  const calls = (k) => fewer[k] ?? ITER;
  for (const [k, run] of Object.entries(all)) await run(Math.min(calls(k), 20_000)); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, run] of Object.entries(all)) samples[k].push(await time(run, calls(k)));
  }
  const directNs = median(samples.direct);
  const over = (labels) => Object.fromEntries(labels.map((k) => [k, Math.max(0, median(samples[k]) - directNs)]));
  return { name, directNs, ours: over(Object.keys(ours)), peers: over(Object.keys(peers)) };
}

const ok = async () => 1;
let n = 0;
const tenPercent = async () => {
  n += 1;
  if (n % 10 === 0) throw new Error("boom");
  return 1;
};
const swallow = () => {};
const loop = (call) => async (k) => {
  for (let i = 0; i < k; i++) await call();
};
const loopCatch = (call) => async (k) => {
  for (let i = 0; i < k; i++) await call().catch(swallow);
};

// closed: every call succeeds. opossum as its README shows it (a call timeout, so a timer per
// call), and with the timeout off.
const ours = new CircuitBreaker();
const opossum = new Opossum(ok);
const opossumNoTimer = new Opossum(ok, { timeout: false });
const cock = cockatiel.circuitBreaker(cockatiel.handleAll, { halfOpenAfter: 10_000, breaker: new cockatiel.ConsecutiveBreaker(5) });
const closed = await scenario(
  "closed: the call succeeds",
  loop(ok),
  { "fact-resilience execute": loop(() => ours.execute(ok)) },
  {
    "opossum fire": loop(() => opossum.fire()),
    "opossum fire (timeout: false)": loop(() => opossumNoTimer.fire()),
    "cockatiel execute": loop(() => cock.execute(ok)),
  },
);

// closed, 10% of calls fail (thresholds high enough never to trip); the caller catches.
const oursTen = new CircuitBreaker({ failureThreshold: 1_000_000 });
const opossumTen = new Opossum(tenPercent, { timeout: false }); // default 50% threshold: 10% never trips
const cockTen = cockatiel.circuitBreaker(cockatiel.handleAll, { halfOpenAfter: 10_000, breaker: new cockatiel.ConsecutiveBreaker(1_000_000) });
const ten = await scenario(
  "closed: 10% of calls fail, the caller catches",
  loopCatch(tenPercent),
  { "fact-resilience execute": loopCatch(() => oursTen.execute(tenPercent)) },
  { "opossum fire": loopCatch(() => opossumTen.fire()), "cockatiel execute": loopCatch(() => cockTen.execute(tenPercent)) },
  { "opossum fire": Math.min(ITER, 2_000) }, // opossum spends tens of us per failed call here
);

// open: the call is refused with an error the caller catches.
const oursOpen = new CircuitBreaker();
oursOpen.forceOpen();
const cacheThrows = new ResilientCache(new Map(), oursOpen, { gracefulDegradation: false });
const opossumOpen = new Opossum(ok, { timeout: false });
opossumOpen.open();
const cockOpen = cockatiel.circuitBreaker(cockatiel.handleAll, { halfOpenAfter: 1e9, breaker: new cockatiel.ConsecutiveBreaker(1) });
cockOpen.isolate();
const throws = await scenario(
  "open: refused, rejects with an error the caller catches",
  loop(ok),
  {
    "fact-resilience execute": loopCatch(() => oursOpen.execute(ok)),
    "fact-resilience ResilientCache.get (degradation off)": loopCatch(() => cacheThrows.get("k")),
  },
  {
    "opossum fire (EOPENBREAKER)": loopCatch(() => opossumOpen.fire()),
    "cockatiel execute (BrokenCircuitError)": loopCatch(() => cockOpen.execute(ok)),
  },
);

// Reference, for the refusal that throws: what rejecting a promise costs in this Node with a
// plain object, with a native Error built with no stack frames (Error.stackTraceLimit 0 around
// the constructor), and with a native Error as `new Error()` builds it.
class Refused extends Error {}
const nativeNoFrames = () => {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new Refused("refused");
  } finally {
    Error.stackTraceLimit = limit;
  }
};
const plain = {};
const reference = await scenario(
  "reference: Promise.reject(x).catch(f), by what x is",
  loop(ok),
  {
    "a plain object (no Error built)": loopCatch(() => Promise.reject(plain)),
    "a native Error, Error.stackTraceLimit 0": loopCatch(() => Promise.reject(nativeNoFrames())),
    "a native Error, new Error()": loopCatch(() => Promise.reject(new Refused("refused"))),
  },
  {},
);

// open: the call is refused and answered with a fallback value, by each library's own
// fallback: our cache layer, opossum's `fallback()`, cockatiel's fallback policy.
const cacheFallback = new ResilientCache(new Map(), oursOpen);
const opossumFallback = new Opossum(ok, { timeout: false });
opossumFallback.fallback(() => undefined);
opossumFallback.open();
const cockFallback = cockatiel.wrap(cockatiel.fallback(cockatiel.handleType(cockatiel.BrokenCircuitError), undefined), cockOpen);
const fallback = await scenario(
  "open: refused, answered with a fallback value (no error reaches the caller)",
  loop(ok),
  { "fact-resilience ResilientCache.get": loop(() => cacheFallback.get("k")) },
  {
    "opossum fire with fallback()": loop(() => opossumFallback.fire()),
    "cockatiel execute in wrap(fallback, breaker)": loop(() => cockFallback.execute(ok)),
  },
);
for (const b of [opossum, opossumNoTimer, opossumOpen, opossumTen, opossumFallback]) b.shutdown();

const memory = Object.fromEntries(Object.keys(MAKERS).map((k) => [k, memoryOf(k)]));

// ---- report ---------------------------------------------------------------------------

console.log(`Node ${process.version}, ${ITER} calls x ${ROUNDS} rounds, medians, ns per call over a direct call`);
const scenarios = [closed, ten, throws, fallback, reference];
for (const s of scenarios) {
  console.log(`\n${s.name} (direct call: ${fmt(s.directNs)} ns)`);
  // The reference rows have no peers of their own: their ratio is to cockatiel's refusal.
  const against = s === reference ? { "cockatiel's refusal above": throws.peers["cockatiel execute (BrokenCircuitError)"] } : s.peers;
  for (const [label, ns] of Object.entries(s.ours)) {
    const ratios = Object.entries(against).map(([p, peer]) => `${(ns / peer).toFixed(2)}x ${p}`).join(", ");
    console.log(`  ${label.padEnd(52)} ${fmt(ns).padStart(7)} ns   ${ratios}`);
  }
  for (const [label, ns] of Object.entries(s.peers)) console.log(`  ${label.padEnd(52)} ${fmt(ns).padStart(7)} ns`);
}

const kb = (b) => fmt(b);
console.log(`\nmemory per breaker, bytes, over ${COUNT.toLocaleString("en-US")} instances, a fresh process each`);
console.log(`  ${"".padEnd(38)} ${"JS heap".padStart(8)} ${"wasm".padStart(8)} ${"heap+wasm".padStart(10)} ${"rss".padStart(8)} ${"arrayBuf".padStart(9)}`);
for (const [name, m] of Object.entries(memory)) {
  console.log(
    `  ${name.padEnd(38)} ${kb(m.heap).padStart(8)} ${kb(m.wasm).padStart(8)} ${kb(m.heap + m.wasm).padStart(10)} ${kb(m.rss).padStart(8)} ${kb(m.arrayBuffers).padStart(9)}`,
  );
}

const yes = (met) => (met ? "met" : "NOT met");
const closedOurs = closed.ours["fact-resilience execute"];
const closedCock = closed.peers["cockatiel execute"];
const tenRatio = ten.ours["fact-resilience execute"] / ten.peers["cockatiel execute"];
const throwRatio = throws.ours["fact-resilience execute"] / throws.peers["cockatiel execute (BrokenCircuitError)"];
const cacheThrowRatio = throws.ours["fact-resilience ResilientCache.get (degradation off)"] / throws.peers["cockatiel execute (BrokenCircuitError)"];
const oursMem = memory["fact-resilience"].heap + memory["fact-resilience"].wasm;
const cockMem = memory.cockatiel.heap + memory.cockatiel.wasm;
console.log("\ntargets (ratios to this run's peers)");
console.log(`  issue 15: open, refusal that throws <= 0.3x cockatiel: execute ${throwRatio.toFixed(2)}x, ResilientCache (degradation off) ${cacheThrowRatio.toFixed(2)}x ${yes(throwRatio <= 0.3 && cacheThrowRatio <= 0.3)}`);
console.log(`  closed success < cockatiel: ${(closedOurs / closedCock).toFixed(2)}x ${yes(closedOurs < closedCock)}`);
console.log(`  closed success <= 0.2x opossum (with its timer): ${(closedOurs / closed.peers["opossum fire"]).toFixed(3)}x ${yes(closedOurs <= 0.2 * closed.peers["opossum fire"])}`);
console.log(`  closed, 10% failures < cockatiel: ${tenRatio.toFixed(2)}x ${yes(tenRatio < 1)}`);
console.log(`  memory per breaker (JS heap + wasm) < cockatiel: ${fmt(oursMem)} vs ${fmt(cockMem)} B ${yes(oursMem < cockMem)}`);
console.log(`\nJSON ${JSON.stringify({ node: process.version, iter: ITER, rounds: ROUNDS, scenarios, memory })}`);
