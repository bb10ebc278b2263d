//! The raw records the decoder produces: every resource of the file as
//! written, its references still names (with their lines and keys) for
//! [`super::super::resolve`] to turn into indices.

use super::super::model::{
    Access, BgpSpeaker, EndpointNetworkPolicies, FirewallSku, GatewayType, HubRoutingPreference,
    Impairments, LbProtocol, LbRuleSettings, PeeringFlags, PortSpec, Probe, Protocol,
    SecurityRuleSettings, ServiceTag, VpnType,
};
use super::reader::NameRef;
use ipnet::IpNet;
use std::net::IpAddr;

/// A machine of a lab spread over several.
#[derive(Debug)]
pub struct RawHost {
    pub name: String,
    pub key: String,
    pub underlay_address: Option<IpAddr>,
    pub line: usize,
}

/// What a router of an on-premises site is, as written: its namespace, ASN
/// and BGP daemon, the same for a site's one `router` and each of its
/// `routers`.
#[derive(Debug, Clone)]
pub struct RawRouterSettings {
    pub netns: Option<(String, usize)>,
    pub asn: Option<(u32, usize)>,
    pub bgp_speaker: BgpSpeaker,
}

/// An on-premises site's router, as written.
#[derive(Debug)]
pub struct RawRouter {
    pub settings: RawRouterSettings,
    pub line: usize,
}

/// One of an on-premises site's `routers`, as written.
#[derive(Debug)]
pub struct RawSiteRouter {
    pub name: String,
    pub key: String,
    pub settings: RawRouterSettings,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawSiteHost {
    pub name: String,
    pub key: String,
    pub address: Option<IpAddr>,
    pub netns: Option<(String, usize)>,
    pub dns_servers: Vec<IpAddr>,
    pub dns_server: Option<super::RawDnsServer>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawSite {
    pub name: String,
    pub key: String,
    pub address_space: Vec<(IpNet, usize)>,
    pub router: Option<RawRouter>,
    pub routers: Vec<RawSiteRouter>,
    pub hosts: Vec<RawSiteHost>,
    pub latency_us: u32,
    /// The machine the site runs on, in a lab spread over several.
    pub host: Option<NameRef>,
    pub line: usize,
}

/// `bgp_settings` of a virtual or local network gateway.
#[derive(Debug, Default)]
pub struct RawBgpSettings {
    pub asn: Option<(u32, usize)>,
    pub peering_address: Option<(IpAddr, usize)>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawGateway {
    pub name: String,
    pub key: String,
    pub vnet: NameRef,
    pub gateway_type: GatewayType,
    pub vpn_type: VpnType,
    pub sku: Option<(String, usize)>,
    pub active_active: bool,
    pub bgp_enabled: bool,
    pub bgp_settings: Option<RawBgpSettings>,
    pub generation: Option<(String, usize)>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawLocalGateway {
    pub name: String,
    pub key: String,
    pub site: NameRef,
    /// vnetd's own: which of the site's `routers` the device is.
    pub router: Option<NameRef>,
    pub gateway_address: Option<IpAddr>,
    pub address_space: Vec<(IpNet, usize)>,
    pub bgp_settings: Option<RawBgpSettings>,
    pub line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::VariantNames)]
#[strum(ascii_case_insensitive)]
pub enum ConnectionType {
    IPsec,
    Vnet2Vnet,
    ExpressRoute,
}

#[derive(Debug)]
pub struct RawConnection {
    pub name: String,
    pub key: String,
    pub connection_type: ConnectionType,
    pub gateway: NameRef,
    pub local_gateway: Option<NameRef>,
    pub peer_gateway: Option<NameRef>,
    pub circuit: Option<NameRef>,
    pub bgp_enabled: bool,
    pub routing_weight: u32,
    pub impairments: Option<Impairments>,
    pub line: usize,
}

/// An ExpressRoute circuit's `private_peering`, as written.
#[derive(Debug)]
pub struct RawPrivatePeering {
    pub peer_asn: Option<(u32, usize)>,
    /// Each /30 with its line; `None` when missing or broken (reported).
    pub primary: Option<(IpNet, usize)>,
    pub secondary: Option<(IpNet, usize)>,
    pub vlan_id: Option<u16>,
    pub key: String,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawCircuit {
    pub name: String,
    pub key: String,
    pub site: Option<NameRef>,
    pub service_provider_name: Option<(String, usize)>,
    pub peering_location: Option<(String, usize)>,
    pub bandwidth_mbps: u32,
    pub private_peering: Option<RawPrivatePeering>,
    pub latency_us: u32,
    pub line: usize,
}

/// An Azure VMware Solution private cloud, as written.
#[derive(Debug)]
pub struct RawPrivateCloud {
    pub name: String,
    pub key: String,
    pub location: Option<(String, usize)>,
    pub sku: Option<(String, usize)>,
    /// `network_subnet_cidr`: the /22 Azure carves.
    pub network_block: (IpNet, usize),
    /// vnetd's own: the NSX segments its Tier-0 router announces.
    pub workload_segments: Vec<(IpNet, usize)>,
    /// vnetd's own: the VMs on those segments.
    pub hosts: Vec<RawSiteHost>,
    /// The peering location of its circuit (a label).
    pub peering_location: Option<(String, usize)>,
    pub line: usize,
}

/// A Global Reach link between two circuits, as written.
#[derive(Debug)]
pub struct RawGlobalReach {
    pub name: String,
    pub key: String,
    pub circuit: NameRef,
    pub peer_circuit: NameRef,
    pub address_prefix: (IpNet, usize),
    pub line: usize,
}

/// A load balancer's frontend: private (`subnet` and address) or public
/// (`public_ip`). A missing or broken subnet or address is reported and
/// left `None`: the frontend stays, so the rules naming it are still
/// checked without a second error.
#[derive(Debug)]
pub struct RawFrontend {
    pub name: String,
    pub key: String,
    /// `vnet/subnet`
    pub subnet: Option<NameRef>,
    /// The address and the line it is written on.
    pub address: Option<(IpAddr, usize)>,
    /// The public IP address of a public frontend.
    pub public_ip: Option<NameRef>,
    pub line: usize,
}

/// An outbound rule of a public load balancer, its numbers checked.
#[derive(Debug)]
pub struct RawOutboundRule {
    pub name: String,
    pub key: String,
    pub frontends: Vec<NameRef>,
    pub pool: NameRef,
    pub protocol: LbProtocol,
    pub allocated_ports: Option<(u32, usize)>,
    pub idle_timeout_minutes: u32,
    pub tcp_reset: bool,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawBackendPool {
    pub name: String,
    pub key: String,
    pub nics: Vec<NameRef>,
    pub line: usize,
}

/// A load-balancing rule, its ports already checked against its protocol.
#[derive(Debug)]
pub struct RawLbRule {
    pub name: String,
    pub key: String,
    pub frontend: NameRef,
    pub pool: NameRef,
    pub probe: Option<NameRef>,
    pub settings: LbRuleSettings,
    pub line: usize,
}

/// A load balancer as written. Probes need no names resolved,
/// so they are decoded straight into the model.
#[derive(Debug)]
pub struct RawLoadBalancer {
    pub name: String,
    pub key: String,
    pub frontends: Vec<RawFrontend>,
    pub pools: Vec<RawBackendPool>,
    pub probes: Vec<Probe>,
    pub rules: Vec<RawLbRule>,
    pub outbound_rules: Vec<RawOutboundRule>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawVnet {
    pub name: String,
    pub key: String,
    pub address_space: Vec<(IpNet, usize)>,
    pub location: String,
    pub flow_timeout_minutes: u32,
    pub subnets: Vec<RawSubnet>,
    /// The machine the VNet runs on, in a lab spread over several.
    pub host: Option<NameRef>,
    pub dns_servers: Vec<IpAddr>,
    pub tags: std::collections::BTreeMap<String, String>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawSubnet {
    pub name: String,
    pub key: String,
    pub address_prefixes: Vec<(IpNet, usize)>,
    pub network_security_group: Option<NameRef>,
    pub route_table: Option<NameRef>,
    pub endpoint_policies: EndpointNetworkPolicies,
    pub default_outbound_access: bool,
    /// The service the subnet is delegated to, with its line.
    pub delegation: Option<(String, usize)>,
    /// `service_endpoints`, each with its line.
    pub service_endpoints: Vec<(super::super::model::EndpointService, usize)>,
    /// `service_endpoint_policy_ids`.
    pub service_endpoint_policies: Vec<NameRef>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawPeering {
    pub name: String,
    pub key: String,
    pub vnet: NameRef,
    pub remote: NameRef,
    pub flags: PeeringFlags,
    pub impairments: Option<Impairments>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawIpConfiguration {
    pub name: String,
    /// `None`: dynamic allocation, as in Azure.
    pub address: Option<IpAddr>,
    pub key: String,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawNic {
    pub name: String,
    pub key: String,
    /// `vnet/subnet`
    pub subnet: NameRef,
    pub ip_configurations: Vec<RawIpConfiguration>,
    pub ip_forwarding: bool,
    pub network_security_group: Option<NameRef>,
    pub application_security_groups: Vec<NameRef>,
    pub netns: Option<(String, usize)>,
    pub mtu: u16,
    /// The machine the NIC runs on, over its VNet's.
    pub host: Option<NameRef>,
    /// vnetd's own `bgp_speaker`, with its line: the BGP daemon of an
    /// appliance peering with a Route Server. `Some((None, _))`: given, but
    /// not one of bird, frr, none (reported).
    pub bgp_speaker: Option<(Option<BgpSpeaker>, usize)>,
    /// vnetd's own `bgp_announce`: the IPv4 prefixes that daemon announces.
    pub bgp_announce: Option<RawAnnounce>,
    pub dns_servers: Vec<IpAddr>,
    pub dns_server: Option<super::RawDnsServer>,
    pub public_ip: Option<NameRef>,
    pub line: usize,
}

/// A NIC's `bgp_announce`: each IPv4 prefix with its line, and the line of
/// the key.
#[derive(Debug, Clone)]
pub struct RawAnnounce {
    pub prefixes: Vec<(IpNet, usize)>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawNsg {
    pub name: String,
    pub key: String,
    pub flush_connection: bool,
    pub rules: Vec<RawRule>,
    pub line: usize,
}

/// A security rule's source or destination before ASG names are resolved.
#[derive(Debug)]
pub enum RawAddress {
    Any,
    Prefixes(Vec<IpNet>),
    Tag(ServiceTag),
    Asgs(Vec<NameRef>),
}

#[derive(Debug)]
pub struct RawRule {
    pub name: String,
    pub key: String,
    pub settings: SecurityRuleSettings,
    pub source: RawAddress,
    pub destination: RawAddress,
    pub line: usize,
}

/// A virtual machine, as written: its size still a name, its NICs names.
#[derive(Debug)]
pub struct RawVirtualMachine {
    pub name: String,
    pub key: String,
    pub size: (String, usize),
    pub location: Option<(String, usize)>,
    pub nics: Vec<NameRef>,
    pub line: usize,
}

/// An Azure Firewall as written.
#[derive(Debug)]
pub struct RawFirewall {
    pub name: String,
    pub key: String,
    /// `virtual_network`: a VNet's firewall (`AZFW_VNet`).
    pub vnet: Option<NameRef>,
    /// `virtual_hub.virtual_hub`: a secured hub's firewall (`AZFW_Hub`).
    pub hub: Option<NameRef>,
    /// `sku_name`, with its line: true for `AZFW_Hub`, false for
    /// `AZFW_VNet`.
    pub sku_name: Option<(bool, usize)>,
    pub sku: FirewallSku,
    pub policy: Option<NameRef>,
    pub public_ips: Vec<NameRef>,
    pub line: usize,
}

/// A firewall policy as written.
#[derive(Debug)]
pub struct RawFirewallPolicy {
    pub name: String,
    pub key: String,
    pub private_ranges: Vec<IpNet>,
    /// The policy's tier, with the line it was given at.
    pub sku: (crate::topology::model::FirewallSku, usize),
    pub dns: Option<RawFirewallDns>,
    pub groups: Vec<RawRuleCollectionGroup>,
    pub line: usize,
}

/// A policy's `dns` block.
#[derive(Debug)]
pub struct RawFirewallDns {
    pub proxy_enabled: bool,
    pub servers: Vec<std::net::IpAddr>,
    pub line: usize,
}

/// An FQDN tag or web category the lab defines.
#[derive(Debug)]
pub struct RawFqdnSet {
    pub name: String,
    pub key: String,
    pub fqdns: Vec<(crate::topology::model::FqdnPattern, usize)>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawApplicationRuleCollection {
    pub name: String,
    pub key: String,
    pub priority: u16,
    pub action: Access,
    pub rules: Vec<RawApplicationRule>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawApplicationRule {
    pub name: String,
    pub key: String,
    pub protocols: Vec<crate::topology::model::ApplicationPort>,
    pub source_addresses: Vec<IpNet>,
    pub source_ip_groups: Vec<NameRef>,
    pub destination_fqdns: Vec<(crate::topology::model::FqdnPattern, usize)>,
    pub fqdn_tags: Vec<(String, usize)>,
    pub web_categories: Vec<(String, usize)>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawRuleCollectionGroup {
    pub name: String,
    pub key: String,
    pub priority: u16,
    pub collections: Vec<RawNetworkRuleCollection>,
    pub app_collections: Vec<RawApplicationRuleCollection>,
    pub nat_collections: Vec<super::RawNatRuleCollection>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawNetworkRuleCollection {
    pub name: String,
    pub key: String,
    pub priority: u16,
    pub action: Access,
    pub rules: Vec<RawNetworkRule>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawNetworkRule {
    pub name: String,
    pub key: String,
    pub protocols: Vec<Protocol>,
    pub source_addresses: Vec<IpNet>,
    pub source_ip_groups: Vec<NameRef>,
    pub destination_addresses: Vec<IpNet>,
    pub destination_ip_groups: Vec<NameRef>,
    /// FQDN destinations, each with its line.
    pub fqdns: Vec<(crate::topology::model::FqdnPattern, usize)>,
    pub destination_ports: PortSpec,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawIpGroup {
    pub name: String,
    pub key: String,
    pub cidrs: Vec<IpNet>,
    pub line: usize,
}

/// An Azure Route Server as written.
#[derive(Debug)]
pub struct RawRouteServer {
    pub name: String,
    pub key: String,
    pub vnet: NameRef,
    pub branch_to_branch_traffic: bool,
    pub hub_routing_preference: HubRoutingPreference,
    pub bgp_connections: Vec<RawBgpConnection>,
    pub line: usize,
}

/// A Route Server's BGP connection as written. A missing or refused
/// address or ASN is reported and left `None`: the connection stays, so
/// the appliance it names draws no second error.
#[derive(Debug)]
pub struct RawBgpConnection {
    pub name: String,
    pub key: String,
    /// An IPv4 address and its line.
    pub peer_ip: Option<(IpAddr, usize)>,
    /// 1 to 65535, and its line.
    pub peer_asn: Option<(u32, usize)>,
    pub line: usize,
}
