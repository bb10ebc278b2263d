//! The shapes of Azure Firewall's objects: firewalls with their classic
//! rule collections, policies, their rule collection groups, IP groups.

use super::common::{Reference, Sku};
use serde::Deserialize;
use serde_json::Value;

/// `az network firewall list`: an Azure Firewall, with its classic rule
/// collections inline.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Firewall {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub sku: Option<Sku>,
    pub firewall_policy: Option<Reference>,
    pub virtual_hub: Option<Reference>,
    /// A secured hub's firewall's addresses.
    #[serde(rename = "hubIPAddresses", alias = "hubIpAddresses")]
    pub hub_ip_addresses: Option<HubIpAddresses>,
    #[serde(default)]
    pub ip_configurations: Vec<FirewallIpConfiguration>,
    pub management_ip_configuration: Option<FirewallIpConfiguration>,
    #[serde(default)]
    pub network_rule_collections: Vec<ClassicCollection>,
    #[serde(default)]
    pub application_rule_collections: Vec<ClassicCollection>,
    #[serde(default)]
    pub nat_rule_collections: Vec<ClassicCollection>,
    /// A classic firewall's settings by name, its DNS proxy among them
    /// (`Network.DNS.EnableProxy`, `Network.DNS.Servers`).
    #[serde(default)]
    pub additional_properties: serde_json::Map<String, Value>,
}

/// `hubIPAddresses`: how many public addresses a secured hub's firewall
/// has (`publicIPs.count`).
#[derive(Debug, Deserialize)]
pub struct HubIpAddresses {
    #[serde(rename = "publicIPs", alias = "publicIps")]
    pub public_ips: Option<HubPublicIps>,
}

#[derive(Debug, Deserialize)]
pub struct HubPublicIps {
    pub count: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirewallIpConfiguration {
    pub name: String,
    pub subnet: Option<Reference>,
    #[serde(rename = "privateIPAddress", alias = "privateIpAddress")]
    pub private_ip_address: Option<String>,
    #[serde(rename = "publicIPAddress", alias = "publicIpAddress")]
    pub public_ip_address: Option<Reference>,
}

/// A classic rule collection of a firewall (network, application or
/// NAT): a network or NAT one's rules are read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassicCollection {
    pub name: String,
    pub id: Option<String>,
    pub priority: Option<i64>,
    pub action: Option<Action>,
    #[serde(default)]
    pub rules: Vec<NetworkRule>,
}

/// A collection's action: `{"type": "Allow"}`.
#[derive(Debug, Deserialize)]
pub struct Action {
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// A network, application or NAT rule, classic or of a policy
/// (`ipProtocols` there, `protocols` in a classic one: an application
/// rule's are `{protocolType, port}`), with `ruleType` in a policy. An
/// application rule names its destinations `targetFqdns`, `fqdnTags` and
/// `webCategories` (and what vnetd leaves out: `targetUrls`,
/// `terminateTLS`, `httpHeadersToInsert`). A NAT
/// rule has its translation (`translatedPort` is a string, a number in
/// some versions).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRule {
    pub name: String,
    pub rule_type: Option<String>,
    #[serde(alias = "ipProtocols", default)]
    pub protocols: Vec<Value>,
    #[serde(default)]
    pub source_addresses: Vec<String>,
    #[serde(default)]
    pub source_ip_groups: Vec<String>,
    #[serde(default)]
    pub destination_addresses: Vec<String>,
    #[serde(default)]
    pub destination_ip_groups: Vec<String>,
    #[serde(default)]
    pub destination_fqdns: Vec<String>,
    #[serde(default)]
    pub destination_ports: Vec<String>,
    pub translated_address: Option<String>,
    pub translated_fqdn: Option<String>,
    pub translated_port: Option<Value>,
    #[serde(default)]
    pub target_fqdns: Vec<String>,
    #[serde(default)]
    pub fqdn_tags: Vec<String>,
    #[serde(default)]
    pub web_categories: Vec<String>,
    #[serde(default)]
    pub target_urls: Vec<String>,
    #[serde(rename = "terminateTLS", alias = "terminateTls")]
    pub terminate_tls: Option<bool>,
    #[serde(default)]
    pub http_headers_to_insert: Vec<Value>,
}

/// `az network firewall policy list`: a firewall policy.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirewallPolicy {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub base_policy: Option<Reference>,
    pub snat: Option<Snat>,
    /// `tier`: Basic, Standard or Premium.
    pub sku: Option<Sku>,
    pub dns_settings: Option<DnsSettings>,
}

/// A policy's `dnsSettings`: its DNS proxy and custom DNS servers.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsSettings {
    pub enable_proxy: Option<bool>,
    #[serde(default)]
    pub servers: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snat {
    #[serde(default)]
    pub private_ranges: Vec<String>,
}

/// `az network firewall policy rule-collection-group list`: a rule
/// collection group of a policy (its ID names the policy).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleCollectionGroup {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub priority: i64,
    #[serde(default)]
    pub rule_collections: Vec<RuleCollection>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleCollection {
    pub name: String,
    pub priority: i64,
    pub action: Option<Action>,
    /// `FirewallPolicyFilterRuleCollection` or
    /// `FirewallPolicyNatRuleCollection`.
    pub rule_collection_type: Option<String>,
    #[serde(default)]
    pub rules: Vec<NetworkRule>,
}

/// `az network ip-group list`: an IP group.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpGroup {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    #[serde(default)]
    pub ip_addresses: Vec<String>,
}
