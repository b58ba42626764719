//! The config crossing the boundary, generically over the core's field table (`FIELDS`): JS
//! reads the object by the generated `js/config_fields.js` (each field's camelCase name, kind
//! and the core's requirement text), checks types, and passes the values as one array in the
//! core's field order to [`config_stage`]; the core then checks the rules. A refused value
//! comes back as the field's index in `FIELDS`, and JS writes the core's message
//! (`config.timeoutSeconds must be finite, > 0 and at most 100 years, got NaN`) with the value
//! it passed, so that no message and no float is formatted in Rust (`core::fmt`'s float
//! formatting would cost several KB of the size budget).
//!
//! `failure_weights`, the one field that is not a number, crosses first, one weight at a time
//! (`configStageWeight`); a refused weight comes back as `WEIGHTS_CODE + ` its index.
//!
//! A staged config is consumed by the next `breakerCreate`, `breakerSetConfig` or
//! `breakerRestore` (the JS layer always stages right before).

use crate::objects::Record;
use fact_resilience_core::{Config, ConfigError, FIELDS, FieldValue};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

thread_local! {
    static STAGED: RefCell<Option<Config>> = const { RefCell::new(None) };
    /// The weights staged for the next `configStage`, in the order given.
    static WEIGHTS: RefCell<Vec<(String, f64)>> = const { RefCell::new(Vec::new()) };
}

/// Stages the weight of failures of `kind` for the next `configStage` (which takes them all).
#[wasm_bindgen(js_name = configStageWeight)]
pub fn config_stage_weight(kind: String, weight: f64) {
    WEIGHTS.with_borrow_mut(|w| w.push((kind, weight)));
}

/// `1 + ` the index in [`FIELDS`] of the field a core rule refused (`FIELDS.len() + 1` for a
/// field this build does not know).
pub fn error_code(e: &ConfigError) -> i32 {
    let field = e.field();
    // `black_box`: a cold lookup, kept a loop; over a constant table the optimiser would
    // unroll it into one inlined string compare per field (size budget).
    core::hint::black_box(FIELDS)
        .iter()
        .position(|f| f.name == field)
        .unwrap_or(FIELDS.len()) as i32
        + 1
}

/// A field's value from its number (booleans as 0/1, counts whole numbers in `[0, 2^32)`,
/// checked by JS) and whether it is unset. A NaN is a value, which the core refuses.
fn value_of(default: FieldValue, n: f64, unset: bool) -> FieldValue {
    match default {
        FieldValue::U32(_) => FieldValue::U32(n as u32),
        FieldValue::Bool(_) => FieldValue::Bool(n != 0.0),
        FieldValue::OptU32(_) => FieldValue::OptU32((!unset).then_some(n as u32)),
        FieldValue::OptF64(_) => FieldValue::OptF64((!unset).then_some(n)),
        _ => FieldValue::F64(n),
    }
}

/// The first code of a refused weight: `WEIGHTS_CODE + i` refuses `kinds[i]`.
pub const WEIGHTS_CODE: i32 = FIELDS.len() as i32 + 2;

/// Checks a config given as one number per field in [`FIELDS`] order, with `unset[i] != 0`
/// for an optional field left unset (see [`value_of`]), and the weights staged since the last
/// call, and stages it for the next create, set-config or restore. Returns 0, the refused
/// field's [`error_code`] (`FIELDS.len() + 1` for the wrong number of values), or
/// [`WEIGHTS_CODE`] `+ i` for the i-th weight staged.
#[wasm_bindgen(js_name = configStage)]
pub fn config_stage(values: &[f64], unset: &[u8]) -> i32 {
    let weights = WEIGHTS.take();
    if values.len() != FIELDS.len() || unset.len() != FIELDS.len() {
        return FIELDS.len() as i32 + 1;
    }
    let mut c = Config::default();
    for (i, ((f, &n), &u)) in FIELDS.iter().zip(values).zip(unset).enumerate() {
        // Every index is a field and every value of its kind: this cannot be refused.
        let _ = c.set_at(i, value_of(f.default, n, u != 0));
    }
    c.failure_weights = weights.iter().cloned().collect();
    if let Some((kind, _)) = c.failure_weights.first_refused() {
        return WEIGHTS_CODE + weights.iter().position(|(k, _)| k == kind).unwrap_or(0) as i32;
    }
    match c.validate() {
        Ok(()) => {
            STAGED.set(Some(c));
            0
        }
        Err(e) => error_code(&e),
    }
}

/// The config's `failure_weights` of the breaker behind `handle` as an object (`{}` for
/// none); `null` when there is no such breaker.
#[wasm_bindgen(js_name = breakerWeights)]
pub fn weights(handle: u32) -> JsValue {
    crate::registry::with(handle, |b| {
        b.config()
            .failure_weights
            .iter()
            .fold(Record::new(), |r, (kind, w)| r.num(kind, w))
            .into()
    })
    .unwrap_or(JsValue::NULL)
}

/// The staged config (the defaults if none was staged), unstaging it.
pub fn take_staged() -> Config {
    STAGED.take().unwrap_or_default()
}

/// A config as the numbers `breakerConfig` returns, in [`FIELDS`] order: booleans as 0/1,
/// unset as NaN (no valid value is NaN).
pub fn config_to_numbers(c: &Config, out: &mut Vec<f64>) {
    for i in 0..FIELDS.len() {
        let n = match c.get_at(i) {
            Some(FieldValue::Bool(b)) => f64::from(u8::from(b)),
            Some(v) => v.number().unwrap_or(f64::NAN),
            None => f64::NAN,
        };
        out.push(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fact_resilience_core::FieldValue;

    #[test]
    fn every_field_a_rule_refuses_has_its_code() {
        for (i, f) in FIELDS.iter().enumerate() {
            let mut c = Config::default();
            let bad = match f.default {
                FieldValue::U32(_) => FieldValue::U32(0),
                FieldValue::F64(_) => FieldValue::F64(f64::NAN),
                FieldValue::OptU32(_) => FieldValue::OptU32(Some(0)),
                FieldValue::OptF64(_) => FieldValue::OptF64(Some(-1.0)),
                _ => continue, // a boolean cannot be refused
            };
            c.set(f.name, bad).unwrap();
            let e = c.validate().unwrap_err();
            assert_eq!(error_code(&e), i as i32 + 1, "{}", f.name);
        }
    }

    #[test]
    fn a_refused_config_is_not_staged() {
        let nan = f64::NAN;
        let mut values = Vec::new();
        config_to_numbers(&Config::default(), &mut values);
        // The defaults leave the optional fields unset (NaN out); say so going in.
        let mut unset: Vec<u8> = values.iter().map(|v| u8::from(v.is_nan())).collect();
        values[2] = nan;
        assert_eq!(config_stage(&values, &unset), 3);
        assert_eq!(config_stage(&values[1..], &unset), FIELDS.len() as i32 + 1);
        assert_eq!(take_staged(), Config::default());
        values[2] = 60.0;
        values[10] = nan;
        unset[10] = 0;
        assert_eq!(
            config_stage(&values, &unset),
            11,
            "a NaN is a value: refused"
        );
        values[0] = 7.0;
        values[9] = 2.0;
        values[10] = 1.5;
        unset[9] = 0;
        assert_eq!(config_stage(&values, &unset), 0);
        config_stage_weight("timeout".into(), 1.0);
        config_stage_weight("default".into(), -0.5);
        assert_eq!(
            config_stage(&values, &unset),
            WEIGHTS_CODE + 1,
            "the refused weight's index"
        );
        config_stage_weight("timeout".into(), 1.0);
        config_stage_weight("default".into(), 0.5);
        assert_eq!(config_stage(&values, &unset), 0);
        let c = take_staged();
        assert_eq!(c.failure_weights.weight("other"), 0.5);
        assert_eq!(
            (c.failure_threshold, c.half_open_max_in_flight),
            (7, Some(2))
        );
        let mut out = Vec::new();
        config_to_numbers(&c, &mut out);
        assert_eq!(out.len(), FIELDS.len());
        assert_eq!(out[10], 1.5);
    }
}
