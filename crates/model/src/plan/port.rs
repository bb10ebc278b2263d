//! One port of the lab plan ([`Port`]) and its index ([`PortIdx`]): what
//! every kind's module of [`super::ports`] derives, apart from the plan
//! that gathers them so that the kinds' modules do not use the plan.

use super::ports::PortKind;
use crate::topology::{
    named, AsgIdx, HostIdx, IpConfiguration, NicIdx, NsgIdx, SubnetRef, Topology,
};
use std::net::IpAddr;

crate::topology::model::index_type!(
    /// Index of a port in [`Plan::ports`](super::Plan::ports). The file's NICs come first, so
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
