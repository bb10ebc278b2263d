//! The packet path: any bytes a VM can write to its TUN device go through
//! `decide`, which must never panic.
//!
//! Input layout: byte 0 selects, byte 1.. is the IP packet (no virtio-net
//! header).
//!
//! - bit 0 of byte 0: stateless (0) or stateful with the daemon's flow table (1);
//! - bit 1: the built-in hub-and-spoke lab (0) or `config/dual-stack.yaml` (1);
//! - bits 2..8: the ingress NIC, modulo the NIC count.
//!
//! Invariants checked besides "no panic":
//!
//! - a packet `PacketView::parse` refuses is dropped as `Malformed` at the
//!   ingress NIC, and a packet it accepts is never dropped as `Malformed`;
//! - every verdict names a valid NIC index;
//! - with an empty flow table, the stateful decision equals the stateless
//!   one; deciding the same packet again with the flows it recorded may
//!   only let it through where it went before (state never blocks, and
//!   never reroutes).

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use vnetd::dataplane::{decide, DropReason, PacketView, Stateless, Verdict};
use vnetd::engine::flow_table::FlowTable;
use vnetd::snapshot::Snapshot;

const DUAL_STACK: &str = include_str!("../../config/dual-stack.yaml");

fn compile(name: &str, text: &str) -> Snapshot {
    let loaded = vnetd::topology::parse_str(name, text).expect("shipped topology is valid");
    Snapshot::compile(loaded.topology, 1)
}

fn snapshots() -> &'static [Snapshot; 2] {
    static SNAPSHOTS: OnceLock<[Snapshot; 2]> = OnceLock::new();
    SNAPSHOTS.get_or_init(|| {
        [
            compile("builtin", vnetd::cli::BUILTIN_LAB),
            compile("config/dual-stack.yaml", DUAL_STACK),
        ]
    })
}

fn check_indices(verdict: Verdict, nic_count: usize) {
    match verdict {
        Verdict::Deliver(nic) => assert!(nic < nic_count, "{verdict:?}: no such NIC"),
        Verdict::Drop { at, .. } => assert!(at < nic_count, "{verdict:?}: no such NIC"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&select, packet)) = data.split_first() else {
        return;
    };
    let stateful = select & 1 == 1;
    let snap = &snapshots()[usize::from(select >> 1 & 1)];
    let nic_count = snap.topology.nics.len();
    let ingress = usize::from(select >> 2) % nic_count;
    let now_ms = 1_000;

    let verdict = if stateful {
        // Fresh for each input, so runs are reproducible.
        let flows = FlowTable::new(64, 64, 0);
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
        if let Verdict::Deliver(_) = first {
            assert_eq!(again, first, "state blocked or rerouted an admitted flow");
        }
        first
    } else {
        decide(snap, &Stateless, ingress, packet, now_ms)
    };
    check_indices(verdict, nic_count);

    let malformed = Verdict::Drop {
        reason: DropReason::Malformed,
        at: ingress,
    };
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
});
