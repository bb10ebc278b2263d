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
//!
//! What the readers and the writer share is in files of its own, which
//! name none of them: the [`Resource`] (`resource.rs`), the
//! [`ImportError`] and how a message quotes a value (`error.rs`), and a
//! string between double quotes (`quoting.rs`).
//!
//! [`topology`]: vnetd_model::topology
//! [`plan`]: vnetd_model::plan

pub mod az;
mod error;
pub mod json_file;
mod quoting;
mod resource;
pub mod terraform;
pub mod tfstate;
pub mod write;

pub use error::{quoted, ImportError, MAX_MESSAGE_BYTES, QUOTED_BYTES};
pub use resource::{Resource, BLOCK_SOURCE, KNOWN_AFTER_APPLY};
pub use write::topology_yaml;

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

/// Asserts that `text` holds `part`, showing `text` when not.
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_has(text: &str, part: &str) {
    assert!(text.contains(part), "{text}");
}
