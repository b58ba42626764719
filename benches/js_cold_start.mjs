// Cold start: what loading the package and making the first breaker costs a fresh process,
// beside opossum and cockatiel, and in workerd. Medians of N fresh processes (N=COLD_N, 15 by
// default), the libraries interleaved so that load on the machine falls on all of them alike.
//
// Node: each child measures, from `performance.now()` (ms since the process started): the
// import of the library, its first breaker, its first call (awaited); the parent times the
// whole process (spawn to exit) against a child that imports nothing. For fact-resilience a
// second kind of child splits the import: the JS glue, reading the .wasm, compiling it
// (`new WebAssembly.Module`) and instantiating it (`initSync`).
//
// workerd: time from spawning `workerd serve` to the first 200 answer of a Worker that loads
// the package and creates a breaker at module level (its first request runs one call), against
// the same for a Worker without the package. Polled every 2 ms, so each figure is within 2 ms.
// Inside a Worker the clocks do not advance while code runs (Spectre mitigation), so the
// instantiate time cannot be read from within: the difference of the two is our share.
//
// Run with `node benches/js_cold_start.mjs` after `make build-wasm` (and `npm ci` in benches/).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { WORKERD, freePort, stopGroup } from "../tests/edge/workerd.mjs";

const N = Number(process.env.COLD_N ?? 15);
const SELF = fileURLToPath(import.meta.url);
const HERE = fileURLToPath(new URL(".", import.meta.url));
const ENTRY = new URL("../bindings-wasm/js/entry/node.js", import.meta.url).href;
const GLUE = new URL("../bindings-wasm/js/pkg/fact_resilience_wasm.js", import.meta.url);
const WASM = new URL("../bindings-wasm/js/pkg/fact_resilience_wasm_bg.wasm", import.meta.url);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => (x === undefined ? "" : x.toFixed(1));

// ---- children -------------------------------------------------------------------------

const ok = async () => 1;
const LIBS = {
  "fact-resilience": {
    load: () => import(ENTRY),
    make: (m) => new m.CircuitBreaker(),
    call: (b) => b.execute(ok),
  },
  cockatiel: {
    load: () => import("cockatiel"),
    make: (m) => m.circuitBreaker(m.handleAll, { halfOpenAfter: 10_000, breaker: new m.ConsecutiveBreaker(5) }),
    call: (b) => b.execute(ok),
  },
  opossum: {
    load: () => import("opossum"),
    make: (m) => new m.default(ok, { timeout: false }),
    call: (b) => b.fire(),
  },
};

async function child(kind) {
  const t0 = performance.now();
  if (kind === "none") return { start: t0 };
  if (kind === "fact-resilience (split)") {
    const glue = await import(GLUE.href);
    const t1 = performance.now();
    const bytes = readFileSync(WASM);
    const t2 = performance.now();
    const module = new WebAssembly.Module(bytes);
    const t3 = performance.now();
    glue.initSync({ module });
    const t4 = performance.now();
    return { start: t0, glue: t1 - t0, read: t2 - t1, compile: t3 - t2, instantiate: t4 - t3 };
  }
  const lib = LIBS[kind];
  const m = await lib.load();
  const t1 = performance.now();
  const b = lib.make(m);
  const t2 = performance.now();
  await lib.call(b);
  const t3 = performance.now();
  if (kind === "opossum") b.shutdown();
  return { start: t0, import: t1 - t0, firstBreaker: t2 - t1, firstCall: t3 - t2, total: t3 - t0 };
}

if (process.argv[2] === "--child") {
  process.stdout.write(JSON.stringify(await child(process.argv[3])));
  process.exit(0);
}

// ---- Node -----------------------------------------------------------------------------

function runChild(kind) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [SELF, "--child", kind], { cwd: HERE, encoding: "utf8", timeout: 30_000 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`child ${kind} failed: ${r.stderr || r.error}`);
  return { ...JSON.parse(r.stdout), wall };
}

const KINDS = ["none", ...Object.keys(LIBS), "fact-resilience (split)"];
const runs = Object.fromEntries(KINDS.map((k) => [k, []]));
for (let i = 0; i < N; i++) for (const k of KINDS) runs[k].push(runChild(k));
const med = (k, f) => median(runs[k].map((r) => r[f]));

console.log(`Node ${process.version}: medians of ${N} fresh processes, ms`);
console.log(`  ${"".padEnd(18)} ${"import".padStart(7)} ${"breaker".padStart(8)} ${"1st call".padStart(9)} ${"total".padStart(7)} ${"process".padStart(8)} ${"over node".padStart(10)}`);
const node = {};
for (const k of Object.keys(LIBS)) {
  node[k] = {
    import: med(k, "import"),
    firstBreaker: med(k, "firstBreaker"),
    firstCall: med(k, "firstCall"),
    total: med(k, "total"),
    process: med(k, "wall"),
    overNode: med(k, "wall") - med("none", "wall"),
  };
  const r = node[k];
  console.log(
    `  ${k.padEnd(18)} ${ms(r.import).padStart(7)} ${ms(r.firstBreaker).padStart(8)} ${ms(r.firstCall).padStart(9)} ${ms(r.total).padStart(7)} ${ms(r.process).padStart(8)} ${ms(r.overNode).padStart(10)}`,
  );
}
console.log(`  ${"node alone".padEnd(18)} ${"".padStart(34)} ${ms(med("none", "wall")).padStart(8)}`);
const split = Object.fromEntries(["glue", "read", "compile", "instantiate"].map((f) => [f, med("fact-resilience (split)", f)]));
console.log(
  `  fact-resilience import, split: JS glue ${ms(split.glue)}, read .wasm ${ms(split.read)}, compile ${ms(split.compile)}, instantiate ${ms(split.instantiate)}`,
);

// ---- workerd --------------------------------------------------------------------------

/** ms from spawning workerd with config `name` to its first 200 answer, and that answer. */
async function workerdFirstAnswer(name) {
  const port = await freePort();
  const t0 = process.hrtime.bigint();
  const proc = spawn(WORKERD, ["serve", "workerd/cold_start.capnp", name, "--socket-addr", `http=127.0.0.1:${port}`], {
    cwd: HERE,
    detached: true,
    stdio: ["ignore", "ignore", "inherit"],
  });
  try {
    for (let i = 0; i < 10_000 && proc.exitCode === null; i++) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
        const body = await res.json();
        if (res.status === 200) return { ms: Number(process.hrtime.bigint() - t0) / 1e6, body };
      } catch {
        await sleep(2);
      }
    }
    throw new Error(`workerd (${name}) did not answer`);
  } finally {
    stopGroup(proc);
  }
}

let workerd = null;
if (existsSync(WORKERD)) {
  const times = { empty: [], breaker: [] };
  let answer;
  for (let i = 0; i < N; i++) {
    for (const name of ["empty", "breaker"]) {
      const r = await workerdFirstAnswer(name);
      times[name].push(r.ms);
      if (name === "breaker") answer = r.body;
    }
  }
  workerd = { empty: median(times.empty), breaker: median(times.breaker) };
  workerd.overEmpty = workerd.breaker - workerd.empty;
  console.log(`\nworkerd ${spawnSync(WORKERD, ["--version"], { encoding: "utf8" }).stdout.trim()}: medians of ${N} fresh processes, ms from spawn to the first answer`);
  console.log(`  Worker without the package              ${ms(workerd.empty).padStart(7)}`);
  console.log(`  Worker with the package and a breaker   ${ms(workerd.breaker).padStart(7)}   (+${ms(workerd.overEmpty)})`);
  console.log(`  a refusal there: ${JSON.stringify(answer.refusal)}`);
  workerd.refusal = answer.refusal;
} else {
  console.log("\nworkerd: not installed (make setup-js), skipped");
}

console.log(`\nJSON ${JSON.stringify({ node: process.version, n: N, nodeRuns: node, split, nodeAlone: med("none", "wall"), workerd })}`);
