//! `vnetd man` and `vnetd completions SHELL`: the man page and the shell
//! completion scripts, generated from the clap model the binary parses
//! its arguments with, so that they never disagree with it (the Debian
//! package installs them).

use super::args::Cli;
use super::{say, Failure};
use clap::CommandFactory;

/// The completion script for `shell`, on stdout.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "vnetd", &mut out);
    say(&String::from_utf8_lossy(&out))
}

/// The man page, as roff, on stdout.
pub(super) fn man_page() -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Failure::refused(format!("vnetd man: {e}")))?;
    say(&String::from_utf8_lossy(&out))
}
