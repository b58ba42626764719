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

/** The value of field `[shift, mask]` packed in `code`. */
export function field(code, [shift, mask]) {
  return (code >> shift) & mask;
}
