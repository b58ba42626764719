// Memory per standalone `CircuitBreaker()` (JS heap + wasm memory), over 10,000 and 100,000
// breakers kept alive, each count in a fresh process (wasm memory only grows). The keyed
// registry has no JS binding yet, so bytes per idle key are measured in Rust and Python only.
// Run with `make bench-memory-js`; the figures go in bindings-wasm/js/README.md, not here.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CircuitBreaker } from "../bindings-wasm/js/entry/node.js";
import { initSync } from "../bindings-wasm/js/pkg/fact_resilience_wasm.js";

function child(count) {
  const wasm = initSync().memory;
  const read = () => {
    for (let i = 0; i < 4; i++) globalThis.gc();
    const m = process.memoryUsage();
    return { heap: m.heapUsed, wasm: wasm.buffer.byteLength, rss: m.rss };
  };
  for (let i = 0; i < 100; i++) new CircuitBreaker(); // warm-up: code, maps, first wasm pages
  const keep = [];
  const m0 = read();
  for (let i = 0; i < count; i++) keep.push(new CircuitBreaker());
  const m1 = read();
  process.stdout.write(JSON.stringify(Object.fromEntries(Object.keys(m0).map((k) => [k, (m1[k] - m0[k]) / count]))));
}

if (process.argv[2] === "--child") {
  child(Number(process.argv[3]));
} else {
  console.log("| breakers | JS heap | wasm memory | heap + wasm | rss |");
  console.log("|---:|---:|---:|---:|---:|");
  for (const count of [10_000, 100_000]) {
    const r = spawnSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), "--child", String(count)], {
      encoding: "utf8",
      timeout: 120_000,
    });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr || r.error}`);
    const m = JSON.parse(r.stdout);
    const f = (x) => Math.round(x).toLocaleString("en-US");
    console.log(`| ${count.toLocaleString("en-US")} | ${f(m.heap)} | ${f(m.wasm)} | ${f(m.heap + m.wasm)} | ${f(m.rss)} |`);
  }
}
