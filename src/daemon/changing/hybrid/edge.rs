//! Microsoft's edge of a running lab: the two edge routers (MSEE) of each
//! ExpressRoute circuit, as Azure builds a circuit.
//!
//! - Each edge router is a namespace of its own that forwards with the
//!   kernel's routing table (`<customer edge's namespace>-msee-primary`,
//!   `-secondary`); `stats` and `bgp-peer-status` call it
//!   `<circuit>-msee-primary`, `-secondary`.
//! - Link `i` of the private peering is a veth pair between the customer
//!   edge's router (`msee<i>`, the first address of the link's /30) and
//!   the edge router (`ce`, the second): the customer edge meets Microsoft
//!   on a real /30, as a real circuit's router does. Both ends are shaped
//!   to the circuit's `bandwidth_in_mbps` (a tc token bucket each way).
//! - A Global Reach link joins the edge routers of the same link of two
//!   circuits by a pair of TUN devices (`gr<n>`, `n` the link's place in
//!   the file) holding the addresses vnetd carves out of the link's /29
//!   ([`GlobalReach::addresses`](crate::topology::GlobalReach::addresses)),
//!   whose packets the daemon carries from one to the other delayed by
//!   both circuits' latency ([`crate::daemon::forwarding::global_reach`]).
//! - The tunnels of a circuit's ExpressRoute connections end in the edge
//!   routers (see the plan's site tunnels): traffic between a VNet and the
//!   site crosses Microsoft's edge, and traffic between two sites joined by
//!   Global Reach never reaches the fabric.
//! - Each edge router runs gobgpd (ASN 12076) with the sessions the BGP
//!   model gives it ([`crate::policy::bgp::edge`]); its watcher installs
//!   the best routes gobgpd holds into the namespace's kernel table
//!   (gobgpd itself programs no kernel), so the routers forward as BGP
//!   says.
//!
//! An edge router is built again when its link's addresses change or its
//! customer edge's namespace was built again (the veth went with it); a
//! new bandwidth is shaped in place. A Global Reach link is joined again
//! when one of its ends was built again.

use super::specs::v4;
use super::{Hybrid, HybridChanges};
use crate::host::routing::gobgp::{GobgpNeighbor, GobgpSpec, NotHandedOn, SessionLimits};
use crate::host::site::{build_router, join_routers, join_routers_through_tun, LinkEnd};
use crate::host::{netlink, netns, shaping};
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
    fn shape(&self) -> Result<()> {
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

impl Hybrid {
    /// After the sites: builds the edge routers that are new or changed
    /// (or whose customer edge was built again) and joins the Global Reach
    /// links, removing what `topo` no longer has. Each edge router built
    /// here is named in `changes.rebuilt_routers`: the tunnels in it are
    /// new too.
    pub(super) fn update_edge(
        &mut self,
        topo: &Topology,
        changes: &mut HybridChanges,
    ) -> Result<()> {
        let wanted = edge_routers(topo);
        let mut built: Vec<String> = Vec::new();
        for old in std::mem::take(&mut self.edge_routers) {
            let customer_rebuilt = changes.rebuilt_routers.contains(&old.customer.0.netns);
            let same = wanted
                .iter()
                .find(|w| w.name == old.name && w.netns == old.netns && w.customer == old.customer);
            if let (Some(w), false) = (same, customer_rebuilt) {
                // A new bandwidth is shaped in place.
                if w.bandwidth_mbps != old.bandwidth_mbps {
                    w.shape()?;
                    changes.changed.push(format!(
                        "{}: bandwidth {} Mbps (its sessions kept)",
                        w.name, w.bandwidth_mbps
                    ));
                }
                self.edge_routers.push(w.clone());
                continue;
            }
            self.retire_speaker(&old.name, 0);
            if netns::exists(&old.netns) {
                if let Err(e) = netns::delete(&old.netns) {
                    warn_and_keep!(changes.warnings, "removing edge router {}: {e:#}", old.name);
                }
            }
            if !wanted.iter().any(|w| w.name == old.name) {
                changes
                    .removed
                    .push(format!("Microsoft edge router {}", old.name));
            }
        }
        for w in wanted {
            if self.edge_routers.iter().any(|r| r.name == w.name) {
                continue;
            }
            build_router(&w.netns)?;
            join_routers(&w.customer.0, &w.customer.1)?;
            w.shape()?;
            changes.rebuilt_routers.push(w.netns.clone());
            built.push(w.netns.clone());
            self.edge_routers.push(w);
        }
        let links = reach_links(topo);
        let reach = self.reach.clone().context("no Global Reach thread")?;
        for old in std::mem::take(&mut self.reach_links) {
            let end_rebuilt =
                built.contains(&old.ends.0.netns) || built.contains(&old.ends.1.netns);
            let same = links
                .iter()
                .find(|l| l.name == old.name && l.ends == old.ends);
            if let (Some(now), false) = (same, end_rebuilt) {
                if now.delay_us != old.delay_us {
                    reach.set_delay(&now.name, now.delay_us);
                    changes.changed.push(format!(
                        "Global Reach {}: +{} us one way",
                        now.name, now.delay_us
                    ));
                }
                self.reach_links.push(now.clone());
                continue;
            }
            reach.remove(&old.name);
            for end in [&old.ends.0, &old.ends.1] {
                if !built.contains(&end.netns) && netns::exists(&end.netns) {
                    let _ = netlink::delete_link(&end.netns, &end.interface);
                }
            }
        }
        for link in links {
            if self.reach_links.iter().any(|l| l.name == link.name) {
                continue;
            }
            let ends = join_routers_through_tun(&link.ends.0, &link.ends.1)?;
            reach
                .add(&link.name, ends, link.delay_us)
                .map_err(anyhow::Error::msg)?;
            self.reach_links.push(link);
        }
        Ok(())
    }

    /// Removes every edge router (their daemons are stopped before).
    pub(super) fn remove_edge(&mut self) {
        self.reach_links.clear();
        if let Some(reach) = &self.reach {
            reach.clear();
        }
        for r in self.edge_routers.drain(..) {
            if netns::exists(&r.netns) {
                if let Err(e) = netns::delete(&r.netns) {
                    tracing::warn!("removing edge router {}: {e:#}", r.name);
                }
            }
        }
    }
}
