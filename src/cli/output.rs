//! How a command speaks: its output on stdout, which may be closed under
//! it (`vnetd flows | head -1`), and its notes on stderr, which may be
//! closed or full; neither ever panics.

use super::failure::Failure;
use std::io::Write;

/// Writes command output to stdout. When the reader has gone (`vnetd flows
/// | head -1`), the command ends quietly with exit 0, as `head` asked for
/// no more; any other write error (`> /dev/full`) is reported, exit 1.
pub(super) fn say(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure {
            code: 0,
            message: String::new(),
        }),
        Err(e) => Err(Failure::refused(format!(
            "vnetd: error writing output: {e}"
        ))),
    }
}

/// Writes to stderr; a closed or full stderr loses the text, never panics.
pub(super) fn say_err(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}
