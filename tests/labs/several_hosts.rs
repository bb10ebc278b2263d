//! One lab over three hosts (namespaces on an underlay bridge, each with
//! its own `vnetd run --host`): the hub-and-spoke example with the hub on
//! one host and each spoke on another passes every expectation, each
//! tested by `vnetd verify` on the host of its source and skipped on the
//! others, with offload on and off; a host killed with SIGKILL takes only
//! its own NICs' traffic with it, `vnetd down --host` removes what it
//! left, and once started again it carries traffic again.

use crate::common;

use common::hosts::Cluster;
use common::placement::{
    hub_spoke_firewall_three_hosts, hub_spoke_three_hosts, hybrid_three_hosts, THREE_HOSTS,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// Each host's `vnetd verify --json`: per expectation, the hosts that
/// tested it and passed, and those that skipped it; failures, with their
/// message.
fn verify_on_every_host(cluster: &Cluster) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    let mut passed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failed = Vec::new();
    // An expectation from one host may need another's routes: every host
    // has converged (its BGP sessions and the host mesh up, what its
    // gateways and the others' learned known) before any verifies.
    for (host, _) in THREE_HOSTS {
        let out = cluster.ask(host, &["wait", "--timeout", "60"]);
        assert!(
            out.status.success(),
            "{host} did not converge: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (host, _) in THREE_HOSTS {
        let out = cluster.ask(host, &["verify", "--json", "--wait", "30"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let report: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "verify on {host}: {e}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        for result in report["expectations"].as_array().unwrap() {
            let name = result["name"].as_str().unwrap().to_string();
            if result.get("skipped").is_some() {
                continue;
            }
            if result["passed"].as_bool() == Some(true) {
                passed.entry(name).or_default().push(host.to_string());
            } else {
                failed.push(format!("{name} on {host}: {}", result["message"]));
            }
        }
    }
    (passed, failed)
}

/// Each expectation of the cluster's file passes, tested once: on the
/// host of its source (`sources`).
fn every_expectation_passes_once(cluster: &Cluster, sources: &[(&str, &str)]) {
    let (passed, failed) = verify_on_every_host(cluster);
    assert_eq!(failed, Vec::<String>::new());
    let expected: BTreeMap<String, Vec<String>> = sources
        .iter()
        .map(|(name, host)| (name.to_string(), vec![host.to_string()]))
        .collect();
    assert_eq!(passed, expected);
}

fn hub_spoke_passes_from_the_hosts(tag: &str, offload: bool) {
    let cluster = Cluster::start(tag, &hub_spoke_three_hosts(), &THREE_HOSTS, offload);
    // Every expectation, tested once: on its source's host.
    let sources = [
        ("spoke1-pings-spoke2-through-the-nva", "h2"),
        ("spoke1-reaches-spoke2-web-through-the-nva", "h2"),
        ("spoke1-reaches-spoke2-via-nva", "h2"),
        ("spoke2-answers-dns-from-spoke1", "h2"),
        ("spoke2-pings-spoke1-via-nva", "h3"),
        ("telnet-to-spoke2-is-blocked", "h2"),
        ("spoke1-dns-to-shared", "h2"),
        ("hub-shared-reaches-spoke1-ssh", "h1"),
    ];
    every_expectation_passes_once(&cluster, &sources);
    // Each host says which it is, lists its own NICs and what crossed its
    // underlay: packets both ways, none from an untrusted source.
    for (host, nics) in [
        // Each VNet's Azure DNS runs on its VNet's host.
        ("h1", vec!["dns-hub", "nva1", "shared1"]),
        ("h2", vec!["dns-spoke1", "vm1"]),
        ("h3", vec!["dns-spoke2", "vm2"]),
    ] {
        let out = cluster.ask(host, &["stats", "--json"]);
        let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(stats["host"], host);
        let listed: Vec<&str> = stats["nics"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(listed, nics);
        let underlay = &stats["underlay"];
        assert_eq!(underlay["inner_mtu"], 1500, "{underlay}");
        assert!(underlay["sent"].as_u64().unwrap() > 0, "{underlay}");
        assert!(underlay["received"].as_u64().unwrap() > 0, "{underlay}");
        assert_eq!(underlay["untrusted"], 0, "{underlay}");
    }
}

#[test]
fn hub_spoke_over_three_hosts_passes_without_offload() {
    hub_spoke_passes_from_the_hosts("sh3n", false);
}

#[test]
fn hub_spoke_over_three_hosts_passes_with_offload() {
    hub_spoke_passes_from_the_hosts("sh3o", true);
}

/// The firewall runs on its VNet's host: the spokes' packets cross the
/// underlay to it, its policy judges them there, and what it admits
/// crosses again to the other spoke's host.
#[test]
fn a_firewall_on_the_hubs_host_filters_the_spokes_on_two_others() {
    let cluster = Cluster::start(
        "sh3f",
        &hub_spoke_firewall_three_hosts(),
        &THREE_HOSTS,
        true,
    );
    let sources = [
        ("spoke1-pings-spoke2-through-the-firewall", "h2"),
        ("spoke2-pings-spoke1-through-the-firewall", "h3"),
        ("spoke1-reaches-spoke2-web", "h2"),
        ("spoke1-reaches-spoke2-https", "h2"),
        ("ssh-into-spoke2-is-denied-by-rule", "h2"),
        ("spoke2-web-to-spoke1-meets-the-default-action", "h3"),
        ("spoke1-reaches-the-hub-directly", "h2"),
    ];
    every_expectation_passes_once(&cluster, &sources);
    let out = cluster.ask("h1", &["stats", "--json"]);
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let firewall = &stats["nics"]["hub-fw"];
    assert!(
        firewall["drops"]["firewall_denied"].as_u64().unwrap_or(0) >= 2,
        "{firewall}"
    );
}

#[test]
fn a_killed_host_takes_only_its_own_traffic_and_rejoins() {
    let mut cluster = Cluster::start("sh3k", &hub_spoke_three_hosts(), &THREE_HOSTS, false);
    let (vm1, vm2) = (cluster.ns("vm1"), cluster.ns("vm2"));
    assert!(common::ping(&vm1, "10.2.1.4"), "vm1 reaches vm2 before");
    cluster.kill9("h3");
    // vm1 (h2) and shared1 (h1) still talk; vm2 (h3) is gone with its host.
    assert!(common::ping(&vm1, "10.0.2.4"), "vm1 reaches shared1");
    assert!(
        !common::ping(&vm1, "10.2.1.4"),
        "vm2 answered with its host down"
    );
    // The others withdraw what h3 announced: their mesh session with it is
    // down, and they say so.
    let h3_missing = |cluster: &Cluster| {
        let out = cluster.ask("h2", &["wait", "--timeout", "1"]);
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("host mesh (host h3)")
    };
    assert!(common::wait_for(std::time::Duration::from_secs(15), || {
        h3_missing(&cluster)
    }));
    let down = cluster.down("h3");
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(!common::namespaces_with("sh3k").contains(&vm2));
    cluster.start_host("h3");
    assert!(
        common::wait_for(std::time::Duration::from_secs(10), || common::ping(
            &vm1, "10.2.1.4"
        )),
        "vm1 reaches vm2 once h3 is back"
    );
    let rejoined = cluster.ask("h2", &["wait", "--timeout", "30"]);
    assert!(
        rejoined.status.success(),
        "{}",
        String::from_utf8_lossy(&rejoined.stderr)
    );
}

/// The hybrid example with the hub, its VPN gateway and the branch on one
/// host and each spoke on another: the spokes learn the branch over the
/// host mesh, and every expectation passes from the host of its source.
fn hybrid_passes_from_the_hosts(tag: &str, offload: bool) {
    let cluster = Cluster::start(tag, &hybrid_three_hosts(), &THREE_HOSTS, offload);
    let sources = [
        ("branch-reaches-transit-spoke", "h1"),
        ("transit-spoke-reaches-branch", "h2"),
        ("hub-reaches-branch", "h1"),
        ("spoke2-never-learns-branch", "h3"),
    ];
    every_expectation_passes_once(&cluster, &sources);
}

#[test]
fn hybrid_over_three_hosts_passes_without_offload() {
    hybrid_passes_from_the_hosts("sh3hn", false);
}

#[test]
fn hybrid_over_three_hosts_passes_with_offload() {
    hybrid_passes_from_the_hosts("sh3ho", true);
}

/// Whether host `host`'s daemon forwards vm1's packets for `prefix` to the
/// hub's gateway (its effective routes, as it forwards with them).
fn vm1_routes_to_gateway(cluster: &Cluster, host: &str, prefix: &str) -> bool {
    let out = cluster.ask(host, &["routes", "--nic", "vm1"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.contains(prefix) && l.contains("VirtualNetworkGateway"))
}

#[test]
fn a_site_announcement_on_the_hubs_host_reaches_a_spoke_on_another_and_so_does_its_withdrawal() {
    let cluster = Cluster::start("sh3a", &hybrid_three_hosts(), &THREE_HOSTS, false);
    let router = cluster.ns("branch1");
    let (conf, socket) = (
        format!("/run/vnetd-bgp/{router}/bird.conf"),
        format!("/run/vnetd-bgp/{router}/bird.ctl"),
    );
    let original = std::fs::read_to_string(&conf).unwrap();
    // The branch router gets 172.30.0.1 and announces 172.30.0.0/24.
    common::in_netns(
        &router,
        &["ip", "addr", "add", "172.30.0.1/32", "dev", "lo"],
    );
    let announced = original.replace(
        "  route 192.168.0.0/16 unreachable;\n",
        "  route 192.168.0.0/16 unreachable;\n  route 172.30.0.0/24 unreachable;\n",
    );
    assert_ne!(
        announced, original,
        "the branch's announced routes: {original}"
    );
    let configure = |text: &str| {
        std::fs::write(&conf, text).unwrap();
        let out = std::process::Command::new("birdc")
            .args(["-s", &socket, "configure"])
            .output()
            .unwrap();
        assert!(out.status.success());
    };
    let vm1 = cluster.ns("vm1");
    assert!(
        !common::ping(&vm1, "172.30.0.1"),
        "reached before it was announced"
    );
    configure(&announced);
    // vm1 (h2) forwards to it through the hub's gateway (h1).
    assert!(common::wait_for(Duration::from_secs(15), || {
        vm1_routes_to_gateway(&cluster, "h2", "172.30.0.0/24")
    }));
    assert!(common::wait_for(Duration::from_secs(10), || common::ping(
        &vm1,
        "172.30.0.1"
    )));
    configure(&original);
    assert!(common::wait_for(Duration::from_secs(15), || {
        !vm1_routes_to_gateway(&cluster, "h2", "172.30.0.0/24")
    }));
    assert!(
        !common::ping(&vm1, "172.30.0.1"),
        "reached after it was withdrawn"
    );
}

/// What `vnetd stats --json` on one host says of one of its NICs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counted {
    sent: u64,
    kernel_sent: u64,
    received: u64,
    kernel_received: u64,
    drops: u64,
}

/// `vnetd stats --json` on `host`.
fn stats_on(cluster: &Cluster, host: &str) -> serde_json::Value {
    let out = cluster.ask(host, &["stats", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stats on {host}: {e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// NIC `nic`'s counters, on its host `host`.
fn counted(cluster: &Cluster, host: &str, nic: &str) -> Counted {
    let stats = stats_on(cluster, host);
    let n = &stats["nics"][nic];
    let field = |name: &str| {
        n[name]
            .as_u64()
            .unwrap_or_else(|| panic!("no {name} for {nic} on {host}: {stats}"))
    };
    Counted {
        sent: field("packets_sent"),
        kernel_sent: field("offloaded_packets_sent"),
        received: field("packets_received"),
        kernel_received: field("offloaded_packets_received"),
        drops: (n["drops"].as_object().unwrap().values())
            .filter_map(|v| v.as_u64())
            .sum(),
    }
}

/// The counters of each `(host, nic)` once they stop moving (two readings
/// in a row, a kernel read apart, agree).
fn settled<const N: usize>(cluster: &Cluster, nics: [(&str, &str); N]) -> [Counted; N] {
    let read = || nics.map(|(host, nic)| counted(cluster, host, nic));
    let mut last = read();
    let still = common::wait_for(std::time::Duration::from_secs(20), || {
        std::thread::sleep(std::time::Duration::from_millis(600));
        let now = read();
        std::mem::replace(&mut last, now) == now
    });
    assert!(still, "the counters never settled: {last:?}");
    last
}

/// iperf3 over TCP from vm1 (h2) to vm2 (h3) through nva1 (h1): each leg
/// leaves one host's fabric by the tunnel and arrives at the next one's,
/// each direction of each leg an entry of its own on both hosts (with
/// offload). Returns what each NIC's host counted, once settled, after
/// checking that every packet was counted once, sent on one host and
/// received on the next, whichever path carried it.
fn transfer_through_the_nva(tag: &str, offload: bool) -> [Counted; 3] {
    let cluster = Cluster::start(tag, &hub_spoke_three_hosts(), &THREE_HOSTS, offload);
    let _server = common::iperf3_server(&cluster.ns("vm2"), "10.2.1.4");
    common::iperf3_transfer(&cluster.ns("vm1"), "10.2.1.4", "300M");
    let counted = settled(&cluster, [("h2", "vm1"), ("h1", "nva1"), ("h3", "vm2")]);
    let [vm1, nva1, vm2] = counted;
    // What a NIC sent, less what was dropped there (packets of its own
    // stack with no route, such as an appliance's own: counted sent, then
    // dropped), the next NIC on the path received, on its own host.
    let passed = |c: Counted| c.sent - c.drops;
    let all = format!("vm1 on h2 {vm1:?}, nva1 on h1 {nva1:?}, vm2 on h3 {vm2:?}");
    assert_eq!(vm2.received, passed(vm1), "{all}");
    assert_eq!(vm1.received, passed(vm2), "{all}");
    assert_eq!(nva1.received, passed(vm1) + passed(vm2), "{all}");
    assert_eq!(passed(nva1), nva1.received, "{all}");
    for (c, host, nic) in [(vm1, "h2", "vm1"), (nva1, "h1", "nva1"), (vm2, "h3", "vm2")] {
        let drops = &stats_on(&cluster, host)["nics"][nic]["drops"];
        assert_eq!(
            c.drops,
            drops["unroutable"].as_u64().unwrap_or(0),
            "{nic}: {drops}"
        );
    }
    for (host, legs) in [("h1", 4), ("h2", 2), ("h3", 2)] {
        let report = &stats_on(&cluster, host)["offload"];
        if !offload {
            assert!(report.is_null(), "{host}: {report}");
            continue;
        }
        // Each direction of each leg of the host's NIC was installed, and
        // went with the connection's FIN.
        assert!(
            report["installed"].as_u64().unwrap() >= legs,
            "{host}: {report}"
        );
        assert_eq!(report["entries"], 0, "{host}: {report}");
    }
    counted
}

#[test]
fn the_kernel_carries_an_admitted_transfer_between_hosts_at_both_ends_and_counts_it_exactly() {
    let [vm1, nva1, vm2] = transfer_through_the_nva("sh3t", true);
    // The kernel carried the bulk of the packets (all but the first and
    // last few, and those sent before each host installed the flow: more
    // on a busy machine), counted at the NIC on each host: the data...
    let most = |part: u64, all: u64| part > 0 && part * 2 > all;
    assert!(most(vm1.kernel_sent, vm1.sent), "vm1 on h2: {vm1:?}");
    assert!(
        most(nva1.kernel_received, nva1.received),
        "nva1 on h1: {nva1:?}"
    );
    assert!(most(nva1.kernel_sent, nva1.sent), "nva1 on h1: {nva1:?}");
    assert!(
        most(vm2.kernel_received, vm2.received),
        "vm2 on h3: {vm2:?}"
    );
    // ...and the acknowledgements.
    assert!(most(vm2.kernel_sent, vm2.sent), "vm2 on h3: {vm2:?}");
    assert!(
        most(vm1.kernel_received, vm1.received),
        "vm1 on h2: {vm1:?}"
    );
}

#[test]
fn without_offload_a_transfer_between_hosts_stays_in_the_daemons_and_counts_the_same() {
    let counted = transfer_through_the_nva("sh3u", false);
    for c in counted {
        assert_eq!((c.kernel_sent, c.kernel_received), (0, 0), "{c:?}");
        assert!(c.sent > 0 && c.received > 0, "{c:?}");
    }
}

/// The generation of the plane `host` forwards with.
fn generation_on(cluster: &Cluster, host: &str) -> u64 {
    stats_on(cluster, host)["generation"].as_u64().unwrap()
}

/// How many flow directions `host` has installed in the kernel so far.
fn installs_on(cluster: &Cluster, host: &str) -> u64 {
    stats_on(cluster, host)["offload"]["installed"]
        .as_u64()
        .unwrap()
}

/// Whether `host` says the UDP flow of its NIC `nic` to 10.0.2.4:7000
/// is carried by the kernel.
fn offloaded_on(cluster: &Cluster, host: &str, nic: &str) -> bool {
    let out = cluster.ask(host, &["flows", "--nic", nic, "--json"]);
    let flows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    (flows["flows"].as_array().into_iter().flatten()).any(|f| {
        f["protocol"] == "Udp" && f["destination"] == "10.0.2.4:7000" && f["offloaded"] == true
    })
}

#[test]
fn a_new_plane_on_either_host_sends_the_next_packet_between_hosts_to_its_daemon() {
    use std::net::SocketAddr;
    use std::time::Duration;
    let cluster = Cluster::start("sh3g", &hub_spoke_three_hosts(), &THREE_HOSTS, true);
    // vm1 (h2) -> shared1 (h1), over the peering.
    let to: SocketAddr = "10.0.2.4:7000".parse().unwrap();
    let server =
        vnetd::host::netns::run_in(&cluster.ns("shared1"), move || common::udp_bind_again(to))
            .unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let client = common::udp_client_for(&cluster.ns("vm1"), to);
    // Sends `n` datagrams, each received, and returns how many of them
    // the kernel carried out of vm1 on h2 and into shared1 on h1, once
    // both hosts have counted all `n`.
    let carry = |n: u64| -> (u64, u64) {
        let before = (
            counted(&cluster, "h2", "vm1"),
            counted(&cluster, "h1", "shared1"),
        );
        let mut buf = [0u8; 64];
        for i in 0..n {
            client.send_to(b"datagram", to).unwrap();
            server
                .recv_from(&mut buf)
                .unwrap_or_else(|e| panic!("datagram {i} of {n}: {e}"));
        }
        let mut now = before;
        common::wait_for(Duration::from_secs(10), || {
            now = (
                counted(&cluster, "h2", "vm1"),
                counted(&cluster, "h1", "shared1"),
            );
            now.0.sent - before.0.sent >= n && now.1.received - before.1.received >= n
        });
        assert_eq!(
            (
                now.0.sent - before.0.sent,
                now.1.received - before.1.received
            ),
            (n, n),
            "sent by vm1 on h2, received by shared1 on h1"
        );
        (
            now.0.kernel_sent - before.0.kernel_sent,
            now.1.kernel_received - before.1.kernel_received,
        )
    };
    carry(3);
    assert!(
        common::wait_for(Duration::from_secs(10), || {
            offloaded_on(&cluster, "h2", "vm1") && offloaded_on(&cluster, "h1", "shared1")
        }),
        "the flow is not carried by the kernel on both hosts"
    );
    assert_eq!(carry(10), (10, 10), "the kernel carries it at both ends");

    // A new plane on the receiving host that changes the receiver (an NSG
    // on its subnet, which lets the flow through): its next packet meets
    // the receiver's daemon (the sender's kernel still carries it), which
    // installs it again.
    let text = std::fs::read_to_string(cluster.file()).unwrap();
    let with_nsg = |text: &str, subnet: &str| {
        let edited = text.replacen(
            subnet,
            &format!("{subnet}        network_security_group: spoke2-app-nsg\n"),
            1,
        );
        assert_ne!(edited, text, "no `{subnet}` in the lab's file");
        edited
    };
    let shared_guarded = with_nsg(
        &text,
        "      - name: shared\n        address_prefixes: [10.0.2.0/24]\n",
    );
    let both_guarded = with_nsg(
        &shared_guarded,
        "        address_prefixes: [10.1.1.0/24]\n        route_table: spoke1-rt\n",
    );
    let files = tempfile::tempdir().unwrap();
    let (receiver_file, sender_file) = (
        files.path().join("shared-guarded.yaml"),
        files.path().join("both-guarded.yaml"),
    );
    std::fs::write(&receiver_file, &shared_guarded).unwrap();
    std::fs::write(&sender_file, &both_guarded).unwrap();
    let (generation, installs) = (generation_on(&cluster, "h1"), installs_on(&cluster, "h1"));
    let apply = cluster.ask("h1", &["apply", receiver_file.to_str().unwrap()]);
    assert!(
        apply.status.success(),
        "{}",
        String::from_utf8_lossy(&apply.stderr)
    );
    assert!(generation_on(&cluster, "h1") > generation);
    assert_eq!(carry(1), (1, 0), "after a new plane on h1");
    assert!(
        common::wait_for(Duration::from_secs(10), || installs_on(&cluster, "h1")
            > installs),
        "h1 did not install the flow again"
    );
    assert_eq!(carry(10), (10, 10), "installed again on h1");

    // A new plane on the sending host that changes the sender: the same,
    // the other way.
    let installs = installs_on(&cluster, "h2");
    let apply = cluster.ask("h2", &["apply", sender_file.to_str().unwrap()]);
    assert!(
        apply.status.success(),
        "{}",
        String::from_utf8_lossy(&apply.stderr)
    );
    assert_eq!(carry(1), (0, 1), "after a new plane on h2");
    assert!(
        common::wait_for(Duration::from_secs(10), || installs_on(&cluster, "h2")
            > installs),
        "h2 did not install the flow again"
    );
    assert_eq!(carry(10), (10, 10), "installed again on h2");
}

/// The flows `host` tracks at `nic` toward `port` (its inbound records of
/// connections to that port).
fn flows_at(cluster: &Cluster, host: &str, nic: &str, port: u16) -> usize {
    let out = cluster.ask(host, &["flows", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["nic"] == nic && f["destination"] == format!("10.2.1.4:{port}"))
        .count()
}

#[test]
fn a_backend_down_where_its_balancer_is_probed_gets_no_flow_from_other_hosts() {
    let cluster = Cluster::start(
        "sh3l",
        &common::placement::ha_nva_three_hosts(),
        &THREE_HOSTS,
        false,
    );
    // nva1 answers the probe (TCP 22), nva2 does not: h1 finds nva2 down.
    let listen = "import socket, time\ns = socket.socket()\ns.bind(('0.0.0.0', 22))\ns.listen()\ntime.sleep(600)";
    let _ssh = common::Killed(
        std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &cluster.ns("nva1"),
                "python3",
                "-c",
                listen,
            ])
            .spawn()
            .unwrap(),
    );
    let vm1 = cluster.ns("vm1");
    // vm1 (h2) balances its flows to vm2 (h3) over the NVAs (h1) by what h1
    // found: every new connection crosses nva1, none nva2. Each attempt
    // opens eight connections to a port of its own.
    let all_on_nva1 = |attempt: u16| {
        let port = 9000 + attempt;
        let script = format!(
            "for i in 1 2 3 4 5 6 7 8; do timeout 1 bash -c 'echo > /dev/tcp/10.2.1.4/{port}' 2>/dev/null; done; true"
        );
        common::in_netns(&vm1, &["bash", "-c", &script]);
        flows_at(&cluster, "h1", "nva2", port) == 0 && flows_at(&cluster, "h1", "nva1", port) > 0
    };
    let mut attempt = 0;
    assert!(common::wait_for(Duration::from_secs(30), || {
        attempt += 1;
        all_on_nva1(attempt)
    }));
}

/// Starts `python3 -m http.server PORT` in each namespace of `nss` (a web
/// server for the web frontend and its HTTP probe, or a TCP listener for
/// the NVAs' probe), each stopped when dropped.
fn serve_http(nss: &[String], port: u16) -> Vec<common::Killed> {
    nss.iter()
        .map(|ns| {
            common::Killed(
                std::process::Command::new("ip")
                    .args(["netns", "exec", ns, "python3", "-m", "http.server"])
                    .arg(port.to_string())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect()
}

/// `curl` from `ns` to `url`, given 10 s (a deadline, on a busy machine):
/// the HTTP status, `000` when nothing came back.
fn curl(ns: &str, url: &str) -> String {
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "curl",
            "-s",
            "-m",
            "10",
            "-o",
            "/dev/null",
        ])
        .args(["-w", "%{http_code}", url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The highly available NVAs example with the hub (both load balancers,
/// the NVAs and the web servers) on h1 and each spoke on a host of its
/// own: vm1 (h2) reaches the web frontend on h1 over TCP, each connection
/// translated to a backend on h1 and its replies translated back there,
/// and every expectation of the file passes, tested on its source's host.
/// Returns the cluster with its servers, still serving.
fn load_balanced_from_another_host(tag: &str, offload: bool) -> (Cluster, Vec<common::Killed>) {
    let cluster = Cluster::start(
        tag,
        &common::placement::ha_nva_three_hosts(),
        &THREE_HOSTS,
        offload,
    );
    let webs = [cluster.ns("web1"), cluster.ns("web2")];
    let nvas = [cluster.ns("nva1"), cluster.ns("nva2")];
    let servers: Vec<common::Killed> = serve_http(&webs, 80)
        .into_iter()
        .chain(serve_http(&nvas, 22))
        .collect();
    let vm1 = cluster.ns("vm1");
    // Once the probes on h1 find the web servers up, every connection from
    // h2 completes: eight in a row, over both backends.
    let answered = common::wait_for(Duration::from_secs(30), || {
        curl(&vm1, "http://10.0.2.100/") == "200"
    });
    assert!(answered, "{}", curl(&vm1, "http://10.0.2.100/"));
    let codes: Vec<String> = (0..8).map(|_| curl(&vm1, "http://10.0.2.100/")).collect();
    assert!(
        codes.iter().all(|c| c == "200"),
        "{codes:?}\nh1: {:#}\nh2: {:#}",
        stats_on(&cluster, "h1")["load_balancer_backends"],
        stats_on(&cluster, "h2")["nics"]["vm1"]
    );
    // Each backend got the connections translated to its own address, on
    // its own host; no answer reached vm1 in a backend's own name.
    let flows = |host: &str| -> Vec<serde_json::Value> {
        let out = cluster.ask(host, &["flows", "--json"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["flows"].as_array().unwrap().clone()
    };
    let on_h1 = flows("h1");
    let translated = on_h1.iter().filter(|f| {
        f["direction"] == "Inbound"
            && (f["destination"] == "10.0.2.4:80" || f["destination"] == "10.0.2.5:80")
            && f["source"].as_str().unwrap().starts_with("10.1.1.4:")
    });
    assert!(translated.count() >= 8, "{on_h1:#?}");
    let on_h2 = flows("h2");
    assert!(
        !on_h2.iter().any(|f| f["nic"] == "vm1"
            && f["direction"] == "Inbound"
            && f["source"].as_str().unwrap().starts_with("10.0.2.")),
        "{on_h2:#?}"
    );
    every_expectation_passes_once(
        &cluster,
        &[
            ("spokes-cross-the-nvas", "h2"),
            ("spokes-ping-through-the-nvas", "h3"),
            ("web-through-its-frontend", "h2"),
            ("no-ssh-to-web", "h2"),
            ("frontend-has-no-https-rule", "h2"),
        ],
    );
    (cluster, servers)
}

#[test]
fn a_load_balanced_connection_from_another_host_is_translated_both_ways_with_offload() {
    let (cluster, _servers) = load_balanced_from_another_host("sh3w", true);
    // The web servers drop vm1's connections themselves (their own
    // firewall), the probes still find them up: verify on h2 fails the
    // expectation and says what it saw, that nothing in the fabric
    // dropped it, and what check finds.
    let webs = [cluster.ns("web1"), cluster.ns("web2")];
    for web in &webs {
        common::in_netns(web, &["nft", "add", "table", "inet", "guest"]);
        common::in_netns(
            web,
            &[
                "nft",
                "add chain inet guest input { type filter hook input priority 0; }",
            ],
        );
        common::in_netns(
            web,
            &[
                "nft",
                "add rule inet guest input ip saddr 10.1.1.4 tcp dport 80 drop",
            ],
        );
    }
    let out = cluster.ask("h2", &["verify", "--json"]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let web = report["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "web-through-its-frontend")
        .unwrap()
        .clone();
    assert_eq!(web["passed"], false, "{web:#}");
    let message = web["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "expected Allow, found Deny; observed: no answer to the TCP SYN to 10.0.2.100:80 \
             within 2 s (neither SYN-ACK nor reset); no drop counter of the fabric moved; \
             check finds Allow via web-ilb > web"
        ),
        "{message}"
    );
    // The same line on stderr, where verify names each failure.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("expectation `web-through-its-frontend` failed: expected Allow"),
        "{stderr}"
    );
}

#[test]
fn a_load_balanced_connection_from_another_host_is_translated_both_ways_without_offload() {
    load_balanced_from_another_host("sh3v", false);
}
