//! The writer's names: endpoints, zone groups, record sets and policies.

use super::super::tests::{resource, NET};
use super::adding::sorted_values;
use super::*;
use crate::assert_has;
use serde_json::json;

/// A VNet `hub` with a subnet `pe`, and what `more` adds.
fn with_hub(more: Vec<crate::Resource>) -> Vec<crate::Resource> {
    let mut resources = vec![resource(
        "azurerm_virtual_network",
        "hub",
        json!({"name": "hub", "address_space": ["10.0.0.0/16"], "subnet": [
            {"name": "pe", "address_prefixes": ["10.0.3.0/24"]}]}),
        1,
    )];
    resources.extend(more);
    resources
}

fn zone(name: &str, line: usize) -> crate::Resource {
    resource(
        "azurerm_private_dns_zone",
        name,
        json!({"name": name}),
        line,
    )
}

#[test]
fn v3_and_v4_spellings_of_endpoint_network_policies() {
    let subnet = |name: &str, policies: serde_json::Value, line| {
        let mut attributes = json!({"name": name, "virtual_network_name": "hub",
                                    "address_prefixes": [format!("10.0.{line}.0/24")]});
        attributes
            .as_object_mut()
            .unwrap()
            .extend(policies.as_object().unwrap().clone());
        resource("azurerm_subnet", name, attributes, line)
    };
    let resources = with_hub(vec![
        subnet(
            "v3-on",
            json!({"private_endpoint_network_policies_enabled": true}),
            4,
        ),
        subnet(
            "v3-off",
            json!({"private_endpoint_network_policies_enabled": false}),
            5,
        ),
        subnet(
            "v2-enforced",
            json!({"enforce_private_link_endpoint_network_policies": false}),
            7,
        ),
        // State of provider versions that hold both: the string wins.
        subnet(
            "both",
            json!({"private_endpoint_network_policies": "NetworkSecurityGroupEnabled",
                   "private_endpoint_network_policies_enabled": true}),
            6,
        ),
    ]);
    let text = crate::topology_yaml(&resources, "a test").unwrap();
    assert_has(
        &text,
        "      - name: both\n        address_prefixes: [10.0.6.0/24]\n        \
             private_endpoint_network_policies: NetworkSecurityGroupEnabled\n",
    );
    assert_has(
        &text,
        "      - name: v2-enforced\n        address_prefixes: [10.0.7.0/24]\n        \
             private_endpoint_network_policies: Enabled\n",
    );
    assert_has(
        &text,
        "      - name: v3-off\n        address_prefixes: [10.0.5.0/24]\n        \
             default_outbound_access: true\n      #",
    );
    assert_has(
        &text,
        "      - name: v3-on\n        address_prefixes: [10.0.4.0/24]\n        \
             private_endpoint_network_policies: Enabled\n",
    );
}

/// The A record set a zone group writes, listed by the input too (as
/// `az` lists it), is written once: by the endpoint, with Azure's TTL.
#[test]
fn a_record_of_a_zone_group_is_written_by_the_endpoint_only() {
    let zone_id = format!("{NET}/privateDnsZones/privatelink.blob.core.windows.net");
    let endpoint = resource(
        "azurerm_private_endpoint",
        "pe1",
        json!({"name": "pe1", "subnet_id": format!("{NET}/virtualNetworks/hub/subnets/pe"),
               "private_service_connection": [{"name": "c",
                   "private_connection_resource_id":
                       "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/StContoso",
                   "subresource_names": ["blob"], "private_ip_address": "10.0.3.7"}],
               "private_dns_zone_group": [{"name": "default",
                   "private_dns_zone_ids": [zone_id.to_uppercase()]}]}),
        3,
    );
    let record = |name: &str, line| {
        resource(
            "azurerm_private_dns_a_record",
            name,
            json!({"name": name, "zone_name": "privatelink.blob.core.windows.net",
                   "ttl": 10, "records": ["10.0.3.7"]}),
            line,
        )
    };
    let resources = with_hub(vec![
        zone("privatelink.blob.core.windows.net", 2),
        endpoint,
        record("stcontoso", 4),
        record("other", 5),
    ]);
    let text = crate::topology_yaml(&resources, "a test").unwrap();
    assert_has(
        &text,
        "#   azurerm_private_dns_a_record.stcontoso (main.tf:4): written by the DNS zone \
             group of Private Endpoint `pe1`, which the file's endpoint writes again\n",
    );
    assert_has(&text, "      - name: other\n");
    assert!(!text.contains("- name: stcontoso"), "{text}");
    assert_has(
        &text,
        "    private_dns_zone_group:\n      name: default\n      zones: \
             [privatelink.blob.core.windows.net]\n",
    );
    let t = vnetd_model::topology::parse_str("t", &text)
        .unwrap()
        .topology;
    let zone = t.private_dns_zones.iter().next().unwrap();
    let sets: Vec<(String, u32, Vec<String>)> = zone
        .records
        .iter()
        .map(|s| {
            let values = s.records.iter().map(|r| r.text()).collect();
            (s.name.clone(), s.ttl, values)
        })
        .collect();
    assert_eq!(
        sets,
        [
            ("other".to_string(), 10, vec!["10.0.3.7".to_string()]),
            ("stcontoso".to_string(), 10, vec!["10.0.3.7".to_string()]),
        ]
    );
}

#[test]
fn what_names_nothing_of_the_input_is_refused_at_its_source() {
    let record = resource(
        "azurerm_private_dns_cname_record",
        "www",
        json!({"name": "www", "zone_name": "contoso.internal", "ttl": 300,
               "record": "web.contoso.internal"}),
        7,
    );
    let err = crate::topology_yaml(&with_hub(vec![record]), "a test").unwrap_err();
    err.assert_is(
        "main.tf:7",
        "Private DNS zone `contoso.internal` is not in the input",
    );
    let link = resource(
        "azurerm_private_dns_zone_virtual_network_link",
        "spoke9",
        json!({"name": "spoke9", "private_dns_zone_name": "contoso.internal",
               "virtual_network_id": format!("{NET}/virtualNetworks/spoke9")}),
        8,
    );
    let resources = with_hub(vec![zone("contoso.internal", 2), link]);
    let err = crate::topology_yaml(&resources, "a test").unwrap_err();
    assert_eq!(err.location, "main.tf:8");
    assert_eq!(
        err.message,
        format!(
            "virtual_network_id `{NET}/virtualNetworks/spoke9` names a resource that is not \
             in the input"
        )
    );
}

/// An endpoint to a Private Link service by its alias is not one vnetd
/// places: it is listed as ignored, and the subnet stays; a PaaS
/// resource no endpoint reaches is written all the same (it exists, and
/// its public face answers).
#[test]
fn an_endpoint_by_alias_is_listed_as_ignored() {
    let endpoint = resource(
        "azurerm_private_endpoint",
        "pe-partner",
        json!({"name": "pe-partner",
               "subnet_id": format!("{NET}/virtualNetworks/hub/subnets/pe"),
               "private_service_connection": [{"name": "c", "is_manual_connection": true,
                   "private_connection_resource_alias": "partner.1234.westeurope.azure.privatelinkservice"}]}),
        3,
    );
    let diagnostics = resource(
        "azurerm_storage_account",
        "stdiag",
        json!({"name": "stdiag"}),
        4,
    );
    let resources = with_hub(vec![endpoint, diagnostics]);
    let text = crate::topology_yaml(&resources, "a test").unwrap();
    assert_has(
        &text,
        "paas_resources:\n  # main.tf:4\n  - name: stdiag\n    kind: storage_account\n",
    );
    assert_has(
        &text,
        "#   azurerm_private_endpoint.pe-partner (main.tf:3): reaches the Private Link \
             service `partner.1234.westeurope.azure.privatelinkservice` by its alias: vnetd \
             places PaaS resources only behind Private Endpoints\n",
    );
    assert!(!text.contains("private_endpoints:"), "{text}");
}

#[test]
fn a_paas_resource_is_known_by_the_provider_and_type_of_its_id() {
    let id =
        "/subscriptions/s/resourceGroups/RG/providers/microsoft.storage/StorageAccounts/stcontoso";
    assert_eq!(
        paas_of_id(id),
        Some(("stcontoso".to_string(), PaasKind::StorageAccount))
    );
    let blob = format!("{id}/blobServices/default");
    assert_eq!(paas_of_id(&blob), None);
    let hub = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.EventHub/namespaces/n";
    assert_eq!(paas_of_id(hub), None);
    assert_eq!(paas_of_id("stcontoso"), None);
    let site = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app1";
    assert_eq!(
        paas_of_id(site).map(|(_, k)| k),
        Some(PaasKind::LinuxWebApp)
    );
}

#[test]
fn values_are_sorted_by_address_and_number() {
    let sorted = sorted_values(vec![
        "10.0.2.10".into(),
        "10.0.2.4".into(),
        "10.0.2.4".into(),
    ]);
    assert_eq!(sorted, ["10.0.2.4", "10.0.2.10"]);
    let mx = sorted_values(vec!["20 b.contoso.com".into(), "5 a.contoso.com".into()]);
    assert_eq!(mx, ["5 a.contoso.com", "20 b.contoso.com"]);
}
