//! The guardian of a `vnetd ci` run: a small child process that removes
//! what the run's lab left when the run dies without finishing (killed
//! with SIGKILL, crashed), and says so in the run's JUnit report.
//!
//! `vnetd ci` runs its lab in its own process and removes it itself when
//! it is done, when its time is up and on SIGINT or SIGTERM. A process
//! killed with SIGKILL runs no more code: its namespaces, the routing and
//! DNS daemons running in them, their run directories and its control
//! socket would stay, and the pipeline would find no report. So before
//! anything else, `vnetd ci` starts `vnetd ci-guardian` (not one of the
//! CLI's commands: read by a parser of its own, offered by no help and
//! no completion), with a pipe from the run as its stdin. The run writes on it, one JSON
//! line each ([`Word`]), the lab it builds, how far it has come, that its
//! report is written, and, last, that it finished. When the pipe ends
//! without that last word, the run has died: the guardian waits until its
//! process is really gone (the namespaces' marks name it as their creator,
//! and [`crate::host::netns::owner`] leaves a live creator's namespaces
//! alone), removes what the lab left as `vnetd down FILE` does, the stale
//! control socket and the token file beside it, rewrites the JUnit report
//! to say the run was killed, and prints what it removed on stderr.
//!
//! The guardian holds nothing of the lab: it is started before the lab
//! exists and opens none of its namespaces. It runs in a process group of
//! its own and ignores SIGINT, SIGTERM and SIGHUP: a Ctrl-C at the
//! terminal is the run's to handle, and the run then finishes and says
//! so. Only the run holds the pipe's other end: std makes its pipes
//! close-on-exec, so the daemons the run starts do not inherit it, and
//! the pipe ends exactly when the run's process does.

use super::args::GuardianArgs;
use super::lab::{remove_stale_socket, removed_lines};
use super::{say_err, Failure};
use crate::host::process::{self, Identity};
use crate::topology::ParseOptions;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The name of the hidden command that runs the guardian.
pub const COMMAND: &str = "ci-guardian";

/// What the run tells its guardian, one JSON line each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Word {
    /// The lab about to be built: its file's name and text.
    Lab { source: String, text: String },
    /// How far the run has come, in words.
    At(String),
    /// The JUnit report holds the run's results: a later death leaves it
    /// as it is.
    Reported,
    /// The run ends by itself, its lab removed: nothing to do.
    Finished,
}

/// How long the guardian waits, once the pipe has ended, for the run's
/// process to be gone (a process closes its files before it ends).
const GONE_WAIT: Duration = Duration::from_secs(30);

/// How long a run that finished waits for its guardian to end.
const END_WAIT: Duration = Duration::from_secs(5);

/// The run's side: the pipe to its guardian, and the guardian, reaped at
/// the end.
pub struct Guardian {
    pipe: Mutex<Option<ChildStdin>>,
    child: Mutex<Option<Child>>,
}

impl Guardian {
    /// Starts the guardian of this run (`vnetd ci-guardian`), whose JUnit report (if any) is
    /// `junit`, whose file is named `source` and whose control socket is
    /// `socket`.
    pub fn start(source: &str, junit: Option<&Path>, socket: &Path) -> std::io::Result<Guardian> {
        let me = process::current();
        // This very binary, whatever became of its path since; named as
        // the run was, for `ps`.
        let mut command = Command::new("/proc/self/exe");
        if let Some(name) = std::env::args_os().next() {
            command.arg0(name);
        }
        command
            .arg(COMMAND)
            .arg("--parent-pid")
            .arg(me.pid.to_string())
            .arg("--parent-start")
            .arg(me.start_time.to_string())
            .arg("--source")
            .arg(source)
            .arg("--socket")
            .arg(absolute(socket));
        if let Some(junit) = junit {
            command.arg("--junit").arg(absolute(junit));
        }
        let child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            // Out of the terminal's process group: its Ctrl-C is the run's.
            .process_group(0)
            .spawn()?;
        Ok(Guardian::holding(child))
    }

    fn holding(mut child: Child) -> Guardian {
        Guardian {
            pipe: Mutex::new(child.stdin.take()),
            child: Mutex::new(Some(child)),
        }
    }

    /// Tells the guardian `word`. A guardian that has gone (killed too)
    /// is not asked again: the next run or `vnetd down` then removes what
    /// this one leaves.
    pub fn tell(&self, word: &Word) {
        let mut pipe = self.pipe.lock().unwrap_or_else(|p| p.into_inner());
        let Some(writer) = pipe.as_mut() else {
            return;
        };
        let Ok(mut line) = serde_json::to_string(word) else {
            return;
        };
        line.push('\n');
        if writer.write_all(line.as_bytes()).is_err() {
            *pipe = None;
        }
    }

    /// Says the run finished, closes the pipe and waits (briefly) for the
    /// guardian to end.
    pub fn finished(&self) {
        self.tell(&Word::Finished);
        drop(self.pipe.lock().unwrap_or_else(|p| p.into_inner()).take());
        let Some(mut child) = self.child.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let deadline = Instant::now() + END_WAIT;
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Ok(Some(_)) | Err(_) => return,
            }
        }
    }
}

/// What the guardian learned of the run before the pipe ended.
#[derive(Debug, Default)]
struct Heard {
    lab: Option<(String, String)>,
    at: Option<String>,
    reported: bool,
    finished: bool,
}

/// Reads the run's words until the pipe ends (or says it finished).
fn listen(input: impl BufRead) -> Heard {
    let mut heard = Heard::default();
    for line in input.lines() {
        let Ok(line) = line else { break };
        match serde_json::from_str::<Word>(&line) {
            Ok(Word::Lab { source, text }) => heard.lab = Some((source, text)),
            Ok(Word::At(step)) => heard.at = Some(step),
            Ok(Word::Reported) => heard.reported = true,
            Ok(Word::Finished) => {
                heard.finished = true;
                break;
            }
            Err(_) => {}
        }
    }
    heard
}

/// `vnetd ci-guardian`: waits for the run to end; when it ended without
/// finishing, removes what it left and completes its report.
pub(super) fn guard(args: &GuardianArgs) -> Result<(), Failure> {
    ignore_terminal_signals();
    let heard = listen(std::io::stdin().lock());
    if heard.finished {
        return Ok(());
    }
    let run = Identity {
        pid: args.parent_pid,
        start_time: args.parent_start,
    };
    let deadline = Instant::now() + GONE_WAIT;
    while process::is_running(run) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut lines = vec![format!(
        "vnetd ci: the run (pid {}) ended before it finished (killed or crashed){}; removing \
         what it left",
        run.pid,
        heard
            .at
            .as_ref()
            .map(|at| format!(", while {at}"))
            .unwrap_or_default()
    )];
    let removed = remove_leftovers(&heard, &args.socket);
    lines.extend(removed.lines().map(|l| format!("vnetd ci: {l}")));
    if let Some(junit) = &args.junit {
        lines.push(complete_report(args, &heard, junit, &removed));
    }
    say_err(&lines.iter().map(|l| format!("{l}\n")).collect::<String>());
    Ok(())
}

/// Blocks the signals a terminal or a pipeline sends the run's process
/// group (the run handles them and then says it finished), and SIGTTOU,
/// so that writing to the terminal from another process group goes on.
/// The guardian has one thread: its mask is the process's.
fn ignore_terminal_signals() {
    use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
    let mut blocked = SigSet::empty();
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGTTOU,
    ] {
        blocked.add(sig);
    }
    if let Err(e) = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&blocked), None) {
        say_err(&format!(
            "vnetd ci: the guardian cannot block signals: {e}\n"
        ));
    }
}

/// Removes what the dead run left: its lab's namespaces with the daemons
/// in them and their run directories, its stale control socket and the
/// token file beside it. One line per thing removed (or that could not
/// be), without a prefix.
fn remove_leftovers(heard: &Heard, socket: &Path) -> String {
    let mut out = String::new();
    if let Some((source, text)) = &heard.lab {
        let options = ParseOptions { allow_empty: true };
        match crate::plan::parse_str_with(source, text, options) {
            Ok(loaded) => match crate::daemon::down(&loaded.topology) {
                Ok(done) => out.push_str(&removed_lines(&done, "")),
                Err(e) => out.push_str(&format!("removing the lab: {e:#}\n")),
            },
            Err(_) => out.push_str(&format!("{source} no longer reads: its lab is left\n")),
        }
    }
    match remove_stale_socket(socket) {
        Ok(lines) => out.push_str(&lines),
        Err(e) => out.push_str(&format!("{e}\n")),
    }
    out
}

/// Rewrites the run's JUnit report to say it was killed, unless it holds
/// the run's results already; the line that says which.
fn complete_report(args: &GuardianArgs, heard: &Heard, junit: &Path, removed: &str) -> String {
    if heard.reported {
        return format!(
            "vnetd ci: {} holds the run's results; the run was killed after writing it",
            junit.display()
        );
    }
    let source = heard
        .lab
        .as_ref()
        .map_or(args.source.as_str(), |(source, _)| source.as_str());
    let mut description = format!(
        "vnetd ci (pid {}) ended before it could report: killed (SIGKILL) or crashed",
        args.parent_pid
    );
    if let Some(at) = &heard.at {
        description.push_str(&format!(", while {at}"));
    }
    description.push_str(".\n");
    if !removed.is_empty() {
        description.push_str("Its guardian removed what the run left:\n");
        description.push_str(removed);
    }
    let written =
        crate::verify::junit::errored_xml(source, "incomplete", KILLED_MESSAGE, &description)
            .and_then(|xml| {
                crate::verify::junit::write_whole(junit, &xml)
                    .map_err(|e| format!("cannot write {}: {e}", junit.display()))
            });
    match written {
        Ok(()) => format!("vnetd ci: {} says the run was killed", junit.display()),
        Err(e) => format!("vnetd ci: {e}"),
    }
}

/// The message of the JUnit case of a run its guardian found dead.
pub const KILLED_MESSAGE: &str = "killed (no report from vnetd ci)";

/// The absolute form of `path`, from the run's working directory: the
/// guardian starts there too, but outlives the run.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_read_back_as_written_and_the_last_one_ends_the_listening() {
        let words = [
            Word::Lab {
                source: "lab.yaml".into(),
                text: "vnets:\n  - name: \"a\"\n".into(),
            },
            Word::At("building the lab".into()),
            Word::Reported,
            Word::Finished,
            Word::At("never read".into()),
        ];
        let text: String = words
            .iter()
            .map(|w| serde_json::to_string(w).unwrap() + "\n")
            .collect();
        assert_eq!(text.lines().count(), words.len());
        let heard = listen(text.as_bytes());
        assert_eq!(
            heard.lab,
            Some(("lab.yaml".into(), "vnets:\n  - name: \"a\"\n".into()))
        );
        assert_eq!(heard.at.as_deref(), Some("building the lab"));
        assert!(heard.reported && heard.finished);
    }

    #[test]
    fn a_pipe_that_ends_without_the_last_word_is_a_run_that_died() {
        let text = format!(
            "{}\nnot a word\n",
            serde_json::to_string(&Word::At("testing".into())).unwrap()
        );
        let heard = listen(text.as_bytes());
        assert_eq!(heard.at.as_deref(), Some("testing"));
        assert!(!heard.finished && !heard.reported && heard.lab.is_none());
    }
}
