//! Golden traces of the per-packet decision: a topology, a packet built
//! byte by byte, the NIC it comes from, and the exact verdict (deliver to
//! which NIC, or drop with which reason at which NIC).

use etherparse::PacketBuilder;
use std::cell::RefCell;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use vnetd::dataplane::decide::Allowed;
use vnetd::dataplane::{decide, Admission, Conntrack, DropReason, PacketView, Stateless, Verdict};
use vnetd::plan::PortIdx;
use vnetd::snapshot::{RuleIdentity, Snapshot};
use vnetd::topology::{self, Direction};

fn hub_spoke_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/hub-spoke.yaml"
    ))
    .unwrap()
}

fn snapshot_of(text: &str) -> Snapshot {
    let loaded = topology::parse_str("test.yaml", text).unwrap_or_else(|e| panic!("{e:?}"));
    Snapshot::compile(loaded.topology, 1)
}

fn nic(snap: &Snapshot, name: &str) -> PortIdx {
    snap.port_by_name(name).unwrap()
}

fn tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .tcp(sport, dport, 1, 64000)
        .write(&mut out, b"payload")
        .unwrap();
    out
}

fn udp(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .udp(4000, 5000)
        .write(&mut out, b"x")
        .unwrap();
    out
}

fn deliver(snap: &Snapshot, to: &str) -> Verdict {
    Verdict::Deliver(nic(snap, to))
}

fn dropped(snap: &Snapshot, reason: DropReason, at: &str) -> Verdict {
    Verdict::dropped(reason, nic(snap, at))
}

/// A drop by an NSG rule, named as the flow logs name it.
fn denied(snap: &Snapshot, reason: DropReason, at: &str, nsg: &str, rule: &str) -> Verdict {
    let identity = RuleIdentity {
        nsg: nsg.into(),
        rule: format!("securityRules/{rule}"),
    };
    Verdict::Drop {
        reason,
        at: nic(snap, at),
        rule: snap.rule_names.id_of(&identity).expect("a compiled rule"),
    }
}

const VM1: [u8; 4] = [10, 1, 1, 4];
const VM2: [u8; 4] = [10, 2, 1, 4];
const NVA: [u8; 4] = [10, 0, 1, 4];
const SHARED: [u8; 4] = [10, 0, 2, 4];

#[test]
fn hub_and_spoke_paths() {
    let s = snapshot_of(&hub_spoke_text());
    let from = |n| nic(&s, n);
    // Spoke to spoke: the user route sends it to the NVA...
    assert_eq!(
        decide(&s, &Stateless, from("vm1"), &udp(VM1, VM2), 0),
        deliver(&s, "nva1")
    );
    // ...and the NVA's forwarded copy reaches vm2 (spoke2 accepts forwarded traffic).
    assert_eq!(
        decide(&s, &Stateless, from("nva1"), &udp(VM1, VM2), 0),
        deliver(&s, "vm2")
    );
    // Spoke to hub over the peering, both ways.
    assert_eq!(
        decide(&s, &Stateless, from("vm1"), &udp(VM1, SHARED), 0),
        deliver(&s, "shared1")
    );
    assert_eq!(
        decide(&s, &Stateless, from("shared1"), &udp(SHARED, VM1), 0),
        deliver(&s, "vm1")
    );
    // vm2's subnet NSG denies telnet, even when the NVA carries it.
    assert_eq!(
        decide(&s, &Stateless, from("nva1"), &tcp(VM1, VM2, 40000, 23), 0),
        denied(
            &s,
            DropReason::NsgInbound,
            "vm2",
            "spoke2-app-nsg",
            "deny-telnet"
        )
    );
    assert_eq!(
        decide(&s, &Stateless, from("nva1"), &tcp(VM1, VM2, 40000, 22), 0),
        deliver(&s, "vm2")
    );
}

#[test]
fn drops_and_their_reasons() {
    let s = snapshot_of(&hub_spoke_text());
    let from = |n| nic(&s, n);
    // Spoofed source from a NIC without IP forwarding.
    assert_eq!(
        decide(&s, &Stateless, from("vm1"), &udp([10, 1, 1, 99], SHARED), 0),
        dropped(&s, DropReason::SourceCheck, "vm1")
    );
    // The NVA forwards, so it may send from other addresses.
    assert_eq!(
        decide(
            &s,
            &Stateless,
            from("nva1"),
            &udp([10, 1, 1, 99], SHARED),
            0
        ),
        deliver(&s, "shared1")
    );
    assert_eq!(
        decide(&s, &Stateless, from("vm1"), &udp(VM1, [8, 8, 8, 8]), 0),
        dropped(&s, DropReason::NextHopInternet, "vm1")
    );
    assert_eq!(
        decide(&s, &Stateless, from("vm1"), &udp(VM1, [10, 9, 9, 9]), 0),
        dropped(&s, DropReason::RouteNone, "vm1")
    );
    assert_eq!(
        decide(&s, &Stateless, from("vm1"), &udp(VM1, [10, 1, 1, 77]), 0),
        dropped(&s, DropReason::NoDestination, "vm1")
    );
    assert_eq!(
        decide(&s, &Stateless, from("vm1"), &udp(VM1, [224, 0, 0, 5]), 0),
        dropped(&s, DropReason::Unroutable, "vm1")
    );
    assert_eq!(
        decide(&s, &Stateless, from("vm1"), &[0x45, 0, 0], 0),
        dropped(&s, DropReason::Malformed, "vm1")
    );
    // Non-transitive: shared1 (hub) has no route to a spoke-to-spoke
    // address other than over its own peerings, and the NVA does not
    // receive packets it would have to forward from a NIC... the hub's
    // routes to spoke2 are direct peering routes.
    assert_eq!(
        decide(&s, &Stateless, from("shared1"), &udp(SHARED, VM2), 0),
        deliver(&s, "vm2")
    );
}

#[test]
fn appliance_without_ip_forwarding_fails_the_destination_check() {
    let text = hub_spoke_text().replacen(
        "    ip_forwarding_enabled: true\n",
        "    ip_forwarding_enabled: false\n",
        1,
    );
    let s = snapshot_of(&text);
    assert_eq!(
        decide(&s, &Stateless, nic(&s, "vm1"), &udp(VM1, VM2), 0),
        dropped(&s, DropReason::DestinationCheck, "nva1")
    );
    // And it may not send packets of other sources either.
    assert_eq!(
        decide(&s, &Stateless, nic(&s, "nva1"), &udp(VM1, VM2), 0),
        dropped(&s, DropReason::SourceCheck, "nva1")
    );
}

#[test]
fn spoke_refusing_forwarded_traffic() {
    let text = hub_spoke_text().replace(
        "  - name: spoke2-to-hub\n    virtual_network: spoke2\n    remote_virtual_network: hub\n    allow_forwarded_traffic: true\n",
        "  - name: spoke2-to-hub\n    virtual_network: spoke2\n    remote_virtual_network: hub\n    allow_forwarded_traffic: false\n",
    );
    let s = snapshot_of(&text);
    assert_eq!(
        decide(&s, &Stateless, nic(&s, "nva1"), &udp(VM1, VM2), 0),
        dropped(&s, DropReason::ForwardedTrafficRefused, "vm2")
    );
    // Traffic that starts in the hub is not forwarded traffic.
    assert_eq!(
        decide(&s, &Stateless, nic(&s, "nva1"), &udp(NVA, VM2), 0),
        deliver(&s, "vm2")
    );
}

#[test]
fn peering_access_off_and_one_sided_peering() {
    let text = hub_spoke_text().replace(
        "  - name: hub-to-spoke1\n    virtual_network: hub\n    remote_virtual_network: spoke1\n",
        "  - name: hub-to-spoke1\n    virtual_network: hub\n    remote_virtual_network: spoke1\n    allow_virtual_network_access: false\n",
    );
    let s = snapshot_of(&text);
    assert_eq!(
        decide(&s, &Stateless, nic(&s, "vm1"), &udp(VM1, SHARED), 0),
        dropped(&s, DropReason::PeeringAccessOff, "vm1")
    );
    assert_eq!(
        decide(&s, &Stateless, nic(&s, "shared1"), &udp(SHARED, VM1), 0),
        dropped(&s, DropReason::PeeringAccessOff, "shared1")
    );
    // Without the spoke's link the peering is Initiated: no routes, nothing flows.
    let text = hub_spoke_text().replace(
        "  - name: spoke1-to-hub\n    virtual_network: spoke1\n    remote_virtual_network: hub\n    allow_forwarded_traffic: true\n",
        "",
    );
    let s = snapshot_of(&text);
    assert_eq!(
        decide(&s, &Stateless, nic(&s, "vm1"), &udp(VM1, SHARED), 0),
        dropped(&s, DropReason::RouteNone, "vm1")
    );
    assert_eq!(
        decide(&s, &Stateless, nic(&s, "shared1"), &udp(SHARED, VM1), 0),
        dropped(&s, DropReason::RouteNone, "shared1")
    );
}

/// A plain reference connection tracker: a set of (NIC, direction,
/// 5-tuple) admitted so far.
/// (NIC, direction, protocol, source, destination, source port, destination port)
type TrackedFlow = (
    PortIdx,
    Direction,
    u8,
    std::net::IpAddr,
    std::net::IpAddr,
    u16,
    u16,
);

#[derive(Default)]
struct SetConntrack(RefCell<HashSet<TrackedFlow>>);

impl Conntrack for SetConntrack {
    fn admitted(
        &self,
        nic: PortIdx,
        direction: Direction,
        p: &PacketView,
        _: u64,
    ) -> Option<Admission> {
        let (s, d) = p.flow_ports;
        let other = match direction {
            Direction::Inbound => Direction::Outbound,
            Direction::Outbound => Direction::Inbound,
        };
        let set = self.0.borrow();
        if set.contains(&(nic, direction, p.key.proto, p.key.src, p.key.dst, s, d)) {
            return Some(Admission {
                generation: 1,
                reply: false,
                ..Default::default()
            });
        }
        set.contains(&(nic, other, p.key.proto, p.key.dst, p.key.src, d, s))
            .then_some(Admission {
                generation: 1,
                reply: true,
                ..Default::default()
            })
    }
    fn admit(
        &self,
        nic: PortIdx,
        direction: Direction,
        p: &PacketView,
        _: Allowed,
        _: u64,
        _: u64,
    ) {
        let (s, d) = p.flow_ports;
        self.0
            .borrow_mut()
            .insert((nic, direction, p.key.proto, p.key.src, p.key.dst, s, d));
    }
    fn refresh(&self, _: PortIdx, _: Direction, _: &PacketView, _: Admission, _: Allowed, _: u64) {}
    fn revoke(&self, _: PortIdx, _: Direction, _: &PacketView, _: Admission, _: u64) {}
}

#[test]
fn replies_pass_by_state_while_new_inbound_flows_are_denied() {
    // vm1's subnet NSG denies all inbound TCP from spoke2 but allows its own
    // outbound connections; replies come back by state.
    let text = hub_spoke_text().replace(
        "        route_table: spoke1-rt\n",
        "        route_table: spoke1-rt\n        network_security_group: spoke1-nsg\n",
    ) + "  - name: spoke1-nsg\n    security_rules:\n      - {name: deny-spoke2-in, priority: 100, direction: Inbound, access: Deny, protocol: Tcp, source_port_range: '*', destination_port_range: '*', source_address_prefix: 10.2.0.0/16, destination_address_prefix: '*'}\n";
    let s = snapshot_of(&text);
    let flows = SetConntrack::default();
    let (vm1, nva, vm2) = (nic(&s, "vm1"), nic(&s, "nva1"), nic(&s, "vm2"));
    // A connection started by vm2 is denied at vm1.
    assert_eq!(
        decide(&s, &flows, nva, &tcp(VM2, VM1, 50000, 22), 0),
        denied(
            &s,
            DropReason::NsgInbound,
            "vm1",
            "spoke1-nsg",
            "deny-spoke2-in"
        )
    );
    // Stateless evaluation would deny vm2's reply to vm1's connection too...
    assert_eq!(
        decide(&s, &Stateless, nva, &tcp(VM2, VM1, 22, 40000), 0),
        denied(
            &s,
            DropReason::NsgInbound,
            "vm1",
            "spoke1-nsg",
            "deny-spoke2-in"
        )
    );
    // ...but once vm1 opened it, the reply is admitted by state.
    assert_eq!(
        decide(&s, &flows, vm1, &tcp(VM1, VM2, 40000, 22), 0),
        Verdict::Deliver(nva)
    );
    assert_eq!(
        decide(&s, &flows, nva, &tcp(VM1, VM2, 40000, 22), 0),
        Verdict::Deliver(vm2)
    );
    assert_eq!(
        decide(&s, &flows, vm2, &tcp(VM2, VM1, 22, 40000), 0),
        Verdict::Deliver(nva)
    );
    assert_eq!(
        decide(&s, &flows, nva, &tcp(VM2, VM1, 22, 40000), 0),
        Verdict::Deliver(vm1)
    );
    // A different port is a different flow, and is denied.
    assert_eq!(
        decide(&s, &flows, nva, &tcp(VM2, VM1, 22, 40001), 0),
        denied(
            &s,
            DropReason::NsgInbound,
            "vm1",
            "spoke1-nsg",
            "deny-spoke2-in"
        )
    );
    let _ = Ipv4Addr::LOCALHOST;
}

/// Splits an IPv4 packet into two fragments at `at` bytes of its payload
/// (a multiple of 8), with identification `ident`, as a kernel would.
fn ipv4_fragments(packet: &[u8], ident: u16, at: usize) -> (Vec<u8>, Vec<u8>) {
    let (header, payload) = packet.split_at(20);
    let piece = |data: &[u8], offset: usize, more: bool| {
        let mut out = header.to_vec();
        out[2..4].copy_from_slice(&((20 + data.len()) as u16).to_be_bytes());
        out[4..6].copy_from_slice(&ident.to_be_bytes());
        let flags = ((offset / 8) as u16) | if more { 0x2000 } else { 0 };
        out[6..8].copy_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(data);
        out
    };
    (
        piece(&payload[..at], 0, true),
        piece(&payload[at..], at, false),
    )
}

/// A 3000-byte UDP datagram from shared1 to vm2, cut into two fragments.
fn big_udp(dport: u16, ident: u16) -> (Vec<u8>, Vec<u8>) {
    let mut out = Vec::new();
    PacketBuilder::ipv4([10, 0, 2, 4], VM2, 64)
        .udp(40000, dport)
        .write(&mut out, &[7u8; 3000])
        .unwrap();
    ipv4_fragments(&out, ident, 1480)
}

#[test]
fn later_fragments_follow_their_first_fragments_verdict() {
    // vm2's subnet admits UDP 5201 only.
    let text = hub_spoke_text().replace(
        "    security_rules:\n      - name: deny-telnet\n",
        "    security_rules:\n      - {name: allow-iperf, priority: 200, direction: Inbound, access: Allow, protocol: Udp, source_port_range: '*', destination_port_range: '5201', source_address_prefix: '*', destination_address_prefix: '*'}\n      - {name: deny-rest, priority: 4000, direction: Inbound, access: Deny, protocol: '*', source_port_range: '*', destination_port_range: '*', source_address_prefix: '*', destination_address_prefix: '*'}\n      - name: deny-telnet\n",
    );
    let snap = snapshot_of(&text);
    let flows = vnetd::engine::flow_table::FlowTable::new(1024, 64, 0);
    let shared1 = nic(&snap, "shared1");
    // Allowed port: both fragments reach vm2.
    let (first, second) = big_udp(5201, 1);
    assert_eq!(
        decide(&snap, &flows, shared1, &first, 10),
        deliver(&snap, "vm2")
    );
    assert_eq!(
        decide(&snap, &flows, shared1, &second, 11),
        deliver(&snap, "vm2")
    );
    // Without its first fragment, a later one has no ports to be judged by.
    let (_, orphan) = big_udp(5201, 2);
    assert_eq!(
        decide(&snap, &flows, shared1, &orphan, 12),
        dropped(&snap, DropReason::FragmentUnmatched, "shared1")
    );
    // A denied first fragment takes its datagram's later ones with it.
    let (first, second) = big_udp(5202, 3);
    assert_eq!(
        decide(&snap, &flows, shared1, &first, 13),
        denied(
            &snap,
            DropReason::NsgInbound,
            "vm2",
            "spoke2-app-nsg",
            "deny-rest"
        )
    );
    assert_eq!(
        decide(&snap, &flows, shared1, &second, 14),
        dropped(&snap, DropReason::FragmentUnmatched, "shared1")
    );
    // With no memory (the stateless reference), later fragments are never
    // matched.
    let (first, second) = big_udp(5201, 4);
    assert_eq!(
        decide(&snap, &Stateless, shared1, &first, 15),
        deliver(&snap, "vm2")
    );
    assert_eq!(
        decide(&snap, &Stateless, shared1, &second, 16),
        dropped(&snap, DropReason::FragmentUnmatched, "shared1")
    );
    // The same datagram identity from another NIC is another datagram.
    let (_, second) = big_udp(5201, 1);
    let vm1 = nic(&snap, "vm1");
    assert_eq!(
        decide(&snap, &flows, vm1, &second, 17),
        dropped(&snap, DropReason::FragmentUnmatched, "vm1")
    );
}
