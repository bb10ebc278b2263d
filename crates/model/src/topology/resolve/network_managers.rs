//! Resolution of Azure Virtual Network Manager, with the rules Azure
//! applies ("Security admin rules", "Connectivity configuration",
//! "Deployments in Azure Virtual Network Manager"):
//!
//! - a network group holds its static members and the VNets its
//!   conditions select (a name containing one of `member_name_contains`,
//!   case-insensitively as Azure Policy's `contains`, or every tag of
//!   `member_tags`);
//! - a configuration takes effect only where a deployment commits it: a
//!   VNet takes part when its region is one the configuration is deployed
//!   to, and a deployment names configurations of its own kind;
//! - a hub-and-spoke configuration peers the hub with each spoke, both
//!   ways (`ANM_…` peerings, with gateway transit where the group uses the
//!   hub's gateway), where no peering is written between the two; with
//!   direct connectivity the spokes of a group and the hub form a
//!   connected group;
//! - a mesh configuration makes one connected group of all its groups'
//!   VNets, joined across regions only when it is global;
//! - security admin rules hold in the VNets of their collection's groups,
//!   except VNets with network intent policies (a subnet delegated to SQL
//!   Managed Instance), which Azure leaves out by default (warned);
//! - routing rules write user-defined routes into every subnet of their
//!   collection's groups: into a route table the network manager manages,
//!   which holds the subnet's own routes too (a rule with the destination
//!   of one of them is ignored, warned), with the subnet's own table's
//!   route propagation, or the collection's where it has none; two rules
//!   for one destination with different next hops in one subnet are
//!   refused ("UDR management": conflicting rules are not supported).

use super::super::decode::{
    NameRef, RawConnectivityConfiguration, RawNetworkGroup, RawNetworkManager,
    RawRoutingConfiguration, RawSecurityAdminConfiguration,
};
use super::resolver::{NameRule, Names, Resolver};
use crate::topology::model::*;
use ipnet::IpNet;
use std::collections::{HashMap, HashSet};

pub const NETWORK_MANAGER_NAME: NameRule = NameRule::new("network manager", 1, 64);
pub const NETWORK_GROUP_NAME: NameRule = NameRule::new("network group", 1, 64);
pub const CONFIGURATION_NAME: NameRule = NameRule::new("network manager configuration", 1, 64);
pub const ADMIN_RULE_NAME: NameRule = NameRule::new("admin rule or rule collection", 1, 64);

/// The service whose delegated subnets carry network intent policies.
pub const INTENT_POLICY_SERVICE: &str = "Microsoft.Sql/managedInstances";

/// What a deployment commits: configuration name to regions, per kind.
#[derive(Default)]
struct Committed {
    regions: HashMap<(ScopeAccess, String), Vec<String>>,
}

impl Committed {
    fn regions(&self, kind: ScopeAccess, configuration: &str) -> &[String] {
        self.regions
            .get(&(kind, configuration.to_ascii_lowercase()))
            .map_or(&[], Vec::as_slice)
    }
}

impl Resolver<'_> {
    pub(super) fn network_managers(&mut self, managers: Vec<RawNetworkManager>) {
        let mut seen = Names::new(NETWORK_MANAGER_NAME);
        let mut group_names = Names::new(NETWORK_GROUP_NAME);
        self.topo.network_management.intent_policy_vnets = (self.topo.vnets.iter_enumerated())
            .filter(|(_, v)| {
                v.subnets.iter().any(|s| {
                    s.delegation
                        .as_deref()
                        .is_some_and(|d| d.eq_ignore_ascii_case(INTENT_POLICY_SERVICE))
                })
            })
            .map(|(i, _)| i)
            .collect();
        let mut routes: Vec<(SubnetRef, ManagedRoute)> = Vec::new();
        for manager in managers {
            self.check_name(&mut seen, &manager.name, manager.line, &manager.key);
            let committed = self.deployments(&manager, &manager.deployments);
            let groups: HashMap<String, NetworkGroupIdx> = manager
                .groups
                .into_iter()
                .filter_map(|g| {
                    let key = g.name.to_ascii_lowercase();
                    self.network_group(&manager.name, g, &mut group_names)
                        .map(|idx| (key, idx))
                })
                .collect();
            for config in manager.connectivity {
                self.connectivity(&groups, &committed, config);
            }
            for config in manager.security {
                self.security_admin(&manager.name, &groups, &committed, config);
            }
            for config in manager.routing {
                self.routing(&groups, &committed, config, &mut routes);
            }
        }
        self.managed_route_tables(routes);
    }

    fn network_group(
        &mut self,
        manager: &str,
        g: RawNetworkGroup,
        seen: &mut Names,
    ) -> Option<NetworkGroupIdx> {
        self.check_name(seen, &g.name, g.line, &g.key);
        let mut members: Vec<VnetIdx> = Vec::new();
        for r in &g.static_members {
            if let Some(v) = self.vnet_ref(r) {
                if !members.contains(&v) {
                    members.push(v);
                }
            }
        }
        let needles: Vec<String> = g.name_contains.iter().map(|n| n.to_lowercase()).collect();
        for (v, vnet) in self.topo.vnets.iter_enumerated() {
            let name = vnet.name.to_lowercase();
            let by_name = needles.iter().any(|n| name.contains(n.as_str()));
            let by_tags = !g.tags.is_empty()
                && g.tags.iter().all(|(k, want)| {
                    vnet.tags
                        .iter()
                        .any(|(have, value)| have.eq_ignore_ascii_case(k) && value == want)
                });
            if (by_name || by_tags) && !members.contains(&v) {
                members.push(v);
            }
        }
        let groups = &mut self.topo.network_management.groups;
        groups.push(NetworkGroup {
            manager: manager.to_string(),
            name: g.name,
            members,
            line: g.line,
        });
        Some(NetworkGroupIdx::new(groups.len() - 1))
    }

    fn deployments(
        &mut self,
        manager: &RawNetworkManager,
        deployments: &[super::super::decode::RawDeployment],
    ) -> Committed {
        let kind_of = |name: &str| -> Option<ScopeAccess> {
            let named = |n: &str| n.eq_ignore_ascii_case(name);
            if manager.connectivity.iter().any(|c| named(&c.name)) {
                Some(ScopeAccess::Connectivity)
            } else if manager.security.iter().any(|c| named(&c.name)) {
                Some(ScopeAccess::SecurityAdmin)
            } else if manager.routing.iter().any(|c| named(&c.name)) {
                Some(ScopeAccess::Routing)
            } else {
                None
            }
        };
        let mut committed = Committed::default();
        let mut regions_seen: HashSet<(ScopeAccess, String)> = HashSet::new();
        for d in deployments {
            if d.location.is_empty() {
                let why = "a deployment needs the `location` (region) it commits to";
                self.diags
                    .error(d.line, &format!("{}.location", d.key), why);
                continue;
            }
            if !regions_seen.insert((d.scope_access, d.location.clone())) {
                let why = format!(
                    "a second {} deployment to {}: a commit replaces the region's configurations \
                     of its kind, so list them all in one deployment",
                    d.scope_access.as_str(),
                    d.location
                );
                self.diags.error(d.line, &d.key, why);
                continue;
            }
            for r in &d.configurations {
                match kind_of(&r.name) {
                    Some(kind) if kind == d.scope_access => committed
                        .regions
                        .entry((kind, r.name.to_ascii_lowercase()))
                        .or_default()
                        .push(d.location.clone()),
                    Some(kind) => {
                        let why = format!(
                            "`{}` is a {} configuration, and this deployment commits {} ones",
                            r.name,
                            kind.as_str(),
                            d.scope_access.as_str()
                        );
                        self.diags.error(r.line, &r.key, why);
                    }
                    None => {
                        let why = format!(
                            "no configuration named `{}` in this network manager",
                            r.name
                        );
                        self.diags.error(r.line, &r.key, why);
                    }
                }
            }
        }
        committed
    }

    fn group_ref(
        &mut self,
        groups: &HashMap<String, NetworkGroupIdx>,
        r: &NameRef,
    ) -> Option<NetworkGroupIdx> {
        let found = groups.get(&r.name.to_ascii_lowercase()).copied();
        self.lookup(r, "network group of this network manager", found)
    }

    /// The members of `group` in one of `regions`.
    fn deployed_members(&self, group: NetworkGroupIdx, regions: &[String]) -> Vec<VnetIdx> {
        self.topo.network_management.groups[group]
            .members
            .iter()
            .copied()
            .filter(|&v| regions.contains(&self.topo.vnets[v].location))
            .collect()
    }

    fn connectivity(
        &mut self,
        groups: &HashMap<String, NetworkGroupIdx>,
        committed: &Committed,
        c: RawConnectivityConfiguration,
    ) {
        let mut unused = Names::new(CONFIGURATION_NAME);
        self.check_name(&mut unused, &c.name, c.line, &c.key);
        let hub = match (c.topology, &c.hub) {
            (ConnectivityTopology::HubAndSpoke, Some(r)) => self.vnet_ref(r),
            (ConnectivityTopology::HubAndSpoke, None) => {
                let why = "a hub-and-spoke configuration needs its `hub` VNet";
                self.diags.error(c.line, &format!("{}.hub", c.key), why);
                None
            }
            (ConnectivityTopology::Mesh, Some(r)) => {
                let why = "a mesh configuration has no hub";
                self.refuse_ref(r, why)
            }
            (ConnectivityTopology::Mesh, None) => None,
        };
        if c.groups.is_empty() {
            let why = "a connectivity configuration applies to at least one network group";
            self.diags
                .error(c.line, &format!("{}.applies_to_group", c.key), why);
        }
        let regions = committed
            .regions(ScopeAccess::Connectivity, &c.name)
            .to_vec();
        let mut mesh: Vec<VnetIdx> = Vec::new();
        let mut mesh_global = c.global_mesh;
        for applied in &c.groups {
            let Some(group) = self.group_ref(groups, &applied.group) else {
                continue;
            };
            let members = self.deployed_members(group, &regions);
            match c.topology {
                ConnectivityTopology::Mesh => {
                    mesh_global |= applied.global_mesh;
                    for v in members {
                        if !mesh.contains(&v) {
                            mesh.push(v);
                        }
                    }
                }
                ConnectivityTopology::HubAndSpoke => {
                    let Some(hub) = hub else { continue };
                    let spokes: Vec<VnetIdx> = members.into_iter().filter(|&v| v != hub).collect();
                    if !regions.contains(&self.topo.vnets[hub].location) && !spokes.is_empty() {
                        let why = format!(
                            "the hub `{}` is in {}, a region this configuration is not deployed \
                             to: Azure peers it with the spokes all the same",
                            self.topo.vnets[hub].name, self.topo.vnets[hub].location
                        );
                        self.diags.warning(applied.line, &applied.group.key, why);
                    }
                    for &spoke in &spokes {
                        self.hub_peerings(&c.name, c.line, hub, spoke, applied.use_hub_gateway);
                    }
                    if applied.directly_connected && !spokes.is_empty() {
                        let mut members = vec![hub];
                        members.extend(spokes);
                        self.topo
                            .network_management
                            .connected_groups
                            .push(ConnectedGroup {
                                configuration: c.name.clone(),
                                members,
                                global: applied.global_mesh || c.global_mesh,
                            });
                    }
                }
            }
        }
        if mesh.len() > 1 {
            self.topo
                .network_management
                .connected_groups
                .push(ConnectedGroup {
                    configuration: c.name.clone(),
                    members: mesh,
                    global: mesh_global,
                });
        }
    }

    /// The two links Azure creates between a hub and a spoke, unless the
    /// file already links them (either way, in any state).
    fn hub_peerings(&mut self, config: &str, line: usize, hub: VnetIdx, spoke: VnetIdx, gw: bool) {
        if self.topo.peering_link(hub, spoke).is_some()
            || self.topo.peering_link(spoke, hub).is_some()
        {
            return;
        }
        let name = |to: VnetIdx| format!("ANM_{config}_{}", self.topo.vnets[to].name);
        let to_spoke = Peering {
            name: name(spoke),
            vnet: hub,
            remote: spoke,
            flags: PeeringFlags {
                allow_forwarded_traffic: true,
                allow_gateway_transit: gw,
                ..PeeringFlags::default()
            },
            impairments: None,
            line,
        };
        let to_hub = Peering {
            name: name(hub),
            vnet: spoke,
            remote: hub,
            flags: PeeringFlags {
                allow_forwarded_traffic: true,
                use_remote_gateways: gw,
                ..PeeringFlags::default()
            },
            impairments: None,
            line,
        };
        self.topo.peerings.push(to_spoke);
        self.topo.peerings.push(to_hub);
    }

    fn security_admin(
        &mut self,
        manager: &str,
        groups: &HashMap<String, NetworkGroupIdx>,
        committed: &Committed,
        c: RawSecurityAdminConfiguration,
    ) {
        let mut unused = Names::new(CONFIGURATION_NAME);
        self.check_name(&mut unused, &c.name, c.line, &c.key);
        let regions = committed
            .regions(ScopeAccess::SecurityAdmin, &c.name)
            .to_vec();
        let mut collection_names = Names::new(ADMIN_RULE_NAME);
        for collection in c.collections {
            self.check_name(
                &mut collection_names,
                &collection.name,
                collection.line,
                &collection.key,
            );
            if collection.groups.is_empty() {
                let why = "a rule collection applies to at least one network group";
                let key = format!("{}.network_groups", collection.key);
                self.diags.error(collection.line, &key, why);
            }
            let mut applies_to: Vec<VnetIdx> = Vec::new();
            for r in &collection.groups {
                let Some(group) = self.group_ref(groups, r) else {
                    continue;
                };
                for v in self.deployed_members(group, &regions) {
                    if applies_to.contains(&v) {
                        continue;
                    }
                    if self
                        .topo
                        .network_management
                        .intent_policy_vnets
                        .contains(&v)
                    {
                        let why = format!(
                            "VNet `{}` runs a service with network intent policies (a subnet \
                             delegated to {INTENT_POLICY_SERVICE}): Azure does not apply \
                             security admin rules there",
                            self.topo.vnets[v].name
                        );
                        self.diags.warning(r.line, &r.key, why);
                        continue;
                    }
                    applies_to.push(v);
                }
            }
            let mut rule_names = Names::new(ADMIN_RULE_NAME);
            let mut priorities: HashMap<(Direction, u16), String> = HashMap::new();
            for rule in collection.rules {
                self.check_name(&mut rule_names, &rule.name, rule.line, &rule.key);
                if let Some(first) = priorities.insert(
                    (rule.settings.direction, rule.settings.priority),
                    rule.name.clone(),
                ) {
                    let why = format!(
                        "priority {} is already taken by `{first}` in this collection's {} rules",
                        rule.settings.priority,
                        rule.settings.direction.as_str()
                    );
                    self.diags
                        .error(rule.line, &format!("{}.priority", rule.key), why);
                }
                self.topo.network_management.admin_rules.push(AdminRule {
                    manager: manager.to_string(),
                    configuration: c.name.clone(),
                    collection: collection.name.clone(),
                    name: rule.name,
                    settings: rule.settings,
                    applies_to: applies_to.clone(),
                    line: rule.line,
                });
            }
        }
    }

    /// Collects the routes `c`'s deployed rules write, per member subnet.
    fn routing(
        &mut self,
        groups: &HashMap<String, NetworkGroupIdx>,
        committed: &Committed,
        c: RawRoutingConfiguration,
        routes: &mut Vec<(SubnetRef, ManagedRoute)>,
    ) {
        let mut unused = Names::new(CONFIGURATION_NAME);
        self.check_name(&mut unused, &c.name, c.line, &c.key);
        let regions = committed.regions(ScopeAccess::Routing, &c.name).to_vec();
        for collection in c.collections {
            let mut vnets: Vec<VnetIdx> = Vec::new();
            for r in &collection.groups {
                if let Some(group) = self.group_ref(groups, r) {
                    for v in self.deployed_members(group, &regions) {
                        if !vnets.contains(&v) {
                            vnets.push(v);
                        }
                    }
                }
            }
            let subnets: Vec<SubnetRef> = (self.topo.subnet_refs())
                .filter(|s| vnets.contains(&s.vnet))
                .collect();
            for rule in &collection.rules {
                let Some(prefix) = rule.destination else {
                    continue;
                };
                if let (NextHopType::VirtualAppliance, Some(ip)) =
                    (rule.next_hop_type, rule.next_hop_ip)
                {
                    if ip.is_ipv4() != matches!(prefix, IpNet::V4(_)) {
                        let why = format!("next hop {ip} is not of the family of {prefix}");
                        self.diags.error(rule.line, &rule.key, why);
                        continue;
                    }
                }
                for &subnet in &subnets {
                    routes.push((
                        subnet,
                        ManagedRoute {
                            route: Route {
                                name: rule.name.clone(),
                                address_prefix: prefix,
                                next_hop_type: rule.next_hop_type,
                                next_hop_ip: rule.next_hop_ip,
                                line: rule.line,
                            },
                            key: rule.key.clone(),
                            configuration: c.name.clone(),
                            propagation: collection.bgp_route_propagation_enabled,
                        },
                    ));
                }
            }
        }
    }

    /// Gives every subnet the routing rules reach a route table of the
    /// network manager's, holding the subnet's own routes and the rules'.
    fn managed_route_tables(&mut self, routes: Vec<(SubnetRef, ManagedRoute)>) {
        let mut subnets: Vec<SubnetRef> = routes.iter().map(|(s, _)| *s).collect();
        subnets.sort();
        subnets.dedup();
        for subnet in subnets {
            let own = self.topo.subnet(subnet).route_table;
            let (mut table_routes, propagation) = match own.map(|t| &self.topo.route_tables[t]) {
                Some(t) => (t.routes.clone(), Some(t.bgp_route_propagation_enabled)),
                None => (Vec::new(), None),
            };
            let own_count = table_routes.len();
            let mut collection_propagation = true;
            let mut configuration = String::new();
            for (_, m) in routes.iter().filter(|(s, _)| *s == subnet) {
                configuration.clone_from(&m.configuration);
                collection_propagation &= m.propagation;
                let same = table_routes
                    .iter()
                    .position(|r| r.address_prefix == m.route.address_prefix);
                match same {
                    None => table_routes.push(m.route.clone()),
                    Some(i) if i < own_count => {
                        let why = format!(
                            "subnet `{}`'s route table has a route for {} already: Azure \
                             ignores this rule there",
                            self.topo.subnet_path(subnet),
                            m.route.address_prefix
                        );
                        self.diags.warning(m.route.line, &m.key, why);
                    }
                    Some(i) => {
                        let first = &table_routes[i];
                        if (first.next_hop_type, first.next_hop_ip)
                            != (m.route.next_hop_type, m.route.next_hop_ip)
                        {
                            let why = format!(
                                "rule `{}` already sends {} elsewhere in subnet `{}`: Azure does \
                                 not support conflicting routing rules",
                                first.name,
                                m.route.address_prefix,
                                self.topo.subnet_path(subnet)
                            );
                            self.diags.error(m.route.line, &m.key, why);
                        }
                    }
                }
            }
            let name = format!(
                "ANM_{configuration}_{}_{}",
                self.topo.vnets[subnet.vnet].name,
                self.topo.subnet(subnet).name
            );
            self.topo.route_tables.push(RouteTable {
                name,
                bgp_route_propagation_enabled: propagation.unwrap_or(collection_propagation),
                routes: table_routes,
                line: self.topo.subnet(subnet).line,
            });
            let idx = RouteTableIdx::new(self.topo.route_tables.len() - 1);
            self.topo.vnets[subnet.vnet].subnets[subnet.subnet].route_table = Some(idx);
        }
    }
}

/// A route a routing rule writes into one subnet.
struct ManagedRoute {
    route: Route,
    key: String,
    configuration: String,
    propagation: bool,
}
