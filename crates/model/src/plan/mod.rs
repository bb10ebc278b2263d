//! The lab plan: what vnetd realises for a resolved topology. The topology
//! holds what the file says; the plan derives from it, in one pure step,
//! every port of the fabric (the file's VM NICs, and the ports vnetd adds:
//! gateway instances, site tunnels, health probers), the namespace and
//! interface each port lives in, and every namespace of the lab.
//!
//! The snapshot compiles from the plan's ports and the daemon realises the
//! plan (one namespace or TUN per port); `apply` compares two plans to know
//! which ports come, go or stay. Each kind of port is one module of
//! [`ports`]: its identity, its names, the order it takes and what sets it
//! apart from the other kinds.

use crate::topology::{
    named, AsgIdx, ByName, Diagnostic, HostIdx, IpConfiguration, Loaded, NicIdx, NsgIdx,
    ParseOptions, SubnetRef, TiVec, Topology, VnetIdx,
};
use std::collections::BTreeSet;
use std::net::IpAddr;

pub mod diff;
pub mod names;
pub mod ports;
pub mod wire;

pub use diff::PlanDiff;
pub use ports::PortKind;

crate::topology::model::index_type!(
    /// Index of a port in [`Plan::ports`]. The file's NICs come first, so
    /// a file NIC's port sits at the NIC's position ([`PortIdx::of_nic`]);
    /// the ports vnetd adds (gateway instances, site tunnels, health
    /// probers) come after and stand for no NIC of the file.
    PortIdx
);

impl PortIdx {
    /// The port of a NIC of the file.
    #[inline]
    pub const fn of_nic(nic: NicIdx) -> PortIdx {
        PortIdx::new(nic.index())
    }
}

/// Loads a lab file: the file's own checks ([`crate::topology::parse_str`])
/// and the plan's (every name vnetd gives is free, see [`names`]).
pub fn parse_str(source: &str, text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    parse_str_with(source, text, ParseOptions::default())
}

/// [`parse_str`] with options.
pub fn parse_str_with(
    source: &str,
    text: &str,
    options: ParseOptions,
) -> Result<Loaded, Vec<Diagnostic>> {
    crate::topology::parse_str_checked(source, text, options, names::refusals)
}

/// Reads and loads a lab file, as [`parse_str`] does.
pub fn load_file(path: &std::path::Path) -> Result<Loaded, Vec<Diagnostic>> {
    load_file_with(path, ParseOptions::default())
}

/// [`load_file`] with options.
pub fn load_file_with(
    path: &std::path::Path,
    options: ParseOptions,
) -> Result<Loaded, Vec<Diagnostic>> {
    crate::topology::load_file_checked(path, options, names::refusals)
}

/// The interface a port's TUN has inside a namespace of its own.
pub const PORT_INTERFACE: &str = "eth0";

/// One port of the fabric: a TUN device whose packets the fabric decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub kind: PortKind,
    /// Unique among ports: it names the port's counters and flows.
    pub name: String,
    pub subnet: SubnetRef,
    /// The first configuration is the primary one.
    pub ip_configurations: Vec<IpConfiguration>,
    /// Azure's `enableIPForwarding`; false means the source/destination check.
    pub ip_forwarding: bool,
    pub network_security_group: Option<NsgIdx>,
    pub application_security_groups: Vec<AsgIdx>,
    /// The network namespace the port's TUN is in.
    pub netns: String,
    /// The TUN's name inside `netns`.
    pub interface: String,
    /// The line of the file the port comes from.
    pub line: usize,
    /// The machine the port runs on (the first, for a lab on one).
    pub host: HostIdx,
}

named!(Port);

impl Port {
    /// True for a NIC of the topology file.
    pub fn is_vm(&self) -> bool {
        self.kind.is_vm()
    }

    /// True when `ip` is one of this port's own addresses.
    pub fn owns(&self, ip: IpAddr) -> bool {
        self.ip_configurations.iter().any(|c| c.address == ip)
    }

    /// What a capture of this port's device says it is (pcapng's interface
    /// description, shown by Wireshark): the port, its subnet, its
    /// addresses and its namespace.
    pub fn capture_description(&self, topology: &Topology) -> String {
        let addresses: Vec<String> = self
            .ip_configurations
            .iter()
            .map(|c| c.address.to_string())
            .collect();
        format!(
            "vnetd port {} ({}, {}) in namespace {}",
            self.name,
            topology.subnet_path(self.subnet),
            addresses.join(" "),
            self.netns
        )
    }
}

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
        ports::vm::derive(topology, &mut ports);
        ports::gateway_instance::derive(topology, &mut ports);
        ports::site_tunnel::derive(topology, &mut ports);
        ports::prober::derive(topology, &mut ports);
        ports::firewall::derive(topology, &mut ports);
        ports::route_server_instance::derive(topology, &mut ports);
        ports::azure_dns::derive(topology, &mut ports);
        ports::private_endpoint::derive(topology, &mut ports);
        ports::resolver_endpoint::derive(topology, &mut ports);
        ports::internet::derive(topology, &mut ports);
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
