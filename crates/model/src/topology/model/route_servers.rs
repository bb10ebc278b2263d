//! Azure Route Server: a managed BGP speaker of two instances in its
//! VNet's `RouteServerSubnet`, peering with network virtual appliances and
//! programming what they announce into the VNet and the spokes that use
//! its gateways; and the appliances' own BGP daemons. See
//! `resolve/route_servers.rs` for the rules Azure applies to them and
//! `policy/route_server.rs` for the routes they make.

use super::indices::{NicIdx, SubnetRef, VnetIdx};
use super::sites::BgpSpeaker;
use super::spelled_enum;
use ipnet::IpNet;
use std::net::IpAddr;

super::index_type!(
    /// Index of a Route Server in [`super::Topology::route_servers`].
    RouteServerIdx
);

/// The subnet a Route Server must be deployed in.
pub const ROUTE_SERVER_SUBNET: &str = "RouteServerSubnet";

/// The ASN of every Route Server ("The ASN of Azure Route Server is always
/// 65515").
pub const ROUTE_SERVER_ASN: u32 = 65515;

/// The smallest `RouteServerSubnet` Azure has accepted: a /27 (today's
/// guidance asks for a /26, which a /27 is warned about).
pub const ROUTE_SERVER_SUBNET_MAX_PREFIX_LEN: u8 = 27;

/// The subnet size Azure's current documentation asks for.
pub const ROUTE_SERVER_SUBNET_ADVISED_PREFIX_LEN: u8 = 26;

/// BGP peers one Route Server takes.
pub const ROUTE_SERVER_MAX_PEERS: usize = 8;

/// Routes one peer may announce; one more and the Route Server drops the
/// session (Route Server limits, "the BGP session gets dropped").
pub const ROUTE_SERVER_MAX_ROUTES_PER_PEER: usize = 1000;

/// ASNs a Route Server refuses for a peer: Azure's own (8074, 8075,
/// 12076, 65515, 65517 to 65520) and IANA's reserved ones (23456,
/// 64496 to 64511, 65535 to 65551), from Route Server's FAQ.
pub fn reserved_peer_asn(asn: u32) -> bool {
    matches!(
        asn,
        8074 | 8075 | 12076 | 65515 | 65517..=65520 | 23456 | 64496..=64511 | 65535..=65551
    )
}

spelled_enum! {
    /// Which route a Route Server prefers when ExpressRoute, a VPN gateway and
    /// an appliance announce the same prefix (`hubRoutingPreference`).
    #[derive(Default)]
    pub enum HubRoutingPreference {
        #[default]
        ExpressRoute,
        VpnGateway,
        #[strum(serialize = "ASPath")]
        AsPath,
    }
}

/// An Azure Route Server (`azurerm_route_server`).
#[derive(Debug, Clone)]
pub struct RouteServer {
    pub name: String,
    pub vnet: VnetIdx,
    /// Its VNet's `RouteServerSubnet`.
    pub subnet: SubnetRef,
    /// Its two instances' addresses (`virtualRouterIps`): the fourth and
    /// fifth of the subnet, as every deployment Azure documents shows.
    pub instances: Vec<IpAddr>,
    /// `allowBranchToBranchTraffic`: routes exchanged with the VNet's
    /// gateways, and VPN and ExpressRoute sites joined through them.
    pub branch_to_branch_traffic: bool,
    pub hub_routing_preference: HubRoutingPreference,
    pub bgp_connections: Vec<RouteServerPeer>,
    /// The virtual hub whose router this is (lowered from the hub's BGP
    /// connections): it serves no VNet's NICs, since the hub's tables carry
    /// what it learns, and it announces what the hub advertises.
    pub hub: Option<super::indices::VirtualHubIdx>,
    pub line: usize,
}

/// One BGP connection of a Route Server
/// (`azurerm_route_server_bgp_connection`): both instances peer with it.
#[derive(Debug, Clone)]
pub struct RouteServerPeer {
    pub name: String,
    pub peer_ip: IpAddr,
    pub peer_asn: u32,
    /// The NIC that holds `peer_ip`, in the Route Server's VNet or one
    /// peered with it.
    pub nic: Option<NicIdx>,
    pub line: usize,
}

/// The BGP daemon vnetd runs for an appliance NIC (`bgp_speaker`), and what
/// it announces (`bgp_announce`, vnetd's own key): it peers with both
/// instances of every Route Server that has a connection to the NIC's
/// address, with the ASN that connection names.
#[derive(Debug, Clone)]
pub struct ApplianceSpeaker {
    pub nic: NicIdx,
    pub speaker: BgpSpeaker,
    /// The ASN of the connections to it (they agree).
    pub asn: u32,
    /// The prefixes it announces. The first address of each (but
    /// `0.0.0.0/0`) is put on the appliance's loopback, so the networks
    /// "behind" it answer.
    pub announce: Vec<IpNet>,
    /// The line of the NIC's `bgp_speaker`.
    pub line: usize,
}
