//! Which ports a new snapshot may decide otherwise than the one before it.
//!
//! The kernel fast path carries admitted flows under the generation of the
//! rules that decided them; a new snapshot must send back to the workers
//! every flow whose decision it can change, and only those (a BGP update
//! learned by one gateway must not pull every VM's flows out of the
//! kernel). A flow's decision reads its sender's routes (its subnet's
//! effective routes, learned routes included, and past a route into a
//! gateway, the gateways' own tables of what they learned) and NSGs, its
//! receiver's
//! NSGs and addresses, the load balancers a port is a backend or frontend
//! of, and the port's way out to the Internet. A snapshot of the same
//! topology (what the gateways learned, or the probes found, changed)
//! shares every table that did not change, so most comparisons are of
//! pointers; a snapshot of another topology (`apply`) changes every port.

use super::forwarding::RouteTarget;
use super::{NicTables, NsgStage, Snapshot};
use crate::plan::PortIdx;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The ports whose flows a snapshot may decide otherwise than an older
/// one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangedPorts {
    /// Every port (another topology).
    All,
    /// Only these ports (possibly none).
    Only(Vec<PortIdx>),
}

/// A number for each topology compiled afresh: snapshots of the same
/// topology (relearned, rehealthed) share it.
pub(super) fn next_topology_version() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Snapshot {
    /// The ports whose flows this snapshot may decide otherwise than
    /// `before` does.
    pub fn changed_ports_since(&self, before: &Snapshot) -> ChangedPorts {
        if self.topology_version != before.topology_version
            || self.nics.len() != before.nics.len()
            || !Arc::ptr_eq(&self.shaping, &before.shaping)
            || !Arc::ptr_eq(&self.names, &before.names)
        {
            return ChangedPorts::All;
        }
        let learned_changed = self.learned != before.learned;
        let health_changed = self.health != before.health;
        let changed = (self.nics.iter_enumerated())
            .zip(before.nics.iter())
            .filter(|((_, now), then)| {
                !self.same_routes(now, before, then)
                    || !same_stages(&now.inbound, &then.inbound)
                    || !same_stages(&now.outbound, &then.outbound)
                    || now.addresses != then.addresses
                    || now.translated_frontends != then.translated_frontends
                    || now.backend_of != then.backend_of
                    || now.egress != then.egress
                    || (learned_changed && (now.learns() || self.routes_into_a_gateway(now)))
                    || (health_changed && now.balanced())
            })
            .map(|((idx, _), _)| idx)
            .collect();
        ChangedPorts::Only(changed)
    }

    /// Whether port tables `now` of this snapshot route as `then` of
    /// `before`: the same subnet tables, or routes and targets alike.
    fn same_routes(&self, now: &NicTables, before: &Snapshot, then: &NicTables) -> bool {
        let (Some(a), Some(b)) = (
            self.subnets.get(now.subnet_slot),
            before.subnets.get(then.subnet_slot),
        ) else {
            return false;
        };
        Arc::ptr_eq(a, b) || (a.subnet == b.subnet && a.routes == b.routes)
    }

    /// Whether one of the port's routes leads into a gateway, whose own
    /// table (what it learned, and a Vnet2Vnet peer's) decides the rest of
    /// the way.
    fn routes_into_a_gateway(&self, now: &NicTables) -> bool {
        (self.subnets.get(now.subnet_slot)).is_some_and(|s| {
            s.targets
                .iter()
                .any(|t| matches!(t, RouteTarget::Gateway(_)))
        })
    }
}

impl NicTables {
    /// Whether the port's forwarding reads what the gateways learned
    /// beyond its subnet's routes: a gateway's port, an instance, a site.
    fn learns(&self) -> bool {
        self.kind.enters_through_gateway()
    }

    /// Whether the port's flows may pass a load balancer, whose backends'
    /// health decides them.
    fn balanced(&self) -> bool {
        !self.backend_of.is_empty() || !self.translated_frontends.is_empty()
    }
}

/// Whether two chains of NSG stages judge alike: the same stages, each
/// with the same rules.
fn same_stages(now: &[NsgStage], then: &[NsgStage]) -> bool {
    now.len() == then.len()
        && now.iter().zip(then).all(|(a, b)| {
            a.level == b.level
                && a.owner == b.owner
                && (Arc::ptr_eq(&a.rules, &b.rules) || a.rules == b.rules)
        })
}
