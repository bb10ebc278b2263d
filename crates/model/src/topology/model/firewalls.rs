//! Azure Firewall in the hub: the firewall itself (in its VNet's
//! `AzureFirewallSubnet`), its policy's network and application rules in
//! evaluation order, its DNS settings (the DNS proxy), IP groups, and the
//! named FQDN sets (FQDN tags, web categories) application rules name. See `resolve/firewalls.rs` for the rules Azure applies
//! to them and `policy/firewall.rs` for how the rules judge packets.

use super::indices::{SubnetRef, VnetIdx};
use super::networks::{Access, Protocol};
use super::spelled_enum;
use crate::net::PortSpec;
use ipnet::IpNet;
use std::net::IpAddr;

super::index_type!(
    /// Index of an Azure Firewall in [`super::Topology::firewalls`].
    FirewallIdx
);
super::index_type!(
    /// Index of a firewall policy in [`super::Topology::firewall_policies`].
    FirewallPolicyIdx
);

/// The subnet an Azure Firewall must be deployed in.
pub const FIREWALL_SUBNET: &str = "AzureFirewallSubnet";

/// The subnet of a forced-tunnelled firewall's management NIC.
pub const FIREWALL_MANAGEMENT_SUBNET: &str = "AzureFirewallManagementSubnet";

/// The smallest `AzureFirewallSubnet` Azure accepts: a /26.
pub const FIREWALL_SUBNET_MAX_PREFIX_LEN: u8 = 26;

/// What `private_ranges: [IANAPrivateRanges]`, Azure's default, stands
/// for: RFC 1918 and RFC 6598 ("Azure Firewall SNAT private IP address
/// ranges"). The firewall does not translate sources towards them.
pub const IANA_PRIVATE_RANGES: [&str; 4] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
];

/// [`IANA_PRIVATE_RANGES`] as prefixes.
pub fn iana_private_ranges() -> Vec<IpNet> {
    IANA_PRIVATE_RANGES
        .iter()
        .map(|n| n.parse().expect("constant prefix"))
        .collect()
}

spelled_enum! {
    /// The firewall's SKU tier, which sets its throughput.
    pub enum FirewallSku {
        Basic,
        Standard,
        Premium,
    }
}

impl FirewallSku {
    /// The throughput Azure documents for the tier ("Azure Firewall
    /// performance"): what the lab caps the firewall's forwarding at.
    pub fn throughput_mbps(self) -> u32 {
        match self {
            FirewallSku::Basic => 250,
            FirewallSku::Standard => 30_000,
            FirewallSku::Premium => 100_000,
        }
    }
}

/// An Azure Firewall (`azurerm_firewall`).
#[derive(Debug, Clone)]
pub struct AzureFirewall {
    pub name: String,
    pub vnet: VnetIdx,
    /// Its VNet's `AzureFirewallSubnet`.
    pub subnet: SubnetRef,
    pub sku: FirewallSku,
    /// No policy: every packet meets the default action (deny).
    pub policy: Option<FirewallPolicyIdx>,
    /// The address Azure gives it: the first usable one of its subnet.
    pub private_ip: IpAddr,
    pub line: usize,
}

/// How many instances vnetd runs a firewall with: two, the least Azure
/// runs ("Azure Firewall prescaling": a firewall's capacity is at least
/// two instances), each with an address of its own in
/// `AzureFirewallSubnet` beside the front address the routes name.
pub const FIREWALL_INSTANCES: u8 = 2;

impl AzureFirewall {
    /// The private addresses of the firewall's instances: the addresses of
    /// `AzureFirewallSubnet` right after its front address, one per
    /// instance (`x.x.x.5` and `x.x.x.6` behind `x.x.x.4`). Azure gives each
    /// instance an address of the subnet and does not publish which; a
    /// backend behind a DNAT rule sees one of them as the source ("Azure
    /// Firewall NAT behaviors", Microsoft Tech Community, 2023: "the source
    /// IP address will translate to one of the IP addresses in the
    /// AzureFirewallSubnet"). The subnet is a /26 or larger, so they are in
    /// it.
    pub fn instance_addresses(&self) -> Vec<IpAddr> {
        (1..=FIREWALL_INSTANCES)
            .filter_map(|n| after(self.private_ip, n))
            .collect()
    }
}

/// The address `n` after `ip`, if there is one.
fn after(ip: IpAddr, n: u8) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) => u32::from(v4)
            .checked_add(u32::from(n))
            .map(|a| IpAddr::V4(a.into())),
        IpAddr::V6(v6) => u128::from(v6)
            .checked_add(u128::from(n))
            .map(|a| IpAddr::V6(a.into())),
    }
}

/// A firewall policy (`azurerm_firewall_policy` with its rule collection
/// groups), its network rules flattened in the order Azure evaluates them.
#[derive(Debug, Clone)]
pub struct FirewallPolicy {
    pub name: String,
    /// Destinations the firewall does not SNAT towards.
    pub private_ranges: Vec<IpNet>,
    /// The policy's tier (`sku`): Basic lacks the DNS proxy and web
    /// categories.
    pub sku: FirewallSku,
    /// Network rules by group priority, then collection priority, then
    /// their order in the collection: the first match decides.
    pub rules: Vec<FirewallRule>,
    /// Application rules, in the same order: judged after the network
    /// rules, on what no network rule matched.
    pub application_rules: Vec<ApplicationRule>,
    /// The DNS settings (`dns { proxy_enabled, servers }`).
    pub dns: FirewallDns,
    pub line: usize,
}

/// A firewall policy's DNS settings: the firewall answers DNS on its
/// private address (the DNS proxy) when `proxy_enabled`, asking `servers`
/// (Azure DNS when empty); FQDNs in network rules are resolved the same
/// way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirewallDns {
    pub proxy_enabled: bool,
    pub servers: Vec<IpAddr>,
}

spelled_enum! {
    /// The protocols of an application rule.
    pub enum ApplicationProtocol {
        Http,
        Https,
        Mssql,
    }
}

/// One protocol and port of an application rule (`protocols { type,
/// port }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplicationPort {
    pub protocol: ApplicationProtocol,
    pub port: u16,
}

/// A destination FQDN as application and network rules write it: lower
/// case, exact, or with a leading `*` that matches any prefix (`*.ubuntu.com`
/// matches `archive.ubuntu.com` and `a.b.ubuntu.com`, not `ubuntu.com`;
/// `*` alone matches every name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FqdnPattern(pub String);

impl FqdnPattern {
    /// Whether `name` (any case, with or without the final dot) matches.
    pub fn matches(&self, name: &str) -> bool {
        let name = name.strip_suffix('.').unwrap_or(name);
        match self.0.strip_prefix('*') {
            Some(suffix) => {
                name.len() > suffix.len()
                    && name
                        .get(name.len() - suffix.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
            }
            None => name.eq_ignore_ascii_case(&self.0),
        }
    }

    /// Whether the pattern is a wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with('*')
    }
}

impl std::fmt::Display for FqdnPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One application rule, with the group and collection it belongs to.
#[derive(Debug, Clone)]
pub struct ApplicationRule {
    pub place: RulePlace,
    pub action: Access,
    pub name: String,
    /// Never empty.
    pub protocols: Vec<ApplicationPort>,
    /// Addresses written and the IP groups' CIDRs, expanded.
    pub sources: Vec<IpNet>,
    /// The FQDNs written, with those of the FQDN tags and web categories
    /// it names (from the file's `fqdn_tags` and `web_categories`).
    pub destination_fqdns: Vec<FqdnPattern>,
    /// The FQDN tags and web categories it names, as written: how logs
    /// and traces say why a name matched.
    pub fqdn_tags: Vec<String>,
    pub web_categories: Vec<String>,
    pub line: usize,
}

impl ApplicationRule {
    /// `group/collection/rule`, how traces, drops and logs name the rule.
    pub fn path(&self) -> String {
        self.place.path(&self.name)
    }

    /// Whether the rule takes a request from `source` to `port` with
    /// `protocol` for the name `fqdn`.
    pub fn matches(
        &self,
        source: IpAddr,
        protocol: ApplicationProtocol,
        port: u16,
        fqdn: &str,
    ) -> bool {
        self.protocols
            .iter()
            .any(|p| p.protocol == protocol && p.port == port)
            && self.sources.iter().any(|n| n.contains(&source))
            && self.destination_fqdns.iter().any(|f| f.matches(fqdn))
    }
}

/// A named set of FQDNs: an FQDN tag (`WindowsUpdate`) or a web category
/// (`SocialNetworking`) as the lab defines it, since Microsoft keeps their
/// members to itself.
#[derive(Debug, Clone)]
pub struct FqdnSet {
    pub name: String,
    pub fqdns: Vec<FqdnPattern>,
    pub line: usize,
}

/// Where a rule of a firewall policy sits: its rule collection group and
/// its rule collection, each with its priority (lower first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulePlace {
    pub group: String,
    pub group_priority: u16,
    pub collection: String,
    pub collection_priority: u16,
}

impl RulePlace {
    /// `group/collection/rule` for the rule `name` here: how traces, drops
    /// and logs name it.
    pub fn path(&self, name: &str) -> String {
        format!("{}/{}/{name}", self.group, self.collection)
    }
}

/// One network rule, with the group and collection it belongs to.
#[derive(Debug, Clone)]
pub struct FirewallRule {
    pub place: RulePlace,
    pub action: Access,
    pub name: String,
    /// TCP, UDP, ICMP or Any; never empty.
    pub protocols: Vec<Protocol>,
    /// Addresses written and the IP groups' CIDRs, expanded.
    pub sources: Vec<IpNet>,
    pub destinations: Vec<IpNet>,
    pub destination_ports: PortSpec,
    /// FQDN destinations, resolved by the firewall's DNS proxy: their
    /// addresses join `destinations` in the compiled rules.
    pub destination_fqdns: Vec<String>,
    pub line: usize,
}

impl FirewallRule {
    /// `group/collection/rule`, how traces, drops and logs name the rule.
    pub fn path(&self) -> String {
        self.place.path(&self.name)
    }
}

/// An IP group (`azurerm_ip_group`): named CIDRs rules can refer to.
#[derive(Debug, Clone)]
pub struct IpGroup {
    pub name: String,
    pub cidrs: Vec<IpNet>,
    pub line: usize,
}
