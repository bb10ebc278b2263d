//! From a line-marked YAML tree to raw records ([`RawTopology`]): keys
//! checked against the contract (unknown keys are refused, since a typo must
//! not silently change the network), scalars typed, CIDRs and addresses
//! parsed, enum values matched case-insensitively as Azure does. References
//! between resources stay names here; [`super::resolve`] turns them into
//! indices and applies Azure's own refusals.
//!
//! Decoding never stops at the first problem: every error of the file is
//! collected, and a broken item is skipped so the rest can still be checked.
//!
//! Each resource kind is declared once, with `record!`: its keys in contract
//! order, the field each one fills and the decoder that reads it (the
//! decoders live in `values`, the records they fill in `raw`, the whole
//! file's in `raw_topology`; the decoder itself and what every record's
//! decoding shares in `reader`). Adding a kind is declaring its record,
//! plus a decoder if one of its keys holds a new kind of value. Keys naming one of a model enum's variants are read
//! through the enum's derived `FromStr` (case-insensitive) and its
//! `VariantNames`, so the accepted names and the list a refusal gives are
//! the enum's own.
//!
//! It owns the step from YAML tree to raw records and the file's contract:
//! which keys each place allows, which are required, their defaults and
//! types. It may use [`super::model`], [`super::yaml`],
//! [`super::diagnostic`], [`super::regions`] and [`crate::net`]; nothing
//! from policy, engine, dataplane or daemon.

use super::model::{
    BgpSpeaker, EndpointNetworkPolicies, FirewallSku, GatewayType, LbRuleSettings,
    LoadDistribution, PeeringFlags, Probe, Protocol, Route, RouteTable, SecurityRuleSettings,
    VpnType,
};
use super::yaml::{Node, Value};

mod application_rules;
mod firewalls;
mod hybrid;
mod load_balancers;
mod raw;
mod raw_topology;
mod reader;
mod realism;
mod route_servers;
mod values;

pub use raw::*;
pub use raw_topology::RawTopology;
pub(in crate::topology) use reader::closest;
pub use reader::{Decoder, NameRef};
use reader::{Fields, Head, Record};

#[macro_use]
mod record;

mod dns;
mod edge;
mod expectations;
mod flow_logs;
mod hub_express_route;
mod hub_routing;
mod hub_vpn;
mod network_managers;
mod services;
mod virtual_wan;
pub use dns::{
    dns_name, record_data, RawDnsServer, RawForwardingRule, RawLocalZone, RawPrivateEndpoint,
    RawRecordSet, RawResolver, RawResolverEndpoint, RawRuleset, RawVnetLink, RawZone,
};
pub use edge::{
    RawInternet, RawInternetName, RawInternetServer, RawNatGateway, RawNatRule,
    RawNatRuleCollection, RawPublicIp, RawPublicIpPrefix,
};
pub use expectations::{RawExpectation, RawReach, RawTest};
pub use flow_logs::RawFlowLog;
pub use hub_express_route::*;
pub use hub_routing::RawPropagation;
pub use hub_vpn::*;
pub use network_managers::*;
pub use services::*;
pub use virtual_wan::*;

const TOP_KEYS: &[&str] = &[
    "netns_prefix",
    "vnets",
    "peerings",
    "network_interfaces",
    "route_tables",
    "network_security_groups",
    "application_security_groups",
    "on_premises_sites",
    "virtual_network_gateways",
    "local_network_gateways",
    "virtual_network_gateway_connections",
    "express_route_circuits",
    "express_route_circuit_connections",
    "vmware_private_clouds",
    "load_balancers",
    "expectations",
    "virtual_machines",
    "hosts",
    "azure_firewalls",
    "firewall_policies",
    "ip_groups",
    "fqdn_tags",
    "web_categories",
    "route_servers",
    "private_dns_zones",
    "private_endpoints",
    "private_dns_resolvers",
    "dns_forwarding_rulesets",
    "internet",
    "public_ip_prefixes",
    "public_ip_addresses",
    "nat_gateways",
    "network_managers",
    "virtual_wans",
    "virtual_hubs",
    "vpn_sites",
    "paas_resources",
    "service_endpoint_policies",
    "network_watcher_flow_logs",
];

record!(VNET_KEYS: RawVnet { name, key, line } "a vnet" {
    address_space: "address_space" => cidr_list,
    location: "location" => region,
    flow_timeout_minutes: "flow_timeout_in_minutes" => flow_timeout,
    subnets: "subnets" => list,
    host: "host" => optional_ref,
    dns_servers: "dns_servers" => dns_servers,
    tags: "tags" => tag_map,
});

record!(SUBNET_KEYS: RawSubnet { name, key, line } "a subnet" {
    address_prefixes: "address_prefixes" => cidr_list,
    network_security_group: "network_security_group" => optional_ref,
    route_table: "route_table" => optional_ref,
    endpoint_policies: "private_endpoint_network_policies"
        => one_of_or(EndpointNetworkPolicies::Disabled),
    default_outbound_access: "default_outbound_access" => flag(false),
    delegation: "delegation" => optional_text,
    service_endpoints: "service_endpoints" => endpoint_services,
    service_endpoint_policies: "service_endpoint_policy_ids" => ref_list,
});

record!(PEERING_KEYS: RawPeering { name, key, line } "a peering" {
    vnet: "virtual_network" => required_ref,
    remote: "remote_virtual_network" => required_ref,
    flags: PeeringFlags {
        allow_virtual_network_access: "allow_virtual_network_access" => flag(true),
        allow_forwarded_traffic: "allow_forwarded_traffic" => flag(false),
        allow_gateway_transit: "allow_gateway_transit" => flag(false),
        use_remote_gateways: "use_remote_gateways" => flag(false),
    },
    impairments: "impairments" => impairments,
});

record!(NIC_KEYS: RawNic { name, key, line } "a network interface" {
    subnet: "subnet" => required_ref,
    // A broken address ends the NIC's checks here.
    ip_configurations: "private_ip_address" | "ip_configurations" => ip_configurations?,
    ip_forwarding: "ip_forwarding_enabled" => flag(false),
    network_security_group: "network_security_group" => optional_ref,
    application_security_groups: "application_security_groups" => ref_list,
    netns: "netns" => optional_text,
    mtu: "mtu" => mtu,
    host: "host" => optional_ref,
    bgp_speaker: "bgp_speaker" => nic_bgp_speaker,
    bgp_announce: "bgp_announce" => bgp_announce,
    dns_servers: "dns_servers" => dns_servers,
    dns_server: "dns_server" => dns_server,
    public_ip: "public_ip_address" => optional_ref,
});

const IP_CONFIG_KEYS: &[&str] = &["name", "private_ip_address"];

impl Record for RawIpConfiguration {
    const WHAT: &'static str = "an IP configuration";
    const KEYS: &'static [&'static str] = IP_CONFIG_KEYS;

    // Its key points at the address, which is what later checks are about.
    fn decode(d: &mut Decoder, f: &Fields, head: Head) -> Option<Self> {
        Some(RawIpConfiguration {
            name: head.name,
            address: d.optional_ip(f, "private_ip_address")?,
            key: f.key("private_ip_address"),
            line: head.line,
        })
    }
}

record!(ROUTE_TABLE_KEYS: RouteTable { name, line } "a route table" {
    bgp_route_propagation_enabled: "bgp_route_propagation_enabled"
        | "disable_bgp_route_propagation" => propagation,
    routes: "routes" => list,
});

record!(ROUTE_KEYS: Route { name, line } "a route" {
    address_prefix: "address_prefix" => required_cidr,
    (next_hop_type, next_hop_ip): "next_hop_type" | "next_hop_in_ip_address" => next_hop,
});

record!(NSG_KEYS: RawNsg { name, key, line } "a network security group" {
    flush_connection: "flush_connection" => flag(false),
    rules: "security_rules" => list,
});

record!(RULE_KEYS: RawRule { name, key, line } "a security rule" {
    _: "description" => text,
    settings: SecurityRuleSettings {
        priority: "priority" => priority,
        direction: "direction" => one_of,
        access: "access" => one_of,
        protocol: "protocol" => one_of_listed(PROTOCOLS),
        source_ports: "source_port_range" | "source_port_ranges" => ports,
        destination_ports: "destination_port_range" | "destination_port_ranges" => ports,
    },
    source: "source_address_prefix"
        | "source_address_prefixes"
        | "source_application_security_groups" => address,
    destination: "destination_address_prefix"
        | "destination_address_prefixes"
        | "destination_application_security_groups" => address,
});

record!(SITE_KEYS: RawSite { name, key, line } "an on-premises site" {
    address_space: "address_space" => cidr_list,
    router: "router" => router,
    routers: "routers" => list,
    hosts: "hosts" => list,
    latency_us: "latency_ms" | "round_trip_ms" => latency,
    host: "host" => optional_ref,
});

record!(SITE_ROUTER_KEYS: RawSiteRouter { name, key, line } "a router" {
    settings: RawRouterSettings {
        netns: "netns" => optional_text,
        asn: "asn" => asn,
        bgp_speaker: "bgp_speaker" => one_of_or(BgpSpeaker::None),
    },
});

record!(HOST_KEYS: RawHost { name, key, line } "a host" {
    underlay_address: "underlay_address" => optional_ip,
});

record!(SITE_HOST_KEYS: RawSiteHost { name, key, line } "an on-premises host" {
    address: "private_ip_address" => optional_ip,
    netns: "netns" => optional_text,
    dns_servers: "dns_servers" => dns_servers,
    dns_server: "dns_server" => dns_server,
});

record!(GATEWAY_KEYS: RawGateway { name, key, line } "a virtual network gateway" {
    vnet: "virtual_network" => required_ref,
    gateway_type: "type" => one_of_or(GatewayType::Vpn),
    vpn_type: "vpn_type" => one_of_or(VpnType::RouteBased),
    sku: "sku" => optional_text,
    generation: "generation" => optional_text,
    active_active: "active_active" => flag(false),
    bgp_enabled: "bgp_enabled" | "enable_bgp" => either_flag(false),
    bgp_settings: "bgp_settings" => bgp_settings(false),
});

record!(LOCAL_GATEWAY_KEYS: RawLocalGateway { name, key, line } "a local network gateway" {
    site: "site" => required_ref,
    router: "router" => optional_ref,
    gateway_address: "gateway_address" => optional_ip,
    address_space: "address_space" => optional_cidr_list,
    bgp_settings: "bgp_settings" => bgp_settings(true),
});

record!(CONNECTION_KEYS: RawConnection { name, key, line } "a gateway connection" {
    connection_type: "type" => one_of,
    gateway: "virtual_network_gateway" => required_ref,
    local_gateway: "local_network_gateway" => optional_ref,
    peer_gateway: "peer_virtual_network_gateway" => optional_ref,
    circuit: "express_route_circuit" => optional_ref,
    bgp_enabled: "bgp_enabled" | "enable_bgp" => either_flag(false),
    _: "shared_key" => text,
    _: "authorization_key" => text,
    routing_weight: "routing_weight" => routing_weight,
    impairments: "impairments" => impairments,
});

record!(CIRCUIT_KEYS: RawCircuit { name, key, line } "an ExpressRoute circuit" {
    site: "site" => optional_ref,
    service_provider_name: "service_provider_name" => optional_text,
    peering_location: "peering_location" => optional_text,
    bandwidth_mbps: "bandwidth_in_mbps" => circuit_bandwidth,
    private_peering: "private_peering" => private_peering,
    latency_us: "latency_ms" | "round_trip_ms" => latency,
});

record!(VM_KEYS: RawVirtualMachine { name, key, line } "a virtual machine" {
    size: "size" => required_text_with_line,
    location: "location" => optional_text,
    nics: "network_interfaces" | "network_interface_ids" => either_ref_list,
});

record!(GLOBAL_REACH_KEYS: RawGlobalReach { name, key, line } "a Global Reach connection" {
    circuit: "circuit" => required_ref,
    peer_circuit: "peer_circuit" => required_ref,
    address_prefix: "address_prefix_ipv4" => required_cidr_with_line,
});

record!(PRIVATE_CLOUD_KEYS: RawPrivateCloud { name, key, line } "an Azure VMware Solution private cloud" {
    location: "location" => optional_text,
    sku: "sku_name" => optional_text,
    network_block: "network_subnet_cidr" => required_cidr_with_line,
    workload_segments: "workload_segments" => optional_cidr_list,
    hosts: "hosts" => list,
    peering_location: "peering_location" => optional_text,
});

record!(LOAD_BALANCER_KEYS: RawLoadBalancer { name, key, line } "a load balancer" {
    _: "sku" => load_balancer_sku,
    frontends: "frontend_ip_configurations" => list,
    pools: "backend_address_pools" => list,
    probes: "probes" => list,
    rules: "rules" => list,
    outbound_rules: "outbound_rules" => list,
});

record!(FRONTEND_KEYS: RawFrontend { name, key, line } "a frontend IP configuration" {
    (subnet, address, public_ip): "subnet"
        | "private_ip_address"
        | "public_ip_address" => frontend_place,
});

record!(OUTBOUND_RULE_KEYS: RawOutboundRule { name, key, line } "an outbound rule" {
    frontends: "frontend_ip_configurations" => ref_list,
    pool: "backend_address_pool" => required_ref,
    protocol: "protocol" => spelled_one_of,
    allocated_ports: "allocated_outbound_ports" => allocated_outbound_ports,
    idle_timeout_minutes: "idle_timeout_in_minutes" => outbound_idle_timeout,
    tcp_reset: "tcp_reset_enabled" | "enable_tcp_reset" => agreeing_flag(false),
});

record!(BACKEND_POOL_KEYS: RawBackendPool { name, key, line } "a backend address pool" {
    nics: "network_interfaces" => ref_list,
});

record!(PROBE_KEYS: Probe { name, line } "a health probe" {
    (protocol, request_path): "protocol" | "request_path" => probe_request,
    port: "port" => probe_port,
    interval_secs: "interval_in_seconds" => probe_interval,
    threshold: "probe_threshold" | "number_of_probes" => probe_threshold,
});

record!(LB_RULE_KEYS: RawLbRule { name, key, line } "a load-balancing rule" {
    frontend: "frontend_ip_configuration" => required_ref,
    pool: "backend_address_pool" => required_ref,
    probe: "probe" => optional_ref,
    settings: LbRuleSettings {
        (protocol, frontend_port, backend_port): "protocol"
            | "frontend_port"
            | "backend_port" => rule_ports,
        distribution: "load_distribution" => spelled_one_of_or(LoadDistribution::Default),
        floating_ip: "floating_ip_enabled" | "enable_floating_ip" => agreeing_flag(false),
        idle_timeout_minutes: "idle_timeout_in_minutes" => idle_timeout,
        disable_outbound_snat: "disable_outbound_snat" => flag(false),
    },
});

record!(FIREWALL_KEYS: RawFirewall { name, key, line } "an Azure Firewall" {
    vnet: "virtual_network" => optional_ref,
    hub: "virtual_hub" => firewall_hub,
    sku: "sku_tier" => one_of_or(FirewallSku::Standard),
    sku_name: "sku_name" => firewall_sku_name,
    policy: "firewall_policy" => optional_ref,
    _: "threat_intel_mode" => text,
    public_ips: "public_ip_addresses" => ref_list,
});

record!(FIREWALL_POLICY_KEYS: RawFirewallPolicy { name, key, line } "a firewall policy" {
    private_ranges: "private_ranges" => private_ranges,
    sku: "sku" => policy_sku,
    dns: "dns" => firewall_dns,
    groups: "rule_collection_groups" => list,
});

record!(FQDN_SET_KEYS: RawFqdnSet { name, key, line } "an FQDN tag or web category" {
    fqdns: "fqdns" => application_fqdns,
});

record!(APPLICATION_RULE_COLLECTION_KEYS: RawApplicationRuleCollection { name, key, line }
    "an application rule collection" {
    priority: "priority" => firewall_priority,
    action: "action" => one_of,
    rules: "rules" => list,
});

record!(APPLICATION_RULE_KEYS: RawApplicationRule { name, key, line } "an application rule" {
    protocols: "protocols" => application_protocols,
    source_addresses: "source_addresses" => firewall_addresses,
    source_ip_groups: "source_ip_groups" => ref_list,
    destination_fqdns: "destination_fqdns" => application_fqdns,
    fqdn_tags: "destination_fqdn_tags" => named_sets,
    web_categories: "web_categories" => named_sets,
    _: "description" => text,
});

record!(RULE_COLLECTION_GROUP_KEYS: RawRuleCollectionGroup { name, key, line }
    "a rule collection group" {
    priority: "priority" => firewall_priority,
    collections: "network_rule_collections" => list,
    app_collections: "application_rule_collections" => list,
    nat_collections: "nat_rule_collections" => list,
});

record!(NETWORK_RULE_COLLECTION_KEYS: RawNetworkRuleCollection { name, key, line }
    "a network rule collection" {
    priority: "priority" => firewall_priority,
    action: "action" => one_of,
    rules: "rules" => list,
});

record!(NETWORK_RULE_KEYS: RawNetworkRule { name, key, line } "a network rule" {
    protocols: "protocols" => firewall_protocols,
    source_addresses: "source_addresses" => firewall_addresses,
    source_ip_groups: "source_ip_groups" => ref_list,
    destination_addresses: "destination_addresses" => firewall_addresses,
    destination_ip_groups: "destination_ip_groups" => ref_list,
    fqdns: "destination_fqdns" => network_fqdns,
    destination_ports: "destination_ports" => firewall_ports,
});

record!(IP_GROUP_KEYS: RawIpGroup { name, key, line } "an IP group" {
    cidrs: "cidrs" => firewall_addresses,
});

record!(ROUTE_SERVER_KEYS: RawRouteServer { name, key, line } "an Azure Route Server" {
    vnet: "virtual_network" => required_ref,
    branch_to_branch_traffic: "branch_to_branch_traffic" => flag(false),
    hub_routing_preference: "hub_routing_preference" => hub_routing_preference,
    bgp_connections: "bgp_connections" => list,
});

record!(BGP_CONNECTION_KEYS: RawBgpConnection { name, key, line } "a Route Server BGP connection" {
    peer_ip: "peer_ip" => route_server_peer_ip,
    peer_asn: "peer_asn" => route_server_peer_asn,
});

const ASG_KEYS: &[&str] = &["name"];

/// An application security group is only a name, kept with its line.
impl Record for (String, usize) {
    const WHAT: &'static str = "an application security group";
    const KEYS: &'static [&'static str] = ASG_KEYS;

    fn decode(_: &mut Decoder, _: &Fields, head: Head) -> Option<Self> {
        Some((head.name, head.line))
    }
}

/// NSG protocols as a rule gives them. Listed here rather than derived:
/// `*` is the only spelling of `Any`, whose name (`All`, as Azure lists
/// rules) is not accepted.
const PROTOCOLS: &[(&str, Protocol)] = &[
    ("*", Protocol::Any),
    ("tcp", Protocol::Tcp),
    ("udp", Protocol::Udp),
    ("icmp", Protocol::Icmp),
    ("esp", Protocol::Esp),
    ("ah", Protocol::Ah),
];

impl Decoder<'_> {
    pub fn topology(&mut self, root: &Node) -> RawTopology {
        if matches!(root.value, Value::Null) {
            return RawTopology::default();
        }
        let Some(top) = self.fields(root, "", "the top level", TOP_KEYS) else {
            return RawTopology::default();
        };
        RawTopology {
            netns_prefix: self.optional_text(&top, "netns_prefix").flatten(),
            vnets: self.records(&top, "vnets"),
            peerings: self.records(&top, "peerings"),
            nics: self.records(&top, "network_interfaces"),
            route_tables: self.records(&top, "route_tables"),
            nsgs: self.records(&top, "network_security_groups"),
            asgs: self.records(&top, "application_security_groups"),
            sites: self.records(&top, "on_premises_sites"),
            gateways: self.records(&top, "virtual_network_gateways"),
            local_gateways: self.records(&top, "local_network_gateways"),
            connections: self.records(&top, "virtual_network_gateway_connections"),
            circuits: self.records(&top, "express_route_circuits"),
            global_reach: self.records(&top, "express_route_circuit_connections"),
            private_clouds: self.records(&top, "vmware_private_clouds"),
            load_balancers: self.records(&top, "load_balancers"),
            expectations: self.records(&top, "expectations"),
            virtual_machines: self.records(&top, "virtual_machines"),
            hosts: self.records(&top, "hosts"),
            firewalls: self.records(&top, "azure_firewalls"),
            firewall_policies: self.records(&top, "firewall_policies"),
            ip_groups: self.records(&top, "ip_groups"),
            fqdn_tags: self.records(&top, "fqdn_tags"),
            web_categories: self.records(&top, "web_categories"),
            route_servers: self.records(&top, "route_servers"),
            private_dns_zones: self.records(&top, "private_dns_zones"),
            private_endpoints: self.records(&top, "private_endpoints"),
            paas_resources: self.records(&top, "paas_resources"),
            service_endpoint_policies: self.records(&top, "service_endpoint_policies"),
            dns_resolvers: self.records(&top, "private_dns_resolvers"),
            forwarding_rulesets: self.records(&top, "dns_forwarding_rulesets"),
            internet: self.internet(&top, "internet"),
            public_ip_prefixes: self.records(&top, "public_ip_prefixes"),
            public_ips: self.records(&top, "public_ip_addresses"),
            nat_gateways: self.records(&top, "nat_gateways"),
            network_managers: self.records(&top, "network_managers"),
            virtual_wans: self.records(&top, "virtual_wans"),
            virtual_hubs: self.records(&top, "virtual_hubs"),
            vpn_sites: self.vpn_sites(&top, "vpn_sites"),
            flow_logs: self.records(&top, "network_watcher_flow_logs"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_key() {
        assert_eq!(closest("adress_space", VNET_KEYS), Some("address_space"));
        assert_eq!(closest("zzz", VNET_KEYS), None);
        // Edits are counted in characters, not bytes.
        assert_eq!(closest("adréss_space", VNET_KEYS), Some("address_space"));
    }

    /// Every spelling the contract accepts for `T`, in any case, and a near
    /// miss that it refuses.
    fn accepts<T>(spellings: &[(&str, T)], refused: &str)
    where
        T: std::str::FromStr + PartialEq + std::fmt::Debug + Copy,
    {
        for (text, value) in spellings {
            for written in [
                text.to_string(),
                text.to_ascii_uppercase(),
                values::capitalise(text),
            ] {
                assert_eq!(written.parse::<T>().ok(), Some(*value), "{written}");
            }
        }
        assert!(refused.parse::<T>().is_err(), "{refused}");
    }

    #[test]
    fn enum_keys_take_the_contracts_spellings_and_list_them_on_refusal() {
        use super::values::choice_list;
        use crate::topology::model::*;
        use strum::VariantNames;

        accepts(
            &[
                ("inbound", Direction::Inbound),
                ("outbound", Direction::Outbound),
            ],
            "in",
        );
        accepts(
            &[("allow", Access::Allow), ("deny", Access::Deny)],
            "permit",
        );
        accepts(
            &[
                ("vpn", GatewayType::Vpn),
                ("expressroute", GatewayType::ExpressRoute),
            ],
            "express_route",
        );
        accepts(
            &[
                ("routebased", VpnType::RouteBased),
                ("policybased", VpnType::PolicyBased),
            ],
            "route-based",
        );
        accepts(
            &[
                ("ipsec", ConnectionType::IPsec),
                ("vnet2vnet", ConnectionType::Vnet2Vnet),
                ("expressroute", ConnectionType::ExpressRoute),
            ],
            "vpn",
        );
        accepts(
            &[
                ("bird", BgpSpeaker::Bird),
                ("frr", BgpSpeaker::Frr),
                ("none", BgpSpeaker::None),
            ],
            "gobgp",
        );
        accepts(
            &[
                ("tcp", ExpectedProtocol::Tcp),
                ("udp", ExpectedProtocol::Udp),
                ("icmp", ExpectedProtocol::Icmp),
            ],
            "*",
        );
        accepts(
            &[
                ("Tcp", ProbeProtocol::Tcp),
                ("Http", ProbeProtocol::Http),
                ("Https", ProbeProtocol::Https),
            ],
            "Udp",
        );
        accepts(
            &[
                ("Tcp", LbProtocol::Tcp),
                ("Udp", LbProtocol::Udp),
                ("All", LbProtocol::All),
            ],
            "*",
        );
        accepts(
            &[
                ("Default", LoadDistribution::Default),
                ("SourceIP", LoadDistribution::SourceIp),
                ("SourceIPProtocol", LoadDistribution::SourceIpProtocol),
            ],
            "SourceIp2",
        );
        accepts(
            &[
                ("virtualappliance", NextHopType::VirtualAppliance),
                ("vnetlocal", NextHopType::VnetLocal),
                ("internet", NextHopType::Internet),
                ("none", NextHopType::None),
                ("virtualnetworkgateway", NextHopType::VirtualNetworkGateway),
            ],
            "virtualnetworkpeering",
        );

        accepts(
            &[
                ("ExpressRoute", HubRoutingPreference::ExpressRoute),
                ("VpnGateway", HubRoutingPreference::VpnGateway),
                ("ASPath", HubRoutingPreference::AsPath),
            ],
            "AsPathLength",
        );

        assert_eq!(choice_list::<Direction>(), "Inbound, Outbound");
        assert_eq!(choice_list::<Access>(), "Allow, Deny");
        assert_eq!(choice_list::<GatewayType>(), "Vpn, Expressroute");
        assert_eq!(choice_list::<VpnType>(), "Routebased, Policybased");
        assert_eq!(
            choice_list::<ConnectionType>(),
            "Ipsec, Vnet2vnet, Expressroute"
        );
        assert_eq!(choice_list::<BgpSpeaker>(), "Bird, Frr, None");
        assert_eq!(choice_list::<ExpectedProtocol>(), "Tcp, Udp, Icmp");
        assert_eq!(ProbeProtocol::VARIANTS.join(", "), "Tcp, Http, Https");
        assert_eq!(LbProtocol::VARIANTS.join(", "), "Tcp, Udp, All");
        assert_eq!(
            LoadDistribution::VARIANTS.join(", "),
            "Default, SourceIP, SourceIPProtocol"
        );
        assert_eq!(
            HubRoutingPreference::VARIANTS.join(", "),
            "ExpressRoute, VpnGateway, ASPath"
        );
    }
}
