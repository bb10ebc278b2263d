//! A port's slot, [`PortId`]: the number that keys a NIC's counters and
//! flows for the lab's life, across an `apply` that renumbers the file's
//! NICs. The flow table knows it as the flow's owner ([`FlowOwner`]); the
//! numbers after the ports' are the load-balancer frontends' (see
//! [`Plane`](super::plane::Plane)'s `FlowOwners`).

use crate::engine::flow_table::FlowOwner;

/// The slot of a NIC's port: it keys the NIC's counters and flows, and
/// stays the NIC's across an `apply` that renumbers NICs (unlike its
/// `PortIdx`, a position in one topology).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortId(u32);

impl PortId {
    /// No port: counts nothing, owns no flow.
    pub const NONE: PortId = PortId(u32::MAX);

    pub const fn new(slot: u32) -> PortId {
        PortId(slot)
    }

    /// The slot number, as the flow table keys its owners.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl From<usize> for PortId {
    #[inline]
    fn from(slot: usize) -> PortId {
        PortId(u32::try_from(slot).unwrap_or(u32::MAX))
    }
}

impl From<PortId> for usize {
    #[inline]
    fn from(id: PortId) -> usize {
        id.0 as usize
    }
}

impl PortId {
    /// The flow table's owner of this port's flows.
    #[inline]
    pub const fn owner(self) -> FlowOwner {
        FlowOwner::new(self.0)
    }

    /// The port whose flows `owner` numbers (a frontend's owner is past
    /// every port: it names none).
    #[inline]
    pub const fn of_owner(owner: FlowOwner) -> PortId {
        PortId(owner.get())
    }
}
