//! The compiled, immutable snapshot of a whole topology: the one value that
//! the packet path and the diagnostics both read, so that what vnetd explains
//! and what it forwards can never disagree.
//!
//! For every subnet: its effective routes (Active and Invalid rows, as
//! Azure lists them) and a longest-prefix-match table over the Active rows.
//! For every NIC: the NSG stages a packet meets in each direction (inbound:
//! subnet NSG then NIC NSG; outbound: NIC NSG then subnet NSG), each stage
//! the NSG's effective rules for that NIC (defaults added, tags and ASGs
//! expanded) and a first-match classifier over them. Stages are shared
//! between NICs whose rules are necessarily the same (same NSG, subnet and
//! ASG memberships). A Private Endpoint's port meets its subnet's NSG, both
//! ways, only where the subnet's network policies bind NSGs to endpoints;
//! the other ports vnetd adds meet none.
//!
//! Packets for the host virtual IP 168.63.129.16 are not subject to
//! user-defined routes in Azure ("What is IP address 168.63.129.16?": it
//! "isn't subject to user defined routes"). Each subnet therefore also
//! records the row that decides that one address: the longest system
//! (`Default`) row containing it, whatever user route would otherwise win
//! (with no VNet range allowed to overlap it, that is the system
//! 0.0.0.0/0 → Internet row, even where a 0/0 user route made it Invalid).
//! [`Snapshot::route`] and [`Snapshot::route_target`] answer from that row,
//! so `next-hop` and the packet path agree.
//!
//! A snapshot never changes once built; a new topology makes a new snapshot.
//!
//! It owns the compiled, immutable tables and the stable rule ids; it may
//! use [`crate::policy`], [`crate::engine`], [`crate::topology`],
//! [`crate::names`] and [`crate::net`].

use crate::engine::lpm::Lpm;
use crate::plan::Plan;
use crate::policy::load_balancers::BackendHealth;
use crate::policy::nsg::{effective_rules_at, endpoint_nsg_chain, nsg_chain};
use crate::policy::routes::{effective_routes_with, EffectiveRoute, RouteSource};
use crate::policy::tags::AZURE_HOST_VIP;
use crate::topology::{AsgIdx, Direction, NsgIdx, SubnetRef, TiVec, Topology, VnetIdx};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

pub use changes::ChangedPorts;
pub use stages::{NsgVerdict, StageObserver, Unobserved};

mod changes;
pub mod edge;
mod egress_names;
pub mod firewalls;
mod forwarding;
pub mod fqdns;
pub mod gateways;
pub mod load_balancers;
pub mod rule_names;
pub mod shaping;
mod stages;
mod tables;

/// What a snapshot is compiled with beside its topology: the routes the
/// gateways learned over BGP.
/// Ports are what the compiled tables are indexed by.
pub use crate::plan::PortIdx;
pub use crate::policy::gateways::{BgpOrigin, LearnedRoute, LearnedRoutes};
pub use firewalls::StageOwner;
pub use forwarding::{Crossing, Forwarding, Holder, RouteTarget};
pub use gateways::{GatewayHop, GatewayTables};
pub use load_balancers::{FrontendIdx, FrontendTables, LbBackend, LbRuleTables};
pub use rule_names::{RuleId, RuleIdentity, RuleNames, NO_RULE};
pub use tables::{rule_match, NicTables, NsgStage, Snapshot, SubnetTables};

/// The longest system row containing the host virtual IP.
fn host_vip_row(routes: &[EffectiveRoute]) -> Option<usize> {
    let vip = IpAddr::V4(AZURE_HOST_VIP);
    routes
        .iter()
        .enumerate()
        .filter(|(_, r)| r.source == RouteSource::Default && r.address_prefix.contains(&vip))
        .max_by_key(|(i, r)| (r.address_prefix.prefix_len(), std::cmp::Reverse(*i)))
        .map(|(i, _)| i)
}

/// The snapshot a new one follows, if any, and whether it keeps its
/// topology.
#[derive(Clone, Copy)]
enum Lineage<'a> {
    /// A topology compiled on its own.
    First,
    /// The successor of a snapshot, for a topology an `apply` changed.
    After(&'a Snapshot),
    /// The successor of a snapshot, for the very same topology.
    SameTopology(&'a Snapshot),
}

impl<'a> Lineage<'a> {
    fn previous(self) -> Option<&'a Snapshot> {
        match self {
            Lineage::First => None,
            Lineage::After(previous) | Lineage::SameTopology(previous) => Some(previous),
        }
    }
}

/// What a snapshot is compiled from beside its topology.
struct Inputs {
    learned: LearnedRoutes,
    health: BackendHealth,
    fqdns: Arc<fqdns::FqdnResolutions>,
}

impl Inputs {
    /// The inputs `previous` was compiled with.
    fn of(previous: &Snapshot) -> Inputs {
        Inputs {
            learned: previous.learned.clone(),
            health: previous.health.clone(),
            fqdns: previous.fqdns.clone(),
        }
    }
}

/// What makes two NICs' view of one NSG identical.
#[derive(Hash, PartialEq, Eq)]
struct StageKey {
    nsg: NsgIdx,
    direction: Direction,
    subnet: SubnetRef,
    asgs: Vec<AsgIdx>,
}

impl Snapshot {
    /// Compiles a topology on its own (rule numbers start afresh).
    pub fn compile(topology: Topology, generation: u64) -> Snapshot {
        Snapshot::compile_learned(topology, LearnedRoutes::default(), generation)
    }

    /// Compiles a topology with the routes its gateways learned.
    pub fn compile_learned(
        topology: Topology,
        learned: LearnedRoutes,
        generation: u64,
    ) -> Snapshot {
        let plan = Plan::derive(&topology);
        Snapshot::compile_with(
            (topology, plan),
            Inputs {
                learned,
                health: BackendHealth::default(),
                fqdns: Arc::default(),
            },
            generation,
            Lineage::First,
        )
    }

    /// Compiles the successor of `previous`: a rule keeps the number it had
    /// there, so flows admitted under `previous` still name their rule.
    pub fn compile_after(topology: Topology, generation: u64, previous: &Snapshot) -> Snapshot {
        Snapshot::compile_after_with(topology, previous.learned.clone(), generation, previous)
    }

    /// [`Snapshot::compile_after`] with the given learned routes instead of
    /// `previous`'s (the gateways changed).
    pub fn compile_after_with(
        topology: Topology,
        learned: LearnedRoutes,
        generation: u64,
        previous: &Snapshot,
    ) -> Snapshot {
        let plan = Plan::derive(&topology);
        Snapshot::compile_planned_after((topology, plan), learned, generation, previous)
    }

    /// [`Snapshot::compile_after_with`] for a topology whose plan the
    /// caller derived already (an `apply` derives it once).
    pub fn compile_planned_after(
        (topology, plan): (Topology, Plan),
        learned: LearnedRoutes,
        generation: u64,
        previous: &Snapshot,
    ) -> Snapshot {
        Snapshot::compile_with(
            (topology, plan),
            Inputs {
                learned,
                health: previous.health.clone(),
                fqdns: previous.fqdns.clone(),
            },
            generation,
            Lineage::After(previous),
        )
    }

    /// The successor of `previous` for the same topology, with what the
    /// gateways have learned now.
    pub fn relearned(previous: &Snapshot, learned: LearnedRoutes, generation: u64) -> Snapshot {
        let inputs = Inputs {
            learned,
            ..Inputs::of(previous)
        };
        Snapshot::recompiled(previous, inputs, generation)
    }

    /// The successor of `previous` for the same topology, with what the
    /// load balancers' probes find now.
    pub fn rehealthed(previous: &Snapshot, health: BackendHealth, generation: u64) -> Snapshot {
        let inputs = Inputs {
            health,
            ..Inputs::of(previous)
        };
        Snapshot::recompiled(previous, inputs, generation)
    }

    /// The successor of `previous` for the same topology, with what the
    /// firewalls' DNS proxies answer now for their network rules' FQDNs.
    pub fn reresolved(
        previous: &Snapshot,
        fqdns: Arc<fqdns::FqdnResolutions>,
        generation: u64,
    ) -> Snapshot {
        let inputs = Inputs {
            fqdns,
            ..Inputs::of(previous)
        };
        Snapshot::recompiled(previous, inputs, generation)
    }

    /// The successor of `previous` for the same topology, from the given
    /// inputs.
    fn recompiled(previous: &Snapshot, inputs: Inputs, generation: u64) -> Snapshot {
        Snapshot::compile_with(
            (previous.topology.clone(), previous.plan.clone()),
            inputs,
            generation,
            Lineage::SameTopology(previous),
        )
    }

    /// Compiles `topology` with its inputs; `previous` lends its rule
    /// numbers and tells which load-balancing rules placed flows the same
    /// way before.
    #[allow(
        clippy::too_many_lines,
        reason = "one pass that builds every table of the snapshot from the same inputs, in the order each needs the others"
    )]
    fn compile_with(
        (topology, plan): (Topology, Plan),
        inputs: Inputs,
        generation: u64,
        lineage: Lineage<'_>,
    ) -> Snapshot {
        let Inputs {
            learned,
            health,
            fqdns,
        } = inputs;
        let previous = lineage.previous();
        let names = match lineage {
            Lineage::SameTopology(previous) => previous.names.clone(),
            _ => Arc::new(crate::names::NameTables::compile(&topology)),
        };
        let rule_names = previous.map_or_else(Default::default, |p| p.rule_names.clone());
        let forwarding = Forwarding::build(&topology, &plan);
        // What the same topology compiled before and still holds (a route
        // learned elsewhere, a backend's health) is taken over, not
        // compiled again: a BGP update replaces only the tables it changes.
        let same_topology = match lineage {
            Lineage::SameTopology(previous) => Some(previous),
            Lineage::First | Lineage::After(_) => None,
        };
        let mut subnets = Vec::new();
        let mut subnet_slots = HashMap::new();
        for subnet in topology.subnet_refs() {
            let routes = effective_routes_with(&topology, &learned, subnet);
            subnet_slots.insert(subnet, subnets.len());
            let unchanged = same_topology
                .and_then(|p| p.subnet_tables_shared(subnet))
                .filter(|before| before.routes == routes);
            if let Some(before) = unchanged {
                subnets.push(Arc::clone(before));
                continue;
            }
            let lpm = compile_lpm(&routes);
            let (targets, appliance_sets) =
                forwarding::resolve_targets(&routes, subnet.vnet, &forwarding);
            subnets.push(Arc::new(SubnetTables {
                subnet,
                host_vip_row: host_vip_row(&routes),
                routes,
                lpm,
                targets,
                appliance_sets,
            }));
        }
        let mut shared: HashMap<StageKey, NsgStage> = HashMap::new();
        let frontends = load_balancers::compile(
            &topology,
            &health,
            generation,
            previous.map(|p| (&p.topology, p.frontends.as_slice())),
        );
        let edge = edge::EdgeTables::compile(&topology, &plan);
        let mut admin_stages: HashMap<(SubnetRef, Direction), Option<NsgStage>> = HashMap::new();
        let mut nics = TiVec::with_capacity(plan.ports.len());
        for (idx, nic) in plan.ports.iter_enumerated() {
            let file_nic = plan.nic(idx);
            let mut stages_for = |direction: Direction| -> Vec<NsgStage> {
                let chain = match (file_nic, nic.kind.private_endpoint()) {
                    (Some(file_nic), _) => nsg_chain(&topology, file_nic, direction),
                    (None, Some(endpoint)) => endpoint_nsg_chain(&topology, endpoint),
                    (None, None) => Vec::new(),
                };
                chain
                    .into_iter()
                    .map(|(level, nsg)| {
                        let mut asgs = nic.application_security_groups.clone();
                        asgs.sort_unstable();
                        let key = StageKey {
                            nsg,
                            direction,
                            subnet: nic.subnet,
                            asgs: asgs.clone(),
                        };
                        let stage = shared.entry(key).or_insert_with(|| {
                            let rules = effective_rules_at(
                                &topology, &learned, nsg, nic.subnet, &asgs, direction,
                            );
                            let before = same_topology
                                .and_then(|p| p.nics.get(idx))
                                .map(|t| match direction {
                                    Direction::Inbound => &t.inbound,
                                    Direction::Outbound => &t.outbound,
                                })
                                .and_then(|stages| {
                                    stages.iter().find(|s| {
                                        s.level == level && s.owner == StageOwner::Nsg(nsg)
                                    })
                                })
                                .filter(|s| *s.rules == rules[..]);
                            if let Some(s) = before {
                                return s.clone();
                            }
                            let owner = StageOwner::Nsg(nsg);
                            NsgStage::compile(&topology, level, owner, rules, &rule_names)
                        });
                        // The same NSG may be met at another level first.
                        NsgStage {
                            level,
                            ..stage.clone()
                        }
                    })
                    .collect()
            };
            let mut inbound = match nic.kind.firewall() {
                Some(f) => {
                    let resolved =
                        |fqdn: &str| fqdns::fqdn_addresses(&topology, &names, &fqdns, f, fqdn);
                    vec![stages::firewall_stage(&topology, f, &resolved, &rule_names)]
                }
                None => stages_for(Direction::Inbound),
            };
            let mut outbound = stages_for(Direction::Outbound);
            if file_nic.is_some() {
                for (direction, stages) in [
                    (Direction::Inbound, &mut inbound),
                    (Direction::Outbound, &mut outbound),
                ] {
                    let stage = admin_stages
                        .entry((nic.subnet, direction))
                        .or_insert_with(|| {
                            stages::admin_stage(
                                &topology,
                                &learned,
                                nic.subnet,
                                direction,
                                &rule_names,
                            )
                        });
                    if let Some(stage) = stage {
                        stages.insert(0, stage.clone());
                    }
                }
            }
            let flushes = |stages: &[NsgStage]| stages.iter().any(|s| s.owner.flushes(&topology));
            nics.push(NicTables {
                subnet_slot: subnet_slots[&nic.subnet],
                vnet: nic.subnet.vnet,
                kind: nic.kind,
                circuit: nic
                    .kind
                    .site_tunnel()
                    .and_then(|(site, gateway, _)| topology.circuit_of(site, gateway)),
                translated_frontends: (0..)
                    .zip(&frontends)
                    .filter(|(_, fe)| {
                        fe.rules
                            .iter()
                            .any(|r| !r.floating_ip && r.member(idx).is_some())
                    })
                    .map(|(i, _)| FrontendIdx(i))
                    .collect(),
                backend_of: (0..)
                    .zip(&frontends)
                    .filter(|(_, fe)| fe.serves(idx))
                    .map(|(i, _)| FrontendIdx(i))
                    .collect(),
                ip_forwarding: nic.ip_forwarding,
                addresses: nic
                    .ip_configurations
                    .iter()
                    .map(|c| c.address)
                    .chain(
                        frontends
                            .iter()
                            .filter(|fe| {
                                fe.rules
                                    .iter()
                                    .any(|r| r.floating_ip && r.member(idx).is_some())
                            })
                            .map(|fe| fe.address),
                    )
                    .chain(plan.nic(idx).into_iter().flat_map(|n| {
                        crate::policy::route_server::appliance_loopback_addresses(&topology, n)
                    }))
                    .collect(),
                flow_timeout_ms: topology
                    .vnets
                    .get(nic.subnet.vnet)
                    .map_or(0, |v| u64::from(v.flow_timeout_minutes) * 60_000),
                flush_inbound: flushes(&inbound),
                flush_outbound: flushes(&outbound),
                remote: !plan.is_local(idx),
                egress: edge.egress_of(&topology, &plan, idx),
                inbound,
                outbound,
            });
        }
        let gateways = gateways::compile(&topology, &plan, &learned);
        let probers: TiVec<VnetIdx, Option<PortIdx>> =
            topology.vnets.keys().map(|v| plan.prober(v)).collect();
        let azure_dns: TiVec<VnetIdx, Option<PortIdx>> =
            topology.vnets.keys().map(|v| plan.azure_dns(v)).collect();
        let shaping = match lineage {
            Lineage::SameTopology(previous) => previous.shaping.clone(),
            Lineage::After(previous) => {
                let tables = shaping::ShapingTables::compile(&topology, &plan);
                tables.carry_clocks_from(&previous.shaping);
                Arc::new(tables)
            }
            Lineage::First => Arc::new(shaping::ShapingTables::compile(&topology, &plan)),
        };
        let topology_version = match lineage {
            Lineage::SameTopology(previous) => previous.topology_version,
            Lineage::First | Lineage::After(_) => changes::next_topology_version(),
        };
        Snapshot {
            topology_version,
            edge,
            names,
            shaping,
            topology,
            plan,
            generation,
            subnets,
            subnet_slots,
            nics,
            gateways,
            forwarding,
            rule_names,
            learned,
            health,
            fqdns,
            frontends,
            probers,
            azure_dns,
        }
    }
}

/// A lookup table from destination to the index (in `rows`) of the Active
/// row that decides it ([`crate::policy::routes::deciding_row`] is its
/// plain definition). No match means drop, as does a `None` next hop.
pub fn compile_lpm(rows: &[EffectiveRoute]) -> Lpm<usize> {
    rows.iter()
        .enumerate()
        .filter(|(_, r)| r.is_active())
        .map(|(i, r)| (r.address_prefix, i))
        .collect()
}

#[cfg(test)]
mod compile_tests;
