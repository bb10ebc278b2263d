//! The whole file as raw records ([`RawTopology`]): every kind's records,
//! as the decoders of each kind give them.

use super::*;

/// Every resource of the file as written, by kind, in the file's order.
#[derive(Debug, Default)]
pub struct RawTopology {
    /// `netns_prefix`, with its line.
    pub netns_prefix: Option<(String, usize)>,
    pub vnets: Vec<RawVnet>,
    pub peerings: Vec<RawPeering>,
    pub nics: Vec<RawNic>,
    pub route_tables: Vec<RouteTable>,
    pub nsgs: Vec<RawNsg>,
    pub asgs: Vec<(String, usize)>,
    pub sites: Vec<RawSite>,
    pub gateways: Vec<RawGateway>,
    pub local_gateways: Vec<RawLocalGateway>,
    pub connections: Vec<RawConnection>,
    pub circuits: Vec<RawCircuit>,
    pub global_reach: Vec<RawGlobalReach>,
    pub private_clouds: Vec<RawPrivateCloud>,
    pub load_balancers: Vec<RawLoadBalancer>,
    pub expectations: Vec<RawExpectation>,
    pub virtual_machines: Vec<RawVirtualMachine>,
    pub hosts: Vec<RawHost>,
    pub firewalls: Vec<RawFirewall>,
    pub firewall_policies: Vec<RawFirewallPolicy>,
    pub ip_groups: Vec<RawIpGroup>,
    pub fqdn_tags: Vec<RawFqdnSet>,
    pub web_categories: Vec<RawFqdnSet>,
    pub route_servers: Vec<RawRouteServer>,
    pub private_dns_zones: Vec<RawZone>,
    pub private_endpoints: Vec<RawPrivateEndpoint>,
    pub paas_resources: Vec<RawPaasResource>,
    pub service_endpoint_policies: Vec<RawServiceEndpointPolicy>,
    pub dns_resolvers: Vec<RawResolver>,
    pub forwarding_rulesets: Vec<RawRuleset>,
    pub internet: Option<RawInternet>,
    pub public_ip_prefixes: Vec<RawPublicIpPrefix>,
    pub public_ips: Vec<RawPublicIp>,
    pub nat_gateways: Vec<RawNatGateway>,
    pub network_managers: Vec<RawNetworkManager>,
    pub virtual_wans: Vec<RawVirtualWan>,
    pub virtual_hubs: Vec<RawVirtualHub>,
    pub vpn_sites: Vec<RawVpnSite>,
    pub flow_logs: Vec<RawFlowLog>,
}

impl RawTopology {
    /// True when the file declared no resource at all.
    pub fn is_empty(&self) -> bool {
        self.vnets.is_empty()
            && self.peerings.is_empty()
            && self.nics.is_empty()
            && self.route_tables.is_empty()
            && self.nsgs.is_empty()
            && self.asgs.is_empty()
            && self.sites.is_empty()
            && self.gateways.is_empty()
            && self.local_gateways.is_empty()
            && self.connections.is_empty()
            && self.circuits.is_empty()
            && self.global_reach.is_empty()
            && self.private_clouds.is_empty()
            && self.load_balancers.is_empty()
            && self.expectations.is_empty()
            && self.virtual_machines.is_empty()
            && self.firewalls.is_empty()
            && self.firewall_policies.is_empty()
            && self.ip_groups.is_empty()
            && self.route_servers.is_empty()
            && self.private_dns_zones.is_empty()
            && self.private_endpoints.is_empty()
            && self.paas_resources.is_empty()
            && self.service_endpoint_policies.is_empty()
            && self.dns_resolvers.is_empty()
            && self.forwarding_rulesets.is_empty()
            && self.internet.is_none()
            && self.public_ip_prefixes.is_empty()
            && self.public_ips.is_empty()
            && self.nat_gateways.is_empty()
            && self.virtual_wans.is_empty()
            && self.virtual_hubs.is_empty()
            && self.vpn_sites.is_empty()
            && self.flow_logs.is_empty()
    }
}
