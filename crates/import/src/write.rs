//! The one writer of `vnetd import`: azurerm resources in, the text of a
//! vnetd topology file out, whichever reader produced the resources.
//!
//! References are Azure resource IDs; the writer finds what an ID names
//! by its last segments (`virtualNetworks/hub/subnets/nva` is subnet `nva`
//! of VNet `hub`), so it does not matter whether an ID was synthesised
//! from a Terraform configuration or read from state or `az`. Names must
//! therefore be unique per kind across resource groups.
//!
//! The text is written by hand, not serialised, because it carries
//! comments: a header naming the origin and every resource left out, and
//! before each object the place it came from. Every list is sorted by
//! name, so the output does not depend on the input's order, with one
//! exception: Dynamic private addresses are allocated in the input's
//! order (see [`topology_yaml`]). The text is parsed again with
//! [`vnetd_model::plan::parse_str`] before it is returned, and a refusal is
//! reported at the source of the object it is about.

use super::{ImportError, Resource};

mod application_rules;
mod dnat_rules;
mod edge;
mod express_route;
mod firewall_rules;
mod firewalls;
mod flow_logs;
mod gateways;
mod load_balancers;
mod names;
mod network_managers;
mod resolvers;
mod route_servers;
mod services;
mod virtual_wan;

mod attrs;
mod dynamic;
mod ids;
mod model;
mod output;
mod rules;

use attrs::*;
use model::*;
use output::*;
use rules::*;

pub(crate) use dnat_rules::DNAT_RULE_ATTRIBUTES;
pub use ids::id_names;
pub use names::{
    paas_of_id, paas_of_kind, record_type, PaasResource, PAAS_RESOURCES, RECORD_KINDS,
};

/// Writes the topology file for `resources`. `origin` names the input in
/// the header comment (e.g. `Terraform configuration in infra/`).
///
/// Dynamic private addresses are allocated as Azure does, the first free
/// address of the subnet from its fifth on (Azure reserves the network
/// address, the next three and the broadcast address), skipping the
/// subnet's Static addresses and the Dynamic ones the input already
/// knows; NICs and load balancer frontends are taken in the order given,
/// since the order in which Azure created them is not known.
pub fn topology_yaml(resources: &[Resource], origin: &str) -> Result<String, ImportError> {
    let out = written(resources, origin)?;
    check(&out, origin)?;
    Ok(out.text)
}

/// The text [`topology_yaml`] writes, before it is parsed again.
fn written(resources: &[Resource], origin: &str) -> Result<Output, ImportError> {
    let mut model = Model::default();
    model.edge.find_holders(resources);
    for kind in KINDS {
        for (index, r) in resources
            .iter()
            .enumerate()
            .filter(|(_, r)| r.kind == *kind && !r.attributes.is_null())
        {
            model.add(r, index)?;
        }
    }
    // A resource without attributes is one a reader left out, whatever
    // its kind (its name says why).
    for r in resources {
        if !KINDS.contains(&r.kind.as_str()) || r.attributes.is_null() {
            let note = match r.attributes.is_null() {
                false => model.network_manager_note(r).unwrap_or_default(),
                true => String::new(),
            };
            model.ignored.push((r, note));
        }
    }
    model.check_circuits()?;
    model.check_virtual_wans()?;
    model.allocate_dynamic_addresses()?;
    if model.is_empty() {
        return Err(ImportError::new(
            origin,
            "nothing to import: no virtual network, NIC, NSG, route table or application \
             security group was found",
        ));
    }
    let mut out = model.render(origin);
    // A DNAT rule to a public IP written without an address gets the
    // address vnetd gives that public IP: read back from the file, which
    // is then written again with the rule.
    if model.dnat_needs_allocations() {
        if let Ok(loaded) = vnetd_model::plan::parse_str(origin, &out.text) {
            model.edge.learn(&loaded.topology);
            out = model.render(origin);
        }
    }
    Ok(out)
}

/// The kinds read, in the order they are read: what a resource refers to
/// is read before it.
pub const KINDS: &[&str] = &[
    "azurerm_virtual_network",
    "azurerm_subnet",
    "azurerm_virtual_network_dns_servers",
    "azurerm_network_security_group",
    "azurerm_network_security_rule",
    "azurerm_route_table",
    "azurerm_route",
    "azurerm_application_security_group",
    "azurerm_subnet_network_security_group_association",
    "azurerm_subnet_route_table_association",
    "azurerm_virtual_network_peering",
    // Before what names them: NICs, firewalls, NAT gateways.
    "azurerm_public_ip_prefix",
    "azurerm_public_ip",
    "azurerm_nat_gateway",
    "azurerm_nat_gateway_public_ip_association",
    "azurerm_nat_gateway_public_ip_prefix_association",
    "azurerm_subnet_nat_gateway_association",
    "azurerm_network_interface",
    "azurerm_network_interface_security_group_association",
    "azurerm_network_interface_application_security_group_association",
    "azurerm_linux_virtual_machine",
    "azurerm_windows_virtual_machine",
    "azurerm_lb",
    "azurerm_lb_backend_address_pool",
    "azurerm_lb_probe",
    "azurerm_lb_rule",
    "azurerm_lb_outbound_rule",
    "azurerm_network_interface_backend_address_pool_association",
    "azurerm_express_route_circuit",
    "azurerm_express_route_circuit_peering",
    "azurerm_vmware_private_cloud",
    "azurerm_express_route_circuit_connection",
    "azurerm_virtual_network_gateway",
    "azurerm_local_network_gateway",
    "azurerm_virtual_network_gateway_connection",
    // Before a secured hub's firewall, and before what belongs to a hub.
    "azurerm_virtual_wan",
    "azurerm_virtual_hub",
    "azurerm_vpn_site",
    "azurerm_ip_group",
    "azurerm_ip_group_cidr",
    "azurerm_firewall_policy",
    "azurerm_firewall_policy_rule_collection_group",
    "azurerm_firewall",
    "azurerm_firewall_network_rule_collection",
    "azurerm_firewall_application_rule_collection",
    "azurerm_firewall_nat_rule_collection",
    "azurerm_route_server",
    "azurerm_route_server_bgp_connection",
    // After the firewalls their routes and routing intents name; a hub's
    // route tables and connections name each other, and are checked once
    // all are read.
    "azurerm_vpn_gateway",
    "azurerm_express_route_gateway",
    "azurerm_virtual_hub_route_table",
    "azurerm_virtual_hub_connection",
    "azurerm_virtual_hub_route_table_route",
    "azurerm_virtual_hub_bgp_connection",
    "azurerm_virtual_hub_routing_intent",
    "azurerm_vpn_gateway_connection",
    "azurerm_express_route_connection",
    // The PaaS resources before their separate rules; the policies name
    // storage accounts.
    "azurerm_storage_account",
    "azurerm_mssql_server",
    "azurerm_sql_server",
    "azurerm_key_vault",
    "azurerm_cosmosdb_account",
    "azurerm_container_registry",
    "azurerm_linux_web_app",
    "azurerm_windows_web_app",
    "azurerm_servicebus_namespace",
    "azurerm_storage_account_network_rules",
    "azurerm_subnet_service_endpoint_storage_policy",
    "azurerm_private_dns_zone",
    "azurerm_private_dns_zone_virtual_network_link",
    // Before the record sets: the records the endpoints' DNS zone groups
    // write are not written again.
    "azurerm_private_endpoint",
    "azurerm_private_dns_a_record",
    "azurerm_private_dns_aaaa_record",
    "azurerm_private_dns_cname_record",
    "azurerm_private_dns_mx_record",
    "azurerm_private_dns_ptr_record",
    "azurerm_private_dns_srv_record",
    "azurerm_private_dns_txt_record",
    "azurerm_private_dns_resolver",
    "azurerm_private_dns_resolver_inbound_endpoint",
    "azurerm_private_dns_resolver_outbound_endpoint",
    "azurerm_private_dns_resolver_dns_forwarding_ruleset",
    "azurerm_private_dns_resolver_forwarding_rule",
    "azurerm_private_dns_resolver_virtual_network_link",
    // After the VNets their groups hold.
    "azurerm_network_manager",
    "azurerm_network_manager_network_group",
    "azurerm_network_manager_static_member",
    "azurerm_network_manager_connectivity_configuration",
    "azurerm_network_manager_security_admin_configuration",
    "azurerm_network_manager_admin_rule_collection",
    "azurerm_network_manager_admin_rule",
    "azurerm_network_manager_routing_configuration",
    "azurerm_network_manager_routing_rule_collection",
    "azurerm_network_manager_routing_rule",
    "azurerm_network_manager_deployment",
    // After the VNets, subnets and NICs they target.
    "azurerm_network_watcher_flow_log",
];

/// Kinds of [`KINDS`] read for a few attributes only (a VM's size and
/// NICs): an attribute of theirs that cannot be evaluated is left out as
/// in a kind vnetd does not read, instead of refusing the configuration.
pub const READ_IN_PART: &[&str] = &[
    "azurerm_linux_virtual_machine",
    "azurerm_windows_virtual_machine",
    "azurerm_firewall_application_rule_collection",
    "azurerm_firewall_nat_rule_collection",
];

/// What vnetd reads of a PaaS resource: its name, place, public access
/// and network rules (a key vault's `network_acls`).
const PAAS_KEYS: &[&str] = &[
    "name",
    "location",
    "public_network_access_enabled",
    "network_rules",
    "network_acls",
];

/// Kinds of [`KINDS`] of which only these top-level attributes are read:
/// in the others (a policy's threat intelligence or intrusion detection
/// settings, a firewall's zones, a Route Server's public
/// IP, a zone's SOA record, a Private Endpoint's custom NIC name, a
/// forwarding rule's or link's metadata, a public IP's DNS label, a
/// prefix's length) a value only Azure knows takes a placeholder instead
/// of refusing the configuration, or leaving the resource out.
pub const READ_KEYS: &[(&str, &[&str])] = &[
    // Its storage account, retention and traffic analytics are Azure's.
    (
        "azurerm_network_watcher_flow_log",
        &[
            "name",
            "target_resource_id",
            "network_security_group_id",
            "enabled",
        ],
    ),
    (
        "azurerm_firewall",
        &[
            "name",
            "sku_name",
            "sku_tier",
            "firewall_policy_id",
            "ip_configuration",
            "private_ip_ranges",
            "virtual_hub",
            "dns_proxy_enabled",
            "dns_servers",
        ],
    ),
    // A hub's `route` blocks are not written (a next hop known only after
    // apply takes a placeholder there).
    (
        "azurerm_virtual_hub",
        &[
            "name",
            "location",
            "virtual_wan_id",
            "address_prefix",
            "sku",
            "hub_routing_preference",
            "branch_to_branch_traffic_enabled",
            "virtual_router_auto_scale_min_capacity",
            "virtual_router_ips",
        ],
    ),
    (
        "azurerm_firewall_policy",
        &["name", "private_ip_ranges", "base_policy_id", "sku", "dns"],
    ),
    (
        "azurerm_firewall_policy_rule_collection_group",
        &[
            "name",
            "firewall_policy_id",
            "priority",
            "network_rule_collection",
            "application_rule_collection",
            "nat_rule_collection",
        ],
    ),
    (
        "azurerm_public_ip",
        &[
            "name",
            "location",
            "sku",
            "ip_version",
            "ip_address",
            "public_ip_prefix_id",
        ],
    ),
    (
        "azurerm_public_ip_prefix",
        &["name", "location", "ip_prefix"],
    ),
    (
        "azurerm_nat_gateway",
        &[
            "name",
            "sku_name",
            "idle_timeout_in_minutes",
            "public_ip_address_ids",
            "public_ip_prefix_ids",
        ],
    ),
    (
        "azurerm_route_server",
        &[
            "name",
            "subnet_id",
            "branch_to_branch_traffic_enabled",
            "hub_routing_preference",
        ],
    ),
    ("azurerm_private_dns_zone", &["name"]),
    ("azurerm_storage_account", PAAS_KEYS),
    ("azurerm_mssql_server", PAAS_KEYS),
    ("azurerm_sql_server", PAAS_KEYS),
    ("azurerm_key_vault", PAAS_KEYS),
    ("azurerm_cosmosdb_account", PAAS_KEYS),
    ("azurerm_container_registry", PAAS_KEYS),
    ("azurerm_linux_web_app", PAAS_KEYS),
    ("azurerm_windows_web_app", PAAS_KEYS),
    ("azurerm_servicebus_namespace", PAAS_KEYS),
    (
        "azurerm_private_endpoint",
        &[
            "name",
            "subnet_id",
            "ip_configuration",
            "private_service_connection",
            "private_dns_zone_group",
        ],
    ),
    (
        "azurerm_private_dns_resolver",
        &["name", "virtual_network_id"],
    ),
    (
        "azurerm_private_dns_resolver_inbound_endpoint",
        &["name", "private_dns_resolver_id", "ip_configurations"],
    ),
    (
        "azurerm_private_dns_resolver_outbound_endpoint",
        &["name", "private_dns_resolver_id", "subnet_id"],
    ),
    (
        "azurerm_private_dns_resolver_dns_forwarding_ruleset",
        &["name", "private_dns_resolver_outbound_endpoint_ids"],
    ),
    (
        "azurerm_private_dns_resolver_forwarding_rule",
        &[
            "name",
            "dns_forwarding_ruleset_id",
            "domain_name",
            "enabled",
            "target_dns_servers",
        ],
    ),
    (
        "azurerm_private_dns_resolver_virtual_network_link",
        &["name", "dns_forwarding_ruleset_id", "virtual_network_id"],
    ),
    // A network manager's scope is most often a data source's
    // subscription.
    ("azurerm_network_manager", &["name"]),
    (
        "azurerm_network_manager_network_group",
        &["name", "network_manager_id", "member_type"],
    ),
    (
        "azurerm_network_manager_deployment",
        &[
            "network_manager_id",
            "location",
            "scope_access",
            "configuration_ids",
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert_has;
    use serde_json::json;
    use serde_json::Value;

    /// A resource of `main.tf` at `line`, as the readers give it.
    pub(super) fn resource(kind: &str, name: &str, attributes: Value, line: usize) -> Resource {
        Resource {
            kind: kind.into(),
            name: name.into(),
            attributes,
            source: format!("main.tf:{line}"),
        }
    }

    /// The `Microsoft.Network` provider of group `rg` in subscription `s`,
    /// under which the writer's tests make their IDs.
    pub(super) const NET: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network";

    /// The ID of `path` (`virtualNetworks/hub`) under [`NET`].
    pub(super) fn net_id(path: &str) -> String {
        format!("{NET}/{path}")
    }

    /// `resources`, then a resource of each of `more` at line 10 and on,
    /// named by its `name` attribute (`unnamed` when it has none).
    pub(super) fn with_more(
        mut resources: Vec<Resource>,
        more: Vec<(&str, Value)>,
        unnamed: &str,
    ) -> Vec<Resource> {
        for (i, (kind, attributes)) in more.into_iter().enumerate() {
            let name = attributes["name"].as_str().unwrap_or(unnamed).to_string();
            resources.push(resource(kind, &name, attributes, 10 + i));
        }
        resources
    }

    const SUB: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network";

    #[test]
    fn id_names_take_the_last_segments_without_case() {
        let id = format!("{SUB}/virtualNetworks/hub/subnets/nva");
        assert_eq!(
            id_names(&id, &["virtualnetworks", "Subnets"]),
            Some(vec!["hub".to_string(), "nva".to_string()])
        );
        assert_eq!(id_names(&id, &["networkSecurityGroups"]), None);
        assert_eq!(id_names("nva", &["subnets"]), None);
    }

    #[test]
    fn scalars_are_quoted_when_yaml_would_misread_them() {
        assert_eq!(scalar("hub"), "hub");
        assert_eq!(scalar("10.0.0.0/16"), "10.0.0.0/16");
        assert_eq!(scalar("*"), "\"*\"");
        assert_eq!(scalar("23"), "\"23\"");
        assert_eq!(scalar("fd00::/48"), "\"fd00::/48\"");
        assert_eq!(scalar("true"), "\"true\"");
        assert_eq!(scalar("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn dynamic_addresses_skip_static_ones_in_input_order() {
        let subnet_id = format!("{SUB}/virtualNetworks/vnet1/subnets/sn");
        let nic = |name: &str, allocation: &str, ip: &str, line| {
            resource(
                "azurerm_network_interface",
                name,
                json!({"name": name, "ip_configuration": [{
                    "name": "c", "subnet_id": subnet_id,
                    "private_ip_address_allocation": allocation, "private_ip_address": ip}]}),
                line,
            )
        };
        let resources = vec![
            resource(
                "azurerm_virtual_network",
                "vnet1",
                json!({"name": "vnet1", "address_space": ["10.9.0.0/16"], "subnet": [
                    {"name": "sn", "address_prefix": "10.9.1.0/24"}]}),
                1,
            ),
            nic("nic-b", "Dynamic", "", 2),
            nic("nic-a", "Static", "10.9.1.4", 3),
            nic("nic-c", "Dynamic", "", 4),
        ];
        let text = topology_yaml(&resources, "a test").unwrap();
        let loaded = vnetd_model::topology::parse_str("t", &text).unwrap();
        let address = |name: &str| {
            let t = &loaded.topology;
            t.nics[t.nic_by_name(name).unwrap()].ip_configurations[0]
                .address
                .to_string()
        };
        assert_eq!(address("nic-a"), "10.9.1.4");
        assert_eq!(address("nic-b"), "10.9.1.5");
        assert_eq!(address("nic-c"), "10.9.1.6");
    }

    #[test]
    fn vms_of_documented_sizes_are_written_and_the_others_left_out_with_why() {
        let subnet_id = format!("{SUB}/virtualNetworks/vnet1/subnets/sn");
        let nic_id = |name: &str| format!("{SUB}/networkInterfaces/{name}");
        let mut resources = vec![resource(
            "azurerm_virtual_network",
            "vnet1",
            json!({"name": "vnet1", "address_space": ["10.9.0.0/16"], "subnet": [
                {"name": "sn", "address_prefix": "10.9.1.0/24"}]}),
            1,
        )];
        for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
            resources.push(resource(
                "azurerm_network_interface",
                name,
                json!({"name": name, "id": nic_id(name), "ip_configuration": [{
                    "name": "c", "subnet_id": subnet_id,
                    "private_ip_address_allocation": "Dynamic"}]}),
                2 + i,
            ));
        }
        let vm = |kind: &str, name: &str, size: &str, nics: Vec<String>, line| {
            resource(
                kind,
                name,
                json!({"name": name, "size": size, "network_interface_ids": nics}),
                line,
            )
        };
        resources.push(vm(
            "azurerm_linux_virtual_machine",
            "web",
            "standard_d2s_v3",
            vec![nic_id("a"), nic_id("b")],
            10,
        ));
        resources.push(vm(
            "azurerm_windows_virtual_machine",
            "old",
            "Standard_B2s",
            vec![nic_id("c")],
            11,
        ));
        resources.push(vm(
            "azurerm_linux_virtual_machine",
            "bad!name",
            "Standard_D2s_v3",
            vec![nic_id("c")],
            12,
        ));
        let text = topology_yaml(&resources, "a test").unwrap();
        assert_has(&text, "#   azurerm_linux_virtual_machine.bad!name (main.tf:12): `bad!name` is not a valid virtual machine name");
        assert_has(&text, "  # main.tf:10\n  - name: web\n    size: Standard_D2s_v3\n    network_interfaces: [a, b]\n");
        // A real size whose page documents no bandwidth is written: the
        // lab runs it without a cap, with a warning.
        assert_has(&text, "  - name: old\n    size: Standard_B2s\n");
        let loaded = vnetd_model::topology::parse_str("t", &text).unwrap();
        assert!(
            loaded.warnings.iter().any(|w| w
                .message
                .contains("Azure documents no network bandwidth for `Standard_B2s`")),
            "{:?}",
            loaded.warnings
        );
        let t = loaded.topology;
        assert_eq!(t.virtual_machines.len(), 2);
        assert_eq!(t.nics.len(), 3, "the left-out VM's NIC stays");
    }

    /// Terraform state lists separate subnets, rules and routes inside
    /// their VNet, NSG and table too: each is one object, from its own
    /// resource.
    #[test]
    fn state_listing_separate_resources_inline_gives_each_once() {
        let rule = json!({"name": "deny-telnet", "priority": 100, "direction": "Inbound",
            "access": "Deny", "protocol": "Tcp", "source_port_range": "*",
            "source_port_ranges": [], "destination_port_range": "23",
            "destination_port_ranges": [], "source_address_prefix": "*",
            "source_address_prefixes": [], "destination_address_prefix": "*",
            "destination_address_prefixes": [], "network_security_group_name": "nsg1"});
        let route = json!({"name": "to-all", "address_prefix": "10.0.0.0/8",
            "next_hop_type": "VnetLocal", "next_hop_in_ip_address": "",
            "route_table_name": "rt1"});
        let resources = vec![
            resource(
                "azurerm_virtual_network",
                "vnet1",
                json!({"name": "vnet1", "address_space": ["10.9.0.0/16"], "subnet": [
                    {"name": "sn", "address_prefixes": ["10.9.1.0/24"], "security_group": ""}]}),
                1,
            ),
            resource(
                "azurerm_subnet",
                "sn",
                json!({"name": "sn", "virtual_network_name": "vnet1",
                       "address_prefixes": ["10.9.1.0/24"]}),
                2,
            ),
            resource(
                "azurerm_network_security_group",
                "nsg1",
                json!({"name": "nsg1", "security_rule": [rule.clone()]}),
                3,
            ),
            resource("azurerm_network_security_rule", "deny-telnet", rule, 4),
            resource(
                "azurerm_route_table",
                "rt1",
                json!({"name": "rt1", "route": [route.clone()],
                       "disable_bgp_route_propagation": false,
                       "bgp_route_propagation_enabled": true}),
                5,
            ),
            resource("azurerm_route", "to-all", route, 6),
        ];
        let text = topology_yaml(&resources, "a test").unwrap();
        assert_eq!(text.matches("- name: sn").count(), 1, "{text}");
        assert_eq!(text.matches("- name: deny-telnet").count(), 1, "{text}");
        assert_eq!(text.matches("- name: to-all").count(), 1, "{text}");
        assert_has(&text, "      # main.tf:2\n      - name: sn");
        assert_has(&text, "      # main.tf:4\n      - name: deny-telnet");
        assert_has(&text, "      # main.tf:6\n      - name: to-all");
        assert!(!text.contains("bgp_route_propagation_enabled"), "{text}");
    }

    /// A firewall naming a policy the input lacks is refused.
    #[test]
    fn a_firewall_of_a_policy_not_in_the_input_is_refused() {
        let vnet = resource(
            "azurerm_virtual_network",
            "hub",
            json!({"name": "hub", "address_space": ["10.9.0.0/16"], "subnet": [
                {"name": "AzureFirewallSubnet", "address_prefixes": ["10.9.0.0/26"]}]}),
            1,
        );
        let subnet_id = format!("{SUB}/virtualNetworks/hub/subnets/AzureFirewallSubnet");
        let firewall = resource(
            "azurerm_firewall",
            "fw",
            json!({"name": "fw", "firewall_policy_id": format!("{SUB}/firewallPolicies/gone"),
                   "ip_configuration": [{"name": "c", "subnet_id": subnet_id}]}),
            5,
        );
        let err = topology_yaml(&[vnet, firewall], "a test").unwrap_err();
        err.assert_is(
            "main.tf:5",
            &format!(
                "firewall_policy_id `{SUB}/firewallPolicies/gone` names a resource that is \
                     not in the input"
            ),
        );
    }

    #[test]
    fn a_dangling_id_names_the_resource_source() {
        let resources = vec![
            resource(
                "azurerm_virtual_network",
                "v",
                json!({"name": "v", "address_space": ["10.9.0.0/16"]}),
                1,
            ),
            resource(
                "azurerm_virtual_network_peering",
                "p",
                json!({"name": "p", "virtual_network_name": "v",
                       "remote_virtual_network_id": format!("{SUB}/virtualNetworks/gone")}),
                7,
            ),
        ];
        let err = topology_yaml(&resources, "a test").unwrap_err();
        assert_eq!(err.location, "main.tf:7");
        err.assert_contains("virtualNetworks/gone");
    }

    #[test]
    fn a_refusal_of_vnetd_points_at_the_object() {
        let resources = vec![resource(
            "azurerm_network_security_group",
            "nsg1",
            json!({"name": "nsg1", "security_rule": [{
                "name": "rule1", "priority": 100, "direction": "Inbound", "access": "Allow",
                "protocol": "Tcp", "source_port_range": "*", "destination_port_range": "80",
                "source_address_prefix": "Storage", "destination_address_prefix": "*"}]}),
            3,
        )];
        let err = topology_yaml(&resources, "a test").unwrap_err();
        assert_eq!(err.location, "main.tf:3");
        err.assert_contains("Storage");
    }
}
