//! The shapes of the Azure CLI's objects that `vnetd import az` reads,
//! for serde: only the members vnetd uses, under the CLI's camelCase names
//! (a member the CLI has spelled two ways is read under both, and where an
//! object has both, the one its accessor names first wins); every other member is
//! ignored. A member the CLI may leave out (or print as null) is an `Option` or an
//! empty list; the others must be there. What the members mean, and what
//! becomes of them, is the parent module's business. The shapes of names
//! (Private DNS, Private Endpoints, DNS Private Resolvers) are in `dns`,
//! those of Azure Firewall in `firewall`, those of the Internet edge
//! (public IPs and prefixes, NAT gateways) in `edge`, those of load
//! balancers in `load_balancers`, those of Virtual Network Manager in
//! `network_managers`, those of Virtual WAN in `virtual_wan`, and the
//! small ones all of them share (a reference, a SKU) in `common`.

use serde::Deserialize;

mod common;
mod dns;
mod edge;
mod firewall;
mod load_balancers;
mod network_managers;
mod virtual_wan;
pub use common::{AddressSpace, Reference, Sku};
pub use dns::*;
pub use edge::*;
pub use firewall::*;
pub use load_balancers::*;
pub use network_managers::*;
pub use virtual_wan::*;

/// `az network vnet list`: a virtual network with its subnets and
/// peerings.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vnet {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub address_space: AddressSpace,
    pub dhcp_options: Option<DhcpOptions>,
    /// Tag names to values (what a network group's conditions select).
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    #[serde(default)]
    pub virtual_network_peerings: Vec<Peering>,
}

/// A VNet's `dhcpOptions` (and a NIC's `dnsSettings`): its DNS servers,
/// none for Azure DNS.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DhcpOptions {
    #[serde(default)]
    pub dns_servers: Vec<String>,
}

/// A subnet of a VNet: one prefix or several (the CLI prints one or the
/// other), its NSG and route table, and the IP configurations in it (a
/// Route Server's among them).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subnet {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    #[serde(default)]
    pub address_prefixes: Vec<String>,
    pub address_prefix: Option<String>,
    pub network_security_group: Option<Reference>,
    pub route_table: Option<Reference>,
    pub private_endpoint_network_policies: Option<String>,
    #[serde(default)]
    pub ip_configurations: Vec<Reference>,
    pub nat_gateway: Option<Reference>,
    /// Absent (or null) on subnets made before the setting: on.
    pub default_outbound_access: Option<bool>,
    #[serde(default)]
    pub delegations: Vec<Delegation>,
    #[serde(default)]
    pub service_endpoints: Vec<ServiceEndpoint>,
    #[serde(default)]
    pub service_endpoint_policies: Vec<Reference>,
}

/// A subnet's service endpoint (`Microsoft.Storage`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEndpoint {
    pub service: Option<String>,
}

/// A subnet's delegation to a service (`Microsoft.Sql/managedInstances`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delegation {
    pub name: Option<String>,
    pub service_name: Option<String>,
}

/// A peering of a VNet, with its state and flags.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Peering {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub peering_state: Option<String>,
    pub remote_virtual_network: Option<Reference>,
    pub allow_virtual_network_access: Option<bool>,
    pub allow_forwarded_traffic: Option<bool>,
    pub allow_gateway_transit: Option<bool>,
    pub use_remote_gateways: Option<bool>,
}

/// `az network nic list`: a network interface with its IP configurations.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Nic {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub ip_configurations: Vec<IpConfiguration>,
    #[serde(rename = "enableIPForwarding")]
    enable_ip_forwarding: Option<bool>,
    #[serde(rename = "enableIpForwarding")]
    enable_ip_forwarding_older: Option<bool>,
    pub network_security_group: Option<Reference>,
    pub dns_settings: Option<DhcpOptions>,
    /// The Private Endpoint whose NIC this is (Azure makes one per
    /// endpoint).
    pub private_endpoint: Option<Reference>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpConfiguration {
    pub name: String,
    pub subnet: Option<Reference>,
    #[serde(rename = "privateIPAllocationMethod")]
    private_ip_allocation_method: Option<String>,
    #[serde(rename = "privateIpAllocationMethod")]
    private_ip_allocation_method_older: Option<String>,
    #[serde(rename = "privateIPAddress")]
    private_ip_address: Option<String>,
    #[serde(rename = "privateIpAddress")]
    private_ip_address_older: Option<String>,
    #[serde(rename = "privateIPAddressVersion")]
    private_ip_address_version: Option<String>,
    #[serde(rename = "privateIpAddressVersion")]
    private_ip_address_version_older: Option<String>,
    pub primary: Option<bool>,
    #[serde(default)]
    pub application_security_groups: Vec<Reference>,
    #[serde(rename = "publicIPAddress", alias = "publicIpAddress")]
    pub public_ip_address: Option<Reference>,
}

impl IpConfiguration {
    pub fn private_ip_allocation_method(&self) -> Option<&str> {
        self.private_ip_allocation_method
            .as_deref()
            .or(self.private_ip_allocation_method_older.as_deref())
    }

    pub fn private_ip_address(&self) -> Option<&str> {
        self.private_ip_address
            .as_deref()
            .or(self.private_ip_address_older.as_deref())
    }

    pub fn private_ip_address_version(&self) -> Option<&str> {
        self.private_ip_address_version
            .as_deref()
            .or(self.private_ip_address_version_older.as_deref())
    }
}

impl Nic {
    pub fn enable_ip_forwarding(&self) -> Option<bool> {
        self.enable_ip_forwarding
            .or(self.enable_ip_forwarding_older)
    }
}

/// `az network nsg list`: a network security group with its own rules
/// (`defaultSecurityRules` is not read: vnetd adds Azure's default rules).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Nsg {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    #[serde(default)]
    pub security_rules: Vec<SecurityRule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityRule {
    pub name: String,
    pub priority: i64,
    pub direction: String,
    pub access: String,
    pub protocol: String,
    pub description: Option<String>,
    pub source_port_range: Option<String>,
    #[serde(default)]
    pub source_port_ranges: Vec<String>,
    pub destination_port_range: Option<String>,
    #[serde(default)]
    pub destination_port_ranges: Vec<String>,
    pub source_address_prefix: Option<String>,
    #[serde(default)]
    pub source_address_prefixes: Vec<String>,
    pub destination_address_prefix: Option<String>,
    #[serde(default)]
    pub destination_address_prefixes: Vec<String>,
    #[serde(default)]
    pub source_application_security_groups: Vec<Reference>,
    #[serde(default)]
    pub destination_application_security_groups: Vec<Reference>,
}

/// `az network route-table list`: a route table with its routes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteTable {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    #[serde(default)]
    pub routes: Vec<Route>,
    pub disable_bgp_route_propagation: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub name: String,
    pub address_prefix: String,
    pub next_hop_type: String,
    #[serde(rename = "nextHopIpAddress")]
    next_hop_ip_address: Option<String>,
    #[serde(rename = "nextHopIPAddress")]
    next_hop_ip_address_other: Option<String>,
}

// A member the CLI has spelled two ways is read under both, and the
// spelling named first wins when an object has both (null counts as
// absent).

impl Route {
    pub fn next_hop_ip_address(&self) -> Option<&str> {
        self.next_hop_ip_address
            .as_deref()
            .or(self.next_hop_ip_address_other.as_deref())
    }
}

/// `az network asg list`: an application security group.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Asg {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
}

/// `az vm list`: a VM's size, NICs and OS.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vm {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub hardware_profile: Option<HardwareProfile>,
    pub network_profile: Option<NetworkProfile>,
    pub storage_profile: Option<StorageProfile>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HardwareProfile {
    pub vm_size: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkProfile {
    #[serde(default)]
    pub network_interfaces: Vec<Reference>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageProfile {
    pub os_disk: Option<OsDisk>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OsDisk {
    pub os_type: Option<String>,
}

/// `az network express-route list`: a circuit.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Circuit {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub service_provider_properties: Option<ProviderProperties>,
    #[serde(default)]
    pub peerings: Vec<CircuitPeering>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderProperties {
    pub service_provider_name: Option<String>,
    pub peering_location: Option<String>,
    pub bandwidth_in_mbps: Option<u64>,
}

/// A peering of a circuit.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CircuitPeering {
    pub name: String,
    pub id: String,
    pub peering_type: Option<String>,
    /// `peerAsn` as the CLI prints it, `peerASN` in the REST API.
    #[serde(alias = "peerASN")]
    pub peer_asn: Option<u64>,
    pub primary_peer_address_prefix: Option<String>,
    pub secondary_peer_address_prefix: Option<String>,
    pub vlan_id: Option<u64>,
    #[serde(default)]
    pub connections: Vec<CircuitConnection>,
}

/// A Global Reach connection of a peering.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CircuitConnection {
    pub name: String,
    pub id: String,
    pub address_prefix: Option<String>,
    pub express_route_circuit_peering: Option<Reference>,
    pub peer_express_route_circuit_peering: Option<Reference>,
}

/// `az vmware private-cloud list`: a private cloud.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateCloud {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub sku: Option<Sku>,
    pub network_block: Option<String>,
    pub circuit: Option<CloudCircuit>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudCircuit {
    pub express_route_private_peering_id: Option<String>,
}

/// `az network routeserver list` (or `show`): a Route Server, a virtual
/// hub to Azure. Its subnet is in `ipConfigurations[].subnet` when the
/// CLI expands them, else found from the subnets (see `route_server`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteServer {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub allow_branch_to_branch_traffic: Option<bool>,
    pub hub_routing_preference: Option<String>,
    #[serde(default)]
    pub virtual_router_ips: Vec<String>,
    #[serde(default)]
    pub ip_configurations: Vec<RouteServerIpConfiguration>,
}

#[derive(Debug, Deserialize)]
pub struct RouteServerIpConfiguration {
    pub subnet: Option<Reference>,
}

/// `az network routeserver peering list`: a BGP connection of a Route
/// Server (its ID names the Route Server).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteServerPeering {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub peer_asn: Option<u64>,
    pub peer_ip: Option<String>,
}

/// What every object with an Azure resource ID has, for the reading of
/// its name, ID and resource group in one place.
pub trait Object {
    fn name(&self) -> &str;
    fn id(&self) -> &str;
    /// The `resourceGroup` the CLI prints beside the ID.
    fn resource_group(&self) -> Option<&str>;
}

// `Object` for shapes with members `name`, `id` and `resourceGroup`:
// `objects!(A, B)`, or `objects!(<P> Shape<P>)` for a generic one.
macro_rules! objects {
    (<$($generic:ident)?> $shape:ty) => {
        impl<$($generic)?> Object for $shape {
            fn name(&self) -> &str {
                &self.name
            }
            fn id(&self) -> &str {
                &self.id
            }
            fn resource_group(&self) -> Option<&str> {
                self.resource_group.as_deref()
            }
        }
    };
    ($($shape:ty),*) => {$(objects!(<> $shape);)*};
}

objects!(
    Vnet,
    Subnet,
    Peering,
    Nic,
    Nsg,
    RouteTable,
    Asg,
    Vm,
    Circuit,
    PrivateCloud,
    Firewall,
    FirewallPolicy,
    RuleCollectionGroup,
    IpGroup,
    PublicIp,
    PublicIpPrefix,
    NatGateway,
    LoadBalancer,
    RouteServer,
    RouteServerPeering,
    PrivateDnsZone,
    ZoneLink,
    RecordSet,
    PrivateEndpoint,
    DnsResolver,
    InboundEndpoint,
    OutboundEndpoint,
    ForwardingRuleset,
    ForwardingRule,
    RulesetLink,
    VirtualWan,
    VirtualHub,
    HubConnection,
    HubRouteTable,
    RoutingIntent,
    HubBgpConnection,
    VpnSite,
    VpnGateway,
    VpnConnection,
    ExpressRouteGateway,
    ExpressRouteConnection
);
// Virtual Network Manager's objects, whatever their properties.
objects!(<P> Arm<P>);
