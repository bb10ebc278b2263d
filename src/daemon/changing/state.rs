//! What `apply` changes under its lock: the lab's namespaces, its hybrid
//! half, and the port slots it hands out and takes back. A slot is given
//! to a new NIC only once every worker has moved past the plane that last
//! used it, so a new NIC never inherits a departed one's counters or
//! flows.

use crate::daemon::forwarding::port_id::PortId;
use crate::daemon::options::MAX_NICS;
use crate::host::HostLab;

/// What `apply` changes, held under its lock.
pub(in crate::daemon) struct Mutable {
    pub(in crate::daemon) lab: HostLab,
    /// Sites and routing daemons; dropped before the lab's ports.
    pub(in crate::daemon) hybrid: super::hybrid::Hybrid,
    pub(in crate::daemon) slots: Slots,
    pub(in crate::daemon) next_serial: u32,
}

/// Port slots: never used, free again, or waiting for the workers to move
/// past the plane generation that last used them.
pub(in crate::daemon) struct Slots {
    pub(super) next_fresh: u32,
    pub(super) free: Vec<PortId>,
    pub(super) retiring: Vec<(PortId, u64)>,
}

impl Slots {
    pub(in crate::daemon) fn new(used: u32) -> Slots {
        Slots {
            next_fresh: used,
            free: Vec::new(),
            retiring: Vec::new(),
        }
    }

    /// A slot for a new NIC: a cleared one first, so the clearing is
    /// exercised all the time rather than once in 4096 NICs.
    pub(super) fn take(&mut self) -> Option<PortId> {
        if let Some(slot) = self.free.pop() {
            return Some(slot);
        }
        if self.next_fresh < MAX_NICS {
            self.next_fresh += 1;
            return Some(PortId::new(self.next_fresh - 1));
        }
        None
    }
}
