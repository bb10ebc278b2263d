//! Azure Firewall's edge, live, on `config/internet-edge.yaml`: a
//! connection the firewall's DNAT rule translates reaches the backend from
//! the firewall's first instance address (10.0.1.5), not its front
//! address (10.0.1.4), so an NSG on the backend that admits HTTPS only
//! from the front address (and denies the rest, which Azure's default
//! `AllowVnetInBound` would admit) refuses it, and one that admits the
//! instance address lets it in, with real `curl`s from the lab's Internet to the
//! firewall's public address. Each connection the DNAT rule admitted is
//! one `AZFWNatRule` row with the translated address and port, none an
//! `AZFWNetworkRule` row. Needs root.

use crate::common;

use common::check_agreement::firewall_table;
use common::servers::EchoServer;
use common::{wait_for, Lab};
use serde_json::{json, Value};
use std::time::Duration;
use vnetd::dataplane::DropReason;

const EXAMPLE: &str = include_str!("../../config/internet-edge.yaml");
const PREFIX: &str = "fwedge";
const ALLOWED: &str = "source_address_prefix: 10.0.1.0/26";

/// The rule after which vm2's NSG denies the rest: without it, Azure's
/// default `AllowVnetInBound` admits AzureFirewallSubnet whatever the
/// rule above says.
const LAST_RULE: &str = "destination_port_range: \"80\"}\n";
const DENY_THE_REST: &str = "      - {name: deny-the-rest, priority: 4000, direction: Inbound, access: Deny, protocol: \"*\", source_address_prefix: \"*\", source_port_range: \"*\", destination_address_prefix: \"*\", destination_port_range: \"*\"}\n";

/// internet-edge.yaml with vm2's NSG admitting HTTPS from `source` only.
fn nsg_admitting(source: &str) -> String {
    assert!(EXAMPLE.contains(ALLOWED));
    assert_eq!(EXAMPLE.matches(LAST_RULE).count(), 1);
    let text = EXAMPLE
        .replace(ALLOWED, &format!("source_address_prefix: {source}"))
        .replace(LAST_RULE, &format!("{LAST_RULE}{DENY_THE_REST}"));
    common::with_netns_prefix(&text, PREFIX)
}

/// What `curl` from the Internet's 203.0.113.10, source port `port`, to
/// the firewall's public address on 443 answered (the echo server on vm2
/// answers with the client address it saw); empty when it failed.
fn through_dnat(internet: &str, port: u16) -> String {
    let port = port.to_string();
    let answer = common::stdout_in(
        internet,
        &[
            "curl",
            "-s",
            "-m",
            "3",
            "--interface",
            "203.0.113.10",
            "--local-port",
            &port,
            "http://198.51.100.20:443/",
        ],
    );
    answer.trim().to_string()
}

/// The `AZFWNatRule` row of the connection from source port `port`.
fn nat_row(port: u16) -> Value {
    json!({
        "Protocol": "TCP",
        "SourceIp": "203.0.113.10",
        "SourcePort": port,
        "DestinationIp": "198.51.100.20",
        "DestinationPort": 443,
        "TranslatedIp": "10.2.1.4",
        "TranslatedPort": 443,
        "Policy": "hub-fw-policy",
        "RuleCollectionGroup": "edge",
        "RuleCollection": "publish-web",
        "Rule": "https-to-vm2",
    })
}

#[test]
fn dnat_reaches_the_backend_from_an_instance_address_and_is_logged_as_a_nat_rule() {
    let logs = tempfile::tempdir().unwrap();
    let options = common::with_flow_logs(logs.path(), Duration::from_millis(300));
    let lab = Lab::start_with(PREFIX, &nsg_admitting("10.0.1.4/32"), options);
    let internet = format!("{}.internet", lab.ns("vm1"));
    let _web = EchoServer::start(&lab.ns("vm2"), 443, None, None);

    // The front address alone: the translated connection comes from an
    // instance address, and vm2's NSG refuses it.
    let refused = lab.stats("vm2").drops_for(DropReason::NsgInbound);
    assert_eq!(through_dnat(&internet, 40001), "");
    assert!(lab.stats("vm2").drops_for(DropReason::NsgInbound) > refused);

    // The instance address: admitted, and vm2 sees it as the source.
    lab.daemon()
        .apply("instance.yaml", &nsg_admitting("10.0.1.5/32"))
        .unwrap();
    let answered = wait_for(Duration::from_secs(10), || {
        through_dnat(&internet, 40002) == "10.0.1.5"
    });
    assert!(answered, "vm2 answers the DNAT'd connection from 10.0.1.5");

    // One AZFWNatRule row per connection the rule admitted, the refused
    // one too (the firewall admitted it; vm2's NSG did not), none in the
    // network rule log.
    let container = "insights-logs-azfwnatrule";
    let logged = wait_for(Duration::from_secs(10), || {
        firewall_table(logs.path(), container).len() >= 2
    });
    let rows = firewall_table(logs.path(), container);
    assert!(logged, "{rows:#?}");
    let mut properties: Vec<Value> = rows.iter().map(|r| r["properties"].clone()).collect();
    properties.sort_by_key(|p| p["SourcePort"].as_u64());
    assert_eq!(properties[0], nat_row(40001), "{rows:#?}");
    assert!(
        properties[1..].iter().all(|p| p["SourcePort"] != 40001),
        "{rows:#?}"
    );
    assert!(properties.contains(&nat_row(40002)), "{rows:#?}");
    for row in &rows {
        assert_eq!(row["category"], "AZFWNatRule");
        assert_eq!(row["operationName"], "AZFWNatRule");
        assert!(row["resourceId"]
            .as_str()
            .unwrap()
            .ends_with("/MICROSOFT.NETWORK/AZUREFIREWALLS/HUB-FW"));
    }
    let network = firewall_table(logs.path(), "insights-logs-azfwnetworkrule");
    assert!(
        network
            .iter()
            .all(|r| r["properties"]["DestinationIp"] != "198.51.100.20"),
        "{network:#?}"
    );
}
