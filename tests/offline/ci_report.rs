//! `vnetd ci` stopped before anything was tested (exit 2) still leaves its
//! JUnit report, through the real binary: one suite whose single case is
//! an error with the reason (a broken file's lines, a file without
//! expectations), so that a pipeline's test publisher always finds one.
//! None of these runs gets as far as needing root. The guardian shares
//! the run's stderr, so each run's output ends only once its guardian
//! has ended too.

use std::path::Path;
use std::process::{Command, Output};

/// `vnetd ci FILE --junit junit.xml` in `dir`, with a control socket of
/// its own.
fn ci(dir: &Path, file: &str, junit: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .current_dir(dir)
        .env("VNETD_SOCKET", dir.join("vnetd.sock"))
        .args(["ci", file, "--junit"])
        .arg(junit)
        .arg("--artifacts")
        .arg(dir.join("artifacts"))
        .output()
        .unwrap()
}

/// The single case of a report: its name, and its error's type, message
/// and text.
fn only_case(xml: &str) -> (String, String, String, String) {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 1, "{xml}");
    let error = cases[0]
        .children()
        .find(|n| n.has_tag_name("error"))
        .unwrap_or_else(|| panic!("no <error> in {xml}"));
    (
        cases[0].attribute("name").unwrap().to_string(),
        error.attribute("type").unwrap().to_string(),
        error.attribute("message").unwrap().to_string(),
        error.text().unwrap_or_default().to_string(),
    )
}

#[test]
fn a_file_that_does_not_load_is_an_errored_case_with_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lab.yaml"),
        "vnets:\n  - name: hub\n    address_space: [10.0.0.0/16]\n    colour: blue\n",
    )
    .unwrap();
    let junit = dir.path().join("junit.xml");
    let out = ci(dir.path(), "lab.yaml", &junit);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let (name, kind, message, text) = only_case(&std::fs::read_to_string(&junit).unwrap());
    assert_eq!((name.as_str(), kind.as_str()), ("vnetd ci", "environment"));
    let refusal = "lab.yaml:4: error: vnets[0].colour: unknown key `colour` in a vnet";
    assert!(message.starts_with(refusal), "{message}");
    assert!(text.contains(refusal), "{text}");
    assert!(text.ends_with("lab.yaml: refused, 1 error"), "{text}");
    // The same words on stderr, and nothing else in the folder: no
    // temporary file, no socket.
    assert!(stderr.contains(refusal), "{stderr}");
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["junit.xml", "lab.yaml"]);
}

#[test]
fn a_file_without_expectations_is_an_errored_case_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let text = "vnets:\n  - name: hub\n    address_space: [10.0.0.0/16]\n    subnets:\n      \
                - {name: app, address_prefixes: [10.0.1.0/24]}\nnetwork_interfaces:\n  - \
                {name: vm1, subnet: hub/app, private_ip_address: 10.0.1.4}\n";
    std::fs::write(dir.path().join("lab.yaml"), text).unwrap();
    let junit = dir.path().join("reports/junit.xml");
    std::fs::create_dir(dir.path().join("reports")).unwrap();
    let out = ci(dir.path(), "lab.yaml", &junit);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let (_, kind, message, text) = only_case(&std::fs::read_to_string(&junit).unwrap());
    let why = "vnetd ci: lab.yaml has no expectations: nothing to test";
    assert_eq!((kind.as_str(), message.as_str()), ("environment", why));
    assert_eq!(text, why);
}

#[test]
fn a_report_that_cannot_be_written_stops_the_run_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), "vnets: []\n").unwrap();
    let junit = dir.path().join("no/such/folder/junit.xml");
    let out = ci(dir.path(), "lab.yaml", &junit);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!("vnetd ci: cannot write {}: ", junit.display())),
        "{stderr}"
    );
    assert!(!junit.exists());
}
