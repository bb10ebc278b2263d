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

/// The man page, as roff, on stdout; with `dir`, every page (vnetd's and
/// one per subcommand, which vnetd's names) written into it.
pub(super) fn man_pages(dir: Option<&std::path::Path>) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::refused(format!("vnetd man: {e}"));
    if let Some(dir) = dir {
        return clap_mangen::generate_to(Cli::command(), dir).map_err(fail);
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(fail)?;
    say(&String::from_utf8_lossy(&out))
}
