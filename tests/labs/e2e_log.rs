//! The daemon's log as `vnetd run` writes it on stderr: levelled lines in
//! the spans of the lab, an apply and a BGP speaker, filtered by
//! `RUST_LOG`; one JSON object per line with `--log-format json`; and a
//! fault an apply met, in the apply's answer as well as in the log. Needs
//! root (see `common::require_root`).

use crate::common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");
const HYBRID: &str = include_str!("../../config/hybrid.yaml");

/// A test's own files: its topology and its control socket.
struct Files {
    config: PathBuf,
    socket: PathBuf,
}

impl Files {
    fn new(prefix: &str, text: &str) -> Files {
        let dir = std::env::temp_dir();
        let id = std::process::id();
        let config = dir.join(format!("vnetd-{prefix}-{id}.yaml"));
        std::fs::write(&config, common::with_netns_prefix(text, prefix)).unwrap();
        Files {
            config,
            socket: dir.join(format!("vnetd-{prefix}-{id}.sock")),
        }
    }

    fn vnetd(&self) -> Command {
        common::vnetd_command(&self.socket)
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.config);
    }
}

/// `vnetd run` of `files` with `args` and `RUST_LOG=filter`, up (and, when
/// `then` is not empty, past a stdout line starting with it), its stderr
/// read as it comes.
fn run_lab(
    files: &Files,
    (filter, args): (&str, &[&str]),
    then: &str,
) -> (common::LabProcess, Arc<Mutex<String>>) {
    let mut run = files.vnetd();
    run.arg("run")
        .arg(&files.config)
        .args(args)
        .env("RUST_LOG", filter);
    let (mut child, _) = common::spawn_lab(run, then);
    let stderr = child.stderr.take().unwrap();
    let said = Arc::new(Mutex::new(String::new()));
    let into = said.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let mut said = into.lock().unwrap_or_else(|p| p.into_inner());
            said.push_str(&line);
            said.push('\n');
        }
    });
    (child, said)
}

/// What the daemon has logged so far.
fn logged(said: &Mutex<String>) -> String {
    said.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Waits (20 s at most) until the log has a line for which `wanted`
/// holds, and returns the log.
fn wait_logged(said: &Mutex<String>, wanted: impl Fn(&str) -> bool) -> String {
    let found = common::wait_for(Duration::from_secs(20), || {
        logged(said).lines().any(&wanted)
    });
    let log = logged(said);
    assert!(found, "not logged:\n{log}");
    log
}

fn apply(files: &Files, config: &Path) -> Output {
    files
        .vnetd()
        .args(["apply", "--no-wait"])
        .arg(config)
        .output()
        .unwrap()
}

const LEVELS: [&str; 5] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

/// A line of the text log: its time (RFC 3339, UTC) and level, and the
/// rest (spans, target, message and fields).
fn text_line(line: &str) -> Option<(&str, &str, &str)> {
    let (time, rest) = line.split_once(' ')?;
    let rest = rest.trim_start();
    let (level, rest) = rest.split_once(' ')?;
    let timed = time.len() > 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T';
    (timed && LEVELS.contains(&level)).then_some((time, level, rest))
}

#[test]
fn run_logs_levelled_lines_in_the_lab_apply_and_speaker_spans() {
    common::require_root();
    let prefix = "lgspan";
    let files = Files::new(prefix, HYBRID);
    let (mut child, said) = run_lab(&files, ("debug", &[]), "vnetd: converged");
    let out = apply(&files, &files.config);
    assert!(out.status.success(), "{out:?}");
    let applied = String::from_utf8_lossy(&out.stdout);
    let generation: u64 = applied
        .split_once("applied, generation ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{applied}"));
    let apply_span = format!(
        "apply{{source={} generation={generation}}}",
        files.config.display()
    );
    wait_logged(&said, |l| l.contains(&apply_span));
    common::stop_lab(&mut child);
    let log = logged(&said);
    let file = files.config.display().to_string();
    let lab = format!("lab{{file={file}}}");
    // Every line is a log line: time, level, then what it says.
    let lines: Vec<(&str, &str, &str)> = log
        .lines()
        .map(|l| text_line(l).unwrap_or_else(|| panic!("not a log line: {l}\n{log}")))
        .collect();
    let has = |level: &str, spans: &str, words: &str| {
        lines
            .iter()
            .any(|(_, l, rest)| *l == level && rest.starts_with(spans) && rest.contains(words))
    };
    // The lab's life.
    assert!(
        has(
            "INFO",
            &format!("{lab}: vnetd::daemon::start:"),
            " started nics=5 workers="
        ),
        "{log}"
    );
    assert!(
        has("INFO", &format!("{lab}: vnetd::daemon:"), " stopping"),
        "{log}"
    );
    // The gateway instance's speaker: started, followed (debug), and its
    // session with the branch.
    let gateway = format!("{lab}:speaker{{gateway=hub-vpngw instance=0}}: ");
    assert!(
        has("INFO", &gateway, "started gobgpd in lgspan-hub-vpngw-0"),
        "{log}"
    );
    assert!(
        has("DEBUG", &gateway, "following the RIB of lgspan-hub-vpngw-0"),
        "{log}"
    );
    assert!(
        has(
            "INFO",
            &gateway,
            "the session with 192.168.255.1 is established neighbor=192.168.255.1"
        ),
        "{log}"
    );
    // The site router's.
    let router = format!("{lab}:speaker{{router=site branch1}}: ");
    assert!(
        has(
            "INFO",
            &router,
            "started the BGP daemon of site branch1 in lgspan-branch1"
        ),
        "{log}"
    );
    // The apply, with the generation it published.
    assert!(
        has(
            "INFO",
            &format!("{lab}:{apply_span}: vnetd::daemon::changing::apply:"),
            " applied added=0 removed=0 replumbed=0 warnings=0"
        ),
        "{log}"
    );
    // Nothing went wrong.
    assert!(
        !lines.iter().any(|(_, l, _)| *l == "WARN" || *l == "ERROR"),
        "{log}"
    );
    assert_eq!(common::namespaces_with(prefix), Vec::<String>::new());
}

#[test]
fn the_default_level_is_info_and_rust_log_narrows_it() {
    common::require_root();
    let prefix = "lglevel";
    let files = Files::new(prefix, HUB_SPOKE);
    // `RUST_LOG` that does not read is refused before anything is built.
    let refused = files
        .vnetd()
        .arg("run")
        .arg(&files.config)
        .env("RUST_LOG", "vnetd=loud")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .starts_with("RUST_LOG=vnetd=loud: not a log filter"),
        "{refused:?}"
    );
    assert_eq!(common::namespaces_with(prefix), Vec::<String>::new());
    // Empty: the default, `info`.
    let (mut child, said) = run_lab(&files, ("", &[]), "");
    wait_logged(&said, |l| {
        l.contains(" INFO ") && l.contains(" started nics=4 ")
    });
    common::stop_lab(&mut child);
    let log = logged(&said);
    assert!(!log.contains(" DEBUG "), "{log}");
    // Only warnings of vnetd: nothing at all from a lab that runs well.
    let (mut child, said) = run_lab(&files, ("vnetd=warn", &[]), "");
    let out = apply(&files, &files.config);
    assert!(out.status.success(), "{out:?}");
    common::stop_lab(&mut child);
    assert_eq!(logged(&said), "");
    assert_eq!(common::namespaces_with(prefix), Vec::<String>::new());
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    common::require_root();
    let prefix = "lgjson";
    let files = Files::new(prefix, HUB_SPOKE);
    let (mut child, said) = run_lab(&files, ("debug", &["--log-format", "json"]), "");
    let out = apply(&files, &files.config);
    assert!(out.status.success(), "{out:?}");
    wait_logged(&said, |l| l.contains("\"applied\""));
    common::stop_lab(&mut child);
    let log = logged(&said);
    let file = files.config.display().to_string();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{log}")))
        .collect();
    for event in &events {
        let object = event.as_object().unwrap_or_else(|| panic!("{event}"));
        assert!(
            LEVELS.contains(&object["level"].as_str().unwrap()),
            "{event}"
        );
        assert!(
            object["timestamp"].as_str().unwrap().ends_with('Z'),
            "{event}"
        );
        assert!(
            object["target"].as_str().unwrap().starts_with("vnetd::"),
            "{event}"
        );
        assert!(object["fields"]["message"].is_string(), "{event}");
        // Every line of this run is said inside the lab's span, the
        // outermost.
        assert_eq!(object["spans"][0]["name"], "lab", "{event}");
        assert_eq!(object["spans"][0]["file"], file.as_str(), "{event}");
    }
    let message = |e: &serde_json::Value| e["fields"]["message"].as_str().unwrap_or("").to_owned();
    let started = events
        .iter()
        .find(|e| message(e) == "started")
        .unwrap_or_else(|| panic!("no start:\n{log}"));
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["target"], "vnetd::daemon::start");
    assert_eq!(started["fields"]["nics"], 4);
    assert_eq!(started["span"]["name"], "lab");
    let applied = events
        .iter()
        .find(|e| message(e) == "applied")
        .unwrap_or_else(|| panic!("no apply:\n{log}"));
    assert_eq!(applied["level"], "INFO");
    assert_eq!(applied["target"], "vnetd::daemon::changing::apply");
    assert_eq!(applied["fields"]["warnings"], 0);
    assert_eq!(applied["span"]["name"], "apply");
    assert_eq!(applied["span"]["source"], file.as_str());
    assert_eq!(applied["span"]["generation"], 2);
    let spans: Vec<&str> = (applied["spans"].as_array().unwrap().iter())
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(spans, ["lab", "apply"]);
    assert_eq!(common::namespaces_with(prefix), Vec::<String>::new());
}

#[test]
fn a_fault_of_an_apply_reaches_its_answer_and_the_log() {
    common::require_root();
    let prefix = "lgfault";
    let files = Files::new(prefix, HUB_SPOKE);
    let (mut child, said) = run_lab(&files, ("", &[]), "");
    // Somebody removes shared1's namespace behind the lab's back; then a
    // file gives shared1 another address, so its namespace is built
    // again, and the old one cannot be removed.
    let shared1 = format!("{prefix}-shared1");
    let deleted = Command::new("ip")
        .args(["netns", "del", &shared1])
        .status()
        .unwrap();
    assert!(deleted.success());
    let moved =
        std::env::temp_dir().join(format!("vnetd-{prefix}-moved-{}.yaml", std::process::id()));
    std::fs::write(
        &moved,
        common::with_netns_prefix(HUB_SPOKE, prefix).replace("10.0.2.4", "10.0.2.5"),
    )
    .unwrap();
    let out = apply(&files, &moved);
    let _ = std::fs::remove_file(&moved);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let fault = format!("removing namespace {shared1}: network namespace {shared1} does not exist");
    // The apply took effect, and says what did not go as asked.
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("applied, generation 2; re-plumbed shared1"),
        "{stdout}"
    );
    assert_eq!(stderr, format!("vnetd: warning: {fault}\n"));
    // The daemon's log says it too, as a warning inside the apply.
    let apply_span = format!(
        "lab{{file={}}}:apply{{source={}}}: vnetd::daemon::changing::steps: {fault}",
        files.config.display(),
        moved.display()
    );
    let log = wait_logged(&said, |l| l.contains(" WARN ") && l.contains(&apply_span));
    assert!(log.contains("warnings=1"), "{log}");
    // shared1 answers at its new address.
    assert!(common::ping(&format!("{prefix}-vm1"), "10.0.2.5"));
    common::stop_lab(&mut child);
    assert_eq!(common::namespaces_with(prefix), Vec::<String>::new());
}
