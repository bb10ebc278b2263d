//! The packet pipeline: where the Azure policy (compiled into a
//! [`crate::snapshot::Snapshot`]) meets packets. [`packet`] reads a packet's
//! headers, [`decide`](mod@decide) applies Azure's checks in Azure's order and says
//! where the packet goes. Nothing here touches a device: the daemon's
//! workers read packets from TUN queues and write them where the verdict
//! says.
//!
//! It owns the per-packet decision, its steps (which the diagnostics call
//! too) and NSG state on the flow table; it may use [`crate::snapshot`],
//! [`crate::engine`], [`crate::topology`] and [`crate::net`].

pub mod conntrack;
pub mod decide;
pub mod packet;

pub use decide::{
    decide, decide_parsed, judge_nsgs, route_step, sender_checks, Admission, Conntrack, DropReason,
    Hop, NsgJudgement, Stateless, Verdict,
};
pub use packet::PacketView;
