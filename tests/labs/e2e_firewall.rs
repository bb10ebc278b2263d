//! Azure Firewall's source translation, live: a spoke whose range is a
//! public one used privately (20.3.0.0/16) is reached through the firewall
//! with the firewall's own address as source, as Azure's firewall does
//! outside its private ranges, and with the client's own address once the
//! policy lists the range among its `private_ranges`. The server sees the
//! address on a real TCP connection; `trace` says the same offline. Needs
//! root (see `common::require_root`).

use crate::common;

use common::Lab;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;
use vnetd::diagnostics::trace::{trace, TraceQuery};
use vnetd::host::netns;
use vnetd::topology::{Endpoint, ExpectedProtocol};

const EXAMPLE: &str = include_str!("../../config/hub-spoke-firewall.yaml");

/// The example with a third spoke, 20.3.0.0/16, routed through the
/// firewall, which allows spoke1's web traffic to it; `private_ranges` as
/// given (none: Azure's default).
fn with_public_spoke(private_ranges: Option<&str>) -> String {
    let mut text = EXAMPLE
        .replacen(
            "\npeerings:\n",
            "  - name: spoke3\n    address_space: [20.3.0.0/16]\n    location: westeurope\n    \
             subnets:\n      - name: app\n        address_prefixes: [20.3.1.0/24]\n        \
             route_table: spokes-through-firewall\n\npeerings:\n  - {name: hub-to-spoke3, \
             virtual_network: hub, remote_virtual_network: spoke3}\n  - {name: spoke3-to-hub, \
             virtual_network: spoke3, remote_virtual_network: hub, allow_forwarded_traffic: true}\n",
            1,
        )
        .replacen(
            "  - name: vm2\n",
            "  - name: vm3\n    subnet: spoke3/app\n    private_ip_address: 20.3.1.4\n  - name: vm2\n",
            1,
        )
        .replacen(
            "              - {name: ping-between-spokes",
            "              - {name: spoke1-to-spoke3-web, protocols: [TCP], source_addresses: \
             [10.1.0.0/16], destination_addresses: [20.3.0.0/16], destination_ports: [\"80\"]}\n              \
             - {name: ping-between-spokes",
            1,
        );
    if let Some(ranges) = private_ranges {
        text = text.replacen(
            "  - name: hub-fw-policy\n",
            &format!("  - name: hub-fw-policy\n    private_ranges: {ranges}\n"),
            1,
        );
    }
    assert!(text.contains("vm3") && text.contains("spoke1-to-spoke3-web"));
    text
}

/// The source address vm3's server sees on a TCP connection from vm1.
fn source_seen_by_vm3(lab: &Lab) -> std::net::IpAddr {
    let server: SocketAddr = "20.3.1.4:80".parse().unwrap();
    let listener = netns::run_in(&lab.ns("vm3"), move || Ok(TcpListener::bind(server)?)).unwrap();
    let accept = std::thread::spawn(move || listener.accept().map(|(_, peer)| peer.ip()));
    let client = netns::run_in(&lab.ns("vm1"), move || {
        Ok(TcpStream::connect_timeout(&server, Duration::from_secs(3))?)
    });
    assert!(client.is_ok(), "vm1 reaches vm3's server: {client:?}");
    accept.join().unwrap().unwrap()
}

/// The source the offline trace gives the request when it reaches vm3.
fn source_traced(lab: &Lab) -> String {
    let snap = lab.daemon().snapshot();
    let vm1 = snap.topology.nic_by_name("vm1").unwrap();
    let query = TraceQuery {
        from: Endpoint::Nic(vm1),
        to: "20.3.1.4".parse().unwrap(),
        protocol: ExpectedProtocol::Tcp,
        port: Some(80),
    };
    let answer = trace(&snap, &query).unwrap();
    assert_eq!(answer.verdict, "Allow", "{answer:#?}");
    answer.hops.last().unwrap().source.clone()
}

/// Starts `text` with every namespace behind `prefix`: the NICs' and the
/// firewall's (which `netns_prefix` names).
fn start(prefix: &str, text: &str) -> Lab {
    Lab::start(prefix, &format!("netns_prefix: {prefix}-\n{text}"))
}

#[test]
fn the_firewall_translates_sources_outside_its_private_ranges() {
    let lab = start("fwsnat", &with_public_spoke(None));
    assert_eq!(source_seen_by_vm3(&lab).to_string(), "10.0.1.4");
    assert_eq!(source_traced(&lab), "10.0.1.4");
}

#[test]
fn the_firewall_keeps_sources_towards_its_private_ranges() {
    let lab = start(
        "fwkeep",
        &with_public_spoke(Some("[IANAPrivateRanges, 20.0.0.0/8]")),
    );
    assert_eq!(source_seen_by_vm3(&lab).to_string(), "10.1.1.4");
    assert_eq!(source_traced(&lab), "10.1.1.4");
}

#[test]
fn datagrams_through_the_firewall_reach_the_vm_one_by_one() {
    use common::traffic::Capture;
    // The policy lets UDP 5300 from spoke1 into spoke2.
    let text = EXAMPLE.replace(
        "              - {name: spoke1-to-spoke2-web,",
        "              - {name: spoke1-to-spoke2-udp, protocols: [UDP], source_addresses: [10.1.0.0/16], destination_addresses: [10.2.0.0/16], destination_ports: [\"5300\"]}\n              - {name: spoke1-to-spoke2-web,",
    );
    assert_ne!(text, EXAMPLE);
    let lab = start("fwudp", &text);
    let to: SocketAddr = "10.2.1.4:5300".parse().unwrap();
    let server = netns::run_in(&lab.ns("vm2"), move || common::udp_bind_again(to)).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let client = common::udp_client_for(&lab.ns("vm1"), to);
    // What vm2's `eth0` is handed, packet by packet: a run joined on the
    // way would be one packet here for many datagrams.
    let seen = Capture::start_detailed(&lab.ns("vm2"), "udp and dst port 5300");
    const SENT: usize = 200;
    for i in 0..SENT {
        client.send_to(&[i as u8; 100], to).unwrap();
    }
    let mut buf = [0u8; 256];
    let mut received = 0;
    while received < SENT && server.recv_from(&mut buf).is_ok() {
        received += 1;
    }
    assert_eq!(received, SENT, "every datagram is delivered");
    // The capture may miss packets of a burst; none it saw may be a run.
    let packets = seen.count();
    assert!(!packets.is_empty(), "the capture saw the datagrams");
    let joined: Vec<_> = (packets.iter())
        .filter(|p| !p.ends_with("UDP, length 100"))
        .collect();
    assert!(
        joined.is_empty(),
        "vm2's eth0 was handed joined datagrams: {:?}",
        &joined[..joined.len().min(3)]
    );
    assert_eq!(lab.stats("vm2").packets_received as usize, SENT);
}

/// What a NIC's counters moved between two readings: packets sent less
/// those dropped with a reason, packets received, and of those, what the
/// kernel carried.
#[derive(Debug, PartialEq, Eq)]
struct Moved {
    sent: u64,
    carried_out: u64,
    received: u64,
    carried_in: u64,
}

fn moved(then: &vnetd::api::NicStats, now: &vnetd::api::NicStats) -> Moved {
    let dropped = |s: &vnetd::api::NicStats| s.drops.values().sum::<u64>();
    Moved {
        sent: (now.packets_sent - then.packets_sent) - (dropped(now) - dropped(then)),
        carried_out: now.offloaded_packets_sent - then.offloaded_packets_sent,
        received: now.packets_received - then.packets_received,
        carried_in: now.offloaded_packets_received - then.offloaded_packets_received,
    }
}

/// What the firewall's policy admits, vm1 to vm2's web port. With the fast
/// path on, the kernel carries it as it carries a VM's and an NVA's flows:
/// the ways into the firewall always, the ways out of it when nothing
/// caps them (with shaping on, the Basic tier's 250 Mbps is paced by the
/// workers). Once a talking connection's entries are in, every packet it
/// sends on a carried way is the kernel's and none on another; without
/// the fast path, none is. A transfer after it is counted once: what the
/// NICs sent is what they received plus what was dropped with its reason.
#[test]
fn what_the_firewall_admits_leaves_userspace_where_nothing_caps_it() {
    use std::io::{Read, Write};
    use vnetd::daemon::options::{offload_off_by_environment, RunOptions};
    let offloading = !offload_off_by_environment();
    let web: SocketAddr = "10.2.1.4:80".parse().unwrap();
    for (prefix, shaping) in [("fwoff", false), ("fwcap", true)] {
        let options = RunOptions {
            shaping,
            ..Default::default()
        };
        let text = format!("netns_prefix: {prefix}-\n{EXAMPLE}");
        let lab = Lab::start_with(prefix, &common::with_netns_prefix(&text, prefix), options);
        assert_eq!(lab.daemon().offload().is_some(), offloading);

        // A connection that talks until its entries are in: the four ways
        // (vm1 to the firewall, on to vm2, and the answers) without
        // shaping, the two into the firewall with it.
        let echo = common::traffic::echo_once(&lab.ns("vm2"), web);
        let mut stream = netns::run_in(&lab.ns("vm1"), move || {
            Ok(TcpStream::connect_timeout(&web, Duration::from_secs(3))?)
        })
        .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        let mut talk = || {
            let mut buf = [0u8; 4];
            stream.write_all(b"ping").unwrap();
            stream.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"ping");
        };
        let ways = if shaping { 2 } else { 4 };
        let installed = || {
            lab.daemon().sync_offload();
            lab.daemon().offload().map_or(0, |o| o.installed())
        };
        assert!(
            common::wait_for(Duration::from_secs(10), || {
                talk();
                !offloading || installed() == ways
            }),
            "shaping {shaping}: {} ways of {ways} installed",
            installed()
        );
        let nics = ["vm1", "hub-fw", "vm2"];
        let before = nics.map(|nic| lab.stats(nic));
        for _ in 0..20 {
            talk();
        }
        let [vm1, fw, vm2] = [0, 1, 2].map(|i| moved(&before[i], &lab.stats(nics[i])));
        let what = format!("shaping {shaping}: vm1 {vm1:?}, hub-fw {fw:?}, vm2 {vm2:?}");
        assert!(vm1.sent >= 20 && vm2.sent >= 20, "{what}");
        // Which ways the kernel carries: into the firewall (vm1's and
        // vm2's sending) always, out of it (the firewall's sending) only
        // where nothing paces.
        let (into, out_of) = match (offloading, shaping) {
            (false, _) => (false, false),
            (true, shaping) => (true, !shaping),
        };
        let all_or_none = |carried: u64, all: u64, carries: bool| match carries {
            true => carried == all,
            false => carried == 0,
        };
        for (carried, all, carries) in [
            (vm1.carried_out, vm1.sent, into),
            (vm2.carried_out, vm2.sent, into),
            (fw.carried_in, fw.received, into),
            (fw.carried_out, fw.sent, out_of),
            (vm1.carried_in, vm1.received, out_of),
            (vm2.carried_in, vm2.received, out_of),
        ] {
            assert!(all_or_none(carried, all, carries), "{what}");
        }
        drop(stream);
        echo.join().unwrap();

        // A transfer, counted once whichever way took it.
        let before = nics.map(|nic| lab.stats(nic));
        let _server = common::iperf3_server_on(&lab.ns("vm2"), "10.2.1.4", 80);
        let report = common::iperf3_transfer_to(&lab.ns("vm1"), "10.2.1.4", 80, "40M");
        let received = report["end"]["sum_received"]["bytes"].as_u64().unwrap();
        // The server may close before reading the last of it.
        assert!(received > 0, "{}", report["end"]);
        lab.assert_balanced(&format!("shaping {shaping}"));
        // The firewall received the transfer whole, and forwarded it.
        let bytes_in = |i: usize| lab.stats(nics[i]).bytes_received - before[i].bytes_received;
        assert!(bytes_in(1) >= received && bytes_in(2) >= received);
    }
}

// ---- a network rule to an FQDN follows the name's address ---------------

/// The example with its web rule written to `api.contoso.com` (the DNS
/// proxy on, Azure DNS its upstream), `contoso.com` a private zone linked
/// to the hub where `api` (TTL 5 s) is `api_address`, and a second VM in
/// spoke2, `vm2b` (10.2.1.5).
fn with_fqdn_rule(api_address: &str) -> String {
    let mut text = EXAMPLE.to_string();
    for (from, to) in [
        (
            "destination_addresses: [10.2.0.0/16], destination_ports: [\"80\", \"443\"]",
            "destination_fqdns: [api.contoso.com], destination_ports: [\"80\", \"443\"]",
        ),
        (
            "  - name: hub-fw-policy\n",
            "  - name: hub-fw-policy\n    dns: {proxy_enabled: true}\n",
        ),
        (
            "  - name: vm2\n",
            "  - name: vm2b\n    subnet: spoke2/app\n    private_ip_address: 10.2.1.5\n  - name: vm2\n",
        ),
        // spoke1's VMs ask the firewall's DNS proxy.
        (
            "  - name: spoke1\n    address_space: [10.1.0.0/16]\n",
            "  - name: spoke1\n    address_space: [10.1.0.0/16]\n    dns_servers: [10.0.1.4]\n",
        ),
    ] {
        let edited = text.replacen(from, to, 1);
        assert_ne!(edited, text, "{from}");
        text = edited;
    }
    // The file's expectations speak of the rule as it was written.
    let start = text.find("expectations:\n").unwrap();
    let end = text.find("\nvnets:\n").unwrap();
    text.replace_range(start..end, "");
    text.push_str(&format!(
        "\nprivate_dns_zones:\n  - name: contoso.com\n    records:\n      - {{name: api, type: A, ttl: 5, records: [{api_address}]}}\n    virtual_network_links:\n      - {{name: hub, virtual_network: hub}}\n"
    ));
    text
}

/// What the published plane's trace says of vm1's TCP 80 to `to`.
fn verdict_to(lab: &Lab, to: &str) -> String {
    let snap = lab.daemon().snapshot();
    verdict_in(&snap, to)
}

fn verdict_in(snap: &vnetd::snapshot::Snapshot, to: &str) -> String {
    let vm1 = snap.topology.nic_by_name("vm1").unwrap();
    let query = TraceQuery {
        from: Endpoint::Nic(vm1),
        to: to.parse().unwrap(),
        protocol: ExpectedProtocol::Tcp,
        port: Some(80),
    };
    trace(snap, &query).unwrap().verdict
}

/// A network rule to `api.contoso.com` follows a change of the name's
/// address once the firewall asks again (the answer's TTL, at least the
/// 15 s Azure updates its rules at): the new address is allowed, on real
/// connections and in `trace`; the old one stays allowed, as Azure keeps
/// an address the DNS server no longer returns for 15 minutes.
#[test]
fn a_network_rule_to_an_fqdn_follows_the_names_address_after_its_ttl() {
    let prefix = "fwfqdn";
    let logs = tempfile::tempdir().unwrap();
    let options = vnetd::daemon::RunOptions {
        flow_log: Some(vnetd::daemon::options::FlowLogOptions {
            dir: logs.path().to_path_buf(),
            interval: Duration::from_millis(500),
        }),
        ..vnetd::daemon::RunOptions::default()
    };
    let text = common::with_netns_prefix(&with_fqdn_rule("10.2.1.4"), prefix);
    let lab = Lab::start_with(prefix, &text, options);
    let (old, new) = ("10.2.1.4:80", "10.2.1.5:80");
    let reach = |to: &str, server: &str| {
        common::tcp_echo(&lab.ns("vm1"), &lab.ns(server), to.parse().unwrap())
    };
    // vm1 asks the firewall's proxy, named by its VNet's DNS servers (its
    // resolv.conf) and by address, over UDP and TCP.
    let dig = |args: &[&str]| {
        let mut all = vec!["dig", "+short", "+time=2", "+tries=1"];
        all.extend_from_slice(args);
        common::stdout_in(&lab.ns("vm1"), &all).trim().to_string()
    };
    assert_eq!(dig(&["api.contoso.com"]), "10.2.1.4");
    assert_eq!(dig(&["@10.0.1.4", "api.contoso.com"]), "10.2.1.4");
    assert_eq!(dig(&["+tcp", "@10.0.1.4", "api.contoso.com"]), "10.2.1.4");
    // Each query over UDP is in the proxy's log (AZFWDnsQuery).
    let container = "insights-logs-azfwdnsquery";
    assert!(
        common::wait_for(Duration::from_secs(10), || {
            common::check_agreement::firewall_table(logs.path(), container).len() >= 2
        }),
        "the proxy's queries are logged"
    );
    let records = common::check_agreement::firewall_table(logs.path(), container);
    assert_eq!(records.len(), 2, "{records:#?}");
    for record in &records {
        assert_eq!(record["category"], "AZFWDnsQuery");
        let p = &record["properties"];
        assert_eq!(p["SourceIp"], "10.1.1.4");
        assert_eq!(p["QueryName"], "api.contoso.com.");
        assert_eq!(p["QueryType"], "A");
        assert_eq!(p["Protocol"], "UDP");
        assert_eq!(p["ResponseCode"], "NOERROR");
    }
    assert!(reach(old, "vm2"), "the name's address is allowed");
    assert!(
        !reach(new, "vm2b"),
        "another address meets the default action"
    );
    assert_eq!(verdict_to(&lab, "10.2.1.4"), "Allow");
    assert_eq!(verdict_to(&lab, "10.2.1.5"), "Deny");
    // The firewall's resolver publishes its first answer: the same address.
    assert!(
        common::wait_for(Duration::from_secs(20), || {
            lab.daemon()
                .snapshot()
                .fqdns
                .get("hub-fw", "api.contoso.com")
                == Some(&["10.2.1.4".parse().unwrap()][..])
        }),
        "the firewall's answer is published"
    );
    let moved = format!("netns_prefix: {prefix}-\n{}", with_fqdn_rule("10.2.1.5"));
    if let Err(e) = lab.daemon().apply("moved.yaml", &moved) {
        panic!("apply refused: {e:?}");
    }
    // Until the firewall asks again, its rules hold what it was answered
    // (the daemon's own report and its trace agree on every plane).
    let applied = lab.daemon().snapshot();
    let held = applied
        .fqdns
        .get("hub-fw", "api.contoso.com")
        .unwrap()
        .to_vec();
    let new_ip: std::net::IpAddr = "10.2.1.5".parse().unwrap();
    let want = if held.contains(&new_ip) {
        "Allow"
    } else {
        "Deny"
    };
    assert_eq!(verdict_in(&applied, "10.2.1.5"), want, "{held:?}");
    assert!(
        common::wait_for(Duration::from_secs(60), || verdict_to(&lab, "10.2.1.5")
            == "Allow"),
        "the new address is allowed once the answer is asked again"
    );
    assert!(reach(new, "vm2b"), "a real connection to the new address");
    assert_eq!(
        verdict_to(&lab, "10.2.1.4"),
        "Allow",
        "the old address is kept"
    );
    assert!(reach(old, "vm2"), "the old address is kept");
}
