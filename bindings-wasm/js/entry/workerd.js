// Cloudflare Workers (workerd) entry: the runtime imports the .wasm as a compiled
// WebAssembly.Module, which is instantiated synchronously (no fetch, no top-level await).
import module from "../pkg/fact_resilience_wasm_bg.wasm";
import { initSync } from "../pkg/fact_resilience_wasm.js";

initSync({ module });

export * from "../index.js";
