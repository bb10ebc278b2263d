//! The resolved topology: what a topology file describes, after decoding and
//! validation. Names are resolved to indices, CIDRs and addresses are parsed,
//! enum values are typed. Every object remembers the line it was declared on
//! so that later stages (and `vnetd apply`) can point back into the file.
//!
//! The vocabulary mirrors the Terraform `azurerm` provider and ARM: a
//! [`Vnet`] holds [`Subnet`]s, a [`Nic`] sits in one subnet, [`Peering`]
//! links are one-directional exactly as in Azure, a [`RouteTable`] and an
//! [`Nsg`] are standalone resources associated with subnets (and NSGs with
//! NICs).

use ipnet::{IpNet, Ipv4Net};
use std::net::IpAddr;

pub use typed_index_collections::{TiSlice, TiVec};

mod expectations;
mod firewalls;
mod load_balancers;
mod route_servers;
mod virtual_wan;
pub use expectations::*;
pub use firewalls::*;
pub use load_balancers::*;
pub use route_servers::*;
pub use virtual_wan::*;

mod dns;
pub use dns::*;
mod edge;
pub use edge::*;
mod express_route;
mod named;
pub use express_route::{PrivateCloud, PRIVATE_CLOUD_ASN, PRIVATE_CLOUD_CIRCUIT_MBPS};
pub(crate) use named::named;
pub use named::{ByName, Named};
mod index_type;
mod placement;
pub(crate) use index_type::index_type;
mod spelled;
pub use placement::{HostIdx, LabHost, Placement, FIRST_HOST};
pub(crate) use spelled::spelled_enum;

mod flow_logs;
pub use flow_logs::*;
mod network_managers;
pub use network_managers::*;
mod realism;
pub use realism::*;

mod services;
pub use services::*;
mod sites;
pub use sites::*;

index_type!(
    /// Index of a VNet in [`Topology::vnets`].
    VnetIdx
);
index_type!(
    /// Index of a subnet in its VNet's [`Vnet::subnets`].
    SubnetIdx
);
index_type!(
    /// Index of a NIC in [`Topology::nics`].
    NicIdx
);
index_type!(
    /// Index of a route table in [`Topology::route_tables`].
    RouteTableIdx
);
index_type!(
    /// Index of an NSG in [`Topology::nsgs`].
    NsgIdx
);
index_type!(
    /// Index of an application security group in [`Topology::asgs`].
    AsgIdx
);
index_type!(
    /// Index of an on-premises site in [`Topology::sites`].
    SiteIdx
);
index_type!(
    /// Index of a virtual network gateway in [`Topology::gateways`].
    GatewayIdx
);
index_type!(
    /// Index of a local network gateway in [`Topology::local_gateways`].
    LocalGatewayIdx
);
index_type!(
    /// Index of an ExpressRoute circuit in [`Topology::circuits`].
    CircuitIdx
);
index_type!(
    /// Index of an internal load balancer in [`Topology::load_balancers`].
    LoadBalancerIdx
);

/// A subnet, addressed by its VNet and its position in that VNet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubnetRef {
    pub vnet: VnetIdx,
    pub subnet: SubnetIdx,
}

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

#[derive(Debug, Clone)]
pub struct Vnet {
    pub name: String,
    /// One or more address ranges, IPv4 and/or IPv6, in file order.
    pub address_space: Vec<IpNet>,
    /// Normalised region name (lower case, no spaces); peering between two
    /// different locations is global peering.
    pub location: String,
    /// Idle timeout of tracked flows, 4..=30 minutes.
    pub flow_timeout_minutes: u32,
    pub subnets: TiVec<SubnetIdx, Subnet>,
    /// Custom DNS servers; empty: Azure DNS (168.63.129.16).
    pub dns_servers: DnsServers,
    /// Resource tags, which network groups' conditions may select on.
    pub tags: std::collections::BTreeMap<String, String>,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct Subnet {
    pub name: String,
    pub address_prefixes: Vec<IpNet>,
    pub network_security_group: Option<NsgIdx>,
    pub route_table: Option<RouteTableIdx>,
    /// `private_endpoint_network_policies`: what binds to the subnet's
    /// Private Endpoints.
    pub endpoint_policies: EndpointNetworkPolicies,
    /// The service the subnet is delegated to (`Microsoft.Sql/managedInstances`).
    pub delegation: Option<String>,
    /// Its service endpoints and service endpoint policies.
    pub services: SubnetServices,
    pub line: usize,
}

/// One peering link, held in `vnet` and pointing at `remote`. Traffic flows
/// only when the reverse link exists too (state Connected).
#[derive(Debug, Clone)]
pub struct Peering {
    pub name: String,
    pub vnet: VnetIdx,
    pub remote: VnetIdx,
    pub flags: PeeringFlags,
    /// vnetd's own: what this direction of the link adds.
    pub impairments: Option<Impairments>,
    pub line: usize,
}

/// What one link of a peering allows, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeeringFlags {
    pub allow_virtual_network_access: bool,
    pub allow_forwarded_traffic: bool,
    pub allow_gateway_transit: bool,
    pub use_remote_gateways: bool,
}

impl Default for PeeringFlags {
    /// What Azure gives a peering that says nothing: VNet access allowed,
    /// nothing else.
    fn default() -> Self {
        PeeringFlags {
            allow_virtual_network_access: true,
            allow_forwarded_traffic: false,
            allow_gateway_transit: false,
            use_remote_gateways: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpConfiguration {
    pub name: String,
    pub address: IpAddr,
}

/// A network interface: one emulated VM.
#[derive(Debug, Clone)]
pub struct Nic {
    pub name: String,
    pub subnet: SubnetRef,
    /// The first configuration is the primary one.
    pub ip_configurations: Vec<IpConfiguration>,
    /// Azure's `enableIPForwarding`; false means the source/destination check.
    pub ip_forwarding: bool,
    pub network_security_group: Option<NsgIdx>,
    pub application_security_groups: Vec<AsgIdx>,
    /// Name of the network namespace that stands for this VM.
    pub netns: String,
    /// The NIC's MTU ([`DEFAULT_MTU`] unless the file says otherwise).
    pub mtu: u16,
    /// The NIC's own DNS servers, over its VNet's; empty: the VNet's.
    pub dns_servers: DnsServers,
    /// vnetd's own: the DNS server the VM runs.
    pub dns_server: Option<DnsServerConfig>,
    pub line: usize,
}

impl Nic {
    /// True when `ip` is one of this NIC's own addresses.
    pub fn owns(&self, ip: IpAddr) -> bool {
        self.ip_configurations.iter().any(|c| c.address == ip)
    }
}

#[derive(Debug, Clone)]
pub struct RouteTable {
    pub name: String,
    pub bgp_route_propagation_enabled: bool,
    pub routes: Vec<Route>,
    pub line: usize,
}

/// A user-defined route.
#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub address_prefix: IpNet,
    pub next_hop_type: NextHopType,
    /// Only with [`NextHopType::VirtualAppliance`].
    pub next_hop_ip: Option<IpAddr>,
    pub line: usize,
}

spelled_enum! {
    /// Next-hop types, spelled as `az network nic show-effective-route-table`
    /// prints them.
    pub enum NextHopType {
        VnetLocal,
        VNetPeering,
        VNetGlobalPeering,
        VirtualAppliance,
        VirtualNetworkGateway,
        Internet,
        None,
        /// A Private Endpoint's own /32 (/128) route: Azure's alone, a
        /// route table cannot name it.
        InterfaceEndpoint,
        /// A VNet of the same Virtual Network Manager connected group:
        /// Azure's alone, with no peering behind it.
        ConnectedGroup,
        /// A service's public prefix, on a subnet with the service's
        /// endpoint: Azure's alone; the traffic leaves to the service with
        /// the VM's private address.
        VirtualNetworkServiceEndpoint,
    }
}

#[derive(Debug, Clone)]
pub struct Nsg {
    pub name: String,
    /// Azure's `flushConnection`: a rule change re-evaluates established flows.
    pub flush_connection: bool,
    pub security_rules: Vec<SecurityRule>,
    pub line: usize,
}

spelled_enum! {
    #[derive(PartialOrd, Ord)]
    pub enum Direction {
        Inbound,
        Outbound,
    }
}

impl Direction {
    /// The other direction (the one replies travel in).
    pub fn opposite(self) -> Direction {
        match self {
            Direction::Inbound => Direction::Outbound,
            Direction::Outbound => Direction::Inbound,
        }
    }
}

spelled_enum! {
    pub enum Access {
        Allow,
        Deny,
    }
}

/// NSG protocol. `Any` (`*`) matches every IP protocol; `Icmp` matches
/// ICMP and ICMPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
pub enum Protocol {
    #[strum(serialize = "All")]
    Any,
    Tcp,
    Udp,
    Icmp,
    Esp,
    Ah,
}

impl Protocol {
    /// The spelling Azure uses in rule listings (`All` for `*`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether a packet with IP protocol number `proto` matches.
    pub fn matches(self, proto: u8) -> bool {
        match self {
            Protocol::Any => true,
            Protocol::Tcp => proto == IPPROTO_TCP,
            Protocol::Udp => proto == IPPROTO_UDP,
            Protocol::Icmp => proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6,
            Protocol::Esp => proto == IPPROTO_ESP,
            Protocol::Ah => proto == IPPROTO_AH,
        }
    }
}

pub use crate::net::{
    PortRange, PortSpec, IPPROTO_AH, IPPROTO_ESP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP,
    IPPROTO_UDP,
};

/// Service tags that vnetd computes from the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
pub enum ServiceTag {
    VirtualNetwork,
    Internet,
    AzureLoadBalancer,
}

impl ServiceTag {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The source or destination of a security rule, as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressSpec {
    /// `*`
    Any,
    /// One or more IPs or CIDRs (an IP is a /32 or /128).
    Prefixes(Vec<IpNet>),
    Tag(ServiceTag),
    /// Application security groups: the IPs of their member NICs.
    Asgs(Vec<AsgIdx>),
}

#[derive(Debug, Clone)]
pub struct SecurityRule {
    pub name: String,
    pub settings: SecurityRuleSettings,
    pub source: AddressSpec,
    pub destination: AddressSpec,
    pub line: usize,
}

/// What a security rule does and to which protocol and ports, as written
/// (its addresses aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityRuleSettings {
    pub priority: u16,
    pub direction: Direction,
    pub access: Access,
    pub protocol: Protocol,
    pub source_ports: PortSpec,
    pub destination_ports: PortSpec,
}

#[derive(Debug, Clone)]
pub struct Asg {
    pub name: String,
    pub line: usize,
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

/// The exact subnet name Azure requires for a virtual network gateway.
pub const GATEWAY_SUBNET: &str = "GatewaySubnet";

/// The ASN Azure gives a VPN gateway unless told otherwise.
pub const AZURE_GATEWAY_ASN: u32 = 65515;

/// The ASN of Microsoft's edge routers (MSEE): the BGP peer a customer
/// edge sees on an ExpressRoute circuit's private peering.
pub const MICROSOFT_EDGE_ASN: u32 = 12076;

spelled_enum! {
    pub enum GatewayType {
        Vpn,
        ExpressRoute,
    }
}

spelled_enum! {
    pub enum VpnType {
        RouteBased,
        PolicyBased,
    }
}

/// A virtual network gateway. Its instances own addresses in the VNet's
/// `GatewaySubnet`: the BGP peer addresses Azure shows.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub name: String,
    pub vnet: VnetIdx,
    /// The VNet's `GatewaySubnet`.
    pub subnet: SubnetRef,
    pub gateway_type: GatewayType,
    pub vpn_type: VpnType,
    pub sku: String,
    /// What all its connections together may carry, in Mbps: the SKU's
    /// documented aggregate throughput.
    pub throughput_mbps: u32,
    pub active_active: bool,
    /// The gateway-level BGP flag (connections carry their own).
    pub bgp_enabled: bool,
    pub asn: u32,
    /// One address per instance: the last usable address of GatewaySubnet
    /// for active-standby, `.4` and `.5` for active-active.
    pub instances: Vec<IpAddr>,
    pub line: usize,
}

/// BGP facts of a local network gateway: the on-premises speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalBgp {
    pub asn: u32,
    pub peering_address: IpAddr,
}

/// Azure's view of an on-premises VPN device, which vnetd plays with
/// router `router` of `site`.
#[derive(Debug, Clone)]
pub struct LocalGateway {
    pub name: String,
    pub site: SiteIdx,
    /// The index of its router in the site's `routers`.
    pub router: usize,
    pub gateway_address: IpAddr,
    /// Static prefixes Azure routes to the device (may be empty with BGP).
    pub address_space: Vec<IpNet>,
    pub bgp: Option<LocalBgp>,
    pub line: usize,
}

/// What a gateway connection leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionPeer {
    /// `IPsec`: an on-premises device.
    Local(LocalGatewayIdx),
    /// `Vnet2Vnet`: another virtual network gateway.
    Gateway(GatewayIdx),
    /// `ExpressRoute`: a circuit's private peering.
    Circuit(CircuitIdx),
}

/// The private peering of an ExpressRoute circuit: eBGP between
/// Microsoft's edge (ASN [`MICROSOFT_EDGE_ASN`]) and the customer edge
/// (`peer_asn`) over two /30 links. In each /30 the customer edge takes the
/// first usable address and Microsoft the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrivatePeering {
    pub peer_asn: u32,
    pub primary: Ipv4Net,
    pub secondary: Ipv4Net,
    pub vlan_id: u16,
}

/// An ExpressRoute circuit: a private line from an on-premises site's
/// router (the customer edge) to Microsoft's edge. vnetd plays Microsoft's
/// edge with the ExpressRoute gateways connected to the circuit.
#[derive(Debug, Clone)]
pub struct Circuit {
    pub name: String,
    /// The site whose router is the customer edge.
    pub site: SiteIdx,
    pub service_provider_name: String,
    pub peering_location: String,
    pub bandwidth_mbps: u32,
    pub private_peering: PrivatePeering,
    /// One-way delay between the site and its peering location, in
    /// microseconds (vnetd's own `latency_ms`).
    pub latency_us: u32,
    pub line: usize,
}

/// A Global Reach link: the sites of two circuits reach each other
/// through Microsoft's edge, without any VNet. `address_prefix` is the /29
/// Azure takes for the link.
#[derive(Debug, Clone)]
pub struct GlobalReach {
    pub name: String,
    pub circuit: CircuitIdx,
    pub peer_circuit: CircuitIdx,
    pub address_prefix: Ipv4Net,
    pub line: usize,
}

/// A gateway connection, held by `gateway`.
#[derive(Debug, Clone)]
pub struct Connection {
    pub name: String,
    pub gateway: GatewayIdx,
    pub peer: ConnectionPeer,
    pub bgp_enabled: bool,
    pub routing_weight: u32,
    /// vnetd's own: what this connection's tunnel adds, each way.
    pub impairments: Option<Impairments>,
    pub line: usize,
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
