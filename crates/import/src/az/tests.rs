use super::*;
use crate::assert_has;

/// The list of `file` holding `document` (parsed without its text).
fn list<T: DeserializeOwned>(file: &'static str, document: Value) -> List<'static, T> {
    List::read(file, "", document).unwrap()
}

const NET: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network";

fn dump(vnets: Value, nics: Value, nsgs: Value, asgs: Value) -> Result<Vec<Resource>, ImportError> {
    dump_with_vms(vnets, nics, nsgs, asgs, json!([]))
}

fn dump_with_vms(
    vnets: Value,
    nics: Value,
    nsgs: Value,
    asgs: Value,
    vms: Value,
) -> Result<Vec<Resource>, ImportError> {
    Dump {
        vnets: List::read("vnets.json", "", vnets)?,
        nics: List::read("nics.json", "", nics)?,
        nsgs: List::read("nsgs.json", "", nsgs)?,
        asgs: List::read("asgs.json", "", asgs)?,
        vms: List::read("vms.json", "", vms)?,
        ..Dump::default()
    }
    .resources()
}

#[test]
fn a_vm_of_az_vm_list_becomes_a_virtual_machine_of_its_size_and_nics() {
    let nic_id = format!("{NET}/networkInterfaces/web1-nic");
    let nics = json!([{"name": "web1-nic", "id": nic_id,
        "ipConfigurations": [{"name": "c", "privateIPAddress": "10.9.1.4",
            "privateIPAllocationMethod": "Static",
            "subnet": {"id": format!("{NET}/virtualNetworks/vnet1/subnets/s")}}]}]);
    let vms = json!([
        {"name": "web1", "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web1",
         "location": "westeurope", "hardwareProfile": {"vmSize": "Standard_D2s_v3"},
         "storageProfile": {"osDisk": {"osType": "Windows"}},
         "networkProfile": {"networkInterfaces": [{"id": nic_id.to_uppercase()}]}}]);
    let vnets = json!([{"name": "vnet1", "id": format!("{NET}/virtualNetworks/vnet1"),
        "location": "westeurope", "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
        "subnets": [{"name": "s", "id": format!("{NET}/virtualNetworks/vnet1/subnets/s"),
                     "addressPrefix": "10.9.1.0/24"}]}]);
    let resources = dump_with_vms(vnets, nics, json!([]), json!([]), vms).unwrap();
    let vm = resources.iter().find(|r| r.name == "web1").unwrap();
    assert_eq!(vm.kind, "azurerm_windows_virtual_machine");
    assert_eq!(vm.attributes["size"], "Standard_D2s_v3");
    assert_eq!(vm.attributes["network_interface_ids"], json!([nic_id]));
    let text = crate::topology_yaml(&resources, "a test").unwrap();
    let t = vnetd_model::topology::parse_str("t", &text)
        .unwrap()
        .topology;
    assert_eq!(t.virtual_machines.len(), 1);
    assert_eq!(
        t.virtual_machines[vnetd_model::topology::VmIdx::new(0)].egress_mbps,
        Some(1_000)
    );
}

#[test]
fn a_vm_naming_a_nic_the_dump_lacks_is_refused_with_its_place() {
    let vms = json!([{"name": "web1",
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web1",
        "networkProfile": {"networkInterfaces": [{"id": format!("{NET}/networkInterfaces/gone")}]}}]);
    let err = dump_with_vms(vnet(), json!([]), json!([]), json!([]), vms).unwrap_err();
    assert!(
        err.message
            .contains("names no network interface of nics.json"),
        "{err:?}"
    );
}

fn vnet() -> Value {
    json!([{"name": "v", "id": format!("{NET}/virtualNetworks/v"), "location": "westeurope",
            "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
            "subnets": [{"name": "s", "id": format!("{NET}/virtualNetworks/v/subnets/s"),
                         "addressPrefix": "10.9.1.0/24"}]}])
}

#[test]
fn older_cli_casing_asgs_and_a_nic_nsg_become_associations() {
    let asg_id = format!("{NET}/applicationSecurityGroups/web");
    let nsg_id = format!("{NET}/networkSecurityGroups/n");
    let nic_id = format!("{NET}/networkInterfaces/a");
    let nics = json!([{"name": "a", "id": nic_id, "enableIpForwarding": true,
        "networkSecurityGroup": {"id": nsg_id.to_uppercase()},
        "ipConfigurations": [{"name": "c", "primary": true, "privateIpAddress": "10.9.1.10",
            "privateIpAllocationMethod": "Static",
            "subnet": {"id": format!("{NET}/virtualNetworks/v/subnets/s")},
            "applicationSecurityGroups": [{"id": asg_id}]}]}]);
    let nsgs = json!([{"name": "n", "id": nsg_id, "securityRules": [
        {"name": "web", "priority": 200, "direction": "Inbound", "access": "Allow",
         "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRanges": ["80", "443"],
         "destinationPortRange": null, "sourceAddressPrefix": "VirtualNetwork",
         "sourceAddressPrefixes": [], "destinationApplicationSecurityGroups": [{"id": asg_id}]}],
        "defaultSecurityRules": [{"name": "DenyAllInBound"}]}]);
    let asgs = json!([{"name": "web", "id": asg_id, "location": "westeurope"}]);
    let resources = dump(vnet(), nics, nsgs, asgs).unwrap();
    let kinds: Vec<&str> = resources.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "azurerm_virtual_network",
            "azurerm_subnet",
            "azurerm_application_security_group",
            "azurerm_network_security_group",
            "azurerm_network_interface",
            "azurerm_network_interface_security_group_association",
            "azurerm_network_interface_application_security_group_association",
        ]
    );
    assert_eq!(
        resources[3].attributes["security_rule"],
        json!([{"name": "web", "priority": 200, "direction": "Inbound", "access": "Allow",
                "protocol": "Tcp", "source_port_range": "*",
                "destination_port_ranges": ["80", "443"],
                "source_address_prefix": "VirtualNetwork",
                "destination_application_security_group_ids": [asg_id]}])
    );
    assert_eq!(
        resources[4].attributes,
        json!({"id": nic_id, "name": "a", "resource_group_name": "rg",
               "enable_ip_forwarding": true, "ip_configuration": [{
                   "name": "c", "primary": true, "private_ip_address": "10.9.1.10",
                   "private_ip_address_allocation": "Static",
                   "subnet_id": format!("{NET}/virtualNetworks/v/subnets/s")}]})
    );
    assert_eq!(
        resources[5].attributes["network_security_group_id"],
        json!(nsg_id),
        "the reference is written as the NSG's own ID"
    );
    assert_eq!(resources[6].source, format!("{nic_id}|{asg_id}"));
}

#[test]
fn a_subnet_with_several_prefixes_and_a_disconnected_peering() {
    let vnets = json!([{"name": "v", "id": format!("{NET}/virtualNetworks/v"),
        "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
        "subnets": [{"name": "s", "id": format!("{NET}/virtualNetworks/v/subnets/s"),
                     "addressPrefixes": ["10.9.1.0/24", "10.9.2.0/24"]}],
        "virtualNetworkPeerings": [{"name": "gone", "id": format!("{NET}/virtualNetworks/v/virtualNetworkPeerings/gone"),
            "peeringState": "Disconnected",
            "remoteVirtualNetwork": {"id": format!("{NET}/virtualNetworks/deleted")}}]}]);
    let resources = dump(vnets, json!([]), json!([]), json!([])).unwrap();
    assert_eq!(resources.len(), 2);
    assert_eq!(
        resources[1].attributes["address_prefixes"],
        json!(["10.9.1.0/24", "10.9.2.0/24"])
    );
}

#[test]
fn a_reference_to_nothing_names_the_file_and_the_path() {
    let nics = json!([{"name": "a", "id": format!("{NET}/networkInterfaces/a"),
        "ipConfigurations": [{"name": "c",
            "subnet": {"id": format!("{NET}/virtualNetworks/v/subnets/nope")}}]}]);
    let err = dump(vnet(), nics, json!([]), json!([])).unwrap_err();
    assert_eq!(err.location, "nics.json");
    assert_eq!(
        err.message,
        format!("[0].ipConfigurations[0].subnet.id: `{NET}/virtualNetworks/v/subnets/nope` names no subnet of vnets.json")
    );
}

#[test]
fn a_broken_shape_names_the_file_and_the_path() {
    let err = dump(json!({"value": []}), json!([]), json!([]), json!([])).unwrap_err();
    assert_eq!(err.location, "vnets.json");
    assert_eq!(
        err.message,
        "(the document): expected a list, found an object"
    );
    let vnets = json!([{"name": "v", "id": format!("{NET}/virtualNetworks/v"),
                        "addressSpace": {"addressPrefixes": "10.9.0.0/16"}}]);
    let err = dump(vnets, json!([]), json!([]), json!([])).unwrap_err();
    assert_eq!(
        err.message,
        "[0].addressSpace.addressPrefixes: expected a list, found a string"
    );
}

#[test]
fn a_directory_without_any_of_the_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_dir(dir.path()).unwrap_err();
    err.assert_starts_with("none of vnets.json, nics.json");
    std::fs::write(dir.path().join("asgs.json"), "[]").unwrap();
    assert_eq!(read_dir(dir.path()), Ok(Vec::new()));
    let err = read_dir(&dir.path().join("asgs.json")).unwrap_err();
    err.assert_starts_with("not a directory");
}

/// The dump of `vnet()` with `nsgs` and `route_tables` read from their
/// text, as `vnetd import az` reads its files: errors name the line.
fn dump_texts(nsgs: &str, route_tables: &str) -> Result<Vec<Resource>, ImportError> {
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap();
    Dump {
        vnets: List::read("vnets.json", "", vnet())?,
        nsgs: List::read("nsgs.json", nsgs, parse(nsgs))?,
        route_tables: List::read("route-tables.json", route_tables, parse(route_tables))?,
        ..Dump::default()
    }
    .resources()
}

const NSGS: &str = r#"[
  {
    "name": "n",
    "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n",
    "securityRules": [
      {"name": "ssh", "priority": 100, "direction": "Inbound", "access": "Allow",
       "protocol": "Tcp", "destinationPortRange": "22"},
      {
        "name": "web",
        "priority": 200,
        "direction": "Inbound",
        "access": "Allow",
        "protocol": "Tcp",
        "destinationPortRanges": ["80",
          443],
        "destinationApplicationSecurityGroups": [
          {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/web"}
        ]
      }
    ]
  }
]"#;

const ROUTE_TABLES: &str = r#"[
  {"name": "t",
   "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/routeTables/t",
   "routes": [
     {"name": "a", "addressPrefix": "0.0.0.0/0", "nextHopType": "Internet"},
     {"name": "b",
      "addressPrefix": "10.0.0.0/8", "nextHopType": "None"}
   ]}
]"#;

#[test]
fn a_value_of_the_wrong_type_deep_in_a_security_rule_names_its_line() {
    let err = dump_texts(NSGS, "[]").unwrap_err();
    assert_eq!(err.location, "nsgs.json:15");
    assert_eq!(
        err.message,
        "[0].securityRules[1].destinationPortRanges[1]: expected a string, found a number"
    );
}

#[test]
fn a_rule_naming_an_asg_the_dump_lacks_names_the_line_of_the_reference() {
    let err = dump_texts(&NSGS.replace("\n          443]", "\"443\"]"), "[]").unwrap_err();
    assert_eq!(err.location, "nsgs.json:16");
    assert_eq!(
        err.message,
        format!(
            "[0].securityRules[1].destinationApplicationSecurityGroups[0].id: \
             `{NET}/applicationSecurityGroups/web` names no application security group of \
             asgs.json"
        )
    );
}

#[test]
fn a_route_without_its_next_hop_type_names_the_line_of_the_route() {
    let resources = dump_texts("[]", ROUTE_TABLES).unwrap();
    assert_eq!(
        resources[2].attributes["route"][1],
        json!({"name": "b", "address_prefix": "10.0.0.0/8", "next_hop_type": "None"})
    );
    let tables = ROUTE_TABLES.replace(", \"nextHopType\": \"None\"", "");
    let err = dump_texts("[]", &tables).unwrap_err();
    assert_eq!(err.location, "route-tables.json:6");
    assert_eq!(err.message, "[0].routes[1]: `nextHopType` is missing");
}

#[test]
fn a_member_given_under_both_spellings_is_read_under_the_one_named_first() {
    let nic_id = format!("{NET}/networkInterfaces/a");
    let nics = json!([{"name": "a", "id": nic_id,
        "enableIPForwarding": true, "enableIpForwarding": false,
        "ipConfigurations": [{"name": "c", "primary": true,
            "privateIPAddress": "10.9.1.10", "privateIpAddress": "10.9.1.99",
            "privateIpAllocationMethod": "Static", "privateIPAllocationMethod": null,
            "subnet": {"id": format!("{NET}/virtualNetworks/v/subnets/s")}}]}]);
    let resources = dump(vnet(), nics, json!([]), json!([])).unwrap();
    let nic = resources
        .iter()
        .find(|r| r.kind == "azurerm_network_interface")
        .unwrap();
    assert_eq!(nic.attributes["enable_ip_forwarding"], json!(true));
    assert_eq!(
        nic.attributes["ip_configuration"][0]["private_ip_address"],
        json!("10.9.1.10")
    );
    assert_eq!(
        nic.attributes["ip_configuration"][0]["private_ip_address_allocation"],
        json!("Static"),
        "a null spelling counts as absent"
    );
}

/// A TXT record's strings are one value, as DNS joins them; an endpoint
/// whose connection waits for approval is a manual one, and its address
/// is its custom DNS configuration's when its NIC is not in the dump.
#[test]
fn txt_strings_join_and_a_manual_connection_stays_manual() {
    let zone_id = format!("{NET}/privateDnsZones/contoso.internal");
    let names = names::Lists {
        zones: list(
            "private-dns-zones.json",
            json!([{"name": "contoso.internal", "id": zone_id}]),
        ),
        links: list("private-dns-links.json", json!([])),
        record_sets: list(
            "private-dns-record-sets.json",
            json!([
                {"name": "@", "id": format!("{zone_id}/SOA/@"),
                 "type": "Microsoft.Network/privateDnsZones/SOA", "ttl": 3600,
                 "soaRecord": {"email": "azureprivatedns-host.microsoft.com"}},
                {"name": "long", "id": format!("{zone_id}/TXT/long"),
                 "type": "Microsoft.Network/privateDnsZones/TXT", "ttl": 60,
                 "txtRecords": [{"value": ["v=DKIM1; k=rsa; ", "p=MIIB"]}]}]),
        ),
        endpoints: list(
            "private-endpoints.json",
            json!([{"name": "pe1", "id": format!("{NET}/privateEndpoints/pe1"),
                "subnet": {"id": format!("{NET}/virtualNetworks/vnet1/subnets/s")},
                "privateLinkServiceConnections": [],
                "manualPrivateLinkServiceConnections": [{"name": "c",
                    "privateLinkServiceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/sql1",
                    "groupIds": ["sqlServer"]}],
                "customDnsConfigs": [{"fqdn": "sql1.database.windows.net",
                                      "ipAddresses": ["10.9.1.9"]}],
                "networkInterfaces": [{"id": format!("{NET}/networkInterfaces/pe1.nic.1")}]}]),
        ),
        zone_groups: list("private-dns-zone-groups.json", json!([])),
    };
    let resources = Dump {
        vnets: list(
            "vnets.json",
            json!([{"name": "vnet1", "id": format!("{NET}/virtualNetworks/vnet1"),
                    "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
                    "subnets": [{"name": "s",
                                 "id": format!("{NET}/virtualNetworks/vnet1/subnets/s"),
                                 "addressPrefix": "10.9.1.0/24"}]}]),
        ),
        names,
        ..Dump::default()
    }
    .resources()
    .unwrap();
    let kinds: Vec<&str> = resources.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "azurerm_virtual_network",
            "azurerm_subnet",
            "azurerm_private_dns_zone",
            "azurerm_private_dns_txt_record",
            "azurerm_private_endpoint",
        ],
        "the SOA record set is Azure's own"
    );
    assert_eq!(
        resources[3].attributes["record"],
        json!([{"value": "v=DKIM1; k=rsa; p=MIIB"}])
    );
    assert_eq!(
        resources[4].attributes["private_service_connection"],
        json!([{"name": "c", "is_manual_connection": true,
                "private_connection_resource_id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/sql1",
                "subresource_names": ["sqlServer"], "private_ip_address": "10.9.1.9"}])
    );
    let text = crate::topology_yaml(&resources, "a test").unwrap();
    assert_has(
        &text,
        "    private_service_connection:\n      name: c\n      resource: sql1\n      kind: \
             sql_server\n      subresource_names: [sqlServer]\n      is_manual_connection: true\n",
    );
    assert_has(&text, "    private_ip_address: 10.9.1.9\n");
}

/// The Internet edge of `az`: a subnet's NAT gateway and default outbound
/// access, a NIC's public IP, a public IP's prefix and what holds it, a NAT
/// gateway's public IPs and prefixes as associations, a policy's NAT rule
/// (one destination, `destination_address` as azurerm has it) and a
/// firewall's public IPs (its management configuration's apart).
#[test]
fn the_edge_of_az_becomes_azurerm_resources() {
    let subnet_id = format!("{NET}/virtualNetworks/vnet1/subnets/s");
    let gateway_id = format!("{NET}/natGateways/natgw");
    let pip = |name: &str| format!("{NET}/publicIPAddresses/{name}");
    let vnets = json!([{"name": "vnet1", "id": format!("{NET}/virtualNetworks/vnet1"),
        "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
        "subnets": [{"name": "s", "id": subnet_id, "addressPrefix": "10.9.1.0/24",
                     "defaultOutboundAccess": false,
                     "natGateway": {"id": gateway_id.to_uppercase()}}]}]);
    let nics = json!([{"name": "a", "id": format!("{NET}/networkInterfaces/a"),
        "ipConfigurations": [{"name": "c", "privateIPAddress": "10.9.1.4",
            "privateIPAllocationMethod": "Static", "subnet": {"id": subnet_id},
            "publicIPAddress": {"id": pip("a-pip").to_uppercase()}}]}]);
    let prefix_id = format!("{NET}/publicIPPrefixes/p");
    let edge = edge::Lists {
        public_ips: list(
            "public-ips.json",
            json!([
                {"name": "a-pip", "id": pip("a-pip"), "location": "westeurope",
                 "ipAddress": "203.0.113.5", "publicIPAddressVersion": "IPv4",
                 "publicIPAllocationMethod": "Static", "sku": {"name": "Standard"},
                 "publicIPPrefix": {"id": prefix_id.to_uppercase()},
                 "ipConfiguration": {"id": format!("{NET}/networkInterfaces/a/ipConfigurations/c")}},
                {"name": "gw-pip", "id": pip("gw-pip"), "ipAddress": "203.0.113.9",
                 "sku": {"name": "Standard", "tier": "Regional"}}]),
        ),
        prefixes: list(
            "public-ip-prefixes.json",
            json!([{"name": "p", "id": prefix_id, "ipPrefix": "203.0.113.4/30",
                    "prefixLength": 30, "sku": {"name": "Standard"}}]),
        ),
        nat_gateways: list(
            "nat-gateways.json",
            json!([{"name": "natgw", "id": gateway_id, "sku": {"name": "StandardV2"},
                    "idleTimeoutInMinutes": 4,
                    "publicIpAddresses": [{"id": pip("gw-pip")}],
                    "publicIpPrefixes": null,
                    "subnets": [{"id": subnet_id}]}]),
        ),
    };
    let mut dump = Dump {
        vnets: list("vnets.json", vnets),
        nics: list("nics.json", nics),
        edge,
        ..Dump::default()
    };
    let resources = dump.resources().unwrap();
    let of = |kind: &str| -> Vec<&Value> {
        (resources.iter().filter(|r| r.kind == kind))
            .map(|r| &r.attributes)
            .collect()
    };
    assert_eq!(
        of("azurerm_subnet")[0]["default_outbound_access_enabled"],
        json!(false)
    );
    assert_eq!(
        of("azurerm_subnet_nat_gateway_association"),
        [&json!({"id": subnet_id, "subnet_id": subnet_id, "nat_gateway_id": gateway_id})]
    );
    assert_eq!(
        of("azurerm_network_interface")[0]["ip_configuration"][0]["public_ip_address_id"],
        json!(pip("a-pip")),
        "written as the public IP's own ID"
    );
    assert_eq!(
        of("azurerm_public_ip")[0],
        &json!({"id": pip("a-pip"), "name": "a-pip", "resource_group_name": "rg",
                "location": "westeurope", "sku": "Standard", "allocation_method": "Static",
                "ip_address": "203.0.113.5", "ip_version": "IPv4",
                "ip_configuration_id": format!("{NET}/networkInterfaces/a/ipConfigurations/c"),
                "public_ip_prefix_id": prefix_id})
    );
    assert_eq!(
        of("azurerm_nat_gateway"),
        [
            &json!({"id": gateway_id, "name": "natgw", "resource_group_name": "rg",
                 "sku_name": "StandardV2", "idle_timeout_in_minutes": 4})
        ]
    );
    assert_eq!(
        of("azurerm_nat_gateway_public_ip_association"),
        [
            &json!({"id": format!("{gateway_id}|{}", pip("gw-pip")), "nat_gateway_id": gateway_id,
                 "public_ip_address_id": pip("gw-pip")})
        ]
    );
    let text = crate::topology_yaml(&resources, "a test").unwrap();
    assert_has(
        &text,
        "\nnat_gateways:\n  # /subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/\
             natGateways/natgw\n  - name: natgw\n    sku_name: StandardV2\n    \
             public_ip_addresses:\n",
    );

    // A NAT gateway a subnet names must be in the dump.
    dump.edge.nat_gateways = list("nat-gateways.json", json!([]));
    let err = dump.resources().unwrap_err();
    assert_eq!(
        err.message,
        format!(
            "[0].subnets[0].natGateway.id: `{}` names no NAT gateway of nat-gateways.json",
            gateway_id.to_uppercase()
        )
    );
}

/// A policy's NAT rule with one destination is azurerm's
/// `destination_address`; a classic one keeps `destination_addresses`; a
/// firewall's management public IP is its `management_ip_configuration`'s.
#[test]
fn nat_rules_and_a_firewalls_public_ips_of_az() {
    let policy_id = format!("{NET}/firewallPolicies/p");
    let firewalls = firewall::Lists {
        firewalls: list(
            "firewalls.json",
            json!([{"name": "fw", "id": format!("{NET}/azureFirewalls/fw"),
                "firewallPolicy": {"id": policy_id},
                "ipConfigurations": [{"name": "data", "privateIPAddress": "10.9.0.4",
                    "subnet": {"id": format!("{NET}/virtualNetworks/v/subnets/s")},
                    "publicIPAddress": {"id": format!("{NET}/publicIPAddresses/fw-pip")}}],
                "managementIpConfiguration": {"name": "mgmt",
                    "publicIPAddress": {"id": format!("{NET}/publicIPAddresses/mgmt-pip")}},
                "natRuleCollections": [{"name": "classic", "priority": 100,
                    "action": {"type": "Dnat"}, "rules": [{"name": "ssh",
                        "protocols": ["TCP"], "sourceAddresses": ["*"],
                        "destinationAddresses": ["203.0.113.5"], "destinationPorts": ["22"],
                        "translatedAddress": "10.9.1.4", "translatedPort": "22"}]}]}]),
        ),
        policies: list(
            "firewall-policies.json",
            json!([{"name": "p", "id": policy_id}]),
        ),
        groups: list(
            "firewall-rule-collection-groups.json",
            json!([{"name": "g", "id": format!("{policy_id}/ruleCollectionGroups/g"),
                "priority": 100, "ruleCollections": [{"name": "in", "priority": 100,
                    "action": {"type": "DNAT"},
                    "ruleCollectionType": "FirewallPolicyNatRuleCollection",
                    "rules": [{"name": "https", "ruleType": "NatRule", "ipProtocols": ["TCP"],
                        "sourceAddresses": ["*"], "sourceIpGroups": [],
                        "destinationAddresses": ["203.0.113.5"], "destinationPorts": ["443"],
                        "translatedAddress": null, "translatedFqdn": "app.contoso.com",
                        "translatedPort": 8443}]}]}]),
        ),
        ip_groups: list("ip-groups.json", json!([])),
    };
    let known = {
        let mut known = Known::default();
        known.add("subnet", &format!("{NET}/virtualNetworks/v/subnets/s"));
        firewalls.add_known(&mut known);
        known
    };
    let mut out = Vec::new();
    firewalls.resources(&known, &mut out).unwrap();
    let group = out.iter().find(|r| r.name == "g").unwrap();
    assert_eq!(
        group.attributes["nat_rule_collection"],
        json!([{"name": "in", "priority": 100, "action": "Dnat", "rule": [{"name": "https",
            "protocols": ["TCP"], "source_addresses": ["*"], "source_ip_groups": [],
            "destination_address": "203.0.113.5", "destination_ports": ["443"],
            "translated_fqdn": "app.contoso.com", "translated_port": "8443"}]}])
    );
    let fw = out.iter().find(|r| r.kind == "azurerm_firewall").unwrap();
    assert_eq!(
        fw.attributes["ip_configuration"][0]["public_ip_address_id"],
        json!(format!("{NET}/publicIPAddresses/fw-pip")),
        "a public IP the dump lacks is handed on as its ID"
    );
    assert_eq!(
        fw.attributes["management_ip_configuration"],
        json!([{"name": "mgmt", "public_ip_address_id": format!("{NET}/publicIPAddresses/mgmt-pip")}])
    );
    let classic = out
        .iter()
        .find(|r| r.kind == "azurerm_firewall_nat_rule_collection")
        .unwrap();
    assert_eq!(
        classic.attributes["rule"],
        json!([{"name": "ssh", "protocols": ["TCP"], "source_addresses": ["*"],
            "source_ip_groups": [], "destination_addresses": ["203.0.113.5"],
            "destination_ports": ["22"], "translated_address": "10.9.1.4",
            "translated_port": "22"}])
    );
}

/// A subnet's service endpoints and policy, a storage account's network
/// rule set and public access, a service endpoint policy: as `az` lists
/// them, written as Terraform's would be.
#[test]
fn service_endpoints_and_a_storage_accounts_rules_are_read() {
    let subnet_id = format!("{NET}/virtualNetworks/vnet1/subnets/web");
    let policy_id = format!("{NET}/serviceEndpointPolicies/web-only");
    let storage = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts";
    let vnets = json!([{"name": "vnet1", "id": format!("{NET}/virtualNetworks/vnet1"),
        "location": "westeurope", "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
        "subnets": [{"name": "web", "id": subnet_id, "addressPrefix": "10.9.1.0/24",
            "serviceEndpoints": [{"service": "Microsoft.Storage", "locations": ["westeurope"]}],
            "serviceEndpointPolicies": [{"id": policy_id}]}]}]);
    let accounts = json!([
        {"name": "stdata", "id": format!("{storage}/stdata"), "location": "westeurope",
         "publicNetworkAccess": "Enabled",
         "networkRuleSet": {"bypass": "Logging, AzureServices", "defaultAction": "Deny",
            "ipRules": [{"action": "Allow", "ipAddressOrRange": "203.0.113.0/24"}],
            "virtualNetworkRules": [{"action": "Allow", "virtualNetworkResourceId": subnet_id}]}},
        {"name": "stlocked", "id": format!("{storage}/stlocked"), "location": "westeurope",
         "publicNetworkAccess": "Disabled"}]);
    let policies = json!([{"name": "web-only", "id": policy_id, "location": "westeurope",
        "serviceEndpointPolicyDefinitions": [{"name": "d", "service": "Microsoft.Storage",
            "serviceResources": [format!("{storage}/stdata")]}]}]);
    let resources = Dump {
        vnets: list("vnets.json", vnets),
        services: services::Lists {
            storage_accounts: list("storage-accounts.json", accounts),
            policies: list("service-endpoint-policies.json", policies),
            ..Default::default()
        },
        ..Dump::default()
    }
    .resources()
    .unwrap();
    let text = crate::topology_yaml(&resources, "a test").unwrap();
    for line in [
        "        service_endpoints: [Microsoft.Storage]\n",
        "        service_endpoint_policy_ids: [web-only]\n",
        "      default_action: Deny\n      ip_rules: [203.0.113.0/24]\n      \
         virtual_network_subnet_ids: [vnet1/web]\n      bypass: [Logging, AzureServices]\n",
        "  - name: stlocked\n    kind: storage_account\n    location: westeurope\n    \
         public_network_access_enabled: false\n",
        "        service_resources: [stdata]\n",
    ] {
        assert_has(&text, line);
    }
}
