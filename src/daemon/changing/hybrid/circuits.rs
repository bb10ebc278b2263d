//! Microsoft's edge of the ExpressRoute circuits as a topology asks for
//! it: each circuit's two edge routers (MSEE), the Global Reach links
//! between circuits, and the edge routers' speakers. Building them on the
//! host is `edge`'s.

use super::specs::v4;
use crate::host::routing::gobgp::{GobgpNeighbor, GobgpSpec, NotHandedOn, SessionLimits};
use crate::host::shaping;
use crate::host::site::LinkEnd;
use crate::plan::names::msee_netns;
use crate::policy::bgp::{edge_address, edge_neighbors, EdgeRole};
use crate::policy::shaping::global_reach_delay_us;
use crate::topology::{Topology, MICROSOFT_EDGE_ASN};
use anyhow::{Context, Result};
use ipnet::{IpNet, Ipv4Net};
use std::path::PathBuf;

/// One edge router as the host builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EdgeRouterSpec {
    /// The router's name (`<circuit>-msee-primary`).
    pub name: String,
    pub netns: String,
    /// The customer edge's end of the link, then the edge router's.
    pub customer: (LinkEnd, LinkEnd),
    pub bandwidth_mbps: u32,
}

impl EdgeRouterSpec {
    /// Shapes both ends of the circuit's link to its bandwidth.
    pub(super) fn shape(&self) -> Result<()> {
        for end in [&self.customer.0, &self.customer.1] {
            shaping::shape(&end.netns, &end.interface, self.bandwidth_mbps)
                .with_context(|| format!("shaping circuit link {}", self.name))?;
        }
        Ok(())
    }
}

/// A /30 address as a link end holds it.
fn on_link(address: std::net::Ipv4Addr, link: Ipv4Net) -> IpNet {
    IpNet::V4(Ipv4Net::new(address, link.prefix_len()).expect("a valid length"))
}

/// The edge routers `topo` asks for: two per circuit.
pub(super) fn edge_routers(topo: &Topology) -> Vec<EdgeRouterSpec> {
    let mut out = Vec::new();
    for (c, circuit) in topo.circuits.iter_enumerated() {
        if !topo.circuit_is_local(c) {
            continue;
        }
        let peering = &circuit.private_peering;
        let ce_netns = &topo.sites[circuit.site].first_router().netns;
        for link in 0..2 {
            let netns = msee_netns(topo, circuit, link);
            let net = peering.link(link);
            let Some(customer) = v4(peering.customer_address(link)) else {
                continue;
            };
            out.push(EdgeRouterSpec {
                name: circuit.edge_router_name(link),
                customer: (
                    LinkEnd {
                        netns: ce_netns.clone(),
                        interface: format!("msee{link}"),
                        address: on_link(customer, net),
                    },
                    LinkEnd {
                        netns: netns.clone(),
                        interface: "ce".to_owned(),
                        address: on_link(edge_address(topo, c, link), net),
                    },
                ),
                netns,
                bandwidth_mbps: circuit.bandwidth_mbps,
            });
        }
    }
    out
}

/// One Global Reach link between the edge routers of one link of the two
/// circuits' peerings, as the host joins it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ReachLink {
    /// The Global Reach link and the peerings' link: `dc1-dc2 primary`.
    pub name: String,
    pub ends: (LinkEnd, LinkEnd),
    /// What a packet across takes one way: both circuits' latency.
    pub delay_us: u32,
}

/// The Global Reach links between edge routers of this machine: per
/// Global Reach link, one for the primary routers and one for the
/// secondary.
pub(super) fn reach_links(topo: &Topology) -> Vec<ReachLink> {
    let mut out = Vec::new();
    for (n, reach) in topo.global_reach.iter().enumerate() {
        if !(topo.circuit_is_local(reach.circuit) && topo.circuit_is_local(reach.peer_circuit)) {
            continue;
        }
        for link in 0..2 {
            let (first, second) = reach.addresses(link);
            let net = Ipv4Net::new(first, 30).expect("a /30").trunc();
            let end = |circuit, address| LinkEnd {
                netns: msee_netns(topo, &topo.circuits[circuit], link),
                interface: format!("gr{n}"),
                address: on_link(address, net),
            };
            out.push(ReachLink {
                name: format!("{} {}", reach.name, ["primary", "secondary"][link]),
                ends: (end(reach.circuit, first), end(reach.peer_circuit, second)),
                delay_us: global_reach_delay_us(topo, reach),
            });
        }
    }
    out
}

/// The speaker of each edge router: gobgpd with ASN 12076 and the
/// sessions of [`edge_neighbors`], as (router name, spec).
pub(super) fn edge_speakers(
    topo: &Topology,
    limits: SessionLimits,
    run_root: &str,
) -> Vec<(String, GobgpSpec)> {
    let mut out = Vec::new();
    for (c, circuit) in topo.circuits.iter_enumerated() {
        if !topo.circuit_is_local(c) {
            continue;
        }
        for link in 0..2 {
            let netns = msee_netns(topo, circuit, link);
            let own = edge_address(topo, c, link);
            let run_dir = PathBuf::from(run_root).join(&netns);
            let mut spec = GobgpSpec::new(&netns, MICROSOFT_EDGE_ASN, own, run_dir, limits);
            let mut to = Vec::new();
            let mut next_hops = Vec::new();
            for n in edge_neighbors(topo, c, link) {
                let mut neighbor =
                    GobgpNeighbor::new(n.address, n.asn, n.role == EdgeRole::Gateway);
                match n.role {
                    EdgeRole::Customer => neighbor.remove_private_as = true,
                    EdgeRole::Gateway => {
                        to.push(n.address);
                        next_hops.push(n.address);
                    }
                    EdgeRole::Reach => {
                        neighbor.local_address = Some(n.local_address);
                        neighbor.next_hop_self = true;
                        to.push(n.address);
                        next_hops.push(n.address);
                    }
                }
                spec.neighbors.push(neighbor);
            }
            if !to.is_empty() {
                spec.not_handed_on = Some(NotHandedOn { to, next_hops });
            }
            out.push((circuit.edge_router_name(link), spec));
        }
    }
    out
}
