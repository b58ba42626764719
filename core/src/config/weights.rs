//! [`FailureWeights`]: how much a failure of each kind counts toward `failure_threshold`.
//!
//! The one config field that is not a number: a map from error kind (the `error_type` a host
//! reports, e.g. an exception class name) to a weight. It is declared beside the table in
//! `fields.rs` but is not settable by name ([`Config::set`](super::Config::set) takes plain
//! values); bindings read and write it as their language's map.

use super::FieldValue;
use super::rule::{ConfigError, FieldRule};
use alloc::string::String;
use alloc::vec::Vec;

/// The kind whose weight applies to kinds not listed.
pub const DEFAULT_KIND: &str = "default";

/// What `failure_weights` does, for the bindings' docs (as [`Field::doc`](super::Field::doc)
/// for the fields in the table).
pub const DOC: &str = "Weight of a failure by its kind (the error's type: the exception class \
    name in Python, the error's name in JS) for the consecutive rule, which then trips when the \
    weights of the run add up to failure_threshold; a kind not listed weighs the \"default\" \
    entry, or 1. Empty: every failure weighs 1.";

/// Weights of failures by kind. Empty (the default): every failure weighs 1, FACT's rule.
///
/// A vector sorted by kind, not a map: a config holds a handful of kinds, a lookup is a
/// binary search either way, and a `BTreeMap`'s node code (clone, drop, rebalancing) is
/// several KB of the wasm binding's size budget.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(from = "alloc::collections::BTreeMap<String, f64>")
)]
#[cfg_attr(
    feature = "serde",
    serde(into = "alloc::collections::BTreeMap<String, f64>")
)]
pub struct FailureWeights(Vec<(String, f64)>);

#[cfg(feature = "serde")]
impl From<alloc::collections::BTreeMap<String, f64>> for FailureWeights {
    fn from(m: alloc::collections::BTreeMap<String, f64>) -> Self {
        FailureWeights(m.into_iter().collect())
    }
}

#[cfg(feature = "serde")]
impl From<FailureWeights> for alloc::collections::BTreeMap<String, f64> {
    fn from(w: FailureWeights) -> Self {
        w.0.into_iter().collect()
    }
}

impl FailureWeights {
    /// No weights: every failure weighs 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the weight of `kind` (not validated: see [`Config::validate`](super::Config::validate)).
    pub fn insert(&mut self, kind: impl Into<String>, weight: f64) {
        let kind = kind.into();
        match self.find(&kind) {
            Ok(i) => self.0[i].1 = weight,
            Err(i) => self.0.insert(i, (kind, weight)),
        }
    }

    fn find(&self, kind: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(kind))
    }

    /// The weights, by kind in byte order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0.iter().map(|(k, w)| (k.as_str(), *w))
    }

    /// Whether no weight is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The weight of a failure of `kind`: its own, else the `"default"` entry's, else 1.
    pub fn weight(&self, kind: &str) -> f64 {
        let at = |kind| self.find(kind).ok().map(|i| self.0[i].1);
        at(kind).or_else(|| at(DEFAULT_KIND)).unwrap_or(1.0)
    }

    /// The first weight that is negative or not finite, as a [`ConfigError`] naming
    /// `failure_weights` (a binding that knows the kind adds it to the message).
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (_, w) in self.iter() {
            FieldRule::Weight.check("failure_weights", FieldValue::F64(w))?;
        }
        Ok(())
    }

    /// The first kind whose weight is refused, with the refusal.
    pub fn first_refused(&self) -> Option<(&str, ConfigError)> {
        self.iter().find_map(|(k, w)| {
            FieldRule::Weight
                .check("failure_weights", FieldValue::F64(w))
                .err()
                .map(|e| (k, e))
        })
    }
}

impl<K: Into<String>> FromIterator<(K, f64)> for FailureWeights {
    fn from_iter<I: IntoIterator<Item = (K, f64)>>(iter: I) -> Self {
        let mut w = FailureWeights::new();
        for (k, weight) in iter {
            w.insert(k, weight);
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn an_unknown_kind_takes_the_default_entry_or_one() {
        let w: FailureWeights = [("timeout", 1.0), ("temporary", 0.3)].into_iter().collect();
        assert_eq!(w.weight("temporary"), 0.3);
        assert_eq!(w.weight("ConnectionError"), 1.0);
        let with_default: FailureWeights = [("default", 0.5)].into_iter().collect();
        assert_eq!(with_default.weight("anything"), 0.5);
    }

    #[test]
    fn a_negative_or_unbounded_weight_is_refused_naming_the_field() {
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let w: FailureWeights = [("ok", 0.0), ("timeout", bad)].into_iter().collect();
            let (kind, e) = w.first_refused().expect("refused");
            assert_eq!((kind, e.field()), ("timeout", "failure_weights"));
            assert_eq!(w.validate().map_err(|e| e.field()), Err("failure_weights"));
        }
        let w: FailureWeights = [("timeout", -1.0)].into_iter().collect();
        assert_eq!(
            w.validate().unwrap_err().to_string(),
            "failure_weights must be finite and at least 0 (each weight), got -1"
        );
    }
}
