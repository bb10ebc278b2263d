//! `vnetd ci`, the real binary as a pipeline runs it, on the hybrid
//! example (BIRD on the branch, gobgpd in the gateway): every expectation
//! holds and the exit code is 0; with one expectation made false the exit
//! code is 1, the JUnit names the failed case and its evidence holds a
//! pcapng that `tcpdump -r` reads, with the failed flow in it; SIGTERM in
//! the middle of convergence (whose JUnit says so), and a routing daemon
//! killed during the run, leave nothing behind. Each run has its own
//! namespace prefix and control socket. Needs root.

use crate::common;

use common::{namespaces_with, processes_mentioning, vnetd_command, wait_for};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const HYBRID: &str = include_str!("../../config/hybrid.yaml");

/// A folder of its own for one run: the file, the socket, the reports.
struct Run {
    dir: tempfile::TempDir,
    prefix: &'static str,
}

impl Run {
    fn new(prefix: &'static str, text: &str) -> Run {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("lab.yaml"),
            common::with_netns_prefix(text, prefix),
        )
        .unwrap();
        Run { dir, prefix }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `vnetd ci lab.yaml --junit junit.xml --artifacts artifacts`.
    fn command(&self) -> Command {
        let mut ci = vnetd_command(&self.path("vnetd.sock"));
        ci.arg("ci")
            .arg(self.path("lab.yaml"))
            .arg("--junit")
            .arg(self.path("junit.xml"))
            .arg("--artifacts")
            .arg(self.path("artifacts"))
            .args(["--timeout", "300"]);
        ci
    }

    /// What the lab left on the machine: its namespaces and its routing
    /// daemons.
    fn leftovers(&self) -> (Vec<String>, Vec<String>) {
        (
            namespaces_with(self.prefix),
            processes_mentioning(&format!("vnetd-bgp/{}-", self.prefix)),
        )
    }
}

/// Whatever a test does, the lab's leftovers are removed after it.
impl Drop for Run {
    fn drop(&mut self) {
        let _ = vnetd_command(&self.path("vnetd.sock"))
            .arg("down")
            .arg(self.path("lab.yaml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn printed(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn ci_passes_the_hybrid_example_and_keeps_the_evidence_of_a_false_expectation() {
    let run = Run::new("cihy", HYBRID);
    let out = run.command().output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("converged"), "{stdout}");
    assert!(
        stdout.contains("  pass  transit-spoke-reaches-branch"),
        "{stdout}"
    );
    assert!(stdout.contains("4 passed, 0 failed"), "{stdout}");
    let junit = std::fs::read_to_string(run.path("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 4, "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
    assert_eq!(run.leftovers(), (vec![], vec![]));

    // One expectation made false: TCP 22 from the transit spoke to the
    // branch is expected denied.
    let false_one = HYBRID.replacen(
        "protocol: Tcp, port: 22, result: Allow, via: [hub-vpngw]}",
        "protocol: Tcp, port: 22, result: Deny}",
        1,
    );
    assert_ne!(false_one, HYBRID);
    let run = Run::new("cihx", &false_one);
    let out = run.command().output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("expectation `transit-spoke-reaches-branch` failed"),
        "{stderr}"
    );
    let junit = std::fs::read_to_string(run.path("junit.xml")).unwrap();
    let case = junit
        .split("<testcase ")
        .find(|c| c.contains("name=\"transit-spoke-reaches-branch\""))
        .unwrap_or_else(|| panic!("no case for the failed expectation: {junit}"));
    assert!(case.contains("<failure"), "{case}");
    assert_eq!(junit.matches("<failure").count(), 1, "{junit}");
    let evidence = run.path("artifacts").join("transit-spoke-reaches-branch");
    for file in [
        "result.txt",
        "trace.txt",
        "flows.txt",
        "stats.txt",
        "bgp.txt",
    ] {
        let text =
            std::fs::read_to_string(evidence.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!text.trim().is_empty(), "{file} is empty");
    }
    let bgp = std::fs::read_to_string(evidence.join("bgp.txt")).unwrap();
    assert!(bgp.contains("hub-vpngw"), "{bgp}");
    // The capture: tcpdump reads it, and the failed flow (the SYNs from
    // vm1 to the branch host's port 22) is in it.
    let read = Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(evidence.join("capture-vm1.pcapng"))
        .arg("tcp and dst port 22")
        .output()
        .unwrap();
    assert!(read.status.success(), "{}", printed(&read));
    let packets = String::from_utf8_lossy(&read.stdout);
    assert!(
        packets.contains("10.1.1.4.") && packets.contains("> 192.168.1.10.22"),
        "{packets}"
    );
    assert_eq!(run.leftovers(), (vec![], vec![]));
}

/// Starts `vnetd ci` and returns it once its lab's namespaces and routing
/// daemons exist, with what it prints (stdout and stderr).
fn started(run: &Run) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = run
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let stderr = BufReader::new(child.stderr.take().unwrap());
    for lines in [
        Box::new(stdout.lines()) as Box<dyn Iterator<Item = std::io::Result<String>> + Send>,
        Box::new(stderr.lines()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let up = wait_for(Duration::from_secs(60), || {
        let (namespaces, daemons) = run.leftovers();
        !namespaces.is_empty() && daemons.len() >= 2
    });
    if !up {
        let _ = child.kill();
        panic!("the lab never came up: {:?}", run.leftovers());
    }
    (child, rx)
}

/// Waits for `child` to end, at most `limit`; killed if it does not.
fn ended(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let mut status = None;
    wait_for(limit, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        panic!("vnetd ci did not end within {limit:?}");
    }
    status.and_then(|s| s.code())
}

#[test]
fn sigterm_in_the_middle_of_convergence_leaves_nothing_behind() {
    let run = Run::new("cisig", HYBRID);
    let (mut child, lines) = started(&run);
    common::signal(&child, libc::SIGTERM);
    let code = ended(&mut child, Duration::from_secs(60));
    let printed: Vec<String> = lines.try_iter().collect();
    assert_eq!(code, Some(128 + libc::SIGTERM), "{printed:#?}");
    // It was converging: nothing was tested.
    assert!(
        !printed
            .iter()
            .any(|l| l.contains("  pass  ") || l.contains("  FAIL  ")),
        "{printed:#?}"
    );
    assert_eq!(run.leftovers(), (vec![], vec![]));
    assert!(!Path::new(&run.path("vnetd.sock")).exists(), "socket left");
    // The report says why there are no results.
    let junit = std::fs::read_to_string(run.path("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 1, "{junit}");
    assert!(
        junit.contains(
            r#"<error message="interrupted (signal 15) before it could report" type="interrupted">"#
        ),
        "{junit}"
    );
}

#[test]
fn a_routing_daemon_killed_during_the_run_leaves_nothing_behind() {
    let run = Run::new("cikil", HYBRID);
    let (mut child, lines) = started(&run);
    // Once the lab is up (killed while it is built, the build fails and
    // is undone: exit 2).
    let mut printed: Vec<String> = Vec::new();
    let up = wait_for(Duration::from_secs(60), || {
        printed.extend(lines.try_iter());
        printed.iter().any(|l| l.contains("vnetd ci: lab up"))
    });
    assert!(up, "{printed:#?}");
    let (_, daemons) = run.leftovers();
    let bird: Vec<i32> = daemons
        .iter()
        .filter(|d| d.contains("bird"))
        .filter_map(|d| d.split(':').next()?.parse().ok())
        .collect();
    assert!(!bird.is_empty(), "{daemons:?}");
    for pid in bird {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    // The lab's supervision starts it again; the run ends either way.
    let code = ended(&mut child, Duration::from_secs(280));
    printed.extend(lines.try_iter());
    assert!(matches!(code, Some(0 | 1)), "{code:?}: {printed:#?}");
    assert!(
        printed.iter().any(|l| l.contains("lab removed")),
        "{printed:#?}"
    );
    assert_eq!(run.leftovers(), (vec![], vec![]));
}
