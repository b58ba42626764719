// Browser / default entry: fetch and compile the .wasm next to this package (top-level await).
import init from "../pkg/fact_resilience_wasm.js";

await init({ module_or_path: new URL("../pkg/fact_resilience_wasm_bg.wasm", import.meta.url) });

export * from "../index.js";
