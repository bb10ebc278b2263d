//! `vnetd ci` killed with SIGKILL in the middle of its run, the real
//! binary on the hybrid example with a DNS server of its own (BIRD on the
//! branch, gobgpd in the gateway, unbound on a NIC of the hub): its
//! guardian removes the lab's namespaces, the daemons running in them,
//! their run directories and the control socket, and the JUnit report
//! says the run was killed. With its guardian killed too, what the run
//! left stays until `vnetd down FILE` or the next `vnetd ci` of the file,
//! which remove it and say so, line by line. Each run has its own
//! namespace prefix and control socket. Needs root.

use crate::common;

use common::{namespaces_with, processes_mentioning, vnetd_command, wait_for};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;
use vnetd::host::{netns, process};

const HYBRID: &str = include_str!("../../config/hybrid.yaml");

/// Where the lab's routing daemons and DNS servers keep their files, one
/// directory per namespace.
const RUN_DIRS: &[&str] = &["/run/vnetd-bgp", "/run/vnetd-dns"];

/// The message of the JUnit case of a run its guardian found killed.
const KILLED: &str = "killed (no report from vnetd ci)";

/// The hybrid example, with unbound answering on a NIC of the hub.
fn lab_text() -> String {
    let with_dns = HYBRID.replacen(
        "  - name: vm2\n    subnet: spoke2/app\n    private_ip_address: 10.2.1.4\n",
        "  - name: vm2\n    subnet: spoke2/app\n    private_ip_address: 10.2.1.4\n  \
         - name: resolver\n    subnet: hub/default\n    private_ip_address: 10.0.1.53\n    \
         dns_server: {software: unbound, forwarders: [{domain: \".\", addresses: \
         [168.63.129.16]}]}\n",
        1,
    );
    assert_ne!(with_dns, HYBRID);
    with_dns
}

/// A process of the lab, told apart from a later one of its pid.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Daemon {
    who: process::Identity,
    name: String,
    namespace: String,
}

/// A run of `vnetd ci` in a folder of its own (the file, the socket, the
/// reports); whatever the test does, what it left is removed after it.
struct Run {
    dir: tempfile::TempDir,
    prefix: &'static str,
    child: Option<Child>,
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        for guardian in self.guardians() {
            kill(guardian);
        }
        let _ = vnetd_command(&self.path("vnetd.sock"))
            .arg("down")
            .arg(self.path("lab.yaml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        for root in RUN_DIRS {
            for dir in self.dirs_in(root) {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

fn kill(pid: u32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

impl Run {
    fn new(prefix: &'static str) -> Run {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("lab.yaml"),
            common::with_netns_prefix(&lab_text(), prefix),
        )
        .unwrap();
        Run {
            dir,
            prefix,
            child: None,
        }
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

    /// Starts `vnetd ci` and returns once its lab is up and its daemons
    /// run (BIRD, gobgpd and unbound), with what they are and what the
    /// run prints (stdout and stderr, its guardian's included).
    fn start(&mut self) -> (Vec<Daemon>, Receiver<String>) {
        let mut child = self
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
        self.child = Some(child);
        let mut daemons = Vec::new();
        let up = wait_for(Duration::from_secs(60), || {
            daemons = self.daemons();
            let names: BTreeSet<&str> = daemons.iter().map(|d| d.name.as_str()).collect();
            ["bird", "gobgpd", "unbound"]
                .iter()
                .all(|n| names.contains(n))
        });
        assert!(up, "the lab never came up: {daemons:?}");
        (daemons, rx)
    }

    /// Kills the run with SIGKILL and reaps it.
    fn kill_run(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// The processes running in the lab's namespaces.
    fn daemons(&self) -> Vec<Daemon> {
        let mut found = Vec::new();
        for namespace in namespaces_with(self.prefix) {
            for pid in netns::processes_in(&namespace).unwrap_or_default() {
                let Some(stat) = process::stat(pid).filter(|s| !s.has_ended()) else {
                    continue;
                };
                found.push(Daemon {
                    who: process::Identity {
                        pid,
                        start_time: stat.start_time,
                    },
                    name: process::name_of(pid).unwrap_or_default(),
                    namespace: namespace.clone(),
                });
            }
        }
        found
    }

    /// The run's guardian, while it runs.
    fn guardians(&self) -> Vec<u32> {
        let socket = self.path("vnetd.sock").display().to_string();
        processes_mentioning("ci-guardian")
            .iter()
            .filter(|p| p.contains(&socket))
            .filter_map(|p| p.split(':').next()?.parse().ok())
            .collect()
    }

    /// The lab's directories under `root`.
    fn dirs_in(&self, root: &str) -> Vec<PathBuf> {
        let prefix = format!("{}-", self.prefix);
        std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .collect()
    }

    /// What of the lab is on the machine: its namespaces, the daemons
    /// seen in them (`daemons`) still running, their run directories, the
    /// control socket.
    fn left(&self, daemons: &[Daemon]) -> Vec<String> {
        let mut left: Vec<String> = namespaces_with(self.prefix)
            .into_iter()
            .map(|n| format!("namespace {n}"))
            .collect();
        left.extend(
            daemons
                .iter()
                .filter(|d| process::is_running(d.who))
                .map(|d| format!("{} (pid {}) running", d.name, d.who.pid)),
        );
        for root in RUN_DIRS {
            left.extend(
                self.dirs_in(root)
                    .iter()
                    .map(|d| format!("directory {}", d.display())),
            );
        }
        if self.path("vnetd.sock").exists() {
            left.push("the control socket".to_string());
        }
        left
    }
}

/// The namespaces a line `PREFIX removed namespaces a, b, c` names.
fn removed_namespaces(lines: &[String], prefix: &str) -> BTreeSet<String> {
    let heading = format!("{prefix}removed namespaces ");
    let found: Vec<&String> = lines.iter().filter(|l| l.starts_with(&heading)).collect();
    assert_eq!(found.len(), 1, "{lines:#?}");
    found[0][heading.len()..]
        .split(", ")
        .map(String::from)
        .collect()
}

/// The lines `PREFIX stopped NAME (pid N) in NAMESPACE` for `daemon`.
fn stopped(daemon: &Daemon, prefix: &str) -> String {
    format!(
        "{prefix}stopped {} (pid {}) in {}",
        daemon.name, daemon.who.pid, daemon.namespace
    )
}

/// The daemon called `name` among `daemons`, of which there is one.
fn the<'d>(daemons: &'d [Daemon], name: &str) -> &'d Daemon {
    let found: Vec<&Daemon> = daemons.iter().filter(|d| d.name == name).collect();
    assert_eq!(found.len(), 1, "{daemons:#?}");
    found[0]
}

#[test]
fn a_run_killed_with_sigkill_leaves_nothing_and_its_report_says_so() {
    let mut run = Run::new("cik9");
    let (daemons, lines) = run.start();
    let namespaces: BTreeSet<String> = namespaces_with(run.prefix).into_iter().collect();
    let guardians = run.guardians();
    assert_eq!(guardians.len(), 1, "no guardian runs");
    // It holds nothing of the lab: no namespace, no TUN device.
    let held: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", guardians[0]))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .map(|target| target.display().to_string())
        .filter(|t| t.starts_with("net:[") || t.starts_with("/run/netns") || t == "/dev/net/tun")
        .collect();
    assert_eq!(held, Vec::<String>::new());
    run.kill_run();
    let mut left = run.left(&daemons);
    wait_for(Duration::from_secs(30), || {
        left = run.left(&daemons);
        left.is_empty() && run.guardians().is_empty()
    });
    assert_eq!(left, Vec::<String>::new());
    assert_eq!(
        run.guardians(),
        Vec::<u32>::new(),
        "the guardian still runs"
    );
    // The guardian's lines, on the run's stderr: what it removed.
    let printed: Vec<String> = lines.try_iter().collect();
    assert_eq!(removed_namespaces(&printed, "vnetd ci: "), namespaces);
    for name in ["bird", "gobgpd", "unbound"] {
        let line = stopped(the(&daemons, name), "vnetd ci: ");
        assert!(printed.contains(&line), "{line}: {printed:#?}");
    }
    let socket = format!(
        "vnetd ci: removed the stale control socket {}",
        run.path("vnetd.sock").display()
    );
    assert!(printed.contains(&socket), "{printed:#?}");
    // The report: one errored case that says the run was killed, and how
    // far it had come.
    let xml = std::fs::read_to_string(run.path("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 1, "{xml}");
    assert_eq!(cases[0].attribute("name"), Some("vnetd ci"));
    let error = cases[0]
        .children()
        .find(|n| n.has_tag_name("error"))
        .unwrap_or_else(|| panic!("{xml}"));
    assert_eq!(
        (error.attribute("type"), error.attribute("message")),
        (Some("incomplete"), Some(KILLED))
    );
    let text = error.text().unwrap();
    assert!(
        text.starts_with("vnetd ci (pid ") && text.contains("killed (SIGKILL) or crashed, while "),
        "{text}"
    );
    assert!(text.contains("removed namespaces "), "{text}");
}

#[test]
fn with_its_guardian_killed_too_down_and_the_next_run_remove_what_it_left() {
    let mut run = Run::new("cikb");
    // Killed both, `vnetd down FILE` removes what the run left.
    let (daemons, _) = run.start();
    let namespaces: BTreeSet<String> = namespaces_with(run.prefix).into_iter().collect();
    let guardians = run.guardians();
    assert_eq!(guardians.len(), 1, "no guardian runs");
    kill(guardians[0]);
    run.kill_run();
    assert!(
        wait_for(Duration::from_secs(10), || run.guardians().is_empty()),
        "the guardian survived SIGKILL"
    );
    // Nobody removed anything.
    assert_eq!(
        namespaces_with(run.prefix)
            .into_iter()
            .collect::<BTreeSet<_>>(),
        namespaces
    );
    let bird = the(&daemons, "bird").clone();
    assert!(process::is_running(bird.who), "{daemons:#?}");
    // The report is the one written at the start: the run did not finish.
    let xml = std::fs::read_to_string(run.path("junit.xml")).unwrap();
    assert!(
        xml.contains(
            "message=\"the run did not finish: vnetd ci was killed or crashed before it could \
             report\""
        ),
        "{xml}"
    );
    let down = vnetd_command(&run.path("vnetd.sock"))
        .arg("down")
        .arg(run.path("lab.yaml"))
        .output()
        .unwrap();
    let said: Vec<String> = String::from_utf8_lossy(&down.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(down.status.code(), Some(0), "{down:?}");
    assert_eq!(removed_namespaces(&said, "vnetd: "), namespaces);
    assert!(said.contains(&stopped(&bird, "vnetd: ")), "{said:#?}");
    let branch = Path::new(RUN_DIRS[0]).join(format!("{}-branch1", run.prefix));
    assert!(
        said.contains(&format!("vnetd: removed {}", branch.display())),
        "{said:#?}"
    );
    assert!(
        said.contains(&format!(
            "vnetd: removed the stale control socket {}",
            run.path("vnetd.sock").display()
        )),
        "{said:#?}"
    );
    assert_eq!(run.left(&daemons), Vec::<String>::new());

    // Killed both again, the next `vnetd ci` of the file removes what the
    // run left, says so, and passes.
    let (daemons, _) = run.start();
    kill(run.guardians()[0]);
    run.kill_run();
    assert!(wait_for(Duration::from_secs(10), || run
        .guardians()
        .is_empty()));
    let bird = the(&daemons, "bird").clone();
    let again = run.command().output().unwrap();
    let said: Vec<String> = String::from_utf8_lossy(&again.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    let prefix = "vnetd ci: left by a killed run: ";
    assert_eq!(removed_namespaces(&said, prefix), namespaces);
    assert!(said.contains(&stopped(&bird, prefix)), "{said:#?}");
    assert!(
        said.contains(&format!(
            "{prefix}removed the stale control socket {}",
            run.path("vnetd.sock").display()
        )),
        "{said:#?}"
    );
    assert!(
        said.iter()
            .any(|l| l.starts_with("vnetd ci: 4 passed, 0 failed")),
        "{said:#?}"
    );
    assert_eq!(run.left(&daemons), Vec::<String>::new());
    let xml = std::fs::read_to_string(run.path("junit.xml")).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 4, "{xml}");
}
