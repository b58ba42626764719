//! Refusals of bad input as real JS errors, built here with the core's own messages and
//! returned (not thrown) to the JS layer, which throws them: a value thrown out of an export
//! would look like a fault of the instance (`js/wasm.js`). Messages name the value as the
//! caller wrote it (`snapshot.halfOpen[2] ...`).

use js_sys::RangeError;
use wasm_bindgen::JsValue;

/// A `RangeError` carrying `message`.
pub fn range_error(message: &str) -> JsValue {
    RangeError::new(message).into()
}
