//! The lab plan of a topology ([`Plan`]): every port and namespace it
//! needs on the host, derived in one pure step from each kind's module of
//! [`super::ports`], and the questions asked of it (a NIC's port, a VNet's
//! prober and Azure DNS, the ports of one kind, what runs on this machine).

use super::port::{Port, PortIdx};
use crate::topology::{ByName, HostIdx, NicIdx, TiVec, Topology, VnetIdx};
use std::collections::BTreeSet;

/// Every port and namespace a topology needs on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The file's NICs first (same indices), then gateway instances, site
    /// tunnels and health probers.
    pub ports: TiVec<PortIdx, Port>,
    /// Namespace names, each once: the ports' then the sites' routers and
    /// hosts.
    pub namespaces: Vec<String>,
    /// The namespace of the lab's fabric, when its ports are offloaded
    /// (see `vnetd::host::fabric`): named after the lab's first
    /// namespace, `<first>.fabric`, behind the lab's `netns_prefix` when
    /// the first namespace (one the file names) does not start with it;
    /// `None` for a lab without ports.
    pub fabric_namespace: Option<String>,
    /// The machine this plan is realised on, in a lab spread over several
    /// (see [`crate::topology::Placement::local`]).
    pub local: Option<HostIdx>,
}

impl Plan {
    /// Derives the plan of `topology`. Pure: the same topology gives the
    /// same plan.
    pub fn derive(topology: &Topology) -> Plan {
        let mut ports = TiVec::new();
        super::ports::vm::derive(topology, &mut ports);
        super::ports::gateway_instance::derive(topology, &mut ports);
        super::ports::site_tunnel::derive(topology, &mut ports);
        super::ports::prober::derive(topology, &mut ports);
        super::ports::firewall::derive(topology, &mut ports);
        super::ports::route_server_instance::derive(topology, &mut ports);
        super::ports::azure_dns::derive(topology, &mut ports);
        super::ports::private_endpoint::derive(topology, &mut ports);
        super::ports::resolver_endpoint::derive(topology, &mut ports);
        super::ports::internet::derive(topology, &mut ports);
        let mut namespaces: Vec<String> = Vec::new();
        let mut seen = BTreeSet::new();
        // A lab spread over machines builds its own share here: the ports
        // and sites placed on this machine.
        let placement = &topology.placement;
        let local_ports = ports.iter().filter(|p: &&Port| placement.is_local(p.host));
        let sites = topology
            .sites
            .iter_enumerated()
            .filter(|(s, _)| placement.is_local(placement.site_host(*s)))
            .flat_map(|(_, s)| {
                s.routers
                    .iter()
                    .map(|r| r.netns.clone())
                    .chain(s.hosts.iter().map(|h| h.netns.clone()))
            });
        for name in local_ports.clone().map(|p| p.netns.clone()).chain(sites) {
            if seen.insert(name.clone()) {
                namespaces.push(name);
            }
        }
        let prefix = topology.netns_prefix.as_str();
        let fabric_namespace = local_ports.clone().next().map(|p: &Port| {
            let behind = if p.netns.starts_with(prefix) {
                ""
            } else {
                prefix
            };
            format!("{behind}{}.fabric", p.netns)
        });
        Plan {
            ports,
            namespaces,
            fabric_namespace,
            local: placement.local,
        }
    }

    /// True when `port` runs on this machine (every port does in a lab
    /// on one machine, and offline).
    #[inline]
    pub fn is_local(&self, port: PortIdx) -> bool {
        self.local
            .is_none_or(|local| self.ports[port].host == local)
    }

    /// The NIC of the file a port stands for; `None` for the ports vnetd
    /// adds.
    #[inline]
    pub fn nic(&self, port: PortIdx) -> Option<NicIdx> {
        self.ports
            .get(port)
            .filter(|p| p.is_vm())
            .map(|_| NicIdx::new(port.index()))
    }

    pub fn port_by_name(&self, name: &str) -> Option<PortIdx> {
        self.ports.by_name(name)
    }

    /// The health prober port of `vnet`, if it has load balancers.
    pub fn prober(&self, vnet: VnetIdx) -> Option<PortIdx> {
        self.ports.position(|p| p.kind.prober_vnet() == Some(vnet))
    }

    /// The Azure DNS port of `vnet`, if it has one.
    pub fn azure_dns(&self, vnet: VnetIdx) -> Option<PortIdx> {
        self.ports
            .position(|p| p.kind.azure_dns_vnet() == Some(vnet))
    }

    /// The port of the emulated Internet, if the lab has one.
    pub fn internet(&self) -> Option<PortIdx> {
        self.ports.position(|p| p.kind.is_internet())
    }

    /// The ports of one kind, with their indices.
    pub fn ports_of<'a>(
        &'a self,
        kind: &'static str,
    ) -> impl Iterator<Item = (PortIdx, &'a Port)> + 'a {
        self.ports
            .iter_enumerated()
            .filter(move |(_, p)| p.kind.name() == kind)
    }
}
