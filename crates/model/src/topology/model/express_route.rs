//! What a circuit's addresses and names are: the two links of its private
//! peering (the customer's and Microsoft's address of each /30), its edge
//! routers' names, and the addresses a Global Reach link gives the edge
//! routers it joins; and an Azure VMware Solution private cloud's /22 as
//! Azure carves it.

use super::hybrid::{Circuit, GlobalReach, PrivatePeering};
use super::indices::{CircuitIdx, SiteIdx};
use ipnet::IpNet;
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

/// An Azure VMware Solution private cloud: its /22 (`network_block`), its
/// NSX Tier-0 router as a site (`site`, named like the cloud, holding the
/// /22 and the workload segments) and its Microsoft-managed circuit
/// (`circuit`, named like the cloud, its private peering on the /22's
/// ExpressRoute /27).
#[derive(Debug, Clone)]
pub struct PrivateCloud {
    pub name: String,
    pub location: String,
    pub sku: String,
    pub network_block: Ipv4Net,
    pub workload_segments: Vec<IpNet>,
    pub site: SiteIdx,
    pub circuit: CircuitIdx,
    pub line: usize,
}

/// The ASN vnetd gives a private cloud's Tier-0 router: Azure does not
/// publish it; a private ASN, which Microsoft's edge removes from what
/// other customer edges see.
pub const PRIVATE_CLOUD_ASN: u32 = 65_101;

/// A private cloud circuit's bandwidth: vnetd's choice (Azure sizes it
/// with the private cloud and does not let it be set).
pub const PRIVATE_CLOUD_CIRCUIT_MBPS: u32 = 10_000;

/// The segments Azure carves out of a private cloud's /22, in order
/// ("Networking planning checklist for Azure VMware Solution": a /22
/// split into /26s, /25s and the ExpressRoute /27), by offset and length.
const CARVING: [(&str, u32, u8); 10] = [
    ("management (vCenter, NSX Manager)", 0, 26),
    ("HCX management", 64, 26),
    ("Global Reach (reserved)", 128, 26),
    ("NSX DNS service", 192, 32),
    ("ExpressRoute private peering", 224, 27),
    ("ESXi management", 256, 25),
    ("vMotion", 384, 25),
    ("replication", 512, 25),
    ("vSAN", 640, 25),
    ("HCX uplink", 768, 26),
];

impl PrivateCloud {
    /// The /22's segments as Azure carves them, each with its use.
    pub fn carving(network_block: Ipv4Net) -> Vec<(&'static str, Ipv4Net)> {
        let base = u32::from(network_block.network());
        CARVING
            .iter()
            .map(|&(what, offset, len)| {
                let net = Ipv4Net::new(Ipv4Addr::from(base + offset), len).expect("a valid length");
                (what, net)
            })
            .collect()
    }

    /// The two /30s of the circuit's private peering: the first two of the
    /// ExpressRoute /27.
    pub fn peering_links(network_block: Ipv4Net) -> (Ipv4Net, Ipv4Net) {
        let base = u32::from(network_block.network()) + 224;
        let link = |at: u32| Ipv4Net::new(Ipv4Addr::from(at), 30).expect("a /30");
        (link(base), link(base + 4))
    }

    /// vCenter's address: the second of the management /26, as Azure
    /// gives it.
    pub fn vcenter_address(network_block: Ipv4Net) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(network_block.network()) + 2)
    }
}
