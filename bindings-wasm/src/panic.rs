//! Panics. On wasm32-unknown-unknown a panic aborts: the instance traps and JS sees a
//! `WebAssembly.RuntimeError`. The hook installed at start-up keeps the panic's message so the
//! JS layer can throw an `Error` carrying it, then move the surviving breakers to a fresh
//! instance (see `low_level.js`).

use std::sync::Mutex;
use wasm_bindgen::prelude::wasm_bindgen;

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Installs the hook that records panic messages. Runs when the module is instantiated.
#[wasm_bindgen(start)]
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        // After a trap std believes a panic is still in progress, which poisons mutexes;
        // the message slot does not care.
        let mut slot = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some(info.to_string());
    }));
}

/// The message of the last panic, if any, clearing it.
#[wasm_bindgen(js_name = takePanicMessage)]
pub fn take_panic_message() -> Option<String> {
    LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// Panics on purpose while `handle`'s breaker is checked out (for the panic-recovery test).
/// Not part of the public API.
#[wasm_bindgen(js_name = __panicForTest)]
pub fn panic_for_test(handle: u32) {
    crate::registry::with(handle, |_| panic!("deliberate panic for the recovery test"));
}
