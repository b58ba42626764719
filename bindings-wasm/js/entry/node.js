// Node entry: compile the .wasm next to the package synchronously, then the shared API.
import { readFileSync } from "node:fs";
import { initSync } from "../pkg/fact_resilience_wasm.js";

const module = new WebAssembly.Module(
  readFileSync(new URL("../pkg/fact_resilience_wasm_bg.wasm", import.meta.url)),
);
initSync({ module });

export * from "../index.js";
