//! The daemon's log: what `vnetd run` says on stderr while the lab runs
//! (a thread that panicked and was started again, a routing daemon that
//! exited and was restarted, a host of a spread lab trusted or not, the
//! kernel fast path refused, an apply done), as levelled events of
//! `tracing` inside the spans of the lab, an apply and a BGP speaker.
//!
//! Events at `info` and above are written unless `RUST_LOG` says
//! otherwise (`RUST_LOG=debug`, `RUST_LOG=vnetd::daemon::changing::hybrid=debug`,
//! the directives of `tracing-subscriber`'s `EnvFilter`); a `RUST_LOG`
//! that does not read is refused, as any bad option is. `--log-format`
//! chooses between a line of text per event (time, level, spans, target,
//! message) and one JSON object per line, for CI systems.
//!
//! A command's answer (the lab's banner and convergence lines on stdout,
//! what `check`, `trace`, `verify`, `apply` print) is no log line: it is
//! printed as it always was, whatever the filter and the format.

use super::Failure;
use std::io::IsTerminal;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};

/// How the log's lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event: time, level, spans with their
    /// fields, target and message.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`,
    /// `fields` (the message and the event's own fields), `span` (the
    /// innermost) and `spans` (from the lab down).
    Json,
}

/// The variable whose directives filter the log.
const FILTER_VARIABLE: &str = "RUST_LOG";

/// The filter of the log: `info` and above, unless `RUST_LOG` holds
/// directives; directives that do not read are refused.
fn filter() -> Result<EnvFilter, Failure> {
    let builder = EnvFilter::builder().with_default_directive(LevelFilter::INFO.into());
    match std::env::var(FILTER_VARIABLE) {
        Ok(directives) if !directives.trim().is_empty() => {
            builder.parse(&directives).map_err(|e| {
                Failure::usage(format!(
                    "{FILTER_VARIABLE}={directives}: not a log filter ({e}); for example \
                     RUST_LOG=debug or RUST_LOG=vnetd::daemon::changing::hybrid=debug"
                ))
            })
        }
        _ => Ok(builder.parse_lossy("")),
    }
}

/// Installs the process's log on stderr, in `format`. Called once, before
/// a command runs.
pub fn init(format: LogFormat) -> Result<(), Failure> {
    let filter = filter()?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
    installed.map_err(|e| Failure::refused(format!("the log: {e}")))
}
