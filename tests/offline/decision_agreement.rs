//! Forwarding, `flow-verify` and `trace` name the same stage and rule, on
//! generated files (security admin rules in two configurations, then a
//! subnet NSG and a NIC NSG, drawn at random) and packets between two
//! peered VNets, both ways: at the sender (outbound) and at the receiver
//! (inbound), the access and the deciding rule are the decision's own
//! (forwarding's: the rule that denied, or the rule its flow state
//! admits with), `flow-verify`'s answer at that NIC, and `trace`'s hop.

use crate::network_manager::{admin_spec, file, nsg_spec, PORTS};
use etherparse::PacketBuilder;
use proptest::prelude::*;
use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use vnetd::dataplane::decide::Allowed;
use vnetd::dataplane::{decide, Admission, Conntrack, DropReason, PacketView, Verdict};
use vnetd::diagnostics::trace::{trace, TraceQuery, TRACE_SOURCE_PORT};
use vnetd::diagnostics::{flow_verify, FlowQuery};
use vnetd::net::{IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP};
use vnetd::plan::PortIdx;
use vnetd::snapshot::{RuleId, Snapshot};
use vnetd::topology::{parse_str, Direction, Endpoint, ExpectedProtocol, NicIdx};

/// A flow tracker that admits nothing it has seen and keeps the rule each
/// stage admitted a packet with: what forwarding decided at each NIC.
#[derive(Default)]
struct Admitted(RefCell<Vec<(PortIdx, Direction, RuleId)>>);

impl vnetd::dataplane::DecisionObserver for Admitted {}

impl Conntrack for Admitted {
    fn admitted(&self, _: PortIdx, _: Direction, _: &PacketView, _: u64) -> Option<Admission> {
        None
    }
    fn admit(
        &self,
        nic: PortIdx,
        direction: Direction,
        _: &PacketView,
        a: Allowed,
        _: u64,
        _: u64,
    ) {
        self.0.borrow_mut().push((nic, direction, a.rule));
    }
    fn refresh(&self, _: PortIdx, _: Direction, _: &PacketView, _: Admission, _: Allowed, _: u64) {}
    fn revoke(&self, _: PortIdx, _: Direction, _: &PacketView, _: Admission, _: u64) {}
}

/// A stage's answer: the access and the deciding rule's name.
type Said = (&'static str, Option<String>);

fn packet(src: IpAddr, dst: IpAddr, protocol: ExpectedProtocol, port: u16) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
        unreachable!("the generated VNets are IPv4")
    };
    let ip = PacketBuilder::ipv4(s.octets(), d.octets(), 64);
    let mut out = Vec::new();
    match protocol {
        ExpectedProtocol::Tcp => ip
            .tcp(TRACE_SOURCE_PORT, port, 1, 64240)
            .syn()
            .write(&mut out, &[]),
        ExpectedProtocol::Udp => ip.udp(TRACE_SOURCE_PORT, port).write(&mut out, b"trace"),
        _ => ip.icmpv4_echo_request(1, 1).write(&mut out, b"trace"),
    }
    .unwrap();
    out
}

/// What forwarding decided at `nic` in `direction`: the deny, or the rule
/// it admitted with; `None` when the packet never reached that stage.
fn forwarded(
    snap: &Snapshot,
    verdict: Verdict,
    admitted: &[(PortIdx, Direction, RuleId)],
    nic: PortIdx,
    direction: Direction,
) -> Option<Said> {
    let name = |rule: RuleId| snap.rule_names.get(rule).map(|r| r.rule);
    if let Verdict::Drop { reason, at, rule } = verdict {
        let stage = match reason {
            DropReason::NsgOutbound => Some(Direction::Outbound),
            DropReason::NsgInbound => Some(Direction::Inbound),
            DropReason::AdminDenied => Some(if at == nic && direction == Direction::Inbound {
                // An admin deny at the receiver is inbound; at the
                // sender, outbound.
                Direction::Inbound
            } else {
                Direction::Outbound
            }),
            _ => None,
        };
        if at == nic && stage == Some(direction) {
            return Some(("Deny", name(rule)));
        }
    }
    (admitted.iter())
        .find(|(n, d, _)| *n == nic && *d == direction)
        .map(|(_, _, rule)| ("Allow", name(*rule)))
}

/// `trace`'s answer at the sender and at the receiver.
fn traced(
    snap: &Snapshot,
    from: NicIdx,
    to: IpAddr,
    protocol: ExpectedProtocol,
    port: u16,
) -> (Said, Option<Said>) {
    let query = TraceQuery {
        from: Endpoint::Nic(from),
        to,
        protocol,
        port: (protocol != ExpectedProtocol::Icmp).then_some(port),
    };
    let t = trace(snap, &query).expect("a trace");
    let said = |checks: &[vnetd::diagnostics::trace::NsgCheck]| -> Said {
        match checks.last() {
            None => ("Allow", None),
            Some(last) => (last.access, Some(last.rule_name.clone())),
        }
    };
    let first = &t.hops[0];
    let outbound = said(&first.outbound);
    // The receiver's stage was met when the packet was delivered, or
    // when it left the hop's inbound rules (a deny).
    let reached = outbound.0 == "Allow"
        && t.hops.len() == 1
        && (t.delivered_to.is_some() || !first.inbound.is_empty());
    (outbound, reached.then(|| said(&first.inbound)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn forwarding_flow_verify_and_trace_name_the_same_stage_and_rule(
        admin in prop::collection::vec(admin_spec(), 0..7),
        nsgs in prop::collection::vec(nsg_spec(), 0..6),
        packets in prop::collection::vec((any::<bool>(), 0..3usize, 0..PORTS.len()), 1..8),
    ) {
        let text = file(&admin, &nsgs)
            + "peerings:\n\
               - {name: one-two, virtual_network: spoke1, remote_virtual_network: spoke2}\n\
               - {name: two-one, virtual_network: spoke2, remote_virtual_network: spoke1}\n";
        let topology = parse_str("test.yaml", &text)
            .unwrap_or_else(|e| panic!("{e:#?}\n{text}"))
            .topology;
        let snap = Snapshot::compile(topology, 1);
        let (vm, other) = (NicIdx::new(0), NicIdx::new(1));
        let address = |nic: NicIdx| snap.plan.ports[PortIdx::of_nic(nic)].ip_configurations[0].address;
        for (outward, protocol, port) in packets {
            let (from, to) = if outward { (vm, other) } else { (other, vm) };
            let protocol = [ExpectedProtocol::Tcp, ExpectedProtocol::Udp, ExpectedProtocol::Icmp][protocol];
            let port = PORTS[port];
            let (src, dst) = (address(from), address(to));
            let (sender, receiver) = (PortIdx::of_nic(from), PortIdx::of_nic(to));
            let case = format!("{src} -> {dst} {protocol:?} {port}\n{text}");

            let admitted = Admitted::default();
            let verdict = decide(&snap, &admitted, sender, &packet(src, dst, protocol, port), 0);
            let admitted = admitted.0.into_inner();

            let proto = match protocol {
                ExpectedProtocol::Tcp => IPPROTO_TCP,
                ExpectedProtocol::Udp => IPPROTO_UDP,
                _ => IPPROTO_ICMP,
            };
            let ported = |ip: IpAddr, p: u16| SocketAddr::new(ip, if proto == IPPROTO_ICMP { 0 } else { p });
            let verified = |nic: PortIdx, direction: Direction, local: SocketAddr, remote: SocketAddr| -> Said {
                let answer = flow_verify(&snap, nic, &FlowQuery { direction, protocol: proto, local, remote });
                (answer.verdict.access, answer.verdict.rule_name)
            };
            let (ours, theirs) = (ported(src, TRACE_SOURCE_PORT), ported(dst, port));
            let (traced_out, traced_in) = traced(&snap, from, dst, protocol, port);

            // At the sender.
            let out = forwarded(&snap, verdict, &admitted, sender, Direction::Outbound);
            prop_assert_eq!(out.clone(), Some(traced_out.clone()), "forwarding and trace, outbound: {}", case);
            if proto != IPPROTO_ICMP {
                prop_assert_eq!(verified(sender, Direction::Outbound, ours, theirs), traced_out.clone(), "flow-verify and trace, outbound: {}", case);
            }
            // At the receiver, when the packet got there.
            let inbound = forwarded(&snap, verdict, &admitted, receiver, Direction::Inbound);
            prop_assert_eq!(inbound.clone(), traced_in.clone(), "forwarding and trace, inbound: {}", case);
            if let (Some(traced_in), true) = (traced_in, proto != IPPROTO_ICMP) {
                prop_assert_eq!(verified(receiver, Direction::Inbound, theirs, ours), traced_in, "flow-verify and trace, inbound: {}", case);
            }
        }
    }
}

/// The files of `dir` (recursively) whose code calls `needle`, from the
/// repository's root.
fn calling(dir: &std::path::Path, needle: &str, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            calling(&path, needle, found);
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path.to_string_lossy().ends_with("tests.rs")
        {
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
            if code.into_iter().any(|l| l.contains(needle)) {
                let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
                found.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
}

/// The stages are run in one place: the decision's
/// (`Snapshot::evaluate_observed`, which `trace` observes). No other file
/// of the daemon's crates classifies a packet against a stage's rules
/// (unit tests aside, which check the classifier itself).
#[test]
fn only_the_decision_runs_the_stages() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for dir in ["src", "crates/decide/src", "crates/model/src"] {
        calling(&root.join(dir), ".classify(", &mut found);
    }
    assert_eq!(found, ["crates/decide/src/snapshot/stages.rs"]);
}

/// `trace` takes no step of the decision beside it: every hop is one pass
/// of `decide`, and the hop's rules, route, gateways and load balancer
/// are what that pass reported (`DecisionObserver`). No file of the trace
/// runs the stages, the route step or the load balancer's step itself.
#[test]
fn trace_runs_no_decision_step_of_its_own() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let trace = root.join("crates/decide/src/diagnostics/trace");
    let mut found = Vec::new();
    for step in [
        "route_step",
        "balance(",
        "judge_nsgs",
        ".evaluate(",
        ".evaluate_observed(",
        "sender_checks",
        "route_target(",
        ".route(",
        "rule_for(",
        "next_hop_rule(",
    ] {
        calling(&trace, step, &mut found);
    }
    assert_eq!(found, Vec::<String>::new());
    // The check reads code: the same search finds the decision's own call.
    let mut decision = Vec::new();
    calling(
        &root.join("crates/decide/src/dataplane/decide"),
        "route_step_observed(",
        &mut decision,
    );
    assert!(!decision.is_empty());
}
