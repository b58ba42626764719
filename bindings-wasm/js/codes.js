// The codes the wasm exports answer with, and the states' names, as the Rust side declares
// them (bindings-wasm/src/interop.rs, `CODES`): read once, on first use (the module is not
// instantiated yet when this file is evaluated).

import { boundaryCodes } from "./wasm.js";

let codes;

/** The boundary codes (see `CODES` in bindings-wasm/src/interop.rs). */
export function boundary() {
  codes ??= Object.freeze(JSON.parse(boundaryCodes()));
  return codes;
}

/** The value of field `f` (`[shift, mask]`) packed in `code`. Indexed, not destructured:
 * it runs on every refused or degraded cache call. */
export function field(code, f) {
  return (code >> f[0]) & f[1];
}
