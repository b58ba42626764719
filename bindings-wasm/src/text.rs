//! The core's refusal messages for the registry and the origin guard, written out with string
//! pushes instead of their `Display`: the `{:?}` quoting of a level's name would link
//! `str`'s `Debug` (escapes and the Unicode printable tables) into the module (size budget).
//! The tests below compare every message with the core's `Display`, so the two cannot drift.

use crate::panic::push_decimal;
use fact_resilience_core::{OriginError, RegistryError};

/// `s` quoted as `{:?}` quotes it, for the characters a level's name uses (the escapes
/// below; any other control character is copied as it is).
fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn decimal(out: &mut String, n: u64) {
    push_decimal(out, n);
}

/// `e`'s message, as the core's `Display` writes it (a level's invalid config, which the JS
/// layer refuses before the core sees it, is named without the config's own message).
pub fn registry_error(e: &RegistryError) -> String {
    let mut s = String::new();
    let named = |s: &mut String, head: &str, name: &str, tail: &str| {
        s.push_str(head);
        push_quoted(s, name);
        s.push_str(tail);
    };
    match e {
        RegistryError::NoLevels => s.push_str("levels: a hierarchy needs at least one level"),
        RegistryError::TooDeep(n) => {
            s.push_str("levels: at most 8 levels, got ");
            decimal(&mut s, *n as u64);
        }
        RegistryError::EmptyLevel(i) => {
            s.push_str("levels[");
            decimal(&mut s, *i as u64);
            s.push_str("]: a level's name must not be empty");
        }
        RegistryError::DuplicateLevel(n) => named(&mut s, "levels: ", n, " appears twice"),
        RegistryError::Cycle(n) => named(
            &mut s,
            "levels: the parent links form a cycle through ",
            n,
            "",
        ),
        RegistryError::SecondRoot(n) => named(
            &mut s,
            "levels: ",
            n,
            " is a second root (one level has no parent)",
        ),
        RegistryError::Branch(n) => named(
            &mut s,
            "levels: ",
            n,
            " has two child levels (the hierarchy is a chain)",
        ),
        RegistryError::NoBreakers => s.push_str("max_breakers: must be at least 1, got 0"),
        RegistryError::Config {
            level,
            prefix,
            error,
        } => {
            named(&mut s, "levels[", level, "].config");
            if !prefix.is_empty() {
                named(&mut s, "[prefix ", prefix, "]");
            }
            s.push_str(": ");
            s.push_str(error.field());
            s.push_str(" is refused");
        }
        RegistryError::PathLength { expected, got } => {
            s.push_str("path: expected ");
            decimal(&mut s, *expected as u64);
            s.push_str(" segments (one per level), got ");
            decimal(&mut s, *got as u64);
        }
        _ => s.push_str("levels: refused by the core"),
    }
    s
}

/// `e`'s message, as the core's `Display` writes it.
pub fn origin_error(e: &OriginError) -> String {
    match e {
        OriginError::ZeroBudget => "origin_budget: must be at least 1, got 0".into(),
        OriginError::ZeroStaleAge => "stale_if_error_seconds: must be greater than 0".into(),
        OriginError::ZeroStaleCapacity => {
            "stale_capacity: must be at least 1 when stale_if_error_seconds is set, got 0".into()
        }
        OriginError::UnknownTicket(t) => {
            let mut s = String::from("ticket ");
            decimal(&mut s, *t);
            s.push_str(" is not an origin load in flight (already ended, or never issued)");
            s
        }
        _ => "origin: refused by the core".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_messages_are_the_cores() {
        let odd = String::from("a \"b\"\\c\n\t");
        let all = [
            RegistryError::NoLevels,
            RegistryError::TooDeep(9),
            RegistryError::EmptyLevel(3),
            RegistryError::DuplicateLevel("key".into()),
            RegistryError::DuplicateLevel(odd.clone()),
            RegistryError::Cycle("a".into()),
            RegistryError::SecondRoot(odd),
            RegistryError::Branch("service".into()),
            RegistryError::NoBreakers,
            RegistryError::PathLength {
                expected: 2,
                got: 10,
            },
        ];
        for e in all {
            assert_eq!(registry_error(&e), e.to_string());
        }
    }

    #[test]
    fn origin_messages_are_the_cores() {
        let all = [
            OriginError::ZeroBudget,
            OriginError::ZeroStaleAge,
            OriginError::ZeroStaleCapacity,
            OriginError::UnknownTicket(0),
            OriginError::UnknownTicket(4_294_967_297),
            OriginError::UnknownTicket(u64::MAX),
        ];
        for e in all {
            assert_eq!(origin_error(&e), e.to_string());
        }
    }
}
