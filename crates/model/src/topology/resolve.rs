//! From raw records to the resolved [`Topology`]: names become indices and
//! Azure's own refusals are applied, each reported with its line:
//!
//! - resource names: Azure's character rules, unique per kind (subnets per
//!   VNet, routes per table, rules per NSG);
//! - VNets: ranges that overlap each other or Azure's unusable ranges
//!   (224.0.0.0/4, 255.255.255.255/32, 127.0.0.0/8, 169.254.0.0/16,
//!   168.63.129.16/32); IPv6 only beside IPv4 (Azure has no IPv6-only VNet);
//! - subnets: inside their VNet, not overlapping each other, IPv4 /29 or
//!   larger, IPv6 exactly /64;
//! - peerings: both VNets exist and differ, one link per direction, address
//!   spaces that overlap, gateway transit settings; a one-sided peering is
//!   valid (state Initiated) and gets a warning;
//! - NICs: the subnet exists, each address inside it and not one of its
//!   reserved addresses (IPv4: network, .1, .2, .3, broadcast; IPv6: the
//!   first four), unique within the VNet; dynamic addresses are allocated
//!   from the first free one, as Azure does; namespace names unique;
//!   application security groups of one VNet only;
//! - route tables: at most 400 routes, unique prefixes, a VirtualAppliance
//!   address of the prefix's family;
//! - NSGs: at most 1000 rules, priorities unique per direction;
//! - NICs and their addresses: see `resolve/nics.rs`;
//! - gateways, local network gateways, connections and on-premises sites:
//!   see `resolve/hybrid.rs` and `resolve/express_route.rs`;
//! - internal load balancers: see `resolve/load_balancers.rs`;
//! - Azure Firewalls and their policies: see `resolve/firewalls.rs`;
//! - Azure Route Servers and the BGP speakers of the appliances peering
//!   with them: see `resolve/route_servers.rs`;
//! - the names of the ports vnetd adds to the fabric: see
//!   `resolve/fabric_names.rs`.
//!
//! The VNets, subnets, peerings, route tables and NSGs are resolved in
//! `resolve/networks.rs`; the resolver's state and the checks every step
//! shares are in `resolve/resolver.rs`.

use super::decode::RawTopology;
use super::diagnostic::Diagnostics;
use super::model::Topology;
use resolver::Resolver;

mod application_rules;
mod dns;
mod edge;
mod expectations;
mod express_route;
mod fabric_names;
mod firewalls;
mod flow_logs;
mod hub_bgp;
mod hub_express_route;
mod hub_vpn;
mod hybrid;
mod load_balancers;
mod network_managers;
mod networks;
mod nics;
mod placement;
mod private_cloud;
mod realism;
mod resolver;
mod resolvers;
mod route_servers;
mod services;
mod sites;
mod speakers;
mod virtual_wan;
pub use fabric_names::{valid_netns, MAX_NETNS_LEN};
pub use hybrid::{instance_addresses, reserved_asn};
pub use networks::{
    ASG_NAME, NSG_NAME, PEERING_NAME, ROUTE_NAME, ROUTE_TABLE_NAME, SECURITY_RULE_NAME,
    SUBNET_NAME, VNET_NAME,
};
pub use nics::NIC_NAME;
pub use realism::VM_NAME;
pub use resolver::{is_reserved, NameRule};
pub use sites::host_link_prefix_len;
pub use virtual_wan::is_rfc1918;

pub fn resolve(mut raw: RawTopology, diags: &mut Diagnostics) -> Topology {
    let mut r = Resolver::new(diags);
    let placed = placement::PlacementRefs::of(&raw);
    let edge_refs = edge::EdgeRefs::take(&mut raw);
    let policy_refs = services::SubnetPolicyRefs::take(&mut raw);
    r.netns_prefix(raw.netns_prefix);
    r.route_tables(raw.route_tables);
    r.asgs(raw.asgs);
    r.nsgs(raw.nsgs);
    r.vnets(raw.vnets);
    r.peerings(raw.peerings);
    r.network_managers(raw.network_managers);
    let mut nics = raw.nics;
    let nic_bgp = speakers::NicBgp::take(&mut nics);
    r.nics(nics);
    r.virtual_machines(raw.virtual_machines);
    r.check_gateway_subnets();
    let (mut sites, mut circuits) = (raw.sites, raw.circuits);
    let clouds = r.private_clouds(raw.private_clouds, &mut sites, &mut circuits);
    r.sites(sites);
    r.gateways(raw.gateways);
    r.local_gateways(raw.local_gateways);
    r.circuits(circuits);
    r.record_private_clouds(clouds);
    r.connections(raw.connections);
    r.global_reach(raw.global_reach);
    r.check_region_pairs();
    r.route_servers(raw.route_servers, nic_bgp);
    r.check_remote_gateways();
    r.check_site_ranges();
    r.check_held_peer_addresses();
    r.public_addresses(raw.internet, raw.public_ip_prefixes, raw.public_ips);
    r.load_balancers(raw.load_balancers);
    r.ip_groups(raw.ip_groups);
    r.fqdn_sets(raw.fqdn_tags, raw.web_categories);
    r.firewall_policies(raw.firewall_policies);
    let hub_firewalls = r.firewalls(raw.firewalls);
    r.virtual_wans(
        raw.virtual_wans,
        raw.virtual_hubs,
        (hub_firewalls, raw.vpn_sites),
    );
    r.finish_appliance_speakers();
    r.private_dns_zones(raw.private_dns_zones);
    r.services(
        raw.paas_resources,
        raw.service_endpoint_policies,
        policy_refs,
    );
    r.private_endpoints(raw.private_endpoints);
    r.dns_resolvers(raw.dns_resolvers);
    r.forwarding_rulesets(raw.forwarding_rulesets);
    r.edge(
        edge::RawEdge {
            nat_gateways: raw.nat_gateways,
        },
        edge_refs,
    );
    r.flow_logs(raw.flow_logs);
    r.expectations(raw.expectations);
    r.placement(raw.hosts, placed);
    r.topo
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipnet::IpNet;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn azure_name_rules() {
        let ok = |rule: NameRule, name: &str| rule.refusal(name).is_none();
        assert!(ok(ROUTE_TABLE_NAME, "hub-rt"));
        assert!(ok(ROUTE_TABLE_NAME, "a_"));
        assert!(ok(ROUTE_TABLE_NAME, "a"));
        assert!(!ok(ROUTE_TABLE_NAME, "-a"));
        assert!(!ok(ROUTE_TABLE_NAME, "a-"));
        assert!(!ok(ROUTE_TABLE_NAME, ""));
        assert!(!ok(ROUTE_TABLE_NAME, &"a".repeat(81)));
        assert!(!ok(ROUTE_TABLE_NAME, "a b"));
        assert!(!ok(VNET_NAME, "a"));
        assert!(ok(VNET_NAME, &"a".repeat(64)));
        assert!(!ok(VNET_NAME, &"a".repeat(65)));
        assert!(!ok(NIC_NAME, "vm\u{e9}"));
    }

    #[test]
    fn reserved_addresses() {
        let p: IpNet = "10.0.1.0/24".parse().unwrap();
        for last in [0u8, 1, 2, 3, 255] {
            assert!(is_reserved(&p, IpAddr::V4(Ipv4Addr::new(10, 0, 1, last))));
        }
        assert!(!is_reserved(&p, IpAddr::V4(Ipv4Addr::new(10, 0, 1, 4))));
        assert!(!is_reserved(&p, IpAddr::V4(Ipv4Addr::new(10, 0, 1, 254))));
        let p6: IpNet = "fd00:1::/64".parse().unwrap();
        assert!(is_reserved(&p6, "fd00:1::3".parse().unwrap()));
        assert!(!is_reserved(&p6, "fd00:1::4".parse().unwrap()));
    }
}
