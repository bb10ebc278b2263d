//! The writer's resolvers and rulesets: what is read, what is refused, and
//! where a refusal of vnetd's is placed.

use super::super::tests::{resource, with_more, NET};
use super::super::topology_yaml;
use crate::assert_has;
use serde_json::{json, Value};

fn subnet_id(vnet: &str, subnet: &str) -> String {
    format!("{NET}/virtualNetworks/{vnet}/subnets/{subnet}")
}

const RESOLVER: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/\
                        dnsResolvers/r1";
const RULESET: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/\
                       dnsForwardingRulesets/rs1";

/// A VNet `hub` with the subnets `in`, `out` and `app`, a resolver `r1`
/// in it with the outbound endpoint `out`, a ruleset `rs1` through it, and
/// what `more` adds (at line 10 and on).
fn with_resolver(more: Vec<(&str, Value)>) -> Vec<crate::Resource> {
    let resources = vec![
        resource(
            "azurerm_virtual_network",
            "hub",
            json!({"name": "hub", "address_space": ["10.0.0.0/16"], "subnet": [
                {"name": "in", "address_prefixes": ["10.0.4.0/28"]},
                {"name": "out", "address_prefixes": ["10.0.4.16/28"]},
                {"name": "app", "address_prefixes": ["10.0.1.0/24"]}]}),
            1,
        ),
        resource(
            "azurerm_private_dns_resolver",
            "r1",
            json!({"name": "r1", "virtual_network_id": format!("{NET}/virtualNetworks/hub")}),
            2,
        ),
        resource(
            "azurerm_private_dns_resolver_outbound_endpoint",
            "out",
            json!({"name": "out", "private_dns_resolver_id": RESOLVER,
                   "subnet_id": subnet_id("hub", "out")}),
            3,
        ),
        resource(
            "azurerm_private_dns_resolver_dns_forwarding_ruleset",
            "rs1",
            json!({"name": "rs1", "private_dns_resolver_outbound_endpoint_ids": [
                format!("{RESOLVER}/outboundEndpoints/out")]}),
            4,
        ),
    ];
    with_more(resources, more, "")
}

fn inbound(name: &str, config: Value) -> (&'static str, Value) {
    (
        "azurerm_private_dns_resolver_inbound_endpoint",
        json!({"name": name, "private_dns_resolver_id": RESOLVER, "ip_configurations": [config]}),
    )
}

fn rule(name: &str, targets: Value, enabled: Option<bool>) -> (&'static str, Value) {
    let mut attributes = json!({"name": name, "dns_forwarding_ruleset_id": RULESET,
        "domain_name": format!("{name}.contoso.com."), "target_dns_servers": targets});
    if let Some(enabled) = enabled {
        attributes["enabled"] = json!(enabled);
    }
    ("azurerm_private_dns_resolver_forwarding_rule", attributes)
}

/// A target without a port, or with azurerm's 0 for none, is on 53; a
/// rule is enabled unless it says false; a Dynamic inbound endpoint
/// whose address nobody knows is written without one (vnetd gives it the
/// subnet's first usable address).
#[test]
fn ports_default_to_53_and_only_a_disabled_rule_says_so() {
    let resources = with_resolver(vec![
        inbound(
            "in",
            json!({"subnet_id": subnet_id("hub", "in"), "private_ip_allocation_method": "Dynamic"}),
        ),
        rule(
            "a",
            json!([{"ip_address": "192.168.1.10"}, {"ip_address": "192.168.1.11", "port": 0},
                   {"ip_address": "fd00:1::10", "port": 5353}]),
            None,
        ),
        rule(
            "b",
            json!([{"ip_address": "192.168.1.12", "port": 53}]),
            Some(false),
        ),
    ]);
    let text = topology_yaml(&resources, "a test").unwrap();
    assert_has(
        &text,
        "    inbound_endpoints:\n      # main.tf:10\n      - name: in\n        subnet: \
             hub/in\n    outbound_endpoints:\n",
    );
    let rules = [
        "      - name: a",
        "        domain_name: a.contoso.com.",
        "        target_dns_servers: [{ip_address: 192.168.1.10, port: 53}, {ip_address: \
         192.168.1.11, port: 53}, {ip_address: \"fd00:1::10\", port: 5353}]",
        "      # main.tf:12",
        "      - name: b",
        "        domain_name: b.contoso.com.",
        "        enabled: false",
        "        target_dns_servers: [{ip_address: 192.168.1.12, port: 53}]",
    ];
    assert_has(&text, &rules.join("\n"));
    let loaded = vnetd_model::topology::parse_str("t", &text).unwrap();
    let t = loaded.topology;
    let resolver = t.dns_resolvers.iter().next().unwrap();
    assert_eq!(resolver.inbound[0].address.to_string(), "10.0.4.4");
    let rules = &t.forwarding_rulesets[0].rules;
    assert_eq!(
        (
            rules[0].enabled,
            rules[1].enabled,
            rules[0].targets[2].to_string()
        ),
        (true, false, "[fd00:1::10]:5353".to_string())
    );
}

/// What the input itself gets wrong is refused at the resource: a Static
/// endpoint without an address, two IP configurations, a resolver or
/// ruleset the input lacks, an outbound endpoint ID of another kind, a
/// rule's name twice.
#[test]
fn broken_parts_are_refused_at_their_resource() {
    let refusal = |more: Vec<(&str, Value)>| {
        let err = topology_yaml(&with_resolver(more), "a test").unwrap_err();
        (err.location, err.message)
    };
    let static_in = json!({"subnet_id": subnet_id("hub", "in"),
                           "private_ip_allocation_method": "Static"});
    assert_eq!(
        refusal(vec![inbound("in", static_in.clone())]),
        (
            "main.tf:10".to_string(),
            "inbound endpoint `in` is Static but has no private_ip_address".to_string()
        )
    );
    let (kind, mut two) = inbound("in", static_in.clone());
    two["ip_configurations"] = json!([static_in.clone(), static_in]);
    assert_eq!(
        refusal(vec![(kind, two)]).1,
        "inbound endpoint `in` has 2 IP configurations; Azure takes one"
    );
    let (kind, mut elsewhere) = inbound("in", json!({"subnet_id": subnet_id("hub", "in")}));
    elsewhere["private_dns_resolver_id"] = json!(format!("{NET}/dnsResolvers/r9"));
    assert_eq!(
        refusal(vec![(kind, elsewhere)]).1,
        format!("private_dns_resolver_id `{NET}/dnsResolvers/r9` names a resource that is not in the input")
    );
    let ruleset = (
        "azurerm_private_dns_resolver_dns_forwarding_ruleset",
        json!({"name": "rs2", "private_dns_resolver_outbound_endpoint_ids": [
            format!("{RESOLVER}/inboundEndpoints/out")]}),
    );
    assert_eq!(
        refusal(vec![ruleset]).1,
        format!(
            "private_dns_resolver_outbound_endpoint_ids `{RESOLVER}/inboundEndpoints/out` is not \
             the ID of an outbound endpoint (.../dnsResolvers/RESOLVER/outboundEndpoints/NAME)"
        )
    );
    let (kind, mut lost) = rule("a", json!([{"ip_address": "192.168.1.10"}]), None);
    lost["dns_forwarding_ruleset_id"] = json!(format!("{NET}/dnsForwardingRulesets/rs9"));
    assert_eq!(refusal(vec![(kind, lost)]).0, "main.tf:10");
    let twice = refusal(vec![
        rule("a", json!([{"ip_address": "192.168.1.10"}]), None),
        rule("a", json!([{"ip_address": "192.168.1.11"}]), None),
    ]);
    assert_eq!(
        twice,
        (
            "main.tf:11".to_string(),
            "a second forwarding rule of ruleset `rs1` named `a` (the first is at main.tf:10); \
             vnetd names must be unique, across resource groups too"
                .to_string()
        )
    );
}

/// What vnetd refuses of the written file (an endpoint in a subnet that is
/// not its alone, a link to a VNet of another region) is reported at the
/// resource it came from.
#[test]
fn a_refusal_of_vnetd_points_at_the_endpoint_or_link() {
    let shared = with_resolver(vec![
        inbound("in", json!({"subnet_id": subnet_id("hub", "in")})),
        inbound("in2", json!({"subnet_id": subnet_id("hub", "in")})),
    ]);
    let err = topology_yaml(&shared, "a test").unwrap_err();
    assert_eq!(err.location, "main.tf:11", "{}", err.message);
    err.assert_contains("hub/in is not a resolver endpoint's alone");

    let mut far = with_resolver(vec![(
        "azurerm_private_dns_resolver_virtual_network_link",
        json!({"name": "to-far", "dns_forwarding_ruleset_id": RULESET,
               "virtual_network_id": format!("{NET}/virtualNetworks/far")}),
    )]);
    far[0].attributes["location"] = json!("westeurope");
    far.insert(
        1,
        resource(
            "azurerm_virtual_network",
            "far",
            json!({"name": "far", "location": "eastus", "address_space": ["10.9.0.0/16"]}),
            5,
        ),
    );
    let err = topology_yaml(&far, "a test").unwrap_err();
    assert_eq!(err.location, "main.tf:10", "{}", err.message);
    err.assert_contains("VNet `far` is in eastus, the ruleset's resolver in westeurope");
}
