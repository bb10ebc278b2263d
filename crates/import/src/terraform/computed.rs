//! What Azure computes and a configuration may refer to before it exists:
//! resource IDs (`ids`), a VNet's inline subnets' IDs, a NIC's Static
//! address, a Private Endpoint's Static address, a VMware private cloud's
//! circuit, an Azure Firewall's private address, a Route Server's
//! addresses and ASN, a DNS Private Resolver's inbound endpoint's Dynamic
//! address, and Virtual WAN's (`virtual_wan`).

mod ids;
mod virtual_wan;

use super::unknown;
use hcl::{Map, Value};
pub use ids::SUBSCRIPTION;
use ids::{child_id, string_attribute, IdParts};
use ipnet::{IpNet, Ipv4Net};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The subnets evaluated so far: (VNet, subnet), named as a settled ID
/// names them (an unknown as its placeholder), to their prefixes.
pub(super) type SubnetPrefixes = BTreeMap<(String, String), Vec<Value>>;

/// The addresses Azure reserves at the start of every subnet (the network
/// address, the default gateway and two for Azure DNS).
const RESERVED_AT_START: u32 = 4;

/// Records the subnets a VNet (inline) or a subnet resource declares, and
/// gives an Azure Firewall's IP configuration in a recorded subnet the
/// `private_ip_address` Azure gives it: the first usable address of the
/// subnet's first IPv4 prefix (in address order, as the topology file
/// lists them), the address vnetd gives the firewall too. Routes name it
/// as their next hop (`azurerm_firewall.fw.ip_configuration[0].
/// private_ip_address`). A Route Server gets its `virtual_router_ips`
/// likewise (that address and the next, its two instances', as vnetd
/// places them) and `virtual_router_asn` (65515), which an appliance's
/// configuration may name. A Dynamic inbound endpoint of a DNS Private
/// Resolver gets that first usable address too, as Azure gives it (its
/// subnet holds nothing else): a VNet's `dns_servers` or a forwarding
/// rule's target names it (`azurerm_private_dns_resolver_inbound_endpoint.
/// in.ip_configurations[0].private_ip_address`).
pub(super) fn subnet_addresses(
    kind: &str,
    attributes: &mut Map<String, Value>,
    subnets: &mut SubnetPrefixes,
) {
    match kind {
        "azurerm_subnet" => {
            let vnet = settled_text(attributes, "virtual_network_name");
            let key = (vnet, settled_text(attributes, "name"));
            subnets.insert(key, prefixes_of(attributes));
        }
        "azurerm_virtual_network" => {
            let vnet = settled_text(attributes, "name");
            for subnet in blocks(attributes.get("subnet")) {
                let key = (vnet.clone(), settled_text(subnet, "name"));
                subnets.insert(key, prefixes_of(subnet));
            }
        }
        "azurerm_firewall" => {
            give_first_usable(attributes, "ip_configuration", subnets, |_| false);
        }
        "azurerm_private_dns_resolver_inbound_endpoint" => {
            let is_static = |config: &Map<String, Value>| {
                matches!(config.get("private_ip_allocation_method"),
                    Some(Value::String(m)) if m.eq_ignore_ascii_case("static"))
            };
            give_first_usable(attributes, "ip_configurations", subnets, is_static);
        }
        "azurerm_route_server" => {
            if let Some(first) = first_usable_of(attributes, subnets) {
                // Its two instances: the subnet's first usable address and
                // the next.
                let second = Ipv4Addr::from(u32::from(first).wrapping_add(1));
                let ips = [first, second].map(|ip| Value::from(ip.to_string()));
                attributes
                    .entry("virtual_router_ips".to_string())
                    .or_insert_with(|| Value::Array(ips.to_vec()));
            }
            attributes
                .entry("virtual_router_asn".to_string())
                .or_insert_with(|| Value::from(vnetd_model::topology::ROUTE_SERVER_ASN));
        }
        _ => {}
    }
}

/// The text of the string `key` of `values`, settled; "" when it is absent
/// or not a string.
fn settled_text(values: &Map<String, Value>, key: &str) -> String {
    match values.get(key) {
        Some(Value::String(s)) => unknown::settled_text(s),
        _ => String::new(),
    }
}

/// The first usable address of the subnet the `subnet_id` of `values`
/// names, when its prefixes are known.
fn first_usable_of(values: &Map<String, Value>, subnets: &SubnetPrefixes) -> Option<Ipv4Addr> {
    let id = settled_text(values, "subnet_id");
    let names = crate::write::id_names(&id, &["virtualNetworks", "subnets"])?;
    first_usable(subnets.get(&(names[0].clone(), names[1].clone()))?)
}

/// Gives each IP configuration of the block list `key` without a
/// `private_ip_address`, unless it `keeps_its_own`, the first usable
/// address of its subnet.
fn give_first_usable(
    attributes: &mut Map<String, Value>,
    key: &str,
    subnets: &SubnetPrefixes,
    keeps_its_own: impl Fn(&Map<String, Value>) -> bool,
) {
    let Some(Value::Array(configs)) = attributes.get_mut(key) else {
        return;
    };
    for config in configs.iter_mut() {
        let Value::Object(config) = config else {
            continue;
        };
        let address = first_usable_of(config, subnets);
        if let Some(address) = address.filter(|_| !keeps_its_own(config)) {
            config
                .entry("private_ip_address".to_string())
                .or_insert_with(|| Value::from(address.to_string()));
        }
    }
}

/// The objects of a nested block's list.
fn blocks(value: Option<&Value>) -> impl Iterator<Item = &Map<String, Value>> {
    let items = match value {
        Some(Value::Array(items)) => items.as_slice(),
        _ => &[],
    };
    items.iter().filter_map(|item| match item {
        Value::Object(map) => Some(map),
        _ => None,
    })
}

/// A subnet's `address_prefixes` and `address_prefix`.
fn prefixes_of(subnet: &Map<String, Value>) -> Vec<Value> {
    let mut prefixes = match subnet.get("address_prefixes") {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    prefixes.extend(subnet.get("address_prefix").cloned());
    prefixes
}

/// The first address Azure leaves usable in the lowest IPv4 prefix of
/// `prefixes`; none while a prefix is not known.
fn first_usable(prefixes: &[Value]) -> Option<Ipv4Addr> {
    let mut lowest: Option<Ipv4Net> = None;
    for prefix in prefixes {
        let Value::String(text) = prefix else {
            return None;
        };
        match text.parse::<IpNet>().ok()? {
            IpNet::V4(net) => lowest = Some(lowest.map_or(net, |l| l.min(net))),
            IpNet::V6(_) => {}
        }
    }
    let network = u32::from(lowest?.network());
    Some(Ipv4Addr::from(network.checked_add(RESERVED_AT_START)?))
}

/// The ID of a load balancer's part: `LB_ID/KIND/NAME`.
fn lb_part_id(kind: &str, name: &str, attributes: &Map<String, Value>) -> String {
    let segment = match kind {
        "azurerm_lb_backend_address_pool" => "backendAddressPools",
        "azurerm_lb_probe" => "probes",
        "azurerm_lb_rule" => "loadBalancingRules",
        _ => "outboundRules",
    };
    child_id(attributes, "loadbalancer_id", segment, name)
}

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
    let text = string_attribute;
    let name = match text(attributes, "name") {
        n if n.is_empty() => label.to_string(),
        n => n,
    };
    let group = match text(attributes, "resource_group_name") {
        g if g.is_empty() => "unknown-resource-group".to_string(),
        g => g,
    };
    let base = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers");
    let parts = IdParts {
        name: &name,
        attributes,
        base: &base,
    };
    let network = |path: String| parts.network(path);
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
            child_id(attributes, "peering_id", "connections", &name)
        }
        "azurerm_vmware_private_cloud" => {
            format!("{base}/Microsoft.AVS/privateClouds/{name}")
        }
        "azurerm_lb" => network(format!("loadBalancers/{name}")),
        "azurerm_lb_backend_address_pool"
        | "azurerm_lb_probe"
        | "azurerm_lb_rule"
        | "azurerm_lb_outbound_rule" => lb_part_id(kind, &name, attributes),
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
        other => (parts.firewall_or_route_server_id(other))
            .or_else(|| parts.edge_id(other))
            .or_else(|| parts.names_id(other))
            .or_else(|| parts.network_manager_id(other))
            .or_else(|| parts.virtual_wan_id(other))
            .unwrap_or_else(|| format!("{base}/{other}/{name}")),
    };
    let circuit = network(format!("expressRouteCircuits/{name}"));
    endpoint_address(kind, attributes);
    virtual_wan::computed(kind, &id, attributes);
    vmware_computed(kind, &circuit, attributes);
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

/// A Private Endpoint's address in its service connection
/// (`private_service_connection[0].private_ip_address`), where a record may
/// name it, when its first IP configuration gives it (Static).
fn endpoint_address(kind: &str, attributes: &mut Map<String, Value>) {
    if kind != "azurerm_private_endpoint" {
        return;
    }
    let address = blocks(attributes.get("ip_configuration"))
        .find_map(|config| config.get("private_ip_address").cloned());
    let Some(address) = address else {
        return;
    };
    if let Some(Value::Array(connections)) = attributes.get_mut("private_service_connection") {
        for connection in connections {
            if let Value::Object(c) = connection {
                c.entry("private_ip_address".to_string())
                    .or_insert_with(|| address.clone());
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn object(json: serde_json::Value) -> Map<String, Value> {
        match hcl::to_value(json).unwrap() {
            Value::Object(map) => map,
            other => panic!("not an object: {other:?}"),
        }
    }

    /// The prefixes known after an `azurerm_subnet` named `name` of the
    /// VNet `hub` with the one prefix `prefix`, and that subnet's ID.
    fn hub_subnet(name: &str, prefix: &str) -> (SubnetPrefixes, String) {
        let mut subnets = SubnetPrefixes::new();
        let mut subnet = object(serde_json::json!({"name": name,
            "virtual_network_name": "hub", "address_prefixes": [prefix]}));
        subnet_addresses("azurerm_subnet", &mut subnet, &mut subnets);
        (subnets, format!("/x/virtualNetworks/hub/subnets/{name}"))
    }

    /// The VNet's name holds an unknown (a random suffix), reached by the
    /// firewall's subnet ID through other references: the two are matched
    /// by the placeholder both take.
    #[test]
    fn a_firewall_gets_the_first_usable_address_of_its_subnet() {
        let suffix = match unknown::unknown("random_pet.p.id") {
            Value::String(s) => s,
            _ => unreachable!(),
        };
        let through = match unknown::through(
            Value::from(format!("hub-{suffix}")),
            "azurerm_virtual_network.hub.name",
        ) {
            Value::String(s) => s,
            _ => unreachable!(),
        };
        let mut subnets = SubnetPrefixes::new();
        let mut vnet = object(
            serde_json::json!({"name": format!("hub-{suffix}"), "subnet": [
            {"name": "AzureFirewallSubnet",
             "address_prefixes": ["fd00:1::/64", "10.0.1.64/26", "10.0.1.0/26"]},
            {"name": "later", "address_prefixes": [format!("10.0.{suffix}.0/24")]}]}),
        );
        subnet_addresses("azurerm_virtual_network", &mut vnet, &mut subnets);
        let id = |subnet: &str| format!("/x/virtualNetworks/{through}/subnets/{subnet}");
        let mut firewall = object(serde_json::json!({"ip_configuration": [
            {"name": "data", "subnet_id": id("AzureFirewallSubnet")},
            {"name": "more-public-addresses"}]}));
        subnet_addresses("azurerm_firewall", &mut firewall, &mut subnets);
        let configs = serde_json::to_value(&firewall["ip_configuration"]).unwrap();
        assert_eq!(configs[0]["private_ip_address"], "10.0.1.4");
        assert_eq!(configs[1].get("private_ip_address"), None);

        // A subnet whose prefix is not known gives no address: a
        // reference to it stays unknown.
        let mut firewall = object(serde_json::json!({"ip_configuration": [
            {"name": "data", "subnet_id": id("later")}]}));
        subnet_addresses("azurerm_firewall", &mut firewall, &mut subnets);
        let configs = serde_json::to_value(&firewall["ip_configuration"]).unwrap();
        assert_eq!(configs[0].get("private_ip_address"), None);
    }

    /// Names get Azure's IDs: a record set's names its zone and type, a
    /// PaaS resource's its own provider (what a Private Endpoint reaches),
    /// and a Static endpoint's address is its connection's too.
    #[test]
    fn names_get_azure_ids_and_a_static_endpoint_its_address() {
        let net = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers");
        let id = |kind: &str, json: serde_json::Value| {
            let mut attributes = object(json);
            computed_attributes(kind, "label", &mut attributes);
            serde_json::to_value(&attributes).unwrap()
        };
        let cases = [
            (
                "azurerm_private_dns_mx_record",
                serde_json::json!({"zone_name": "contoso.internal", "resource_group_name": "rg"}),
                "Microsoft.Network/privateDnsZones/contoso.internal/MX/@",
            ),
            (
                "azurerm_storage_account",
                serde_json::json!({"name": "stcontoso", "resource_group_name": "rg"}),
                "Microsoft.Storage/storageAccounts/stcontoso",
            ),
            (
                "azurerm_private_endpoint",
                serde_json::json!({"name": "pe1", "resource_group_name": "rg",
                    "ip_configuration": [{"name": "blob", "private_ip_address": "10.0.3.4"}],
                    "private_service_connection": [{"name": "c"}]}),
                "Microsoft.Network/privateEndpoints/pe1",
            ),
        ];
        let [_, _, pe] = cases.map(|(kind, json, path)| {
            let got = id(kind, json);
            assert_eq!(got["id"], format!("{net}/{path}"), "{kind}");
            got
        });
        assert_eq!(
            pe["private_service_connection"][0]["private_ip_address"],
            "10.0.3.4"
        );
    }

    /// A Dynamic inbound endpoint of a resolver gets the first usable
    /// address of its subnet, as Azure gives it (the subnet holds nothing
    /// else); a Static one keeps its own, or has none; the endpoint's ID
    /// is under its resolver's, a rule's under its ruleset's.
    #[test]
    fn a_dynamic_inbound_endpoint_gets_the_first_usable_address_of_its_subnet() {
        let (mut subnets, subnet_id) = hub_subnet("dns-in", "10.0.4.0/28");
        let mut endpoint = |config: serde_json::Value| {
            let mut attributes = object(serde_json::json!({"name": "in",
                "private_dns_resolver_id": "/r/dnsResolvers/hub-resolver",
                "ip_configurations": [config]}));
            let kind = "azurerm_private_dns_resolver_inbound_endpoint";
            computed_attributes(kind, "in", &mut attributes);
            subnet_addresses(kind, &mut attributes, &mut subnets);
            serde_json::to_value(&attributes).unwrap()
        };
        // Dynamic, unsaid, Static with an address, Static without one.
        let cases = [
            (
                serde_json::json!({"subnet_id": subnet_id,
                    "private_ip_allocation_method": "Dynamic"}),
                Some("10.0.4.4"),
            ),
            (
                serde_json::json!({"subnet_id": subnet_id}),
                Some("10.0.4.4"),
            ),
            (
                serde_json::json!({"subnet_id": subnet_id,
                    "private_ip_allocation_method": "Static", "private_ip_address": "10.0.4.9"}),
                Some("10.0.4.9"),
            ),
            (
                serde_json::json!({"subnet_id": subnet_id,
                    "private_ip_allocation_method": "Static"}),
                None,
            ),
        ];
        for (config, address) in cases {
            let shown = config.to_string();
            let got = endpoint(config);
            assert_eq!(
                got["id"],
                "/r/dnsResolvers/hub-resolver/inboundEndpoints/in"
            );
            assert_eq!(
                got["ip_configurations"][0].get("private_ip_address"),
                address.map(serde_json::Value::from).as_ref(),
                "{shown}"
            );
        }

        let mut rule = object(serde_json::json!({"name": "corp",
            "dns_forwarding_ruleset_id": "/r/dnsForwardingRulesets/onprem"}));
        computed_attributes(
            "azurerm_private_dns_resolver_forwarding_rule",
            "r",
            &mut rule,
        );
        assert_eq!(
            serde_json::to_value(&rule).unwrap()["id"],
            "/r/dnsForwardingRulesets/onprem/forwardingRules/corp"
        );
    }

    /// A Route Server is a virtual hub in its ID, and its BGP connections
    /// are under it; its instances take the fourth and fifth addresses of
    /// its subnet.
    #[test]
    fn a_route_server_gets_azure_ids_and_its_instances_addresses() {
        let (mut subnets, subnet_id) = hub_subnet("RouteServerSubnet", "10.0.1.0/26");
        let mut rs = object(serde_json::json!({"name": "hub-rs",
            "resource_group_name": "rg", "subnet_id": subnet_id}));
        computed_attributes("azurerm_route_server", "rs", &mut rs);
        subnet_addresses("azurerm_route_server", &mut rs, &mut subnets);
        let rs = serde_json::to_value(&rs).unwrap();
        let net =
            format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Network");
        assert_eq!(rs["id"], format!("{net}/virtualHubs/hub-rs"));
        assert_eq!(
            rs["virtual_router_ips"],
            serde_json::json!(["10.0.1.4", "10.0.1.5"])
        );
        assert_eq!(rs["virtual_router_asn"], 65515);

        let mut connection = object(serde_json::json!({"name": "nva1",
            "route_server_id": rs["id"]}));
        computed_attributes("azurerm_route_server_bgp_connection", "c", &mut connection);
        let connection = serde_json::to_value(&connection).unwrap();
        assert_eq!(
            connection["id"],
            format!("{net}/virtualHubs/hub-rs/bgpConnections/nva1")
        );
    }
}
