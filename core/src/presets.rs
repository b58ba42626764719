//! FACT's named configurations, from its cache-resilience guide ("Environment-Specific
//! Configuration"). Fields the guide leaves out keep their defaults.

use crate::config::Config;

/// The preset names, in the guide's order.
pub const PRESETS: [&str; 3] = ["development", "production", "high_traffic"];

impl Config {
    /// The named preset, or `None` for an unknown name.
    ///
    /// ```
    /// use fact_resilience_core::Config;
    ///
    /// let prod = Config::preset("production").unwrap();
    /// assert_eq!((prod.failure_threshold, prod.timeout_seconds), (10, 300.0));
    /// assert!(Config::preset("staging").is_none());
    /// ```
    pub fn preset(name: &str) -> Option<Config> {
        let base = Config::default();
        Some(match name {
            // Fast feedback: trip early, recover at once.
            "development" => Config {
                failure_threshold: 3,
                success_threshold: 2,
                timeout_seconds: 30.0,
                gradual_recovery: false,
                ..base
            },
            // Stability first: trip late, probe cautiously, wait long.
            "production" => Config {
                failure_threshold: 10,
                success_threshold: 5,
                timeout_seconds: 300.0,
                gradual_recovery: true,
                recovery_factor: 0.3,
                ..base
            },
            // Volume: tolerate more noise over a longer window, recover briskly.
            "high_traffic" => Config {
                failure_threshold: 15,
                success_threshold: 3,
                timeout_seconds: 120.0,
                rolling_window_seconds: 600.0,
                gradual_recovery: true,
                recovery_factor: 0.6,
                ..base
            },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid_and_distinct() {
        let all: alloc::vec::Vec<Config> =
            PRESETS.iter().map(|n| Config::preset(n).unwrap()).collect();
        for c in &all {
            assert!(c.validate().is_ok());
        }
        assert_ne!(all[0], all[1]);
        assert_ne!(all[1], all[2]);
        assert_eq!(
            Config::preset("high_traffic")
                .unwrap()
                .rolling_window_seconds,
            600.0
        );
    }
}
