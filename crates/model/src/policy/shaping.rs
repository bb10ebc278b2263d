//! What Azure's network adds to a packet between two points of the fabric:
//! the delay of the regions (or of the site's internet path or circuit)
//! between them, a link's impairments, the MTU of the path, the TCP MSS a
//! VPN tunnel clamps to, and the rates that cap it (the gateway it leaves,
//! the link's own cap, the circuit). The figures are Azure's published
//! ones (see [`crate::topology::catalog`]); this module only decides which
//! apply where, so that `trace` and the forwarding path read the same.
//!
//! A hop goes from one [`Endpoint`] to the next: a VM's NIC, a gateway
//! (its instances are one endpoint), an on-premises site's tunnel to a
//! gateway, a VNet's health prober, or an Azure Firewall. A gateway's (or
//! a firewall's) aggregate throughput is charged on the hops that leave
//! it, so every packet it carries counts once, whichever way it goes.

use crate::topology::catalog::round_trips;
use crate::topology::{
    CircuitIdx, ConnectionPeer, FirewallIdx, GatewayIdx, GlobalReach, Impairments, NicIdx,
    PrivateEndpointIdx, ResolverIdx, RouteServerIdx, SiteIdx, TiVec, Topology, VirtualHubIdx,
    VmIdx, VnetIdx, DEFAULT_MTU, PATH_MTU_OUTSIDE_VNET,
};

/// The MTU of a VPN tunnel (IPsec, to a site or Vnet2Vnet): Azure's
/// recommended tunnel MTU.
pub const VPN_TUNNEL_MTU: u16 = 1400;
/// The TCP MSS a VPN tunnel clamps SYNs to, as Azure recommends.
pub const VPN_TCP_MSS: u16 = 1350;

/// A point of the fabric a hop starts or ends at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Nic(NicIdx),
    /// A virtual network gateway (any of its instances).
    Gateway(GatewayIdx),
    /// A site's tunnel to one gateway.
    Site {
        site: SiteIdx,
        gateway: GatewayIdx,
    },
    /// A VNet's health prober (168.63.129.16).
    Prober(VnetIdx),
    /// An Azure Firewall.
    Firewall(FirewallIdx),
    /// A Route Server (either instance): only its BGP sessions.
    RouteServer(RouteServerIdx),
    /// A VNet's Azure DNS (168.63.129.16).
    AzureDns(VnetIdx),
    /// A Private Endpoint, standing for the PaaS resource behind it.
    PrivateEndpoint(PrivateEndpointIdx),
    /// An endpoint of a DNS Private Resolver.
    Resolver(ResolverIdx),
    /// The emulated Internet: no region, no delay of its own.
    Internet,
}

impl Endpoint {
    /// A point inside a VNet that is reached as a VM is: a NIC, a Private
    /// Endpoint, a resolver's endpoint, or Azure DNS.
    fn in_a_vnet(self) -> bool {
        matches!(
            self,
            Endpoint::Nic(_)
                | Endpoint::AzureDns(_)
                | Endpoint::PrivateEndpoint(_)
                | Endpoint::Resolver(_)
        )
    }
}

/// Where a hop's delay comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelaySource {
    /// Both ends in one region, or no region known: nothing added.
    None,
    /// Half the round trip from one region to another: Azure's published
    /// figure, or vnetd's estimate from the regions' coordinates where
    /// Azure's page lists none.
    Regions {
        from: &'static str,
        to: &'static str,
        estimated: bool,
    },
    /// A link's own `impairments.latency_ms`.
    Link,
    /// A site's `latency_ms` (its internet path to Azure).
    Site(SiteIdx),
    /// A circuit's `latency_ms`.
    Circuit,
}

/// A link with impairments of its own: a peering link or a gateway
/// connection (by position in the topology's list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    Peering(usize),
    Connection(usize),
}

/// A rate that caps a hop, and what imposes it: each is one shared limit,
/// whatever the hops it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cap {
    /// The aggregate throughput of the gateway the hop leaves.
    Gateway { gateway: GatewayIdx, mbps: u32 },
    /// A link's `impairments.rate_mbps`.
    Link { link: Link, mbps: u32 },
    /// An ExpressRoute circuit's bandwidth, towards its site.
    Circuit { circuit: CircuitIdx, mbps: u32 },
    /// The throughput of an Azure Firewall's SKU, over everything it
    /// forwards.
    Firewall { firewall: FirewallIdx, mbps: u32 },
    /// A virtual hub router's capacity (its routing infrastructure units),
    /// over what it sends to the other hubs of its WAN.
    HubRouter { hub: VirtualHubIdx, mbps: u32 },
}

impl Cap {
    pub fn mbps(self) -> u32 {
        match self {
            Cap::Gateway { mbps, .. }
            | Cap::Link { mbps, .. }
            | Cap::Circuit { mbps, .. }
            | Cap::Firewall { mbps, .. }
            | Cap::HubRouter { mbps, .. } => mbps,
        }
    }

    /// What imposes the cap, in the file's names.
    pub fn describe(self, topo: &Topology) -> String {
        match self {
            Cap::Gateway { gateway, mbps } => {
                let g = &topo.gateways[gateway];
                format!("{mbps} Mbps: gateway {} ({})", g.name, g.sku)
            }
            Cap::Link {
                link: Link::Peering(i),
                mbps,
            } => {
                format!(
                    "{mbps} Mbps: peering {} (impairments)",
                    topo.peerings[i].name
                )
            }
            Cap::Link {
                link: Link::Connection(i),
                mbps,
            } => {
                format!(
                    "{mbps} Mbps: connection {} (impairments)",
                    topo.connections[i].name
                )
            }
            Cap::Circuit { circuit, mbps } => {
                format!("{mbps} Mbps: circuit {}", topo.circuits[circuit].name)
            }
            Cap::Firewall { firewall, mbps } => {
                let f = &topo.firewalls[firewall];
                format!("{mbps} Mbps: firewall {} ({})", f.name, f.sku.as_str())
            }
            Cap::HubRouter { hub, mbps } => {
                let h = &topo.virtual_hubs[hub];
                format!(
                    "{mbps} Mbps: hub router {} ({} routing units)",
                    h.name, h.routing_units
                )
            }
        }
    }
}

/// What one hop adds and allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HopShaping {
    /// Added one way, in microseconds.
    pub delay_us: u32,
    pub delay_source: DelaySource,
    pub jitter_us: u32,
    /// Packets lost per million.
    pub loss_ppm: u32,
    /// The gateway (or firewall) the hop leaves, if any, with its
    /// throughput.
    pub gateway_cap: Option<Cap>,
    /// The link's own rate cap (impairments or circuit bandwidth).
    pub link_cap: Option<Cap>,
    /// The largest IP packet the hop carries.
    pub mtu: u16,
    /// The MSS TCP SYNs crossing the hop are clamped to.
    pub mss_clamp: Option<u16>,
}

impl HopShaping {
    /// Nothing added, nothing capped, a plain 1500 path.
    pub const NONE: HopShaping = HopShaping {
        delay_us: 0,
        delay_source: DelaySource::None,
        jitter_us: 0,
        loss_ppm: 0,
        gateway_cap: None,
        link_cap: None,
        mtu: DEFAULT_MTU,
        mss_clamp: None,
    };

    /// The lowest of the hop's caps.
    pub fn bottleneck(&self) -> Option<Cap> {
        [self.gateway_cap, self.link_cap]
            .into_iter()
            .flatten()
            .min_by_key(|c| c.mbps())
    }

    /// True when the packet must wait or may be lost on this hop (a delay,
    /// jitter, loss or a rate the daemon applies).
    pub fn holds_packets(&self) -> bool {
        self.delay_us > 0
            || self.jitter_us > 0
            || self.loss_ppm > 0
            || self.gateway_cap.is_some()
            || self.link_cap.is_some()
    }
}

/// The VNet an endpoint sits in (a site sits in none).
fn vnet_of(topo: &Topology, e: Endpoint) -> Option<VnetIdx> {
    match e {
        Endpoint::Nic(n) => Some(topo.nics[n].subnet.vnet),
        Endpoint::Gateway(g) => Some(topo.gateways[g].vnet),
        Endpoint::Prober(v) => Some(v),
        Endpoint::Firewall(f) => Some(topo.firewalls[f].vnet),
        Endpoint::RouteServer(r) => Some(topo.route_servers[r].vnet),
        Endpoint::AzureDns(v) => Some(v),
        Endpoint::PrivateEndpoint(e) => Some(topo.private_endpoints[e].subnet.vnet),
        Endpoint::Resolver(r) => Some(topo.dns_resolvers[r].vnet),
        Endpoint::Site { .. } | Endpoint::Internet => None,
    }
}

/// The MTU a packet must fit to be delivered to `e`.
fn receiver_mtu(topo: &Topology, e: Endpoint) -> u16 {
    match e {
        Endpoint::Nic(n) => topo.nics[n].mtu,
        _ => DEFAULT_MTU,
    }
}

/// The connection of `gateway` to `site` (an IPsec connection to the
/// site's local network gateway, or an ExpressRoute connection to its
/// circuit).
fn site_connection(topo: &Topology, gateway: GatewayIdx, site: SiteIdx) -> Option<usize> {
    topo.connections.iter().position(|c| {
        c.gateway == gateway
            && match c.peer {
                ConnectionPeer::Local(l) => topo.local_gateways[l].site == site,
                ConnectionPeer::Circuit(k) => topo.circuits[k].site == site,
                ConnectionPeer::Gateway(_) => false,
            }
    })
}

/// What a link adds: its delay (the default, or its own), jitter, loss and
/// cap.
struct LinkFigures {
    delay_us: u32,
    delay_source: DelaySource,
    jitter_us: u32,
    loss_ppm: u32,
    link_cap: Option<Cap>,
}

impl LinkFigures {
    /// The hop these figures make, leaving `gateway_cap`'s gateway, with
    /// its MTU and MSS clamp.
    fn hop(self, gateway_cap: Option<Cap>, mtu: u16, mss_clamp: Option<u16>) -> HopShaping {
        HopShaping {
            delay_us: self.delay_us,
            delay_source: self.delay_source,
            jitter_us: self.jitter_us,
            loss_ppm: self.loss_ppm,
            gateway_cap,
            link_cap: self.link_cap,
            mtu,
            mss_clamp,
        }
    }
}

/// The figures of a link with `impairments` over a default delay.
fn impaired(base: (u32, DelaySource), link: Option<(Link, Option<Impairments>)>) -> LinkFigures {
    let (link, impairments) = link.unzip();
    let i = impairments.flatten().unwrap_or_default();
    let (delay_us, delay_source) = match i.latency_us {
        Some(us) => (us, DelaySource::Link),
        None => base,
    };
    let link_cap = i
        .rate_mbps
        .zip(link)
        .map(|(mbps, link)| Cap::Link { link, mbps });
    LinkFigures {
        delay_us,
        delay_source,
        jitter_us: i.jitter_us,
        loss_ppm: i.loss_ppm,
        link_cap,
    }
}

/// The cap of the hub router a packet leaves when it goes from a VNet
/// connected to one hub to a VNet connected to another (not through a
/// secured hub's firewall, which routing intent sends it through instead
/// of the router). Within one hub the router is not shaped.
fn hub_to_hub_cap(topo: &Topology, from: VnetIdx, to: VnetIdx) -> Option<Cap> {
    use crate::policy::virtual_wan::hub_connection_of;
    let (a, _) = hub_connection_of(topo, from)?;
    let (b, _) = hub_connection_of(topo, to)?;
    let hub = &topo.virtual_hubs[a];
    (a != b && hub.wan == topo.virtual_hubs[b].wan).then(|| Cap::HubRouter {
        hub: a,
        mbps: u32::try_from(hub.router_mbps()).unwrap_or(u32::MAX),
    })
}

/// The delay between two VNets' regions, one way.
fn region_delay(topo: &Topology, from: VnetIdx, to: VnetIdx) -> (u32, DelaySource) {
    let (a, b) = (&topo.vnets[from].location, &topo.vnets[to].location);
    if a.is_empty() || b.is_empty() || a == b {
        return (0, DelaySource::None);
    }
    match (
        round_trips::one_way(a, b),
        crate::topology::regions::canonical(a),
        crate::topology::regions::canonical(b),
    ) {
        (Some(one_way), Some(from), Some(to)) => (
            one_way.us,
            DelaySource::Regions {
                from,
                to,
                estimated: one_way.estimated,
            },
        ),
        // No figure and no coordinates: left without a delay (the
        // topology warns).
        _ => (0, DelaySource::None),
    }
}

/// What a packet between the two sites of a Global Reach link takes one
/// way: each circuit's `latency_ms` (site to its peering location), the
/// way between the two peering locations being Microsoft's backbone, which
/// vnetd does not delay. The lab's edge routers carry it both ways.
pub fn global_reach_delay_us(topo: &Topology, reach: &GlobalReach) -> u32 {
    topo.circuits[reach.circuit]
        .latency_us
        .saturating_add(topo.circuits[reach.peer_circuit].latency_us)
}

/// What the hop from `from` to `to` adds and allows.
pub fn hop(topo: &Topology, from: Endpoint, to: Endpoint) -> HopShaping {
    let gateway_cap = match from {
        Endpoint::Gateway(g) => Some(Cap::Gateway {
            gateway: g,
            mbps: topo.gateways[g].throughput_mbps,
        }),
        Endpoint::Firewall(f) => Some(Cap::Firewall {
            firewall: f,
            mbps: topo.firewalls[f].sku.throughput_mbps(),
        }),
        _ => None,
    };
    // A site's tunnel joins it to its gateway: the internet path (IPsec)
    // or the circuit (ExpressRoute).
    if let (Endpoint::Site { site, gateway }, _) | (_, Endpoint::Site { site, gateway }) =
        (from, to)
    {
        let circuit = topo.circuit_of(site, gateway);
        let base = match circuit {
            Some(c) => (topo.circuits[c].latency_us, DelaySource::Circuit),
            None => (topo.sites[site].latency_us, DelaySource::Site(site)),
        };
        let base = if base.0 == 0 {
            (0, DelaySource::None)
        } else {
            base
        };
        let connection = site_connection(topo, gateway, site)
            .map(|i| (Link::Connection(i), topo.connections[i].impairments));
        let mut figures = impaired(base, connection);
        // Towards the site a circuit carries its bandwidth; the other way
        // the site's router shapes its own tunnels to it.
        let towards_site = matches!(to, Endpoint::Site { .. });
        figures.link_cap = figures
            .link_cap
            .or(circuit.filter(|_| towards_site).map(|c| Cap::Circuit {
                circuit: c,
                mbps: topo.circuits[c].bandwidth_mbps,
            }));
        return match circuit {
            Some(_) => figures.hop(gateway_cap, PATH_MTU_OUTSIDE_VNET, None),
            None => figures.hop(gateway_cap, VPN_TUNNEL_MTU, Some(VPN_TCP_MSS)),
        };
    }
    // To or from the Internet: no region and no link, but what a firewall
    // forwards there counts against its tier like the rest.
    let (Some(a), Some(b)) = (vnet_of(topo, from), vnet_of(topo, to)) else {
        return HopShaping {
            gateway_cap,
            ..HopShaping::NONE
        };
    };
    // Two gateways: a Vnet2Vnet tunnel.
    if let (Endpoint::Gateway(g), Endpoint::Gateway(peer)) = (from, to) {
        let connection = topo
            .connections
            .iter()
            .position(|c| c.gateway == g && c.peer == ConnectionPeer::Gateway(peer))
            .map(|i| (Link::Connection(i), topo.connections[i].impairments));
        return impaired(region_delay(topo, a, b), connection).hop(
            gateway_cap,
            VPN_TUNNEL_MTU,
            Some(VPN_TCP_MSS),
        );
    }
    // Inside a VNet or across a peering.
    let link = (a != b)
        .then(|| {
            topo.peerings
                .iter()
                .position(|p| p.vnet == a && p.remote == b)
        })
        .flatten()
        .map(|i| (Link::Peering(i), topo.peerings[i].impairments));
    let mut figures = impaired(region_delay(topo, a, b), link);
    if figures.link_cap.is_none() && link.is_none() {
        figures.link_cap = hub_to_hub_cap(topo, a, b);
    }
    // A larger MTU only inside a VNet and across regional peering, never
    // through a gateway.
    let stays_regional = !topo.peering_is_global(a, b)
        && !matches!(from, Endpoint::Gateway(_))
        && !matches!(to, Endpoint::Gateway(_));
    let path_mtu = if stays_regional {
        u16::MAX
    } else {
        PATH_MTU_OUTSIDE_VNET
    };
    figures.hop(gateway_cap, receiver_mtu(topo, to).min(path_mtu), None)
}

/// What a packet meets between two ports of the fabric: the hops of its
/// path composed. Delays and jitter add up, losses compound, the MTU is
/// the smallest, and every cap of every hop applies (at most three: the
/// gateways left and one link's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PathShaping {
    pub delay_us: u32,
    /// Some of the delay is vnetd's estimate of a round trip Azure does
    /// not publish.
    pub delay_estimated: bool,
    pub jitter_us: u32,
    pub loss_ppm: u32,
    pub caps: [Option<Cap>; 3],
    pub mtu: u16,
    pub mss_clamp: Option<u16>,
}

impl PathShaping {
    /// Nothing added: a plain path of the receiver's MTU.
    pub const fn plain(mtu: u16) -> PathShaping {
        PathShaping {
            delay_us: 0,
            delay_estimated: false,
            jitter_us: 0,
            loss_ppm: 0,
            caps: [None; 3],
            mtu,
            mss_clamp: None,
        }
    }

    /// The lowest cap of the path.
    pub fn bottleneck(&self) -> Option<Cap> {
        self.caps.iter().flatten().copied().min_by_key(|c| c.mbps())
    }

    /// True when packets must wait or may be lost on the path.
    pub fn holds_packets(&self) -> bool {
        self.delay_us > 0 || self.jitter_us > 0 || self.loss_ppm > 0 || self.caps[0].is_some()
    }

    fn then(mut self, hop: &HopShaping) -> PathShaping {
        self.delay_us = self.delay_us.saturating_add(hop.delay_us);
        self.delay_estimated |= matches!(
            hop.delay_source,
            DelaySource::Regions {
                estimated: true,
                ..
            }
        );
        self.jitter_us = self.jitter_us.saturating_add(hop.jitter_us);
        let kept = (1_000_000 - u64::from(self.loss_ppm.min(1_000_000)))
            * (1_000_000 - u64::from(hop.loss_ppm.min(1_000_000)))
            / 1_000_000;
        self.loss_ppm = (1_000_000 - kept) as u32;
        for cap in [hop.gateway_cap, hop.link_cap].into_iter().flatten() {
            if let Some(slot) = self.caps.iter_mut().find(|c| c.is_none()) {
                *slot = Some(cap);
            } else if let Some(widest) = self.caps.iter_mut().max_by_key(|c| c.map(Cap::mbps)) {
                // More than three caps: the three lowest bind.
                if widest.is_some_and(|w| w.mbps() > cap.mbps()) {
                    *widest = Some(cap);
                }
            }
        }
        self.mtu = self.mtu.min(hop.mtu);
        self.mss_clamp = match (self.mss_clamp, hop.mss_clamp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self
    }
}

/// The endpoints a packet crosses from `from` to `to`: through the gateway
/// serving its VNet and the gateway its destination is behind, when the
/// two are not one VNet or peered. A Vnet2Vnet chain through a third
/// gateway is taken as its two ends.
pub fn path(topo: &Topology, from: Endpoint, to: Endpoint) -> Vec<Endpoint> {
    let entry = |e: Endpoint, towards: Option<GatewayIdx>| -> Option<GatewayIdx> {
        let vnet = vnet_of(topo, e)?;
        let serving = topo.serving_gateways(vnet);
        match towards {
            Some(g) if serving.contains(&g) => Some(g),
            _ => topo.serving_gateway(vnet).or(serving.first().copied()),
        }
    };
    let mut chain = vec![from];
    match (from, to) {
        (Endpoint::Site { gateway: a, .. }, Endpoint::Site { gateway: b, .. }) => {
            chain.push(Endpoint::Gateway(a));
            if a != b {
                chain.push(Endpoint::Gateway(b));
            }
        }
        (Endpoint::Site { gateway, .. }, other) if !matches!(other, Endpoint::Gateway(_)) => {
            chain.push(Endpoint::Gateway(gateway));
            if let Some(g) = entry(other, Some(gateway)).filter(|g| *g != gateway) {
                chain.push(Endpoint::Gateway(g));
            }
        }
        (
            Endpoint::Nic(_)
            | Endpoint::Prober(_)
            | Endpoint::AzureDns(_)
            | Endpoint::PrivateEndpoint(_)
            | Endpoint::Resolver(_),
            Endpoint::Site { gateway, .. },
        ) => {
            if let Some(g) = entry(from, Some(gateway)).filter(|g| *g != gateway) {
                chain.push(Endpoint::Gateway(g));
            }
            chain.push(Endpoint::Gateway(gateway));
        }
        (a, b) if a.in_a_vnet() && b.in_a_vnet() => {
            let (a, b) = (vnet_of(topo, from), vnet_of(topo, to));
            let joined = a == b || a.zip(b).is_some_and(|(a, b)| topo.peering_connected(a, b));
            if !joined {
                if let (Some(ga), Some(gb)) = (entry(from, None), entry(to, None)) {
                    chain.push(Endpoint::Gateway(ga));
                    if ga != gb {
                        chain.push(Endpoint::Gateway(gb));
                    }
                }
            }
        }
        _ => {}
    }
    chain.push(to);
    chain
}

/// What a packet meets from `from` to `to`: the hops of [`path`] composed.
pub fn between(topo: &Topology, from: Endpoint, to: Endpoint) -> PathShaping {
    let chain = path(topo, from, to);
    chain
        .windows(2)
        .fold(PathShaping::plain(u16::MAX), |acc, pair| {
            acc.then(&hop(topo, pair[0], pair[1]))
        })
}

/// The egress limit of a VM as it applies to one of its NICs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmEgress {
    pub vm: VmIdx,
    /// What the VM may send across all its NICs, in Mbps.
    pub mbps: u32,
    /// The VM has several NICs, which share the limit; a single NIC's
    /// `eth0` carries it alone.
    pub shared: bool,
}

/// A VM's limit; none for a size Azure documents no bandwidth for.
fn egress_of(topo: &Topology, vm: VmIdx) -> Option<VmEgress> {
    let v = &topo.virtual_machines[vm];
    Some(VmEgress {
        vm,
        mbps: v.egress_mbps?,
        shared: v.nics.len() > 1,
    })
}

/// The egress limit of the VM that owns `nic`, if a VM does.
pub fn vm_egress(topo: &Topology, nic: NicIdx) -> Option<VmEgress> {
    topo.virtual_machines
        .iter_enumerated()
        .find(|(_, vm)| vm.nics.contains(&nic))
        .and_then(|(vm, _)| egress_of(topo, vm))
}

/// [`vm_egress`] of every NIC, in one pass over the VMs.
pub fn vm_egress_by_nic(topo: &Topology) -> TiVec<NicIdx, Option<VmEgress>> {
    let mut out: TiVec<NicIdx, Option<VmEgress>> = topo.nics.iter().map(|_| None).collect();
    for vm in topo.virtual_machines.keys() {
        for nic in &topo.virtual_machines[vm].nics {
            out[*nic] = egress_of(topo, vm);
        }
    }
    out
}

#[cfg(test)]
mod tests;
