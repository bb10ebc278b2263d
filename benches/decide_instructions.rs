//! The per-packet decision of `benches/decide.rs`, run a given number of
//! times without criterion, so that a count of instructions per decision
//! (callgrind's, see `scripts/count-decide-instructions.sh`) compares two
//! builds exactly where a timing on a shared machine cannot: the same
//! source decides the same packets, and only the compiled code differs.
//!
//! `decide_instructions CASE N` decides CASE's packet N times (N = 0 only
//! builds the labs, which a count subtracts). The cases with `known` use a
//! flow table that holds the flow already, as forwarding's known flows
//! do; the others decide every packet in full with `Stateless`. Both
//! instances are in the binary, as in forwarding's and the bench's.

use etherparse::PacketBuilder;
use std::hint::black_box;
use vnetd::dataplane::conntrack::NicOwners;
use vnetd::dataplane::{decide, Conntrack, Stateless};
use vnetd::engine::flow_table::FlowTable;
use vnetd::plan::PortIdx;
use vnetd::snapshot::Snapshot;

/// One packet to decide: its lab (`hub` or `hybrid`), the NIC that sends
/// it, and its addresses and destination port.
struct Case {
    name: &'static str,
    lab: &'static str,
    nic: &'static str,
    src: [u8; 4],
    dst: [u8; 4],
    port: u16,
}

/// The cases, by name.
const CASES: [Case; 8] = [
    Case {
        name: "peering",
        lab: "hub",
        nic: "vm1",
        src: [10, 1, 1, 4],
        dst: [10, 0, 2, 4],
        port: 80,
    },
    Case {
        name: "nva",
        lab: "hub",
        nic: "vm1",
        src: [10, 1, 1, 4],
        dst: [10, 2, 1, 4],
        port: 80,
    },
    Case {
        name: "nsg-deny",
        lab: "hub",
        nic: "nva1",
        src: [10, 1, 1, 4],
        dst: [10, 2, 1, 4],
        port: 23,
    },
    Case {
        name: "spoke-to-branch",
        lab: "hybrid",
        nic: "vm1",
        src: [10, 1, 1, 4],
        dst: [192, 168, 1, 10],
        port: 80,
    },
    Case {
        name: "branch-to-spoke",
        lab: "hybrid",
        nic: "branch1-to-hub-vpngw-0",
        src: [192, 168, 1, 10],
        dst: [10, 1, 1, 4],
        port: 80,
    },
    Case {
        name: "known-peering",
        lab: "hub",
        nic: "vm1",
        src: [10, 1, 1, 4],
        dst: [10, 0, 2, 4],
        port: 80,
    },
    Case {
        name: "known-nva",
        lab: "hub",
        nic: "vm1",
        src: [10, 1, 1, 4],
        dst: [10, 2, 1, 4],
        port: 80,
    },
    Case {
        name: "known-nsg-deny",
        lab: "hub",
        nic: "nva1",
        src: [10, 1, 1, 4],
        dst: [10, 2, 1, 4],
        port: 23,
    },
];

fn tcp(src: [u8; 4], dst: [u8; 4], dport: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .tcp(40000, dport, 1, 64000)
        .write(&mut out, &[0u8; 1400])
        .unwrap();
    out
}

/// The hybrid lab with its VPN gateway's learned route, as `benches/decide.rs` has it.
fn hybrid_snapshot() -> Snapshot {
    use vnetd::policy::gateways::{BgpOrigin, LearnedRoute, LearnedRoutes};
    let text = include_str!("../config/hybrid.yaml");
    let topology = vnetd::topology::parse_str("hybrid.yaml", text)
        .unwrap()
        .topology;
    let peer = "192.168.255.1".parse().unwrap();
    let mut learned = LearnedRoutes::default();
    learned.gateways.insert(
        "hub-vpngw".into(),
        vec![vec![LearnedRoute {
            prefix: "192.168.0.0/16".parse().unwrap(),
            peer,
            next_hop: peer,
            as_path: vec![65050],
            origin: BgpOrigin::Igp,
        }]],
    );
    Snapshot::compile_learned(topology, learned, 1)
}

fn run<C: Conntrack + ?Sized>(snap: &Snapshot, flows: &C, ingress: PortIdx, packet: &[u8], n: u64) {
    for _ in 0..n {
        black_box(decide(
            black_box(snap),
            flows,
            black_box(ingress),
            black_box(packet),
            0,
        ));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench` (and maybe a filter): every case, a
    // million times each, timed (not the figure this target is for).
    let asked: Vec<(&str, u64)> = match args.as_slice() {
        [case, n] if !case.starts_with('-') => match n.parse() {
            Ok(n) => vec![(case.as_str(), n)],
            Err(_) => usage(),
        },
        _ if args.iter().all(|a| a.starts_with('-')) => {
            CASES.iter().map(|c| (c.name, 1_000_000)).collect()
        }
        _ => usage(),
    };
    let hub = vnetd::topology::parse_str("hub-spoke.yaml", vnetd::cli::BUILTIN_LAB).unwrap();
    let hub = Snapshot::compile(hub.topology, 1);
    let hybrid = hybrid_snapshot();
    for (case, n) in asked {
        let Some(c) = CASES.iter().find(|c| c.name == case) else {
            usage()
        };
        let (name, snap) = (c.name, if c.lab == "hub" { &hub } else { &hybrid });
        let ingress = snap.port_by_name(c.nic).unwrap();
        let packet = tcp(c.src, c.dst, c.port);
        let started = std::time::Instant::now();
        if name.starts_with("known") {
            let flows = FlowTable::new(1 << 16, NicOwners::MAX_OWNERS, 0);
            decide(snap, &flows, ingress, &packet, 0);
            run(snap, &flows, ingress, &packet, n);
        } else {
            run(snap, &Stateless, ingress, &packet, n);
        }
        if n > 0 {
            let per = started.elapsed().as_nanos() as f64 / n as f64;
            println!("{name}: {per:.1} ns a decision ({n} decisions)");
        }
    }
}

fn usage() -> ! {
    let names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    eprintln!(
        "usage: decide_instructions CASE N (CASE: {})",
        names.join(", ")
    );
    std::process::exit(2)
}
