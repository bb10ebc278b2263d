//! Azure's speeds, delays and MTUs in a running lab, with real tools:
//! `ping` across a global peering takes the published round trip (never
//! less) and within a region nothing is added; `iperf3` from a VM of a
//! documented size never goes above the size's bandwidth, and two NICs of
//! one VM share it; a VpnGw1 gateway carries no more than its SKU's
//! aggregate, and TCP through its tunnel keeps to the tunnel's MTU
//! (`tcpdump` on the branch host sees every SYN clamped to MSS 1350); a
//! packet larger
//! than its path is dropped and counted (IPv4 with DF, IPv6) or
//! fragmented (IPv4 without DF), as the book's "Azure behaviour" says.
//!
//! Only what holds on any machine is asserted: a delay never below its
//! figure and a rate never above its cap, with generous bounds on the
//! other side. The measurements themselves are in BENCHMARKS.md and
//! `benchmarks/azure-figures.md`.

use crate::common;

use common::traffic::median;
use common::{in_netns, iperf3_server, ping, wait_for, Lab};
use std::process::Command;
use std::time::Duration;

/// Two regions, dual-stack, NICs of MTU 9000 (Azure's largest): one in
/// West Europe beside a second NIC, one in East US.
fn regions_lab(prefix: &str) -> String {
    format!(
        "
vnets:
  - name: weu
    address_space: [10.10.0.0/16, \"fd00:10::/48\"]
    location: westeurope
    subnets:
      - {{name: default, address_prefixes: [10.10.1.0/24, \"fd00:10:0:1::/64\"]}}
  - name: eus
    address_space: [10.20.0.0/16, \"fd00:20::/48\"]
    location: eastus
    subnets:
      - {{name: default, address_prefixes: [10.20.1.0/24, \"fd00:20:0:1::/64\"]}}
peerings:
  - {{name: weu-to-eus, virtual_network: weu, remote_virtual_network: eus}}
  - {{name: eus-to-weu, virtual_network: eus, remote_virtual_network: weu}}
network_interfaces:
  - name: weu-vm
    subnet: weu/default
    netns: {prefix}-weu-vm
    mtu: 9000
    ip_configurations:
      - {{name: v4, private_ip_address: 10.10.1.4}}
      - {{name: v6, private_ip_address: \"fd00:10:0:1::4\"}}
  - {{name: weu-vm2, subnet: weu/default, private_ip_address: 10.10.1.5, mtu: 9000, netns: {prefix}-weu-vm2}}
  - name: eus-vm
    subnet: eus/default
    netns: {prefix}-eus-vm
    mtu: 9000
    ip_configurations:
      - {{name: v4, private_ip_address: 10.20.1.4}}
      - {{name: v6, private_ip_address: \"fd00:20:0:1::4\"}}
"
    )
}

/// The round trips `ping` measured, in milliseconds.
fn round_trips(ns: &str, dst: &str, count: u32) -> Vec<f64> {
    common::traffic::round_trips(ns, dst, count, "0.05")
}

/// `ping` with a payload of `size` bytes and the DF policy `df` (`do`,
/// `dont`): how many of `count` came back.
fn big_pings(ns: &str, dst: &str, size: u32, df: &str, count: u32) -> usize {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "ping", "-n", "-c", &count.to_string()])
        .args([
            "-i",
            "0.2",
            "-W",
            "1",
            "-M",
            df,
            "-s",
            &size.to_string(),
            dst,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("time="))
        .count()
}

fn too_big(lab: &Lab, nic: &str) -> u64 {
    lab.stats(nic).drops.get("too_big").copied().unwrap_or(0)
}

#[test]
fn a_global_peering_takes_the_published_round_trip_and_a_region_adds_nothing() {
    let lab = Lab::start_exact("shrtt", &regions_lab("shrtt"));
    let (weu, eus) = (lab.ns("weu-vm"), "10.20.1.4");
    assert!(
        wait_for(Duration::from_secs(10), || ping(&weu, eus)),
        "West Europe reaches East US"
    );
    // Published: 85 ms West Europe to East US, 83 ms back; a ping takes
    // half of each.
    let published = (85.0 + 83.0) / 2.0;
    let rtt = median(round_trips(&weu, eus, 30));
    assert!(
        rtt >= published,
        "median {rtt} ms is below the published {published} ms"
    );
    assert!(
        rtt <= published * 1.5,
        "median {rtt} ms is far above {published} ms"
    );
    let every = round_trips(&weu, eus, 10);
    assert!(every.iter().all(|ms| *ms >= published), "{every:?}");
    // Within West Europe: nothing added.
    let local = median(round_trips(&weu, "10.10.1.5", 30));
    assert!(local < 10.0, "median {local} ms inside one region");
}

#[test]
fn a_packet_larger_than_its_path_is_dropped_with_df_or_ipv6_and_fragmented_without_df() {
    let lab = Lab::start_exact("shmtu", &regions_lab("shmtu"));
    let weu = lab.ns("weu-vm");
    assert!(wait_for(Duration::from_secs(10), || ping(
        &weu,
        "10.20.1.4"
    )));
    // 1600-byte packets: the NICs take 9000, the global peering 1500.
    assert_eq!(
        big_pings(&weu, "10.10.1.5", 1572, "do", 3),
        3,
        "inside the VNet"
    );
    let before = too_big(&lab, "weu-vm");
    assert_eq!(
        big_pings(&weu, "10.20.1.4", 1572, "do", 3),
        0,
        "DF across the peering"
    );
    assert_eq!(
        too_big(&lab, "weu-vm") - before,
        3,
        "each counted at the sender"
    );
    assert_eq!(
        big_pings(&weu, "10.20.1.4", 1572, "dont", 3),
        3,
        "fragmented without DF"
    );
    // IPv6 is never fragmented on the way.
    assert!(wait_for(Duration::from_secs(10), || ping(
        &weu,
        "fd00:20:0:1::4"
    )));
    let before = too_big(&lab, "weu-vm");
    assert_eq!(
        big_pings(&weu, "fd00:20:0:1::4", 1552, "do", 3),
        0,
        "IPv6 across the peering"
    );
    assert_eq!(too_big(&lab, "weu-vm") - before, 3);
    // What fits the path passes.
    assert_eq!(big_pings(&weu, "10.20.1.4", 1472, "do", 3), 3);
}

/// The migration guide's three regions in a full mesh: West US, West
/// Europe and West India, which Azure's latency page does not list.
fn three_regions(prefix: &str) -> String {
    let mut text = String::from("vnets:\n");
    let regions = [
        ("sea", "westus", 1),
        ("lon", "westeurope", 2),
        ("mum", "westindia", 3),
    ];
    for (name, location, n) in regions {
        text.push_str(&format!(
            "  - name: {name}\n    address_space: [10.{n}.0.0/16]\n    location: {location}\n    subnets:\n      - {{name: default, address_prefixes: [10.{n}.1.0/24]}}\n"
        ));
    }
    text.push_str("peerings:\n");
    for (a, _, _) in regions {
        for (b, _, _) in regions {
            if a != b {
                text.push_str(&format!(
                    "  - {{name: {a}-{b}, virtual_network: {a}, remote_virtual_network: {b}}}\n"
                ));
            }
        }
    }
    text.push_str("network_interfaces:\n");
    for (name, _, n) in regions {
        text.push_str(&format!(
            "  - {{name: {name}-vm, subnet: {name}/default, private_ip_address: 10.{n}.1.4, netns: {prefix}-{name}-vm}}\n"
        ));
    }
    text
}

#[test]
fn a_three_region_mesh_without_published_figures_runs_on_the_estimate() {
    use vnetd::topology::catalog::round_trips::{fit, round_trip};
    let prefix = "shmesh";
    let text = three_regions(prefix);
    // Valid with warnings: one per link that takes an estimate.
    let loaded = vnetd::topology::parse_str("mesh.yaml", &text).unwrap();
    let estimated: Vec<&str> = loaded
        .warnings
        .iter()
        .filter(|w| w.message.contains("vnetd estimates"))
        .map(|w| w.key.as_str())
        .collect();
    assert_eq!(
        estimated,
        [
            "peerings[sea-mum]",
            "peerings[lon-mum]",
            "peerings[mum-sea]",
            "peerings[mum-lon]"
        ],
        "{:?}",
        loaded.warnings
    );
    let lab = Lab::start_exact(prefix, &text);
    let vms = [
        ("sea", "westus", "10.1.1.4"),
        ("lon", "westeurope", "10.2.1.4"),
        ("mum", "westindia", "10.3.1.4"),
    ];
    for (from, from_region, _) in vms {
        for (to, to_region, address) in vms {
            if from == to {
                continue;
            }
            let ns = lab.ns(&format!("{from}-vm"));
            assert!(
                wait_for(Duration::from_secs(10), || !round_trips(&ns, address, 1)
                    .is_empty()),
                "{from} reaches {to}"
            );
            // A ping takes half of each direction's figure.
            let there = round_trip(from_region, to_region).unwrap();
            let back = round_trip(to_region, from_region).unwrap();
            assert_eq!(there.estimated, to == "mum" || from == "mum");
            let figure = f64::from(there.us + back.us) / 2.0 / 1000.0;
            let rtt = median(round_trips(&ns, address, 10));
            assert!(
                (rtt - figure).abs() <= fit().median_error_ms,
                "{from} -> {to}: median {rtt} ms, the lab's figure {figure} ms (stated error {} ms)",
                fit().median_error_ms
            );
            assert!(rtt >= figure, "{from} -> {to}: {rtt} ms below {figure} ms");
        }
    }
}

/// One VNet: a single-NIC VM of Standard_D2s_v3 (1000 Mbps), a VM of the
/// same size with two NICs, and a NIC of no VM.
fn sizes_lab(prefix: &str) -> String {
    format!(
        "
vnets:
  - name: app
    address_space: [10.1.0.0/16]
    location: westeurope
    subnets:
      - {{name: web, address_prefixes: [10.1.1.0/24]}}
network_interfaces:
  - {{name: small, subnet: app/web, private_ip_address: 10.1.1.4, netns: {prefix}-small}}
  - {{name: sink, subnet: app/web, private_ip_address: 10.1.1.5, netns: {prefix}-sink}}
  - {{name: twin-a, subnet: app/web, private_ip_address: 10.1.1.6, netns: {prefix}-twin-a}}
  - {{name: twin-b, subnet: app/web, private_ip_address: 10.1.1.7, netns: {prefix}-twin-b}}
virtual_machines:
  - {{name: small, size: Standard_D2s_v3, network_interfaces: [small]}}
  - {{name: twins, size: Standard_D2s_v3, network_interfaces: [twin-a, twin-b]}}
"
    )
}

/// `iperf3 -c` for `secs` seconds from `ns` to `dst:port`: what the
/// receiver got, in bits per second.
fn iperf3_rate(ns: &str, dst: &str, port: u16, secs: u32) -> f64 {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "iperf3",
            "-c",
            dst,
            "-p",
            &port.to_string(),
        ])
        .args(["-t", &secs.to_string(), "-J"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("iperf3: {}", String::from_utf8_lossy(&out.stdout)));
    report["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or_else(|| panic!("iperf3 measured nothing: {report}"))
}

fn iperf3_server_on(ns: &str, address: &str, port: u16) -> common::Killed {
    let child = Command::new("ip")
        .args(["netns", "exec", ns, "iperf3", "-s", "-1", "-B", address])
        .args(["-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("iperf3 is installed (.ci/run installs it)");
    let server = common::Killed(child);
    let listening = wait_for(Duration::from_secs(10), || {
        in_netns(ns, &["ss", "-Hltn"]).contains(&format!("{address}:{port}"))
    });
    assert!(
        listening,
        "iperf3 -s never listened at {address}:{port} in {ns}"
    );
    server
}

/// What the two NICs of VM `twins` send to `sink` at once, each for 3 s,
/// in bits per second.
fn twins_rates(lab: &Lab) -> (f64, f64) {
    let sink = lab.ns("sink");
    let _a = iperf3_server_on(&sink, "10.1.1.5", 5301);
    let _b = iperf3_server_on(&sink, "10.1.1.5", 5302);
    let (twin_a, twin_b) = (lab.ns("twin-a"), lab.ns("twin-b"));
    let first = std::thread::spawn(move || iperf3_rate(&twin_a, "10.1.1.5", 5301, 3));
    let second = iperf3_rate(&twin_b, "10.1.1.5", 5302, 3);
    (first.join().unwrap(), second)
}

/// The cap with room for a token bucket's first burst and iperf3's own
/// rounding.
const D2S_V3_CEILING: f64 = 1_000e6 * 1.05;

#[test]
fn a_vm_sends_no_faster_than_its_size_and_its_nics_share_it() {
    let lab = Lab::start_exact("shsize", &sizes_lab("shsize"));
    let (small, sink) = (lab.ns("small"), lab.ns("sink"));
    assert!(wait_for(Duration::from_secs(10), || ping(
        &small, "10.1.1.5"
    )));
    // The single NIC's eth0 carries the limit; the other NICs' do not.
    let qdisc = in_netns(&small, &["tc", "qdisc", "show", "dev", "eth0"]);
    assert!(
        qdisc.contains("tbf") && qdisc.contains("rate 1Gbit"),
        "{qdisc}"
    );
    let open = in_netns(&sink, &["tc", "qdisc", "show", "dev", "eth0"]);
    assert!(!open.contains("tbf"), "ingress is not limited: {open}");
    let _server = iperf3_server(&sink, "10.1.1.5");
    let rate = iperf3_rate(&small, "10.1.1.5", 5201, 3);
    assert!(rate <= D2S_V3_CEILING, "{rate} bit/s from a 1000 Mbps VM");
    assert!(rate >= 100e6, "{rate} bit/s: far below any cap");
    // Two NICs of one VM at once: together within the size's bandwidth.
    let (first, second) = twins_rates(&lab);
    assert!(
        first + second <= D2S_V3_CEILING,
        "{first} + {second} bit/s from two NICs of one 1000 Mbps VM"
    );
    assert!(first > 0.0 && second > 0.0);
    let limits = vnetd::daemon::control::stats_of(lab.daemon())
        .shaping
        .unwrap()
        .limits;
    assert!(
        limits.contains(&"1000 Mbps: VM small (Standard_D2s_v3)".to_string()),
        "{limits:?}"
    );
    assert!(
        limits.contains(&"1000 Mbps: VM twins (Standard_D2s_v3), across its NICs".to_string()),
        "{limits:?}"
    );
}

/// A namespace's identity: its inode (a namespace built again has
/// another).
fn netns_inode(name: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/run/netns/{name}"))
        .unwrap()
        .ino()
}

#[test]
fn a_resized_vm_takes_its_new_size_s_rate_in_place() {
    let prefix = "shresize";
    let base = sizes_lab(prefix);
    let lab = Lab::start_exact(prefix, &base);
    let (small, sink) = (lab.ns("small"), lab.ns("sink"));
    assert!(wait_for(Duration::from_secs(10), || ping(
        &small, "10.1.1.5"
    )));
    let inode = netns_inode(&small);
    // Standard_D2s_v3 to Standard_D4s_v3: 1000 to 2000 Mbps, on the same
    // namespace.
    let bigger = base.replacen(
        "{name: small, size: Standard_D2s_v3",
        "{name: small, size: Standard_D4s_v3",
        1,
    );
    assert_ne!(bigger, base);
    let summary = lab.daemon().apply("bigger.yaml", &bigger).unwrap();
    assert_eq!(
        summary.changed,
        ["small: rate cap 1000 Mbps -> 2000 Mbps (its VM's size)"],
        "{summary:#?}"
    );
    assert!(summary.replumbed.is_empty() && summary.rebuilt.is_empty());
    assert_eq!(netns_inode(&small), inode, "the VM's namespace is kept");
    let qdisc = in_netns(&small, &["tc", "qdisc", "show", "dev", "eth0"]);
    assert!(qdisc.contains("rate 2Gbit"), "{qdisc}");
    let limits = vnetd::daemon::control::stats_of(lab.daemon())
        .shaping
        .unwrap()
        .limits;
    assert!(
        limits.contains(&"2000 Mbps: VM small (Standard_D4s_v3)".to_string()),
        "{limits:?}"
    );
    // Down to Standard_A1_v2 (250 Mbps), the single-NIC VM and the VM
    // whose two NICs share their size: what they send is measured under
    // the new cap (a ceiling, which holds on any machine).
    let smaller = bigger
        .replacen("size: Standard_D4s_v3", "size: Standard_A1_v2", 1)
        .replacen(
            "{name: twins, size: Standard_D2s_v3",
            "{name: twins, size: Standard_A1_v2",
            1,
        );
    let summary = lab.daemon().apply("smaller.yaml", &smaller).unwrap();
    assert_eq!(
        summary.changed,
        ["small: rate cap 2000 Mbps -> 250 Mbps (its VM's size)"],
        "{summary:#?}"
    );
    assert_eq!(netns_inode(&small), inode);
    const A1_V2_CEILING: f64 = 250e6 * 1.05;
    let _server = iperf3_server(&sink, "10.1.1.5");
    let rate = iperf3_rate(&small, "10.1.1.5", 5201, 3);
    assert!(rate <= A1_V2_CEILING, "{rate} bit/s from a 250 Mbps VM");
    assert!(rate > 0.0);
    let (first, second) = twins_rates(&lab);
    assert!(
        first + second <= A1_V2_CEILING,
        "{first} + {second} bit/s from two NICs of one 250 Mbps VM"
    );
}

/// The shared hybrid lab (a hub with a VpnGw1 gateway, 650 Mbps, and a
/// branch behind BIRD) with both spokes learning the branch.
fn gateway_lab(prefix: &str) -> String {
    let lab = common::hybrid::hybrid_lab(prefix, "bird", false);
    assert!(lab.contains(", route_table: spoke2-rt"));
    lab.replacen(", route_table: spoke2-rt", "", 1)
}

#[test]
fn a_vpngw1_carries_no_more_than_its_sku_and_its_tunnel_keeps_tcp_inside_its_mtu() {
    let lab = Lab::start_exact("shgw", &gateway_lab("shgw"));
    let onprem = lab.ns("onprem");
    let host = common::hybrid::BRANCH_HOST;
    for vm in ["vm1", "vm2"] {
        assert!(
            wait_for(Duration::from_secs(60), || ping(&lab.ns(vm), host)),
            "{vm} reaches the branch over BGP"
        );
    }
    let _a = iperf3_server_on(&onprem, host, 5301);
    let _b = iperf3_server_on(&onprem, host, 5302);
    // Watch the branch host for the connections' SYNs: the MSS they carry
    // bounds every segment TCP sends (the host's own receive offload may
    // show several segments as one packet, so the sizes on its eth0 do
    // not tell).
    // It listens before the first connection starts.
    let watch = common::traffic::Capture::start_detailed(&onprem, "tcp[tcpflags] == tcp-syn");
    let vm1 = lab.ns("vm1");
    let first = std::thread::spawn(move || iperf3_rate(&vm1, host, 5301, 3));
    let second = iperf3_rate(&lab.ns("vm2"), host, 5302, 3);
    let first = first.join().unwrap();
    assert!(
        first + second <= 650e6 * 1.05,
        "{first} + {second} bit/s through a VpnGw1 (650 Mbps)"
    );
    assert!(
        first >= 10e6 && second >= 10e6,
        "{first}, {second}: both flows moved"
    );
    let out = watch.count().join("\n");
    let syns: Vec<&str> = out.lines().filter(|l| l.contains("Flags [S]")).collect();
    assert!(
        syns.len() >= 2,
        "the branch saw the connections' SYNs:\n{out}"
    );
    for syn in &syns {
        assert!(
            syn.contains("mss 1350,"),
            "a SYN crossed the tunnel unclamped (MTU 1400 takes MSS 1350):\n{out}"
        );
    }
    for vm in ["vm1", "vm2"] {
        assert_eq!(
            lab.stats(vm).drops.get("too_big"),
            None,
            "{vm}: TCP kept inside the MTU"
        );
    }
}

/// A flow keeps its order through a shaped path: a paced UDP stream
/// (`iperf3 -u`, well below the cap) from a spoke VM through a VpnGw1
/// gateway to a branch host, with shaping on, arrives with no datagram out
/// of order by iperf3's own count, with the kernel fast path on and off.
/// The flow's packets cross the fabric several times (into the gateway's
/// namespace and out of it), and the workers that carry them hold them in
/// delay lines: a later datagram must never leave before an earlier one,
/// whether only those queued behind the gateway's cap wait (the branch at
/// no distance) or all of them do (the branch 5 ms away).
///
/// Nothing here depends on timing or throughput: the stream is slow
/// enough for any machine, and only the order is asserted.
mod flow_order {
    use super::common::hybrid::{hybrid_lab, BRANCH_HOST};
    use super::common::{in_netns, ping, wait_for, Killed, Lab};
    use std::io::Read;
    use std::process::{Command, Stdio};
    use std::time::Duration;
    use vnetd::daemon::options::RunOptions;
    use vnetd::daemon::reporting::report::stats_of;

    /// `iperf3 -u` from `ns` to `dst` at `rate` for `secs` seconds, with a
    /// one-off server in `server_ns` reporting in JSON: the receiver's summary
    /// of the stream (`end.streams[0].udp`, where iperf3 counts what arrived out of
    /// order). The server is killed if anything fails on the way.
    fn udp_stream(
        ns: &str,
        server_ns: &str,
        dst: &str,
        rate: &str,
        secs: u32,
    ) -> serde_json::Value {
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
    fn a_paced_stream_through_a_gateway_keeps_its_order(
        prefix: &str,
        offload: bool,
        latency_ms: u32,
    ) {
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
}
