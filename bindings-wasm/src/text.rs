//! The core's refusal messages for the registry and the origin guard, written out with string
//! pushes instead of their `Display`: the `{:?}` quoting of a level's name would link
//! `str`'s `Debug` (escapes and the Unicode printable tables) into the module (size budget).
//! The tests below compare every message with the core's `Display`, so the two cannot drift.

use crate::panic::push_decimal;
use fact_resilience_core::{OriginError, RegistryError};

/// One piece of a message: text, a name quoted as `{:?}` quotes it, or a whole number.
#[derive(Clone, Copy)]
enum Piece<'a> {
    Text(&'a str),
    Name(&'a str),
    Num(u64),
}

use Piece::{Name, Num, Text};

/// The pieces written out, one after the other: one copy of the writing code serves every
/// message (size budget).
#[inline(never)]
fn render(pieces: &[Piece<'_>]) -> String {
    let mut out = String::new();
    for piece in pieces {
        match *piece {
            Text(t) => out.push_str(t),
            Num(n) => push_decimal(&mut out, n),
            // `{:?}`'s quoting, for the characters a level's name uses (the escapes below;
            // any other control character is copied as it is).
            Name(s) => {
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
        }
    }
    out
}

/// `e`'s message, as the core's `Display` writes it (a level's invalid config, which the JS
/// layer refuses before the core sees it, is named without the config's own message).
pub fn registry_error(e: &RegistryError) -> String {
    let none = Text("");
    let pieces = match e {
        RegistryError::NoLevels => [
            Text("levels: a hierarchy needs at least one level"),
            none,
            none,
            none,
            none,
        ],
        RegistryError::TooDeep(n) => [
            Text("levels: at most 8 levels, got "),
            Num(*n as u64),
            none,
            none,
            none,
        ],
        RegistryError::EmptyLevel(i) => [
            Text("levels["),
            Num(*i as u64),
            Text("]: a level's name must not be empty"),
            none,
            none,
        ],
        RegistryError::DuplicateLevel(n) => [
            Text("levels: "),
            Name(n),
            Text(" appears twice"),
            none,
            none,
        ],
        RegistryError::Cycle(n) => [
            Text("levels: the parent links form a cycle through "),
            Name(n),
            none,
            none,
            none,
        ],
        RegistryError::SecondRoot(n) => [
            Text("levels: "),
            Name(n),
            Text(" is a second root (one level has no parent)"),
            none,
            none,
        ],
        RegistryError::Branch(n) => [
            Text("levels: "),
            Name(n),
            Text(" has two child levels (the hierarchy is a chain)"),
            none,
            none,
        ],
        RegistryError::NoBreakers => [
            Text("max_breakers: must be at least 1, got 0"),
            none,
            none,
            none,
            none,
        ],
        RegistryError::Config { level, prefix, .. } if prefix.is_empty() => {
            [Text("levels["), Name(level), Text("].config: "), none, none]
        }
        RegistryError::Config { level, prefix, .. } => [
            Text("levels["),
            Name(level),
            Text("].config[prefix "),
            Name(prefix),
            Text("]: "),
        ],
        RegistryError::PathLength { expected, got } => [
            Text("path: expected "),
            Num(*expected as u64),
            Text(" segments (one per level), got "),
            Num(*got as u64),
            none,
        ],
        _ => [Text("levels: refused by the core"), none, none, none, none],
    };
    let mut out = render(&pieces);
    if let RegistryError::Config { error, .. } = e {
        out.push_str(error.field());
        out.push_str(" is refused");
    }
    out
}

/// `e`'s message, as the core's `Display` writes it.
pub fn origin_error(e: &OriginError) -> String {
    let pieces = match e {
        OriginError::ZeroBudget => [
            Text("origin_budget: must be at least 1, got 0"),
            Text(""),
            Text(""),
        ],
        OriginError::ZeroStaleAge => [
            Text("stale_if_error_seconds: must be greater than 0"),
            Text(""),
            Text(""),
        ],
        OriginError::ZeroStaleCapacity => [
            Text("stale_capacity: must be at least 1 when stale_if_error_seconds is set, got 0"),
            Text(""),
            Text(""),
        ],
        OriginError::UnknownTicket(t) => [
            Text("ticket "),
            Num(*t),
            Text(" is not an origin load in flight (already ended, or never issued)"),
        ],
        _ => [Text("origin: refused by the core"), Text(""), Text("")],
    };
    render(&pieces)
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
