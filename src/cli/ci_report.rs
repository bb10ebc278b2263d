//! What a `vnetd ci` run leaves for its pipeline however it ends: a JUnit
//! report (when `--junit` asks for one) and, through its guardian
//! ([`super::guardian`]), no lab.
//!
//! The report is written before anything else, as a run that did not
//! finish (a pipeline's test publisher finds it even if the run is killed
//! before it could write more), and replaced whole by the results, or by
//! the reason the run ended without them: the file or the machine that
//! stopped it (exit 2), its time running out, a signal.

use super::guardian::{Guardian, Word};
use super::{say_err, Failure};
use crate::verify::junit::{errored_xml, write_whole};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The message of the report written at the start of a run.
pub const UNFINISHED_MESSAGE: &str =
    "the run did not finish: vnetd ci was killed or crashed before it could report";

/// The JUnit report of one `vnetd ci` run and its guardian.
pub struct RunReport {
    junit: Option<PathBuf>,
    /// The topology file, as the run names it.
    source: String,
    guardian: Option<Guardian>,
    /// Whether the report holds the run's results (or the reason it has
    /// none): it is then no longer replaced.
    settled: Mutex<bool>,
}

impl RunReport {
    /// Writes the report of a run that has not finished and starts the
    /// guardian; a report that cannot be written stops the run (exit 2),
    /// a guardian that cannot be started is said and the run goes on.
    pub fn start(source: &str, junit: Option<&Path>, socket: &Path) -> Result<RunReport, Failure> {
        let report = RunReport {
            junit: junit.map(Path::to_path_buf),
            source: source.to_string(),
            guardian: None,
            settled: Mutex::new(false),
        };
        report.write_errored(
            "incomplete",
            UNFINISHED_MESSAGE,
            &format!(
                "vnetd ci (pid {}) started this run of {source}; this report is replaced by its \
                 results, or by why it ended without them, when it ends",
                std::process::id()
            ),
        )?;
        let guardian = match Guardian::start(source, junit, socket) {
            Ok(guardian) => Some(guardian),
            Err(e) => {
                say_err(&format!(
                    "vnetd ci: cannot start the run's guardian ({e}): should this run be killed, \
                     the next `vnetd ci` or `vnetd down` of {source} removes what it leaves\n"
                ));
                None
            }
        };
        Ok(RunReport { guardian, ..report })
    }

    /// Tells the guardian `word`.
    pub fn tell(&self, word: &Word) {
        if let Some(guardian) = &self.guardian {
            guardian.tell(word);
        }
    }

    /// Tells the guardian how far the run has come.
    pub fn at(&self, step: impl Into<String>) {
        self.tell(&Word::At(step.into()));
    }

    /// Replaces the report with the run's results, `xml`.
    pub fn results(&self, xml: &str) -> Result<(), Failure> {
        let Some(path) = &self.junit else {
            return Ok(());
        };
        let mut settled = self.settled.lock().unwrap_or_else(|p| p.into_inner());
        write_whole(path, xml).map_err(|e| cannot_write(path, &e))?;
        *settled = true;
        self.tell(&Word::Reported);
        Ok(())
    }

    /// Replaces a report that holds no results yet with one errored case
    /// of `kind`, `message` and `description`: why the run ends without
    /// them. A report that cannot be written is said on stderr.
    pub fn ended_without_results(&self, kind: &str, message: &str, description: &str) {
        if *self.settled.lock().unwrap_or_else(|p| p.into_inner()) {
            return;
        }
        match self.write_errored(kind, message, description) {
            Ok(()) => *self.settled.lock().unwrap_or_else(|p| p.into_inner()) = true,
            Err(f) => say_err(&format!("{}\n", f.message)),
        }
    }

    /// [`Self::ended_without_results`] for a run that ends on `failure`.
    pub fn ended_on(&self, failure: &Failure) {
        let message = failure.message.trim();
        let (kind, first) = match (failure.code, message.lines().next()) {
            (2, Some(first)) => ("environment", first),
            (_, Some(first)) => ("incomplete", first),
            (_, None) => ("incomplete", "the run ended before it could report"),
        };
        self.ended_without_results(kind, first, message);
    }

    /// Says the run finished: the guardian ends without doing anything.
    pub fn finished(&self) {
        if let Some(guardian) = &self.guardian {
            guardian.finished();
        }
    }

    fn write_errored(&self, kind: &str, message: &str, description: &str) -> Result<(), Failure> {
        let Some(path) = &self.junit else {
            return Ok(());
        };
        let xml = errored_xml(&self.source, kind, message, description)
            .map_err(|e| environment(format!("vnetd ci: {e}")))?;
        write_whole(path, &xml).map_err(|e| cannot_write(path, &e))
    }
}

/// A failure of the run itself, before or instead of any test: exit 2.
pub(super) fn environment(message: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: message.into(),
    }
}

fn cannot_write(path: &Path, e: &std::io::Error) -> Failure {
    environment(format!("vnetd ci: cannot write {}: {e}", path.display()))
}
