//! The writers of every text vnetd hands another program: a daemon's
//! configuration, a zone file, a ruleset, a command line. A value that
//! comes from a topology file (a TXT record, a zone's name, a path made of
//! a lab's names) reaches such a text only through the writer of its
//! format, which quotes it by that program's grammar or refuses it; no
//! value is pasted into a text with `format!` alone. A topology file is
//! often someone else's (a pull request's), and the programs run as root:
//! a value that ended a quoted string early could add any directive.
//!
//! One module per grammar:
//! - [`dns`]: RFC 1035 master-file text, shared by zone files and
//!   unbound's `local-data`: validated names ([`dns::DnsName`]) and TXT
//!   character-strings, split at 255 bytes and escaped as `\DDD`;
//! - [`unbound`]: `unbound.conf`'s quoted strings;
//! - [`named`]: `named.conf`'s quoted strings;
//! - [`bird`]: BIRD 2's quoted strings;
//! - [`toml`]: TOML basic strings (gobgpd's configuration);
//! - [`nft`]: nftables' quoted strings (interface names);
//! - [`argv`]: an operand on a command line (never a shell's: each value
//!   is one argument).
//!
//! FRR's configuration takes no string of the file: its values are
//! numbers, addresses and prefixes, written by their `Display`, and its
//! paths go on the command line.
//!
//! Each writer's tests feed it hostile values and ask the program's own
//! checker (`unbound-checkconf`, `named-checkconf`, `bird -p`,
//! `gobgpd --dry-run`, `nft -c`) whether the result parses and holds the
//! value (`tests/labs/config_writers.rs`).

pub mod argv;
pub mod bird;
pub mod dns;
pub mod named;
pub mod nft;
pub mod toml;
pub mod unbound;

use std::fmt;

/// A value a writer will not put in its format, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The format: `unbound.conf`, `named.conf`, `a DNS name`, ...
    pub format: &'static str,
    /// The value, as Rust prints a string (quotes and escapes shown).
    pub value: String,
    /// What in it the format cannot hold.
    pub why: String,
}

impl Refused {
    pub(crate) fn new(format: &'static str, value: &str, why: impl Into<String>) -> Refused {
        Refused {
            format,
            value: format!("{value:?}"),
            why: why.into(),
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cannot hold {}: {}",
            self.format, self.value, self.why
        )
    }
}

impl std::error::Error for Refused {}

/// `value` between double quotes, in a grammar whose strings have no
/// escape worth using: refused, with `rule` (what a string of `format`
/// holds) and the first character `allowed` refuses, unless every
/// character is allowed.
pub(crate) fn double_quoted(
    format: &'static str,
    value: &str,
    allowed: impl Fn(char) -> bool,
    rule: &str,
) -> Result<String, Refused> {
    match first_refused(value, allowed) {
        None => Ok(format!("\"{value}\"")),
        Some(bad) => Err(Refused::new(format, value, format!("{rule} ({bad})"))),
    }
}

/// The first character of `value` that `allowed` refuses, with its place,
/// in words.
pub(crate) fn first_refused(value: &str, allowed: impl Fn(char) -> bool) -> Option<String> {
    value
        .char_indices()
        .find(|(_, c)| !allowed(*c))
        .map(|(at, c)| format!("{c:?} at byte {at}"))
}
