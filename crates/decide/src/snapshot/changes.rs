//! Which ports a new snapshot may decide otherwise than the one before it.
//!
//! The kernel fast path carries admitted flows under the generation of the
//! rules that decided them; a new snapshot must send back to the workers
//! every flow whose decision it can change, and only those (a BGP update
//! learned by one gateway must not pull every VM's flows out of the
//! kernel, nor a security admin rule committed to one VNet every other
//! VNet's). A flow's decision reads its sender's routes (its subnet's
//! effective routes, learned routes included, and past a route into a
//! gateway, the gateways' own tables of what they learned) and NSGs, its
//! receiver's NSGs and addresses, the load balancers a port is a backend
//! or frontend of, and the port's way out to the Internet.
//!
//! A snapshot of the same topology (what the gateways learned, or the
//! probes found, changed) shares every table that did not change, so most
//! comparisons are of pointers. A snapshot of another topology (`apply`,
//! a Virtual Network Manager commit) is compared by value: when its ports,
//! the tables every port reads (addresses, crossings, gateways, load
//! balancers, the edge, shaping, where the machines are) and the rules'
//! numbering are the same, only the ports whose own tables differ change,
//! those of the VNets whose peerings or connected groups changed, the
//! firewalls (whose policies are read from the topology) and the ports
//! that serve names; otherwise every port does.

use super::forwarding::RouteTarget;
use super::tables::{NicTables, NsgStage, Snapshot};
use crate::plan::PortIdx;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The ports whose flows a snapshot may decide otherwise than an older
/// one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangedPorts {
    /// Every port (other ports, or other tables that every port reads).
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
        let same_topology = self.topology_version == before.topology_version;
        let beyond = if same_topology {
            (Arc::ptr_eq(&self.shaping, &before.shaping) && Arc::ptr_eq(&self.names, &before.names))
                .then(Vec::new)
        } else {
            self.vnets_crossing_otherwise(before)
        };
        let (Some(crossing_otherwise), true) = (beyond, self.nics.len() == before.nics.len())
        else {
            return ChangedPorts::All;
        };
        let learned_changed = self.learned != before.learned;
        let health_changed = self.health != before.health;
        let names_changed = !Arc::ptr_eq(&self.names, &before.names);
        let changed = (self.nics.iter_enumerated())
            .zip(before.nics.iter())
            .filter(|((_, now), then)| {
                !self.same_routes(now, before, then)
                    || !now.decides_alike(then)
                    || (learned_changed && (now.learns() || self.routes_into_a_gateway(now)))
                    || (health_changed && now.balanced())
                    || (!same_topology && now.kind.is_firewall())
                    || (names_changed && now.kind.serves_names())
                    || crossing_otherwise.get(now.vnet.index()) == Some(&true)
            })
            .map(|((idx, _), _)| idx)
            .collect();
        ChangedPorts::Only(changed)
    }

    /// When `before`, a snapshot of another topology, has the same ports
    /// and the same tables every port's decision reads but for the
    /// crossings between VNets: per VNet, whether its crossings differ,
    /// so that only those VNets' ports and the ports' own tables remain
    /// to compare; `None` when more differs. Every field is named: a
    /// table added to the snapshot must say here whether it is compared.
    fn vnets_crossing_otherwise(&self, before: &Snapshot) -> Option<Vec<bool>> {
        let Snapshot {
            topology,
            plan,
            generation: _,
            topology_version: _,
            // Compared per port: [`Snapshot::same_routes`].
            subnets: _,
            subnet_slots: _,
            nics: _,
            forwarding,
            rule_names,
            // Compared per port: the ports that read them.
            learned: _,
            gateways,
            health: _,
            fqdns,
            frontends,
            probers,
            azure_dns,
            shaping,
            // Read only by the ports that serve names.
            names: _,
            edge,
        } = self;
        let alike = *plan == before.plan
            && topology.placement == before.topology.placement
            && Arc::ptr_eq(rule_names, &before.rule_names)
            && gateways.len() == before.gateways.len()
            && (gateways.iter().zip(before.gateways.iter())).all(|(a, b)| a.hands_on_alike(b))
            && **fqdns == *before.fqdns
            && *frontends == before.frontends
            && *probers == before.probers
            && *azure_dns == before.azure_dns
            && shaping.shapes_alike(&before.shaping)
            && *edge == before.edge;
        alike
            .then(|| forwarding.vnets_crossing_otherwise(&before.forwarding))
            .flatten()
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
    /// Whether `then` (the same port in an older snapshot) holds the same
    /// per-port tables, its routes aside (compared by
    /// [`Snapshot::same_routes`]). Every field is named: a table added to
    /// the port must say here whether it is compared.
    fn decides_alike(&self, then: &NicTables) -> bool {
        let NicTables {
            subnet_slot: _,
            vnet,
            kind,
            circuit,
            translated_frontends,
            backend_of,
            ip_forwarding,
            addresses,
            flow_timeout_ms,
            inbound,
            outbound,
            flush_inbound,
            flush_outbound,
            remote,
            egress,
        } = self;
        *vnet == then.vnet
            && *kind == then.kind
            && *circuit == then.circuit
            && *translated_frontends == then.translated_frontends
            && *backend_of == then.backend_of
            && *ip_forwarding == then.ip_forwarding
            && *addresses == then.addresses
            && *flow_timeout_ms == then.flow_timeout_ms
            && same_stages(inbound, &then.inbound)
            && same_stages(outbound, &then.outbound)
            && *flush_inbound == then.flush_inbound
            && *flush_outbound == then.flush_outbound
            && *remote == then.remote
            && *egress == then.egress
    }

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
/// with the same rules under the same numbers.
fn same_stages(now: &[NsgStage], then: &[NsgStage]) -> bool {
    now.len() == then.len()
        && now.iter().zip(then).all(|(a, b)| {
            a.level == b.level
                && a.owner == b.owner
                && (Arc::ptr_eq(&a.rules, &b.rules) || a.rules == b.rules)
                && (Arc::ptr_eq(&a.rule_ids, &b.rule_ids) || a.rule_ids == b.rule_ids)
        })
}
