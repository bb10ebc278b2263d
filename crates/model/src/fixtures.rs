//! Small topologies built in code for the tests: a VNet with one subnet,
//! a peering link, a route, a route table, an NSG rule and a one-subnet topology with
//! three NICs, a Private Endpoint, shared by this crate's tests and (with the `fixtures`
//! feature, as a dev-dependency) by the snapshot's.

use crate::topology::model::{Route, RouteTable};
use crate::topology::{
    Access, AddressSpec, Asg, AsgIdx, Direction, IpConfiguration, NextHopType, Nic, Nsg, NsgIdx,
    Peering, PeeringFlags, PortRange, PortSpec, PrivateEndpoint, PrivateLinkTarget, Protocol,
    RouteTableIdx, SecurityRule, SecurityRuleSettings, Subnet, SubnetIdx, SubnetRef, Topology,
    Vnet, VnetIdx, SUB_RESOURCES,
};
use ipnet::IpNet;
use std::net::IpAddr;

pub fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn nic(name: &str, addr: &str, asgs: Vec<usize>, nsg: Option<usize>) -> Nic {
    Nic {
        dns_servers: Vec::new(),
        dns_server: None,
        name: name.into(),
        subnet: SubnetRef {
            vnet: VnetIdx::new(0),
            subnet: SubnetIdx::new(0),
        },
        ip_configurations: vec![IpConfiguration {
            name: "ipconfig1".into(),
            address: ip(addr),
        }],
        ip_forwarding: false,
        network_security_group: nsg.map(NsgIdx::new),
        application_security_groups: asgs.into_iter().map(AsgIdx::new).collect(),
        netns: name.into(),
        mtu: 1500,
        line: 0,
    }
}

pub fn sec_rule(
    name: &str,
    priority: u16,
    direction: Direction,
    source: AddressSpec,
    destination: AddressSpec,
) -> SecurityRule {
    SecurityRule {
        name: name.into(),
        settings: SecurityRuleSettings {
            priority,
            direction,
            access: Access::Allow,
            protocol: Protocol::Tcp,
            source_ports: PortSpec::Any,
            destination_ports: PortSpec::Ranges(vec![PortRange { lo: 80, hi: 80 }]),
        },
        source,
        destination,
        line: 0,
    }
}

/// One VNet 10.0.0.0/16, subnet 10.0.1.0/24 with NSG 0; NICs web1
/// (ASG web, NIC NSG 1), web2 (ASG web), db1 (ASG db).
pub fn topo(rules: Vec<SecurityRule>) -> Topology {
    Topology {
        vnets: vec![Vnet {
            dns_servers: Vec::new(),
            tags: Default::default(),
            name: "vnet".into(),
            address_space: vec![net("10.0.0.0/16")],
            location: "westus".into(),
            flow_timeout_minutes: 4,
            subnets: vec![Subnet {
                endpoint_policies: Default::default(),
                delegation: None,
                services: Default::default(),
                name: "app".into(),
                address_prefixes: vec![net("10.0.1.0/24")],
                network_security_group: Some(NsgIdx::new(0)),
                route_table: None,
                line: 0,
            }]
            .into(),
            line: 0,
        }]
        .into(),
        nics: vec![
            nic("web1", "10.0.1.4", vec![0], Some(1)),
            nic("web2", "10.0.1.5", vec![0], None),
            nic("db1", "10.0.1.6", vec![1], None),
        ]
        .into(),
        nsgs: vec![
            Nsg {
                name: "subnet-nsg".into(),
                flush_connection: false,
                security_rules: rules,
                line: 0,
            },
            Nsg {
                name: "nic-nsg".into(),
                flush_connection: false,
                security_rules: vec![],
                line: 0,
            },
        ]
        .into(),
        asgs: vec![
            Asg {
                name: "web".into(),
                line: 0,
            },
            Asg {
                name: "db".into(),
                line: 0,
            },
        ]
        .into(),
        ..Topology::default()
    }
}

pub fn vnet(name: &str, location: &str, ranges: &[&str], route_table: Option<usize>) -> Vnet {
    Vnet {
        dns_servers: Vec::new(),
        tags: Default::default(),
        name: name.into(),
        address_space: ranges.iter().map(|r| net(r)).collect(),
        location: location.into(),
        flow_timeout_minutes: 4,
        subnets: vec![Subnet {
            endpoint_policies: Default::default(),
            delegation: None,
            services: Default::default(),
            name: "default".into(),
            address_prefixes: vec![net(ranges[0])],
            network_security_group: None,
            route_table: route_table.map(RouteTableIdx::new),
            line: 0,
        }]
        .into(),
        line: 0,
    }
}

/// The peering link `from`-to-`to` between VNets of those indices, with
/// VNet access allowed and nothing else.
pub fn peering(from: usize, to: usize) -> Peering {
    Peering {
        name: format!("{from}-to-{to}"),
        vnet: VnetIdx::new(from),
        remote: VnetIdx::new(to),
        flags: PeeringFlags::default(),
        impairments: None,
        line: 0,
    }
}

pub fn route(name: &str, prefix: &str, hop: NextHopType, ip: Option<&str>) -> Route {
    Route {
        name: name.into(),
        address_prefix: net(prefix),
        next_hop_type: hop,
        next_hop_ip: ip.map(|i| i.parse().unwrap()),
        line: 0,
    }
}

pub fn table(routes: Vec<Route>) -> RouteTable {
    RouteTable {
        name: "rt".into(),
        bgp_route_propagation_enabled: true,
        routes,
        line: 0,
    }
}

/// Subnet 0 of VNet `vnet`.
pub const fn first_subnet(vnet: usize) -> SubnetRef {
    SubnetRef {
        vnet: VnetIdx::new(vnet),
        subnet: SubnetIdx::new(0),
    }
}

/// A Private Endpoint `pe` at `address` in `subnet`, reaching the blob
/// service of the storage account `st` (public address 198.18.0.1), in no
/// DNS zone.
pub fn private_endpoint(subnet: SubnetRef, address: IpAddr) -> PrivateEndpoint {
    PrivateEndpoint {
        name: "pe".into(),
        subnet,
        address,
        target: PrivateLinkTarget {
            resource: "st".into(),
            sub_resource: &SUB_RESOURCES[0],
            public_address: "198.18.0.1".parse().unwrap(),
        },
        zones: Vec::new(),
        line: 0,
    }
}
