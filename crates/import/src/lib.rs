//! `vnetd import`: a topology file written from what users already have,
//! Terraform configurations (`terraform`), Terraform state or
//! `terraform show -json` output (`tfstate`), and `az ... -o json` dumps
//! (`az`).
//!
//! Each reader turns its input into one list of [`Resource`]s in the
//! azurerm provider's vocabulary (resource type, attributes as the
//! provider names them, Azure resource IDs for references); one writer
//! turns that list into the topology file, so the three inputs of one
//! network give one topology.
//!
//! It may use [`topology`] and [`plan`] (to check what it writes, as
//! `vnetd check` does): this crate depends on `vnetd-model` alone among
//! vnetd's, so nothing of the packet path, the host or the
//! daemon can be used here.

use vnetd_model::{plan, topology};

pub mod az;
pub mod json_file;
pub mod terraform;
pub mod tfstate;
pub mod write;

pub use write::topology_yaml;

use std::fmt;
use std::path::Path;

/// `vnetd import terraform DIR`: the topology file written from the
/// configuration in `dir`, with `vars` (`--var NAME=VALUE`). Locations in
/// errors and comments are relative to `dir`.
pub fn terraform_topology(dir: &Path, vars: &[(String, String)]) -> Result<String, ImportError> {
    let (resources, placeholders) = terraform::read_dir(dir, vars)?;
    let origin = format!("the Terraform configuration in {}", dir.display());
    let text = topology_yaml(&resources, &origin)?;
    if placeholders.is_empty() {
        return Ok(text);
    }
    // After the header's first two lines: which names are placeholders.
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut note = String::from(
        "# Not known before apply (or a variable without a value), so placeholders in names:\n",
    );
    for (shown, origin) in &placeholders {
        note.push_str(&format!("#   {shown}: {}\n", quoted(origin)));
    }
    lines.insert(2.min(lines.len()), &note);
    Ok(lines.concat())
}

/// The attribute a nested block's object may carry with the block's own
/// place (`main.tf:40`), for the comment before what it becomes (an inline
/// subnet, rule or route); without it, the resource's `source` is used.
/// No HCL or azurerm name starts with `_`, so it cannot clash.
pub const BLOCK_SOURCE: &str = "__source";

/// The attribute a DNAT rule's object may carry, from the Terraform
/// reader: an object naming each of the rule's attributes whose value is
/// known only after apply (taken out of the rule), with the chain of
/// references it comes from. The writer leaves such a rule out, saying
/// why, instead of refusing the configuration.
pub const KNOWN_AFTER_APPLY: &str = "__known_after_apply";

/// One azurerm resource, fully evaluated: what a Terraform plan or state
/// holds for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The azurerm resource type, e.g. `azurerm_virtual_network`.
    pub kind: String,
    /// The resource's own `name` attribute when it has one, else its
    /// Terraform label (with the `count`/`for_each` index).
    pub name: String,
    /// The attributes as the azurerm provider names them, with references
    /// replaced by their values (IDs are Azure resource IDs).
    pub attributes: serde_json::Value,
    /// Where it came from: `file:line` of its block, or its resource ID.
    pub source: String,
}

/// A problem with the input: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// `file:line`, or a file or resource ID when there is no line.
    pub location: String,
    pub message: String,
}

impl ImportError {
    /// An error at `location`. A message longer than [`MAX_MESSAGE_BYTES`]
    /// (a value quoted whole somewhere) is cut, as [`quoted`] cuts.
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let message = if message.len() > MAX_MESSAGE_BYTES {
            cut(&message, MAX_MESSAGE_BYTES)
        } else {
            message
        };
        ImportError {
            location: location.into(),
            message,
        }
    }
}

#[cfg(test)]
impl ImportError {
    /// Asserts that the message holds `part`, showing the message when not.
    #[track_caller]
    pub(crate) fn assert_contains(&self, part: &str) {
        assert!(self.message.contains(part), "{}", self.message);
    }

    /// Asserts the error's location and message.
    #[track_caller]
    pub(crate) fn assert_is(&self, location: &str, message: &str) {
        let got = (self.location.as_str(), self.message.as_str());
        assert_eq!(got, (location, message));
    }

    /// Asserts that the message starts with `start`, showing it when not.
    #[track_caller]
    pub(crate) fn assert_starts_with(&self, start: &str) {
        assert!(self.message.starts_with(start), "{}", self.message);
    }
}

/// Asserts that `text` holds `part`, showing `text` when not.
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_has(text: &str, part: &str) {
    assert!(text.contains(part), "{text}");
}

/// The most of one value an error message quotes, in bytes.
pub const QUOTED_BYTES: usize = 200;

/// The longest error message, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 2048;

/// `text` as a message quotes it: whole when at most [`QUOTED_BYTES`]
/// long, else its start, an ellipsis and its full length
/// (`abcabc… (134217728 bytes)`).
pub fn quoted(text: &str) -> String {
    if text.len() <= QUOTED_BYTES {
        text.to_string()
    } else {
        cut(text, QUOTED_BYTES)
    }
}

/// The first `bytes` of `text` (to a character boundary), an ellipsis and
/// its full length.
fn cut(text: &str, bytes: usize) -> String {
    let mut end = bytes.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

/// `text` between double quotes: `"` and `\` escaped with a backslash,
/// the characters of `named` as their given escapes (`\n`), any other
/// control character as `\uXXXX`. HCL's and YAML's double-quoted strings
/// differ only in the escapes they name.
fn double_quoted(text: &str, named: &[(char, &str)]) -> String {
    use fmt::Write as _;
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => match named.iter().find(|(named, _)| *named == c) {
                Some((_, escape)) => out.push_str(escape),
                None if c.is_control() => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                None => out.push(c),
            },
        }
    }
    out.push('"');
    out
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for ImportError {}
