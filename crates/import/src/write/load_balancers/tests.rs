//! The writer's public load balancers: what is written, what is left out
//! and why, and what vnetd refuses in the written file.

use super::super::tests::{net_id, resource, with_more};
use super::super::topology_yaml;
use crate::assert_has;
use crate::Resource;
use serde_json::{json, Value};

const LB: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb";

/// A VNet with subnet `web`, NIC `web1` in it, public IP `pip` (at
/// 203.0.113.7), and what `more` adds (at line 10 and on).
fn network(more: Vec<(&str, Value)>) -> Vec<Resource> {
    let resources = vec![
        resource(
            "azurerm_virtual_network",
            "app",
            json!({"name": "app", "location": "westeurope", "address_space": ["10.3.0.0/16"],
                   "subnet": [{"name": "web", "address_prefixes": ["10.3.1.0/24"]}]}),
            1,
        ),
        resource(
            "azurerm_network_interface",
            "web1",
            json!({"name": "web1", "id": net_id("networkInterfaces/web1"), "ip_configuration": [{
                "name": "c", "subnet_id": net_id("virtualNetworks/app/subnets/web"),
                "private_ip_address_allocation": "Static", "private_ip_address": "10.3.1.4"}]}),
            2,
        ),
        resource(
            "azurerm_public_ip",
            "pip",
            json!({"name": "pip", "id": net_id("publicIPAddresses/pip"), "sku": "Standard",
                   "location": "westeurope", "ip_address": "203.0.113.7"}),
            3,
        ),
    ];
    with_more(resources, more, "")
}

fn pool() -> (&'static str, Value) {
    (
        "azurerm_lb_backend_address_pool",
        json!({"name": "webs", "loadbalancer_id": LB}),
    )
}

fn member() -> (&'static str, Value) {
    (
        "azurerm_network_interface_backend_address_pool_association",
        json!({"network_interface_id": net_id("networkInterfaces/web1"),
               "ip_configuration_name": "c",
               "backend_address_pool_id": format!("{LB}/backendAddressPools/webs")}),
    )
}

fn lb(frontends: Value) -> (&'static str, Value) {
    (
        "azurerm_lb",
        json!({"name": "lb", "id": LB, "sku": "Standard", "frontend_ip_configuration": frontends}),
    )
}

fn outbound_rule(frontends: &[&str], more: Value) -> (&'static str, Value) {
    let mut rule = json!({"name": "out", "loadbalancer_id": LB,
        "backend_address_pool_id": format!("{LB}/backendAddressPools/webs"),
        "protocol": "Tcp",
        "frontend_ip_configuration": frontends.iter().map(|f| json!({"name": f}))
            .collect::<Vec<_>>()});
    if let (Value::Object(rule), Value::Object(more)) = (&mut rule, more) {
        rule.extend(more);
    }
    ("azurerm_lb_outbound_rule", rule)
}

/// The outbound rule's lines as written (after its source comment).
fn outbound_rule_lines(text: &str) -> String {
    let at = text
        .find("    outbound_rules:\n")
        .unwrap_or_else(|| panic!("{text}"));
    text[at..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with("        ") || l.starts_with("      - "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// 0 ports is Azure's allocation by pool size, the file's default: not
/// written; none is azurerm's default of 1024; v4's `tcp_reset_enabled`
/// is read as v3's `enable_tcp_reset`.
#[test]
fn outbound_ports_are_azurerms_default_unless_given() {
    let frontends =
        json!([{"name": "fe", "public_ip_address_id": net_id("publicIPAddresses/pip")}]);
    let given = |more: Value| {
        let resources = network(vec![
            lb(frontends.clone()),
            pool(),
            outbound_rule(&["fe"], more),
            member(),
        ]);
        outbound_rule_lines(&topology_yaml(&resources, "a test").unwrap())
    };
    let head = "      - name: out\n        frontend_ip_configurations: [fe]\n        \
                backend_address_pool: webs\n        protocol: Tcp\n";
    assert_eq!(
        given(json!({"allocated_outbound_ports": 0})),
        head.to_string()
    );
    assert_eq!(
        given(json!({})),
        format!("{head}        allocated_outbound_ports: 1024\n")
    );
    assert_eq!(
        given(
            json!({"allocated_outbound_ports": 2048, "idle_timeout_in_minutes": 4,
                     "tcp_reset_enabled": true})
        ),
        format!("{head}        allocated_outbound_ports: 2048\n        tcp_reset_enabled: true\n")
    );
}

/// A frontend on a public IP the input does not hold is left out, with
/// the reason; the rule on it is listed as ignored, and an outbound rule
/// keeps its other frontends. A load balancer left with no frontend is
/// listed as ignored with all that belongs to it.
#[test]
fn a_frontend_on_a_public_ip_not_in_the_input_is_left_out() {
    let elsewhere = net_id("publicIPAddresses/kept-elsewhere");
    let frontends = json!([
        {"name": "fe", "public_ip_address_id": net_id("publicIPAddresses/pip")},
        {"name": "gone", "public_ip_address_id": elsewhere}]);
    let rule = (
        "azurerm_lb_rule",
        json!({"name": "http", "loadbalancer_id": LB, "frontend_ip_configuration_name": "gone",
               "backend_address_pool_ids": [format!("{LB}/backendAddressPools/webs")],
               "protocol": "Tcp", "frontend_port": 80, "backend_port": 80}),
    );
    let resources = network(vec![
        lb(frontends),
        pool(),
        rule,
        outbound_rule(&["fe", "gone"], json!({"allocated_outbound_ports": 0})),
        member(),
    ]);
    let text = topology_yaml(&resources, "a test").unwrap();
    let why = format!("`{elsewhere}` names no public IP address of the input");
    for line in [
        format!("#   azurerm_lb.lb (main.tf:10): frontend `gone` left out: {why}\n"),
        format!("#   azurerm_lb_rule.http (main.tf:12): its frontend `gone` is left out: {why}\n"),
        format!("#   azurerm_lb_outbound_rule.out (main.tf:13): frontend `gone` left out: {why}\n"),
    ] {
        assert!(text.contains(&line), "{line}\n{text}");
    }
    assert_has(
        &text,
        "    frontend_ip_configurations:\n      - name: fe\n        public_ip_address: pip\n    \
         backend_address_pools:\n",
    );
    assert!(!text.contains("    rules:"), "{text}");
    assert_eq!(
        outbound_rule_lines(&text),
        "      - name: out\n        frontend_ip_configurations: [fe]\n        \
         backend_address_pool: webs\n        protocol: Tcp\n"
    );

    let only_gone = json!([{"name": "gone", "public_ip_address_id": elsewhere}]);
    let text = topology_yaml(&network(vec![lb(only_gone), pool(), member()]), "a test").unwrap();
    assert_has(
        &text,
        &format!(
            "#   azurerm_lb.lb (main.tf:10): no frontend vnetd can write (frontend `gone` left \
             out: {why})\n#   azurerm_lb_backend_address_pool.webs (main.tf:11): belongs to load \
             balancer `lb`, which is not emulated\n"
        ),
    );
    assert!(!text.contains("load_balancers:"), "{text}");
    // The public IP a skipped load balancer does not hold stays, unattached.
    assert_has(
        &text,
        "public_ip_addresses:\n  # main.tf:3\n  - name: pip\n",
    );
}

/// A public and a private frontend in one load balancer are written as
/// they are, and vnetd refuses them with Azure's reason, at the load
/// balancer's source.
#[test]
fn public_and_private_frontends_are_refused_with_azures_reason() {
    let frontends = json!([
        {"name": "private", "subnet_id": net_id("virtualNetworks/app/subnets/web"),
         "private_ip_address_allocation": "Static", "private_ip_address": "10.3.1.10"},
        {"name": "public", "public_ip_address_id": net_id("publicIPAddresses/pip")}]);
    let err = topology_yaml(&network(vec![lb(frontends), pool()]), "a test").unwrap_err();
    assert_eq!(err.location, "main.tf:10");
    err.assert_contains(
        "frontend `public` and frontend `private` are one public and one private: Azure \
             keeps a load balancer's frontends all public or all private",
    );
}

/// An outbound rule naming a frontend its load balancer lacks is refused
/// at the rule.
#[test]
fn an_outbound_rule_on_a_frontend_the_load_balancer_lacks_is_refused() {
    let frontends =
        json!([{"name": "fe", "public_ip_address_id": net_id("publicIPAddresses/pip")}]);
    let resources = network(vec![
        lb(frontends),
        pool(),
        outbound_rule(&["typo"], json!({})),
    ]);
    let err = topology_yaml(&resources, "a test").unwrap_err();
    err.assert_is(
        "main.tf:12",
        "load balancer `lb` has no frontend named `typo`",
    );
}
