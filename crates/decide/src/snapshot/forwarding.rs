//! Facts the packet path needs beyond routes and NSGs, resolved once per
//! snapshot so that forwarding a packet is a few indexed reads:
//!
//! - which NIC owns an address within a VNet (VnetLocal and peering next
//!   hops deliver to the owner of the destination address in that VNet,
//!   and so does an InterfaceEndpoint next hop in the Private Endpoint's
//!   VNet, whose port owns the endpoint's address);
//! - for every VirtualAppliance route, the NIC that holds the appliance
//!   address, found as Azure finds it: in the source subnet's own VNet or a
//!   connected peer, whose VnetLocal or peering row lists the address's
//!   range, Active or not (Azure does not look the next hop up again
//!   through user routes, so a user route covering the appliance's own
//!   address, such as the hub's range to the hub's firewall, still leads
//!   there; an appliance in no such VNet makes the route lead nowhere); an
//!   internal load balancer's frontend address is such an appliance too;
//! - for every ordered pair of VNets, the peering facts a crossing packet is
//!   checked against: Connected, `allow_virtual_network_access` on both
//!   links, and `allow_forwarded_traffic` on the link held in the receiving
//!   VNet.

use super::load_balancers::FrontendIdx;
use crate::plan::Plan;
use crate::plan::PortIdx;
use crate::policy::routes::EffectiveRoute;
use crate::topology::{NextHopType, PrivateEndpointIdx, TiVec, Topology, VnetIdx};
use ipnet::IpNet;
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// Peering facts for traffic from one VNet into another.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Crossing {
    /// Both links exist (state Connected).
    pub connected: bool,
    /// `allow_virtual_network_access` is on at both ends.
    pub access: bool,
    /// The receiving VNet's link accepts traffic that did not start in the
    /// sending VNet.
    pub forwarded: bool,
}

/// What holds an address in a VNet: a NIC, or a load balancer's frontend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Nic(PortIdx),
    Frontend(FrontendIdx),
}

#[derive(Debug, Default)]
pub struct Forwarding {
    /// Keyed with a fast non-cryptographic hash: the keys come from the
    /// topology file, not from packets an attacker could choose freely.
    /// NICs and frontends share one map, so that a packet to either costs
    /// one lookup.
    holders: FxHashMap<(VnetIdx, IpAddr), Holder>,
    crossings: Vec<Crossing>,
    vnet_count: usize,
    /// Per VNet, its address space (to tell whether a packet started there).
    spaces: TiVec<VnetIdx, Vec<IpNet>>,
    /// Per Private Endpoint, the VNet it sits in.
    endpoint_vnets: TiVec<PrivateEndpointIdx, VnetIdx>,
}

impl Forwarding {
    pub fn build(topo: &Topology, plan: &Plan) -> Forwarding {
        let mut holders = FxHashMap::default();
        // Azure DNS holds 168.63.129.16 beside the prober; only its own
        // step ([`crate::dataplane::decide`]) reaches it.
        let holding = (plan.ports.iter_enumerated()).filter(|(_, p)| p.kind.holds_addresses());
        for (idx, nic) in holding {
            for c in &nic.ip_configurations {
                holders.insert((nic.subnet.vnet, c.address), Holder::Nic(idx));
            }
        }
        // Numbered as [`super::load_balancers::compile`] numbers them; the
        // file refuses a frontend on a NIC's address.
        let frontends = topo
            .load_balancers
            .iter()
            .flat_map(|lb| lb.frontends.iter().map(move |fe| (lb.vnet, fe.address)));
        for (at, i) in frontends.zip(0..) {
            holders
                .entry(at)
                .or_insert(Holder::Frontend(FrontendIdx(i)));
        }
        let n = topo.vnets.len();
        let mut crossings = vec![Crossing::default(); n * n];
        let wan_of: TiVec<VnetIdx, _> = topo
            .vnets
            .keys()
            .map(|v| crate::policy::virtual_wan::wan_of(topo, v))
            .collect();
        for from in topo.vnets.keys() {
            for to in topo.vnets.keys() {
                if let (Some(out), Some(back)) =
                    (topo.peering_link(from, to), topo.peering_link(to, from))
                {
                    crossings[from.index() * n + to.index()] = Crossing {
                        connected: true,
                        access: out.flags.allow_virtual_network_access
                            && back.flags.allow_virtual_network_access,
                        forwarded: back.flags.allow_forwarded_traffic,
                    };
                } else if from != to
                    && (topo.connected_group(from, to).is_some()
                        || wan_of[from].is_some_and(|w| wan_of[to] == Some(w)))
                {
                    // A connected group has no settings to turn traffic
                    // off: its members reach each other, forwarded
                    // traffic included; so do the VNets of one virtual
                    // WAN, as their hubs' routes decide.
                    crossings[from.index() * n + to.index()] = Crossing {
                        connected: true,
                        access: true,
                        forwarded: true,
                    };
                }
            }
        }
        Forwarding {
            holders,
            crossings,
            vnet_count: n,
            spaces: topo.vnets.iter().map(|v| v.address_space.clone()).collect(),
            endpoint_vnets: topo
                .private_endpoints
                .iter()
                .map(|pe| pe.subnet.vnet)
                .collect(),
        }
    }

    /// Per VNet (by index), whether its crossings to or from another VNet
    /// differ in `other`, when all else `other` holds is the same; `None`
    /// when something else differs.
    pub fn vnets_crossing_otherwise(&self, other: &Forwarding) -> Option<Vec<bool>> {
        let Forwarding {
            holders,
            crossings,
            vnet_count,
            spaces,
            endpoint_vnets,
        } = self;
        let alike = *holders == other.holders
            && *vnet_count == other.vnet_count
            && *spaces == other.spaces
            && *endpoint_vnets == other.endpoint_vnets
            && crossings.len() == other.crossings.len();
        if !alike {
            return None;
        }
        let mut touched = vec![false; *vnet_count];
        for (i, (a, b)) in crossings.iter().zip(&other.crossings).enumerate() {
            if a != b {
                touched[i / vnet_count] = true;
                touched[i % vnet_count] = true;
            }
        }
        Some(touched)
    }

    /// The VNet of the Private Endpoint `endpoint`.
    #[inline]
    pub fn endpoint_vnet(&self, endpoint: PrivateEndpointIdx) -> Option<VnetIdx> {
        self.endpoint_vnets.get(endpoint).copied()
    }

    /// The NIC or frontend that holds `addr` in `vnet`.
    #[inline]
    pub fn holder(&self, vnet: VnetIdx, addr: IpAddr) -> Option<Holder> {
        self.holders.get(&(vnet, addr)).copied()
    }

    /// The NIC that owns `addr` in `vnet`.
    #[inline]
    pub fn owner(&self, vnet: VnetIdx, addr: IpAddr) -> Option<PortIdx> {
        match self.holder(vnet, addr)? {
            Holder::Nic(nic) => Some(nic),
            Holder::Frontend(_) => None,
        }
    }

    /// The load-balancer frontend at `addr` in `vnet`.
    #[inline]
    pub fn frontend(&self, vnet: VnetIdx, addr: IpAddr) -> Option<FrontendIdx> {
        match self.holder(vnet, addr)? {
            Holder::Frontend(frontend) => Some(frontend),
            Holder::Nic(_) => None,
        }
    }

    #[inline]
    pub fn crossing(&self, from: VnetIdx, to: VnetIdx) -> Crossing {
        self.crossings
            .get(from.index() * self.vnet_count + to.index())
            .copied()
            .unwrap_or_default()
    }

    /// True when `addr` lies in `vnet`'s address space.
    #[inline]
    pub fn in_vnet(&self, vnet: VnetIdx, addr: IpAddr) -> bool {
        self.spaces
            .get(vnet)
            .is_some_and(|s| s.iter().any(|p| p.contains(&addr)))
    }
}

/// Where a route delivers, resolved at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteTarget {
    /// Deliver to the owner of the destination address in this VNet (for
    /// an InterfaceEndpoint route, the Private Endpoint's port).
    Vnet(VnetIdx),
    /// Deliver to this appliance NIC, which sits in the given VNet.
    Appliance { nic: PortIdx, vnet: VnetIdx },
    /// The appliance address is not a NIC reachable from the subnet.
    ApplianceUnreachable,
    /// To this gateway, which forwards by its own table.
    Gateway(crate::topology::GatewayIdx),
    /// To an internal load balancer's frontend (a VirtualAppliance route
    /// whose address is the frontend): the backend its HA-ports rule picks.
    Balanced {
        frontend: FrontendIdx,
        vnet: VnetIdx,
    },
    /// To one of the appliances a Route Server learned the prefix from:
    /// set `set` of the subnet's `appliance_sets`, chosen by flow hash
    /// (ECMP), so every packet of a flow meets the same appliance.
    Appliances { set: u32 },
    /// None, Internet, or a VirtualNetworkGateway route without a gateway:
    /// nowhere to deliver.
    Nowhere,
}

/// The ECMP sets of one subnet's Route Server routes: the appliance NICs
/// each leads to, with the VNet each sits in, in next-hop address order.
pub type ApplianceSets = Vec<Box<[(PortIdx, VnetIdx)]>>;

/// Resolves every row of a subnet's routes, with the ECMP sets of its
/// Route Server rows.
pub fn resolve_targets(
    rows: &[EffectiveRoute],
    own_vnet: VnetIdx,
    forwarding: &Forwarding,
) -> (Vec<RouteTarget>, ApplianceSets) {
    let direct = |row: &EffectiveRoute| match row.next_hop_type {
        NextHopType::VnetLocal => Some(own_vnet),
        NextHopType::VNetPeering | NextHopType::VNetGlobalPeering | NextHopType::ConnectedGroup => {
            row.peer_vnet
        }
        NextHopType::InterfaceEndpoint => row.endpoint.and_then(|e| forwarding.endpoint_vnet(e)),
        _ => None,
    };
    // The VNet an appliance address is reached in: the one of the longest
    // direct row (VnetLocal, peering, a Private Endpoint's) containing it,
    // whether or not a user route overrides that row.
    let direct_vnet = |ip: IpAddr| {
        rows.iter()
            .filter(|r| r.address_prefix.contains(&ip))
            .filter_map(|r| direct(r).map(|vnet| (r.address_prefix.prefix_len(), vnet)))
            .max_by_key(|(len, _)| *len)
            .map(|(_, vnet)| vnet)
    };
    let appliance = |ip: IpAddr| {
        direct_vnet(ip).and_then(|vnet| forwarding.owner(vnet, ip).map(|nic| (nic, vnet)))
    };
    let mut sets: ApplianceSets = Vec::new();
    let targets = rows
        .iter()
        .map(|row| match row.next_hop_type {
            NextHopType::VnetLocal
            | NextHopType::VNetPeering
            | NextHopType::VNetGlobalPeering
            | NextHopType::ConnectedGroup
            | NextHopType::InterfaceEndpoint => {
                direct(row).map_or(RouteTarget::Nowhere, RouteTarget::Vnet)
            }
            NextHopType::VirtualAppliance => {
                let Some(ip) = row.next_hop_ip else {
                    return RouteTarget::ApplianceUnreachable;
                };
                // The appliance must be reachable directly, not through
                // another appliance.
                direct_vnet(ip).map_or(RouteTarget::ApplianceUnreachable, |vnet| {
                    appliance_at(forwarding, vnet, ip)
                })
            }
            NextHopType::VirtualNetworkGateway if row.hub.is_some() => {
                hub_route_target(row, forwarding)
            }
            NextHopType::VirtualNetworkGateway if row.route_server.is_some() => {
                let set: Box<[(PortIdx, VnetIdx)]> = row
                    .appliances
                    .iter()
                    .filter_map(|ip| appliance(*ip))
                    .collect();
                if set.is_empty() {
                    return RouteTarget::ApplianceUnreachable;
                }
                let index = match sets.iter().position(|s| *s == set) {
                    Some(i) => i,
                    None => {
                        sets.push(set);
                        sets.len() - 1
                    }
                };
                RouteTarget::Appliances {
                    set: u32::try_from(index).expect("fewer sets than routes"),
                }
            }
            NextHopType::VirtualNetworkGateway => row
                .gateway
                .map_or(RouteTarget::Nowhere, RouteTarget::Gateway),
            NextHopType::None
            | NextHopType::Internet
            | NextHopType::VirtualNetworkServiceEndpoint => RouteTarget::Nowhere,
        })
        .collect();
    (targets, sets)
}

/// Where a virtual hub's route delivers: into a VNet, to an appliance (a
/// connection's static route's next hop, or a secured hub's firewall), or
/// to a hub's VPN gateway (a branch's route).
fn hub_route_target(row: &EffectiveRoute, forwarding: &Forwarding) -> RouteTarget {
    use crate::policy::virtual_wan::HubTarget;
    let Some(hub) = &row.hub else {
        return RouteTarget::Nowhere;
    };
    match hub.target {
        HubTarget::Vnet(vnet) => RouteTarget::Vnet(vnet),
        HubTarget::Appliance { ip, vnet } => appliance_at(forwarding, vnet, IpAddr::V4(ip)),
        HubTarget::Gateway(gateway) => RouteTarget::Gateway(gateway),
        HubTarget::Unreachable => RouteTarget::Nowhere,
    }
}

/// The appliance at `ip` in `vnet`: a NIC, or an internal load balancer's
/// frontend; else nothing reachable holds the address.
fn appliance_at(forwarding: &Forwarding, vnet: VnetIdx, ip: IpAddr) -> RouteTarget {
    forwarding
        .owner(vnet, ip)
        .map(|nic| RouteTarget::Appliance { nic, vnet })
        .or_else(|| {
            forwarding
                .frontend(vnet, ip)
                .map(|frontend| RouteTarget::Balanced { frontend, vnet })
        })
        .unwrap_or(RouteTarget::ApplianceUnreachable)
}
