//! What the lab's BGP speakers learned: the one input of the routes that
//! does not come from the topology file. A running lab's speakers gather
//! it; offline, [`crate::policy::bgp::BgpModel`] predicts it. Gateways,
//! Microsoft's edge routers and Route Servers record theirs here alike.

use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The ORIGIN attribute of a BGP route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
pub enum BgpOrigin {
    Igp,
    Egp,
    Incomplete,
}

/// A route one gateway instance learned over BGP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnedRoute {
    pub prefix: IpNet,
    /// The BGP neighbor that announced it.
    pub peer: IpAddr,
    pub next_hop: IpAddr,
    pub as_path: Vec<u32>,
    pub origin: BgpOrigin,
}

/// Everything the gateways' BGP speakers learned: by gateway name (names
/// survive an `apply` that renumbers gateways), then by instance. The
/// edge routers of circuits are recorded the same way, each by its name
/// ([`crate::topology::Circuit::edge_router_name`]) as one instance, and
/// each Route Server by its name, with its two instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LearnedRoutes {
    pub gateways: BTreeMap<String, Vec<Vec<LearnedRoute>>>,
}

impl LearnedRoutes {
    /// What instance `instance` of gateway `gateway` learned.
    pub fn of(&self, gateway: &str, instance: usize) -> &[LearnedRoute] {
        self.gateways
            .get(gateway)
            .and_then(|instances| instances.get(instance))
            .map_or(&[], Vec::as_slice)
    }
}
