//! Following a gobgpd's RIB as it changes: `gobgp monitor ... -j` run
//! inside the namespace, one JSON line per change.

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};

use anyhow::{Context, Result};

use super::json::{parse_monitor_line, RibChange};

/// Which of gobgpd's tables a [`RibMonitor`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitoredTable {
    /// `monitor global rib`: each change of a prefix's best path, and each
    /// withdrawal of a prefix's last path (also when a session drops).
    GlobalRib,
    /// `monitor adj-in`: each route received from a neighbour, before the
    /// import policy, best or not.
    AdjIn,
}

/// A running `gobgp monitor ... --current -j`: the table as it is first,
/// then one line per change. It ends when gobgpd goes away; it is killed
/// when dropped.
#[derive(Debug)]
pub struct RibMonitor {
    child: Child,
    lines: Option<MonitorLines>,
}

/// The changes a [`RibMonitor`] reports, line by line, until it ends (for
/// a reader thread of its own).
#[derive(Debug)]
pub struct MonitorLines {
    lines: Lines<BufReader<ChildStdout>>,
}

impl Iterator for MonitorLines {
    type Item = Result<Vec<RibChange>>;

    fn next(&mut self) -> Option<Self::Item> {
        let line = match self.lines.next()? {
            Ok(line) => line,
            Err(e) => return Some(Err(e).context("reading gobgp monitor")),
        };
        Some(parse_monitor_line(&line))
    }
}

impl RibMonitor {
    /// Starts `client monitor ... --current -j` (`client` is the `gobgp`
    /// client pointed at the instance).
    pub(super) fn start(mut client: Command, table: MonitoredTable) -> Result<Self> {
        let args: &[&str] = match table {
            MonitoredTable::GlobalRib => &["monitor", "global", "rib", "-a", "ipv4"],
            MonitoredTable::AdjIn => &["monitor", "adj-in", "-a", "ipv4"],
        };
        let mut child = client
            .args(args)
            .args(["--current", "-j"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("running {client:?}"))?;
        let stdout = child.stdout.take().context("the monitor's output")?;
        Ok(Self {
            child,
            lines: Some(MonitorLines {
                lines: BufReader::new(stdout).lines(),
            }),
        })
    }

    /// The changes it reports (once: a reader takes them).
    pub fn take_lines(&mut self) -> Option<MonitorLines> {
        self.lines.take()
    }

    /// Stops following: its reader sees the end.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RibMonitor {
    fn drop(&mut self) {
        self.stop();
    }
}
