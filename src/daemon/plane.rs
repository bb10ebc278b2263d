//! What the workers forward with: the [`Plane`] (one compiled snapshot and,
//! for each of its NICs, the port holding the NIC's TUN queues), the
//! namespace a NIC stands for, and connection tracking keyed by port slots
//! so that flows survive an `apply` that renumbers NICs. It may use the
//! counters' port ids and the options' NIC limit (load-balancer frontends
//! own the flow-owner numbers after the NICs').

use super::stats::PortId;
use crate::dataplane::conntrack::{FlowOwners, TrackedFlows, FRONTEND_OWNERS};
use crate::host::{NamespaceSpec, TunQueue};
use crate::snapshot::Snapshot;
use crate::topology::{Nic, NicIdx, NicRole, TiVec, Topology};
use ipnet::{IpNet, Ipv4Net};
use std::sync::Arc;

/// The namespace that stands for a NIC: its addresses with the prefix
/// length of the subnet they sit in, and the subnet's gateway (x.x.x.1, and
/// the IPv6 equivalent) as default route.
///
/// A site's tunnel is a TUN of its own name in the router's namespace,
/// which the site builds (see `hybrid`), without addresses here.
///
/// A VNet's health prober owns its address (168.63.129.16) alone, as a
/// /32 that is in no subnet, and sends everything out of its TUN with no
/// gateway address: the fabric takes its probes to the backends of its
/// VNet.
pub fn namespace_spec(topology: &Topology, nic: &Nic, queues: usize) -> NamespaceSpec {
    if let NicRole::SiteTunnel { interface, .. } = &nic.role {
        let mut spec = NamespaceSpec::interface_in(nic.netns.clone(), interface.clone());
        spec.queues = queues;
        spec.nonblocking = true;
        spec.forwarding = true;
        return spec;
    }
    if let NicRole::Prober { .. } = nic.role {
        let mut spec = NamespaceSpec::new(nic.netns.clone());
        spec.addresses = nic
            .ip_configurations
            .iter()
            .map(|c| IpNet::from(c.address))
            .collect();
        spec.device_routes = vec![IpNet::V4(Ipv4Net::default())];
        spec.queues = queues;
        spec.nonblocking = true;
        return spec;
    }
    let subnet = topology.subnet(nic.subnet);
    let addresses: Vec<IpNet> = nic
        .ip_configurations
        .iter()
        .filter_map(|c| {
            let prefix = subnet
                .address_prefixes
                .iter()
                .find(|p| p.contains(&c.address))?;
            IpNet::new(c.address, prefix.prefix_len()).ok()
        })
        .collect();
    let mut spec = NamespaceSpec::new(nic.netns.clone());
    spec.addresses = addresses;
    spec.gateways = spec.first_host_gateways();
    spec.queues = queues;
    spec.nonblocking = true;
    // An NVA's guest OS must forward too; the namespace of a NIC with IP
    // forwarding stands for such a guest.
    spec.forwarding = nic.ip_forwarding;
    spec
}

/// Namespace names a topology uses: its NICs', its gateway instances',
/// and its sites' routers and hosts, each once.
pub fn namespace_names(topology: &Topology) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let sites = topology.sites.iter().flat_map(|s| {
        std::iter::once(s.router_netns.clone()).chain(s.hosts.iter().map(|h| h.netns.clone()))
    });
    for name in topology.nics.iter().map(|n| n.netns.clone()).chain(sites) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// One NIC's TUN device as the workers see it: queue `w` belongs to worker
/// `w`. `id` is the NIC's slot, which keys its counters and flows and
/// survives `apply`; `serial` is unique for the lab's life (never given to
/// another NIC) and names the NIC's MAC address.
#[derive(Debug)]
pub struct Port {
    pub id: PortId,
    pub serial: u32,
    pub spec: NamespaceSpec,
    pub queues: Vec<TunQueue>,
}

/// What the workers forward with: the compiled snapshot and, for each of
/// its NICs (same index), the port.
#[derive(Debug)]
pub struct Plane {
    pub snapshot: Arc<Snapshot>,
    pub ports: TiVec<NicIdx, Arc<Port>>,
}

impl Plane {
    #[inline]
    pub fn port_id(&self, nic: NicIdx) -> PortId {
        self.ports.get(nic).map_or(PortId::NONE, |p| p.id)
    }

    /// The NIC whose port is `port` in this plane (none once it has left).
    pub fn nic_of_port(&self, port: PortId) -> Option<NicIdx> {
        self.ports.position(|p| p.id == port)
    }
}

/// A NIC's flows belong to its port slot, so that they survive an `apply`
/// that renumbers NICs.
impl FlowOwners for &Plane {
    #[inline]
    fn owner(&self, nic: NicIdx) -> u32 {
        self.port_id(nic).get()
    }

    /// Frontends own the numbers after the NICs' ports.
    #[inline]
    fn frontend_owner(&self, stable_id: u32) -> u32 {
        super::options::MAX_NICS + stable_id % FRONTEND_OWNERS
    }
}

/// Connection tracking keyed by stable port numbers.
pub type PortConntrack<'a> = TrackedFlows<'a, &'a Plane>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{IpConfiguration, SubnetIdx, SubnetRef, VnetIdx, PROBE_SOURCE};

    #[test]
    fn a_prober_owns_its_address_alone_and_routes_everything_out_of_its_tun() {
        let prober = Nic {
            name: "probe-hub".into(),
            subnet: SubnetRef {
                vnet: VnetIdx::new(0),
                subnet: SubnetIdx::new(0),
            },
            ip_configurations: vec![IpConfiguration {
                name: "probe".into(),
                address: PROBE_SOURCE.into(),
            }],
            ip_forwarding: false,
            network_security_group: None,
            application_security_groups: Vec::new(),
            netns: "probe-hub".into(),
            role: NicRole::Prober {
                vnet: VnetIdx::new(0),
            },
            line: 0,
        };
        let spec = namespace_spec(&Topology::default(), &prober, 2);
        assert_eq!(spec.name, "probe-hub");
        assert_eq!(spec.interface, "eth0");
        assert_eq!(
            spec.addresses,
            vec!["168.63.129.16/32".parse::<IpNet>().unwrap()]
        );
        assert!(spec.gateways.is_empty());
        assert_eq!(
            spec.device_routes,
            vec!["0.0.0.0/0".parse::<IpNet>().unwrap()]
        );
        assert_eq!((spec.queues, spec.nonblocking), (2, true));
        assert!(!spec.forwarding);
    }
}
