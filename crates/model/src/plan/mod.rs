//! The lab plan: what vnetd realises for a resolved topology. The topology
//! holds what the file says; the plan derives from it, in one pure step,
//! every port of the fabric (the file's VM NICs, and the ports vnetd adds:
//! gateway instances, site tunnels, health probers), the namespace and
//! interface each port lives in, and every namespace of the lab.
//!
//! The snapshot compiles from the plan's ports and the daemon realises the
//! plan (one namespace or TUN per port); `apply` compares two plans to know
//! which ports come, go or stay. Each kind of port is one module of
//! [`ports`]: its identity, its names, the order it takes and what sets it
//! apart from the other kinds.

use crate::topology::{Diagnostic, Loaded, ParseOptions};

pub mod diff;
mod lab;
pub mod names;
mod port;
pub mod ports;
pub mod wire;

pub use diff::PlanDiff;
pub use lab::Plan;
pub use port::{Port, PortIdx, PORT_INTERFACE};
pub use ports::PortKind;

/// Loads a lab file: the file's own checks ([`crate::topology::parse_str`])
/// and the plan's (every name vnetd gives is free, see [`names`]).
pub fn parse_str(source: &str, text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    parse_str_with(source, text, ParseOptions::default())
}

/// [`parse_str`] with options.
pub fn parse_str_with(
    source: &str,
    text: &str,
    options: ParseOptions,
) -> Result<Loaded, Vec<Diagnostic>> {
    crate::topology::parse_str_checked(source, text, options, names::refusals)
}

/// Reads and loads a lab file, as [`parse_str`] does.
pub fn load_file(path: &std::path::Path) -> Result<Loaded, Vec<Diagnostic>> {
    load_file_with(path, ParseOptions::default())
}

/// [`load_file`] with options.
pub fn load_file_with(
    path: &std::path::Path,
    options: ParseOptions,
) -> Result<Loaded, Vec<Diagnostic>> {
    crate::topology::load_file_checked(path, options, names::refusals)
}
