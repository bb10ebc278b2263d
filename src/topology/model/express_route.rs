//! What a circuit's addresses and names are: the two links of its private
//! peering (the customer's and Microsoft's address of each /30), its edge
//! routers' names, and the addresses a Global Reach link gives the edge
//! routers it joins.

use super::{Circuit, CircuitIdx, GlobalReach, PrivatePeering, SiteIdx, Topology};
use ipnet::Ipv4Net;
use std::net::{IpAddr, Ipv4Addr};

impl PrivatePeering {
    /// The /30 of link `link`: 0 is the primary, 1 the secondary.
    pub fn link(&self, link: usize) -> Ipv4Net {
        if link == 0 {
            self.primary
        } else {
            self.secondary
        }
    }

    /// The customer edge's address on link `link`.
    pub fn customer_address(&self, link: usize) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(u32::from(self.link(link).network()) + 1))
    }

    /// Microsoft's address on link `link`: the second of the /30, where
    /// its edge router holds the BGP session ("ExpressRoute routing
    /// requirements").
    pub fn microsoft_address(&self, link: usize) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(u32::from(self.link(link).network()) + 2))
    }
}

impl Circuit {
    /// The name of Microsoft's edge router (MSEE) of link `link` (0
    /// primary, 1 secondary): what `stats`, `bgp-peer-status` and the
    /// lab's namespace call it.
    pub fn edge_router_name(&self, link: usize) -> String {
        let side = if link == 0 { "primary" } else { "secondary" };
        format!("{}-msee-{side}", self.name)
    }
}

impl GlobalReach {
    /// The addresses the two circuits' edge routers of link `link` (0
    /// primary, 1 secondary) hold on the link between them: the /29 split
    /// in two /30s as a peering's /29 is (the first for the primary
    /// routers), `circuit`'s router taking the first usable address of its
    /// /30 and `peer_circuit`'s the second. Azure carves the /29 for its
    /// own use without saying how; this is vnetd's choice.
    pub fn addresses(&self, link: usize) -> (Ipv4Addr, Ipv4Addr) {
        let base = u32::from(self.address_prefix.network()) + 4 * link.min(1) as u32;
        (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
    }

    /// The address `circuit`'s edge router of link `link` holds on this
    /// link, and the other end's, when `circuit` is one of its two.
    pub fn ends(&self, circuit: CircuitIdx, link: usize) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let (first, second) = self.addresses(link);
        if circuit == self.circuit {
            Some((first, second))
        } else if circuit == self.peer_circuit {
            Some((second, first))
        } else {
            None
        }
    }

    /// The circuit at the other end from `circuit`.
    pub fn other(&self, circuit: CircuitIdx) -> Option<CircuitIdx> {
        if circuit == self.circuit {
            Some(self.peer_circuit)
        } else if circuit == self.peer_circuit {
            Some(self.circuit)
        } else {
            None
        }
    }
}

impl Topology {
    /// The circuit whose customer edge `site`'s router is, if any (a site
    /// is the customer edge of one circuit at most).
    pub fn circuit_of_site(&self, site: SiteIdx) -> Option<CircuitIdx> {
        self.circuits.position(|c| c.site == site)
    }
}
