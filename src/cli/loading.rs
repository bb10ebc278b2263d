//! A lab file read for a command: its warnings said on stderr (the
//! file's own, and each BGP session it configures that can never come
//! up), and a refusal turned into its message and exit code, each error
//! with its file and line.

use super::failure::Failure;
use super::output::say_err;
use crate::diagnostics::expectations;
use crate::topology::{self, Diagnostic, Loaded, ParseOptions};
use std::path::Path;

/// The diagnostics as lines, as the commands print them.
pub(super) fn render_diagnostics(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| format!("{d}\n")).collect()
}

/// Loads a lab file, its warnings said on stderr: the file's own, and
/// each BGP session it configures that can never come up.
pub(super) fn load(path: &Path, options: ParseOptions) -> Result<Loaded, Failure> {
    load_with_text(path, options).map(|(loaded, _)| loaded)
}

/// [`load`], with the file's text as it was read.
pub(super) fn load_with_text(
    path: &Path,
    options: ParseOptions,
) -> Result<(Loaded, String), Failure> {
    let source = path.display().to_string();
    let (parsed, text) = match topology::read_file(path) {
        Ok(text) => (crate::plan::parse_str_with(&source, &text, options), text),
        Err(unread) => (Err(vec![unread]), String::new()),
    };
    let parsed = parsed.map(|mut loaded| {
        let never_up = crate::policy::bgp::sessions_never_up(&loaded.topology);
        loaded.warnings.extend(never_up);
        loaded
    });
    refuse_invalid(path, parsed).map(|loaded| (loaded, text))
}

/// Prints a valid topology's warnings; turns a refusal into its message.
pub(super) fn refuse_invalid(
    path: &Path,
    parsed: Result<Loaded, Vec<Diagnostic>>,
) -> Result<Loaded, Failure> {
    match parsed {
        Ok(loaded) => {
            if !loaded.warnings.is_empty() {
                say_err(&render_diagnostics(&loaded.warnings));
            }
            Ok(loaded)
        }
        Err(errors) => {
            let count = errors
                .iter()
                .filter(|d| d.severity == topology::Severity::Error)
                .count();
            let noun = if count == 1 { "error" } else { "errors" };
            Err(Failure::refused(format!(
                "{}{}: refused, {count} {noun}",
                render_diagnostics(&errors),
                path.display()
            )))
        }
    }
}

/// Refuses a topology whose expectations name a reason no drop has, as a
/// broken file is refused: each with its line.
pub(super) fn refuse_unknown_reasons(topology: &topology::Topology) -> Result<(), Failure> {
    refuse_errors(topology, expectations::unknown_reasons(topology))
}

/// Fails `check` on a design that cannot work though Azure accepts it:
/// each DNS forwarding loop, at its rules' lines.
pub(super) fn refuse_forwarding_loops(topology: &topology::Topology) -> Result<(), Failure> {
    let loops = crate::diagnostics::forwarding_loops::forwarding_loop_errors(topology);
    refuse_errors(topology, loops)
}

/// Refuses a topology with `unknown`'s errors, if there are any.
fn refuse_errors(topology: &topology::Topology, unknown: Vec<Diagnostic>) -> Result<(), Failure> {
    if unknown.is_empty() {
        return Ok(());
    }
    let noun = if unknown.len() == 1 {
        "error"
    } else {
        "errors"
    };
    Err(Failure::refused(format!(
        "{}{}: refused, {} {noun}",
        render_diagnostics(&unknown),
        topology.source,
        unknown.len()
    )))
}

/// One line per failed expectation, as `check` and `verify` say it:
/// `FILE: expectation `NAME` failed: WHY`.
pub(super) fn failed_expectations(
    source: &str,
    results: &[expectations::ExpectationResult],
) -> Vec<String> {
    results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{source}: expectation `{}` failed: {}", r.name, r.message))
        .collect()
}
