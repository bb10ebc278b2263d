//! Which DNS servers a NIC asks, as Azure's DHCP gives them ("Name
//! resolution for resources in Azure virtual networks"): the NIC's own
//! `dns_servers`, else its VNet's, else Azure DNS at 168.63.129.16; and the
//! search domain under which a VM's short name is found.

use crate::topology::{NicIdx, Topology, AZURE_DNS};
use std::net::IpAddr;

/// The suffix Azure DNS answers VM names under. Azure gives each VNet a
/// suffix of its own (`<id>.<x>.internal.cloudapp.net`); vnetd uses the
/// common part, the same in every VNet, which only answers inside the
/// asker's VNet all the same.
pub const INTERNAL_SUFFIX: &str = "internal.cloudapp.net";

/// Where a NIC's DNS queries go: its own servers, its VNet's, or Azure DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsServers {
    /// Azure DNS (168.63.129.16) of the NIC's VNet.
    Azure,
    /// The NIC's own `dns_servers`.
    Nic(Vec<IpAddr>),
    /// Its VNet's `dns_servers`.
    Vnet(Vec<IpAddr>),
}

impl DnsServers {
    /// The servers' addresses, in order.
    pub fn addresses(&self) -> Vec<IpAddr> {
        match self {
            DnsServers::Azure => vec![IpAddr::V4(AZURE_DNS)],
            DnsServers::Nic(a) | DnsServers::Vnet(a) => a.clone(),
        }
    }
}

/// The DNS servers of `nic`, and whose setting they are.
pub fn dns_servers_of(topology: &Topology, nic: NicIdx) -> DnsServers {
    let n = &topology.nics[nic];
    if !n.dns_servers.is_empty() {
        return DnsServers::Nic(n.dns_servers.clone());
    }
    let vnet = &topology.vnets[n.subnet.vnet];
    if !vnet.dns_servers.is_empty() {
        return DnsServers::Vnet(vnet.dns_servers.clone());
    }
    DnsServers::Azure
}

/// The addresses `nic` sends its queries to.
pub fn dns_servers(topology: &Topology, nic: NicIdx) -> Vec<IpAddr> {
    dns_servers_of(topology, nic).addresses()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::parse_str;

    const FILE: &str = "
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    dns_servers: [10.0.1.4, 10.0.1.5]
    subnets: [{name: a, address_prefixes: [10.0.1.0/24]}]
  - name: spoke
    address_space: [10.1.0.0/16]
    subnets: [{name: a, address_prefixes: [10.1.1.0/24]}]
network_interfaces:
  - {name: forwarder, subnet: hub/a, private_ip_address: 10.0.1.4, dns_servers: [168.63.129.16]}
  - {name: app, subnet: hub/a, private_ip_address: 10.0.1.10}
  - {name: spoke1, subnet: spoke/a, private_ip_address: 10.1.1.4}
";

    #[test]
    fn a_nic_asks_its_own_servers_then_its_vnets_then_azure_dns() {
        let topology = parse_str("names.yaml", FILE).expect("parses").topology;
        let of = |name: &str| dns_servers_of(&topology, topology.nic_by_name(name).unwrap());
        assert_eq!(
            of("forwarder"),
            DnsServers::Nic(vec!["168.63.129.16".parse().unwrap()])
        );
        assert_eq!(
            of("app"),
            DnsServers::Vnet(vec![
                "10.0.1.4".parse().unwrap(),
                "10.0.1.5".parse().unwrap()
            ])
        );
        assert_eq!(of("spoke1"), DnsServers::Azure);
        assert_eq!(of("spoke1").addresses(), vec![IpAddr::V4(AZURE_DNS)]);
    }
}
