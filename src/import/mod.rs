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
//! It may use [`crate::net`] and [`crate::topology`] (to check what it
//! writes); nothing of the policy, the packet path or the daemon.

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
    let resources = terraform::read_dir(dir, vars)?;
    let origin = format!("the Terraform configuration in {}", dir.display());
    topology_yaml(&resources, &origin)
}

/// The attribute a nested block's object may carry with the block's own
/// place (`main.tf:40`), for the comment before what it becomes (an inline
/// subnet, rule or route); without it, the resource's `source` is used.
/// No HCL or azurerm name starts with `_`, so it cannot clash.
pub const BLOCK_SOURCE: &str = "__source";

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
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        ImportError {
            location: location.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for ImportError {}
