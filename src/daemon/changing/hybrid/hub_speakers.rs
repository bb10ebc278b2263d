//! The speakers of a virtual hub's VPN and ExpressRoute gateways in a running lab: what
//! each instance originates towards the hub's branches
//! ([`hub_gateway_exports`]: the hub's VNets and prefix, the other hubs'
//! VNets and branches with their paths and ORIGIN EGP, 0.0.0.0/0 where
//! routing intent sends it), kept to what the gateways learn.
//!
//! The other hubs' branches are what their gateways learned, so what a hub
//! gateway announces changes with the learned routes, not only with the
//! topology: the supervisor asks [`HubAnnouncer::refresh`] every round,
//! which compares what each hub speaker should announce with what it was
//! last given, and changes only a speaker whose routes differ. A branch
//! that withdraws a prefix therefore leaves the other hubs' branches
//! within a round of its gateway's watcher recording it.
//!
//! A hub's router (the Route Server vnetd runs for a hub's BGP connections
//! to appliances) is kept the same way: what it announces to the
//! appliances holds the branches' routes with branch-to-branch traffic
//! ([`hub_router_exports`]).

use super::daemons::{lock, InstanceSpeaker};
use super::watch::LearnedBook;
use crate::host::routing::gobgp::{Announcement, GobgpSpec};
use crate::policy::gateways::LearnedRoutes;
use crate::policy::virtual_wan::{hub_gateway_exports, hub_router_exports, HubGatewayExports};
use crate::topology::Topology;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

/// What a hub gateway's speaker originates, in gobgpd's terms.
pub(super) fn announcements(exports: &HubGatewayExports) -> Vec<Announcement> {
    (exports.originated.iter())
        .map(|a| Announcement {
            prefix: a.prefix,
            as_path: a.as_path.clone(),
            egp: a.egp,
        })
        .collect()
}

/// A hub gateway's speaker as the hub has it: it passes a branch's routes
/// on to the others only with branch-to-branch traffic, and withholds
/// 0.0.0.0/0 from the branches whose connection does not propagate the
/// default route (it originates no host route to withhold).
pub(super) fn shape(spec: &mut GobgpSpec, exports: &HubGatewayExports) {
    spec.pass_on_learned = exports.pass_on_learned;
    spec.withheld = (exports.default_withheld_from.iter())
        .filter_map(|a| super::specs::v4(*a))
        .map(|peer: Ipv4Addr| (peer, vec![Ipv4Net::default()]))
        .collect();
}

/// Keeps the hub gateways' speakers announcing what the hubs advertise
/// to their branches as the learned routes change.
pub struct HubAnnouncer {
    topology: Topology,
    book: Arc<LearnedBook>,
    /// The learned routes the speakers were last brought to.
    seen: Mutex<Option<LearnedRoutes>>,
}

impl HubAnnouncer {
    /// The announcer of `topo`'s hub gateways, or `None` when it has none.
    pub(super) fn of(topo: &Topology, book: Arc<LearnedBook>) -> Option<HubAnnouncer> {
        let any = (topo.virtual_hubs.iter()).any(|h| {
            h.vpn_gateway.is_some() || h.express_route_gateway.is_some() || h.router.is_some()
        });
        any.then(|| HubAnnouncer {
            topology: topo.clone(),
            book,
            seen: Mutex::new(None),
        })
    }

    /// Brings each hub gateway's speaker to what it should announce now,
    /// once per change of the learned routes; a speaker it could not
    /// change, or that does not run, is tried again next round.
    pub(super) fn refresh(&self, speakers: &[Arc<Mutex<InstanceSpeaker>>]) {
        let learned = self.book.current();
        let mut seen = lock(&self.seen);
        if seen.as_ref() == Some(&learned) {
            return;
        }
        let topo = &self.topology;
        let gateways = topo.gateways.iter_enumerated().filter_map(|(g, gw)| {
            let exports = hub_gateway_exports(topo, &learned, g)?;
            Some((gw.name.as_str(), announcements(&exports)))
        });
        let routers = topo.route_servers.iter().filter_map(|rs| {
            let exports = hub_router_exports(topo, &learned, rs.hub?);
            let plain = exports.into_iter().map(Announcement::plain).collect();
            Some((rs.name.as_str(), plain))
        });
        let mut all_done = true;
        for (name, wanted) in gateways.chain(routers) {
            for s in speakers {
                let mut s = lock(s);
                if s.retired || s.gateway != name {
                    continue;
                }
                // A speaker being restarted is given what it originated
                // before: it is brought up to date once it runs.
                all_done &= s.speaker.is_running() && bring(&mut s, &wanted);
            }
        }
        if all_done {
            *seen = Some(learned);
        }
    }
}

/// Gives speaker `s` of a hub gateway the routes `wanted`, unless it has
/// them; false when gobgpd refused.
fn bring(s: &mut InstanceSpeaker, wanted: &[Announcement]) -> bool {
    let mut sorted = wanted.to_vec();
    sorted.sort();
    if s.speaker.announcements() == sorted.as_slice() {
        return true;
    }
    let span = s.supervision.span.clone();
    let _in_speaker = span.enter();
    match s.speaker.set_announcements(wanted) {
        Ok(()) => {
            tracing::debug!(
                "the hub's {} routes announced to the branches",
                wanted.len()
            );
            true
        }
        Err(e) => {
            tracing::warn!("announcing the hub's routes to its branches: {e:#}");
            false
        }
    }
}
