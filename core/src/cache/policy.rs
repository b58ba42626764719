//! Stale-key protection: which policy a cache gets, from what it can do and what the user
//! asked for.

/// What a cache manager can do beyond get and store, as the host finds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// It can invalidate one key (`invalidate`, `invalidate_many`, `delete`).
    pub per_key: bool,
    /// It can invalidate everything it holds for this service (a prefix flush, `clear`).
    pub flush_all: bool,
}

/// What the user asked for (`stale_keys=` / `staleKeys:`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum StaleKeysOption {
    /// Per-key protection if the cache can invalidate one key, else none (FACT's behaviour
    /// for its prefix-only `CacheManager`).
    #[default]
    Auto = 0,
    /// Remember nothing.
    Off = 1,
    /// Remember each key; the cache must invalidate one key.
    PerKey = 2,
    /// Flush everything after any skipped write; the cache must be flushable whole.
    Prefix = 3,
}

/// The policy in force: what a write that did not complete leaves behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum StaleKeys {
    /// Nothing is remembered.
    Off = 1,
    /// The key is remembered and invalidated on its own before the cache is used again.
    PerKey = 2,
    /// The whole cache is flushed before it is used again.
    Prefix = 3,
}

/// A stale-keys option the cache cannot honour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StaleKeysError {
    /// `per_key` was asked of a cache that cannot invalidate one key.
    #[error(
        "stale_keys 'per_key' needs a cache that can invalidate one key (invalidate, invalidate_many or delete)"
    )]
    NoPerKey,
    /// `prefix` was asked of a cache that cannot be flushed whole.
    #[error(
        "stale_keys 'prefix' needs a cache that can be flushed whole (invalidate_by_prefix and a prefix)"
    )]
    NoFlushAll,
    /// The option's name is not one of `auto`, `off`, `per_key`, `prefix`.
    #[error("stale_keys must be one of 'auto', 'off', 'per_key', 'prefix'")]
    Unknown,
}

impl StaleKeysOption {
    /// Every option, in code order.
    pub const ALL: [StaleKeysOption; 4] = [
        StaleKeysOption::Auto,
        StaleKeysOption::Off,
        StaleKeysOption::PerKey,
        StaleKeysOption::Prefix,
    ];

    /// The option's name (`"auto"`, `"off"`, `"per_key"`, `"prefix"`).
    pub fn name(self) -> &'static str {
        match self {
            StaleKeysOption::Auto => "auto",
            StaleKeysOption::Off => "off",
            StaleKeysOption::PerKey => "per_key",
            StaleKeysOption::Prefix => "prefix",
        }
    }

    /// The option with this name (`perKey` is accepted for JS).
    pub fn from_name(name: &str) -> Result<StaleKeysOption, StaleKeysError> {
        if name == "perKey" {
            return Ok(StaleKeysOption::PerKey);
        }
        StaleKeysOption::ALL
            .into_iter()
            .find(|o| o.name() == name)
            .ok_or(StaleKeysError::Unknown)
    }

    /// The policy this option gives a cache that can do `caps`.
    pub fn resolve(self, caps: Capabilities) -> Result<StaleKeys, StaleKeysError> {
        match self {
            StaleKeysOption::Auto if caps.per_key => Ok(StaleKeys::PerKey),
            StaleKeysOption::Auto | StaleKeysOption::Off => Ok(StaleKeys::Off),
            StaleKeysOption::PerKey if caps.per_key => Ok(StaleKeys::PerKey),
            StaleKeysOption::PerKey => Err(StaleKeysError::NoPerKey),
            StaleKeysOption::Prefix if caps.flush_all => Ok(StaleKeys::Prefix),
            StaleKeysOption::Prefix => Err(StaleKeysError::NoFlushAll),
        }
    }
}

impl StaleKeys {
    /// The policy's name (`"off"`, `"per_key"`, `"prefix"`).
    pub fn name(self) -> &'static str {
        match self {
            StaleKeys::Off => "off",
            StaleKeys::PerKey => "per_key",
            StaleKeys::Prefix => "prefix",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX_ONLY: Capabilities = Capabilities {
        per_key: false,
        flush_all: true,
    };
    const PER_KEY: Capabilities = Capabilities {
        per_key: true,
        flush_all: false,
    };

    #[test]
    fn auto_protects_per_key_caches_and_leaves_prefix_only_caches_alone() {
        let auto = StaleKeysOption::Auto;
        assert_eq!(auto.resolve(PER_KEY), Ok(StaleKeys::PerKey));
        assert_eq!(auto.resolve(PREFIX_ONLY), Ok(StaleKeys::Off));
    }

    #[test]
    fn an_option_the_cache_cannot_honour_is_refused() {
        assert_eq!(
            StaleKeysOption::PerKey.resolve(PREFIX_ONLY),
            Err(StaleKeysError::NoPerKey)
        );
        assert_eq!(
            StaleKeysOption::Prefix.resolve(PER_KEY),
            Err(StaleKeysError::NoFlushAll)
        );
        assert_eq!(
            StaleKeysOption::Prefix.resolve(PREFIX_ONLY),
            Ok(StaleKeys::Prefix)
        );
    }

    #[test]
    fn options_are_named_in_snake_case_and_js_camel_case() {
        assert_eq!(
            StaleKeysOption::from_name("per_key"),
            Ok(StaleKeysOption::PerKey)
        );
        assert_eq!(
            StaleKeysOption::from_name("perKey"),
            Ok(StaleKeysOption::PerKey)
        );
        assert_eq!(
            StaleKeysOption::from_name("sometimes"),
            Err(StaleKeysError::Unknown)
        );
    }
}
