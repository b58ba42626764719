//! Reading plain JS objects field by field, so that every problem names its path
//! (`config.timeoutSeconds`, `snapshot.window[3][1]`). Inputs are small and read rarely
//! (config, snapshot), so clarity wins over speed here.

use crate::errors::{InputError, Num};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// What a value is, in the words of an error message.
fn describe(v: &JsValue) -> String {
    if v.is_null() {
        "null".into()
    } else if Array::is_array(v) {
        "an array".into()
    } else {
        v.js_typeof().as_string().unwrap_or_default()
    }
}

fn type_error(path: &str, expected: &'static str, v: &JsValue) -> InputError {
    InputError::Type {
        path: path.into(),
        expected,
        got: describe(v),
    }
}

/// A plain object being read; `path` names it in errors.
pub struct Obj {
    obj: Object,
    pub path: String,
}

impl Obj {
    /// `v` as an object (not an array, not null), or a `TypeError` naming `path`.
    pub fn new(v: JsValue, path: String) -> Result<Obj, InputError> {
        if !v.is_object() || Array::is_array(&v) {
            return Err(type_error(&path, "an object", &v));
        }
        Ok(Obj {
            obj: v.unchecked_into(),
            path,
        })
    }

    /// The path of a field.
    pub fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// The own enumerable keys whose value is not `undefined`.
    pub fn keys(&self) -> Vec<String> {
        Object::keys(&self.obj)
            .iter()
            .filter_map(|k| k.as_string())
            .filter(|k| !self.get(k).is_undefined())
            .collect()
    }

    /// Fails on the first key not in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), InputError> {
        match self
            .keys()
            .into_iter()
            .find(|k| !known.contains(&k.as_str()))
        {
            Some(k) => Err(InputError::Unknown { path: self.at(&k) }),
            None => Ok(()),
        }
    }

    /// The field's value (`undefined` if absent or if its getter throws).
    pub fn get(&self, key: &str) -> JsValue {
        Reflect::get(&self.obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    }

    /// A required field.
    pub fn req(&self, key: &str) -> Result<JsValue, InputError> {
        let v = self.get(key);
        if v.is_undefined() {
            Err(InputError::Missing { path: self.at(key) })
        } else {
            Ok(v)
        }
    }
}

/// A number (any, NaN included: ranges are checked by the caller or the core).
pub fn number(path: &str, v: &JsValue) -> Result<f64, InputError> {
    v.as_f64().ok_or_else(|| type_error(path, "a number", v))
}

/// A whole number in `[0, 2^32)`.
pub fn count(path: &str, v: &JsValue) -> Result<u32, InputError> {
    let x = number(path, v)?;
    if x >= 0.0 && x <= f64::from(u32::MAX) && x.fract() == 0.0 {
        Ok(x as u32)
    } else {
        Err(InputError::Range {
            path: path.into(),
            expected: "an integer between 0 and 4294967295",
            value: Num(x),
        })
    }
}

/// A finite number `>= 0`, as a whole `u64` (fractions are dropped).
pub fn whole(path: &str, v: &JsValue) -> Result<u64, InputError> {
    let x = number(path, v)?;
    if x.is_finite() && x >= 0.0 {
        Ok(x as u64)
    } else {
        Err(InputError::Range {
            path: path.into(),
            expected: "a finite number >= 0",
            value: Num(x),
        })
    }
}

/// A boolean.
pub fn boolean(path: &str, v: &JsValue) -> Result<bool, InputError> {
    v.as_bool().ok_or_else(|| type_error(path, "a boolean", v))
}

/// A string.
pub fn string(path: &str, v: &JsValue) -> Result<String, InputError> {
    v.as_string().ok_or_else(|| type_error(path, "a string", v))
}

/// `null` as `None`, anything else through `f`.
pub fn nullable<T>(
    v: &JsValue,
    f: impl FnOnce() -> Result<T, InputError>,
) -> Result<Option<T>, InputError> {
    if v.is_null() { Ok(None) } else { f().map(Some) }
}

/// An array, each element read by `f(path_of_element, element)`; with `len`, exactly that
/// many elements.
pub fn array<T>(
    path: &str,
    v: &JsValue,
    len: Option<u32>,
    mut f: impl FnMut(&str, &JsValue) -> Result<T, InputError>,
) -> Result<Vec<T>, InputError> {
    if !Array::is_array(v) {
        return Err(type_error(
            path,
            if len.is_some() {
                "a fixed-length array"
            } else {
                "an array"
            },
            v,
        ));
    }
    let a: &Array = v.unchecked_ref();
    if let Some(n) = len
        && a.length() != n
    {
        return Err(InputError::Range {
            path: format!("{path}.length"),
            expected: "the fixed length of this field",
            value: Num(a.length().into()),
        });
    }
    a.iter()
        .enumerate()
        .map(|(i, x)| f(&format!("{path}[{i}]"), &x))
        .collect()
}
