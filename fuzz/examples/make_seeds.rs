//! Writes the seed inputs of the `decide_packet` target into
//! `fuzz/seeds/decide_packet/`, those of `balance_packet` into
//! `fuzz/seeds/balance_packet/`, those of `coalesce_udp` into
//! `fuzz/seeds/coalesce_udp/` and those of `answer_dns` into
//! `fuzz/seeds/answer_dns/` (checked in; rerun after changing them):
//!
//! ```sh
//! cd fuzz && cargo run --example make_seeds
//! ```
//!
//! Each seed is the selector byte of the target (bit 0 stateful, bits 1-2
//! the topology, bits 3.. ingress port) followed by a real packet between
//! the ports of that topology.

use etherparse::PacketBuilder;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// The topologies of the target, by selector value.
const HUB_SPOKE: u8 = 0;
const DUAL_STACK: u8 = 1;
const HYBRID: u8 = 2;
const VNET2VNET: u8 = 3;

/// NIC indices in file order (a gateway's ports come after the file's NICs).
const NVA1: u8 = 0;
const VM1: u8 = 2;
const VM2: u8 = 3;
const SHARED1: u8 = 1;
const LEFT_VM: u8 = 0;
const RIGHT_VM: u8 = 1;
const HYBRID_VM1: u8 = 1;
const HYBRID_TUNNEL: u8 = 4;
const HYBRID_GATEWAY: u8 = 3;
const V2V_ONPREM_VM: u8 = 2;
const V2V_FW1: u8 = 0;

fn select(nic: u8, topology: u8, stateful: bool) -> u8 {
    (nic << 3) | (topology << 1) | u8::from(stateful)
}

fn v4(s: &str) -> [u8; 4] {
    s.parse::<Ipv4Addr>().unwrap().octets()
}

fn v6(s: &str) -> [u8; 16] {
    s.parse::<Ipv6Addr>().unwrap().octets()
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/decide_packet");
    std::fs::create_dir_all(&dir).unwrap();
    let mut seeds: Vec<(&str, u8, Vec<u8>)> = Vec::new();
    let mut out = |name, sel, packet: Vec<u8>| seeds.push((name, sel, packet));

    let (vm1, vm2, nva1, shared1) = (
        v4("10.1.1.4"),
        v4("10.2.1.4"),
        v4("10.0.1.4"),
        v4("10.0.2.4"),
    );

    let mut p = Vec::new();
    PacketBuilder::ipv4(vm1, vm2, 64)
        .udp(5000, 53)
        .write(&mut p, b"query")
        .unwrap();
    out("v4-udp-vm1-vm2", select(VM1, HUB_SPOKE, false), p.clone());
    out("v4-udp-nva1-forwards", select(NVA1, HUB_SPOKE, true), p);

    let mut p = Vec::new();
    PacketBuilder::ipv4(vm1, vm2, 64)
        .tcp(40000, 22, 1, 64240)
        .syn()
        .write(&mut p, &[])
        .unwrap();
    out("v4-tcp-syn-vm1-vm2", select(VM1, HUB_SPOKE, true), p);

    let mut p = Vec::new();
    PacketBuilder::ipv4(vm1, vm2, 64)
        .tcp(40001, 23, 1, 64240)
        .syn()
        .write(&mut p, &[])
        .unwrap();
    out("v4-tcp-telnet-denied", select(NVA1, HUB_SPOKE, false), p);

    let mut p = Vec::new();
    PacketBuilder::ipv4(vm1, shared1, 64)
        .icmpv4_echo_request(0x4242, 1)
        .write(&mut p, b"ping")
        .unwrap();
    out("v4-icmp-echo-vm1-shared1", select(VM1, HUB_SPOKE, true), p);

    let mut p = Vec::new();
    PacketBuilder::ipv4(vm2, nva1, 64)
        .icmpv4_raw(3, 3, [0; 4])
        .write(&mut p, &[0x45, 0, 0, 28])
        .unwrap();
    out("v4-icmp-unreachable", select(VM2, HUB_SPOKE, false), p);

    // A second fragment (offset 8 units): no transport header to read.
    let mut p = Vec::new();
    PacketBuilder::ipv4(vm1, vm2, 64)
        .udp(5000, 53)
        .write(&mut p, b"fragment")
        .unwrap();
    p[6] = 0x00;
    p[7] = 0x08;
    out("v4-udp-later-fragment", select(VM1, HUB_SPOKE, false), p);

    // A first fragment (offset 0, more fragments), stateful: the target
    // then sends its later fragment after it.
    let mut p = Vec::new();
    PacketBuilder::ipv4(shared1, vm2, 64)
        .udp(40000, 5201)
        .write(&mut p, &[7u8; 64])
        .unwrap();
    p[4..6].copy_from_slice(&[0x12, 0x34]);
    p[6] = 0x20;
    out("v4-udp-first-fragment", select(SHARED1, HUB_SPOKE, true), p);

    let (left4, right4) = (v4("10.60.1.4"), v4("10.70.1.4"));
    let (left6, right6) = (v6("fd00:10:0:1::4"), v6("fd00:20:0:1::4"));

    let mut p = Vec::new();
    PacketBuilder::ipv4(left4, right4, 64)
        .udp(6000, 6001)
        .write(&mut p, b"x")
        .unwrap();
    out("v4-udp-left-right", select(LEFT_VM, DUAL_STACK, false), p);

    let mut p = Vec::new();
    PacketBuilder::ipv6(left6, right6, 64)
        .tcp(40000, 443, 1, 64240)
        .syn()
        .write(&mut p, &[])
        .unwrap();
    out(
        "v6-tcp-syn-left-right",
        select(LEFT_VM, DUAL_STACK, true),
        p,
    );

    let mut p = Vec::new();
    PacketBuilder::ipv6(right6, left6, 64)
        .udp(53, 5353)
        .write(&mut p, b"answer")
        .unwrap();
    out(
        "v6-udp-right-left",
        select(RIGHT_VM, DUAL_STACK, false),
        p.clone(),
    );

    // The same datagram behind a fragment header: the first fragment, and
    // a later one (offset 8 units).
    for (name, offset_and_more) in [
        ("v6-udp-first-fragment", 0x0001u16),
        ("v6-udp-later-fragment", 0x0040),
    ] {
        let (header, payload) = p.split_at(40);
        let mut f = header.to_vec();
        f[6] = 44;
        f[4..6].copy_from_slice(&((payload.len() + 8) as u16).to_be_bytes());
        f.extend_from_slice(&[17, 0]);
        f.extend_from_slice(&offset_and_more.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0x56, 0x78]);
        f.extend_from_slice(payload);
        out(name, select(RIGHT_VM, DUAL_STACK, true), f);
    }

    let mut p = Vec::new();
    PacketBuilder::ipv6(left6, right6, 64)
        .icmpv6_echo_request(7, 1)
        .write(&mut p, b"ping")
        .unwrap();
    out(
        "v6-icmp-echo-left-right",
        select(LEFT_VM, DUAL_STACK, true),
        p,
    );

    // IPv6 with a hop-by-hop options header (PadN) in front of UDP.
    let mut p = Vec::new();
    PacketBuilder::ipv6(left6, right6, 64)
        .udp(7000, 7001)
        .write(&mut p, b"hbh")
        .unwrap();
    let (header, rest) = p.split_at(40);
    let mut with_hbh = header.to_vec();
    with_hbh[6] = 0; // next header: hop-by-hop
    let payload_len = u16::from_be_bytes([with_hbh[4], with_hbh[5]]) + 8;
    with_hbh[4..6].copy_from_slice(&payload_len.to_be_bytes());
    with_hbh.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
    with_hbh.extend_from_slice(rest);
    out(
        "v6-hop-by-hop-udp",
        select(LEFT_VM, DUAL_STACK, false),
        with_hbh,
    );

    // Through gateways: a transit spoke to the branch, the branch's tunnel
    // to the spoke, the gateway instance's BGP session, and the Vnet2Vnet
    // design's on-premises VNet to the spoke through the hub's firewall.
    let (branch, peer, gw_peer) = (v4("192.168.1.10"), v4("192.168.255.1"), v4("10.0.255.254"));
    let mut p = Vec::new();
    PacketBuilder::ipv4(vm1, branch, 64)
        .tcp(40002, 443, 1, 64240)
        .syn()
        .write(&mut p, &[])
        .unwrap();
    out(
        "v4-tcp-spoke-to-branch",
        select(HYBRID_VM1, HYBRID, true),
        p,
    );
    let mut p = Vec::new();
    PacketBuilder::ipv4(branch, vm1, 64)
        .icmpv4_echo_request(0x4343, 1)
        .write(&mut p, b"ping")
        .unwrap();
    out(
        "v4-icmp-branch-to-spoke",
        select(HYBRID_TUNNEL, HYBRID, false),
        p,
    );
    let mut p = Vec::new();
    PacketBuilder::ipv4(gw_peer, peer, 1)
        .tcp(179, 40003, 1, 64240)
        .write(&mut p, b"bgp")
        .unwrap();
    out(
        "v4-tcp-gateway-bgp-session",
        select(HYBRID_GATEWAY, HYBRID, true),
        p,
    );
    let mut p = Vec::new();
    PacketBuilder::ipv4(v4("192.168.1.4"), v4("10.6.1.4"), 64)
        .udp(5001, 53)
        .write(&mut p, b"v2v")
        .unwrap();
    out(
        "v4-udp-vnet2vnet-onprem-to-spoke",
        select(V2V_ONPREM_VM, VNET2VNET, false),
        p.clone(),
    );
    out(
        "v4-udp-vnet2vnet-firewall-on",
        select(V2V_FW1, VNET2VNET, true),
        p,
    );

    for (name, sel, packet) in seeds {
        let mut bytes = vec![sel];
        bytes.extend_from_slice(&packet);
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    load_balancer_seeds();
    coalescer_seeds();
    dns_seeds();
}

/// Seeds of the `coalesce_udp` target, into `fuzz/seeds/coalesce_udp/`:
/// records of an egress byte, a 16-bit length and a packet behind a
/// virtio-net header (all zero: plain packets).
fn coalescer_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/coalesce_udp");
    std::fs::create_dir_all(&dir).unwrap();
    let datagram = |v6_addresses: bool, payload: &[u8]| {
        let mut packet = vec![0u8; 10];
        let builder = if v6_addresses {
            PacketBuilder::ipv6(v6("fd00:10:0:1::4"), v6("fd00:20:0:1::4"), 64)
        } else {
            PacketBuilder::ipv4(v4("10.1.1.4"), v4("10.0.2.4"), 64)
        };
        builder
            .udp(40000, 5201)
            .write(&mut packet, payload)
            .unwrap();
        packet
    };
    let record = |egress: u8, packet: &[u8]| {
        let mut bytes = vec![egress];
        bytes.extend_from_slice(&(packet.len() as u16).to_be_bytes());
        bytes.extend_from_slice(packet);
        bytes
    };
    let mut tcp = vec![0u8; 10];
    PacketBuilder::ipv4(v4("10.1.1.4"), v4("10.0.2.4"), 64)
        .tcp(40000, 80, 1, 1000)
        .write(&mut tcp, b"GET")
        .unwrap();
    let run = |v6_addresses: bool, count: usize, last: usize| {
        let mut bytes = Vec::new();
        for i in 0..count {
            let len = if i + 1 == count { last } else { 1400 };
            bytes.extend(record(0, &datagram(v6_addresses, &vec![i as u8; len])));
        }
        bytes
    };
    let mut mixed = run(false, 3, 1400);
    mixed.extend(record(1, &datagram(false, b"other egress")));
    mixed.extend(record(1, &tcp));
    mixed.extend(run(true, 4, 100));
    let seeds: [(&str, Vec<u8>); 4] = [
        ("v4-run-short-last", run(false, 40, 300)),
        ("v6-run", run(true, 5, 1400)),
        ("lone-datagram", record(2, &datagram(false, b"alone"))),
        ("mixed", mixed),
    ];
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// Seeds of the `balance_packet` target, into `fuzz/seeds/balance_packet/`:
/// the selector byte (bit 0 a partial checksum, bits 1.. the ingress port
/// of `config/ha-nva.yaml`) followed by a packet that meets its load
/// balancers.
fn load_balancer_seeds() {
    // Ports of config/ha-nva.yaml in file order; the prober comes last.
    const NVA1: u8 = 0;
    const WEB1: u8 = 2;
    const VM1: u8 = 4;
    const VM2: u8 = 5;
    const PROBER: u8 = 6;
    let select = |nic: u8, partial: bool| (nic << 1) | u8::from(partial);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/balance_packet");
    std::fs::create_dir_all(&dir).unwrap();
    let (vm1, vm2, web1, web_fe, nva_fe, prober) = (
        v4("10.1.1.4"),
        v4("10.2.1.4"),
        v4("10.0.2.4"),
        v4("10.0.2.100"),
        v4("10.0.1.100"),
        v4("168.63.129.16"),
    );
    let tcp = |src, dst, sport, dport| {
        let mut p = Vec::new();
        PacketBuilder::ipv4(src, dst, 64)
            .tcp(sport, dport, 1, 64240)
            .syn()
            .write(&mut p, b"GET / HTTP/1.1\r\n\r\n")
            .unwrap();
        p
    };
    let udp = |src, dst, sport, dport| {
        let mut p = Vec::new();
        PacketBuilder::ipv4(src, dst, 64)
            .udp(sport, dport)
            .write(&mut p, b"query")
            .unwrap();
        p
    };
    let mut ping = Vec::new();
    PacketBuilder::ipv4(vm1, nva_fe, 64)
        .icmpv4_echo_request(0x4c42, 1)
        .write(&mut ping, b"ping")
        .unwrap();
    let mut six = Vec::new();
    PacketBuilder::ipv6(v6("fd00::4"), v6("fd00::100"), 64)
        .udp(5000, 53)
        .write(&mut six, b"six")
        .unwrap();
    let seeds: [(&str, u8, Vec<u8>); 8] = [
        (
            "v4-tcp-to-web-frontend",
            select(VM1, false),
            tcp(vm1, web_fe, 40000, 80),
        ),
        (
            "v4-tcp-to-web-frontend-partial",
            select(VM1, true),
            tcp(vm1, web_fe, 40001, 80),
        ),
        (
            "v4-tcp-web1-reply",
            select(WEB1, false),
            tcp(web1, vm1, 80, 40000),
        ),
        (
            "v4-tcp-web1-hairpin",
            select(WEB1, false),
            tcp(web1, web_fe, 40002, 80),
        ),
        (
            "v4-udp-ha-ports-next-hop",
            select(VM1, true),
            udp(vm1, vm2, 5000, 53),
        ),
        (
            "v4-udp-ha-ports-reply",
            select(VM2, false),
            udp(vm2, vm1, 53, 5000),
        ),
        ("v4-icmp-to-ha-ports-frontend", select(NVA1, false), ping),
        (
            "v4-tcp-probe-to-web1",
            select(PROBER, false),
            tcp(prober, web1, 50000, 80),
        ),
    ];
    for (name, sel, packet) in seeds {
        let mut bytes = vec![sel];
        bytes.extend_from_slice(&packet);
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let mut bytes = vec![select(VM1, false)];
    bytes.extend_from_slice(&six);
    std::fs::write(dir.join("v6-udp-no-such-frontend"), bytes).unwrap();
}

/// A DNS query as a stub resolver writes it: header (RD set), one
/// question of class IN, and an OPT record offering `edns` bytes.
fn dns_query(id: u16, name: &str, qtype: u16, edns: Option<u16>) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    if let Some(size) = edns {
        q.extend_from_slice(&[0, 0, 41]);
        q.extend_from_slice(&size.to_be_bytes());
        q.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    }
    q
}

/// Queries to the Azure DNS of `config/private-endpoints.yaml`: the
/// selector byte (bit 7 TCP, bits 0-6 the VNet: 0 hub, 1 spoke1, 2
/// spoke2, 3 partner), then the query.
fn dns_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/answer_dns");
    std::fs::create_dir_all(&dir).unwrap();
    const A: u16 = 1;
    const CNAME: u16 = 5;
    const AAAA: u16 = 28;
    const TXT: u16 = 16;
    let (hub, spoke1, partner, tcp) = (0u8, 1u8, 3u8, 0x80u8);
    let storage = "stcontoso.blob.core.windows.net";
    let mut status = dns_query(9, "vm1.contoso.internal", A, None);
    status[2] |= 2 << 3;
    let seeds: Vec<(&str, u8, Vec<u8>)> = vec![
        (
            "a-storage-from-spoke1",
            spoke1,
            dns_query(1, storage, A, None),
        ),
        (
            "a-storage-from-partner",
            partner,
            dns_query(2, storage, A, None),
        ),
        (
            "a-storage-edns-over-tcp",
            spoke1 | tcp,
            dns_query(3, storage, A, Some(1232)),
        ),
        (
            "cname-files-from-hub",
            hub,
            dns_query(4, "files.contoso.internal", CNAME, None),
        ),
        (
            "a-registered-vm",
            hub,
            dns_query(5, "vm1.contoso.internal", A, Some(4096)),
        ),
        (
            "aaaa-nodata",
            spoke1,
            dns_query(6, "shared.contoso.internal", AAAA, None),
        ),
        (
            "a-vm-name",
            spoke1,
            dns_query(7, "vm1.internal.cloudapp.net", A, None),
        ),
        (
            "txt-nxdomain",
            partner,
            dns_query(8, "nosuch.privatelink.blob.core.windows.net", TXT, None),
        ),
        ("status-opcode", hub, status),
    ];
    for (name, sel, query) in seeds {
        let mut bytes = vec![sel];
        bytes.extend_from_slice(&query);
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
