//! Whether an admitted flow's direction may leave userspace, judged once
//! per flow direction and plane generation (the verdict is kept in the
//! offload's book, with its reason when it may not), never per packet.
//!
//! What stays in userspace, as on Azure's hosts where what needs the
//! virtual switch's software stays there: load-balanced flows (their
//! translation, their pins, what the health probes decide; HA ports in
//! front of appliances included), and paths that delay, cap, clamp or
//! shrink packets (the daemon does that). A direction that arrives from
//! another machine was routed, paced and balanced there: on the receiving
//! machine only a load balancer's backend keeps it in userspace.

use crate::daemon::forwarding::plane::Plane;
use crate::dataplane::{route_step, Hop, HopTo};
use crate::net::PacketKey;
use crate::plan::PortIdx;

/// Why a flow's direction stays in userspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ineligible {
    /// Its sender's replies are translated by a load balancer frontend, or
    /// its route leads to one.
    LoadBalanced,
    /// Its path paces, delays, clamps the MSS or has a smaller MTU than its
    /// sender.
    Shaped,
}

impl Ineligible {
    pub fn as_str(self) -> &'static str {
        match self {
            Ineligible::LoadBalanced => "load_balanced",
            Ineligible::Shaped => "shaped",
        }
    }
}

/// Judges the direction `key` from `nic` to `egress` under `plane`, with
/// shaping on or off for the lab.
pub fn judge(
    plane: &Plane,
    nic: PortIdx,
    egress: PortIdx,
    key: &PacketKey,
    shaping: bool,
) -> Result<(), Ineligible> {
    let snap = &plane.snapshot;
    // A path that delays, caps, clamps or cuts packets keeps them in the
    // daemon, where that happens (a single-NIC VM's own cap is its eth0's,
    // and holds on either path).
    let tables = &snap.shaping;
    if tables.active {
        let index = tables.profile_index(nic, egress);
        let path = &tables.profiles[index].shaping;
        let paced = shaping && tables.paces(nic, index);
        if paced || path.mss_clamp.is_some() || tables.mtu[nic] > path.mtu {
            return Err(Ineligible::Shaped);
        }
    }
    let balanced = snap
        .nics
        .get(nic)
        .is_none_or(|n| !n.translated_frontends.is_empty())
        || matches!(
            route_step(snap, nic, key),
            Ok(Hop {
                to: HopTo::Frontend { .. },
                ..
            })
        );
    if balanced {
        return Err(Ineligible::LoadBalanced);
    }
    Ok(())
}

/// Judges a direction that arrives from another machine for `receiver`
/// under `plane`. Only the receiver's inbound NSGs and delivery happen on
/// this machine (the sender's did the rest), so it stays in userspace only
/// when the receiver is the backend of a frontend that translates: its
/// flows are load balanced, and stay in the daemon whole.
pub fn judge_arrival(plane: &Plane, receiver: PortIdx) -> Result<(), Ineligible> {
    let balanced =
        (plane.snapshot.nics.get(receiver)).is_none_or(|n| !n.translated_frontends.is_empty());
    match balanced {
        true => Err(Ineligible::LoadBalanced),
        false => Ok(()),
    }
}
