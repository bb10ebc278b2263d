//! A virtual hub's route: where it leads (`HubHop`), where it came from
//! (`HubOrigin`), the next hop type Azure prints for it, and how routes
//! to one prefix rank against each other by the hub's routing preference
//! (`docs/src/azure-behaviour.md` §"Virtual WAN", "Selection at one
//! prefix"). Every other file of the hub router builds or reads these.

use crate::topology::model::*;
use ipnet::{IpNet, Ipv4Net};

/// The next hop type `az network vhub get-effective-routes` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
pub enum HubHopType {
    #[strum(serialize = "Virtual Network Connection")]
    VirtualNetworkConnection,
    #[strum(serialize = "Remote Hub")]
    RemoteHub,
    #[strum(serialize = "Azure Firewall")]
    AzureFirewall,
    #[strum(serialize = "VPN_S2S_Gateway")]
    VpnS2sGateway,
    #[strum(serialize = "ExpressRouteGateway")]
    ExpressRouteGateway,
    #[strum(serialize = "HubBgpConnection")]
    HubBgpConnection,
}

impl HubHopType {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Where a hub route leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubHop {
    /// A connection of the route's own hub.
    Connection {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// Another hub of the WAN, and the connection there the route came
    /// from.
    RemoteHub {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// The hub's own firewall.
    Firewall { hub: VirtualHubIdx },
    /// A VPN connection of the route's own hub (index in its
    /// `vpn_connections`): the branch, through the hub's VPN gateway.
    VpnGateway {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// Another hub of the WAN, and the VPN connection there the route came
    /// from: a branch of that hub (`Remote Hub`).
    RemoteBranch {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// An ExpressRoute connection of the route's own hub (index in its
    /// `express_route_connections`): the circuit, through the hub's
    /// ExpressRoute gateway.
    ExpressRouteGateway {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// Another hub of the WAN, and the ExpressRoute connection there the
    /// route came from (`Remote Hub`).
    RemoteCircuit {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// A BGP connection of the route's own hub (index in its
    /// `bgp_connections`): the appliance that announced the route.
    BgpConnection {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// Another hub of the WAN, and the BGP connection there the route came
    /// from (`Remote Hub`).
    RemoteBgp {
        hub: VirtualHubIdx,
        connection: usize,
    },
}

/// Where a hub route came from (`routeOrigin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubOrigin {
    Connection {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// A VPN connection of the hub (index in its `vpn_connections`).
    VpnConnection {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// An ExpressRoute connection of the hub (index in its
    /// `express_route_connections`).
    ExpressRouteConnection {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// A BGP connection of the hub (index in its `bgp_connections`).
    BgpConnection {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// A static route of this table.
    Table {
        hub: VirtualHubIdx,
        table: usize,
    },
    RemoteHub(VirtualHubIdx),
}

/// One route of a hub route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRoute {
    pub prefix: IpNet,
    pub hop: HubHop,
    pub origin: HubOrigin,
    /// ASNs, nearest first (`65520-65520` for a remote hub's route).
    pub as_path: Vec<u32>,
    /// A static route (of the table, of routing intent, or a connection's
    /// propagated static route).
    pub is_static: bool,
    /// The static route's name.
    pub name: Option<String>,
}

impl HubRoute {
    pub fn hop_type(&self) -> HubHopType {
        match self.hop {
            HubHop::Connection { .. } => HubHopType::VirtualNetworkConnection,
            HubHop::RemoteHub { .. }
            | HubHop::RemoteBranch { .. }
            | HubHop::RemoteCircuit { .. }
            | HubHop::RemoteBgp { .. } => HubHopType::RemoteHub,
            HubHop::Firewall { .. } => HubHopType::AzureFirewall,
            HubHop::VpnGateway { .. } => HubHopType::VpnS2sGateway,
            HubHop::ExpressRouteGateway { .. } => HubHopType::ExpressRouteGateway,
            HubHop::BgpConnection { .. } => HubHopType::HubBgpConnection,
        }
    }

    /// The `asPath` string: ASNs joined with `-`, empty for none.
    pub fn as_path_text(&self) -> String {
        let asns: Vec<String> = self.as_path.iter().map(u32::to_string).collect();
        asns.join("-")
    }

    fn remote(&self) -> bool {
        matches!(
            self.hop,
            HubHop::RemoteHub { .. }
                | HubHop::RemoteBranch { .. }
                | HubHop::RemoteCircuit { .. }
                | HubHop::RemoteBgp { .. }
        )
    }

    /// The kind of branch the route leads to: VPN, ExpressRoute, or
    /// neither.
    fn branch_kind(&self) -> BranchKind {
        match self.hop {
            HubHop::VpnGateway { .. } | HubHop::RemoteBranch { .. } => BranchKind::Vpn,
            HubHop::ExpressRouteGateway { .. } | HubHop::RemoteCircuit { .. } => {
                BranchKind::ExpressRoute
            }
            _ => BranchKind::None,
        }
    }

    /// Rank at an equal prefix: lower wins. Static routes first; then a
    /// local VNet connection's own prefixes ("system routes are preferred
    /// over routes learned by the hub through BGP"); then by the hub's
    /// routing preference:
    /// - ExpressRoute: local over remote; then between ExpressRoute and
    ///   VPN, ExpressRoute when local and VPN when remote ("any transit
    ///   between ER to ER is supported only if the circuits have ER Global
    ///   Reach enabled"), whatever the AS path; then the shorter AS path;
    /// - VpnGateway: local over remote; then VPN over ExpressRoute; then
    ///   the shorter AS path;
    /// - ASPath: the shorter AS path; then a branch's route over a remote
    ///   hub's VNet ("Remote site-to-site VPN will be preferred" on a
    ///   tie); then local over remote; then ExpressRoute when local and VPN
    ///   when remote.
    pub(super) fn rank(
        &self,
        preference: HubRoutingPreference,
    ) -> (u8, u8, usize, usize, usize, u8) {
        let is_static = u8::from(!self.is_static);
        let system = u8::from(!matches!(self.hop, HubHop::Connection { .. }));
        let remote = self.remote();
        let kind = self.branch_kind();
        let path = self.as_path.len();
        // ExpressRoute over VPN in the hub, VPN over ExpressRoute through
        // another hub; what is neither ranks between them.
        let er_first: u8 = match (kind, remote) {
            (BranchKind::None, _) => 1,
            (BranchKind::ExpressRoute, false) | (BranchKind::Vpn, true) => 0,
            (BranchKind::ExpressRoute, true) | (BranchKind::Vpn, false) => 2,
        };
        let vpn_first: u8 = match kind {
            BranchKind::Vpn => 0,
            BranchKind::None => 1,
            BranchKind::ExpressRoute => 2,
        };
        let remote = usize::from(remote);
        match preference {
            HubRoutingPreference::ExpressRoute => {
                (is_static, system, remote, er_first.into(), path, 0)
            }
            HubRoutingPreference::VpnGateway => {
                (is_static, system, remote, vpn_first.into(), path, 0)
            }
            HubRoutingPreference::AsPath => {
                let branch = usize::from(kind == BranchKind::None);
                (is_static, system, path, branch, remote, er_first)
            }
        }
    }
}

/// What kind of branch a hub route leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BranchKind {
    Vpn,
    ExpressRoute,
    None,
}

/// The best route of each prefix: the first of the lowest rank.
pub(super) fn select(candidates: Vec<HubRoute>, preference: HubRoutingPreference) -> Vec<HubRoute> {
    let mut best: Vec<HubRoute> = Vec::new();
    for c in candidates {
        match best.iter_mut().find(|b| b.prefix == c.prefix) {
            Some(held) if c.rank(preference) < held.rank(preference) => *held = c,
            Some(_) => {}
            None => best.push(c),
        }
    }
    best
}

/// 0.0.0.0/0, the route that never leaves its hub.
pub(super) fn ipv4_default() -> IpNet {
    IpNet::V4(Ipv4Net::default())
}
