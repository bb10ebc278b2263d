//! The hybrid network of the resolved topology: virtual network gateways,
//! Azure's view of on-premises VPN devices (local network gateways),
//! ExpressRoute circuits with their private peering, Global Reach links,
//! and the gateway connections between them.

use super::indices::{CircuitIdx, GatewayIdx, LocalGatewayIdx, SiteIdx, SubnetRef, VnetIdx};
use super::realism::Impairments;
use super::spelled_enum;
use ipnet::{IpNet, Ipv4Net};
use std::net::IpAddr;

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
