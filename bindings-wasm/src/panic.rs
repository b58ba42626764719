//! Panics (and the test hooks that fault on purpose). On wasm32-unknown-unknown a panic aborts: the instance traps and JS sees a
//! `WebAssembly.RuntimeError`. The hook installed at start-up keeps the panic's message so the
//! JS layer can throw an `Error` carrying it, then move the surviving breakers to a fresh
//! instance (see `low_level.js`).
//!
//! The hook formats nothing itself (no `core::fmt` of its own): it copies the payload text
//! (`panic!("literal")` and formatted messages alike, which std has already rendered) and the
//! location, and joins them with string pushes.

use std::cell::RefCell;
use wasm_bindgen::prelude::wasm_bindgen;

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// `n` in decimal, without `core::fmt`.
pub(crate) fn push_decimal(s: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        s.push(char::from(d));
    }
}

/// `panicked at {file}:{line}:{column}: {message}`, built without `core::fmt`.
fn describe(message: Option<&str>, location: Option<(&str, u32, u32)>) -> String {
    let mut s = String::from("panicked");
    if let Some((file, line, column)) = location {
        s.push_str(" at ");
        s.push_str(file);
        s.push(':');
        push_decimal(&mut s, line.into());
        s.push(':');
        push_decimal(&mut s, column.into());
    }
    s.push_str(": ");
    s.push_str(message.unwrap_or("(a panic without a text message)"));
    s
}

/// Installs the hook that records panic messages. Runs when the module is instantiated.
#[wasm_bindgen(start)]
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| (l.file(), l.line(), l.column()));
        // `payload_as_str` needs Rust 1.91; the MSRV is 1.88.
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
        let text = describe(message, location);
        // `try_with`/`try_borrow_mut`: a hook must never panic itself.
        let _ = LAST_PANIC.try_with(|slot| {
            if let Ok(mut slot) = slot.try_borrow_mut() {
                *slot = Some(text);
            }
        });
    }));
}

/// The message of the last panic, if any, clearing it.
#[wasm_bindgen(js_name = takePanicMessage)]
pub fn take_panic_message() -> Option<String> {
    LAST_PANIC.with_borrow_mut(Option::take)
}

/// Panics on purpose while `handle`'s breaker is checked out (for the panic-recovery test).
/// Not part of the public API.
#[wasm_bindgen(js_name = __panicForTest)]
pub fn panic_for_test(handle: u32) {
    crate::registry::with(handle, |_| panic!("deliberate panic for the recovery test"));
}

/// Throws a JS exception (not a trap) while `handle`'s breaker is checked out, as a stack
/// overflow landing inside the call does: the call never finishes, so the breaker is not put
/// back (for the fault-recovery test). Not part of the public API.
#[wasm_bindgen(js_name = __throwForTest)]
pub fn throw_for_test(handle: u32) {
    crate::registry::with(handle, |_| {
        wasm_bindgen::throw_str("deliberate exception for the recovery test")
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_location_without_fmt() {
        assert_eq!(
            describe(Some("boom"), Some(("src/x.rs", 4_294_967_295, 0))),
            "panicked at src/x.rs:4294967295:0: boom"
        );
        assert_eq!(
            describe(None, None),
            "panicked: (a panic without a text message)"
        );
    }
}
