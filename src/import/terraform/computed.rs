//! What Azure computes and a configuration may refer to before it exists:
//! resource IDs, a VNet's inline subnets' IDs, a NIC's Static address, a
//! VMware private cloud's circuit.

use super::*;
use hcl::{Map, Value};

/// What Azure would compute that a reference may use: the `id` of every
/// resource, the IDs of a VNet's inline subnets, a NIC's primary address
/// when it is Static, a VMware private cloud's `circuit` block and an
/// authorization's key.
pub(super) fn computed_attributes(kind: &str, label: &str, attributes: &mut Map<String, Value>) {
    // Other providers' resources (random, tls, time, azapi) compute their
    // own values: every attribute the configuration does not write is
    // unknown.
    if !kind.starts_with("azurerm_") {
        return;
    }
    let text = |attributes: &Map<String, Value>, key: &str| match attributes.get(key) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let name = match text(attributes, "name") {
        n if n.is_empty() => label.to_string(),
        n => n,
    };
    let group = match text(attributes, "resource_group_name") {
        g if g.is_empty() => "unknown-resource-group".to_string(),
        g => g,
    };
    let base = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers");
    let network = |path: String| format!("{base}/Microsoft.Network/{path}");
    let id = match kind {
        "azurerm_resource_group" => format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}"),
        "azurerm_virtual_network" => network(format!("virtualNetworks/{name}")),
        "azurerm_subnet" => network(format!(
            "virtualNetworks/{}/subnets/{name}",
            text(attributes, "virtual_network_name")
        )),
        "azurerm_virtual_network_peering" => network(format!(
            "virtualNetworks/{}/virtualNetworkPeerings/{name}",
            text(attributes, "virtual_network_name")
        )),
        "azurerm_network_interface" => network(format!("networkInterfaces/{name}")),
        "azurerm_network_security_group" => network(format!("networkSecurityGroups/{name}")),
        "azurerm_network_security_rule" => network(format!(
            "networkSecurityGroups/{}/securityRules/{name}",
            text(attributes, "network_security_group_name")
        )),
        "azurerm_route_table" => network(format!("routeTables/{name}")),
        "azurerm_route" => network(format!(
            "routeTables/{}/routes/{name}",
            text(attributes, "route_table_name")
        )),
        "azurerm_application_security_group" => {
            network(format!("applicationSecurityGroups/{name}"))
        }
        "azurerm_public_ip" => network(format!("publicIPAddresses/{name}")),
        "azurerm_virtual_network_gateway" => network(format!("virtualNetworkGateways/{name}")),
        "azurerm_local_network_gateway" => network(format!("localNetworkGateways/{name}")),
        "azurerm_virtual_network_gateway_connection" => network(format!("connections/{name}")),
        "azurerm_express_route_circuit" => network(format!("expressRouteCircuits/{name}")),
        "azurerm_express_route_circuit_peering" => network(format!(
            "expressRouteCircuits/{}/peerings/{}",
            text(attributes, "express_route_circuit_name"),
            text(attributes, "peering_type")
        )),
        "azurerm_express_route_circuit_connection" => {
            format!("{}/connections/{name}", text(attributes, "peering_id"))
        }
        "azurerm_vmware_private_cloud" => {
            format!("{base}/Microsoft.AVS/privateClouds/{name}")
        }
        "azurerm_lb" => network(format!("loadBalancers/{name}")),
        "azurerm_lb_backend_address_pool" => {
            format!(
                "{}/backendAddressPools/{name}",
                text(attributes, "loadbalancer_id")
            )
        }
        "azurerm_lb_probe" => format!("{}/probes/{name}", text(attributes, "loadbalancer_id")),
        "azurerm_lb_rule" => {
            format!(
                "{}/loadBalancingRules/{name}",
                text(attributes, "loadbalancer_id")
            )
        }
        // The provider's own IDs of associations.
        "azurerm_subnet_network_security_group_association"
        | "azurerm_subnet_route_table_association" => text(attributes, "subnet_id"),
        "azurerm_network_interface_security_group_association" => format!(
            "{}|{}",
            text(attributes, "network_interface_id"),
            text(attributes, "network_security_group_id")
        ),
        "azurerm_network_interface_application_security_group_association" => format!(
            "{}|{}",
            text(attributes, "network_interface_id"),
            text(attributes, "application_security_group_id")
        ),
        "azurerm_linux_virtual_machine"
        | "azurerm_windows_virtual_machine"
        | "azurerm_virtual_machine" => {
            format!("{base}/Microsoft.Compute/virtualMachines/{name}")
        }
        other => format!("{base}/{other}/{name}"),
    };
    vmware_computed(
        kind,
        &network(format!("expressRouteCircuits/{name}")),
        attributes,
    );
    if kind == "azurerm_virtual_network" {
        if let Some(Value::Array(subnets)) = attributes.get_mut("subnet") {
            for subnet in subnets {
                if let Value::Object(s) = subnet {
                    let subnet_name = match s.get("name") {
                        Some(Value::String(n)) => n.clone(),
                        _ => continue,
                    };
                    s.entry("id".to_string())
                        .or_insert_with(|| Value::from(format!("{id}/subnets/{subnet_name}")));
                }
            }
        }
    }
    if kind == "azurerm_network_interface" {
        let configs: Vec<Map<String, Value>> = match attributes.get("ip_configuration") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| match v {
                    Value::Object(m) => Some(m.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let is_static = |c: &Map<String, Value>| matches!(c.get("private_ip_address_allocation"), Some(Value::String(s)) if s.eq_ignore_ascii_case("static"));
        let primary = configs
            .iter()
            .find(|c| matches!(c.get("primary"), Some(Value::Bool(true))))
            .or(configs.first());
        if let Some(p) = primary.filter(|p| is_static(p)) {
            if let Some(address) = p.get("private_ip_address") {
                attributes
                    .entry("private_ip_address".to_string())
                    .or_insert_with(|| address.clone());
            }
        }
        if !configs.is_empty() && configs.iter().all(is_static) {
            let addresses: Vec<Value> = configs
                .iter()
                .filter_map(|c| c.get("private_ip_address").cloned())
                .collect();
            attributes
                .entry("private_ip_addresses".to_string())
                .or_insert(Value::Array(addresses));
        }
    }
    attributes
        .entry("id".to_string())
        .or_insert(Value::from(id));
}

/// What Azure computes for Azure VMware Solution: an authorization's key,
/// and a private cloud's `circuit` block, whose circuit (in Microsoft's
/// subscription, under a name of Azure's) vnetd names like the cloud:
/// `circuit` is that ID.
fn vmware_computed(kind: &str, circuit: &str, attributes: &mut Map<String, Value>) {
    if kind == "azurerm_vmware_express_route_authorization" {
        // The key Azure issues; vnetd does not check it.
        attributes
            .entry("express_route_authorization_key".to_string())
            .or_insert_with(|| Value::from("00000000-0000-0000-0000-000000000000"));
    }
    if kind == "azurerm_vmware_private_cloud" {
        // Its circuit lives in Microsoft's subscription under a name of
        // Azure's; vnetd names it like the cloud, and so does its ID here,
        // and its private peering's (where Global Reach starts).
        let circuit = circuit.to_string();
        let mut block = Map::new();
        block.insert("express_route_id".into(), Value::from(circuit.clone()));
        block.insert(
            "express_route_private_peering_id".into(),
            Value::from(format!("{circuit}/peerings/AzurePrivatePeering")),
        );
        attributes
            .entry("circuit".to_string())
            .or_insert(Value::Array(vec![Value::Object(block)]));
    }
}
