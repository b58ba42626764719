// Memory (JS heap + wasm memory), each count in a fresh process (wasm memory only grows):
// per standalone `CircuitBreaker()` over 10,000 and 100,000 breakers kept alive, and per idle
// key of a `BreakerRegistry` over 10,000 to 1,000,000 keys (two levels, `op` -> `key`, one
// successful call per key on a clock moving one second per key, as benches/python_memory.py).
// Run with `make bench-memory-js`; the figures go in bindings-wasm/js/README.md, not here.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { BreakerRegistry, CircuitBreaker } from "../bindings-wasm/js/entry/node.js";
import { initSync } from "../bindings-wasm/js/pkg/fact_resilience_wasm.js";

/** Standalone breakers kept alive. */
function breakers(count) {
  for (let i = 0; i < 100; i++) new CircuitBreaker(); // warm-up: code, maps, first wasm pages
  const keep = [];
  return [() => keep.push(...Array.from({ length: count }, () => new CircuitBreaker())), () => keep];
}

/** Idle keys of one registry. */
function keys(count) {
  let ms = 1000;
  const registry = new BreakerRegistry(["op", "key"], { maxBreakers: count + 10, clock: () => ms });
  registry.onSuccess(registry.acquire(["get", "warm-up"]));
  const run = () => {
    for (let i = 0; i < count; i++) {
      ms += 1000;
      registry.onSuccess(registry.acquire(["get", `user:${i}`]));
    }
    if (registry.size !== count + 2) throw new Error(`registry holds ${registry.size} breakers`);
  };
  return [run, () => registry];
}

function child(what, count) {
  const wasm = initSync().memory;
  const read = () => {
    for (let i = 0; i < 4; i++) globalThis.gc();
    const m = process.memoryUsage();
    return { heap: m.heapUsed, wasm: wasm.buffer.byteLength, rss: m.rss };
  };
  const [run, keep] = { breakers, keys }[what](count);
  const m0 = read();
  run();
  const m1 = read();
  keep();
  process.stdout.write(JSON.stringify(Object.fromEntries(Object.keys(m0).map((k) => [k, (m1[k] - m0[k]) / count]))));
}

function table(what, title, counts) {
  console.log(`| ${title} | JS heap | wasm memory | heap + wasm | rss |`);
  console.log("|---:|---:|---:|---:|---:|");
  for (const count of counts) {
    const r = spawnSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), "--child", what, String(count)], {
      encoding: "utf8",
      timeout: 300_000,
    });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr || r.error}`);
    const m = JSON.parse(r.stdout);
    const f = (x) => Math.round(x).toLocaleString("en-US");
    console.log(`| ${count.toLocaleString("en-US")} | ${f(m.heap)} | ${f(m.wasm)} | ${f(m.heap + m.wasm)} | ${f(m.rss)} |`);
  }
  console.log();
}

if (process.argv[2] === "--child") {
  child(process.argv[3], Number(process.argv[4]));
} else {
  table("breakers", "breakers", [10_000, 100_000]);
  table("keys", "idle keys", [10_000, 100_000, 1_000_000]);
}
