//! A flow keeps its order through a shaped path: a paced UDP stream
//! (`iperf3 -u`, well below the cap) from a spoke VM through a VpnGw1
//! gateway to a branch host, with shaping on, arrives with no datagram out
//! of order by iperf3's own count, with the kernel fast path on and off.
//! The flow's packets cross the fabric several times (into the gateway's
//! namespace and out of it), and the workers that carry them hold them in
//! delay lines: a later datagram must never leave before an earlier one,
//! whether only those queued behind the gateway's cap wait (the branch at
//! no distance) or all of them do (the branch 5 ms away).
//!
//! Nothing here depends on timing or throughput: the stream is slow
//! enough for any machine, and only the order is asserted.

mod common;

use common::hybrid::{hybrid_lab, BRANCH_HOST};
use common::{in_netns, ping, wait_for, Killed, Lab};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;
use vnetd::daemon::options::RunOptions;
use vnetd::daemon::report::stats_of;

/// `iperf3 -u` from `ns` to `dst` at `rate` for `secs` seconds, with a
/// one-off server in `server_ns` reporting in JSON: the receiver's summary
/// of the stream (`end.streams[0].udp`, where iperf3 counts what arrived out of
/// order). The server is killed if anything fails on the way.
fn udp_stream(ns: &str, server_ns: &str, dst: &str, rate: &str, secs: u32) -> serde_json::Value {
    let server = Command::new("ip")
        .args(["netns", "exec", server_ns, "timeout", "60"])
        .args(["iperf3", "-s", "-1", "-J", "-B", dst])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("iperf3 is installed (.ci/run installs it)");
    let mut server = Killed(server);
    let listening = wait_for(Duration::from_secs(10), || {
        in_netns(server_ns, &["ss", "-Hltn"]).contains(&format!("{dst}:5201"))
    });
    assert!(
        listening,
        "iperf3 -s never listened at {dst} in {server_ns}"
    );
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "iperf3", "-u", "-c", dst])
        .args(["-b", rate, "-l", "1200", "-t", &secs.to_string(), "-J"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "iperf3 -u failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A one-off server ends with its test (`timeout` bounds it).
    let mut report = String::new();
    server
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut report)
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&report)
        .unwrap_or_else(|_| panic!("iperf3 -s wrote no JSON: {report}"));
    report["end"]["streams"][0]["udp"].clone()
}

fn count(summary: &serde_json::Value, key: &str) -> u64 {
    summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in iperf3's summary: {summary}"))
}

/// Runs the hybrid lab with its branch `latency_ms` away and `offload` as
/// asked, streams UDP at 20 Mbit/s (3 % of a VpnGw1's 650 Mbps) from vm1
/// to the branch host, and asserts that not one datagram arrived out of
/// order. Without a delay, only the datagrams queued behind the gateway's
/// cap wait in a delay line, and the next ones may go at once; with one,
/// every datagram waits.
fn a_paced_stream_through_a_gateway_keeps_its_order(prefix: &str, offload: bool, latency_ms: u32) {
    let options = RunOptions {
        offload,
        ..RunOptions::default()
    };
    let text = hybrid_lab(prefix, "bird", false);
    assert!(text.contains("  - name: branch1\n"));
    let site = format!("  - name: branch1\n    latency_ms: {latency_ms}\n");
    let text = text.replacen("  - name: branch1\n", &site, 1);
    let lab = Lab::start_with(prefix, &text, options);
    let shaping = stats_of(lab.daemon()).shaping.expect("a shaping report");
    assert!(shaping.on, "shaping is on");
    assert_eq!(
        shaping.delays.iter().any(|d| d.contains("branch1")),
        latency_ms > 0,
        "the branch's delay: {shaping:?}"
    );
    let vm1 = lab.ns("vm1");
    assert!(
        wait_for(Duration::from_secs(60), || ping(&vm1, BRANCH_HOST)),
        "vm1 reaches the branch over BGP"
    );
    let summary = udp_stream(&vm1, &lab.ns("onprem"), BRANCH_HOST, "20M", 3);
    let (packets, reordered) = (count(&summary, "packets"), count(&summary, "out_of_order"));
    assert!(packets > 0, "iperf3 sent nothing: {summary}");
    assert_eq!(
        reordered, 0,
        "{reordered} of {packets} datagrams arrived out of order: {summary}"
    );
}

#[test]
fn a_paced_udp_stream_through_a_vpn_gateway_arrives_in_order_with_the_fast_path() {
    a_paced_stream_through_a_gateway_keeps_its_order("ordon", true, 0);
}

#[test]
fn a_paced_udp_stream_through_a_vpn_gateway_arrives_in_order_without_the_fast_path() {
    a_paced_stream_through_a_gateway_keeps_its_order("ordoff", false, 0);
}

#[test]
fn a_delayed_udp_stream_through_a_vpn_gateway_arrives_in_order_with_the_fast_path() {
    a_paced_stream_through_a_gateway_keeps_its_order("orddon", true, 5);
}

#[test]
fn a_delayed_udp_stream_through_a_vpn_gateway_arrives_in_order_without_the_fast_path() {
    a_paced_stream_through_a_gateway_keeps_its_order("orddoff", false, 5);
}
