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
//! gateway, or a VNet's health prober. A gateway's aggregate throughput is
//! charged on the hops that leave it, so every packet it carries counts
//! once, whichever way it goes.

use crate::topology::catalog::round_trips;
use crate::topology::{
    ConnectionPeer, GatewayIdx, Impairments, NicIdx, SiteIdx, Topology, VnetIdx, DEFAULT_MTU,
    PATH_MTU_OUTSIDE_VNET,
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
}

/// Where a hop's delay comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelaySource {
    /// Both ends in one region, or no region known: nothing added.
    None,
    /// Half the published round trip from one region to another.
    Regions {
        from: &'static str,
        to: &'static str,
    },
    /// A link's own `impairments.latency_ms`.
    Link,
    /// A site's `latency_ms` (its internet path to Azure).
    Site(SiteIdx),
    /// A circuit's `latency_ms`.
    Circuit,
}

/// A rate that caps a hop, and what imposes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// The aggregate throughput of the gateway the hop leaves.
    Gateway { gateway: GatewayIdx, mbps: u32 },
    /// A link's `impairments.rate_mbps`.
    Link { mbps: u32 },
    /// An ExpressRoute circuit's bandwidth.
    Circuit { mbps: u32 },
}

impl Cap {
    pub fn mbps(self) -> u32 {
        match self {
            Cap::Gateway { mbps, .. } | Cap::Link { mbps } | Cap::Circuit { mbps } => mbps,
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
    /// The gateway the hop leaves, if any, with its throughput.
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
        Endpoint::Site { .. } => None,
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
fn site_connection(
    topo: &Topology,
    gateway: GatewayIdx,
    site: SiteIdx,
) -> Option<&crate::topology::Connection> {
    topo.connections.iter().find(|c| {
        c.gateway == gateway
            && match c.peer {
                ConnectionPeer::Local(l) => topo.local_gateways[l].site == site,
                ConnectionPeer::Circuit(k) => topo.circuits[k].site == site,
                ConnectionPeer::Gateway(_) => false,
            }
    })
}

/// The delay, jitter, loss and link cap of `impairments` over a default
/// delay.
fn impaired(
    base: (u32, DelaySource),
    impairments: Option<Impairments>,
) -> (u32, DelaySource, u32, u32, Option<Cap>) {
    let i = impairments.unwrap_or_default();
    let (delay, source) = match i.latency_us {
        Some(us) => (us, DelaySource::Link),
        None => base,
    };
    let cap = i.rate_mbps.map(|mbps| Cap::Link { mbps });
    (delay, source, i.jitter_us, i.loss_ppm, cap)
}

/// The delay between two VNets' regions, one way.
fn region_delay(topo: &Topology, from: VnetIdx, to: VnetIdx) -> (u32, DelaySource) {
    let (a, b) = (&topo.vnets[from].location, &topo.vnets[to].location);
    if a.is_empty() || b.is_empty() || a == b {
        return (0, DelaySource::None);
    }
    match (
        round_trips::one_way_us(a, b),
        crate::topology::regions::canonical(a),
        crate::topology::regions::canonical(b),
    ) {
        (Some(us), Some(from), Some(to)) => (us, DelaySource::Regions { from, to }),
        // Refused by the topology unless the link gives its own delay.
        _ => (0, DelaySource::None),
    }
}

/// What the hop from `from` to `to` adds and allows.
pub fn hop(topo: &Topology, from: Endpoint, to: Endpoint) -> HopShaping {
    let gateway_cap = match from {
        Endpoint::Gateway(g) => Some(Cap::Gateway {
            gateway: g,
            mbps: topo.gateways[g].throughput_mbps,
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
        let connection = site_connection(topo, gateway, site);
        let (delay_us, delay_source, jitter_us, loss_ppm, link_cap) =
            impaired(base, connection.and_then(|c| c.impairments));
        let link_cap = link_cap.or(circuit.map(|c| Cap::Circuit {
            mbps: topo.circuits[c].bandwidth_mbps,
        }));
        let (mtu, mss_clamp) = match circuit {
            Some(_) => (PATH_MTU_OUTSIDE_VNET, None),
            None => (VPN_TUNNEL_MTU, Some(VPN_TCP_MSS)),
        };
        return HopShaping {
            delay_us,
            delay_source,
            jitter_us,
            loss_ppm,
            gateway_cap,
            link_cap,
            mtu,
            mss_clamp,
        };
    }
    let (Some(a), Some(b)) = (vnet_of(topo, from), vnet_of(topo, to)) else {
        return HopShaping::NONE;
    };
    // Two gateways: a Vnet2Vnet tunnel.
    if let (Endpoint::Gateway(g), Endpoint::Gateway(peer)) = (from, to) {
        let connection = topo
            .connections
            .iter()
            .find(|c| c.gateway == g && c.peer == ConnectionPeer::Gateway(peer));
        let (delay_us, delay_source, jitter_us, loss_ppm, link_cap) = impaired(
            region_delay(topo, a, b),
            connection.and_then(|c| c.impairments),
        );
        return HopShaping {
            delay_us,
            delay_source,
            jitter_us,
            loss_ppm,
            gateway_cap,
            link_cap,
            mtu: VPN_TUNNEL_MTU,
            mss_clamp: Some(VPN_TCP_MSS),
        };
    }
    // Inside a VNet or across a peering.
    let link = (a != b).then(|| topo.peering_link(a, b)).flatten();
    let (delay_us, delay_source, jitter_us, loss_ppm, link_cap) =
        impaired(region_delay(topo, a, b), link.and_then(|p| p.impairments));
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
    HopShaping {
        delay_us,
        delay_source,
        jitter_us,
        loss_ppm,
        gateway_cap,
        link_cap,
        mtu: receiver_mtu(topo, to).min(path_mtu),
        mss_clamp: None,
    }
}

/// The egress limit of the VM that owns `nic`, in Mbps, with the VM's
/// index: what it may send across all its NICs.
pub fn vm_egress(topo: &Topology, nic: NicIdx) -> Option<(crate::topology::VmIdx, u32)> {
    topo.virtual_machines
        .iter_enumerated()
        .find(|(_, vm)| vm.nics.contains(&nic))
        .map(|(i, vm)| (i, vm.egress_mbps))
}

#[cfg(test)]
mod tests;
