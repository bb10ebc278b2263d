//! The speakers of a virtual hub's VPN or ExpressRoute gateway: one per instance, ASN
//! 65515, with a session to each branch device of its BGP links. Each
//! originates what the hub advertises to its branches
//! ([`crate::policy::virtual_wan::hub_gateway_exports`]: the hub's VNets
//! and prefix, the other hubs' VNets and branches with their paths),
//! refuses a prefix identical to the hub's own, passes a branch's routes
//! on to the hub's other branches only with branch-to-branch traffic, and
//! withholds 0.0.0.0/0 from the branches whose connection does not
//! propagate the default route.

use super::ipv4::{v4, v4_nets};
use super::neighbors::instance_neighbors;
use super::speaker::{instances_in_session, Speaker, SpeakerId};
use crate::policy::gateways::served_ranges;
use crate::policy::virtual_wan::HubGatewayExports;
use crate::topology::{GatewayIdx, Topology};
use ipnet::Ipv4Net;

/// The speakers of the instances of hub VPN gateway `g` that hold a
/// session.
pub(super) fn gateway_speakers(
    topo: &Topology,
    g: GatewayIdx,
    exports: HubGatewayExports,
) -> Vec<Speaker> {
    let gw = &topo.gateways[g];
    let served = v4_nets(served_ranges(topo, g));
    let mut originated: Vec<Ipv4Net> = exports.originated.iter().map(|a| a.prefix).collect();
    originated.sort();
    originated.dedup();
    let origin_paths = (exports.originated.iter())
        .filter(|a| !a.as_path.is_empty())
        .map(|a| (a.prefix, a.as_path.clone()))
        .collect();
    let configured = instance_neighbors(topo, g);
    let withheld: Vec<_> = (exports.default_withheld_from.iter())
        .filter_map(|a| v4(*a))
        .map(|a| (a, vec![Ipv4Net::default()]))
        .collect();
    instances_in_session(&gw.instances, &configured, gw.asn)
        .into_iter()
        .map(|(instance, address, neighbors)| Speaker {
            originated: originated.clone(),
            origin_paths: Clone::clone(&origin_paths),
            withheld: withheld.clone(),
            pass_on_learned: exports.pass_on_learned,
            reject_exact: served.clone(),
            deny_overlapping: served.clone(),
            ..Speaker::plain(
                SpeakerId::Instance {
                    gateway: g,
                    instance,
                },
                gw.asn,
                address,
                neighbors,
            )
        })
        .collect()
}
