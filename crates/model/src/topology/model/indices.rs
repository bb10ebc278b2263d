//! The typed indices of the resolved topology's core resources (VNets,
//! subnets, NICs, route tables, NSGs, application security groups, sites,
//! gateways, circuits, load balancers, and the virtual hubs a Route Server
//! may belong to), and the reference to a subnet by its VNet. They name no
//! resource type, so every file of the model can use them without using
//! the others.

use super::index_type;

index_type!(
    /// Index of a VNet in [`Topology::vnets`](super::Topology::vnets).
    VnetIdx
);
index_type!(
    /// Index of a subnet in its VNet's [`Vnet::subnets`](super::Vnet::subnets).
    SubnetIdx
);
index_type!(
    /// Index of a NIC in [`Topology::nics`](super::Topology::nics).
    NicIdx
);
index_type!(
    /// Index of a route table in [`Topology::route_tables`](super::Topology::route_tables).
    RouteTableIdx
);
index_type!(
    /// Index of an NSG in [`Topology::nsgs`](super::Topology::nsgs).
    NsgIdx
);
index_type!(
    /// Index of an application security group in [`Topology::asgs`](super::Topology::asgs).
    AsgIdx
);
index_type!(
    /// Index of an on-premises site in [`Topology::sites`](super::Topology::sites).
    SiteIdx
);
index_type!(
    /// Index of a virtual network gateway in [`Topology::gateways`](super::Topology::gateways).
    GatewayIdx
);
index_type!(
    /// Index of a local network gateway in
    /// [`Topology::local_gateways`](super::Topology::local_gateways).
    LocalGatewayIdx
);
index_type!(
    /// Index of an ExpressRoute circuit in [`Topology::circuits`](super::Topology::circuits).
    CircuitIdx
);
index_type!(
    /// Index of an internal load balancer in
    /// [`Topology::load_balancers`](super::Topology::load_balancers).
    LoadBalancerIdx
);
index_type!(
    /// Index of a virtual hub in [`Topology::virtual_hubs`](super::Topology::virtual_hubs).
    VirtualHubIdx
);

/// A subnet, addressed by its VNet and its position in that VNet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubnetRef {
    pub vnet: VnetIdx,
    pub subnet: SubnetIdx,
}
