//! The `vnetd` binary as users run it: `vnetd run` builds the lab and
//! removes everything on SIGINT/SIGTERM; after SIGKILL, `vnetd down` removes
//! what was left; a namespace that already exists is never taken over.
//! Needs root (see `common::can_run_labs`).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HUB_SPOKE: &str = include_str!("../config/hub-spoke.yaml");

/// The tests of this file run one at a time: they count temporary TUN
/// links host-wide, which a lab being built beside them would add.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn vnetd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vnetd"))
}

fn write_config(prefix: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("vnetd-{prefix}-{}.yaml", std::process::id()));
    std::fs::write(&path, common::with_netns_prefix(HUB_SPOKE, prefix)).unwrap();
    path
}

/// Starts `vnetd run ARGS` and waits until it says the lab is up.
fn start(args: &[&str]) -> Child {
    let mut child = vnetd()
        .arg("run")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("lab up") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(30)).is_err() {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "vnetd run did not come up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    child
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: sends a signal to a child process this test owns.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "vnetd did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn namespaces_with(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .map(String::from)
        .collect()
}

/// TUN devices are created under temporary names before they move into
/// their namespace; none may stay behind in the host namespace.
fn host_tun_links() -> usize {
    let out = Command::new("ip").args(["-o", "link"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("vndtmp"))
        .count()
}

#[test]
fn sigterm_removes_the_whole_lab() {
    if !common::can_run_labs() {
        return;
    }
    let _serial = serial();
    let config = write_config("e2term");
    let mut child = start(&[config.to_str().unwrap()]);
    assert_eq!(namespaces_with("e2term").len(), 4);
    assert!(common::ping("e2term-vm1", "10.2.1.4"));
    signal(&child, libc::SIGTERM);
    assert!(wait_exit(&mut child).success());
    assert_eq!(namespaces_with("e2term"), Vec::<String>::new());
    assert_eq!(host_tun_links(), 0);
}

#[test]
fn sigkill_leftovers_are_removed_by_down() {
    if !common::can_run_labs() {
        return;
    }
    let _serial = serial();
    let config = write_config("e2kill");
    let mut child = start(&[config.to_str().unwrap()]);
    signal(&child, libc::SIGKILL);
    wait_exit(&mut child);
    // A crash leaves the namespaces (the TUNs die with the process).
    assert_eq!(namespaces_with("e2kill").len(), 4);
    let out = vnetd().arg("down").arg(&config).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed namespaces"));
    assert_eq!(namespaces_with("e2kill"), Vec::<String>::new());
    assert_eq!(host_tun_links(), 0);
    // A second `down` has nothing left to do.
    let out = vnetd().arg("down").arg(&config).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to remove"));
}

#[test]
fn an_existing_namespace_is_not_taken_over() {
    if !common::can_run_labs() {
        return;
    }
    let _serial = serial();
    let config = write_config("e2clash");
    assert!(Command::new("ip")
        .args(["netns", "add", "e2clash-vm2"])
        .status()
        .unwrap()
        .success());
    let out = vnetd().arg("run").arg(&config).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // The namespace is still there, and it is the only one.
    let left = namespaces_with("e2clash");
    let _ = Command::new("ip")
        .args(["netns", "del", "e2clash-vm2"])
        .status();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("e2clash-vm2") && stderr.contains("already exists"),
        "{stderr}"
    );
    assert_eq!(left, vec!["e2clash-vm2".to_string()]);
}

#[test]
fn the_builtin_lab_runs_and_forwards() {
    if !common::can_run_labs() {
        return;
    }
    let _serial = serial();
    // The README's first command: `vnetd run` with no file.
    let mut child = start(&[]);
    let through_nva = common::ping("vm1", "10.2.1.4");
    signal(&child, libc::SIGINT);
    let status = wait_exit(&mut child);
    assert!(through_nva, "vm1 -> vm2 through the hub NVA");
    assert!(status.success());
    for ns in ["vm1", "vm2", "nva1", "shared1"] {
        assert!(!vnetd::host::netns::exists(ns), "{ns} left behind");
    }
}

#[test]
fn the_demo_script_proves_every_path_it_shows() {
    if !common::can_run_labs() {
        return;
    }
    let _serial = serial();
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo.sh"))
        .env("VNETD", env!("CARGO_BIN_EXE_vnetd"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ok: ping and HTTP through nva1"),
        "{stdout}"
    );
    assert!(stdout.contains("ok: TCP 23 to vm2 is dropped"), "{stdout}");
    for ns in ["vm1", "vm2", "nva1", "shared1"] {
        assert!(!vnetd::host::netns::exists(ns), "{ns} left behind");
    }
}
