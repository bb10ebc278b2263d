//! The diagnostic answers, computed from a compiled [`Snapshot`] with the
//! decision's own steps and in the JSON shape `az` prints: effective routes,
//! next hop, IP flow verify and effective security rules.

use super::query::FlowQuery;
use crate::dataplane::{judge_nsgs, route_step_observed, DecisionObserver};
use crate::net::PacketKey;
use crate::plan::PortIdx;
use crate::policy::ids;
use crate::policy::nsg::{EffectiveRule, NsgLevel};
use crate::policy::routes::EffectiveRoute;
use crate::snapshot::{Snapshot, StageOwner};
use crate::topology::{GatewayIdx, NextHopType, PortSpec, SubnetRef, Topology};
use serde::Serialize;
use std::cell::RefCell;
use std::net::IpAddr;

/// One row of `routes --json`.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RouteRow {
    pub source: &'static str,
    pub state: &'static str,
    pub address_prefix: Vec<String>,
    pub next_hop_type: &'static str,
    pub next_hop_ip_address: Vec<String>,
    pub name: Option<String>,
    pub disable_bgp_route_propagation: bool,
}

#[derive(Debug, Serialize)]
pub struct RouteList {
    pub value: Vec<RouteRow>,
}

/// The answer of `next-hop --json`.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NextHop {
    pub next_hop_type: &'static str,
    pub next_hop_ip_address: String,
    /// The user route's route table as an Azure resource ID, or
    /// `System Route`.
    pub route_table_id: String,
    /// vnetd's own, for an `Internet` next hop in a lab with an Internet:
    /// how the packet leaves and with which public address (absent
    /// otherwise, so that the answer is Azure's key for key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress: Option<EgressAnswer>,
}

/// How an Internet-bound packet leaves ([`crate::snapshot::edge`]).
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EgressAnswer {
    /// `NatGateway`, `PublicIp`, `LoadBalancer`, `DefaultOutbound`, or
    /// `None` (dropped).
    pub method: &'static str,
    /// The NAT gateway's name, for that method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat_gateway: Option<String>,
    /// The load balancer's name, for `LoadBalancer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<String>,
    /// The public address the packet leaves with; empty for `None`.
    pub public_ip_address: String,
}

/// The way out of `nic` for a packet from `src`, as the packet path
/// takes it.
pub fn egress_answer(snap: &Snapshot, nic: PortIdx, src: Option<IpAddr>) -> EgressAnswer {
    use crate::snapshot::edge::{nat_address, EgressHop};
    let hop = snap.nics[nic].egress;
    let (nat_gateway, address) = match hop {
        EgressHop::None => (None, None),
        EgressHop::PublicIp(a) | EgressHop::DefaultOutbound(a) => (None, Some(a)),
        EgressHop::NatGateway(g) => {
            let tables = &snap.edge.nat_gateways[g as usize];
            (
                Some(snap.topology.edge.nat_gateways[tables.gateway].name.clone()),
                src.and_then(|s| nat_address(&tables.addresses, s)),
            )
        }
        // A flow leaves with the first frontend address while the NIC has
        // ports on it.
        EgressHop::LoadBalancer { outbound, .. } => (
            None,
            snap.edge.outbound[outbound as usize]
                .addresses
                .first()
                .copied(),
        ),
    };
    let load_balancer = match hop {
        EgressHop::LoadBalancer { outbound, .. } => {
            let way = &snap.edge.outbound[outbound as usize];
            let lb = &snap.topology.load_balancers[way.load_balancer];
            Some(lb.name.clone())
        }
        _ => None,
    };
    EgressAnswer {
        method: hop.method(),
        nat_gateway,
        load_balancer,
        public_ip_address: address.map(|a| a.to_string()).unwrap_or_default(),
    }
}

/// What `routeTableId` says for a route that is no user route.
pub const SYSTEM_ROUTE: &str = "System Route";

/// The answer of `flow-verify --json`.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FlowVerdict {
    pub access: &'static str,
    /// `securityRules/<name>` or `defaultSecurityRules/<name>`; null when
    /// the NIC has no NSG at all (Azure then allows everything).
    pub rule_name: Option<String>,
}

/// The subnet's route table setting, repeated on every row as Azure does.
fn propagation_disabled(snap: &Snapshot, subnet: SubnetRef) -> bool {
    let t = &snap.topology;
    t.subnet(subnet)
        .route_table
        .is_some_and(|rt| !t.route_tables[rt].bgp_route_propagation_enabled)
}

/// The route's next-hop addresses as text, in order.
fn next_hop_texts(snap: &Snapshot, route: &EffectiveRoute) -> impl Iterator<Item = String> {
    (route.next_hop_addresses(&snap.topology).into_iter()).map(|ip| ip.to_string())
}

fn route_row(snap: &Snapshot, route: &EffectiveRoute, disable_bgp: bool) -> RouteRow {
    RouteRow {
        source: route.source.as_str(),
        state: route.state.as_str(),
        address_prefix: vec![route.address_prefix.to_string()],
        next_hop_type: route.next_hop_type.as_str(),
        next_hop_ip_address: next_hop_texts(snap, route).collect(),
        name: route.name.clone(),
        disable_bgp_route_propagation: disable_bgp,
    }
}

pub fn routes(snap: &Snapshot, nic: PortIdx) -> RouteList {
    subnet_routes(snap, snap.plan.ports[nic].subnet)
}

/// The effective routes of any subnet, GatewaySubnet included (Azure
/// shows them only through a running VM's NIC).
pub fn subnet_routes(snap: &Snapshot, subnet: SubnetRef) -> RouteList {
    let disable_bgp = propagation_disabled(snap, subnet);
    RouteList {
        value: snap
            .subnet_tables(subnet)
            .map(|t| t.routes.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|r| route_row(snap, r, disable_bgp))
            .collect(),
    }
}

/// The first address of `nic` in `dst`'s family: what it sends to `dst`
/// from.
pub(super) fn source_towards(snap: &Snapshot, nic: PortIdx, dst: IpAddr) -> Option<IpAddr> {
    snap.plan.ports[nic]
        .ip_configurations
        .iter()
        .map(|c| c.address)
        .find(|a| a.is_ipv4() == dst.is_ipv4())
}

/// The gateways a packet with `key` from `nic` is routed through, in
/// order, each once, as the decision's route step reports them: the one
/// its route leads to and each Vnet2Vnet peer it is handed on to (what
/// `vnetd flows` lists of an outbound flow).
pub fn gateways_crossed(snap: &Snapshot, nic: PortIdx, key: &PacketKey) -> Vec<String> {
    struct Crossed(RefCell<Vec<GatewayIdx>>);
    impl DecisionObserver for Crossed {
        fn observes(&self) -> bool {
            true
        }
        fn gateway_crossed(&self, gateway: GatewayIdx) {
            let mut crossed = self.0.borrow_mut();
            if !crossed.contains(&gateway) {
                crossed.push(gateway);
            }
        }
    }
    let crossed = Crossed(RefCell::default());
    let _ = route_step_observed(snap, nic, key, &crossed);
    (crossed.0.into_inner().into_iter())
        .map(|g| snap.topology.gateways[g].name.clone())
        .collect()
}

pub fn next_hop(snap: &Snapshot, nic: PortIdx, dst: IpAddr) -> NextHop {
    // The deciding row as forwarding finds it (`route_step`'s lookup).
    let route = snap
        .route_target(nic, dst)
        .map(|(row, _)| &snap.nic_routes(nic).routes[row]);
    match route {
        Some(route) => NextHop {
            next_hop_type: route.next_hop_type.as_str(),
            next_hop_ip_address: next_hop_texts(snap, route).next().unwrap_or_default(),
            route_table_id: match route.route_table {
                Some(rt) => ids::route_table_id(&snap.topology.route_tables[rt].name),
                None => SYSTEM_ROUTE.to_string(),
            },
            // Only a lab with an Internet has ways out to name: other labs'
            // answers stay Azure's, key for key.
            egress: (route.next_hop_type == NextHopType::Internet && snap.edge.internet.is_some())
                .then(|| egress_answer(snap, nic, source_towards(snap, nic, dst))),
        },
        // No route at all: the packet is dropped, which Azure reports as
        // next hop None.
        None => NextHop {
            next_hop_type: NextHopType::None.as_str(),
            next_hop_ip_address: String::new(),
            route_table_id: SYSTEM_ROUTE.to_string(),
            egress: None,
        },
    }
}

/// The verdict with the deciding rule and where it sits (for the table).
pub struct FlowAnswer<'s> {
    pub verdict: FlowVerdict,
    pub decided_by: Option<(NsgLevel, &'s str, &'s EffectiveRule)>,
}

pub fn flow_verify<'s>(snap: &'s Snapshot, nic: PortIdx, query: &FlowQuery) -> FlowAnswer<'s> {
    // The same step forwarding runs for a packet no flow admits.
    let judged = judge_nsgs(snap, nic, query.direction, &query.packet());
    let verdict = judged.verdict;
    let decided_by = snap
        .deciding_rule(nic, query.direction, &verdict)
        .map(|(stage, rule)| (stage.level, stage.owner.name(&snap.topology), rule));
    FlowAnswer {
        verdict: FlowVerdict {
            access: verdict.access.as_str(),
            rule_name: decided_by.map(|(_, _, r)| r.name.clone()),
        },
        decided_by,
    }
}

/// One rule of `rules --json`, key for key (and in the order) of Azure's
/// effective security rules: `name`, `protocol` (`All` for `*`), port
/// ranges as `lo-hi` both single (null when there are several) and as a
/// list, address prefixes the same way (`0.0.0.0/0` for `*`), the
/// expansion of tags and ASGs (null for plain prefixes and `*`), `access`,
/// `priority`, `direction`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityRuleRow {
    pub name: String,
    pub protocol: &'static str,
    pub source_port_range: Option<String>,
    pub destination_port_range: Option<String>,
    pub source_port_ranges: Vec<String>,
    pub destination_port_ranges: Vec<String>,
    pub source_address_prefix: Option<String>,
    pub destination_address_prefix: Option<String>,
    pub source_address_prefixes: Vec<String>,
    pub destination_address_prefixes: Vec<String>,
    pub expanded_source_address_prefix: Option<Vec<String>>,
    pub expanded_destination_address_prefix: Option<Vec<String>>,
    pub access: &'static str,
    pub priority: u16,
    pub direction: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ResourceId {
    pub id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Association {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<ResourceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_interface: Option<ResourceId>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveNsg {
    pub network_security_group: ResourceId,
    pub association: Association,
    pub effective_security_rules: Vec<SecurityRuleRow>,
}

#[derive(Debug, Serialize)]
pub struct EffectiveNsgList {
    pub value: Vec<EffectiveNsg>,
}

/// Azure prints port ranges as `lo-hi` (`0-65535` for `*`).
fn port_ranges(spec: &PortSpec) -> Vec<String> {
    match spec {
        PortSpec::Any => vec!["0-65535".to_string()],
        PortSpec::Ranges(r) => r.iter().map(|r| format!("{}-{}", r.lo, r.hi)).collect(),
    }
}

fn single(list: &[String]) -> Option<String> {
    match list {
        [one] => Some(one.clone()),
        _ => None,
    }
}

fn expanded(named: bool, prefixes: &[ipnet::IpNet]) -> Option<Vec<String>> {
    named.then(|| prefixes.iter().map(|p| p.to_string()).collect())
}

fn security_row(rule: &EffectiveRule) -> SecurityRuleRow {
    let src = port_ranges(&rule.settings.source_ports);
    let dst = port_ranges(&rule.settings.destination_ports);
    SecurityRuleRow {
        name: rule.name.clone(),
        protocol: rule.settings.protocol.as_str(),
        source_port_range: single(&src),
        destination_port_range: single(&dst),
        source_port_ranges: src,
        destination_port_ranges: dst,
        source_address_prefix: single(&rule.source_prefixes),
        destination_address_prefix: single(&rule.destination_prefixes),
        source_address_prefixes: rule.source_prefixes.clone(),
        destination_address_prefixes: rule.destination_prefixes.clone(),
        expanded_source_address_prefix: expanded(rule.source_is_named, &rule.expanded_source),
        expanded_destination_address_prefix: expanded(
            rule.destination_is_named,
            &rule.expanded_destination,
        ),
        access: rule
            .admin_action
            .map_or(rule.settings.access.as_str(), |action| action.as_str()),
        priority: rule.settings.priority,
        direction: rule.settings.direction.as_str(),
    }
}

/// The resource ID of the configuration of the first of `rules` (admin
/// rules, named `securityAdminRules/<configuration>/...`).
fn admin_configuration_id(topo: &Topology, rules: &[EffectiveRule]) -> String {
    let configuration = rules
        .first()
        .and_then(|r| r.name.split('/').nth(1))
        .unwrap_or_default();
    let manager = (topo.network_management.admin_rules.iter())
        .find(|r| r.configuration == configuration)
        .map_or("", |r| r.manager.as_str());
    ids::security_admin_configuration_id(manager, configuration)
}

/// Effective security rules: one entry for the security admin rules (if
/// any), then one per associated NSG (subnet first),
/// inbound rules then outbound, each in evaluation order.
pub fn rules(snap: &Snapshot, nic: PortIdx) -> EffectiveNsgList {
    let tables = &snap.nics[nic];
    let topo = &snap.topology;
    let mut value: Vec<EffectiveNsg> = Vec::new();
    for level in [NsgLevel::Admin, NsgLevel::Subnet, NsgLevel::Nic] {
        let stages: Vec<_> = tables
            .inbound
            .iter()
            .chain(tables.outbound.iter())
            .filter(|s| s.level == level)
            .collect();
        let Some(first) = stages.first() else {
            continue;
        };
        let association = match level {
            NsgLevel::Admin | NsgLevel::Subnet => Association {
                subnet: Some(ResourceId {
                    id: {
                        let at = snap.plan.ports[nic].subnet;
                        ids::subnet_id(&topo.vnets[at.vnet].name, &topo.subnet(at).name)
                    },
                }),
                network_interface: None,
            },
            NsgLevel::Nic | NsgLevel::Firewall => Association {
                subnet: None,
                network_interface: Some(ResourceId {
                    id: ids::nic_id(&snap.plan.ports[nic].name),
                }),
            },
        };
        // Admin rules are listed under the configuration of the first one
        // (the rows name each rule's configuration in full).
        let id = match first.owner {
            StageOwner::SecurityAdmin => admin_configuration_id(topo, &first.rules),
            owner => ids::nsg_id(owner.name(topo)),
        };
        value.push(EffectiveNsg {
            network_security_group: ResourceId { id },
            association,
            effective_security_rules: stages
                .iter()
                .flat_map(|s| s.rules.iter().map(security_row))
                .collect(),
        });
    }
    EffectiveNsgList { value }
}
