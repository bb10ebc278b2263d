//! What the fuzz targets check on one input, shared with `cargo test`
//! (`tests/fuzz_seeds.rs` replays the seeds through the same functions), so
//! that a seed that breaks an invariant fails the ordinary test run too.
//! It uses only vnetd's public API.

use std::net::IpAddr;
use std::sync::OnceLock;
use vnetd::dataplane::coalesce::{segment_like_the_kernel, UdpCoalescer, VIRTIO_NET_HDR_LEN};
use vnetd::dataplane::conntrack::NicOwners;
use vnetd::dataplane::nat::translate;
use vnetd::dataplane::{decide, DropReason, PacketView, Rewrite, Stateless, Verdict};
use vnetd::engine::flow_table::FlowTable;
use vnetd::plan::PortIdx;
use vnetd::snapshot::Snapshot;
use vnetd::topology::{parse_str, Diagnostic};

const DUAL_STACK: &str = include_str!("../config/dual-stack.yaml");
const HYBRID: &str = include_str!("../config/hybrid.yaml");
const VNET2VNET: &str = include_str!("../tests/golden/32-vnet2vnet.yaml");
const HA_NVA: &str = include_str!("../config/ha-nva.yaml");
const PRIVATE_ENDPOINTS: &str = include_str!("../config/private-endpoints.yaml");

fn compile(name: &str, text: &str) -> Snapshot {
    let loaded = parse_str(name, text).expect("shipped topology is valid");
    Snapshot::compile(loaded.topology, 1)
}

/// The hybrid lab with the branch's range learned by the gateway, so that
/// packets take the gateway's own table both ways.
fn hybrid() -> Snapshot {
    use vnetd::policy::gateways::{BgpOrigin, LearnedRoute, LearnedRoutes};
    let loaded = parse_str("config/hybrid.yaml", HYBRID).expect("shipped topology is valid");
    let peer = "192.168.255.1".parse().expect("literal");
    let mut learned = LearnedRoutes::default();
    learned.gateways.insert(
        "hub-vpngw".into(),
        vec![vec![LearnedRoute {
            prefix: "192.168.0.0/16".parse().expect("literal"),
            peer,
            next_hop: peer,
            as_path: vec![65050],
            origin: BgpOrigin::Igp,
        }]],
    );
    Snapshot::compile_learned(loaded.topology, learned, 1)
}

fn snapshots() -> &'static [Snapshot; 4] {
    static SNAPSHOTS: OnceLock<[Snapshot; 4]> = OnceLock::new();
    SNAPSHOTS.get_or_init(|| {
        [
            compile("builtin", vnetd::cli::BUILTIN_LAB),
            compile("config/dual-stack.yaml", DUAL_STACK),
            hybrid(),
            compile("tests/golden/32-vnet2vnet.yaml", VNET2VNET),
        ]
    })
}

fn check_indices(verdict: Verdict, nic_count: usize) {
    match verdict {
        Verdict::Deliver(nic) | Verdict::Translate { nic, .. } => {
            assert!(nic.index() < nic_count, "{verdict:?}: no such NIC")
        }
        Verdict::Drop { at, .. } => assert!(at.index() < nic_count, "{verdict:?}: no such NIC"),
    }
}

/// An NSG drop names the rule that denied it; no other drop names a rule.
fn check_deciding_rule(snap: &Snapshot, verdict: Verdict) {
    if let Verdict::Drop { reason, rule, .. } = verdict {
        let by_nsg = matches!(reason, DropReason::NsgInbound | DropReason::NsgOutbound);
        if by_nsg {
            let named = snap.rule_names.get(rule);
            assert!(
                named.is_some_and(|r| r.rule.contains("Rules/")),
                "{verdict:?}: an NSG drop without its rule"
            );
        } else {
            assert!(
                rule.is_none(),
                "{verdict:?}: a rule named for a non-NSG drop"
            );
        }
    }
}

/// The later fragment of a first fragment: the same IP header with offset 8
/// units and no "more fragments", carrying 8 bytes. `None` for packets that
/// are not IPv4 first fragments, or an IPv6 first fragment whose fragment
/// header directly follows the fixed header.
fn later_fragment_of(packet: &[u8]) -> Option<Vec<u8>> {
    match packet.first()? >> 4 {
        4 => {
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            let flags = u16::from_be_bytes([*packet.get(6)?, *packet.get(7)?]);
            if flags & 0x3fff != 0x2000 || packet.len() < ihl {
                return None;
            }
            let mut later = packet[..ihl].to_vec();
            later[2..4].copy_from_slice(&((ihl + 8) as u16).to_be_bytes());
            later[6..8].copy_from_slice(&1u16.to_be_bytes());
            later.extend_from_slice(&[0; 8]);
            Some(later)
        }
        6 => {
            if *packet.get(6)? != 44 || packet.len() < 48 {
                return None;
            }
            let frag = u16::from_be_bytes([packet[42], packet[43]]);
            if frag != 1 {
                return None;
            }
            let mut later = packet[..48].to_vec();
            later[4..6].copy_from_slice(&16u16.to_be_bytes());
            later[42..44].copy_from_slice(&(1u16 << 3).to_be_bytes());
            later.extend_from_slice(&[0; 8]);
            Some(later)
        }
        _ => None,
    }
}

/// The `decide_packet` target. Byte 0 selects (bit 0: stateless or the
/// daemon's flow table; bits 1-2: the built-in lab, `config/dual-stack.yaml`,
/// `config/hybrid.yaml` with the branch's range learned, or the Vnet2Vnet
/// design of `tests/golden/32-vnet2vnet.yaml`; bits 3..: the ingress port
/// modulo the port count, gateway instances and site tunnels included); the
/// rest is the packet.
///
/// Invariants besides "no panic": a packet `PacketView::parse` refuses is
/// dropped as `Malformed` at the ingress, and one it accepts never is;
/// every verdict names a valid NIC; with an empty flow table the stateful
/// verdict equals the stateless one (except a NIC delivering to itself);
/// deciding the packet again with the recorded flows delivers it where it
/// went before; a first fragment let through takes its later fragment to
/// the same NIC, which without state is dropped as `FragmentUnmatched`
/// when its protocol has ports (TCP, UDP, ICMP echo).
pub fn decide_packet(data: &[u8]) {
    let Some((&select, packet)) = data.split_first() else {
        return;
    };
    let stateful = select & 1 == 1;
    let snap = &snapshots()[usize::from(select >> 1 & 3)];
    let nic_count = snap.plan.ports.len();
    let ingress = PortIdx::new(usize::from(select >> 3) % nic_count);
    let now_ms = 1_000;

    let verdict = if stateful {
        // Fresh for each input, so runs are reproducible.
        let flows = FlowTable::new(64, NicOwners::MAX_OWNERS, 0);
        let first = decide(snap, &flows, ingress, packet, now_ms);
        check_indices(first, nic_count);
        // A fresh table admits nothing, so the NSGs decide as without one.
        // (A packet a NIC sends to itself is the exception: its outbound
        // admission is then also the reverse flow seen inbound.)
        if first != Verdict::Deliver(ingress) {
            assert_eq!(first, decide(snap, &Stateless, ingress, packet, now_ms));
        }
        let again = decide(snap, &flows, ingress, packet, now_ms + 1);
        check_indices(again, nic_count);
        if first.egress().is_some() {
            assert_eq!(again, first, "state blocked or rerouted an admitted flow");
            if let Some(later) = later_fragment_of(packet) {
                let followed = decide(snap, &flows, ingress, &later, now_ms + 2);
                let needs_ports = PacketView::parse(&later).is_ok_and(|v| {
                    v.fragment_needs_ports() && !v.blocked_protocol && !v.unroutable_destination
                });
                if PacketView::parse(&later).is_ok() {
                    assert_eq!(followed, first, "a later fragment left its datagram");
                }
                if needs_ports {
                    assert_eq!(
                        decide(snap, &Stateless, ingress, &later, now_ms + 2),
                        Verdict::dropped(DropReason::FragmentUnmatched, ingress)
                    );
                }
            }
        }
        first
    } else {
        decide(snap, &Stateless, ingress, packet, now_ms)
    };
    check_indices(verdict, nic_count);
    check_deciding_rule(snap, verdict);

    let malformed = Verdict::dropped(DropReason::Malformed, ingress);
    match PacketView::parse(packet) {
        Err(_) => assert_eq!(verdict, malformed, "an unreadable packet was not dropped"),
        Ok(view) => {
            assert_ne!(
                verdict, malformed,
                "a readable packet was dropped as malformed"
            );
            assert_eq!(view.len, packet.len());
        }
    }
}

/// At most this many NICs, and addresses of each, are tried as senders
/// and as destinations.
const SAMPLE: usize = 6;

/// A UDP packet with 4 bytes of payload; checksums are left at zero (the
/// fabric reads headers only).
fn udp(src: IpAddr, dst: IpAddr) -> Option<Vec<u8>> {
    let transport = [0x9c, 0x40, 0x00, 0x35, 0x00, 0x0c, 0, 0, 1, 2, 3, 4];
    let mut p = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = vec![0x45, 0, 0, 32, 0, 0, 0x40, 0, 64, 17, 0, 0];
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            h
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut h = vec![0x60, 0, 0, 0, 0, 12, 17, 64];
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            h
        }
        _ => return None,
    };
    p.extend_from_slice(&transport);
    Some(p)
}

/// The load-balancer lab, its backends up.
fn ha_nva() -> &'static Snapshot {
    static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| compile("config/ha-nva.yaml", HA_NVA))
}

/// Load balancers on the packet path: byte 0 selects (bit 0: the packet's
/// transport checksum is partial, as with the virtio-net `NEEDS_CSUM`;
/// bits 1..: the ingress port of `config/ha-nva.yaml`, its prober
/// included), the rest is the packet. It is decided twice with one flow
/// table. Checks: every verdict names a valid NIC; a translation applies
/// to the packet or is refused without a panic, and an applied one gives
/// a readable packet whose rewritten end is what the verdict said; the
/// second decision of a translated packet translates it the same way.
pub fn balance_packet(data: &[u8]) {
    let Some((&select, packet)) = data.split_first() else {
        return;
    };
    let snap = ha_nva();
    let nic_count = snap.plan.ports.len();
    let ingress = PortIdx::new(usize::from(select >> 1) % nic_count);
    let partial = select & 1 == 1;
    let flows = FlowTable::new(256, NicOwners::MAX_OWNERS, 0);
    let first = decide(snap, &flows, ingress, packet, 1_000);
    check_indices(first, nic_count);
    check_deciding_rule(snap, first);
    let again = decide(snap, &flows, ingress, packet, 1_001);
    check_indices(again, nic_count);
    let Verdict::Translate { rewrite, .. } = first else {
        return;
    };
    assert_eq!(again, first, "a translated flow is translated again alike");
    let mut bytes = packet.to_vec();
    if translate(&mut bytes, rewrite, partial).is_err() {
        return;
    }
    let view = PacketView::parse(&bytes).expect("a translated packet stays readable");
    let has_ports = matches!(view.key.proto, 6 | 17) && view.fragment.is_none_or(|f| f.first);
    match rewrite {
        Rewrite::Destination { address, port } => {
            assert_eq!(view.key.dst, address, "{rewrite:?}");
            if has_ports {
                assert_eq!(view.key.dst_port, Some(port), "{rewrite:?}");
            }
            if view.fragment.is_none() {
                check_reply_translated_back(snap, &flows, packet, &bytes, first);
            }
        }
        Rewrite::Source { address, port } => {
            assert_eq!(view.key.src, address, "{rewrite:?}");
            if has_ports {
                assert_eq!(view.key.src_port, Some(port), "{rewrite:?}");
            }
        }
    }
}

/// The backend's answer to a packet translated to it (`translated`, the
/// original `packet`): the same bytes with both ends swapped, sent by the
/// backend, leave translated back to the frontend the client used
/// whenever they are delivered.
fn check_reply_translated_back(
    snap: &Snapshot,
    flows: &FlowTable,
    packet: &[u8],
    translated: &[u8],
    verdict: Verdict,
) {
    let (Ok(original), Verdict::Translate { nic: backend, .. }) =
        (PacketView::parse(packet), verdict)
    else {
        return;
    };
    let Ok(there) = PacketView::parse(translated) else {
        return;
    };
    let mut reply = translated.to_vec();
    let swapped = translate(
        &mut reply,
        Rewrite::Destination {
            address: there.key.src,
            port: there.flow_ports.0,
        },
        false,
    )
    .and_then(|()| {
        translate(
            &mut reply,
            Rewrite::Source {
                address: there.key.dst,
                port: there.flow_ports.1,
            },
            false,
        )
    });
    if swapped.is_err() {
        return;
    }
    let back = decide(snap, flows, backend, &reply, 1_002);
    check_indices(back, snap.plan.ports.len());
    // It goes where its destination routes, which need not be the port the
    // request came from (an appliance may send for another address), and
    // may be dropped there (an address nobody owns); delivered, it is
    // translated back.
    let rewrite = match back {
        Verdict::Translate { rewrite, .. } => rewrite,
        Verdict::Deliver(_) => panic!("the backend's reply was not translated back: {back:?}"),
        Verdict::Drop { .. } => return,
    };
    {
        let ports = matches!(original.key.proto, 6 | 17);
        assert_eq!(
            rewrite,
            Rewrite::Source {
                address: original.key.dst,
                port: if ports {
                    original.flow_ports.1
                } else {
                    there.flow_ports.1
                },
            },
            "the reply leaves from the frontend the client used"
        );
    }
}

fn check_lines(diags: &[Diagnostic]) {
    for d in diags {
        assert!(d.line >= 1, "diagnostic without a line: {d}");
    }
}

/// The `parse_topology` target: any bytes, as lossy UTF-8, through
/// `parse_str`, which must never panic. An accepted topology compiles into
/// a `Snapshot`, and a UDP packet between each pair of its NIC addresses
/// (up to 6 NICs) is decided to valid NICs; every diagnostic names a line
/// >= 1 (line 0 is for unreadable files).
pub fn parse_topology(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match parse_str("fuzz.yaml", &text) {
        Ok(loaded) => {
            check_lines(&loaded.warnings);
            let snap = Snapshot::compile(loaded.topology, 1);
            let nics = &snap.topology.nics;
            // Every port of the plan (the file's NICs, then the ports vnetd
            // adds) has its tables.
            let ports = snap.plan.ports.len();
            assert_eq!(snap.nics.len(), ports);
            let addresses: Vec<IpAddr> = nics
                .iter()
                .take(SAMPLE)
                .flat_map(|n| n.ip_configurations.iter().take(SAMPLE).map(|c| c.address))
                .collect();
            for (ingress, nic) in nics.iter_enumerated().take(SAMPLE) {
                for src in nic.ip_configurations.iter().take(SAMPLE).map(|c| c.address) {
                    for &dst in &addresses {
                        let Some(packet) = udp(src, dst) else {
                            continue;
                        };
                        match decide(&snap, &Stateless, PortIdx::of_nic(ingress), &packet, 0) {
                            Verdict::Deliver(to) | Verdict::Translate { nic: to, .. } => {
                                assert!(to.index() < ports)
                            }
                            Verdict::Drop { at, .. } => assert!(at.index() < ports),
                        }
                    }
                }
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "refused without a reason");
            check_lines(&errors);
        }
    }
}

/// One's-complement sum of big-endian 16-bit words, an odd last byte
/// padded with zero: the reference the joined datagrams' checksums are
/// checked against.
fn ones_complement_sum(bytes: &[u8]) -> u32 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// Checks a run the coalescer finished against the datagrams pushed into
/// it: one datagram comes back as it was; several come back, split the way
/// the receiving kernel splits them, with every datagram's addresses,
/// ports, TTL and payload, and a valid UDP checksum.
fn check_run(coalescer: &mut UdpCoalescer, run: &[Vec<u8>]) {
    let Some(finished) = coalescer.finish() else {
        assert!(run.is_empty(), "a run of {} vanished", run.len());
        return;
    };
    assert_eq!(finished.datagrams, run.len());
    let bytes: usize = run.iter().map(|p| p.len() - VIRTIO_NET_HDR_LEN).sum();
    assert_eq!(finished.bytes, bytes);
    assert!(finished.packet.len() - VIRTIO_NET_HDR_LEN <= 65_535);
    if run.len() == 1 {
        assert_eq!(finished.packet, &run[0][..]);
        return;
    }
    let segments = segment_like_the_kernel(finished.packet);
    assert_eq!(segments.len(), run.len());
    for (segment, original) in segments.iter().zip(run) {
        let (seg, orig) = (
            &segment[VIRTIO_NET_HDR_LEN..],
            &original[VIRTIO_NET_HDR_LEN..],
        );
        let ipv6 = orig[0] >> 4 == 6;
        let ip_len = if ipv6 { 40 } else { 20 };
        assert_eq!(seg.len(), orig.len());
        // Payload and ports.
        assert_eq!(seg[ip_len + 8..], orig[ip_len + 8..]);
        assert_eq!(seg[ip_len..ip_len + 4], orig[ip_len..ip_len + 4]);
        let pseudo = if ipv6 {
            assert_eq!(seg[..4], orig[..4]);
            assert_eq!(seg[6..40], orig[6..40]);
            ones_complement_sum(&seg[8..40])
        } else {
            assert_eq!(seg[..2], orig[..2]);
            assert_eq!(seg[8..10], orig[8..10]);
            assert_eq!(seg[12..20], orig[12..20]);
            assert_eq!(
                ones_complement_sum(&seg[..20]),
                0xffff,
                "IPv4 header checksum"
            );
            ones_complement_sum(&seg[12..20])
        };
        let udp = &seg[ip_len..];
        let sum = ones_complement_sum(
            &[
                &pseudo.to_be_bytes()[2..],
                &[0, 17],
                &(udp.len() as u16).to_be_bytes(),
            ]
            .concat(),
        ) + ones_complement_sum(udp);
        assert_eq!(
            ones_complement_sum(&sum.to_be_bytes()),
            0xffff,
            "UDP checksum"
        );
    }
}

/// The UDP coalescer on any sequence of packets: records of an egress
/// byte, a 16-bit length and that many bytes (header and IP packet). It
/// must never panic, and every run it joins must split back into exactly
/// the datagrams that went in (see `check_run`).
pub fn coalesce_udp(data: &[u8]) {
    let mut coalescer = UdpCoalescer::new();
    let mut run: Vec<Vec<u8>> = Vec::new();
    let mut rest = data;
    while rest.len() >= 3 {
        let egress = usize::from(rest[0] % 3);
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let packet = rest[3..3 + len].to_vec();
        rest = &rest[3 + len..];
        if coalescer.push(egress, &packet) {
            run.push(packet);
            continue;
        }
        check_run(&mut coalescer, &run);
        run.clear();
        if coalescer.push(egress, &packet) {
            run.push(packet);
        }
    }
    check_run(&mut coalescer, &run);
}

/// The lab whose Azure DNS `answer_dns` asks: Private DNS zones, a
/// registration link, a Private Endpoint and an unlinked VNet.
fn names_lab() -> &'static Snapshot {
    static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| compile("config/private-endpoints.yaml", PRIVATE_ENDPOINTS))
}

/// The `answer_dns` target: byte 0 selects (bit 7: over TCP, else UDP;
/// bits 0-6: the asking VNet of `config/private-endpoints.yaml` modulo
/// its VNet count), the rest is the DNS query given to Azure DNS's
/// `NameTables::answer`, which must never panic. Checks: bytes it calls
/// malformed are shorter than a header or a response, and nothing is
/// written for them; a response carries the query's id and opcode, QR
/// and RA set and RD copied, as many answer records as it says, TC
/// exactly when it says it truncated, and over UDP at most the largest
/// UDP payload.
pub fn answer_dns(data: &[u8]) {
    use vnetd::names::{Outcome, MAX_UDP_PAYLOAD};
    use vnetd::topology::VnetIdx;
    let Some((&select, query)) = data.split_first() else {
        return;
    };
    let snap = names_lab();
    let vnet = VnetIdx::new(usize::from(select & 0x7f) % snap.topology.vnets.len());
    let tcp = select & 0x80 != 0;
    let mut out = vec![0xee; 3];
    let outcome = if tcp {
        snap.names.answer_tcp(vnet, query, &mut out)
    } else {
        snap.names.answer(vnet, query, &mut out)
    };
    let answered = match outcome {
        Outcome::Malformed => {
            assert!(out.is_empty(), "nothing is written for malformed bytes");
            assert!(
                query.len() < 12 || query[2] & 0x80 != 0,
                "a query with a header was called malformed"
            );
            return;
        }
        Outcome::Answered(answered) => answered,
        // The fuzzed lab links no ruleset: nothing is forwarded.
        Outcome::Forward(forwarded) => panic!("forwarded without a ruleset: {forwarded:?}"),
    };
    assert!(out.len() >= 12, "a response has a header");
    assert_eq!(out[..2], query[..2], "the id is copied");
    assert_eq!(out[2] & 0x80, 0x80, "QR is set");
    assert_eq!(out[2] & 0x78, query[2] & 0x78, "the opcode is copied");
    assert_eq!(out[2] & 0x01, query[2] & 0x01, "RD is copied");
    assert_eq!(
        out[2] & 0x04,
        0,
        "Azure DNS answers as a resolver, never AA"
    );
    assert_eq!(out[3] & 0x80, 0x80, "RA is set");
    assert_eq!(out[2] & 0x02 != 0, answered.truncated, "TC says truncated");
    let answers = usize::from(u16::from_be_bytes([out[6], out[7]]));
    assert_eq!(answers, answered.answers, "the answer count");
    assert!(
        !answered.truncated || answers == 0,
        "a truncated answer has no records"
    );
    if !tcp {
        assert!(
            out.len() <= usize::from(MAX_UDP_PAYLOAD),
            "{} bytes over UDP",
            out.len()
        );
    }
}
