//! Azure Firewall's logs as the flow-log thread writes them: one record
//! per row of Azure's resource-specific tables (rows in
//! [`crate::daemon::forwarding::firewall_log::tables`]), each table in
//! the container Azure's diagnostic settings write it to in a storage
//! account: `insights-logs-<table>/resourceId=/…/AZUREFIREWALLS/<NAME>/
//! y=…/m=…/d=…/h=…/m=00/PT1H.json`, appended with the same link-safe
//! write as the NSG flow logs.
//!
//! What the workers judge at a firewall becomes one row per connection
//! it admits (when the flow begins) and per 5-tuple it denies (once per
//! interval), ICMP included: a connection a DNAT rule admitted is an
//! `AZFWNatRule` row (the packet as it reached the public address, and
//! the rule's `TranslatedIp` and `TranslatedPort`); everything else an
//! `AZFWNetworkRule` row with the rule that decided, or
//! `ActionReason: Default Action` when none matched. The application
//! rules' and the DNS proxy's rows come through the
//! [`FirewallLog`](crate::daemon::forwarding::firewall_log::FirewallLog)
//! handle.

use super::calendar::iso8601;
use super::file::hourly_blob;
use crate::daemon::forwarding::firewall_log::{FirewallLogEntry, NatRule, NetworkRule};
use crate::net::{IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};
use crate::policy::firewall::DEFAULT_ACTION;
use crate::policy::ids::{RESOURCE_GROUP, SUBSCRIPTION};
use crate::topology::DnatRule;
use serde::Serialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The firewall's resource ID, in the upper case of Azure's blob paths.
pub fn firewall_resource_id(firewall: &str) -> String {
    format!(
        "/SUBSCRIPTIONS/{SUBSCRIPTION}/RESOURCEGROUPS/{RESOURCE_GROUP}/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/{}",
        firewall.to_uppercase()
    )
}

/// The hourly blob of `firewall`'s rows of the table `entry` belongs to,
/// at `unix_s`.
pub fn firewall_log_path(
    dir: &Path,
    entry: &FirewallLogEntry,
    firewall: &str,
    unix_s: u64,
) -> PathBuf {
    let under = dir.join(entry.container());
    hourly_blob(under, &firewall_resource_id(firewall), unix_s).join("PT1H.json")
}

/// One record of a firewall's log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FirewallRecord {
    pub time: String,
    #[serde(rename = "resourceId")]
    pub resource_id: String,
    pub category: &'static str,
    #[serde(rename = "operationName")]
    pub operation_name: &'static str,
    pub properties: FirewallLogEntry,
}

/// The record of `entry`, logged by `firewall` at `unix_ms`.
pub fn firewall_record(unix_ms: u64, firewall: &str, entry: FirewallLogEntry) -> FirewallRecord {
    FirewallRecord {
        time: iso8601(unix_ms),
        resource_id: firewall_resource_id(firewall),
        category: entry.category(),
        operation_name: entry.category(),
        properties: entry,
    }
}

/// What one row says of a packet's flow, as it reached the firewall.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ports: (u16, u16),
    pub allowed: bool,
}

/// The row of a flow the firewall decided with `rule` (a
/// `group/collection/rule` path, or the default action) of `policy`,
/// whose DNAT rules are `dnat`: the DNAT rule's own row when it is one
/// of them, else a network rule's.
pub fn rule_entry(policy: &str, dnat: &[DnatRule], rule: &str, seen: Seen) -> FirewallLogEntry {
    let mut parts = rule.splitn(3, '/');
    let (group, collection, name) = match (parts.next(), parts.next(), parts.next()) {
        (Some(g), Some(c), Some(r)) if rule != DEFAULT_ACTION => (g, c, r),
        _ => ("", "", ""),
    };
    let translated = dnat.iter().find(|d| d.path() == rule);
    if let (Some(d), true) = (translated, seen.allowed) {
        return NatRule {
            protocol: protocol_name(seen.proto),
            source_ip: seen.src.to_string(),
            source_port: seen.ports.0,
            destination_ip: seen.dst.to_string(),
            destination_port: seen.ports.1,
            translated_ip: d.translated_address.to_string(),
            translated_port: d.translated_port,
            policy: policy.to_string(),
            rule_collection_group: group.to_string(),
            rule_collection: collection.to_string(),
            rule: name.to_string(),
        }
        .into();
    }
    NetworkRule {
        protocol: protocol_name(seen.proto),
        source_ip: seen.src.to_string(),
        source_port: seen.ports.0,
        destination_ip: seen.dst.to_string(),
        destination_port: seen.ports.1,
        action: if seen.allowed { "Allow" } else { "Deny" },
        policy: policy.to_string(),
        rule_collection_group: group.to_string(),
        rule_collection: collection.to_string(),
        rule: name.to_string(),
        action_reason: if name.is_empty() {
            "Default Action".to_string()
        } else {
            String::new()
        },
    }
    .into()
}

fn protocol_name(proto: u8) -> String {
    match proto {
        IPPROTO_TCP => "TCP".into(),
        IPPROTO_UDP => "UDP".into(),
        IPPROTO_ICMP | IPPROTO_ICMPV6 => "ICMP".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{Protocol, RulePlace};

    fn seen(allowed: bool) -> Seen {
        Seen {
            proto: IPPROTO_TCP,
            src: "203.0.113.10".parse().unwrap(),
            dst: "198.51.100.20".parse().unwrap(),
            ports: (40000, 443),
            allowed,
        }
    }

    fn dnat() -> DnatRule {
        DnatRule {
            place: RulePlace {
                group: "edge".into(),
                group_priority: 100,
                collection: "publish".into(),
                collection_priority: 100,
            },
            name: "web".into(),
            protocols: vec![Protocol::Tcp],
            sources: vec!["0.0.0.0/0".parse().unwrap()],
            destination: "198.51.100.20".parse().unwrap(),
            destination_port: 443,
            translated_address: "10.2.1.4".parse().unwrap(),
            translated_port: 8443,
            line: 1,
        }
    }

    #[test]
    fn network_rules_name_the_rule_or_the_default_action() {
        let r = firewall_record(
            0,
            "hub-fw",
            rule_entry("pol", &[dnat()], "g/deny-ssh/no-ssh", seen(false)),
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["category"], "AZFWNetworkRule");
        assert_eq!(v["operationName"], "AZFWNetworkRule");
        assert_eq!(v["properties"]["Action"], "Deny");
        assert_eq!(v["properties"]["RuleCollectionGroup"], "g");
        assert_eq!(v["properties"]["RuleCollection"], "deny-ssh");
        assert_eq!(v["properties"]["Rule"], "no-ssh");
        assert_eq!(v["properties"]["ActionReason"], "");
        assert_eq!(v["properties"]["DestinationPort"], 443);
        let d = rule_entry("pol", &[], DEFAULT_ACTION, seen(false));
        let FirewallLogEntry::NetworkRule(d) = d else {
            panic!("{d:?}");
        };
        assert_eq!(d.rule, "");
        assert_eq!(d.action_reason, "Default Action");
    }

    #[test]
    fn a_dnat_rules_hit_is_a_nat_rule_row_with_the_translation() {
        let entry = rule_entry("pol", &[dnat()], "edge/publish/web", seen(true));
        assert_eq!(
            entry,
            FirewallLogEntry::NatRule(NatRule {
                protocol: "TCP".into(),
                source_ip: "203.0.113.10".into(),
                source_port: 40000,
                destination_ip: "198.51.100.20".into(),
                destination_port: 443,
                translated_ip: "10.2.1.4".into(),
                translated_port: 8443,
                policy: "pol".into(),
                rule_collection_group: "edge".into(),
                rule_collection: "publish".into(),
                rule: "web".into(),
            })
        );
        assert_eq!(
            firewall_log_path(Path::new("/l"), &entry, "hub-fw", 1_542_110_435),
            PathBuf::from(
                "/l/insights-logs-azfwnatrule/resourceId=/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/VNETD/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/HUB-FW/y=2018/m=11/d=13/h=12/m=00/PT1H.json"
            )
        );
    }
}
