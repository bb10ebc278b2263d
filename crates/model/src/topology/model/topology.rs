//! The resolved topology as a whole: every resource of the file by kind
//! ([`Topology`]), and the questions asked of it that span several kinds
//! (a subnet's path, a VNet's peerings and gateways, the gateway a route
//! leads to, a NIC's flow log, a public load balancer's way out, where a
//! NIC or site runs). The types of each kind are in files of their own,
//! which do not use this one.

use super::*;
use std::net::IpAddr;

/// What a topology file describes, resolved: each kind of resource in the
/// file's order, addressed by its typed index.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    /// The file the topology came from (for messages).
    pub source: String,
    /// The file's text as it was read: a running lab gives it back to
    /// clients (`vnetd verify` reads the expectations of what runs).
    pub text: std::sync::Arc<str>,
    /// `netns_prefix`: before every namespace name vnetd makes ("" for none).
    pub netns_prefix: String,
    pub vnets: TiVec<VnetIdx, Vnet>,
    pub peerings: Vec<Peering>,
    pub nics: TiVec<NicIdx, Nic>,
    pub route_tables: TiVec<RouteTableIdx, RouteTable>,
    pub nsgs: TiVec<NsgIdx, Nsg>,
    pub asgs: TiVec<AsgIdx, Asg>,
    /// Networks outside Azure, each a router namespace with hosts behind it.
    pub sites: TiVec<SiteIdx, Site>,
    /// Virtual network gateways, each in its VNet's `GatewaySubnet`.
    pub gateways: TiVec<GatewayIdx, Gateway>,
    /// Azure's view of on-premises VPN devices.
    pub local_gateways: TiVec<LocalGatewayIdx, LocalGateway>,
    /// Gateway connections, one per direction as in Azure.
    pub connections: Vec<Connection>,
    /// ExpressRoute circuits, each ending at an on-premises site's router
    /// (the customer edge).
    pub circuits: TiVec<CircuitIdx, Circuit>,
    /// Global Reach links, each joining two circuits' edges directly.
    pub global_reach: Vec<GlobalReach>,
    /// Azure VMware Solution private clouds, each a site (its Tier-0
    /// router) on a circuit of its own.
    pub private_clouds: Vec<PrivateCloud>,
    /// Internal Standard load balancers.
    pub load_balancers: TiVec<LoadBalancerIdx, LoadBalancer>,
    /// Azure Firewalls, each in its VNet's `AzureFirewallSubnet`.
    pub firewalls: TiVec<FirewallIdx, AzureFirewall>,
    pub firewall_policies: TiVec<FirewallPolicyIdx, FirewallPolicy>,
    pub ip_groups: Vec<IpGroup>,
    /// FQDN tags and web categories as the lab defines them, for
    /// application rules to name.
    pub fqdn_tags: Vec<FqdnSet>,
    pub web_categories: Vec<FqdnSet>,
    /// Azure Route Servers, each in its VNet's `RouteServerSubnet`.
    pub route_servers: TiVec<RouteServerIdx, RouteServer>,
    /// The BGP daemons of appliance NICs (`bgp_speaker`), peering with
    /// Route Servers.
    pub appliance_speakers: Vec<ApplianceSpeaker>,
    /// What must hold between endpoints (vnetd's own; Azure has none).
    pub expectations: Vec<Expectation>,
    /// Network Watcher's VNet flow logs, in file order.
    pub flow_logs: Vec<FlowLog>,
    /// Virtual machines: sizes over NICs.
    pub virtual_machines: TiVec<VmIdx, VirtualMachine>,
    /// The machines of a lab spread over several, and what runs on each.
    pub placement: Placement,
    /// Private DNS zones, with their records and VNet links.
    pub private_dns_zones: TiVec<ZoneIdx, PrivateDnsZone>,
    /// Private Endpoints, each a NIC-like port standing for a PaaS
    /// resource.
    pub private_endpoints: TiVec<PrivateEndpointIdx, PrivateEndpoint>,
    /// PaaS resources declared on their own, with their network rules.
    pub paas_resources: TiVec<PaasResourceIdx, PaasResource>,
    /// Service endpoint policies, attached to subnets.
    pub service_endpoint_policies: TiVec<ServiceEndpointPolicyIdx, ServiceEndpointPolicy>,
    /// DNS Private Resolvers, with their inbound and outbound endpoints.
    pub dns_resolvers: TiVec<ResolverIdx, DnsResolver>,
    /// DNS forwarding rulesets, linked to VNets.
    pub forwarding_rulesets: Vec<ForwardingRuleset>,
    /// The Internet edge: the emulated Internet, public addresses, NAT
    /// gateways, default outbound access and DNAT rules.
    pub edge: Edge,
    /// Azure Virtual Network Manager: network groups, security admin
    /// rules, connected groups (its peerings are in `peerings`).
    pub network_management: NetworkManagement,
    /// Azure Virtual WAN: the WANs, and their hubs with routers, route
    /// tables and connections.
    pub virtual_wans: TiVec<VirtualWanIdx, VirtualWan>,
    pub virtual_hubs: TiVec<VirtualHubIdx, VirtualHub>,
    /// The WANs' VPN sites (branches), each played by an on-premises site.
    pub vpn_sites: Vec<VpnSite>,
}

impl Topology {
    pub fn subnet(&self, r: SubnetRef) -> &Subnet {
        &self.vnets[r.vnet].subnets[r.subnet]
    }

    /// `vnet/subnet`, the way NICs refer to subnets.
    pub fn subnet_path(&self, r: SubnetRef) -> String {
        format!("{}/{}", self.vnets[r.vnet].name, self.subnet(r).name)
    }

    pub fn nic_by_name(&self, name: &str) -> Option<NicIdx> {
        self.nics.by_name(name)
    }

    /// The NIC `name` stands for where a user names a conversation's end
    /// (`trace --from`, `resolve --nic`, an expectation's `from` and
    /// `to`): a NIC, else a VM by its primary NIC (its first, as Azure
    /// orders `network_interface_ids`). A NIC's name wins over a VM's.
    pub fn endpoint_nic(&self, name: &str) -> Option<NicIdx> {
        self.nic_by_name(name).or_else(|| {
            let vm = self.virtual_machines.iter().find(|v| v.name == name)?;
            vm.nics.first().copied()
        })
    }

    /// Every subnet of every VNet, in file order.
    pub fn subnet_refs(&self) -> impl Iterator<Item = SubnetRef> + '_ {
        self.vnets.iter_enumerated().flat_map(|(v, vnet)| {
            vnet.subnets
                .keys()
                .map(move |s| SubnetRef { vnet: v, subnet: s })
        })
    }

    /// The link held in `from` towards `to`, if any.
    pub fn peering_link(&self, from: VnetIdx, to: VnetIdx) -> Option<&Peering> {
        self.peerings
            .iter()
            .find(|p| p.vnet == from && p.remote == to)
    }

    /// True when both links of the peering exist (Azure state Connected).
    pub fn peering_connected(&self, a: VnetIdx, b: VnetIdx) -> bool {
        self.peering_link(a, b).is_some() && self.peering_link(b, a).is_some()
    }

    /// The VNets `vnet` reaches through Virtual Network Manager's connected
    /// groups and not through a Connected peering, in VNet order.
    pub fn connected_group_peers(&self, vnet: VnetIdx) -> Vec<VnetIdx> {
        self.vnets
            .keys()
            .filter(|&peer| {
                !self.peering_connected(vnet, peer) && self.connected_group(vnet, peer).is_some()
            })
            .collect()
    }

    /// The connected group that joins `a` and `b`, if any.
    pub fn connected_group(&self, a: VnetIdx, b: VnetIdx) -> Option<&ConnectedGroup> {
        let same_region = self.vnets[a].location == self.vnets[b].location;
        self.network_management.connected_group(a, b, same_region)
    }

    /// True when the peering between `a` and `b` crosses regions.
    pub fn peering_is_global(&self, a: VnetIdx, b: VnetIdx) -> bool {
        self.vnets[a].location != self.vnets[b].location
    }
}

impl Topology {
    /// The on-premises host named `name`: its site and its index there.
    pub fn site_host(&self, name: &str) -> Option<(SiteIdx, usize)> {
        self.sites
            .iter_enumerated()
            .find_map(|(site, s)| s.hosts.by_name(name).map(|host| (site, host)))
    }

    /// True when the topology declares gateways, local network gateways,
    /// connections or on-premises sites.
    pub fn is_hybrid(&self) -> bool {
        !(self.gateways.is_empty()
            && self.local_gateways.is_empty()
            && self.connections.is_empty()
            && self.circuits.is_empty()
            && self.sites.is_empty())
    }

    /// The gateway of `vnet`, if it has one: its VPN gateway when it has
    /// both kinds (Azure's VirtualNetworkGateway user routes use it).
    pub fn gateway_of(&self, vnet: VnetIdx) -> Option<GatewayIdx> {
        let own = self.gateways_of(vnet);
        own.iter()
            .copied()
            .find(|&g| self.gateways[g].gateway_type == GatewayType::Vpn)
            .or_else(|| own.first().copied())
    }

    /// Every gateway in `vnet` (at most one of each type), in file order.
    pub fn gateways_of(&self, vnet: VnetIdx) -> Vec<GatewayIdx> {
        self.gateways
            .iter_enumerated()
            .filter(|(_, g)| g.vnet == vnet)
            .map(|(i, _)| i)
            .collect()
    }

    /// The VPN gateway a user route with next hop VirtualNetworkGateway
    /// leads to in `vnet`: its own, or the one it reaches through gateway
    /// transit. Azure takes only a VPN gateway as that next hop, so an
    /// ExpressRoute gateway never is one.
    pub fn serving_gateway(&self, vnet: VnetIdx) -> Option<GatewayIdx> {
        self.serving_gateways(vnet)
            .into_iter()
            .find(|&g| self.gateways[g].gateway_type == GatewayType::Vpn)
    }

    /// Every gateway whose routes `vnet`'s subnets receive: those of its
    /// own VNet, or those of the peer it reaches through gateway transit.
    pub fn serving_gateways(&self, vnet: VnetIdx) -> Vec<GatewayIdx> {
        let own = self.gateways_of(vnet);
        if !own.is_empty() {
            return own;
        }
        self.peerings
            .iter()
            .filter(|p| p.vnet == vnet && p.flags.use_remote_gateways)
            .find_map(|p| {
                let back = self.peering_link(p.remote, vnet)?;
                let there = self.gateways_of(p.remote);
                (back.flags.allow_gateway_transit && !there.is_empty()).then_some(there)
            })
            .unwrap_or_default()
    }

    /// Whether `subnet` takes the routes of gateways and Route Servers: its
    /// route table (if any) does not turn gateway route propagation off.
    pub fn propagates_gateway_routes(&self, subnet: SubnetRef) -> bool {
        self.vnets
            .get(subnet.vnet)
            .and_then(|v| v.subnets.get(subnet.subnet))
            .and_then(|s| s.route_table)
            .and_then(|t| self.route_tables.get(t))
            .is_none_or(|t| t.bgp_route_propagation_enabled)
    }

    /// VNets whose subnets receive `gateway`'s routes: its own, then the
    /// spokes using it through gateway transit, in peering order.
    pub fn served_vnets(&self, gateway: GatewayIdx) -> Vec<VnetIdx> {
        let mut vnets = Vec::new();
        for v in self.vnets.keys() {
            if self.serving_gateways(v).contains(&gateway) {
                vnets.push(v);
            }
        }
        vnets
    }

    /// The circuit by which `gateway` is connected to `site`, if any.
    pub fn circuit_of(&self, site: SiteIdx, gateway: GatewayIdx) -> Option<CircuitIdx> {
        self.connections_of(gateway).find_map(|c| match c.peer {
            ConnectionPeer::Circuit(e) if self.circuits[e].site == site => Some(e),
            _ => None,
        })
    }

    /// The circuits a Global Reach link joins to `circuit`, in file order.
    pub fn reach_peers(&self, circuit: CircuitIdx) -> Vec<CircuitIdx> {
        let mut peers = Vec::new();
        for link in &self.global_reach {
            let other = if link.circuit == circuit {
                link.peer_circuit
            } else if link.peer_circuit == circuit {
                link.circuit
            } else {
                continue;
            };
            if !peers.contains(&other) {
                peers.push(other);
            }
        }
        peers
    }

    /// The connections held by `gateway`, in file order.
    pub fn connections_of(&self, gateway: GatewayIdx) -> impl Iterator<Item = &Connection> + '_ {
        self.connections
            .iter()
            .filter(move |c| c.gateway == gateway)
    }
}

impl Topology {
    /// The circuit whose customer edge `site`'s router is, if any (a site
    /// is the customer edge of one circuit at most).
    pub fn circuit_of_site(&self, site: SiteIdx) -> Option<CircuitIdx> {
        self.circuits.position(|c| c.site == site)
    }
}

impl Topology {
    /// The VNet flow log that logs a port in `subnet` (the NIC `nic`, for
    /// a NIC): the most specific flow log whose target holds it, when it
    /// is enabled.
    pub fn vnet_flow_log_of(&self, subnet: SubnetRef, nic: Option<NicIdx>) -> Option<&FlowLog> {
        self.flow_logs
            .iter()
            .filter(|f| f.target.holds(subnet, nic))
            .max_by_key(|f| f.target.rank())
            .filter(|f| f.enabled)
    }
}

impl Topology {
    /// The way out a public load balancer gives `nic`: the first outbound
    /// rule whose pool holds it, else the first load-balancing rule on a
    /// public frontend that keeps its implicit SNAT.
    pub fn lb_egress(&self, nic: NicIdx) -> Option<(LoadBalancerIdx, LbOutbound)> {
        let in_pool = |lb: &LoadBalancer, pool: usize| lb.pools[pool].nics.contains(&nic);
        let public = || {
            self.load_balancers
                .iter_enumerated()
                .filter(|(_, lb)| lb.is_public())
        };
        let by_rule = public().find_map(|(l, lb)| {
            let i = lb.outbound_rules.iter().position(|r| in_pool(lb, r.pool))?;
            Some((l, LbOutbound::Rule(i)))
        });
        by_rule.or_else(|| {
            public().find_map(|(l, lb)| {
                let i = lb.rules.iter().position(|r| {
                    !r.settings.disable_outbound_snat
                        && lb.frontends[r.frontend].is_public()
                        && in_pool(lb, r.pool)
                })?;
                Some((l, LbOutbound::Implicit(i)))
            })
        })
    }

    /// The VNets Azure's health prober reaches, each with the load
    /// balancer that places it: the VNet's first, when that one has a
    /// frontend. In VNet order.
    pub fn probed_vnets(&self) -> impl Iterator<Item = (VnetIdx, &Vnet, &LoadBalancer)> {
        self.vnets.iter_enumerated().filter_map(|(v, vnet)| {
            let lb = self.load_balancers.iter().find(|lb| lb.vnet == v)?;
            (!lb.frontends.is_empty()).then_some((v, vnet, lb))
        })
    }

    /// True when `nic` is in a backend pool of a Standard load balancer:
    /// it then has no default outbound access ("when only an internal
    /// load balancer serves a VM, default SNAT isn't available").
    pub fn in_backend_pool(&self, nic: NicIdx) -> bool {
        self.load_balancers
            .iter()
            .any(|lb| lb.pools.iter().any(|p| p.nics.contains(&nic)))
    }
}

impl Topology {
    /// The host of a NIC: its own `host`, else its VNet's.
    pub fn nic_host(&self, nic: NicIdx) -> HostIdx {
        match self.placement.nics.get(&nic) {
            Some(host) => *host,
            None => self.placement.vnet_host(self.nics[nic].subnet.vnet),
        }
    }

    /// True when a site's router and hosts run on this machine.
    pub fn site_is_local(&self, site: SiteIdx) -> bool {
        self.placement.is_local(self.placement.site_host(site))
    }

    /// True when a gateway's instances run on this machine.
    pub fn gateway_is_local(&self, gateway: GatewayIdx) -> bool {
        self.placement
            .is_local(self.placement.vnet_host(self.gateways[gateway].vnet))
    }

    /// True when a circuit's edge routers run on this machine: they are
    /// on its customer edge's.
    pub fn circuit_is_local(&self, circuit: CircuitIdx) -> bool {
        self.site_is_local(self.circuits[circuit].site)
    }
}

impl Topology {
    /// The router a connection's tunnels end at: a local network gateway's
    /// router, or the customer edge of a circuit; none for Vnet2Vnet.
    pub fn tunnel_router(&self, peer: ConnectionPeer) -> Option<RouterRef> {
        match peer {
            ConnectionPeer::Local(l) => {
                let lng = &self.local_gateways[l];
                Some(RouterRef {
                    site: lng.site,
                    router: lng.router,
                })
            }
            ConnectionPeer::Circuit(e) => Some(RouterRef {
                site: self.circuits[e].site,
                router: 0,
            }),
            ConnectionPeer::Gateway(_) => None,
        }
    }

    /// The router `at`.
    pub fn router(&self, at: RouterRef) -> &SiteRouter {
        &self.sites[at.site].routers[at.router]
    }

    /// The BGP address router `at` holds on its tunnels to `gateway`: the
    /// peering address of the local network gateway of the first BGP
    /// connection of the gateway that names this router. Another local
    /// network gateway of the same router and gateway has its address
    /// held by no router: its sessions never come up.
    pub fn router_bgp_address(&self, at: RouterRef, gateway: GatewayIdx) -> Option<IpAddr> {
        self.connections_of(gateway)
            .filter(|c| c.bgp_enabled)
            .find_map(|c| match c.peer {
                ConnectionPeer::Local(l)
                    if self.local_gateways[l].site == at.site
                        && self.local_gateways[l].router == at.router =>
                {
                    self.local_gateways[l].bgp.map(|b| b.peering_address)
                }
                _ => None,
            })
    }
}
