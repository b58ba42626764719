//! [`RegistryConfig`]: the levels of a breaker hierarchy, their configs and the bound on how
//! many breakers a [`Registry`](super::Registry) keeps.

use crate::config::{Config, ConfigError};
use alloc::string::String;
use alloc::vec::Vec;

/// The deepest hierarchy a registry takes: a path's permits live in a fixed array, so that
/// admitting a call allocates nothing.
pub const MAX_LEVELS: usize = 8;

/// One level of the hierarchy (`system`, `service`, `operation`, `key`, ...).
#[derive(Clone, Debug, PartialEq)]
pub struct Level {
    /// The level's name, for errors and metrics.
    pub name: String,
    /// The config of a breaker created at this level.
    pub config: Config,
    /// Configs for segments that start with a prefix; the longest matching prefix wins over
    /// `config` (e.g. `"tenant:big/"` gets a higher threshold).
    pub prefixes: Vec<(String, Config)>,
}

impl Level {
    /// A level whose breakers all take `config`.
    pub fn new(name: impl Into<String>, config: Config) -> Level {
        Level {
            name: name.into(),
            config,
            prefixes: Vec::new(),
        }
    }

    /// The config for a breaker on `segment`.
    pub fn config_for(&self, segment: &str) -> &Config {
        self.prefixes
            .iter()
            .filter(|(p, _)| segment.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
            .map_or(&self.config, |(_, c)| c)
    }
}

/// The hierarchy, root first: a call's path names one segment per level, and is admitted only
/// if the breaker of every prefix of the path admits it.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistryConfig {
    /// The levels, root first (at least 1, at most [`MAX_LEVELS`]).
    pub levels: Vec<Level>,
    /// The most breakers kept. Beyond it the least recently used idle breakers (CLOSED,
    /// nothing in their window, no call in flight, no child) are dropped; a breaker that is
    /// not idle is never dropped, so the bound may be exceeded while many are not.
    pub max_breakers: usize,
}

impl RegistryConfig {
    /// Levels given as `(name, parent)` links, one root (`None`), in any order: the chain
    /// from the root is built, and a cycle, a second root or a level with two children is
    /// refused. Every level takes `config`.
    pub fn from_parents(
        links: &[(&str, Option<&str>)],
        config: &Config,
        max_breakers: usize,
    ) -> Result<RegistryConfig, RegistryError> {
        let roots: Vec<&str> = links
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|&(n, _)| n)
            .collect();
        let root = match roots.as_slice() {
            [root] => *root,
            [] if links.is_empty() => return Err(RegistryError::NoLevels),
            [] => return Err(RegistryError::Cycle(String::from(links[0].0))),
            [_, second, ..] => return Err(RegistryError::SecondRoot(String::from(*second))),
        };
        let mut order = Vec::from([root]);
        while order.len() < links.len() {
            let last = order[order.len() - 1];
            let mut children = links.iter().filter(|(_, p)| *p == Some(last));
            let Some(&(child, _)) = children.next() else {
                // Whatever was not reached from the root hangs off a loop of its own.
                let stray = links.iter().find(|(n, _)| !order.contains(n));
                return Err(RegistryError::Cycle(String::from(
                    stray.map_or(last, |l| l.0),
                )));
            };
            if children.next().is_some() {
                return Err(RegistryError::Branch(String::from(last)));
            }
            if order.contains(&child) {
                return Err(RegistryError::Cycle(String::from(child)));
            }
            order.push(child);
        }
        let config = RegistryConfig {
            levels: order
                .into_iter()
                .map(|n| Level::new(n, config.clone()))
                .collect(),
            max_breakers,
        };
        config.validate()?;
        Ok(config)
    }

    /// The first problem with this config.
    pub fn validate(&self) -> Result<(), RegistryError> {
        if self.levels.is_empty() {
            return Err(RegistryError::NoLevels);
        }
        if self.levels.len() > MAX_LEVELS {
            return Err(RegistryError::TooDeep(self.levels.len()));
        }
        if self.max_breakers == 0 {
            return Err(RegistryError::NoBreakers);
        }
        for (i, level) in self.levels.iter().enumerate() {
            if level.name.is_empty() {
                return Err(RegistryError::EmptyLevel(i));
            }
            if self.levels[..i].iter().any(|l| l.name == level.name) {
                return Err(RegistryError::DuplicateLevel(level.name.clone()));
            }
            let configs = core::iter::once(("", &level.config))
                .chain(level.prefixes.iter().map(|(p, c)| (p.as_str(), c)));
            for (prefix, config) in configs {
                config.validate().map_err(|error| RegistryError::Config {
                    level: level.name.clone(),
                    prefix: String::from(prefix),
                    error,
                })?;
            }
        }
        Ok(())
    }
}

/// Why a [`RegistryConfig`] or a path was refused. Each names the field at fault.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No level at all.
    #[error("levels: a hierarchy needs at least one level")]
    NoLevels,
    /// More than [`MAX_LEVELS`] levels.
    #[error("levels: at most 8 levels, got {0}")]
    TooDeep(usize),
    /// A level without a name.
    #[error("levels[{0}]: a level's name must not be empty")]
    EmptyLevel(usize),
    /// Two levels with one name.
    #[error("levels: {0:?} appears twice")]
    DuplicateLevel(String),
    /// The parent links loop back (this level is on or behind the loop).
    #[error("levels: the parent links form a cycle through {0:?}")]
    Cycle(String),
    /// A second level without a parent.
    #[error("levels: {0:?} is a second root (one level has no parent)")]
    SecondRoot(String),
    /// A level with two children: a hierarchy here is a chain.
    #[error("levels: {0:?} has two child levels (the hierarchy is a chain)")]
    Branch(String),
    /// A bound of 0.
    #[error("max_breakers: must be at least 1, got 0")]
    NoBreakers,
    /// A level's config (or one of its prefix configs) is invalid.
    #[error("levels[{level:?}].config{}: {error}", if prefix.is_empty() { String::new() } else { alloc::format!("[prefix {prefix:?}]") })]
    Config {
        /// The level's name.
        level: String,
        /// The prefix whose config it is (empty: the level's own).
        prefix: String,
        /// What is wrong with it.
        error: ConfigError,
    },
    /// A path whose length is not the number of levels.
    #[error("path: expected {expected} segments (one per level), got {got}")]
    PathLength {
        /// The number of levels.
        expected: usize,
        /// The path's length.
        got: usize,
    },
}
