//! What an `apply` changes, worked out before the host is touched: a pure
//! function of the running lab (its topology, plan and ports) and the new
//! topology with its plan, derived once. For each port of the new plan it
//! says whether the running port is kept (with its slot, counters, flows,
//! namespace and TUN, as Azure keeps a NIC whose settings change in
//! place), built anew (a new NIC, or one whose addresses, subnet,
//! namespace, MTU or site changed, after the departing namespace of its
//! name when there is one) or left to the machine that runs it; which
//! running ports leave; and what a kept port changes in place (its VM
//! size's rate cap, the routes out of its device, a firewall's DNAT and
//! interception, the guest's IP forwarding). `apply` then runs it as
//! steps, each of which undoes itself when a later one fails.

use super::ports::{namespace_spec, offloadable, trusts_lab_ca};
use crate::host::NamespaceSpec;
use crate::plan::{Plan, PortIdx};
use crate::topology::{TiSlice, TiVec, Topology};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// How this daemon builds a port's namespace, the same for every apply.
#[derive(Debug, Clone)]
pub(in crate::daemon) struct Building {
    /// TUN queues per port (one per worker).
    pub queues_per_port: usize,
    /// A single-NIC VM's `eth0` is capped at its size's bandwidth.
    pub shaping: bool,
    /// The kernel fast path runs: eligible ports join the fabric.
    pub offload: bool,
    /// The store the VMs trust the lab's CA from.
    pub trust_store: Arc<Path>,
}

impl Building {
    /// The namespace `port` of `topology` is built with.
    pub(in crate::daemon) fn spec(
        &self,
        topology: &Topology,
        port: &crate::plan::Port,
    ) -> NamespaceSpec {
        let mut spec = namespace_spec(topology, port, self.queues_per_port, self.shaping);
        spec.on_fabric = self.offload && offloadable(port);
        if trusts_lab_ca(port) {
            spec.trust_store = Some(self.trust_store.clone());
        }
        spec
    }

    /// The namespace of every port of `plan`, in its order.
    pub(in crate::daemon) fn specs<C: FromIterator<NamespaceSpec>>(
        &self,
        topology: &Topology,
        plan: &Plan,
    ) -> C {
        (plan.ports.iter())
            .map(|p| self.spec(topology, p))
            .collect()
    }
}

/// A running port, as the change set needs it.
#[derive(Debug, Clone, Copy)]
pub(in crate::daemon) struct Running<'a> {
    /// The namespace it was built with.
    pub spec: &'a NamespaceSpec,
    /// It runs on another machine.
    pub remote: bool,
}

/// What becomes of a port of the new plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::daemon) enum Fate {
    /// The running port at this index of the old plan carries on.
    Kept(PortIdx),
    /// Another machine runs it: nothing is built here.
    Elsewhere,
    /// Its namespace and TUN are built; first, when `replacing` names a
    /// departing port whose namespace has the same name, that one goes.
    Built { replacing: Option<PortIdx> },
}

/// What a kept port changes in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::daemon) enum InPlace {
    /// Its VM's size allows another rate (`None`: uncapped).
    RateCap { from: Option<u32>, to: Option<u32> },
    /// The routes out of its device (the Internet's way back to the lab's
    /// public addresses).
    DeviceRoutes,
    /// A firewall's DNAT rules or what its application rules take.
    FirewallRules,
    /// The guest's IP forwarding, now on or off.
    IpForwarding(bool),
}

/// A kept port's changes in place, with the namespace it was built with
/// under the old topology (`was`) to undo or compare them against.
#[derive(Debug, Clone)]
pub(in crate::daemon) struct KeptChanges {
    pub port: PortIdx,
    pub was: NamespaceSpec,
    pub changes: Vec<InPlace>,
}

/// Everything an `apply` changes (see the module doc).
#[derive(Debug)]
pub(in crate::daemon) struct ChangeSet {
    /// The namespace of each port of the new plan.
    pub specs: TiVec<PortIdx, NamespaceSpec>,
    pub fates: TiVec<PortIdx, Fate>,
    /// The running ports that are not kept, by their old index, in the old
    /// plan's order.
    pub leaving: Vec<PortIdx>,
    /// Ports new by name, in the new plan's order.
    pub added: Vec<String>,
    /// Ports of a name that stays, built again, in the new plan's order.
    pub replumbed: Vec<String>,
    /// The kept ports that change something in place.
    pub in_place: Vec<KeptChanges>,
    /// The namespaces to be built under names no departing port frees:
    /// the host must not have them already (vnetd takes over no
    /// namespace it did not create).
    pub fresh_namespaces: Vec<String>,
}

impl ChangeSet {
    /// How many port slots the ports built need.
    pub(in crate::daemon) fn slots_needed(&self) -> usize {
        (self.fates.iter())
            .filter(|f| !matches!(f, Fate::Kept(_)))
            .count()
    }

    /// The ports to build here, in the order they are built: those whose
    /// namespace name is free first, then those that take a departing
    /// one's.
    pub(in crate::daemon) fn build_order(&self) -> Vec<PortIdx> {
        let built = |replacing: bool| {
            (self.fates.iter_enumerated())
                .filter(move |(_, f)| {
                    matches!(f, Fate::Built { replacing: r } if r.is_some() == replacing)
                })
                .map(|(i, _)| i)
        };
        built(false).chain(built(true)).collect()
    }
}

/// True when a NIC can keep its namespace and TUN device: same namespace,
/// addresses, gateways and MTU (a change of IP forwarding needs no
/// re-plumbing, nor one of the routes out of the device of a namespace
/// that holds every address, the Internet's: they change in place).
fn same_plumbing(old: &NamespaceSpec, new: &NamespaceSpec) -> bool {
    old.key() == new.key()
        && old.addresses == new.addresses
        && old.gateways == new.gateways
        && (old.device_routes == new.device_routes
            || (old.every_address.is_some() && old.every_address == new.every_address))
        && old.mtu == new.mtu
        && old.queues == new.queues
        // A firewall whose private ranges changed translates anew.
        && old.masquerade_except == new.masquerade_except
}

/// The change set from the running lab `old` (its topology, plan and
/// ports, indexed like its plan) to `new`; `rebuilt_routers` are the site
/// routers the hybrid part rebuilt, whose tunnels died with them.
pub(in crate::daemon) fn change_set(
    (old_topology, old_plan, running): (&Topology, &Plan, &TiSlice<PortIdx, Running<'_>>),
    (topology, plan): (&Topology, &Plan),
    building: &Building,
    rebuilt_routers: &[String],
) -> ChangeSet {
    let diff = old_plan.diff(plan);
    let old_by_name: HashMap<&str, PortIdx> = (old_plan.ports.iter_enumerated())
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();
    let specs: TiVec<PortIdx, NamespaceSpec> = building.specs(topology, plan);
    let kept: TiVec<PortIdx, Option<PortIdx>> = (plan.ports.iter_enumerated())
        .zip(&specs)
        .map(|((index, port), spec)| {
            let rebuilt = spec.existing_namespace && rebuilt_routers.contains(&spec.name);
            let old = *old_by_name.get(port.name.as_str())?;
            let alive = running[old];
            (diff.kept.contains(&port.name)
                && !rebuilt
                && same_plumbing(alive.spec, spec)
                // A port that moved to or from another machine is built
                // (or left) anew.
                && alive.remote != plan.is_local(index))
            .then_some(old)
        })
        .collect();
    let leaving: Vec<PortIdx> = (old_plan.ports.keys())
        .filter(|old| !kept.iter().any(|k| k == &Some(*old)))
        .collect();
    let mut set = ChangeSet {
        fates: TiVec::with_capacity(specs.len()),
        leaving,
        added: Vec::new(),
        replumbed: Vec::new(),
        in_place: Vec::new(),
        fresh_namespaces: Vec::new(),
        specs: TiVec::new(),
    };
    for ((index, port), spec) in plan.ports.iter_enumerated().zip(&specs) {
        if let Some(old) = kept[index] {
            set.fates.push(Fate::Kept(old));
            let was = namespace_spec(
                old_topology,
                &old_plan.ports[old],
                building.queues_per_port,
                building.shaping,
            );
            let changes = in_place(
                &was,
                spec,
                old_plan.ports[old].ip_forwarding,
                port.ip_forwarding,
            );
            if !changes.is_empty() {
                set.in_place.push(KeptChanges {
                    port: index,
                    was,
                    changes,
                });
            }
            continue;
        }
        match diff.added.contains(&port.name) {
            true => set.added.push(port.name.clone()),
            false => set.replumbed.push(port.name.clone()),
        }
        if !plan.is_local(index) {
            set.fates.push(Fate::Elsewhere);
            continue;
        }
        let replacing = (set.leaving.iter())
            .find(|&&old| running[old].spec.key() == spec.key())
            .copied();
        if replacing.is_none() && !spec.existing_namespace {
            set.fresh_namespaces.push(spec.name.clone());
        }
        set.fates.push(Fate::Built { replacing });
    }
    set.specs = specs;
    set
}

/// What a kept port built as `was` (with IP forwarding `forwarded`)
/// changes in place to run as `now` (with `forwarding`).
fn in_place(
    was: &NamespaceSpec,
    now: &NamespaceSpec,
    forwarded: bool,
    forwarding: bool,
) -> Vec<InPlace> {
    let mut changes = Vec::new();
    if was.egress_limit_mbps != now.egress_limit_mbps {
        changes.push(InPlace::RateCap {
            from: was.egress_limit_mbps,
            to: now.egress_limit_mbps,
        });
    }
    if was.device_routes != now.device_routes {
        changes.push(InPlace::DeviceRoutes);
    }
    if was.dnat != now.dnat || was.intercept != now.intercept {
        changes.push(InPlace::FirewallRules);
    }
    if forwarded != forwarding {
        changes.push(InPlace::IpForwarding(forwarding));
    }
    changes
}

#[cfg(test)]
#[path = "change_set_tests.rs"]
mod tests;
