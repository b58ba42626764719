//! [`FailureWeights`]: how much a failure of each kind counts toward `failure_threshold`.
//!
//! The one config field that is not a number: a map from error kind (the `error_type` a host
//! reports, e.g. an exception class name) to a weight. It is declared beside the table in
//! `fields.rs` but is not settable by name ([`Config::set`](super::Config::set) takes plain
//! values); bindings read and write it as their language's map.

use super::FieldValue;
use super::rule::{ConfigError, FieldRule};
use alloc::collections::BTreeMap;
use alloc::string::String;

/// The kind whose weight applies to kinds not listed.
pub const DEFAULT_KIND: &str = "default";

/// Weights of failures by kind. Empty (the default): every failure weighs 1, FACT's rule.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct FailureWeights(BTreeMap<String, f64>);

impl FailureWeights {
    /// No weights: every failure weighs 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the weight of `kind` (not validated: see [`Config::validate`](super::Config::validate)).
    pub fn insert(&mut self, kind: impl Into<String>, weight: f64) {
        self.0.insert(kind.into(), weight);
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
        self.0
            .get(kind)
            .or_else(|| self.0.get(DEFAULT_KIND))
            .copied()
            .unwrap_or(1.0)
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
        FailureWeights(iter.into_iter().map(|(k, w)| (k.into(), w)).collect())
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
