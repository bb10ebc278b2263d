//! The `vnetd` binary as users run it: `vnetd run` builds the lab and
//! removes everything on SIGINT/SIGTERM; after SIGKILL, `vnetd down` or the
//! next `vnetd run` of the file removes what was left, and says so; a
//! namespace that already exists, or that a running lab holds, is never
//! taken over.
//! Needs root (see `common::require_root`).

use crate::common;

use common::LabProcess;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The built-in lab's namespaces: its four VMs' and its three VNets'
/// Azure DNS.
const HUB_SPOKE_NAMESPACES: usize = 4 + 3;

const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");

/// The tests of this file run one at a time: they count temporary TUN
/// links host-wide, which a lab being built beside them would add.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Each test's daemon listens on its own control socket, so the tests
/// never talk to a lab someone else is running on the machine.
fn socket() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("vnetd-test-{}.sock", std::process::id()))
}

fn vnetd() -> Command {
    common::vnetd_command(&socket())
}

fn write_config(prefix: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("vnetd-{prefix}-{}.yaml", std::process::id()));
    std::fs::write(&path, common::with_netns_prefix(HUB_SPOKE, prefix)).unwrap();
    path
}

/// Starts `vnetd run ARGS` and waits until it says the lab is up.
fn start(args: &[&str]) -> LabProcess {
    let mut run = vnetd();
    run.arg("run").args(args);
    common::spawn_lab(run, "").0
}

fn signal(child: &Child, sig: i32) {
    common::signal(child, sig)
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    common::wait_exit(child)
}

fn namespaces_with(prefix: &str) -> Vec<String> {
    common::namespaces_with(prefix)
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
    common::require_root();
    let _serial = serial();
    let config = write_config("e2term");
    let mut child = start(&[config.to_str().unwrap()]);
    assert_eq!(
        namespaces_with("e2term").len(),
        common::with_fabric(HUB_SPOKE_NAMESPACES)
    );
    assert!(common::ping("e2term-vm1", "10.2.1.4"));
    signal(&child, libc::SIGTERM);
    assert!(wait_exit(&mut child).success());
    assert_eq!(namespaces_with("e2term"), Vec::<String>::new());
    assert_eq!(host_tun_links(), 0);
}

#[test]
fn sigkill_leftovers_are_removed_by_down() {
    common::require_root();
    let _serial = serial();
    let config = write_config("e2kill");
    // With the metrics endpoint, whose token the run writes beside its
    // socket.
    let mut child = start(&[config.to_str().unwrap(), "--metrics", "127.0.0.1:0"]);
    signal(&child, libc::SIGKILL);
    wait_exit(&mut child);
    // A crash leaves the namespaces (the TUNs die with the process), the
    // control socket, which nobody answers on any more, and the token.
    assert_eq!(
        namespaces_with("e2kill").len(),
        common::with_fabric(HUB_SPOKE_NAMESPACES)
    );
    assert!(socket().exists());
    let token = socket().with_extension("http-token");
    assert!(token.exists());
    let out = vnetd().arg("down").arg(&config).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("removed namespaces"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "removed the stale control socket {}",
            socket().display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("removed the token file {}", token.display())),
        "{stdout}"
    );
    assert!(!socket().exists());
    assert!(!token.exists());
    assert_eq!(namespaces_with("e2kill"), Vec::<String>::new());
    assert_eq!(host_tun_links(), 0);
    // A second `down` has nothing left to do.
    let out = vnetd().arg("down").arg(&config).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to remove"));
}

#[test]
fn sigkill_leftovers_are_removed_by_the_next_run_but_a_running_lab_is_not() {
    use std::io::BufRead;
    common::require_root();
    let _serial = serial();
    let config = write_config("e2again");
    let mut child = start(&[config.to_str().unwrap()]);
    signal(&child, libc::SIGKILL);
    wait_exit(&mut child);
    let left: std::collections::BTreeSet<String> = namespaces_with("e2again").into_iter().collect();
    assert_eq!(left.len(), common::with_fabric(HUB_SPOKE_NAMESPACES));
    // The next run removes them, one line each, then builds its lab.
    let mut again = common::spawn_lab_unwaited({
        let mut run = vnetd();
        run.arg("run").arg(&config);
        run
    });
    let stdout = again.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut said = Vec::new();
    while !said.iter().any(|l: &String| l.contains("lab up")) {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => said.push(line),
            Err(_) => panic!("vnetd run did not come up: {said:#?}"),
        }
    }
    let prefix = "vnetd: left by a killed run: ";
    let removed: Vec<&String> = said.iter().filter(|l| l.starts_with(prefix)).collect();
    // The lab's CA is kept under its first namespace's name.
    let namespaces = namespaces_in_plan_order(&config);
    assert_eq!(
        removed,
        [
            &format!("{prefix}removed namespaces {}", namespaces.join(", ")),
            &format!("{prefix}removed /run/vnetd-tls/{}", namespaces[0]),
            &format!(
                "{prefix}removed the stale control socket {}",
                socket().display()
            ),
        ],
        "{said:#?}"
    );
    assert_eq!(
        namespaces_with("e2again")
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>(),
        left
    );
    assert!(common::ping("e2again-vm1", "10.2.1.4"));
    // A second run of the file, through another socket, takes nothing
    // from the running lab.
    let other = std::env::temp_dir().join(format!("vnetd-again-{}.sock", std::process::id()));
    let out = common::vnetd_command(&other)
        .arg("run")
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "belongs to process {}, which is still running: a lab of {} runs already (stop it \
             first)",
            again.id(),
            config.display()
        )),
        "{stderr}"
    );
    assert!(common::ping("e2again-vm1", "10.2.1.4"));
    common::stop_lab(&mut again);
    assert_eq!(namespaces_with("e2again"), Vec::<String>::new());
    std::fs::remove_file(&config).unwrap();
}

/// The namespaces of the lab of `config`, in the order vnetd makes them.
fn namespaces_in_plan_order(config: &std::path::Path) -> Vec<String> {
    let loaded = vnetd::plan::load_file(config).unwrap();
    vnetd::daemon::namespace_names(&loaded.topology)
        .into_iter()
        .filter(|n| vnetd::host::netns::exists(n))
        .collect()
}

#[test]
fn an_existing_namespace_is_not_taken_over() {
    common::require_root();
    let _serial = serial();
    let config = write_config("e2clash");
    assert!(Command::new("ip")
        .args(["netns", "add", "e2clash-vm2"])
        .status()
        .unwrap()
        .success());
    let out = vnetd().arg("run").arg(&config).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // `down` does not take it either: vnetd did not create it.
    let down = vnetd().arg("down").arg(&config).output().unwrap();
    let down_stderr = String::from_utf8_lossy(&down.stderr).into_owned();
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
    assert_eq!(down.status.code(), Some(0), "{down_stderr}");
    assert_eq!(
        down_stderr,
        "vnetd: namespace e2clash-vm2 was not created by vnetd: left alone\n"
    );
}

#[test]
fn down_refuses_while_the_lab_runs() {
    common::require_root();
    let _serial = serial();
    let config = write_config("e2busy");
    let mut child = start(&[config.to_str().unwrap()]);
    let out = vnetd().arg("down").arg(&config).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "a vnetd is running (control socket {})",
            socket().display()
        )),
        "{stderr}"
    );
    // Even asked through another socket path, the running lab's
    // namespaces are its own: left alone, exit 1.
    let other = std::env::temp_dir().join(format!("vnetd-other-{}.sock", std::process::id()));
    let out = common::vnetd_command(&other)
        .arg("down")
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "namespace e2busy-vm1 belongs to process {}, which is still running",
            child.id()
        )),
        "{stderr}"
    );
    assert_eq!(
        namespaces_with("e2busy").len(),
        common::with_fabric(HUB_SPOKE_NAMESPACES)
    );
    assert!(common::ping("e2busy-vm1", "10.2.1.4"));
    common::stop_lab(&mut child);
    assert_eq!(namespaces_with("e2busy"), Vec::<String>::new());
    std::fs::remove_file(&config).unwrap();
}

#[test]
fn run_never_deletes_a_file_that_is_not_its_socket() {
    common::require_root();
    let _serial = serial();
    let config = write_config("e2sock");
    let precious = std::env::temp_dir().join(format!("vnetd-precious-{}", std::process::id()));
    std::fs::write(&precious, "keep me\n").unwrap();
    let out = common::vnetd_command(&precious)
        .arg("run")
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} exists and is a regular file, not a socket",
            precious.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me\n");
    assert_eq!(namespaces_with("e2sock"), Vec::<String>::new());
    std::fs::remove_file(&precious).unwrap();
    std::fs::remove_file(&config).unwrap();
}

/// The descriptors process `pid` holds open on `/dev/net/tun`: one per
/// TUN queue.
fn tun_queues_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target == std::path::Path::new("/dev/net/tun"))
        .count()
}

#[test]
fn a_lab_past_the_open_file_limit_runs_with_one_queue_per_nic() {
    common::require_root();
    let _serial = serial();
    let config = write_config("e2fds");
    // Seven ports (four VMs, three VNets' Azure DNS) and two workers: a
    // queue per worker needs 7 x 2 + 1024 descriptors, one per port
    // 7 + 1024; the hard limit sits between, and setpriv takes away the
    // capability that would raise it.
    let mut run = Command::new("setpriv");
    run.args(["--bounding-set=-sys_resource", "--", "prlimit"])
        .arg("--nofile=1035:1035")
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_vnetd"))
        .args(["run", "--workers", "2", config.to_str().unwrap()])
        .env("VNETD_SOCKET", socket());
    let (mut child, _) = common::spawn_lab(run, "");
    let queues = tun_queues_of(child.id());
    // Through the NVA both ways, and a peering both ways: NICs read by
    // different workers, each writing the other's one queue.
    let paths = [
        ("e2fds-vm1", "10.2.1.4"),
        ("e2fds-vm2", "10.1.1.4"),
        ("e2fds-vm1", "10.0.1.4"),
        ("e2fds-nva1", "10.1.1.4"),
    ];
    let answered: Vec<bool> = paths
        .iter()
        .map(|(from, to)| common::ping(from, to))
        .collect();
    signal(&child, libc::SIGTERM);
    let status = wait_exit(&mut child);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(
        queues, HUB_SPOKE_NAMESPACES,
        "one TUN queue per port; stderr: {stderr}"
    );
    assert_eq!(answered, [true; 4], "{paths:?}; stderr: {stderr}");
    assert!(stderr.contains("each NIC gets one queue"), "{stderr}");
    assert!(status.success(), "{stderr}");
    assert_eq!(namespaces_with("e2fds"), Vec::<String>::new());
}

#[test]
fn the_builtin_lab_runs_and_forwards() {
    common::require_root();
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
    common::require_root();
    let _serial = serial();
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo.sh"))
        .env("VNETD", env!("CARGO_BIN_EXE_vnetd"))
        .env("VNETD_SOCKET", socket())
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

/// Runs `vnetd ARGS --json` against the running daemon and parses it.
fn json_of(args: &[&str]) -> serde_json::Value {
    let out = vnetd().args(args).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn stats_and_flows_report_a_scripted_scenario_exactly() {
    common::require_root();
    let _serial = serial();
    // vm2's subnet also denies UDP 9999.
    let text = common::with_netns_prefix(HUB_SPOKE, "e2cnt").replace(
        "    security_rules:\n      - name: deny-telnet\n",
        "    security_rules:\n      - {name: deny-udp-9999, priority: 110, direction: Inbound, access: Deny, protocol: Udp, source_port_range: '*', destination_port_range: '9999', source_address_prefix: '*', destination_address_prefix: '*'}\n      - name: deny-telnet\n",
    );
    let path = std::env::temp_dir().join(format!("vnetd-e2cnt-{}.yaml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let mut child = start(&[path.to_str().unwrap()]);
    // 1. Three pings over the peering.
    assert!(common::ping("e2cnt-vm1", "10.0.2.4"));
    // 2. Two datagrams to vm2:9999, through the NVA, denied at vm2.
    let sender = vnetd::host::netns::run_in("e2cnt-vm1", || {
        Ok(std::net::UdpSocket::bind("10.1.1.4:40999")?)
    })
    .unwrap();
    for _ in 0..2 {
        sender.send_to(b"counted", "10.2.1.4:9999").unwrap();
    }
    // 3. Two pings from an address the NIC does not own.
    common::in_netns(
        "e2cnt-vm1",
        &["ip", "addr", "add", "10.1.1.99/32", "dev", "eth0"],
    );
    let _ = Command::new("ip")
        .args([
            "netns",
            "exec",
            "e2cnt-vm1",
            "ping",
            "-n",
            "-q",
            "-c",
            "2",
            "-i",
            "0.2",
            "-W",
            "1",
            "-I",
            "10.1.1.99",
            "10.0.2.4",
        ])
        .output();
    // The last packets counted are the drops at vm2 and vm1; wait for
    // them (ping has returned, the fabric may still be counting), then
    // check every count exactly.
    let deadline = Instant::now() + Duration::from_secs(5);
    let stats = loop {
        let stats = json_of(&["stats"]);
        let drops = |nic: &str, reason: &str| stats["nics"][nic]["drops"][reason].as_u64();
        if drops("vm2", "nsg_inbound") == Some(2) && drops("vm1", "source_check") == Some(2) {
            break stats;
        }
        assert!(Instant::now() < deadline, "drops never counted: {stats}");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Counts of packets other than the kernel's IPv6 multicast chatter,
    // which Azure (and vnetd) never carry.
    let nic = |name: &str| {
        let n = &stats["nics"][name];
        let chatter = n["drops"]["unroutable"].as_u64().unwrap_or(0);
        let mut drops = n["drops"].as_object().unwrap().clone();
        drops.remove("unroutable");
        (
            n["packets_sent"].as_u64().unwrap() - chatter,
            n["packets_received"].as_u64().unwrap(),
            serde_json::Value::Object(drops),
        )
    };
    use serde_json::json;
    assert_eq!(nic("vm1"), (3 + 2 + 2, 3, json!({"source_check": 2})));
    assert_eq!(nic("shared1"), (3, 3, json!({})));
    assert_eq!(nic("nva1"), (2, 2, json!({})));
    assert_eq!(nic("vm2"), (0, 0, json!({"nsg_inbound": 2})));
    assert_eq!(stats["generation"], 1);

    let flows = json_of(&["flows"]);
    let summary: Vec<(String, String, String, String, String, u64, u64)> = flows["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["nic"].as_str().unwrap().to_string(),
                f["direction"].as_str().unwrap().to_string(),
                f["protocol"].as_str().unwrap().to_string(),
                f["destination"].as_str().unwrap().to_string(),
                f["rule"].as_str().unwrap_or("-").to_string(),
                f["packets_forward"].as_u64().unwrap(),
                f["packets_reverse"].as_u64().unwrap(),
            )
        })
        .collect();
    let row = |nic: &str, dir: &str, proto: &str, dst: &str, rule: &str, fwd: u64, rev: u64| {
        (
            nic.to_string(),
            dir.to_string(),
            proto.to_string(),
            dst.to_string(),
            rule.to_string(),
            fwd,
            rev,
        )
    };
    assert_eq!(
        summary,
        vec![
            row("nva1", "Inbound", "Udp", "10.2.1.4:9999", "-", 2, 0),
            row("nva1", "Outbound", "Udp", "10.2.1.4:9999", "-", 2, 0),
            row("shared1", "Inbound", "Icmp", "10.0.2.4", "-", 3, 3),
            row("vm1", "Outbound", "Icmp", "10.0.2.4", "-", 3, 3),
            row("vm1", "Outbound", "Udp", "10.2.1.4:9999", "-", 2, 0),
        ]
    );
    // The per-NIC filter.
    let only = json_of(&["flows", "--nic", "shared1"]);
    assert_eq!(only["flows"].as_array().unwrap().len(), 1);

    signal(&child, libc::SIGTERM);
    assert!(wait_exit(&mut child).success());
}

#[test]
fn apply_through_the_control_socket_and_its_refusals() {
    common::require_root();
    let _serial = serial();
    let config = write_config("e2ctl");
    let mut child = start(&[config.to_str().unwrap()]);
    // A broken file: exit 1 with the file's errors; nothing changes.
    let broken =
        std::env::temp_dir().join(format!("vnetd-e2ctl-broken-{}.yaml", std::process::id()));
    std::fs::write(
        &broken,
        common::with_netns_prefix(HUB_SPOKE, "e2ctl").replace("10.2.1.4\n", "10.2.1.255\n"),
    )
    .unwrap();
    let out = vnetd().arg("apply").arg(&broken).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("10.2.1.255 is one of the 5 addresses"));
    assert!(
        common::ping("e2ctl-vm1", "10.2.1.4"),
        "traffic goes on unchanged"
    );
    // A good file through the socket; the diagnostics then answer from it.
    let moved = std::env::temp_dir().join(format!("vnetd-e2ctl-moved-{}.yaml", std::process::id()));
    std::fs::write(
        &moved,
        common::with_netns_prefix(HUB_SPOKE, "e2ctl").replace("10.2.1.4\n", "10.2.1.8\n"),
    )
    .unwrap();
    let out = vnetd().arg("apply").arg(&moved).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("generation 2; re-plumbed vm2"));
    assert!(common::ping("e2ctl-vm1", "10.2.1.8"));
    let hop = json_of(&["next-hop", "--nic", "vm1", "--dst", "10.2.1.8"]);
    assert_eq!(hop["nextHopType"], "VirtualAppliance");
    let verdict = json_of(&[
        "flow-verify",
        "--nic",
        "vm2",
        "--direction",
        "Inbound",
        "--protocol",
        "TCP",
        "--local",
        "10.2.1.8:23",
        "--remote",
        "10.1.1.4:5000",
    ]);
    assert_eq!(verdict["ruleName"], "securityRules/deny-telnet");
    // SIGHUP reloads the file the lab was started with.
    signal(&child, libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while json_of(&["stats"])["generation"] != 3 {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(common::ping("e2ctl-vm1", "10.2.1.4"));
    signal(&child, libc::SIGTERM);
    assert!(wait_exit(&mut child).success());
    assert_eq!(namespaces_with("e2ctl"), Vec::<String>::new());
}

#[test]
fn the_cli_names_what_went_wrong_against_a_running_lab() {
    common::require_root();
    let _serial = serial();
    let config = write_config("e2msg");
    let mut child = start(&[config.to_str().unwrap()]);
    let as_nobody = |args: &[&str]| {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_vnetd"))
            .args(args)
            .env("VNETD_SOCKET", socket())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The socket is root's: an unprivileged user is told so, not that no
    // lab runs.
    let (code, stderr) = as_nobody(&["stats"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "permission denied on the control socket {}",
            socket().display()
        )),
        "{stderr}"
    );
    // `down` says what it would do.
    let (code, stderr) = as_nobody(&["down", config.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "vnetd down removes network namespaces: it needs root (CAP_NET_ADMIN)\n"
    );
    // An unknown NIC is refused, as the other commands refuse it.
    let out = vnetd().args(["flows", "--nic", "nosuch"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("no NIC named `nosuch` in "), "{stderr}");
    // So is an unknown load balancer, naming those there are.
    let out = vnetd()
        .args(["lb", "show", "--lb", "nosuch", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("no load balancer named `nosuch` in ")
            && stderr.trim_end().ends_with("(load balancers: none)"),
        "{stderr}"
    );
    // A reader that goes away (`vnetd stats | head -1`) ends it quietly.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = vnetd().arg("stats").stdout(writer).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(
        namespaces_with("e2msg").len(),
        common::with_fabric(HUB_SPOKE_NAMESPACES)
    );
    common::stop_lab(&mut child);
    std::fs::remove_file(&config).unwrap();
}

/// A namespace the test made, removed when the test ends or panics.
struct MadeNamespace(&'static str);

impl Drop for MadeNamespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", self.0]).status();
    }
}

#[test]
fn run_in_a_mount_namespace_of_its_own_says_so() {
    common::require_root();
    let _serial = serial();
    let host = MadeNamespace("vnetd-e2mnt-host");
    assert!(Command::new("ip")
        .args(["netns", "add", host.0])
        .status()
        .unwrap()
        .success());
    let config = write_config("e2mnt");
    // `ip netns exec` gives the daemon a mount namespace of its own.
    let mut run = Command::new("ip");
    run.args(["netns", "exec", host.0])
        .arg(env!("CARGO_BIN_EXE_vnetd"))
        .arg("run")
        .arg(&config)
        .env("VNETD_SOCKET", socket());
    let (mut child, _) = common::spawn_lab(run, "");
    signal(&child, libc::SIGTERM);
    assert!(wait_exit(&mut child).success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("runs in a mount namespace of its own")
            && stderr.contains("nsenter --net=/run/netns/NAME vnetd run FILE"),
        "{stderr}"
    );
    assert_eq!(namespaces_with("e2mnt"), Vec::<String>::new());
    // Run as users are told to, it says nothing of the kind.
    let mut run = Command::new("nsenter");
    run.arg(format!("--net=/run/netns/{}", host.0))
        .arg(env!("CARGO_BIN_EXE_vnetd"))
        .arg("run")
        .arg(&config)
        .env("VNETD_SOCKET", socket());
    let (mut child, _) = common::spawn_lab(run, "");
    assert!(common::ping("e2mnt-vm1", "10.2.1.4"));
    signal(&child, libc::SIGTERM);
    assert!(wait_exit(&mut child).success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!stderr.contains("mount namespace of its own"), "{stderr}");
}
