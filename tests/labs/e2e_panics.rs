//! Nothing dies silently: a panic injected into each kind of the daemon's
//! threads (through the daemon's own fault injection, `Daemon::faults`) is
//! caught, counted under its kind in `stats` (JSON and text) and the
//! metrics, and the thread comes back and does its job: every worker
//! forwards again, housekeeping still frees ended flows, the BGP watcher
//! and the prober run again, the flow-log thread writes again, and a
//! control or metrics connection that panicked frees its slot for the
//! next. Needs root (see `common::require_root`).
//!
//! Each test's namespaces start with a prefix of its own (`pn23...`), and
//! the prober's namespace is named after a VNet no other test has.

use crate::common;

use common::Lab;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::time::Duration;
use vnetd::api::{client, Request, StatsReport};
use vnetd::daemon::control;
use vnetd::daemon::options::FlowLogOptions;

use vnetd::daemon::threads::ThreadKind;
use vnetd::daemon::{Daemon, RunOptions};

const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");

/// Polls `done` every 20 ms until it holds; fails after `secs` seconds.
fn wait_for(what: &str, secs: u64, done: impl FnMut() -> bool) {
    assert!(
        common::wait_for(Duration::from_secs(secs), done),
        "{what}: not within {secs} s"
    );
}

/// Waits until `kind` has `n` panics counted.
fn wait_for_panics(daemon: &Daemon, kind: ThreadKind, n: u64) {
    wait_for(&format!("{n} {} panics counted", kind.as_str()), 10, || {
        daemon.thread_panics().count(kind) >= n
    });
    assert_eq!(daemon.thread_panics().count(kind), n, "{}", kind.as_str());
    assert!(!daemon.faults().panic_armed(kind));
}

/// Every kind of thread with its count: `panicked`, 0 for the others.
fn expected_panics(panicked: &[(ThreadKind, u64)]) -> BTreeMap<String, u64> {
    ThreadKind::ALL
        .iter()
        .map(|&kind| {
            let n = panicked
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or(0, |(_, n)| *n);
            (kind.as_str().to_string(), n)
        })
        .collect()
}

/// The daemon reports exactly `panicked` (and no panic of any other kind)
/// in `stats --json`, in the text of `stats` and in the metrics.
fn assert_reported(daemon: &Daemon, panicked: &[(ThreadKind, u64)]) {
    let expected = expected_panics(panicked);
    let reply = common::printed(&control::answer(daemon, Request::Stats), true);
    assert_eq!(reply.code, 0, "{}", reply.stderr);
    let report: StatsReport = serde_json::from_str(&reply.stdout).unwrap();
    assert_eq!(report.thread_panics, expected);

    let text = common::printed(&control::answer(daemon, Request::Stats), false).stdout;
    let counted: Vec<String> = expected
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(kind, n)| format!("{kind}={n}"))
        .collect();
    let line = text
        .lines()
        .find(|l| l.starts_with("thread panics: "))
        .unwrap_or_else(|| panic!("no panic line in\n{text}"));
    assert!(
        line.starts_with(&format!("thread panics: {} (", counted.join(" "))),
        "{line}"
    );

    let metrics = vnetd::daemon::reporting::metrics::render(
        &vnetd::daemon::reporting::report::stats_of(daemon),
    );
    for (kind, n) in &expected {
        let series = format!("vnetd_thread_panics_total{{thread=\"{kind}\"}} {n}\n");
        assert!(metrics.contains(&series), "no {series} in\n{metrics}");
    }
}

/// Packets each worker delivered to `nic`, by worker.
fn delivered_by_worker(daemon: &Daemon, nic: &str) -> Vec<u64> {
    daemon
        .nic_stats_by_worker(nic)
        .unwrap()
        .iter()
        .map(|s| s.packets_received)
        .collect()
}

#[test]
fn a_worker_that_panics_comes_back_and_every_queue_forwards_again() {
    let prefix = "pn23w";
    let lab = Lab::start(prefix, HUB_SPOKE);
    let daemon = lab.daemon();
    assert!(common::ping(&lab.ns("vm1"), "10.0.2.4"), "before the panic");
    assert_eq!(daemon.thread_panics().count(ThreadKind::Worker), 0);

    // A worker passes its check point at every wake-up (at least every
    // 100 ms): one of the two panics.
    daemon.faults().arm_panic(ThreadKind::Worker);
    wait_for_panics(daemon, ThreadKind::Worker, 1);
    assert_eq!(daemon.worker_restarts(), 1);
    assert_reported(daemon, &[(ThreadKind::Worker, 1)]);

    // Both queues forward again. The kernel puts each flow on a queue by
    // its hash, so TCP flows from vm1 to shared1, each to a port of its
    // own, reach both workers: each must deliver some, and every echo
    // must come back (a flow on a dead queue would not).
    let before = delivered_by_worker(daemon, "shared1");
    assert_eq!(before.len(), 2);
    let mut flows = 0;
    loop {
        let now = delivered_by_worker(daemon, "shared1");
        if now.iter().zip(&before).all(|(now, before)| now > before) {
            break;
        }
        assert!(
            flows < 64,
            "after {flows} flows, delivered by worker: {before:?} then {now:?}"
        );
        let server = SocketAddr::from(([10, 0, 2, 4], 7200 + flows));
        assert!(
            common::tcp_echo(&lab.ns("vm1"), &lab.ns("shared1"), server),
            "TCP to {server} after the panic"
        );
        flows += 1;
    }
    assert_eq!(daemon.thread_panics().count(ThreadKind::Worker), 1);
    assert_eq!(daemon.worker_restarts(), 1);
}

#[test]
fn housekeeping_and_the_bgp_watcher_come_back_after_a_panic() {
    let prefix = "pn23h";
    let lab = Lab::start(prefix, HUB_SPOKE);
    let daemon = lab.daemon();

    daemon.faults().arm_panic(ThreadKind::Housekeeping);
    wait_for_panics(daemon, ThreadKind::Housekeeping, 1);
    // Housekeeping still frees ended flows: a TCP exchange that closed
    // stays in the table until a sweep frees it, about five seconds after
    // its FIN (nothing on the packet path frees a flow nobody sends on).
    assert_eq!(daemon.flows().len(), 0);
    let server: SocketAddr = "10.0.2.4:7300".parse().unwrap();
    assert!(common::tcp_echo(&lab.ns("vm1"), &lab.ns("shared1"), server));
    // Tracked at each end: vm1's outbound flow, shared1's inbound one.
    assert_eq!(daemon.flows().len(), 2);
    wait_for("the closed flow freed by housekeeping", 30, || {
        daemon.flows().is_empty()
    });

    // The watcher runs its loop again after its panic: a second armed
    // panic is taken by the restarted loop.
    daemon.faults().arm_panic(ThreadKind::BgpWatcher);
    wait_for_panics(daemon, ThreadKind::BgpWatcher, 1);
    daemon.faults().arm_panic(ThreadKind::BgpWatcher);
    wait_for_panics(daemon, ThreadKind::BgpWatcher, 2);
    assert_reported(
        daemon,
        &[(ThreadKind::Housekeeping, 1), (ThreadKind::BgpWatcher, 2)],
    );
    assert_eq!(daemon.worker_restarts(), 0);
}

/// One `request` to the metrics endpoint at `addr`, and all it answered.
fn scrape(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8(answer).unwrap()
}

#[test]
fn connections_whose_handler_panics_free_their_slot_and_the_next_is_answered() {
    let prefix = "pn23c";
    let mut lab = Lab::start(prefix, HUB_SPOKE);
    let socket = lab.serve_control();
    let daemon = lab.daemon();

    // The control connection that panics gets no reply...
    daemon.faults().arm_panic(ThreadKind::Control);
    let broken = client::request(&socket, &Request::Stats);
    assert!(broken.is_err(), "{broken:?}");
    // ...and its slot is free once its panic is counted.
    wait_for_panics(daemon, ThreadKind::Control, 1);
    assert_eq!(lab.control().connections(), 0);
    // The next request is answered, as the command line asks it.
    let out = common::vnetd_command(&socket)
        .arg("stats")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("\nthread panics: control=1 ("), "{text}");

    // The same for a scrape of the metrics endpoint (port 0: the kernel
    // picks a free one).
    let (metrics, request) = lab.serve_metrics();
    daemon.faults().arm_panic(ThreadKind::Metrics);
    assert_eq!(scrape(metrics.local_addr(), &request), "");
    wait_for_panics(daemon, ThreadKind::Metrics, 1);
    assert_eq!(metrics.connections(), 0);
    let answer = scrape(metrics.local_addr(), &request);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.contains("\nvnetd_thread_panics_total{thread=\"metrics\"} 1\n"),
        "{answer}"
    );
    assert!(answer.contains("\nvnetd_thread_panics_total{thread=\"control\"} 1\n"));
    assert_reported(
        daemon,
        &[(ThreadKind::Control, 1), (ThreadKind::Metrics, 1)],
    );
}

/// VNet `pn23app` whose subnet's NSG denies UDP 9 inbound, with `web1`
/// behind load balancer `ilb` (probe TCP 80 every 5 s; nothing listens,
/// so every probe fails) and a `client`.
const PROBED: &str = "\
vnets:
  - name: pn23app
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - name: web
        address_prefixes: [10.0.1.0/24]
        network_security_group: pn23-nsg
network_security_groups:
  - name: pn23-nsg
    security_rules:
      - {name: deny-discard, priority: 100, direction: Inbound, access: Deny, protocol: Udp,
         source_port_range: '*', destination_port_range: '9', source_address_prefix: '*',
         destination_address_prefix: '*'}
network_interfaces:
  - name: web1
    subnet: pn23app/web
    private_ip_address: 10.0.1.4
  - name: client
    subnet: pn23app/web
    private_ip_address: 10.0.1.6
";

const ILB: &str = "\
load_balancers:
  - name: ilb
    frontend_ip_configurations:
      - {name: fe, subnet: pn23app/web, private_ip_address: 10.0.1.100}
    backend_address_pools:
      - {name: web, network_interfaces: [web1]}
    probes:
      - {name: health, protocol: Tcp, port: 80, interval_in_seconds: 5, probe_threshold: 1}
    rules:
      - {name: http, frontend_ip_configuration: fe, backend_address_pool: web, probe: health,
         protocol: Tcp, frontend_port: 80, backend_port: 80}
";

/// Failed probes of `nic` in a row, as the prober's book has them.
fn failures(daemon: &Daemon, nic: &str) -> u32 {
    daemon
        .lb_backends()
        .iter()
        .find(|(target, _)| target.nic == nic)
        .map_or(0, |(_, state)| state.consecutive_failures)
}

/// The text of every file below `dir`.
fn texts_below(dir: &Path) -> String {
    let mut out = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.push_str(&texts_below(&path));
        } else {
            out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
    out
}

#[test]
fn the_prober_and_the_flow_log_thread_come_back_after_a_panic() {
    let prefix = "pn23p";
    let logs = tempfile::tempdir().unwrap();
    let text = format!("{}{ILB}", common::with_netns_prefix(PROBED, prefix));
    let lab = Lab::start_with(
        prefix,
        &text,
        RunOptions {
            flow_log: Some(FlowLogOptions {
                dir: logs.path().to_path_buf(),
                interval: Duration::from_secs(1),
            }),
            ..RunOptions::default()
        },
    );
    let daemon = lab.daemon();
    wait_for("web1's first probe failing", 20, || {
        failures(daemon, "web1") >= 1
    });

    daemon.faults().arm_panic(ThreadKind::Prober);
    daemon.faults().arm_panic(ThreadKind::FlowLog);
    wait_for_panics(daemon, ThreadKind::Prober, 1);
    wait_for_panics(daemon, ThreadKind::FlowLog, 1);

    // The flow-log thread writes again: a datagram the NSG denies after
    // its panic is logged as a deny.
    let client =
        vnetd::host::netns::run_in(&lab.ns("client"), || Ok(UdpSocket::bind("10.0.1.6:0")?))
            .unwrap();
    let port = client.local_addr().unwrap().port();
    client.send_to(b"discard me", "10.0.1.4:9").unwrap();
    let tuple = format!(",10.0.1.6,10.0.1.4,{port},9,U,I,D,B,,,,");
    wait_for("the deny in the flow logs", 20, || {
        texts_below(logs.path()).contains(&tuple)
    });
    assert!(daemon.nic_stats("web1").unwrap().drops["nsg_inbound"] >= 1);

    // The prober probes again: two more answers taken in after its panic,
    // the second from a probe started after the restart (a target has one
    // probe in flight at most).
    let seen = failures(daemon, "web1");
    wait_for("two probes of web1 after the panic", 20, || {
        failures(daemon, "web1") >= seen + 2
    });
    assert_reported(daemon, &[(ThreadKind::Prober, 1), (ThreadKind::FlowLog, 1)]);
}
