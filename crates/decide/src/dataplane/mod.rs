//! The packet pipeline: where the Azure policy (compiled into a
//! [`crate::snapshot::Snapshot`]) meets packets. [`packet`] reads a packet's
//! headers, [`decide`](mod@decide) applies Azure's checks in Azure's order and says
//! where the packet goes, and [`coalesce`] joins the UDP datagrams of one
//! flow into one super-packet on the way out. Nothing here touches a device: the daemon's
//! workers read packets from TUN queues and write them where the verdict
//! says.
//!
//! It owns the per-packet decision, its steps (which the diagnostics call
//! too) and NSG state on the flow table; it may use [`crate::snapshot`],
//! [`crate::engine`], [`crate::topology`] and [`crate::net`].

mod checksum;
pub mod coalesce;
pub mod conntrack;
pub mod decide;
pub mod delay_line;
pub mod memos;
pub mod nat;
pub mod pacing;
pub mod packet;
pub mod path_mtu;
pub mod tcp_reset;

pub use decide::{
    balance, decide, decide_arrival, decide_parsed, flow_hash, judge_nsgs, route_step,
    route_step_observed, sender_checks, Admission, Allowed, BalanceStep, Balanced, Conntrack,
    DecisionObserver, DropReason, EdgeTranslation, FrontendHop, Hop, HopTo, KnownHop,
    NewTranslation, NsgJudgement, Pin, PinTarget, Sent, Stateless, Untranslated, Verdict,
};
pub use nat::{translate, Rewrite};
pub use packet::PacketView;
