//! Microsoft's edge routers (MSEEs) of an ExpressRoute circuit as BGP
//! speakers: one per link of the private peering (primary and secondary),
//! ASN 12076, holding the second address of the link's /30 ("ExpressRoute
//! routing requirements": the customer takes the first, Microsoft the
//! second, and sets up the BGP session there).
//!
//! Each edge router holds these sessions:
//! - the customer edge, on its /30, eBGP without multihop, as a real
//!   circuit's router meets Microsoft;
//! - every instance of each ExpressRoute gateway connected to the circuit
//!   (eBGP multihop; the tunnel of its link ends at instance `link`, and
//!   the other instance is reached through it), as Azure's edge routers
//!   each peer with both instances;
//! - the edge router of the same link of each circuit a Global Reach link
//!   joins to this one, on the Global Reach /29 (iBGP: both are Microsoft's
//!   AS 12076, next hop set to itself).
//!
//! What it passes on, as Azure's edge does:
//! - to a gateway and to a Global Reach peer: only what the customer edge
//!   announced (a VNet's routes never leave through another circuit or
//!   another gateway, and one circuit's Global Reach peers are not handed
//!   on: Global Reach does not transit);
//! - to the customer edge: the VNets of every connected gateway and the
//!   sites of the circuits joined by Global Reach, its own AS 12076
//!   prepended and the private ASNs behind it removed (Azure's own example
//!   of a customer edge's table shows the VNets with the path `12076`
//!   alone).

use super::ipv4::v4;
use crate::topology::{CircuitIdx, ConnectionPeer, Topology, MICROSOFT_EDGE_ASN};
use std::net::Ipv4Addr;

/// Who an edge router's neighbour is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeRole {
    /// The circuit's customer edge.
    Customer,
    /// An instance of a connected ExpressRoute gateway.
    Gateway,
    /// The edge router of a circuit joined by Global Reach.
    Reach,
}

/// One session of an edge router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeNeighbor {
    pub address: Ipv4Addr,
    /// The edge router's own address on the session.
    pub local_address: Ipv4Addr,
    pub asn: u32,
    pub role: EdgeRole,
}

/// The address of the edge router of link `link` of `circuit`: Microsoft's
/// address of that link's /30.
pub fn edge_address(topo: &Topology, circuit: CircuitIdx, link: usize) -> Ipv4Addr {
    v4(topo.circuits[circuit]
        .private_peering
        .microsoft_address(link))
    .expect("a private peering link is an IPv4 /30")
}

/// The sessions of the edge router of link `link` of `circuit`: the
/// customer edge, then each connected gateway's instances, then each
/// Global Reach peer, in file order.
pub fn edge_neighbors(topo: &Topology, circuit: CircuitIdx, link: usize) -> Vec<EdgeNeighbor> {
    let c = &topo.circuits[circuit];
    let own = edge_address(topo, circuit, link);
    let mut out = Vec::new();
    if let Some(customer) = v4(c.private_peering.customer_address(link)) {
        out.push(EdgeNeighbor {
            address: customer,
            local_address: own,
            asn: c.private_peering.peer_asn,
            role: EdgeRole::Customer,
        });
    }
    for connection in &topo.connections {
        if connection.peer != ConnectionPeer::Circuit(circuit) {
            continue;
        }
        let gw = &topo.gateways[connection.gateway];
        for address in gw.instances.iter().copied().filter_map(v4) {
            if !out.iter().any(|n| n.address == address) {
                out.push(EdgeNeighbor {
                    address,
                    local_address: own,
                    asn: gw.asn,
                    role: EdgeRole::Gateway,
                });
            }
        }
    }
    for reach in &topo.global_reach {
        if let Some((local_address, address)) = reach.ends(circuit, link) {
            out.push(EdgeNeighbor {
                address,
                local_address,
                asn: MICROSOFT_EDGE_ASN,
                role: EdgeRole::Reach,
            });
        }
    }
    out
}

/// Whether `asn` is private (RFC 6996): what an edge router removes from
/// the paths it sends a customer edge.
pub fn is_private_asn(asn: u32) -> bool {
    (64_512..=65_534).contains(&asn) || (4_200_000_000..=4_294_967_294).contains(&asn)
}

/// Whether an edge router passes a route it learned from a neighbour of
/// role `from` to one of role `to`.
pub fn passes(from: EdgeRole, to: EdgeRole) -> bool {
    match to {
        EdgeRole::Customer => from != EdgeRole::Customer,
        EdgeRole::Gateway | EdgeRole::Reach => from == EdgeRole::Customer,
    }
}
