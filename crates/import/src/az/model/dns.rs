//! The shapes of the Azure CLI's objects of names, read as the parent
//! module reads every shape: Private DNS zones with their links and record
//! sets, Private Endpoints with their DNS zone groups (what becomes of them
//! is `az::names`' business), and DNS Private Resolvers with their
//! endpoints and forwarding rulesets (`az::resolvers`').

use super::common::Reference;
use serde::Deserialize;

/// `az network private-dns zone list`: a Private DNS zone.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateDnsZone {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
}

/// `az network private-dns link vnet list`: a zone's link to a VNet (its
/// ID names the zone).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneLink {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub virtual_network: Option<Reference>,
    pub registration_enabled: Option<bool>,
    pub resolution_policy: Option<String>,
}

/// `az network private-dns record-set list`: a record set of a zone (its
/// ID names the zone and its type: `.../privateDnsZones/ZONE/A/NAME`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordSet {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    /// `Microsoft.Network/privateDnsZones/A`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub ttl: Option<i64>,
    pub is_auto_registered: Option<bool>,
    #[serde(default)]
    pub a_records: Vec<ARecord>,
    #[serde(default)]
    pub aaaa_records: Vec<AaaaRecord>,
    pub cname_record: Option<CnameRecord>,
    #[serde(default)]
    pub mx_records: Vec<MxRecord>,
    #[serde(default)]
    pub ptr_records: Vec<PtrRecord>,
    #[serde(default)]
    pub srv_records: Vec<SrvRecord>,
    #[serde(default)]
    pub txt_records: Vec<TxtRecord>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ARecord {
    pub ipv4_address: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AaaaRecord {
    pub ipv6_address: String,
}

#[derive(Debug, Deserialize)]
pub struct CnameRecord {
    pub cname: String,
}

#[derive(Debug, Deserialize)]
pub struct MxRecord {
    pub preference: u16,
    pub exchange: String,
}

#[derive(Debug, Deserialize)]
pub struct PtrRecord {
    pub ptrdname: String,
}

#[derive(Debug, Deserialize)]
pub struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

/// A TXT record: its strings, which DNS joins into one value.
#[derive(Debug, Deserialize)]
pub struct TxtRecord {
    #[serde(default)]
    pub value: Vec<String>,
}

/// `az network private-endpoint list`: a Private Endpoint. Its DNS zone
/// groups are listed apart (`PrivateDnsZoneGroup`); a dump that holds them
/// in `privateDnsZoneGroups` is read too.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateEndpoint {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub subnet: Option<Reference>,
    #[serde(default)]
    pub private_link_service_connections: Vec<ServiceConnection>,
    /// Connections waiting for the resource owner's approval.
    #[serde(default)]
    pub manual_private_link_service_connections: Vec<ServiceConnection>,
    #[serde(default)]
    pub ip_configurations: Vec<EndpointIpConfiguration>,
    #[serde(default)]
    pub custom_dns_configs: Vec<CustomDnsConfig>,
    #[serde(default)]
    pub network_interfaces: Vec<Reference>,
    #[serde(default)]
    pub private_dns_zone_groups: Vec<PrivateDnsZoneGroup>,
}

/// A Private Endpoint's connection to what it reaches.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceConnection {
    pub name: String,
    pub private_link_service_id: Option<String>,
    #[serde(default)]
    pub group_ids: Vec<String>,
}

/// A Private Endpoint's Static IP configuration.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointIpConfiguration {
    pub name: String,
    pub group_id: Option<String>,
    pub member_name: Option<String>,
    #[serde(rename = "privateIPAddress", alias = "privateIpAddress")]
    pub private_ip_address: Option<String>,
}

/// A name and the endpoint's addresses for it, as the endpoint lists them
/// when no zone group writes them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomDnsConfig {
    #[serde(default)]
    pub ip_addresses: Vec<String>,
}

/// `az network private-endpoint dns-zone-group list`: a DNS zone group of
/// an endpoint (its ID names the endpoint:
/// `.../privateEndpoints/PE/privateDnsZoneGroups/NAME`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateDnsZoneGroup {
    pub name: String,
    pub id: Option<String>,
    pub resource_group: Option<String>,
    #[serde(default)]
    pub private_dns_zone_configs: Vec<ZoneConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneConfig {
    pub private_dns_zone_id: Option<String>,
}

/// `az dns-resolver list`: a DNS Private Resolver and its VNet.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsResolver {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub virtual_network: Option<Reference>,
}

/// `az dns-resolver inbound-endpoint list`: an inbound endpoint (its ID
/// names its resolver: `.../dnsResolvers/RESOLVER/inboundEndpoints/NAME`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundEndpoint {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    #[serde(default)]
    pub ip_configurations: Vec<InboundIpConfiguration>,
}

/// An inbound endpoint's IP configuration, in the resolver API's spelling
/// (`privateIpAddress`; `privateIPAddress` is read too).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundIpConfiguration {
    pub subnet: Option<Reference>,
    #[serde(alias = "privateIPAddress")]
    pub private_ip_address: Option<String>,
    #[serde(alias = "privateIPAllocationMethod")]
    pub private_ip_allocation_method: Option<String>,
}

/// `az dns-resolver outbound-endpoint list`: an outbound endpoint (its ID
/// names its resolver).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundEndpoint {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub subnet: Option<Reference>,
}

/// `az dns-resolver forwarding-ruleset list`: a DNS forwarding ruleset and
/// the outbound endpoints it sends through.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForwardingRuleset {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    #[serde(default)]
    pub dns_resolver_outbound_endpoints: Vec<Reference>,
}

/// `az dns-resolver forwarding-rule list`: a rule of a ruleset (its ID
/// names the ruleset: `.../dnsForwardingRulesets/RULESET/forwardingRules/
/// NAME`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForwardingRule {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub domain_name: Option<String>,
    /// `Enabled` or `Disabled`.
    pub forwarding_rule_state: Option<String>,
    #[serde(default)]
    pub target_dns_servers: Vec<TargetDnsServer>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetDnsServer {
    pub ip_address: String,
    pub port: Option<u16>,
}

/// `az dns-resolver vnet-link list`: a ruleset's link to a VNet (its ID
/// names the ruleset: `.../dnsForwardingRulesets/RULESET/
/// virtualNetworkLinks/NAME`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RulesetLink {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub virtual_network: Option<Reference>,
}
