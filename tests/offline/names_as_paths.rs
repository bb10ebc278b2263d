//! Names from the file that become names of namespaces, directories or
//! files (hosts, gateways, sites, NICs, explicit `netns`) never lead out of
//! vnetd's directories: a name holding `..`, `/` or NUL is refused at its
//! line by `vnetd check`, and `vnetd run` builds nothing from such a file.

use crate::common::broken_files::{check, line_of};
use std::process::Command;

const BASE: &str = include_str!("../../config/hybrid.yaml");

/// The names a path could be made to climb or break with, as written in
/// YAML, and as the message shows them.
const BAD: &[(&str, &str)] = &[
    ("../../x", "../../x"),
    ("a/b", "a/b"),
    ("\"a\\0b\"", "a\\u{0}b"),
];

/// Each kind of name: the base file with `bad` put in its place, and the
/// text of the line the refusal must point at.
fn kinds(bad: &str) -> Vec<(&'static str, String, String)> {
    let hosts = format!(
        "\nhosts:\n  - {{name: {bad}, underlay_address: 192.0.2.1}}\n  - {{name: h2, underlay_address: 192.0.2.2}}\n\nvnets:\n"
    );
    vec![
        (
            "host",
            BASE.replacen("\nvnets:\n", &hosts, 1),
            format!("{{name: {bad}, underlay_address"),
        ),
        (
            "gateway",
            BASE.replace("hub-vpngw", bad),
            format!("  - name: {bad}\n    virtual_network: hub"),
        ),
        (
            "site",
            BASE.replacen("  - name: branch1\n", &format!("  - name: {bad}\n"), 1)
                .replacen("    site: branch1\n", &format!("    site: {bad}\n"), 1),
            format!("  - name: {bad}\n    address_space"),
        ),
        (
            "nic",
            BASE.replace("vm1", bad),
            format!("  - name: {bad}\n    subnet: spoke1/app"),
        ),
        (
            "nic-netns",
            BASE.replacen(
                "  - name: hub-vm\n",
                &format!("  - name: hub-vm\n    netns: {bad}\n"),
                1,
            ),
            format!("    netns: {bad}"),
        ),
        (
            "site-router-netns",
            BASE.replacen(
                "router: {netns: branch1,",
                &format!("router: {{netns: {bad},"),
                1,
            ),
            format!("router: {{netns: {bad},"),
        ),
        (
            "site-host-netns",
            BASE.replacen("netns: onprem-vm}", &format!("netns: {bad}}}"), 1),
            format!("netns: {bad}}}"),
        ),
    ]
}

#[test]
fn a_name_that_would_leave_vnetds_directories_is_refused_at_its_line() {
    for (bad, shown) in BAD {
        for (kind, text, needle) in kinds(bad) {
            let case = format!("{kind} named {bad}");
            let (code, stderr, path) = check("names-as-paths", kind, &text);
            assert_eq!(code, Some(1), "{case}: exit code; stderr:\n{stderr}");
            assert!(!stderr.contains("panicked"), "{case}: {stderr}");
            assert!(
                !stderr.contains('\0'),
                "{case}: a NUL reached the terminal: {stderr:?}"
            );
            let line = line_of(&text, needle.lines().next().unwrap(), &case);
            let prefix = format!("{}:{line}: error: ", path.display());
            assert!(
                stderr
                    .lines()
                    .any(|l| l.starts_with(&prefix) && l.contains(shown)),
                "{case}: expected an error at line {line} naming {shown}; got:\n{stderr}"
            );
        }
    }
}

/// As root, `vnetd run` of a file whose host is named to climb out of
/// vnetd's directories stops at the file, before anything is built: the
/// directory its host mesh speaker would have had is never made.
#[test]
fn run_builds_nothing_from_a_host_named_to_climb_out() {
    let text = kinds("../../x").remove(0).1;
    let dir = std::env::temp_dir().join(format!("vnetd-climb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("climb.yaml");
    std::fs::write(&path, &text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(["run", "--host", "h2"])
        .arg(&path)
        .env("VNETD_SOCKET", dir.join("control.sock"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("is not a usable host name"), "{stderr}");
    for escaped in ["/run/x", "/run/vnetd-bgp/mesh-..", "/x"] {
        assert!(
            !std::path::Path::new(escaped).exists(),
            "{escaped} was made"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
