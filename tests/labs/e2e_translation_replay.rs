//! `trace`'s translations against the packets': every expectation of each
//! example with an Internet edge (every one: a test holds the list) is
//! traced offline and tested live with
//! `vnetd verify` while `vnetd capture` records the Internet's `eth0`; the
//! addresses each traced packet has where it meets the Internet (after a
//! way out translated its source, or as the Internet sends it before a
//! public address translates its destination), request and reply alike,
//! are found on real packets in the capture. A VM with its own public IP
//! in a subnet whose NAT gateway takes its new flows is among them: the
//! reply of a connection to the public IP leaves from it in both. Needs
//! root.

use crate::common;

use common::Lab;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;
use vnetd::diagnostics::trace::{trace, Trace, TraceHop, TraceQuery};
use vnetd::host::netns;
use vnetd::plan::PortKind;
use vnetd::topology::{Access, Test};

/// A public IP in a subnet whose NAT gateway takes the NIC's new flows.
const PUBLIC_IP_BESIDE_NAT: &str = include_str!("../data/public-ip-beside-nat.yaml");

const MARKER: &[u8] = b"vnetd-translation-replay-marker";

#[test]
fn public_ip_beside_a_nat_gateway() {
    replay("trpip", PUBLIC_IP_BESIDE_NAT, &[]);
}

#[test]
fn firewall_application_rules() {
    replay(
        "trapp",
        include_str!("../../config/firewall-application-rules.yaml"),
        &[],
    );
}

#[test]
fn internet_edge() {
    replay("trie", include_str!("../../config/internet-edge.yaml"), &[]);
}

#[test]
fn network_manager() {
    replay(
        "travnm",
        include_str!("../../config/network-manager.yaml"),
        &[],
    );
}

#[test]
fn service_endpoints() {
    replay(
        "trse",
        include_str!("../../config/service-endpoints.yaml"),
        &[],
    );
}

#[test]
fn public_load_balancer() {
    let example = include_str!("../../config/public-load-balancer.yaml");
    replay("trplb", example, &["web1", "web2", "web3"]);
}

/// The examples replayed here are every example with an Internet.
#[test]
fn every_example_with_an_internet_is_replayed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
    let mut with_internet: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let loaded = vnetd::topology::parse_str(&p.display().to_string(), &text).unwrap();
            loaded.topology.edge.has_internet()
        })
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    with_internet.sort();
    assert_eq!(
        with_internet,
        [
            "firewall-application-rules.yaml",
            "internet-edge.yaml",
            "network-manager.yaml",
            "public-load-balancer.yaml",
            "service-endpoints.yaml"
        ]
    );
}

/// A child killed and reaped when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Replays `example`'s expectations; `backends` serve HTTP on 80 (their
/// load balancer's probes find them up before `verify` runs).
fn replay(prefix: &str, example: &str, backends: &[&str]) {
    let text = common::with_netns_prefix(example, prefix);
    let mut lab = Lab::start_exact(prefix, &text);
    let _servers: Vec<common::servers::EchoServer> = (backends.iter())
        .map(|b| common::servers::EchoServer::start(&lab.ns(b), 80, Some(b), None))
        .collect();
    let up = |lab: &Lab| {
        let probed = lab.daemon().lb_backends();
        (backends.iter()).all(|b| {
            probed
                .iter()
                .any(|(t, s)| t.nic == *b && s.consecutive_successes >= 1)
        })
    };
    assert!(
        common::wait_for(Duration::from_secs(30), || up(&lab)),
        "probes: {:?}",
        lab.daemon().lb_backends()
    );
    let snapshot = lab.daemon().snapshot();
    let internet = (snapshot.plan.ports.iter())
        .find(|p| p.kind == PortKind::Internet)
        .expect("an Internet")
        .netns
        .clone();
    let socket = lab.serve_control();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("internet.pcapng");
    let mut capture = common::vnetd_command(&socket);
    capture.args(["capture", "internet", "-w"]).arg(&file);
    let capture = Killed(capture.stderr(Stdio::null()).spawn().unwrap());
    assert!(
        common::wait_for(Duration::from_secs(10), || file_len(&file) > 0),
        "vnetd capture never opened its capture"
    );

    // verify's real packets: what they carry is compared below (its
    // verdicts' agreement with check is each example's own test's).
    let verified = common::vnetd_command(&socket)
        .args(["verify", "--json", "--wait", "120"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&verified.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&verified.stderr)));
    assert!(report["passed"].as_u64().unwrap() > 0, "{report:#}");

    // A marker leaves the Internet last: once it is in the capture, so is
    // every packet verify sent before it.
    let lab_address = snapshot
        .edge
        .public
        .keys()
        .copied()
        .find(IpAddr::is_ipv4)
        .unwrap();
    let marker_to = SocketAddr::new(lab_address, 9);
    netns::run_in(&internet, move || {
        let socket = UdpSocket::bind("0.0.0.0:0")?;
        socket.send_to(MARKER, marker_to)?;
        Ok(())
    })
    .unwrap();
    assert!(
        common::wait_for(Duration::from_secs(10), || {
            read_capture(&file).0.iter().any(|p| p.ends_with(MARKER))
        }),
        "the marker never reached the capture"
    );
    drop(capture);
    let (packets, link) = read_capture(&file);
    let seen: BTreeSet<(IpAddr, IpAddr)> =
        packets.iter().filter_map(|p| addresses(p, link)).collect();

    let mut compared = 0;
    for e in &snapshot.topology.expectations {
        let Test::Reach(reach) = &e.test else {
            continue;
        };
        let (Some(to), Access::Allow) = (reach.to.address(), reach.result) else {
            continue;
        };
        let query = TraceQuery {
            from: e.from,
            to,
            protocol: reach.protocol,
            port: reach.port,
        };
        let traced = trace(&snapshot, &query).unwrap();
        for (leg, pair) in at_the_internet(&traced) {
            compared += 1;
            assert!(
                seen.contains(&pair),
                "{}: the {leg} meets the Internet as {} -> {} in the trace, on no packet \
                 of the capture: {seen:?}",
                e.name,
                pair.0,
                pair.1
            );
        }
    }
    assert!(compared > 0, "no expectation crosses the Internet edge");
}

/// The addresses each packet of `traced` has where it meets the Internet:
/// leaving for it (after its way out translated it), or sent by it.
fn at_the_internet(traced: &Trace) -> Vec<(&'static str, (IpAddr, IpAddr))> {
    let mut out = Vec::new();
    let legs =
        std::iter::once(("request", traced)).chain(traced.reply.as_deref().map(|r| ("reply", r)));
    for (leg, t) in legs {
        for hop in &t.hops {
            if let Some(pair) = meeting(hop) {
                out.push((leg, pair));
            }
        }
    }
    out
}

fn meeting(hop: &TraceHop) -> Option<(IpAddr, IpAddr)> {
    let ip = |s: &str| s.parse::<IpAddr>().ok();
    if hop.nic == "internet" {
        return Some((ip(&hop.source)?, ip(&hop.destination)?));
    }
    if hop.to.as_deref() != Some("internet") {
        return None;
    }
    let source = match &hop.egress {
        Some(egress) => ip(egress.rsplit(", as ").next()?)?,
        None => ip(&hop.source)?,
    };
    let destination = hop
        .received_destination
        .as_deref()
        .unwrap_or(&hop.destination);
    Some((source, ip(destination)?))
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The packets of the capture (a packet being written at the end is left
/// out) and its link type.
fn read_capture(path: &Path) -> (Vec<Vec<u8>>, DataLink) {
    let file = std::fs::read(path).unwrap();
    let Ok(mut reader) = PcapNgReader::new(&file[..]) else {
        return (Vec::new(), DataLink::RAW);
    };
    let mut packets = Vec::new();
    while let Some(Ok(block)) = reader.next_block() {
        if let Block::EnhancedPacket(packet) = block {
            packets.push(packet.data.into_owned());
        }
    }
    let link = reader
        .interfaces()
        .first()
        .map_or(DataLink::RAW, |i| i.linktype);
    (packets, link)
}

/// A packet's IP source and destination.
fn addresses(packet: &[u8], link: DataLink) -> Option<(IpAddr, IpAddr)> {
    let sliced = match link {
        DataLink::ETHERNET => etherparse::SlicedPacket::from_ethernet(packet).ok()?,
        _ => etherparse::SlicedPacket::from_ip(packet).ok()?,
    };
    match sliced.net? {
        etherparse::NetSlice::Ipv4(v4) => Some((
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
        )),
        etherparse::NetSlice::Ipv6(v6) => Some((
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
        )),
        _ => None,
    }
}
