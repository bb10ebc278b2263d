//! Global Reach at Microsoft's edge, end to end, as root: two datacenters
//! on circuits of their own, joined by Global Reach, and no VNet gateway
//! anywhere in the file. dc1's customer edge is the BIRD vnetd writes; dc2's
//! is the user's own BIRD (`bgp_speaker: none`), configured as for a real
//! circuit: a session to Microsoft's address of each /30, remote AS 12076.
//! Each learns the other's range over BGP from ASN 12076, pings cross
//! customer edge, edge router, edge router, customer edge, and an apply
//! without the link cuts the datacenters apart.
//!
//! With circuits that take time (`latency_ms`), a ping between the
//! datacenters takes both circuits' delay each way, as `trace` adds it up;
//! and `check` and `verify` find the same for on-premises sources with
//! the link and without it (where the datacenter's router has no route,
//! and the packet never leaves it).

use crate::common;

use common::check_agreement::assert_verify_agrees_with_check;
use common::{in_netns, ping, wait_for, Lab};
use std::process::Command;
use std::time::Duration;
use vnetd::diagnostics;

const DC1_HOST: &str = "172.20.1.10";
const DC2_HOST: &str = "172.21.1.10";

/// The Global Reach link between the two circuits, when `reach`.
fn reach_link(reach: bool) -> &'static str {
    if reach {
        "express_route_circuit_connections:\n  - {name: dc1-dc2, circuit: dc1-circuit, peer_circuit: dc2-circuit, address_prefix_ipv4: 192.168.8.0/29}\n"
    } else {
        ""
    }
}

/// A hub VNet with one VM and no gateway, and two datacenters on
/// circuits: dc1's router runs vnetd's BIRD, dc2's `dc2_speaker`; each
/// circuit takes `latencies` (ms, one way, or the location's own when
/// `None`) to its peering location; then `tail` (a Global Reach link,
/// expectations).
fn datacenters(
    prefix: &str,
    dc2_speaker: &str,
    latencies: Option<(u32, u32)>,
    tail: &str,
) -> String {
    let latency =
        |ms: Option<u32>| ms.map_or(String::new(), |ms| format!("\n    latency_ms: {ms}"));
    let (first, second) = (
        latency(latencies.map(|l| l.0)),
        latency(latencies.map(|l| l.1)),
    );
    format!(
        "
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - {{name: default, address_prefixes: [10.0.1.0/24]}}
network_interfaces:
  - {{name: vm, subnet: hub/default, private_ip_address: 10.0.1.4, netns: {prefix}-vm}}
on_premises_sites:
  - name: dc1
    address_space: [172.20.0.0/16]
    router: {{netns: {prefix}-dc1, asn: 65020, bgp_speaker: bird}}
    hosts:
      - {{name: dc1-host, private_ip_address: {DC1_HOST}, netns: {prefix}-dc1-host}}
  - name: dc2
    address_space: [172.21.0.0/16]
    router: {{netns: {prefix}-dc2, asn: 65030, bgp_speaker: {dc2_speaker}}}
    hosts:
      - {{name: dc2-host, private_ip_address: {DC2_HOST}, netns: {prefix}-dc2-host}}
express_route_circuits:
  - name: dc1-circuit
    site: dc1
    peering_location: Amsterdam
    bandwidth_in_mbps: 1000{first}
    private_peering: {{peer_asn: 65020, primary_peer_address_prefix: 172.16.0.0/30, secondary_peer_address_prefix: 172.16.0.4/30}}
  - name: dc2-circuit
    site: dc2
    peering_location: London
    bandwidth_in_mbps: 500{second}
    private_peering: {{peer_asn: 65030, primary_peer_address_prefix: 172.16.1.0/30, secondary_peer_address_prefix: 172.16.1.4/30}}
{tail}"
    )
}

/// The two datacenters with dc2's router left to the user (no speaker of
/// vnetd's), joined by Global Reach when `reach`.
fn two_datacenters(prefix: &str, reach: bool) -> String {
    datacenters(prefix, "none", None, reach_link(reach))
}

/// dc2's own router: the user's BIRD, written as for a real circuit, not
/// by vnetd. It stops when dropped.
struct UsersBird {
    netns: String,
    dir: tempfile::TempDir,
}

impl UsersBird {
    fn start(netns: &str) -> UsersBird {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("bird.conf");
        std::fs::write(
            &conf,
            "router id 172.16.1.1;
protocol device {}
protocol direct { ipv4; interface \"msee*\"; }
protocol kernel { ipv4 { export where source = RTS_BGP; }; merge paths on; }
protocol static datacenter { ipv4; route 172.21.0.0/16 unreachable; }
protocol bgp link_primary {
  local 172.16.1.1 as 65030;
  neighbor 172.16.1.2 as 12076;
  ipv4 { import all; export where proto = \"datacenter\"; };
}
protocol bgp link_secondary {
  local 172.16.1.5 as 65030;
  neighbor 172.16.1.6 as 12076;
  ipv4 { import all; export where proto = \"datacenter\"; };
}
",
        )
        .unwrap();
        let bird = UsersBird {
            netns: netns.to_string(),
            dir,
        };
        let status = Command::new("ip")
            .args(["netns", "exec", netns, "bird", "-c"])
            .arg(&conf)
            .arg("-s")
            .arg(bird.socket())
            .arg("-P")
            .arg(bird.dir.path().join("bird.pid"))
            .status()
            .unwrap();
        assert!(status.success(), "starting the user's BIRD in {netns}");
        bird
    }

    fn socket(&self) -> std::path::PathBuf {
        self.dir.path().join("bird.ctl")
    }

    fn birdc(&self, args: &[&str]) -> String {
        let socket = self.socket();
        let mut all = vec!["birdc", "-s", socket.to_str().unwrap()];
        all.extend_from_slice(args);
        in_netns(&self.netns, &all)
    }
}

impl Drop for UsersBird {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(self.dir.path().join("bird.pid")).unwrap_or_default();
        if let Ok(pid) = pid.trim().parse::<i32>() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// The lab's trace from `from` to `to`, as `vnetd trace` answers it.
fn trace(lab: &Lab, from: &str, to: &str) -> diagnostics::trace::Trace {
    let snap = lab.daemon().snapshot();
    let query = diagnostics::trace_query(&snap, from, to, None, None).unwrap();
    diagnostics::trace::trace(&snap, &query).unwrap()
}

#[test]
fn global_reach_joins_two_circuits_without_any_vnet_gateway() {
    let prefix = "grx";
    let lab = Lab::start_exact(prefix, &two_datacenters(prefix, true));
    let users = UsersBird::start(&format!("{prefix}-dc2"));
    let (dc1_host, dc2_host) = (format!("{prefix}-dc1-host"), format!("{prefix}-dc2-host"));
    assert!(
        wait_for(Duration::from_secs(60), || ping(&dc1_host, DC2_HOST)),
        "dc1 never reached dc2 over Global Reach: {}",
        users.birdc(&["show", "protocols"])
    );
    assert!(ping(&dc2_host, DC1_HOST), "dc2 to dc1");

    // The user's router, configured as for a real circuit, has both
    // sessions up and learns dc1's range from ASN 12076 on each link (the
    // second session may come up a moment after the first carried a ping).
    let both_links = |routes: &str, first: &str, second: &str| {
        routes.contains("BGP.as_path: 12076")
            && routes.contains(&format!("via {first} on msee0"))
            && routes.contains(&format!("via {second} on msee1"))
    };
    let learned = wait_for(Duration::from_secs(30), || {
        let routes = users.birdc(&["show", "route", "for", DC1_HOST, "all"]);
        both_links(&routes, "172.16.1.2", "172.16.1.6")
    });
    assert!(
        learned,
        "{}\n{}",
        users.birdc(&["show", "protocols"]),
        users.birdc(&["show", "route", "for", DC1_HOST, "all"])
    );
    let protocols = users.birdc(&["show", "protocols"]);
    assert_eq!(protocols.matches("Established").count(), 2, "{protocols}");
    // vnetd's BIRD on dc1 learns dc2's the same way.
    let dc1 = format!("{prefix}-dc1");
    let ctl = format!("/run/vnetd-bgp/{dc1}/bird.ctl");
    let dc1_routes = || {
        in_netns(
            &dc1,
            &["birdc", "-s", &ctl, "show", "route", "for", DC2_HOST, "all"],
        )
    };
    let learned = wait_for(Duration::from_secs(30), || {
        both_links(&dc1_routes(), "172.16.0.2", "172.16.0.6")
    });
    assert!(learned, "{}", dc1_routes());

    // `trace` says the same: customer edge, dc1's edge router, dc2's,
    // customer edge, bounded by the slower circuit.
    let found = trace(&lab, "dc1-host", "dc2-host");
    assert_eq!(found.verdict, "Allow", "{found:#?}");
    assert_eq!(found.path, ["dc1-circuit", "dc2-circuit"]);
    let bottleneck = found.bottleneck.expect("the circuits' bandwidth");
    assert_eq!(
        (bottleneck.mbps, bottleneck.what.as_str()),
        (500, "500 Mbps: circuit dc2-circuit")
    );

    // Without the link the datacenters are apart: the routes go from both
    // routers and the pings find nothing.
    lab.daemon()
        .apply("no-global-reach.yaml", &two_datacenters(prefix, false))
        .unwrap_or_else(|e| panic!("apply: {e:?}"));
    let withdrawn = wait_for(Duration::from_secs(30), || {
        !in_netns(&dc1, &["ip", "route"]).contains("172.21.0.0/16")
            && !in_netns(&format!("{prefix}-dc2"), &["ip", "route"]).contains("172.20.0.0/16")
    });
    assert!(withdrawn, "{}", in_netns(&dc1, &["ip", "route"]));
    assert!(!ping(&dc1_host, DC2_HOST), "dc1 still reaches dc2");
    assert!(!ping(&dc2_host, DC1_HOST), "dc2 still reaches dc1");
    let found = trace(&lab, "dc1-host", "dc2-host");
    assert_eq!(found.verdict, "Deny", "{found:#?}");
    drop(users);
}

/// Two datacenters whose routers both run vnetd's BIRD, on circuits that
/// take `latencies` (ms, one way) to their peering locations, joined by
/// Global Reach when `reach`; a hub VNet with one VM and no gateway; and
/// expectations from both datacenters.
fn delayed_datacenters(prefix: &str, latencies: (u32, u32), reach: bool) -> String {
    let (to_dc2, back) = if reach {
        (
            "result: Allow, via: [dc1-circuit, dc2-circuit]",
            "result: Allow, via: [dc2-circuit, dc1-circuit]",
        )
    } else {
        (
            "result: Deny, reason: route_none",
            "result: Deny, reason: route_none",
        )
    };
    let expectations = format!(
        "
expectations:
  - {{name: dc1-pings-dc2, from: dc1-host, to: dc2-host, protocol: Icmp, {to_dc2}}}
  - {{name: dc2-reaches-dc1-ssh, from: dc2-host, to: dc1-host, protocol: Tcp, port: 22, {back}}}
  - {{name: no-datacenter-route-to-the-hub, from: dc1-host, to: vm, protocol: Icmp, result: Deny, reason: route_none}}
"
    );
    datacenters(
        prefix,
        "bird",
        Some(latencies),
        &format!("{}{expectations}", reach_link(reach)),
    )
}

/// The round trips of `count` pings from `ns` to `dst`, in ms.
fn round_trips(ns: &str, dst: &str, count: u32) -> Vec<f64> {
    common::traffic::round_trips(ns, dst, count, "0.1")
}

/// The report's outcome of expectation `name`: (result, reason, at).
fn observed(report: &serde_json::Value, name: &str) -> (String, Option<String>, Option<String>) {
    let row = report["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report:#}"));
    let text = |key: &str| row["observed"][key].as_str().map(str::to_string);
    (text("result").unwrap(), text("reason"), text("at"))
}

#[test]
fn global_reach_takes_both_circuits_latency_and_check_agrees_with_verify_with_and_without_it() {
    let prefix = "grd";
    let text = delayed_datacenters(prefix, (3, 5), true);
    let mut lab = Lab::start_exact(prefix, &text);
    let dc1_host = format!("{prefix}-dc1-host");
    assert!(
        wait_for(Duration::from_secs(60), || ping(&dc1_host, DC2_HOST)),
        "dc1 never reached dc2 over Global Reach"
    );
    // What the trace adds one way over Global Reach: both circuits (once
    // the lab's snapshot holds what the edge routers learned).
    let allowed = wait_for(Duration::from_secs(30), || {
        trace(&lab, "dc1-host", "dc2-host").verdict == "Allow"
    });
    let found = trace(&lab, "dc1-host", "dc2-host");
    assert!(allowed, "{found:#?}");
    assert_eq!(found.added_latency_us, 8_000, "{found:#?}");
    let reply = found.reply.as_ref().expect("a reply");
    let back: u32 = (reply.hops.iter())
        .filter_map(|h| h.shaping.as_ref())
        .map(|s| s.added_latency_us)
        .sum();
    assert_eq!(back, found.added_latency_us, "{reply:#?}");
    let expected = f64::from(found.added_latency_us + back) / 1000.0;
    // Real pings take that, both ways, within 2 ms.
    let mut rtts = round_trips(&dc1_host, DC2_HOST, 20);
    assert!(rtts.len() >= 15, "{rtts:?}");
    rtts.sort_by(f64::total_cmp);
    let median = rtts[rtts.len() / 2];
    assert!(
        (median - expected).abs() <= 2.0,
        "median round trip {median} ms, the trace's {expected} ms: {rtts:?}"
    );
    assert!(rtts[0] >= expected - 0.1, "{rtts:?} below {expected} ms");
    // The daemon carried them on the links, and says what each adds. Both
    // links are active, as ExpressRoute's are (the routers spread their
    // routes over both paths): which carries a ping is the routers'
    // choice, so the links are counted together.
    let reach = vnetd::daemon::reporting::report::stats_of(lab.daemon()).global_reach;
    let mut names: Vec<&str> = reach.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["dc1-dc2 primary", "dc1-dc2 secondary"], "{reach:?}");
    assert!(reach.iter().all(|r| r.delay_us == 8_000), "{reach:?}");
    assert!(
        reach.iter().map(|r| r.packets).sum::<u64>() >= 40,
        "{reach:?}"
    );
    assert!(reach.iter().all(|r| r.dropped == 0), "{reach:?}");

    // check and verify agree on every expectation: Global Reach both ways,
    // and no route from a datacenter to a VNet no gateway connects.
    let report = assert_verify_agrees_with_check(&mut lab, &text);
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(
        observed(&report, "no-datacenter-route-to-the-hub"),
        (
            "Deny".to_string(),
            Some("route_none".to_string()),
            Some("site dc1".to_string())
        )
    );

    // Faster circuits, applied: the link takes their delay in place (its
    // sessions and devices kept), and pings follow the trace again.
    let faster = delayed_datacenters(prefix, (1, 2), true);
    lab.daemon()
        .apply("faster.yaml", &faster)
        .unwrap_or_else(|e| panic!("apply: {e:?}"));
    let found = trace(&lab, "dc1-host", "dc2-host");
    assert_eq!(found.added_latency_us, 3_000, "{found:#?}");
    let reach = vnetd::daemon::reporting::report::stats_of(lab.daemon()).global_reach;
    assert!(
        reach.iter().all(|r| r.delay_us == 3_000) && reach.len() == 2,
        "{reach:?}"
    );
    let expected = 2.0 * f64::from(found.added_latency_us) / 1000.0;
    assert!(
        wait_for(Duration::from_secs(30), || ping(&dc1_host, DC2_HOST)),
        "dc1 lost dc2 after the apply"
    );
    let mut rtts = round_trips(&dc1_host, DC2_HOST, 20);
    rtts.sort_by(f64::total_cmp);
    assert!(rtts.len() >= 15, "{rtts:?}");
    let median = rtts[rtts.len() / 2];
    assert!(
        (median - expected).abs() <= 2.0,
        "median round trip {median} ms, the trace's {expected} ms: {rtts:?}"
    );

    // Without Global Reach: each datacenter's router loses the other's
    // range, and the packet never leaves it; check and verify agree again.
    let without = delayed_datacenters(prefix, (3, 5), false);
    lab.daemon()
        .apply("no-global-reach.yaml", &without)
        .unwrap_or_else(|e| panic!("apply: {e:?}"));
    let (dc1, dc2) = (format!("{prefix}-dc1"), format!("{prefix}-dc2"));
    let withdrawn = wait_for(Duration::from_secs(30), || {
        !in_netns(&dc1, &["ip", "route"]).contains("172.21.0.0/16")
            && !in_netns(&dc2, &["ip", "route"]).contains("172.20.0.0/16")
    });
    assert!(withdrawn, "{}", in_netns(&dc1, &["ip", "route"]));
    assert!(vnetd::daemon::reporting::report::stats_of(lab.daemon())
        .global_reach
        .is_empty());
    let report = assert_verify_agrees_with_check(&mut lab, &without);
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(
        observed(&report, "dc1-pings-dc2"),
        (
            "Deny".to_string(),
            Some("route_none".to_string()),
            Some("site dc1".to_string())
        )
    );
    assert_eq!(
        observed(&report, "dc2-reaches-dc1-ssh"),
        (
            "Deny".to_string(),
            Some("route_none".to_string()),
            Some("site dc2".to_string())
        )
    );
}
