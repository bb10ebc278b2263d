//! A routing daemon that is not installed (gobgpd, BIRD, FRR) is named with
//! the Debian package that installs it: `vnetd check` warns, and `vnetd
//! run` (and the library's `Daemon::start`) refuse before any namespace is
//! built. The programs are looked for where the lab would start them
//! from, so pointing that search at an empty directory stands for a machine
//! without them.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use vnetd::daemon::{Daemon, RunOptions};
use vnetd::host::routing::ProgramSearch;

const HYBRID: &str = include_str!("../../config/hybrid.yaml");
const AVS: &str = include_str!("../../config/avs-expressroute.yaml");

/// `text` with every namespace, the sites' too, named `<prefix>-...`.
fn prefixed(text: &str, prefix: &str, sites: &[&str]) -> String {
    let mut text = common::with_netns_prefix(text, prefix);
    for site in sites {
        text = text.replace(
            &format!("netns: {site}"),
            &format!("netns: {prefix}-{site}"),
        );
    }
    text
}

/// The line of `needle` in `text`, from 1.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l == needle)
        .expect("the line is there")
        + 1
}

/// A directory holding executables (that do nothing) named `programs`.
fn fake_programs(programs: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for program in programs {
        let path = dir.path().join(program);
        std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// Removes a namespace made with `ip netns add` when dropped.
struct Foreign(String);

impl Foreign {
    fn add(name: &str) -> Foreign {
        let status = Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .unwrap();
        assert!(status.success());
        Foreign(name.to_string())
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn gobgp_and_bird_missing(file: &str, text: &str, severity: &str) -> String {
    format!(
        "{file}:{}: {severity}: on_premises_sites[branch1].router.bgp_speaker: needs BIRD, which \
         is not installed (no bird, birdc found): install the Debian package bird2 (apt-get \
         install bird2)\n\
         {file}:{}: {severity}: virtual_network_gateways[hub-vpngw]: needs gobgpd, which is not \
         installed (no gobgpd, gobgp found): install the Debian package gobgpd (apt-get install \
         gobgpd)\n",
        line_of(text, "  - name: branch1"),
        line_of(text, "  - name: hub-vpngw"),
    )
}

#[test]
fn check_warns_when_the_file_needs_a_daemon_that_is_not_installed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hybrid.yaml");
    std::fs::write(&file, HYBRID).unwrap();
    let check = |path: &Path| {
        Command::new(env!("CARGO_BIN_EXE_vnetd"))
            .args(["check", file.to_str().unwrap()])
            .env("PATH", path)
            .output()
            .unwrap()
    };
    let nothing = tempfile::tempdir().unwrap();
    let out = check(nothing.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A warning: the file is valid, and its expectations are checked.
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr,
        gobgp_and_bird_missing(file.to_str().unwrap(), HYBRID, "warning")
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("passed, 0 failed"));

    // Where the programs are, nothing is said.
    let installed = fake_programs(&["gobgpd", "gobgp", "bird", "birdc"]);
    let out = check(installed.path());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn run_names_the_package_before_it_builds_a_namespace() {
    common::require_root();
    let prefix = format!("dn23-{}-run", std::process::id());
    let text = prefixed(HYBRID, &prefix, &["branch1", "onprem-vm"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hybrid.yaml");
    std::fs::write(&file, &text).unwrap();
    // The first namespace the lab would build is taken already: had the
    // lab started building, it would say so instead.
    let _taken = Foreign::add(&format!("{prefix}-branch1"));
    let socket = dir.path().join("vnetd.sock");
    let nothing = tempfile::tempdir().unwrap();
    let out = common::vnetd_command(&socket)
        .args(["run", file.to_str().unwrap()])
        .env("PATH", nothing.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        gobgp_and_bird_missing(file.to_str().unwrap(), &text, "error")
    );
    assert_eq!(
        common::namespaces_with(&prefix),
        vec![format!("{prefix}-branch1")]
    );
    assert!(!socket.exists());
}

#[test]
fn the_daemon_refuses_a_lab_whose_routing_daemons_are_missing() {
    common::require_root();
    let prefix = format!("dn23-{}-lib", std::process::id());
    let text = prefixed(AVS, &prefix, &["dc1", "dc-host"]);
    let loaded = vnetd::topology::parse_str("avs.yaml", &text).unwrap();
    let _taken = Foreign::add(&format!("{prefix}-dc1"));
    let nothing = tempfile::tempdir().unwrap();
    let options = RunOptions {
        workers: 1,
        programs: ProgramSearch::new(nothing.path()),
        ..RunOptions::default()
    };
    let err = match Daemon::start(loaded.topology, &options) {
        Ok(daemon) => {
            let _ = daemon.shutdown();
            panic!("the lab started without its routing daemons");
        }
        Err(err) => format!("{err:#}"),
    };
    assert_eq!(
        err,
        format!(
            "avs.yaml:{}: error: on_premises_sites[dc1].router.bgp_speaker: needs BIRD, which is \
             not installed (no bird, birdc found): install the Debian package bird2 (apt-get \
             install bird2)\n\
             avs.yaml:{}: error: virtual_network_gateways[hub-ergw]: needs gobgpd, which is not \
             installed (no gobgpd, gobgp found): install the Debian package gobgpd (apt-get \
             install gobgpd)",
            line_of(&text, "  - name: dc1"),
            line_of(&text, "  - name: hub-ergw"),
        )
    );
    assert_eq!(
        common::namespaces_with(&prefix),
        vec![format!("{prefix}-dc1")]
    );
}

#[test]
fn apply_refuses_a_hybrid_part_whose_daemons_are_missing_and_changes_nothing() {
    common::require_root();
    let prefix = format!("dn23-{}-apply", std::process::id());
    let plain = format!(
        "vnets:\n  - name: hub\n    address_space: [10.0.0.0/16]\n    location: westeurope\n    \
         subnets:\n      - name: default\n        address_prefixes: [10.0.1.0/24]\n\
         network_interfaces:\n  - name: hub-vm\n    subnet: hub/default\n    \
         private_ip_address: 10.0.1.4\n    netns: {prefix}-hub-vm\n"
    );
    let nothing = tempfile::tempdir().unwrap();
    let options = RunOptions {
        workers: 1,
        programs: ProgramSearch::new(nothing.path()),
        ..RunOptions::default()
    };
    let loaded = vnetd::topology::parse_str("plain.yaml", &plain).unwrap();
    let daemon = Daemon::start(loaded.topology, &options).unwrap();
    // Removed whatever the assertions say.
    struct Stop(Daemon);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.shutdown();
        }
    }
    let daemon = Stop(daemon);
    let text = prefixed(HYBRID, &prefix, &["branch1", "onprem-vm"]);
    let refused = daemon.0.apply("hybrid.yaml", &text);
    let Err(vnetd::daemon::ApplyError::Invalid(errors)) = refused else {
        panic!("the apply was not refused as invalid: {refused:?}");
    };
    let listed: String = errors.iter().map(|d| format!("{d}\n")).collect();
    assert_eq!(
        listed,
        gobgp_and_bird_missing("hybrid.yaml", &text, "error")
    );
    let mut left = common::namespaces_with(&prefix);
    left.sort();
    // The running lab's VM, its VNet's Azure DNS and its fabric.
    let mut expected = vec![format!("{prefix}-hub-vm"), format!("{prefix}-hub-vm.dns")];
    if common::with_fabric(0) == 1 {
        expected.push(format!("{prefix}-hub-vm.fabric"));
    }
    expected.sort();
    assert_eq!(left, expected);
}
