//! Golden traces of the per-packet decision. The cases are data:
//! `tests/golden/decisions/cases.yaml` gives a topology, how flows are
//! tracked and packets built byte by byte with the NIC each comes from;
//! `<case>.snap` beside it holds the exact verdict of each (deliver to
//! which NIC, or drop with which reason at which NIC, and by which NSG
//! rule).

use crate::common::golden_cases::{check_cases, Case};
use etherparse::PacketBuilder;
use std::cell::RefCell;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use vnetd::dataplane::decide::Allowed;
use vnetd::dataplane::{decide, Admission, Conntrack, PacketView, Stateless, Verdict};
use vnetd::engine::flow_table::FlowTable;
use vnetd::plan::PortIdx;
use vnetd::snapshot::Snapshot;
use vnetd::topology::{self, Direction};

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

impl vnetd::dataplane::DecisionObserver for SetConntrack {}

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

/// `ADDRESS` or `ADDRESS:PORT`, the port `default` when not written.
fn endpoint(text: &str, default: u16) -> ([u8; 4], u16) {
    let (address, port) = match text.split_once(':') {
        Some((address, port)) => (address, port.parse().expect("a port")),
        None => (text, default),
    };
    let address: Ipv4Addr = address.parse().expect("an IPv4 address");
    (address.octets(), port)
}

/// The packet of one step (see `cases.yaml`), and how the snapshot
/// names it.
fn packet(step: &Case) -> (Vec<u8>, String) {
    if let Some(bytes) = step.optional("bytes") {
        let bytes: Vec<u8> = bytes
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).expect("a hex byte"))
            .collect();
        let text = bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>();
        return (bytes, format!("bytes {}", text.join(" ")));
    }
    let (protocol, flow) = match (step.optional("udp"), step.optional("tcp")) {
        (Some(flow), None) => ("udp", flow),
        (None, Some(flow)) => ("tcp", flow),
        _ => panic!("case {}: a packet is udp, tcp or bytes", step.name),
    };
    let (src, dst) = flow.split_once(" > ").expect("SRC > DST");
    let ((src, sport), (dst, dport)) = (endpoint(src, 4000), endpoint(dst, 5000));
    let payload = match step.optional("payload") {
        Some(size) => vec![7u8; size.parse().expect("a payload size")],
        None if protocol == "udp" => b"x".to_vec(),
        None => b"payload".to_vec(),
    };
    let builder = PacketBuilder::ipv4(src, dst, 64);
    let mut out = Vec::new();
    match protocol {
        "udp" => builder.udp(sport, dport).write(&mut out, &payload),
        _ => builder
            .tcp(sport, dport, 1, 64000)
            .write(&mut out, &payload),
    }
    .expect("a packet");
    let [a, b, c, d] = src;
    let [e, f, g, h] = dst;
    let mut text = format!("{protocol} {a}.{b}.{c}.{d}:{sport} > {e}.{f}.{g}.{h}:{dport}");
    if step.optional("payload").is_some() {
        text += &format!(", {} bytes", payload.len());
    }
    if let Some(which) = step.optional("fragment") {
        let ident: u16 = step.text("ident").parse().expect("an ident");
        let (first, second) = ipv4_fragments(&out, ident, 1480);
        out = if which == "first" { first } else { second };
        text += &format!(", {which} fragment (id {ident})");
    }
    (out, text)
}

/// A verdict in words: `deliver to NIC`, or `drop REASON at NIC` and the
/// NSG rule that denied it.
fn verdict(snap: &Snapshot, verdict: Verdict) -> String {
    let name = |port: PortIdx| snap.plan.ports[port].name.clone();
    match verdict {
        Verdict::Deliver(to) => format!("deliver to {}", name(to)),
        Verdict::Translate { nic, rewrite } => format!("translate {rewrite:?} to {}", name(nic)),
        Verdict::Drop { reason, at, rule } => {
            let by = match snap.rule_names.get(rule) {
                Some(r) => format!(" by {} {}", r.nsg, r.rule),
                None if rule.is_none() => String::new(),
                None => format!(" by unknown rule {}", rule.tag()),
            };
            format!("drop {reason:?} at {}{by}", name(at))
        }
    }
}

/// The case's topology, with its edits.
fn topology_text(case: &Case) -> String {
    let file = case.text("topology");
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for edit in case.list("edits") {
        let replace = edit.text("replace");
        assert!(
            text.contains(&replace),
            "case {}: no `{replace}` in {file}",
            case.name
        );
        text = text.replace(&replace, &edit.text("with"));
    }
    text + &case.optional("append").unwrap_or_default()
}

/// Every packet of the case decided in order, one line each.
fn decisions(case: &Case) -> String {
    let loaded = topology::parse_str("test.yaml", &topology_text(case))
        .unwrap_or_else(|e| panic!("case {}: {e:?}", case.name));
    let snap = Snapshot::compile(loaded.topology, 1);
    let kind = case.text("flows");
    let reference = SetConntrack::default();
    let table = FlowTable::new(1024, 64, 0);
    let flows: &dyn Conntrack = match kind.as_str() {
        "stateless" => &Stateless,
        "reference" => &reference,
        "flow table" => &table,
        other => panic!("case {}: no tracker `{other}`", case.name),
    };
    let mut out = format!("flows tracked by: {kind}\n");
    for step in case.list("packets") {
        let from = step.text("from");
        let port = snap
            .port_by_name(&from)
            .unwrap_or_else(|| panic!("case {}: no NIC {from}", case.name));
        let (bytes, mut text) = packet(&step);
        let tracker = match step.optional("tracker").as_deref() {
            None => flows,
            Some("stateless") => {
                text += " [stateless]";
                &Stateless
            }
            Some(other) => panic!(
                "case {}: a step's tracker is stateless, not {other}",
                case.name
            ),
        };
        let at_ms: u64 = step
            .optional("at_ms")
            .map_or(0, |t| t.parse().expect("a time"));
        if at_ms != 0 {
            text += &format!(" at {at_ms} ms");
        }
        let got = decide(&snap, tracker, port, &bytes, at_ms);
        out += &format!("{from}: {text} => {}\n", verdict(&snap, got));
    }
    out
}

#[test]
fn golden_decisions() {
    check_cases("tests/golden/decisions", decisions);
}
