//! `vnetd verify` on a running lab, as users run it: the built-in lab's
//! expectations hold, with real packets; after an apply that breaks one,
//! verify exits 1 and names that one only, in the table, the JSON and the
//! JUnit report; and no listener of its own is left in any namespace.
//! Needs root (see `common::require_root`).

use crate::common;

use common::Lab;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");
const PREFIX: &str = "e2vf";
const WEB: &str = "spoke1-reaches-spoke2-web-through-the-nva";

/// The built-in lab's expectations, by name, in file order.
fn expectation_names() -> Vec<String> {
    let loaded = vnetd::topology::parse_str("hub-spoke.yaml", HUB_SPOKE).unwrap();
    loaded
        .topology
        .expectations
        .iter()
        .map(|e| e.name.clone())
        .collect()
}

fn verify(socket: &Path, args: &[&str]) -> Output {
    common::vnetd_command(socket)
        .arg("verify")
        .args(args)
        .output()
        .unwrap()
}

/// What listens in each of the lab's namespaces (`ss -H -ltnu`), with the
/// lines on a port the expectations use picked out.
fn listening(lab: &Lab) -> BTreeMap<String, (String, Vec<String>)> {
    let ports: Vec<String> = vnetd::topology::parse_str("hub-spoke.yaml", HUB_SPOKE)
        .unwrap()
        .topology
        .expectations
        .iter()
        .filter_map(|e| e.reach()?.port)
        .map(|p| format!(":{p} "))
        .collect();
    ["vm1", "vm2", "nva1", "shared1"]
        .iter()
        .map(|nic| {
            let out = Command::new("ip")
                .args(["netns", "exec", &lab.ns(nic), "ss", "-H", "-ltnu"])
                .output()
                .unwrap();
            assert!(out.status.success(), "ss in {}", lab.ns(nic));
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let on_ports = text
                .lines()
                .filter(|l| ports.iter().any(|p| l.contains(p.as_str())))
                .map(String::from)
                .collect();
            (nic.to_string(), (text, on_ports))
        })
        .collect()
}

fn assert_nothing_left(lab: &Lab, before: &BTreeMap<String, (String, Vec<String>)>) {
    let after = listening(lab);
    assert_eq!(&after, before, "verify left a listener behind");
    for (nic, (_, on_ports)) in &after {
        assert_eq!(on_ports, &Vec::<String>::new(), "listening in {nic}");
    }
}

/// The test cases of a JUnit report, as (name, failure message), read with
/// a real XML parser; the report must have exactly one test suite.
fn junit_cases(path: &Path) -> Vec<(String, Option<String>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1, "{text}");
    suites[0]
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|case| {
            assert!(
                case.attribute("time")
                    .is_some_and(|t| t.parse::<f64>().is_ok()),
                "{text}"
            );
            let failure = case
                .children()
                .find(|n| n.has_tag_name("failure"))
                .map(|f| f.attribute("message").unwrap_or("").to_string());
            (case.attribute("name").unwrap().to_string(), failure)
        })
        .collect()
}

#[test]
fn verify_passes_on_the_builtin_lab_and_names_the_expectation_an_apply_breaks() {
    let mut lab = Lab::start(PREFIX, HUB_SPOKE);
    let socket = lab.serve_control();
    let dir = tempfile::tempdir().unwrap();
    let names = expectation_names();
    assert_eq!(names.len(), 8);
    let before = listening(&lab);

    // 1. The built-in lab as it is: every expectation holds.
    let junit = dir.path().join("pass.xml");
    let out = verify(&socket, &["--junit", junit.to_str().unwrap()]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(table.ends_with("8 passed, 0 failed\n"), "{table}");
    assert!(
        table.lines().any(|l| l.starts_with("ok ")
            && l.contains("spoke1-pings-spoke2-through-the-nva")
            && l.ends_with("Allow via nva1 > vm2")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.contains("telnet-to-spoke2-is-blocked")
                && l.ends_with("Deny (nsg_inbound) at vm2 via nva1")),
        "{table}"
    );
    let cases = junit_cases(&junit);
    let expected: Vec<(String, Option<String>)> = names.iter().map(|n| (n.clone(), None)).collect();
    assert_eq!(cases, expected);
    assert_nothing_left(&lab, &before);

    // 2. An NSG rule now denies TCP 80 into spoke2: that expectation, and
    // only it, fails.
    let broken = common::with_netns_prefix(HUB_SPOKE, PREFIX).replace(
        "    security_rules:\n      - name: deny-telnet\n",
        "    security_rules:\n      - {name: deny-web, priority: 110, direction: Inbound, access: Deny, protocol: Tcp, source_port_range: '*', destination_port_range: '80', source_address_prefix: '*', destination_address_prefix: '*'}\n      - name: deny-telnet\n",
    );
    let file = dir.path().join("broken.yaml");
    std::fs::write(&file, broken).unwrap();
    let applied = common::vnetd_command(&socket)
        .arg("apply")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );

    let junit = dir.path().join("fail.xml");
    let out = verify(&socket, &["--junit", junit.to_str().unwrap()]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}");
    let failed: Vec<&str> = table.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{table}");
    // What was found, beside what was expected; why it fails on stderr.
    assert!(
        failed[0].contains(WEB) && failed[0].ends_with("Deny (nsg_inbound) at vm2 via nva1"),
        "{table}"
    );
    // The failure's reason line: what the probe saw, and what check finds
    // for the file the lab runs now.
    let why = "expected Allow, found Deny (nsg_inbound at vm2); observed: no answer to the TCP \
               SYN to 10.2.1.4:80 within 2 s (neither SYN-ACK nor reset); check finds Deny \
               (nsg_inbound) at vm2 via nva1";
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("expectation `{WEB}` failed: {why}\n")),
        "{stderr}"
    );
    assert!(table.ends_with("7 passed, 1 failed\n"), "{table}");
    let cases = junit_cases(&junit);
    let expected: Vec<(String, Option<String>)> = names
        .iter()
        .map(|n| (n.clone(), (n == WEB).then(|| why.to_string())))
        .collect();
    assert_eq!(cases, expected);

    let out = verify(&socket, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (json["passed"].as_u64(), json["failed"].as_u64()),
        (Some(7), Some(1))
    );
    let rows = json["expectations"].as_array().unwrap();
    let failing: Vec<&str> = rows
        .iter()
        .filter(|r| r["passed"] == false)
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(failing, [WEB]);
    let web = rows.iter().find(|r| r["name"] == WEB).unwrap();
    assert_eq!(
        web["observed"],
        serde_json::json!({"result": "Deny", "reason": "nsg_inbound", "at": "vm2", "via": ["nva1"],
                           "reply": false})
    );
    assert_nothing_left(&lab, &before);
}

/// The CI recipe as the docs give it: `vnetd run FILE &` and straight
/// after `vnetd verify --wait`, no sleep. Verify waits for the lab's
/// socket and its BGP session and route (the hybrid example, its branch
/// router running BIRD), then every expectation holds; `run` reports the
/// session and prefix as they come up and says once that it converged.
#[test]
fn verify_wait_straight_after_run_waits_for_bgp_then_passes() {
    use std::io::Read;
    common::require_root();
    let hybrid =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/hybrid.yaml"))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hybrid.yaml");
    std::fs::write(&file, common::with_netns_prefix(&hybrid, "e2vw")).unwrap();
    let socket = dir.path().join("vnetd.sock");
    let mut run = common::vnetd_command(&socket);
    run.arg("run").arg(&file).args(["--workers", "2"]);
    let mut lab = common::spawn_lab_unwaited(run);

    let out = verify(&socket, &["--wait"]);
    let (table, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{table}{stderr}");
    assert!(table.ends_with("4 passed, 0 failed\n"), "{table}{stderr}");
    let converged: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("vnetd: converged: "))
        .collect();
    assert_eq!(converged.len(), 1, "{stderr}");
    assert!(
        converged[0]
            .starts_with("vnetd: converged: BGP 1/1 sessions established, 1 prefix learned (")
            && converged[0].ends_with(" s of waiting)"),
        "{stderr}"
    );

    common::stop_lab(&mut lab);
    let mut printed = String::new();
    lab.stdout
        .take()
        .unwrap()
        .read_to_string(&mut printed)
        .unwrap();
    let lines: Vec<&str> = printed.lines().collect();
    let up = lines.iter().position(|l| l.contains("lab up")).unwrap();
    let done: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("vnetd: converged: "))
        .collect();
    assert_eq!(done.len(), 1, "{printed}");
    assert!(done[0] > up, "{printed}");
    assert!(
        lines[done[0]]
            .starts_with("vnetd: converged: BGP 1/1 sessions established, 1 prefix learned (")
            && lines[done[0]].ends_with(" s after start)"),
        "{printed}"
    );
    // Progress lines come only when the counts change.
    let progress: Vec<&str> = lines[up..done[0]]
        .iter()
        .copied()
        .filter(|l| l.starts_with("vnetd: BGP "))
        .collect();
    assert!(
        progress.windows(2).all(|w| w[0] != w[1]),
        "a progress line repeated:\n{printed}"
    );
    assert!(
        progress
            .iter()
            .all(|l| l.starts_with("vnetd: BGP ") && l.contains("/1 sessions established, ")),
        "{printed}"
    );
}

/// `verify --wait` with no lab: it waits its deadline out, then exits 1
/// saying so, and tests nothing.
#[test]
fn verify_wait_without_a_lab_fails_after_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let out = verify(&socket, &["--wait", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("vnetd verify: the lab did not answer within 1 s: no running vnetd at ")
            && stderr.trim_end().ends_with("; no expectation was tested"),
        "{stderr}"
    );
}
