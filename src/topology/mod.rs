//! The topology file: its model, its decoding from YAML and its validation.
//!
//! [`parse_str`] is the one entry point: YAML text in, a resolved
//! [`Topology`] out, or every error of the file at once. Warnings (a
//! one-sided peering) come back beside a valid topology.

pub mod decode;
pub mod diagnostic;
pub mod model;
pub mod resolve;
pub mod yaml;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use model::*;

use std::path::Path;

/// A valid topology and the warnings found while reading it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub topology: Topology,
    pub warnings: Vec<Diagnostic>,
}

/// Decodes and validates a topology. `source` names the file in messages.
/// On refusal, every error of the file is returned (warnings included,
/// in file order).
pub fn parse_str(source: &str, text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let mut diags = Diagnostics::new(source);
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            diags.error(e.line, "", format!("YAML syntax: {}", e.message));
            return Err(diags.list);
        }
    };
    let raw = decode::Decoder { diags: &mut diags }.topology(&root);
    let topology = resolve::resolve(raw, &mut diags);
    if diags.has_errors() {
        let mut list = diags.list;
        list.sort_by_key(|d| d.line);
        return Err(list);
    }
    Ok(Loaded {
        topology,
        warnings: diags.list,
    })
}

/// Reads and parses a topology file.
pub fn load_file(path: &Path) -> Result<Loaded, Vec<Diagnostic>> {
    let source = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse_str(&source, &text),
        Err(e) => Err(vec![Diagnostic {
            file: source,
            line: 0,
            severity: Severity::Error,
            key: String::new(),
            message: format!("cannot read the file: {e}"),
        }]),
    }
}
