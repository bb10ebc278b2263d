//! What a port of the fabric stands for ([`PortKind`]), the facts each
//! kind's module declares of its ports ([`Traits`]) and the shapes of the
//! answers a kind gives ([`BringUp`], [`DnsRole`], [`Servers`],
//! [`NameClaim`]). The questions themselves are asked of a [`PortKind`]
//! (see [`super`]), which answers from its kind's module; nothing outside
//! `plan::ports` names a kind to find an answer.
//!
//! The kind is `Copy` and small: the snapshot keeps it beside each port's
//! tables, and the per-packet decision asks it what the port is (a
//! gateway's, the prober, Azure DNS, a firewall, the Internet) with one
//! comparison.

use crate::topology::{
    FirewallIdx, GatewayIdx, PrivateEndpointIdx, ResolverIdx, RouteServerIdx, RouterRef, SiteIdx,
    VnetIdx,
};
use std::net::IpAddr;

/// What a port of the fabric stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortKind {
    /// A NIC of the topology file: a VM's namespace.
    Vm,
    /// Instance `instance` of a gateway: it owns the instance's address in
    /// GatewaySubnet, and its namespace runs the gateway's BGP speaker.
    GatewayInstance {
        gateway: GatewayIdx,
        instance: usize,
    },
    /// The tunnel from an on-premises site's router (`router`, its index
    /// in the site's routers) to one gateway instance: a TUN in the
    /// router's namespace. What the site sends into it enters the fabric
    /// at the gateway.
    SiteTunnel {
        site: SiteIdx,
        router: usize,
        gateway: GatewayIdx,
        instance: usize,
    },
    /// The platform's health prober of a VNet with load balancers: it owns
    /// 168.63.129.16, and its namespace opens the probes' real TCP and HTTP
    /// connections to the backends.
    Prober { vnet: VnetIdx },
    /// An Azure Firewall: it owns the firewall's private address, and
    /// forwards what the firewall's policy admits.
    Firewall { firewall: FirewallIdx },
    /// Instance `instance` of a Route Server: it owns the instance's
    /// address in RouteServerSubnet, and its namespace runs the instance's
    /// BGP speaker.
    RouteServerInstance {
        route_server: RouteServerIdx,
        instance: usize,
    },
    /// Azure DNS of a VNet: it owns 168.63.129.16, and the daemon answers
    /// the queries that reach its namespace.
    AzureDns { vnet: VnetIdx },
    /// A Private Endpoint: it owns the endpoint's address, and its
    /// namespace answers as the PaaS resource behind it.
    PrivateEndpoint { endpoint: PrivateEndpointIdx },
    /// An inbound endpoint of a DNS Private Resolver: it owns the
    /// endpoint's address, and the daemon answers the queries that reach
    /// it as Azure DNS of the resolver's VNet.
    ResolverInbound {
        resolver: ResolverIdx,
        endpoint: usize,
    },
    /// An outbound endpoint of a DNS Private Resolver: the queries its
    /// rulesets forward leave from its address.
    ResolverOutbound {
        resolver: ResolverIdx,
        endpoint: usize,
    },
    /// The emulated Internet: it owns the Internet servers' addresses, and
    /// what it sends is decided by the public address it is sent to.
    Internet,
}

/// What every port of one kind shares, declared by the kind's module
/// (its `TRAITS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traits {
    /// The kind's name, as the plan lists it.
    pub name: &'static str,
    /// How its namespace is brought up on the host.
    pub bring_up: BringUp,
    /// Whether its flows may leave userspace: once decided, the kernel's
    /// fast path carries them.
    pub fast_path: bool,
    /// Whether the workers may hand its namespace UDP datagrams joined
    /// into one super-packet: a port whose namespace ends the datagrams
    /// or hands them out of Azure, never one that forwards them to VMs
    /// or counts them as a NIC does.
    pub takes_udp_runs: bool,
    /// Whether the lab lists it among its NICs (when it starts, in its
    /// log).
    pub listed: bool,
    /// Whether the fabric delivers what is sent to its addresses in its
    /// VNet by looking them up among the VNet's holders.
    pub holds_addresses: bool,
    /// Whether its addresses are in its VNet: a port whose subnet is a
    /// placeholder stands in none.
    pub in_vnet: bool,
    /// Whether its namespace is named after one of the lab's own: never
    /// too long for the host, only maybe taken.
    pub netns_derived: bool,
}

/// How the daemon brings a port's namespace up on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BringUp {
    /// A VM's: its addresses with their subnet's prefix length, the
    /// subnet's gateway as default route, limited to its VM size's
    /// bandwidth, the DNS servers Azure's DHCP gives, and the lab's CA
    /// trusted (users run their clients there).
    Vm,
    /// A guest of a service vnetd adds: a VM's namespace without a VM
    /// size or DHCP's DNS servers.
    Guest,
    /// An Azure Firewall's: a forwarding guest whose kernel translates
    /// sources and destinations and hands what the application rules
    /// judge to its proxy.
    Firewall,
    /// A TUN in a namespace built apart (a site's router's).
    Tunnel,
    /// One address of the platform's alone, in no subnet, and everything
    /// out of its TUN.
    PlatformAddress,
    /// The Internet's: every address not the lab's held as its own.
    Internet,
}

/// What a port does with DNS queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsRole {
    /// It answers the queries sent to `address` as Azure DNS of `view`;
    /// `proxy` is the firewall whose DNS proxy it is.
    Answers {
        view: VnetIdx,
        address: IpAddr,
        proxy: Option<FirewallIdx>,
    },
    /// It sends, from `address`, the queries endpoint `endpoint` of
    /// `resolver` forwards.
    Sends {
        resolver: ResolverIdx,
        endpoint: usize,
        address: IpAddr,
    },
}

/// The servers a port's namespace runs, which the daemon starts there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Servers {
    None,
    /// The face of the PaaS resource behind a Private Endpoint.
    PaasFace(PrivateEndpointIdx),
    /// The Internet's: its servers, the PaaS public faces and the default
    /// answers.
    Internet,
}

/// How the refusal of a port's taken name speaks of the port: `what` it
/// is, at the file's `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameClaim {
    pub what: String,
    pub key: String,
}

impl PortKind {
    /// True for a NIC of the file.
    #[inline]
    pub fn is_vm(&self) -> bool {
        matches!(self, PortKind::Vm)
    }

    /// True for a port of a gateway (an instance's or a site's tunnel):
    /// what it sends has entered through the gateway.
    #[inline]
    pub fn enters_through_gateway(&self) -> bool {
        matches!(
            self,
            PortKind::GatewayInstance { .. } | PortKind::SiteTunnel { .. }
        )
    }

    /// True for a VNet's health prober: its packets go straight to the
    /// backend addressed, untouched by user routes.
    #[inline]
    pub fn is_prober(&self) -> bool {
        matches!(self, PortKind::Prober { .. })
    }

    /// True for a VNet's Azure DNS: its answers go straight to the asker,
    /// untouched by routes and NSGs.
    #[inline]
    pub fn is_azure_dns(&self) -> bool {
        matches!(self, PortKind::AzureDns { .. })
    }

    /// True for a port whose service answers or forwards names from the
    /// topology's zones and rulesets (Azure DNS, a resolver's endpoint, a
    /// firewall's DNS proxy): what it does may change with them.
    #[inline]
    pub fn serves_names(&self) -> bool {
        matches!(
            self,
            PortKind::AzureDns { .. }
                | PortKind::ResolverInbound { .. }
                | PortKind::ResolverOutbound { .. }
                | PortKind::Firewall { .. }
        )
    }

    /// True for an Azure Firewall: its inbound stage is the firewall's
    /// rules.
    #[inline]
    pub fn is_firewall(&self) -> bool {
        matches!(self, PortKind::Firewall { .. })
    }

    /// True for the emulated Internet: its packets are decided by the
    /// public address they are sent to.
    #[inline]
    pub fn is_internet(&self) -> bool {
        matches!(self, PortKind::Internet)
    }

    /// Gateway and instance of a gateway instance's port.
    #[inline]
    pub fn gateway_instance(&self) -> Option<(GatewayIdx, usize)> {
        match *self {
            PortKind::GatewayInstance { gateway, instance } => Some((gateway, instance)),
            _ => None,
        }
    }

    /// Site, gateway and gateway instance of a site tunnel.
    pub fn site_tunnel(&self) -> Option<(SiteIdx, GatewayIdx, usize)> {
        match *self {
            PortKind::SiteTunnel {
                site,
                gateway,
                instance,
                ..
            } => Some((site, gateway, instance)),
            _ => None,
        }
    }

    /// The gateway a site's tunnel enters the fabric at.
    #[inline]
    pub fn tunnel_gateway(&self) -> Option<GatewayIdx> {
        match *self {
            PortKind::SiteTunnel { gateway, .. } => Some(gateway),
            _ => None,
        }
    }

    /// The router a site tunnel starts at.
    pub fn tunnel_router(&self) -> Option<RouterRef> {
        match *self {
            PortKind::SiteTunnel { site, router, .. } => Some(RouterRef { site, router }),
            _ => None,
        }
    }

    /// The gateway a gateway instance or a site tunnel belongs to.
    pub fn gateway(&self) -> Option<GatewayIdx> {
        match *self {
            PortKind::GatewayInstance { gateway, .. } | PortKind::SiteTunnel { gateway, .. } => {
                Some(gateway)
            }
            _ => None,
        }
    }

    /// The firewall a firewall's port stands for.
    pub fn firewall(&self) -> Option<FirewallIdx> {
        match *self {
            PortKind::Firewall { firewall } => Some(firewall),
            _ => None,
        }
    }

    /// The Private Endpoint an endpoint's port stands for.
    pub fn private_endpoint(&self) -> Option<PrivateEndpointIdx> {
        match *self {
            PortKind::PrivateEndpoint { endpoint } => Some(endpoint),
            _ => None,
        }
    }

    /// The VNet a health prober probes in.
    pub fn prober_vnet(&self) -> Option<VnetIdx> {
        match *self {
            PortKind::Prober { vnet } => Some(vnet),
            _ => None,
        }
    }

    /// The VNet whose Azure DNS an Azure DNS port is.
    pub fn azure_dns_vnet(&self) -> Option<VnetIdx> {
        match *self {
            PortKind::AzureDns { vnet } => Some(vnet),
            _ => None,
        }
    }
}
