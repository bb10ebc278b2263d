//! Azure Firewall's network rule log, in the shape of Azure's
//! resource-specific table `AZFWNetworkRule` (Azure Monitor reference,
//! "AZFWNetworkRule"): one record per connection the firewall admitted
//! (when the flow begins) and per 5-tuple it denied (once per interval),
//! with the protocol, addresses and ports, the action, the policy, rule
//! collection group, rule collection and rule that decided, and
//! `ActionReason: Default Action` when no rule matched.
//!
//! Records go where Azure's diagnostic settings put the firewall's logs in
//! a storage account: `insights-logs-azfwnetworkrule/resourceId=/…/
//! AZUREFIREWALLS/<NAME>/y=…/m=…/d=…/h=…/m=00/PT1H.json`, appended with
//! the same link-safe write as the NSG flow logs.

use super::calendar::iso8601;
use super::file::hourly_blob;
use crate::net::{IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};
use crate::policy::firewall::DEFAULT_ACTION;
use crate::policy::ids::{RESOURCE_GROUP, SUBSCRIPTION};
use serde::Serialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The container Azure writes the table's records to.
pub const CONTAINER: &str = "insights-logs-azfwnetworkrule";
pub const CATEGORY: &str = "AZFWNetworkRule";

/// The firewall's resource ID, in the upper case of Azure's blob paths.
pub fn firewall_resource_id(firewall: &str) -> String {
    format!(
        "/SUBSCRIPTIONS/{SUBSCRIPTION}/RESOURCEGROUPS/{RESOURCE_GROUP}/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/{}",
        firewall.to_uppercase()
    )
}

/// The hourly blob of `firewall`'s records at `unix_s`.
pub fn firewall_log_path(dir: &Path, firewall: &str, unix_s: u64) -> PathBuf {
    let under = dir.join(CONTAINER);
    hourly_blob(under, &firewall_resource_id(firewall), unix_s).join("PT1H.json")
}

/// One record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FirewallRecord {
    pub time: String,
    #[serde(rename = "resourceId")]
    pub resource_id: String,
    pub category: &'static str,
    #[serde(rename = "operationName")]
    pub operation_name: &'static str,
    pub properties: NetworkRuleEntry,
}

/// The table's columns, as Azure names them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkRuleEntry {
    pub protocol: String,
    pub source_ip: String,
    pub source_port: u16,
    pub destination_ip: String,
    pub destination_port: u16,
    pub action: &'static str,
    pub policy: String,
    pub rule_collection_group: String,
    pub rule_collection: String,
    pub rule: String,
    pub action_reason: String,
}

/// What one record says of a packet's flow.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ports: (u16, u16),
    pub allowed: bool,
}

/// The record of a flow the firewall `firewall` decided with `rule` (a
/// `group/collection/rule` path, or the default action) of `policy`.
pub fn firewall_record(
    unix_ms: u64,
    firewall: &str,
    policy: &str,
    rule: &str,
    seen: Seen,
) -> FirewallRecord {
    let mut parts = rule.splitn(3, '/');
    let (group, collection, name) = match (parts.next(), parts.next(), parts.next()) {
        (Some(g), Some(c), Some(r)) if rule != DEFAULT_ACTION => (g, c, r),
        _ => ("", "", ""),
    };
    FirewallRecord {
        time: iso8601(unix_ms),
        resource_id: firewall_resource_id(firewall),
        category: CATEGORY,
        operation_name: CATEGORY,
        properties: NetworkRuleEntry {
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
        },
    }
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

    #[test]
    fn records_name_the_rule_or_the_default_action() {
        let seen = Seen {
            proto: IPPROTO_TCP,
            src: "10.1.1.4".parse().unwrap(),
            dst: "10.2.1.4".parse().unwrap(),
            ports: (40000, 22),
            allowed: false,
        };
        let r = firewall_record(0, "hub-fw", "pol", "g/deny-ssh/no-ssh", seen);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["category"], "AZFWNetworkRule");
        assert_eq!(v["properties"]["Action"], "Deny");
        assert_eq!(v["properties"]["RuleCollectionGroup"], "g");
        assert_eq!(v["properties"]["RuleCollection"], "deny-ssh");
        assert_eq!(v["properties"]["Rule"], "no-ssh");
        assert_eq!(v["properties"]["ActionReason"], "");
        assert_eq!(v["properties"]["DestinationPort"], 22);
        let d = firewall_record(0, "hub-fw", "pol", DEFAULT_ACTION, seen);
        assert_eq!(d.properties.rule, "");
        assert_eq!(d.properties.action_reason, "Default Action");
        assert_eq!(
            firewall_log_path(Path::new("/l"), "hub-fw", 1_542_110_435),
            PathBuf::from(
                "/l/insights-logs-azfwnetworkrule/resourceId=/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/VNETD/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/HUB-FW/y=2018/m=11/d=13/h=12/m=00/PT1H.json"
            )
        );
    }
}
