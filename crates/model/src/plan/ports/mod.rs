//! The kinds of port, one module each: what identifies a port of the kind,
//! how it and its namespace and interface are named, in which order the
//! kind's ports are derived from the topology, and what sets the kind
//! apart from the others ([`Traits`]: how it is brought up on the host,
//! whether the kernel's fast path carries its flows, whether the lab lists
//! it, ...). The plan lists the kinds in this order: VM NICs, gateway
//! instances, site tunnels, health probers, firewalls, Route Server
//! instances, Azure DNS, Private Endpoints, DNS Private Resolver endpoints,
//! the Internet.
//!
//! The rest of vnetd asks a port's [`PortKind`] (its bring-up, its DNS
//! role, the servers it runs, the resource it is reported against, ...)
//! rather than naming kinds: this module answers from the kind's own.

pub mod azure_dns;
pub mod firewall;
pub mod gateway_instance;
pub mod internet;
pub mod private_endpoint;
pub mod prober;
pub mod resolver_endpoint;
pub mod route_server_instance;
pub mod site_tunnel;
pub mod vm;

mod instances;
pub mod kind;
mod one_address;

pub use kind::{BringUp, DnsRole, NameClaim, PortKind, Servers, Traits};

use super::Port;
use crate::topology::Topology;
use std::net::IpAddr;

impl PortKind {
    /// What the kind's module declares of every port of the kind.
    #[inline]
    pub fn traits(&self) -> &'static Traits {
        match self {
            PortKind::Vm => &vm::TRAITS,
            PortKind::GatewayInstance { .. } => &gateway_instance::TRAITS,
            PortKind::SiteTunnel { .. } => &site_tunnel::TRAITS,
            PortKind::Prober { .. } => &prober::TRAITS,
            PortKind::Firewall { .. } => &firewall::TRAITS,
            PortKind::RouteServerInstance { .. } => &route_server_instance::TRAITS,
            PortKind::AzureDns { .. } => &azure_dns::TRAITS,
            PortKind::PrivateEndpoint { .. } => &private_endpoint::TRAITS,
            PortKind::ResolverInbound { .. } => &resolver_endpoint::INBOUND_TRAITS,
            PortKind::ResolverOutbound { .. } => &resolver_endpoint::OUTBOUND_TRAITS,
            PortKind::Internet => &internet::TRAITS,
        }
    }

    /// The kind's name, as the plan lists it.
    pub fn name(&self) -> &'static str {
        self.traits().name
    }

    /// How the port's namespace is brought up on the host.
    pub fn bring_up(&self) -> BringUp {
        self.traits().bring_up
    }

    /// Whether the port's flows may leave userspace for the kernel's fast
    /// path.
    pub fn fast_path(&self) -> bool {
        self.traits().fast_path
    }

    /// Whether the workers may hand the port UDP datagrams joined into one
    /// super-packet.
    #[inline]
    pub fn takes_udp_runs(&self) -> bool {
        self.traits().takes_udp_runs
    }

    /// Whether the lab lists the port among its NICs.
    pub fn listed(&self) -> bool {
        self.traits().listed
    }

    /// Whether the fabric finds the port among its VNet's holders of
    /// addresses.
    pub fn holds_addresses(&self) -> bool {
        self.traits().holds_addresses
    }

    /// Whether the port's addresses are in its VNet.
    pub fn in_vnet(&self) -> bool {
        self.traits().in_vnet
    }

    /// What the port does with DNS queries, `address` being its first:
    /// Azure DNS and a resolver's inbound endpoint answer as Azure DNS of
    /// their VNet, a firewall whose DNS proxy asks Azure DNS relays its
    /// answers, a resolver's outbound endpoint sends what its rulesets
    /// forward; the others take no part.
    pub fn dns_role(&self, topology: &Topology, address: IpAddr) -> Option<DnsRole> {
        match *self {
            PortKind::AzureDns { vnet } => Some(azure_dns::dns_role(vnet)),
            PortKind::ResolverInbound { resolver, .. } => Some(
                resolver_endpoint::inbound_dns_role(topology, resolver, address),
            ),
            PortKind::ResolverOutbound { resolver, endpoint } => Some(
                resolver_endpoint::outbound_dns_role(resolver, endpoint, address),
            ),
            PortKind::Firewall { firewall } => firewall::dns_role(topology, firewall),
            _ => None,
        }
    }

    /// The servers the port's namespace runs.
    pub fn servers(&self) -> Servers {
        match *self {
            PortKind::PrivateEndpoint { endpoint } => Servers::PaasFace(endpoint),
            PortKind::Internet => Servers::Internet,
            _ => Servers::None,
        }
    }

    /// How the refusal of the port's taken name or namespace speaks of it,
    /// for the ports named after the file's resources once the plan is
    /// derived (Azure DNS, Private Endpoints, resolvers' endpoints, the
    /// Internet); none for the others, which the file's resources are
    /// checked for as they are (see [`super::names`]).
    pub fn name_claim(&self, topology: &Topology) -> Option<NameClaim> {
        match *self {
            PortKind::AzureDns { vnet } => Some(azure_dns::name_claim(topology, vnet)),
            PortKind::PrivateEndpoint { endpoint } => {
                Some(private_endpoint::name_claim(topology, endpoint))
            }
            PortKind::ResolverInbound { resolver, .. }
            | PortKind::ResolverOutbound { resolver, .. } => {
                Some(resolver_endpoint::name_claim(topology, resolver))
            }
            PortKind::Internet => Some(internet::name_claim()),
            _ => None,
        }
    }
}

impl Port {
    /// The name of the file's resource a packet at this port is reported
    /// against: the NIC itself, or the resource a port vnetd adds stands
    /// for (a gateway for its instances and tunnels). The platform's ports
    /// (probers, Azure DNS, the Internet) stand for nothing of the file.
    pub fn resource_name(&self, topology: &Topology) -> Option<String> {
        let name = match self.kind {
            PortKind::Vm => return Some(self.name.clone()),
            PortKind::GatewayInstance { gateway, .. } | PortKind::SiteTunnel { gateway, .. } => {
                &topology.gateways[gateway].name
            }
            PortKind::Prober { .. } | PortKind::AzureDns { .. } | PortKind::Internet => {
                return None
            }
            PortKind::PrivateEndpoint { endpoint } => &topology.private_endpoints[endpoint].name,
            PortKind::ResolverInbound { resolver, .. }
            | PortKind::ResolverOutbound { resolver, .. } => &topology.dns_resolvers[resolver].name,
            PortKind::Firewall { firewall } => &topology.firewalls[firewall].name,
            PortKind::RouteServerInstance { route_server, .. } => {
                &topology.route_servers[route_server].name
            }
        };
        Some(name.clone())
    }

    /// The name the port's counters are shown under: the resource it is
    /// reported against, or the Internet port's own (`internet`, a name
    /// no NIC may take).
    pub fn shown_as(&self, topology: &Topology) -> Option<String> {
        match self.kind {
            PortKind::Internet => Some(self.name.clone()),
            _ => self.resource_name(topology),
        }
    }
}
