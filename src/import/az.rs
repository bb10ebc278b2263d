//! `vnetd import az DIR`: a network as the Azure CLI lists it, turned into
//! the azurerm resources Terraform would hold for it.
//!
//! DIR holds the JSON of five `az ... list -o json` commands, one file
//! each ([`FILES`]); a missing file is an empty list. The CLI prints
//! Azure's REST objects with `properties` flattened, in camelCase; some
//! names changed case across CLI versions (`enableIpForwarding` and
//! `enableIPForwarding`, `privateIpAddress` and `privateIPAddress`), and
//! both are read. Each object becomes the azurerm resources of the same
//! thing, in the provider's v3 names: a VNet its `azurerm_virtual_network`,
//! one `azurerm_subnet` per subnet with its NSG and route table
//! associations, and one `azurerm_virtual_network_peering` per peering; a
//! NIC its `azurerm_network_interface` with NSG and ASG associations; an
//! NSG its `azurerm_network_security_group` with `security_rule` blocks
//! (Azure's default rules are left out: vnetd adds them itself); a route
//! table its `azurerm_route_table` with `route` blocks; an ASG its
//! `azurerm_application_security_group`. Each resource's source is the
//! Azure resource ID (for an association, the ID Terraform gives it).
//!
//! Every reference must name an object of the dump: Azure compares IDs
//! without case (and often answers a reference with its resource group in
//! upper case), so references are matched without case and written as the
//! referred object's own ID. A peering Azure reports `Disconnected` (its
//! remote side was deleted) carries no traffic and is left out.

use super::json_file::{self, Node};
use super::{ImportError, Resource};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// The files of DIR, each with the command whose output it holds.
pub const FILES: [(&str, &str); 6] = [
    ("vnets.json", "az network vnet list -o json"),
    ("nics.json", "az network nic list -o json"),
    ("nsgs.json", "az network nsg list -o json"),
    ("route-tables.json", "az network route-table list -o json"),
    ("asgs.json", "az network asg list -o json"),
    ("vms.json", "az vm list -o json"),
];

/// Reads the dump in `dir`.
pub fn read_dir(dir: &Path) -> Result<Vec<Resource>, ImportError> {
    read_located(dir).map(|(resources, _)| resources)
}

/// `vnetd import az DIR`: the topology file written from the dump in
/// `dir`; `origin` names the input in its header. Every error names the
/// file and line of the object it is about.
pub fn topology(dir: &Path, origin: &str) -> Result<String, ImportError> {
    let (resources, documents) = read_located(dir)?;
    crate::import::topology_yaml(&resources, origin).map_err(|e| {
        // The writer's complaints are about resources, whose source is an
        // Azure resource ID (an association's is `OBJECT|OTHER`): they are
        // placed at the line of the object that has the ID.
        let id = e.location.split('|').next().unwrap_or_default();
        documents
            .iter()
            .find_map(|(file, text)| {
                let line = json_file::line_of_id(text, id)?;
                Some(ImportError::new(
                    format!("{file}:{line}"),
                    format!("{}: {}", e.location, e.message),
                ))
            })
            .unwrap_or(e)
    })
}

/// Each file of a dump, as its name and text.
type Texts = Vec<(String, String)>;

/// The dump's resources, with each file's name and text.
fn read_located(dir: &Path) -> Result<(Vec<Resource>, Texts), ImportError> {
    let meta = std::fs::metadata(dir)
        .map_err(|e| ImportError::new(dir.display().to_string(), format!("cannot read: {e}")))?;
    if !meta.is_dir() {
        return Err(ImportError::new(
            dir.display().to_string(),
            "not a directory: `vnetd import az` reads a directory of `az ... list -o json` files",
        ));
    }
    let mut documents = Vec::new();
    let mut found_any = false;
    for (name, _) in FILES {
        let path = dir.join(name);
        let (text, document) = match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                (String::new(), Value::Array(Vec::new()))
            }
            _ => {
                found_any = true;
                json_file::read_with_text(&path)?
            }
        };
        documents.push((path.display().to_string(), text, document));
    }
    if !found_any {
        let names: Vec<&str> = FILES.iter().map(|(name, _)| *name).collect();
        return Err(ImportError::new(
            dir.display().to_string(),
            format!("none of {} is there", names.join(", ")),
        ));
    }
    let [vnets, nics, nsgs, route_tables, asgs, vms] = &documents[..] else {
        return Err(ImportError::new(
            dir.display().to_string(),
            "internal: six files expected",
        ));
    };
    let dump = Dump {
        vnets: Node::root_in(&vnets.0, &vnets.1, &vnets.2),
        nics: Node::root_in(&nics.0, &nics.1, &nics.2),
        nsgs: Node::root_in(&nsgs.0, &nsgs.1, &nsgs.2),
        route_tables: Node::root_in(&route_tables.0, &route_tables.1, &route_tables.2),
        asgs: Node::root_in(&asgs.0, &asgs.1, &asgs.2),
        vms: Node::root_in(&vms.0, &vms.1, &vms.2),
    };
    let resources = dump.resources()?;
    let texts = documents
        .into_iter()
        .map(|(file, text, _)| (file, text))
        .collect();
    Ok((resources, texts))
}

/// The six lists, parsed.
pub struct Dump<'a> {
    pub vnets: Node<'a>,
    pub nics: Node<'a>,
    pub nsgs: Node<'a>,
    pub route_tables: Node<'a>,
    pub asgs: Node<'a>,
    pub vms: Node<'a>,
}

/// The IDs of the dump's objects by kind, lower-cased, each to the object's
/// own spelling.
#[derive(Default)]
struct Known {
    ids: HashMap<(&'static str, String), String>,
}

impl Known {
    fn add(&mut self, kind: &'static str, id: &str) {
        self.ids
            .insert((kind, id.to_ascii_lowercase()), id.to_string());
    }

    /// The referred object's own ID, or an error at `at` naming what is
    /// missing.
    fn resolve(&self, kind: &'static str, at: &Node<'_>, id: &str) -> Result<String, ImportError> {
        self.ids
            .get(&(kind, id.to_ascii_lowercase()))
            .cloned()
            .ok_or_else(|| {
                let (what, file) = match kind {
                    "subnet" => ("subnet", "vnets.json"),
                    "vnet" => ("virtual network", "vnets.json"),
                    "nsg" => ("network security group", "nsgs.json"),
                    "route_table" => ("route table", "route-tables.json"),
                    "asg" => ("application security group", "asgs.json"),
                    _ => ("network interface", "nics.json"),
                };
                at.error(format!("`{id}` names no {what} of {file}"))
            })
    }
}

impl Dump<'_> {
    /// The azurerm resources of the whole dump: VNets with their subnets
    /// and peerings, ASGs, NSGs, route tables, then NICs.
    pub fn resources(&self) -> Result<Vec<Resource>, ImportError> {
        let known = self.known()?;
        let mut out = Vec::new();
        self.vnets
            .each_element(|vnet| vnet_resources(&vnet, &known, &mut out))?;
        self.asgs.each_element(|asg| {
            let (name, id, group) = identity(&asg)?;
            let attributes = resource_attributes(&asg, &id, &name, &group)?;
            out.push(resource(
                "azurerm_application_security_group",
                &name,
                attributes,
                &id,
            ));
            Ok(())
        })?;
        self.nsgs
            .each_element(|nsg| nsg_resource(&nsg, &known, &mut out))?;
        self.route_tables
            .each_element(|table| route_table_resource(&table, &mut out))?;
        self.nics
            .each_element(|nic| nic_resources(&nic, &known, &mut out))?;
        self.vms
            .each_element(|vm| vm_resource(&vm, &known, &mut out))?;
        Ok(out)
    }

    /// Every object's ID, before any reference is followed.
    fn known(&self) -> Result<Known, ImportError> {
        let mut known = Known::default();
        self.vnets.each_element(|vnet| {
            known.add("vnet", &vnet.required_str("id")?);
            vnet.member("subnets", |subnets| match subnets {
                Some(list) => list
                    .each_element(|subnet| {
                        known.add("subnet", &subnet.required_str("id")?);
                        Ok(())
                    })
                    .map(drop),
                None => Ok(()),
            })
        })?;
        for (list, kind) in [
            (&self.nics, "nic"),
            (&self.nsgs, "nsg"),
            (&self.route_tables, "route_table"),
            (&self.asgs, "asg"),
        ] {
            list.each_element(|object| {
                known.add(kind, &object.required_str("id")?);
                Ok(())
            })?;
        }
        Ok(known)
    }
}

/// A VM of `az vm list`: its size (`hardwareProfile.vmSize`) and NICs
/// (`networkProfile.networkInterfaces[].id`), as Terraform's VM resource
/// of its OS (`storageProfile.osDisk.osType`).
fn vm_resource(vm: &Node<'_>, known: &Known, out: &mut Vec<Resource>) -> Result<(), ImportError> {
    let (name, id, group) = identity(vm)?;
    let mut attributes = resource_attributes(vm, &id, &name, &group)?;
    let size = vm.member("hardwareProfile", |profile| match profile {
        Some(profile) => profile.optional_str(&["vmSize"]),
        None => Ok(None),
    })?;
    put_str(&mut attributes, "size", size);
    let nics = vm.member("networkProfile", |profile| match profile {
        Some(profile) => resolved_list(&profile, "networkInterfaces", "nic", known),
        None => Ok(Vec::new()),
    })?;
    attributes.insert("network_interface_ids".into(), json!(nics));
    let windows = vm.member("storageProfile", |storage| match storage {
        Some(storage) => storage.member("osDisk", |disk| match disk {
            Some(disk) => Ok(disk.optional_str(&["osType"])?),
            None => Ok(None),
        }),
        None => Ok(None),
    })?;
    let kind = match windows.as_deref() {
        Some(os) if os.eq_ignore_ascii_case("windows") => "azurerm_windows_virtual_machine",
        _ => "azurerm_linux_virtual_machine",
    };
    out.push(resource(kind, &name, attributes, &id));
    Ok(())
}

fn resource(kind: &str, name: &str, attributes: Map<String, Value>, source: &str) -> Resource {
    Resource {
        kind: kind.to_string(),
        name: name.to_string(),
        attributes: Value::Object(attributes),
        source: source.to_string(),
    }
}

/// What every top-level resource carries: its ID, name, resource group and
/// (when the dump has it) location.
fn resource_attributes(
    object: &Node<'_>,
    id: &str,
    name: &str,
    group: &str,
) -> Result<Map<String, Value>, ImportError> {
    let mut attributes = Map::new();
    attributes.insert("id".into(), json!(id));
    attributes.insert("name".into(), json!(name));
    attributes.insert("resource_group_name".into(), json!(group));
    put_str(
        &mut attributes,
        "location",
        object.optional_str(&["location"])?,
    );
    Ok(attributes)
}

fn put_str(attributes: &mut Map<String, Value>, key: &str, value: Option<String>) {
    if let Some(value) = value {
        attributes.insert(key.to_string(), Value::String(value));
    }
}

/// An object's name, ID and resource group (from the ID, else from its
/// `resourceGroup`).
fn identity(object: &Node<'_>) -> Result<(String, String, String), ImportError> {
    let name = object.required_str("name")?;
    let id = object.required_str("id")?;
    let group = match resource_group_of(&id) {
        Some(group) => group,
        None => object
            .optional_str(&["resourceGroup"])?
            .ok_or_else(|| object.error(format!("`id` `{id}` names no resource group")))?,
    };
    Ok((name, id, group))
}

/// The resource group of an Azure resource ID.
fn resource_group_of(id: &str) -> Option<String> {
    let mut parts = id.split('/');
    while let Some(part) = parts.next() {
        if part.eq_ignore_ascii_case("resourceGroups") {
            return parts.next().filter(|g| !g.is_empty()).map(str::to_string);
        }
    }
    None
}

/// Resolves a reference member, the error naming the member's path.
fn resolved(
    object: &Node<'_>,
    key: &str,
    kind: &'static str,
    known: &Known,
) -> Result<Option<String>, ImportError> {
    object.member(key, |found| match found {
        None => Ok(None),
        Some(reference) => reference.required("id", |id_node| {
            let id = id_node.str()?;
            known.resolve(kind, &id_node, id).map(Some)
        }),
    })
}

/// The IDs of a list of `{"id": ...}` references, resolved.
fn resolved_list(
    object: &Node<'_>,
    key: &str,
    kind: &'static str,
    known: &Known,
) -> Result<Vec<String>, ImportError> {
    object.member(key, |found| match found {
        None => Ok(Vec::new()),
        Some(list) => list.each_element(|reference| {
            reference.required("id", |id_node| {
                let id = id_node.str()?;
                known.resolve(kind, &id_node, id)
            })
        }),
    })
}

fn vnet_resources(
    vnet: &Node<'_>,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let (name, id, group) = identity(vnet)?;
    let address_space = vnet.required("addressSpace", |space| {
        space.string_list(&["addressPrefixes"])
    })?;
    let mut attributes = resource_attributes(vnet, &id, &name, &group)?;
    attributes.insert("address_space".into(), json!(address_space));
    out.push(resource("azurerm_virtual_network", &name, attributes, &id));

    vnet.member("subnets", |subnets| {
        let Some(list) = subnets else { return Ok(()) };
        list.each_element(|subnet| {
            let (subnet_name, subnet_id, subnet_group) = identity(&subnet)?;
            let mut prefixes = subnet.string_list(&["addressPrefixes"])?;
            if prefixes.is_empty() {
                prefixes.extend(subnet.optional_str(&["addressPrefix"])?);
            }
            if prefixes.is_empty() {
                return Err(subnet.error(format!(
                    "subnet `{subnet_name}` has neither `addressPrefix` nor `addressPrefixes`"
                )));
            }
            let mut attributes = Map::new();
            attributes.insert("id".into(), json!(subnet_id));
            attributes.insert("name".into(), json!(subnet_name));
            attributes.insert("resource_group_name".into(), json!(subnet_group));
            attributes.insert("virtual_network_name".into(), json!(name));
            attributes.insert("address_prefixes".into(), json!(prefixes));
            out.push(resource(
                "azurerm_subnet",
                &subnet_name,
                attributes,
                &subnet_id,
            ));

            // Terraform gives a subnet association the subnet's ID.
            if let Some(nsg) = resolved(&subnet, "networkSecurityGroup", "nsg", known)? {
                let attributes = json!({"id": subnet_id, "subnet_id": subnet_id,
                                        "network_security_group_id": nsg});
                out.push(Resource {
                    kind: "azurerm_subnet_network_security_group_association".into(),
                    name: subnet_name.clone(),
                    attributes,
                    source: subnet_id.clone(),
                });
            }
            if let Some(table) = resolved(&subnet, "routeTable", "route_table", known)? {
                let attributes = json!({"id": subnet_id, "subnet_id": subnet_id,
                                        "route_table_id": table});
                out.push(Resource {
                    kind: "azurerm_subnet_route_table_association".into(),
                    name: subnet_name.clone(),
                    attributes,
                    source: subnet_id.clone(),
                });
            }
            Ok(())
        })
        .map(drop)
    })?;

    vnet.member("virtualNetworkPeerings", |peerings| {
        let Some(list) = peerings else { return Ok(()) };
        list.each_element(|peering| {
            let (peering_name, peering_id, peering_group) = identity(&peering)?;
            let state = peering.optional_str(&["peeringState"])?;
            if state.is_some_and(|s| s.eq_ignore_ascii_case("Disconnected")) {
                return Ok(());
            }
            let Some(remote) = resolved(&peering, "remoteVirtualNetwork", "vnet", known)? else {
                return Err(peering.error(format!(
                    "peering `{peering_name}` has no `remoteVirtualNetwork`"
                )));
            };
            let flag = |keys: &[&str], default: bool| -> Result<bool, ImportError> {
                Ok(peering.optional_bool(keys)?.unwrap_or(default))
            };
            let attributes = json!({
                "id": peering_id,
                "name": peering_name,
                "resource_group_name": peering_group,
                "virtual_network_name": name,
                "remote_virtual_network_id": remote,
                "allow_virtual_network_access": flag(&["allowVirtualNetworkAccess"], true)?,
                "allow_forwarded_traffic": flag(&["allowForwardedTraffic"], false)?,
                "allow_gateway_transit": flag(&["allowGatewayTransit"], false)?,
                "use_remote_gateways": flag(&["useRemoteGateways"], false)?,
            });
            out.push(Resource {
                kind: "azurerm_virtual_network_peering".into(),
                name: peering_name,
                attributes,
                source: peering_id,
            });
            Ok(())
        })
        .map(drop)
    })
}

fn nsg_resource(nsg: &Node<'_>, known: &Known, out: &mut Vec<Resource>) -> Result<(), ImportError> {
    let (name, id, group) = identity(nsg)?;
    // `defaultSecurityRules` is not read: vnetd adds Azure's default rules.
    let rules = nsg.member("securityRules", |rules| match rules {
        None => Ok(Vec::new()),
        Some(list) => list.each_element(|rule| security_rule(&rule, known)),
    })?;
    let mut attributes = resource_attributes(nsg, &id, &name, &group)?;
    attributes.insert("security_rule".into(), Value::Array(rules));
    out.push(resource(
        "azurerm_network_security_group",
        &name,
        attributes,
        &id,
    ));
    Ok(())
}

/// One `security_rule` block: the fields the rule has, each under its
/// azurerm name; empty ones (`""`, `[]`, null) are left out.
fn security_rule(rule: &Node<'_>, known: &Known) -> Result<Value, ImportError> {
    let mut block = Map::new();
    block.insert("name".into(), json!(rule.required_str("name")?));
    let priority = rule.required("priority", |p| p.integer())?;
    block.insert("priority".into(), json!(priority));
    for (az_name, azurerm_name) in [
        ("direction", "direction"),
        ("access", "access"),
        ("protocol", "protocol"),
    ] {
        block.insert(azurerm_name.into(), json!(rule.required_str(az_name)?));
    }
    put_str(
        &mut block,
        "description",
        rule.optional_str(&["description"])?,
    );
    for (az_single, az_plural, single, plural) in [
        (
            "sourcePortRange",
            "sourcePortRanges",
            "source_port_range",
            "source_port_ranges",
        ),
        (
            "destinationPortRange",
            "destinationPortRanges",
            "destination_port_range",
            "destination_port_ranges",
        ),
        (
            "sourceAddressPrefix",
            "sourceAddressPrefixes",
            "source_address_prefix",
            "source_address_prefixes",
        ),
        (
            "destinationAddressPrefix",
            "destinationAddressPrefixes",
            "destination_address_prefix",
            "destination_address_prefixes",
        ),
    ] {
        put_str(&mut block, single, rule.optional_str(&[az_single])?);
        let many = rule.string_list(&[az_plural])?;
        if !many.is_empty() {
            block.insert(plural.into(), json!(many));
        }
    }
    for (az_name, azurerm_name) in [
        (
            "sourceApplicationSecurityGroups",
            "source_application_security_group_ids",
        ),
        (
            "destinationApplicationSecurityGroups",
            "destination_application_security_group_ids",
        ),
    ] {
        let ids = resolved_list(rule, az_name, "asg", known)?;
        if !ids.is_empty() {
            block.insert(azurerm_name.into(), json!(ids));
        }
    }
    Ok(Value::Object(block))
}

fn route_table_resource(table: &Node<'_>, out: &mut Vec<Resource>) -> Result<(), ImportError> {
    let (name, id, group) = identity(table)?;
    let routes = table.member("routes", |routes| match routes {
        None => Ok(Vec::new()),
        Some(list) => list.each_element(|route| {
            let mut block = Map::new();
            block.insert("name".into(), json!(route.required_str("name")?));
            block.insert(
                "address_prefix".into(),
                json!(route.required_str("addressPrefix")?),
            );
            block.insert(
                "next_hop_type".into(),
                json!(route.required_str("nextHopType")?),
            );
            put_str(
                &mut block,
                "next_hop_in_ip_address",
                route.optional_str(&["nextHopIpAddress", "nextHopIPAddress"])?,
            );
            Ok(Value::Object(block))
        }),
    })?;
    let disabled = table
        .optional_bool(&["disableBgpRoutePropagation"])?
        .unwrap_or(false);
    let mut attributes = resource_attributes(table, &id, &name, &group)?;
    attributes.insert("disable_bgp_route_propagation".into(), json!(disabled));
    attributes.insert("route".into(), Value::Array(routes));
    out.push(resource("azurerm_route_table", &name, attributes, &id));
    Ok(())
}

fn nic_resources(
    nic: &Node<'_>,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let (name, id, group) = identity(nic)?;
    let mut asgs: Vec<String> = Vec::new();
    let configurations = nic.required("ipConfigurations", |list| {
        list.each_element(|config| {
            let config_name = config.required_str("name")?;
            let Some(subnet) = resolved(&config, "subnet", "subnet", known)? else {
                return Err(config.error(format!(
                    "IP configuration `{config_name}` of NIC `{name}` has no `subnet`"
                )));
            };
            let allocation = config
                .optional_str(&["privateIPAllocationMethod", "privateIpAllocationMethod"])?
                .unwrap_or_else(|| "Dynamic".to_string());
            let mut block = Map::new();
            block.insert("name".into(), json!(config_name));
            block.insert("subnet_id".into(), json!(subnet));
            block.insert("private_ip_address_allocation".into(), json!(allocation));
            put_str(
                &mut block,
                "private_ip_address",
                config.optional_str(&["privateIPAddress", "privateIpAddress"])?,
            );
            put_str(
                &mut block,
                "private_ip_address_version",
                config.optional_str(&["privateIPAddressVersion", "privateIpAddressVersion"])?,
            );
            if let Some(primary) = config.optional_bool(&["primary"])? {
                block.insert("primary".into(), json!(primary));
            }
            for asg in resolved_list(&config, "applicationSecurityGroups", "asg", known)? {
                if !asgs.contains(&asg) {
                    asgs.push(asg);
                }
            }
            Ok(Value::Object(block))
        })
    })?;
    let forwarding = nic
        .optional_bool(&["enableIPForwarding", "enableIpForwarding"])?
        .unwrap_or(false);
    let mut attributes = resource_attributes(nic, &id, &name, &group)?;
    attributes.insert("enable_ip_forwarding".into(), json!(forwarding));
    attributes.insert("ip_configuration".into(), Value::Array(configurations));
    out.push(resource(
        "azurerm_network_interface",
        &name,
        attributes,
        &id,
    ));

    // Terraform gives a NIC association the ID `NIC|OTHER`.
    if let Some(nsg) = resolved(nic, "networkSecurityGroup", "nsg", known)? {
        let association = format!("{id}|{nsg}");
        let attributes = json!({"id": association, "network_interface_id": id,
                                "network_security_group_id": nsg});
        out.push(Resource {
            kind: "azurerm_network_interface_security_group_association".into(),
            name: name.clone(),
            attributes,
            source: association,
        });
    }
    for asg in asgs {
        let association = format!("{id}|{asg}");
        let attributes = json!({"id": association, "network_interface_id": id,
                                "application_security_group_id": asg});
        out.push(Resource {
            kind: "azurerm_network_interface_application_security_group_association".into(),
            name: name.clone(),
            attributes,
            source: association,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
