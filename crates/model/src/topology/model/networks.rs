//! The virtual networks of the resolved topology and what sits in them:
//! VNets with their subnets, peering links, NICs, route tables with their
//! routes, NSGs with their security rules, application security groups.

use super::dns::{DnsServerConfig, DnsServers, EndpointNetworkPolicies};
use super::indices::{AsgIdx, NsgIdx, RouteTableIdx, SubnetIdx, SubnetRef, VnetIdx};
use super::realism::Impairments;
use super::services::SubnetServices;
use super::spelled_enum;
use crate::net::{
    PortSpec, IPPROTO_AH, IPPROTO_ESP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP,
};
use ipnet::IpNet;
use std::net::IpAddr;
use typed_index_collections::TiVec;

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
    /// The NIC's MTU ([`DEFAULT_MTU`](super::DEFAULT_MTU) unless the file says otherwise).
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
