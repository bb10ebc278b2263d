//! The rows of Azure Firewall's structured logs, one type per
//! resource-specific table of the Azure Monitor reference ("Azure Monitor
//! Logs reference", tables `AZFWNetworkRule`, `AZFWNatRule`,
//! `AZFWApplicationRule`, `AZFWDnsQuery`), with the columns Azure fills
//! from the firewall (the workspace's own columns, `TimeGenerated`,
//! `_ResourceId`, `TenantId` and the like, are the record's `time` and
//! `resourceId` instead), spelled as Azure spells them. Pure values: no
//! I/O, no clock.

use serde::Serialize;

/// A network rule's hit (`AZFWNetworkRule`): a connection the firewall
/// admitted, or a packet it denied, with the rule that decided or
/// `ActionReason: "Default Action"` when none matched.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkRule {
    /// `TCP`, `UDP`, `ICMP`, or the protocol's number.
    pub protocol: String,
    pub source_ip: String,
    pub source_port: u16,
    pub destination_ip: String,
    pub destination_port: u16,
    /// `Allow` or `Deny`.
    pub action: &'static str,
    pub policy: String,
    pub rule_collection_group: String,
    pub rule_collection: String,
    pub rule: String,
    /// Empty when a rule decided.
    pub action_reason: String,
}

/// A DNAT rule's hit (`AZFWNatRule`): the packet as it reached the
/// firewall's public address, and the address and port the rule
/// translated its destination to.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct NatRule {
    pub protocol: String,
    pub source_ip: String,
    pub source_port: u16,
    pub destination_ip: String,
    pub destination_port: u16,
    pub translated_ip: String,
    pub translated_port: u16,
    pub policy: String,
    pub rule_collection_group: String,
    pub rule_collection: String,
    pub rule: String,
}

/// An application rule's decision on a request (`AZFWApplicationRule`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ApplicationRule {
    /// `HTTP`, `HTTPS` or `MSSQL`.
    pub protocol: String,
    pub source_ip: String,
    pub source_port: u16,
    pub destination_port: u16,
    /// The name asked for: the Host header, or the TLS SNI.
    pub fqdn: String,
    /// The whole URL, for HTTP or TLS-inspected HTTPS; else empty.
    pub target_url: String,
    /// `Allow` or `Deny`.
    pub action: &'static str,
    pub policy: String,
    pub rule_collection_group: String,
    pub rule_collection: String,
    pub rule: String,
    /// Empty when a rule decided; `Default Action` when none matched.
    pub action_reason: String,
    pub is_tls_inspected: bool,
    pub is_explicit_proxy_request: bool,
    /// The web category the FQDN falls in, when a rule names categories.
    pub web_category: String,
}

/// A query the firewall's DNS proxy answered (`AZFWDnsQuery`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DnsQuery {
    #[serde(rename = "SourceIp")]
    pub source_ip: String,
    #[serde(rename = "SourcePort")]
    pub source_port: u16,
    #[serde(rename = "QueryId")]
    pub query_id: u16,
    /// `A`, `AAAA`, `CNAME` and the like.
    #[serde(rename = "QueryType")]
    pub query_type: String,
    /// `IN`, almost always.
    #[serde(rename = "QueryClass")]
    pub query_class: String,
    /// The name asked, with its final dot (`api.contoso.com.`).
    #[serde(rename = "QueryName")]
    pub query_name: String,
    /// `UDP` or `TCP`.
    #[serde(rename = "Protocol")]
    pub protocol: String,
    #[serde(rename = "RequestSize")]
    pub request_size: u32,
    #[serde(rename = "DnssecOkBit")]
    pub dnssec_ok_bit: bool,
    #[serde(rename = "EDNS0BufferSize")]
    pub edns0_buffer_size: u32,
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL` and the like.
    #[serde(rename = "ResponseCode")]
    pub response_code: String,
    /// The header's flags, comma-separated (`qr,aa,rd,ra`).
    #[serde(rename = "ResponseFlags")]
    pub response_flags: String,
    #[serde(rename = "ResponseSize")]
    pub response_size: u32,
    #[serde(rename = "RequestDurationSecs")]
    pub request_duration_secs: f64,
    /// The response code's number (0 for `NOERROR`).
    #[serde(rename = "ErrorNumber")]
    pub error_number: u16,
    /// Empty when the query was answered.
    #[serde(rename = "ErrorMessage")]
    pub error_message: String,
}

/// One row of any of the firewall's tables.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum FirewallLogEntry {
    NetworkRule(NetworkRule),
    NatRule(NatRule),
    ApplicationRule(ApplicationRule),
    DnsQuery(DnsQuery),
}

impl FirewallLogEntry {
    /// The table (and diagnostic category) the row belongs to.
    pub fn category(&self) -> &'static str {
        match self {
            FirewallLogEntry::NetworkRule(_) => "AZFWNetworkRule",
            FirewallLogEntry::NatRule(_) => "AZFWNatRule",
            FirewallLogEntry::ApplicationRule(_) => "AZFWApplicationRule",
            FirewallLogEntry::DnsQuery(_) => "AZFWDnsQuery",
        }
    }

    /// The storage container Azure's diagnostic settings write the
    /// category to: `insights-logs-` and the category in lower case.
    pub fn container(&self) -> String {
        format!("insights-logs-{}", self.category().to_lowercase())
    }
}

impl From<NetworkRule> for FirewallLogEntry {
    fn from(row: NetworkRule) -> Self {
        FirewallLogEntry::NetworkRule(row)
    }
}

impl From<NatRule> for FirewallLogEntry {
    fn from(row: NatRule) -> Self {
        FirewallLogEntry::NatRule(row)
    }
}

impl From<ApplicationRule> for FirewallLogEntry {
    fn from(row: ApplicationRule) -> Self {
        FirewallLogEntry::ApplicationRule(row)
    }
}

impl From<DnsQuery> for FirewallLogEntry {
    fn from(row: DnsQuery) -> Self {
        FirewallLogEntry::DnsQuery(row)
    }
}

/// The columns each table has in the Azure Monitor reference, without
/// the workspace's own (`TimeGenerated`, `Type`, `TenantId`,
/// `SourceSystem` and those beginning with `_`).
pub const AZURE_COLUMNS: [(&str, &[&str]); 4] = [
    (
        "AZFWNetworkRule",
        &[
            "Action",
            "ActionReason",
            "DestinationIp",
            "DestinationPort",
            "Policy",
            "Protocol",
            "Rule",
            "RuleCollection",
            "RuleCollectionGroup",
            "SourceIp",
            "SourcePort",
        ],
    ),
    (
        "AZFWNatRule",
        &[
            "DestinationIp",
            "DestinationPort",
            "Policy",
            "Protocol",
            "Rule",
            "RuleCollection",
            "RuleCollectionGroup",
            "SourceIp",
            "SourcePort",
            "TranslatedIp",
            "TranslatedPort",
        ],
    ),
    (
        "AZFWApplicationRule",
        &[
            "Action",
            "ActionReason",
            "DestinationPort",
            "Fqdn",
            "IsExplicitProxyRequest",
            "IsTlsInspected",
            "Policy",
            "Protocol",
            "Rule",
            "RuleCollection",
            "RuleCollectionGroup",
            "SourceIp",
            "SourcePort",
            "TargetUrl",
            "WebCategory",
        ],
    ),
    (
        "AZFWDnsQuery",
        &[
            "DnssecOkBit",
            "EDNS0BufferSize",
            "ErrorMessage",
            "ErrorNumber",
            "Protocol",
            "QueryClass",
            "QueryId",
            "QueryName",
            "QueryType",
            "RequestDurationSecs",
            "RequestSize",
            "ResponseCode",
            "ResponseFlags",
            "ResponseSize",
            "SourceIp",
            "SourcePort",
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(entry: &FirewallLogEntry) -> Vec<String> {
        let value = serde_json::to_value(entry).unwrap();
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    fn azure(category: &str) -> Vec<String> {
        let (_, columns) = AZURE_COLUMNS.iter().find(|(c, _)| *c == category).unwrap();
        let mut columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        columns.sort();
        columns
    }

    fn examples() -> Vec<FirewallLogEntry> {
        vec![
            NetworkRule {
                protocol: "TCP".into(),
                source_ip: "10.1.1.4".into(),
                source_port: 40000,
                destination_ip: "10.2.1.4".into(),
                destination_port: 22,
                action: "Deny",
                policy: "pol".into(),
                rule_collection_group: String::new(),
                rule_collection: String::new(),
                rule: String::new(),
                action_reason: "Default Action".into(),
            }
            .into(),
            NatRule {
                protocol: "TCP".into(),
                source_ip: "203.0.113.10".into(),
                source_port: 50000,
                destination_ip: "198.51.100.20".into(),
                destination_port: 443,
                translated_ip: "10.2.1.4".into(),
                translated_port: 8443,
                policy: "pol".into(),
                rule_collection_group: "g".into(),
                rule_collection: "dnat".into(),
                rule: "web".into(),
            }
            .into(),
            ApplicationRule {
                protocol: "HTTPS".into(),
                source_ip: "10.1.1.4".into(),
                source_port: 41000,
                destination_port: 443,
                fqdn: "archive.ubuntu.com".into(),
                target_url: String::new(),
                action: "Allow",
                policy: "pol".into(),
                rule_collection_group: "g".into(),
                rule_collection: "web".into(),
                rule: "ubuntu".into(),
                action_reason: String::new(),
                is_tls_inspected: false,
                is_explicit_proxy_request: false,
                web_category: String::new(),
            }
            .into(),
            DnsQuery {
                source_ip: "10.1.1.4".into(),
                source_port: 53000,
                query_id: 4242,
                query_type: "A".into(),
                query_class: "IN".into(),
                query_name: "api.contoso.com.".into(),
                protocol: "UDP".into(),
                request_size: 44,
                dnssec_ok_bit: false,
                edns0_buffer_size: 1232,
                response_code: "NOERROR".into(),
                response_flags: "qr,rd,ra".into(),
                response_size: 60,
                request_duration_secs: 0.002,
                error_number: 0,
                error_message: String::new(),
            }
            .into(),
        ]
    }

    #[test]
    fn every_table_has_azures_columns_and_no_other() {
        let examples = examples();
        assert_eq!(examples.len(), AZURE_COLUMNS.len());
        for entry in &examples {
            assert_eq!(
                columns(entry),
                azure(entry.category()),
                "{}",
                entry.category()
            );
        }
    }

    #[test]
    fn each_table_has_its_container() {
        let containers: Vec<String> = examples().iter().map(FirewallLogEntry::container).collect();
        assert_eq!(
            containers,
            [
                "insights-logs-azfwnetworkrule",
                "insights-logs-azfwnatrule",
                "insights-logs-azfwapplicationrule",
                "insights-logs-azfwdnsquery",
            ]
        );
    }

    #[test]
    fn values_are_spelled_as_azure_writes_them() {
        let value = serde_json::to_value(&examples()[1]).unwrap();
        assert_eq!(value["TranslatedIp"], "10.2.1.4");
        assert_eq!(value["TranslatedPort"], 8443);
        let value = serde_json::to_value(&examples()[3]).unwrap();
        assert_eq!(value["QueryName"], "api.contoso.com.");
        assert_eq!(value["EDNS0BufferSize"], 1232);
        assert_eq!(value["DnssecOkBit"], false);
    }
}
