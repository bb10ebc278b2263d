//! The writer's Internet edge: what is written, what is left out and why,
//! and what the written file gives once vnetd reads it.

use super::super::tests::{net_id, resource, with_more};
use super::super::topology_yaml;
use crate::assert_has;
use crate::Resource;
use serde_json::{json, Value};
use std::net::IpAddr;

/// A hub (`AzureFirewallSubnet`, `web`) and a spoke (`app`, `db`) in West
/// Europe, and what `more` adds (at line 10 and on).
fn network(more: Vec<(&str, Value)>) -> Vec<Resource> {
    let resources = vec![
        resource(
            "azurerm_virtual_network",
            "hub",
            json!({"name": "hub", "location": "westeurope", "address_space": ["10.10.0.0/16"],
                   "subnet": [
                       {"name": "AzureFirewallSubnet", "address_prefixes": ["10.10.1.0/26"]},
                       {"name": "web", "address_prefixes": ["10.10.2.0/24"],
                        "default_outbound_access_enabled": false}]}),
            1,
        ),
        resource(
            "azurerm_virtual_network",
            "spoke",
            json!({"name": "spoke", "location": "West Europe",
                   "address_space": ["10.20.0.0/16"]}),
            2,
        ),
        resource(
            "azurerm_subnet",
            "app",
            json!({"name": "app", "virtual_network_name": "spoke",
                   "address_prefixes": ["10.20.1.0/24"]}),
            3,
        ),
        resource(
            "azurerm_subnet",
            "db",
            json!({"name": "db", "virtual_network_name": "spoke",
                   "address_prefixes": ["10.20.2.0/24"],
                   "default_outbound_access_enabled": false}),
            4,
        ),
    ];
    with_more(resources, more, "association")
}

fn public_ip(name: &str, address: Option<&str>, prefix: Option<&str>) -> (&'static str, Value) {
    let mut attributes = json!({"name": name, "id": net_id(&format!("publicIPAddresses/{name}")),
        "location": "westeurope", "sku": "Standard", "allocation_method": "Static"});
    if let Some(address) = address {
        attributes["ip_address"] = json!(address);
    }
    if let Some(prefix) = prefix {
        attributes["public_ip_prefix_id"] = json!(net_id(&format!("publicIPPrefixes/{prefix}")));
    }
    ("azurerm_public_ip", attributes)
}

fn nic(name: &str, subnet: &str, address: &str, public_ip: Option<&str>) -> (&'static str, Value) {
    let mut config = json!({"name": "internal", "subnet_id": net_id(subnet),
        "private_ip_address_allocation": "Static", "private_ip_address": address});
    if let Some(ip) = public_ip {
        config["public_ip_address_id"] = json!(net_id(&format!("publicIPAddresses/{ip}")));
    }
    (
        "azurerm_network_interface",
        json!({"name": name, "id": net_id(&format!("networkInterfaces/{name}")),
               "ip_configuration": [config]}),
    )
}

fn firewall(public_ip: &str) -> Vec<(&'static str, Value)> {
    let policy = net_id("firewallPolicies/hub-fw-policy");
    vec![
        (
            "azurerm_firewall_policy",
            json!({"name": "hub-fw-policy", "id": policy}),
        ),
        (
            "azurerm_firewall",
            json!({"name": "hub-fw", "sku_name": "AZFW_VNet", "sku_tier": "Standard",
                   "firewall_policy_id": policy, "ip_configuration": [{"name": "data",
                       "subnet_id": net_id("virtualNetworks/hub/subnets/AzureFirewallSubnet"),
                       "public_ip_address_id": net_id(&format!("publicIPAddresses/{public_ip}"))}]}),
        ),
    ]
}

fn dnat_group(rules: Value) -> (&'static str, Value) {
    (
        "azurerm_firewall_policy_rule_collection_group",
        json!({"name": "inbound", "priority": 100,
               "firewall_policy_id": net_id("firewallPolicies/hub-fw-policy"),
               "nat_rule_collection": [{"name": "dnat-to-spoke", "priority": 100,
                                        "action": "Dnat", "rule": rules}]}),
    )
}

fn nat_gateway(name: &str, ip: &str, prefix: &str, subnet: &str) -> Vec<(&'static str, Value)> {
    let gateway = net_id(&format!("natGateways/{name}"));
    vec![
        (
            "azurerm_nat_gateway",
            json!({"name": name, "id": gateway, "sku_name": "Standard",
                   "idle_timeout_in_minutes": 10}),
        ),
        (
            "azurerm_nat_gateway_public_ip_association",
            json!({"nat_gateway_id": gateway,
                   "public_ip_address_id": net_id(&format!("publicIPAddresses/{ip}"))}),
        ),
        (
            "azurerm_nat_gateway_public_ip_prefix_association",
            json!({"nat_gateway_id": gateway,
                   "public_ip_prefix_id": net_id(&format!("publicIPPrefixes/{prefix}"))}),
        ),
        (
            "azurerm_subnet_nat_gateway_association",
            json!({"subnet_id": net_id(subnet), "nat_gateway_id": gateway}),
        ),
    ]
}

fn loaded(text: &str) -> vnetd_model::topology::Topology {
    match vnetd_model::plan::parse_str("t", text) {
        Ok(loaded) => loaded.topology,
        Err(errors) => panic!("{errors:?}\n{text}"),
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// What state or `az` gives, with every address Azure allocated: the file
/// names them, and vnetd reads the gateway's addresses (its public IP's,
/// then its prefix's), the subnet it serves, the NIC's and the firewall's
/// public addresses and the DNAT rule as they are in Azure.
#[test]
fn a_deployed_edge_is_written_with_azures_addresses() {
    let mut more = vec![
        (
            "azurerm_public_ip_prefix",
            json!({"name": "egress-prefix", "id": net_id("publicIPPrefixes/egress-prefix"),
                   "location": "westeurope", "ip_prefix": "203.0.113.16/30",
                   "prefix_length": 30}),
        ),
        public_ip("natgw-pip", Some("203.0.113.11"), None),
        public_ip("fw-pip", Some("203.0.113.10"), None),
        public_ip("web1-pip", Some("203.0.113.12"), None),
        nic(
            "web1",
            "virtualNetworks/hub/subnets/web",
            "10.10.2.4",
            Some("web1-pip"),
        ),
        nic(
            "app1",
            "virtualNetworks/spoke/subnets/app",
            "10.20.1.4",
            None,
        ),
    ];
    more.extend(nat_gateway(
        "spoke-natgw",
        "natgw-pip",
        "egress-prefix",
        "virtualNetworks/spoke/subnets/app",
    ));
    more.extend(firewall("fw-pip"));
    more.push(dnat_group(
        json!([{"name": "https-to-app1", "protocols": ["TCP"],
        "source_addresses": ["*"], "source_ip_groups": [],
        "destination_address": "203.0.113.10", "destination_ports": ["443"],
        "translated_address": "10.20.1.4", "translated_fqdn": "", "translated_port": 8443}]),
    ));
    let text = topology_yaml(&network(more), "a test").unwrap();
    assert_has(
        &text,
        "\npublic_ip_prefixes:\n  # main.tf:10\n  - name: egress-prefix\n    ip_prefix: \
             203.0.113.16/30\n    location: westeurope\n\npublic_ip_addresses:\n  # \
             main.tf:12\n  - name: fw-pip\n    ip_address: 203.0.113.10\n    sku: Standard\n    \
             location: westeurope\n",
    );
    assert_has(
        &text,
        "\nnat_gateways:\n  # main.tf:16\n  - name: spoke-natgw\n    sku_name: Standard\n    \
             idle_timeout_in_minutes: 10\n    public_ip_addresses:\n      # main.tf:17\n      - \
             natgw-pip\n    public_ip_prefixes:\n      # main.tf:18\n      - egress-prefix\n    \
             subnets:\n      # main.tf:19\n      - spoke/app\n",
    );
    assert_has(&text, "        nat_rule_collections:\n          # main.tf:22\n          - name: \
             dnat-to-spoke\n            priority: 100\n            action: Dnat\n            \
             rules:\n              # main.tf:22\n              - name: https-to-app1\n                \
             protocols: [TCP]\n                source_addresses: [\"*\"]\n                \
             destination_address: 203.0.113.10\n                destination_ports: \
             [\"443\"]\n                translated_address: 10.20.1.4\n                \
             translated_port: 8443\n");
    assert_has(&text, "    public_ip_address: web1-pip\n");
    assert_has(
        &text,
        "    firewall_policy: hub-fw-policy\n    public_ip_addresses: [fw-pip]\n",
    );
    // Written either way: azurerm's default when the input does not say.
    assert_has(
        &text,
        "      - name: app\n        address_prefixes: [10.20.1.0/24]\n        \
             default_outbound_access: true\n",
    );
    assert_has(
        &text,
        "      - name: db\n        address_prefixes: [10.20.2.0/24]\n        \
             default_outbound_access: false\n",
    );
    assert_has(
        &text,
        "      - name: web\n        address_prefixes: [10.10.2.0/24]\n        \
             default_outbound_access: false\n",
    );

    let t = loaded(&text);
    let e = &t.edge;
    let gateway = &e.nat_gateways[vnetd_model::topology::NatGatewayIdx::new(0)];
    let addresses: Vec<IpAddr> = ["203.0.113.11", "203.0.113.16", "203.0.113.17"]
        .iter()
        .chain(&["203.0.113.18", "203.0.113.19"])
        .map(|a| ip(a))
        .collect();
    assert_eq!(gateway.addresses, addresses);
    assert_eq!(gateway.idle_timeout_minutes, 10);
    let served: Vec<String> = gateway
        .subnets
        .iter()
        .map(|s| format!("{}/{}", t.vnets[s.vnet].name, t.subnet(*s).name))
        .collect();
    assert_eq!(served, ["spoke/app"]);
    let web1 = t.nic_by_name("web1").unwrap();
    assert_eq!(e.nic_public_address(web1), Some(ip("203.0.113.12")));
    let fw = t.firewalls.iter_enumerated().next().unwrap().0;
    assert_eq!(e.firewall_addresses(fw), [ip("203.0.113.10")]);
    let with_outbound: Vec<&str> = e
        .default_outbound
        .iter()
        .map(|s| t.subnet(*s).name.as_str())
        .collect();
    assert_eq!(with_outbound, ["AzureFirewallSubnet", "app"]);
    let rules: Vec<_> = e.dnat_rules.values().flatten().collect();
    let [rule] = rules.as_slice() else {
        panic!("{rules:?}")
    };
    assert_eq!(rule.path(), "inbound/dnat-to-spoke/https-to-app1");
    assert_eq!(
        (rule.destination, rule.destination_port),
        (ip("203.0.113.10"), 443)
    );
    assert_eq!(
        (rule.translated_address, rule.translated_port),
        (ip("10.20.1.4"), 8443)
    );
    assert_eq!(rule.protocols, [vnetd_model::topology::Protocol::Tcp]);
}

/// What a configuration gives before apply: public IPs without addresses,
/// whose addresses vnetd gives, and a DNAT rule naming the firewall's
/// public IP (as the Terraform reader hands on a reference to its
/// address): the rule gets the address vnetd gives that public IP.
#[test]
fn a_dnat_rule_to_a_public_ip_gets_the_address_vnetd_gives_it() {
    let mut more = vec![
        public_ip("web1-pip", None, None),
        public_ip("fw-pip", None, None),
        nic(
            "app1",
            "virtualNetworks/spoke/subnets/app",
            "10.20.1.4",
            None,
        ),
    ];
    more.extend(firewall("fw-pip"));
    more.push(dnat_group(
        json!([{"name": "https-to-app1", "protocols": ["TCP"],
        "source_addresses": ["*"], "destination_address": net_id("publicIPAddresses/fw-pip"),
        "destination_ports": ["443"], "translated_address": "10.20.1.4",
        "translated_port": 8443}]),
    ));
    let text = topology_yaml(&network(more), "a test").unwrap();
    // vnetd gives the public IPs its pool's addresses in the file's order.
    assert_has(
        &text,
        "                destination_address: 198.51.100.1  # public IP `fw-pip`: the \
             address vnetd gives it (Azure's is known only after apply)\n",
    );
    assert_has(
        &text,
        "  - name: fw-pip\n    sku: Standard\n    location: westeurope\n",
    );
    let t = loaded(&text);
    let fw_pip = t
        .edge
        .public_ips
        .iter()
        .find(|p| p.name == "fw-pip")
        .unwrap();
    let rule = t.edge.dnat_rules.values().flatten().next().unwrap();
    assert_eq!(rule.destination, fw_pip.address);
    assert_eq!(fw_pip.address, ip("198.51.100.1"));
}

/// What cannot be written is left out with the reason, never the import:
/// a prefix whose prefix Azure has not picked (and the public IP and NAT
/// gateway naming it), a NIC's public IP the input lacks, a rule value
/// known only after apply, a translation to an FQDN, a DNAT collection
/// of another action; a classic rule's two destinations make two rules.
#[test]
fn what_cannot_be_written_is_left_out_with_why() {
    let gateway = net_id("natGateways/natgw");
    let mut more = vec![
        (
            "azurerm_public_ip_prefix",
            json!({"name": "egress-prefix", "id": net_id("publicIPPrefixes/egress-prefix"),
                   "location": "westeurope", "prefix_length": 28}),
        ),
        public_ip("web2-pip", None, Some("egress-prefix")),
        nic(
            "web1",
            "virtualNetworks/hub/subnets/web",
            "10.10.2.4",
            Some("gone-pip"),
        ),
        (
            "azurerm_nat_gateway",
            json!({"name": "natgw", "id": gateway}),
        ),
        (
            "azurerm_nat_gateway_public_ip_prefix_association",
            json!({"nat_gateway_id": gateway,
                   "public_ip_prefix_id": net_id("publicIPPrefixes/egress-prefix")}),
        ),
        public_ip("fw-pip", Some("203.0.113.10"), None),
    ];
    more.push((
        "azurerm_firewall",
        json!({"name": "classic-fw", "ip_configuration": [{"name": "data",
            "subnet_id": net_id("virtualNetworks/hub/subnets/AzureFirewallSubnet"),
            "public_ip_address_id": net_id("publicIPAddresses/fw-pip")}]}),
    ));
    more.push((
        "azurerm_firewall_nat_rule_collection",
        json!({"name": "ssh-in", "azure_firewall_name": "classic-fw", "priority": 200,
               "action": "Dnat", "rule": [
                   {"name": "ssh", "protocols": ["TCP"], "source_addresses": ["*"],
                    "destination_addresses": ["203.0.113.10", "203.0.113.10"],
                    "destination_ports": ["22"], "translated_address": "10.20.1.4",
                    "translated_port": "22"},
                   {"name": "later", "protocols": ["TCP"], "source_addresses": ["*"],
                    "destination_ports": ["80"], "translated_port": "80",
                    crate::KNOWN_AFTER_APPLY: {"destination_addresses":
                        "data.azurerm_public_ip.shared.ip_address"}},
                   {"name": "by-name", "protocols": ["TCP"], "source_addresses": ["*"],
                    "destination_addresses": ["203.0.113.10"], "destination_ports": ["81"],
                    "translated_fqdn": "app.contoso.com", "translated_port": "80"}]}),
    ));
    more.push((
        "azurerm_firewall_nat_rule_collection",
        json!({"name": "snat", "azure_firewall_name": "classic-fw", "priority": 300,
               "action": "Snat", "rule": []}),
    ));
    let text = topology_yaml(&network(more), "a test").unwrap();
    assert_has(
        &text,
        "#   azurerm_public_ip_prefix.egress-prefix (main.tf:10): its ip_prefix is known \
             only after apply (Azure picks a /28 when it creates it)\n",
    );
    assert_has(
        &text,
        "  - name: web2-pip\n    sku: Standard\n    # public_ip_prefix left out: public IP \
             prefix `egress-prefix` is left out: its ip_prefix is known only after apply (Azure \
             picks a /28 when it creates it); vnetd gives it an address of its own pool\n    \
             location: westeurope\n",
    );
    assert_has(
        &text,
        &format!(
            "    private_ip_address: 10.10.2.4\n    # public_ip_address left out: `{}` names no \
             public IP address of the input\n",
            net_id("publicIPAddresses/gone-pip")
        ),
    );
    assert_has(
        &text,
        "  - name: natgw\n    # a public IP prefix left out: public IP prefix \
             `egress-prefix` is left out: its ip_prefix is known only after apply (Azure picks \
             a /28 when it creates it)\n",
    );
    assert_has(
        &text,
        "            rules:\n              # main.tf:17\n              # Rule `ssh` has 2 \
             destination addresses: one rule each.\n              - name: ssh-1\n",
    );
    assert_has(&text, "              - name: ssh-2\n");
    assert_has(
        &text,
        "              # main.tf:17: DNAT rule `later` left out: `destination_addresses` is \
             known only after apply (it comes from data.azurerm_public_ip.shared.ip_address)\n",
    );
    assert_has(
        &text,
        "              # main.tf:17: DNAT rule `by-name` left out: it translates to the \
             FQDN `app.contoso.com`, and vnetd translates to addresses only: write \
             translated_address\n",
    );
    assert_has(
        &text,
        "          # main.tf:18: DNAT rule collection `snat` left out: its action is Snat, \
             and vnetd emulates Dnat only\n",
    );
    let t = loaded(&text);
    let rules: Vec<String> = t
        .edge
        .dnat_rules
        .values()
        .flatten()
        .map(|r| r.path())
        .collect();
    assert_eq!(rules, ["classic/ssh-in/ssh-1", "classic/ssh-in/ssh-2"]);
    assert!(
        t.edge.nat_gateways[vnetd_model::topology::NatGatewayIdx::new(0)]
            .addresses
            .is_empty()
    );
}

/// A public IP held by what the lab gives no public address is listed with
/// its holder: a Bastion host's (Terraform, state), one whose
/// `ip_configuration_id` names another resource's IP configuration
/// (`az`), a firewall's management configuration's; one held by nothing is
/// written, as Azure keeps it.
#[test]
fn a_public_ip_the_lab_has_no_use_for_is_listed_with_its_holder() {
    let mut vpn_pip = public_ip("vpngw-pip", Some("203.0.113.30"), None);
    vpn_pip.1["ip_configuration_id"] = json!(net_id(
        "virtualNetworkGateways/vpngw/ipConfigurations/default"
    ));
    let more = vec![
        public_ip("gw-pip", None, None),
        vpn_pip,
        public_ip("mgmt-pip", None, None),
        public_ip("spare-pip", Some("203.0.113.31"), None),
        (
            "azurerm_bastion_host",
            json!({"name": "bastion", "ip_configuration": [{"name": "c",
                "public_ip_address_id": net_id("publicIPAddresses/gw-pip")}]}),
        ),
        (
            "azurerm_firewall",
            json!({"name": "fw", "ip_configuration": [{"name": "data",
                "subnet_id": net_id("virtualNetworks/hub/subnets/AzureFirewallSubnet")}],
                "management_ip_configuration": [{"name": "m",
                    "public_ip_address_id": net_id("publicIPAddresses/mgmt-pip")}]}),
        ),
    ];
    let text = topology_yaml(&network(more), "a test").unwrap();
    for line in [
        "#   azurerm_public_ip.gw-pip (main.tf:10): held by azurerm_bastion_host `bastion`: \
         the lab gives it no public address\n",
        "#   azurerm_public_ip.vpngw-pip (main.tf:11): held by virtualNetworkGateways `vpngw`: \
         the lab gives it no public address\n",
        "#   azurerm_public_ip.mgmt-pip (main.tf:12): held by the management IP configuration \
         of Azure Firewall `fw`: the lab gives it no public address\n",
        "\npublic_ip_addresses:\n  # main.tf:13\n  - name: spare-pip\n    ip_address: \
         203.0.113.31\n",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    assert_eq!(loaded(&text).edge.public_ips.len(), 1);
}

/// A subnet association names a NAT gateway the input must hold, as every
/// association does.
#[test]
fn a_subnet_association_to_a_nat_gateway_not_in_the_input_is_refused() {
    let more = vec![(
        "azurerm_subnet_nat_gateway_association",
        json!({"subnet_id": net_id("virtualNetworks/spoke/subnets/app"),
               "nat_gateway_id": net_id("natGateways/gone")}),
    )];
    let err = topology_yaml(&network(more), "a test").unwrap_err();
    assert_eq!(err.location, "main.tf:10");
    assert_eq!(
        err.message,
        format!(
            "nat_gateway_id `{}` names a resource that is not in the input",
            net_id("natGateways/gone")
        )
    );
}
