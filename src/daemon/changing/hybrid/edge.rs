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

use super::circuits::{edge_routers, reach_links};
use super::running::{Hybrid, HybridChanges};
use crate::host::site::{build_router, join_routers, join_routers_through_tun};
use crate::host::{netlink, netns};
use crate::topology::Topology;
use anyhow::{Context, Result};

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
