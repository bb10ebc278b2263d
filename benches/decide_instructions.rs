//! The per-packet decision of `benches/decide.rs`, run a given number of
//! times without criterion, so that a count of instructions per decision
//! (callgrind's, see `scripts/count-decide-instructions.sh`) compares two
//! builds exactly where a timing on a shared machine cannot: the same
//! source decides the same packets, and only the compiled code differs.
//!
//! `decide_instructions CASE N` decides CASE's packet N times (N = 0 only
//! builds the labs, which a count subtracts). `known-CASE` uses a flow
//! table that holds CASE's flow already, as forwarding's known flows do;
//! the others decide every packet in full with `Stateless`. Both
//! instances are in the binary, as in forwarding's and the bench's.

mod shared;

use shared::{hybrid_snapshot, tcp};
use std::hint::black_box;
use vnetd::dataplane::conntrack::NicOwners;
use vnetd::dataplane::{decide, Conntrack, Stateless};
use vnetd::engine::flow_table::FlowTable;
use vnetd::plan::PortIdx;
use vnetd::snapshot::Snapshot;

/// One packet to decide: its name, its lab (`hub` or `hybrid`), the NIC
/// that sends it, and its source, destination and destination port.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    [u8; 4],
    [u8; 4],
    u16,
);

/// The packets, by name, decided in full with `Stateless`; `known-NAME`
/// decides NAME's packet as a flow the flow table holds already.
const CASES: [Case; 5] = [
    ("peering", "hub", "vm1", [10, 1, 1, 4], [10, 0, 2, 4], 80),
    ("nva", "hub", "vm1", [10, 1, 1, 4], [10, 2, 1, 4], 80),
    ("nsg-deny", "hub", "nva1", [10, 1, 1, 4], [10, 2, 1, 4], 23),
    ("spoke-to-branch", "hybrid", "vm1", VM1, BRANCH, 80),
    (
        "branch-to-spoke",
        "hybrid",
        "branch1-to-hub-vpngw-0",
        BRANCH,
        VM1,
        80,
    ),
];

/// The known flows `cargo bench` times: those of the hub's cases.
const KNOWN: [&str; 3] = ["known-peering", "known-nva", "known-nsg-deny"];

const VM1: [u8; 4] = [10, 1, 1, 4];
const BRANCH: [u8; 4] = [192, 168, 1, 10];

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
        _ if args.iter().all(|a| a.starts_with('-')) => (CASES.iter().map(|c| c.0))
            .chain(KNOWN)
            .map(|name| (name, 1_000_000))
            .collect(),
        _ => usage(),
    };
    let hub = vnetd::topology::parse_str("hub-spoke.yaml", vnetd::cli::BUILTIN_LAB).unwrap();
    let hub = Snapshot::compile(hub.topology, 1);
    let hybrid = hybrid_snapshot();
    for (case, n) in asked {
        let known = case.strip_prefix("known-");
        let Some(&(_, lab, nic, src, dst, port)) =
            CASES.iter().find(|c| c.0 == known.unwrap_or(case))
        else {
            usage()
        };
        let snap = if lab == "hub" { &hub } else { &hybrid };
        let ingress = snap.port_by_name(nic).unwrap();
        let packet = tcp(src, dst, port);
        let started = std::time::Instant::now();
        if known.is_some() {
            let flows = FlowTable::new(1 << 16, NicOwners::MAX_OWNERS, 0);
            decide(snap, &flows, ingress, &packet, 0);
            run(snap, &flows, ingress, &packet, n);
        } else {
            run(snap, &Stateless, ingress, &packet, n);
        }
        if n > 0 {
            let per = started.elapsed().as_nanos() as f64 / n as f64;
            println!("{case}: {per:.1} ns a decision ({n} decisions)");
        }
    }
}

fn usage() -> ! {
    let names: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    eprintln!(
        "usage: decide_instructions CASE N (CASE: {}, or known-CASE)",
        names.join(", ")
    );
    std::process::exit(2)
}
