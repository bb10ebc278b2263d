//! Known hops against the full decision. A flow table that remembers
//! each flow's hop ([`vnetd::dataplane::KnownHop`]) must give every packet
//! the verdict, and every flow the counters, that the same table gives
//! when every packet is decided in full: the reference here is the same
//! connection tracking with the hops forgotten, fed the same packets at
//! the same times, across snapshot changes (a new generation, backends
//! going down and coming back).

use etherparse::PacketBuilder;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::net::IpAddr;
use vnetd::dataplane::conntrack::{stored_hop, NicOwners};
use vnetd::dataplane::{
    decide, translate, Admission, Allowed, Conntrack, DropReason, Pin, PinTarget, Verdict,
};
use vnetd::engine::flow_table::{FlowKey, FlowOwner, FlowTable, FlowValue};
use vnetd::net::{IPPROTO_TCP, IPPROTO_UDP};
use vnetd::plan::PortIdx;
use vnetd::policy::load_balancers::{BackendHealth, ProbeTarget};
use vnetd::snapshot::{FrontendTables, Snapshot};
use vnetd::topology::Direction;

/// The table's connection tracking without hops: `sent` and `remember`
/// are the trait's own (a lookup of the sender's flow, nothing kept).
struct FullDecision<'t>(&'t FlowTable);

impl vnetd::dataplane::DecisionObserver for FullDecision<'_> {}

impl Conntrack for FullDecision<'_> {
    fn admitted(
        &self,
        nic: PortIdx,
        d: Direction,
        p: &vnetd::dataplane::PacketView,
        now: u64,
    ) -> Option<Admission> {
        self.0.admitted(nic, d, p, now)
    }
    fn admit(
        &self,
        nic: PortIdx,
        d: Direction,
        p: &vnetd::dataplane::PacketView,
        allowed: Allowed,
        idle: u64,
        now: u64,
    ) {
        self.0.admit(nic, d, p, allowed, idle, now)
    }
    fn refresh(
        &self,
        nic: PortIdx,
        d: Direction,
        p: &vnetd::dataplane::PacketView,
        a: Admission,
        allowed: Allowed,
        now: u64,
    ) {
        self.0.refresh(nic, d, p, a, allowed, now)
    }
    fn revoke(
        &self,
        nic: PortIdx,
        d: Direction,
        p: &vnetd::dataplane::PacketView,
        a: Admission,
        now: u64,
    ) {
        self.0.revoke(nic, d, p, a, now)
    }
    fn closing(
        &self,
        nic: PortIdx,
        d: Direction,
        p: &vnetd::dataplane::PacketView,
        a: Admission,
        now: u64,
    ) {
        self.0.closing(nic, d, p, a, now)
    }
    fn fragment_ports(
        &self,
        nic: PortIdx,
        p: &vnetd::dataplane::PacketView,
        now: u64,
    ) -> Option<(u16, u16)> {
        self.0.fragment_ports(nic, p, now)
    }
    fn first_fragment_passed(&self, nic: PortIdx, p: &vnetd::dataplane::PacketView, now: u64) {
        self.0.first_fragment_passed(nic, p, now)
    }
    fn pinned(
        &self,
        fe: &FrontendTables,
        p: &vnetd::dataplane::PacketView,
        now: u64,
    ) -> Option<Pin> {
        self.0.pinned(fe, p, now)
    }
    fn pin(
        &self,
        fe: &FrontendTables,
        p: &vnetd::dataplane::PacketView,
        t: PinTarget,
        idle: u64,
        now: u64,
    ) {
        self.0.pin(fe, p, t, idle, now)
    }
    fn unpin(&self, pin: &Pin, now: u64) {
        self.0.unpin(pin, now)
    }
    fn closing_pin(&self, pin: &Pin) {
        self.0.closing_pin(pin)
    }
    fn backend_id(&self, nic: PortIdx) -> u32 {
        self.0.backend_id(nic)
    }
}

fn lab(file: &str) -> Snapshot {
    let path = format!("{}/config/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    Snapshot::compile(vnetd::topology::parse_str(file, &text).unwrap().topology, 1)
}

/// The snapshots a run moves through: the lab; for a lab with load
/// balancers, each backend down in turn and all up again; the lab without
/// its user routes; with NSGs that flush and hold only the default rules;
/// and the lab again.
fn snapshots(file: &str) -> Vec<Snapshot> {
    let first = lab(file);
    let mut all = vec![Snapshot::compile(first.topology.clone(), 1)];
    let targets: Vec<ProbeTarget> = first
        .topology
        .load_balancers
        .iter()
        .flat_map(|lb| {
            let probe = lb
                .probes
                .first()
                .map(|p| p.name.clone())
                .unwrap_or_default();
            lb.pools.iter().flat_map(move |pool| {
                let (lb, probe) = (lb.name.clone(), probe.clone());
                pool.nics
                    .iter()
                    .map(move |&nic| (lb.clone(), probe.clone(), nic))
            })
        })
        .map(|(load_balancer, probe, nic)| ProbeTarget {
            load_balancer,
            probe,
            nic: first.topology.nics[nic].name.clone(),
        })
        .collect();
    for target in targets {
        let previous = all.last().unwrap();
        let mut health = BackendHealth::default();
        health.set(target, false);
        let generation = previous.generation + 1;
        all.push(Snapshot::rehealthed(previous, health, generation));
    }
    let previous = all.last().unwrap();
    let generation = previous.generation + 1;
    all.push(Snapshot::rehealthed(
        previous,
        BackendHealth::default(),
        generation,
    ));
    all.push(Snapshot::compile(first.topology.clone(), generation + 1));
    all
}

/// Every address a packet may carry: the NICs' and the frontends'.
/// Every address a NIC or frontend holds; Azure DNS's (168.63.129.16) is
/// the platform's, whose traffic is never a flow.
fn addresses(snap: &Snapshot) -> Vec<IpAddr> {
    let mut all: Vec<IpAddr> = snap
        .nics
        .iter()
        .filter(|n| !n.kind.is_azure_dns())
        .flat_map(|n| n.addresses.iter().copied())
        .collect();
    all.extend(snap.frontends.iter().map(|f| f.address));
    all
}

const PORTS: [u16; 5] = [40000, 40001, 80, 22, 9000];

/// A flow of a run: from NIC `ingress` (from its own address unless
/// `spoofed`) to address `dst`; its replies come from NIC `replier`.
#[derive(Debug, Clone)]
struct Flow {
    ingress: usize,
    spoofed: Option<usize>,
    dst: usize,
    ports: (usize, usize),
    udp: bool,
    replier: usize,
}

#[derive(Debug, Clone)]
enum Op {
    /// A packet of flow `flow` of the run's pool, or its reply; TCP flags:
    /// none, ACK, SYN, FIN or RST.
    Send { flow: usize, reply: bool, flags: u8 },
    /// The last packet delivered, sent on by the NIC it reached (an
    /// appliance forwarding it), as that NIC received it.
    Relay,
    /// The next snapshot takes over.
    Apply,
}

fn flow_spec() -> impl Strategy<Value = Flow> {
    (
        0..64usize,
        prop::option::weighted(0.15, 0..64usize),
        0..64usize,
        (0..PORTS.len(), 0..PORTS.len()),
        any::<bool>(),
        0..64usize,
    )
        .prop_map(|(ingress, spoofed, dst, ports, udp, replier)| Flow {
            ingress,
            spoofed,
            dst,
            ports,
            udp,
            replier,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..6usize, any::<bool>(), prop_oneof![4 => Just(1u8), 1 => 0..5u8])
            .prop_map(|(flow, reply, flags)| Op::Send { flow, reply, flags }),
        3 => Just(Op::Relay),
        1 => Just(Op::Apply),
    ]
}

fn packet(
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    udp: bool,
    flags: u8,
) -> Option<Vec<u8>> {
    let builder = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        _ => return None,
    };
    let mut out = Vec::new();
    if udp {
        builder
            .udp(sport, dport)
            .write(&mut out, b"datagram")
            .unwrap();
    } else {
        let b = builder.tcp(sport, dport, 1, 64000);
        let b = match flags {
            0 => b,
            1 => b.ack(1),
            2 => b.syn(),
            3 => b.fin().ack(1),
            _ => b.rst(),
        };
        b.write(&mut out, b"segment").unwrap();
    }
    Some(out)
}

/// The flows of a table, their memos left out (the reference has none).
fn flows(table: &FlowTable, now: u64) -> BTreeMap<FlowKey, FlowValue> {
    let mut all = BTreeMap::new();
    table.for_each(now, |key, value| {
        let mut value = *value;
        value.memo = None;
        all.insert(*key, value);
    });
    all
}

/// Runs `ops` on the lab with hops remembered and without; returns, for
/// each op that sent a packet, its verdict and whether it took a known hop.
fn same_as_the_full_decision(
    file: &str,
    pool: &[Flow],
    ops: &[(Op, u64)],
) -> Result<Vec<(Verdict, bool)>, TestCaseError> {
    let snaps = snapshots(file);
    let addresses = addresses(&snaps[0]);
    let nics = snaps[0].nics.len();
    let with_hops = FlowTable::new(1 << 14, NicOwners::MAX_OWNERS, 0);
    let reference = FlowTable::new(1 << 14, NicOwners::MAX_OWNERS, 0);
    let (mut current, mut now) = (0, 0);
    let mut last: Option<(PortIdx, Vec<u8>)> = None;
    let mut decided = Vec::new();
    for (op, step_ms) in ops {
        now += step_ms;
        let (ingress, bytes) = match op {
            Op::Apply => {
                current = (current + 1) % snaps.len();
                continue;
            }
            Op::Relay => match last.clone() {
                Some(relayed) => relayed,
                None => {
                    // Nothing to relay: no packet, none delivered.
                    decided.push((Verdict::dropped(DropReason::Malformed, ingress_0()), false));
                    continue;
                }
            },
            Op::Send { flow, reply, flags } => {
                let Some(flow) = pool.get(flow % pool.len().max(1)) else {
                    continue;
                };
                let sender = PortIdx::from(flow.ingress % nics);
                let own = &snaps[0].nics[sender].addresses;
                let src = match flow.spoofed {
                    Some(i) => addresses[i % addresses.len()],
                    None if own.is_empty() => continue,
                    None => own[0],
                };
                let dst = addresses[flow.dst % addresses.len()];
                let (sport, dport) = (PORTS[flow.ports.0], PORTS[flow.ports.1]);
                let (ingress, src, dst, sport, dport) = if *reply {
                    let replier = PortIdx::from(flow.replier % nics);
                    // A backend answers from its own address.
                    let own = &snaps[0].nics[replier].addresses;
                    let from = if own.contains(&dst) || own.is_empty() {
                        dst
                    } else {
                        own[0]
                    };
                    (replier, from, src, dport, sport)
                } else {
                    (sender, src, dst, sport, dport)
                };
                let Some(bytes) = packet(src, dst, sport, dport, flow.udp, *flags) else {
                    continue;
                };
                (ingress, bytes)
            }
        };
        let snap = &snaps[current];
        let hop = known_hop_for(&with_hops, snap, ingress, &bytes, now);
        let remembered = decide(snap, &with_hops, ingress, &bytes, now);
        let full = decide(snap, &FullDecision(&reference), ingress, &bytes, now);
        prop_assert_eq!(
            remembered,
            full,
            "{:?} from {:?} at {} ms",
            op,
            ingress,
            now
        );
        if let Some(hop) = hop {
            prop_assert_eq!(hop, remembered, "the known hop is the verdict");
        }
        decided.push((remembered, hop.is_some()));
        last = match remembered {
            Verdict::Deliver(to) => Some((to, bytes)),
            Verdict::Translate { nic, rewrite } => {
                let mut bytes = bytes;
                translate(&mut bytes, rewrite, false).unwrap();
                Some((nic, bytes))
            }
            Verdict::Drop { .. } => None,
        };
    }
    prop_assert_eq!(flows(&with_hops, now), flows(&reference, now));
    prop_assert_eq!(with_hops.stats(), reference.stats());
    Ok(decided)
}

fn ingress_0() -> PortIdx {
    PortIdx::from(0)
}

/// The verdict a known hop of the sender's entry holds for this packet
/// under `snap`, if it has one (read before the packet is decided).
fn known_hop_for(
    table: &FlowTable,
    snap: &Snapshot,
    ingress: PortIdx,
    bytes: &[u8],
    now: u64,
) -> Option<Verdict> {
    let view = vnetd::dataplane::PacketView::parse(bytes).ok()?;
    if !vnetd::dataplane::KnownHop::carries(&view) {
        return None;
    }
    let (sport, dport) = view.flow_ports;
    let key = FlowKey::from_ips(
        FlowOwner::new(ingress.index() as u32),
        vnetd::dataplane::conntrack::direction_code(Direction::Outbound),
        view.key.proto,
        view.key.src,
        view.key.dst,
        sport,
        dport,
    )?;
    let flow = table.lookup(&key, now)?;
    let hop = stored_hop(&flow.memo()?)?;
    // Its receiver's entry and its pin still in their slots.
    let held = |word| word == 0 || table.handle_of_word(word).is_some();
    (hop.generation == snap.generation && hop.receiver != 0 && held(hop.receiver) && held(hop.pin))
        .then_some(hop.verdict)
}

/// A pool of flows and what happens to them, in steps of up to 1.2 s
/// (150 steps stay within a load balancer's idle timeout, but cross
/// FIN-closed flows' short one).
fn run() -> impl Strategy<Value = (Vec<Flow>, Vec<(Op, u64)>)> {
    (
        prop::collection::vec(flow_spec(), 1..6),
        prop::collection::vec((op(), prop_oneof![3 => 0..5u64, 1 => 0..1_200u64]), 1..150),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn hub_and_spoke_hops_decide_as_the_full_decision((pool, ops) in run()) {
        same_as_the_full_decision("hub-spoke.yaml", &pool, &ops)?;
    }

    #[test]
    fn load_balanced_hops_decide_as_the_full_decision((pool, ops) in run()) {
        same_as_the_full_decision("ha-nva.yaml", &pool, &ops)?;
    }

    #[test]
    fn dual_stack_hops_decide_as_the_full_decision((pool, ops) in run()) {
        same_as_the_full_decision("dual-stack.yaml", &pool, &ops)?;
    }
}

/// Conversations from every NIC to every address, each packet relayed
/// twice (an appliance on the way sends it on): from the third packet on,
/// every hop of a conversation that was delivered is a known hop, with the
/// same verdicts and counters as the full decision. (The first packet
/// admits the flow at both ends, the second finds both and leaves the hop.)
#[test]
fn a_flows_later_packets_take_its_known_hop() {
    for file in ["hub-spoke.yaml", "ha-nva.yaml"] {
        let snap = lab(file);
        let addresses = addresses(&snap);
        let mut pool = Vec::new();
        let mut ops = Vec::new();
        let clients =
            (0..snap.nics.len()).filter(|&c| !snap.nics[PortIdx::new(c)].kind.is_azure_dns());
        for client in clients {
            for server in 0..addresses.len() {
                pool.push(Flow {
                    ingress: client,
                    spoofed: None,
                    dst: server,
                    ports: (0, 2),
                    udp: false,
                    replier: 0,
                });
                let forward = Op::Send {
                    flow: pool.len() - 1,
                    reply: false,
                    flags: 1,
                };
                for i in 0..3 {
                    ops.push((forward.clone(), u64::from(i == 0)));
                    ops.push((Op::Relay, 0));
                    ops.push((Op::Relay, 0));
                }
            }
        }
        let decided = same_as_the_full_decision(file, &pool, &ops).unwrap();
        let mut known = 0;
        for conversation in decided.chunks(9) {
            for leg in 0..3 {
                let hops: Vec<_> = (0..3).map(|i| conversation[3 * i + leg]).collect();
                if hops.iter().all(|(v, _)| v.egress().is_some()) {
                    assert!(hops[2].1, "{file}: {hops:?}");
                    known += 1;
                }
            }
        }
        assert!(known > snap.nics.len(), "{file}: {known} legs known");
    }
}

#[test]
fn udp_and_tcp_are_what_the_ports_mean() {
    // The packets the runs build are the protocols they say.
    let a: IpAddr = "10.0.0.4".parse().unwrap();
    let b: IpAddr = "10.0.0.5".parse().unwrap();
    let udp = packet(a, b, 1, 2, true, 0).unwrap();
    let tcp = packet(a, b, 1, 2, false, 0).unwrap();
    assert_eq!(udp[9], IPPROTO_UDP);
    assert_eq!(tcp[9], IPPROTO_TCP);
    assert!(packet(a, "::1".parse().unwrap(), 1, 2, true, 0).is_none());
}
