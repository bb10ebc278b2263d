//! `vnetd import az DIR`: a network as the Azure CLI lists it, turned into
//! the azurerm resources Terraform would hold for it.
//!
//! DIR holds the JSON of the `az ... list -o json` commands of [`FILES`],
//! one file each; a missing file is an empty list. The CLI prints
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
//! `azurerm_application_security_group`; an ExpressRoute circuit and an
//! Azure VMware Solution private cloud what `express_route` says; a load
//! balancer what `load_balancers` says; an Azure
//! Firewall, its policies, their rule collection groups and IP groups what
//! `firewall` says; a Route Server and its peerings what `route_server`
//! says; Private DNS zones with their links and record sets, and Private
//! Endpoints with their DNS zone groups, what `names` says (a VNet's
//! `dhcpOptions.dnsServers`, a NIC's `dnsSettings.dnsServers` and a
//! subnet's `privateEndpointNetworkPolicies` are read with them; the NIC
//! Azure makes for a Private Endpoint is the endpoint's, not imported as a
//! NIC of the lab); DNS Private Resolvers with their endpoints, and DNS
//! forwarding rulesets with their rules and virtual network links, what
//! `resolvers` says; Virtual Network Manager (network managers, their
//! groups, static members, configurations, admin rules and deployment
//! statuses) and the policy definitions that add VNets to a group, what
//! `network_managers` says; Virtual WAN (WANs, hubs with their
//! connections, route tables, routing intent and BGP connections, VPN
//! sites, the hubs' VPN and ExpressRoute gateways with their
//! connections), what `virtual_wan` says. A VNet's `tags` and a subnet's
//! `delegations[].serviceName` are read with them. Each resource's source
//! is the Azure resource ID (for an association, the ID Terraform gives
//! it).
//!
//! Every reference must name an object of the dump: Azure compares IDs
//! without case (and often answers a reference with its resource group in
//! upper case), so references are matched without case and written as the
//! referred object's own ID. Peerings are `peerings`' (one Azure reports
//! `Disconnected` is left out, one Virtual Network Manager made is the
//! file's network manager's).
//!
//! Each file is read through the typed shapes of `model` (`az/model.rs`)
//! into a [`List`] of objects with their places (`az/list.rs`): a value
//! that does not fit is refused at its file, line and path (`nics.json:59:
//! [1].ipConfigurations: expected a list, found an object`), and what is
//! found wrong afterwards (a reference to nothing, a subnet without a
//! prefix) at the line and path of the value concerned. What the files
//! of `az/` share is in files that name none of them: the attributes they
//! write (`attributes`), the IDs references are followed by (`known`),
//! and [`List`].

mod attributes;
mod edge;
mod express_route;
mod files;
pub mod firewall;
pub mod flow_logs;
mod known;
mod list;
mod load_balancers;
mod model;
pub mod names;
pub mod network_managers;
mod peerings;
pub mod resolvers;
pub mod route_server;
pub mod services;
pub mod virtual_wan;

pub use files::FILES;
pub use list::List;

use attributes::{given, identity, put_str, put_text, resource, top_level};

use super::json_file::{self, Place};
use super::write::id_names;
use super::{ImportError, Resource};
use known::Known;
use model::{
    Asg, Circuit, LoadBalancer, Nic, Nsg, PrivateCloud, RouteTable, SecurityRule, Vm, Vnet,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use std::path::Path;

/// Reads the dump in `dir`.
pub fn read_dir(dir: &Path) -> Result<Vec<Resource>, ImportError> {
    read_located(dir).map(|(resources, _, _)| resources)
}

/// `vnetd import az DIR`: the topology file written from the dump in
/// `dir`; `origin` names the input in its header. Every error names the
/// file and line of the object it is about.
pub fn topology(dir: &Path, origin: &str) -> Result<String, ImportError> {
    let (resources, documents, places) = read_located(dir)?;
    crate::topology_yaml(&resources, origin).map_err(|e| {
        // An object without an ID (a deployment status) is placed where
        // the dump has it.
        if let Some((_, place)) = places.iter().find(|(source, _)| *source == e.location) {
            return ImportError::new(place, format!("{}: {}", e.location, e.message));
        }
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

/// Sources of resources whose objects have no ID, each with the place
/// of its object (`file:line`).
type Places = Vec<(String, String)>;

/// The dump's resources, with each file's name and text, and the places
/// of the objects without an ID.
fn read_located(dir: &Path) -> Result<(Vec<Resource>, Texts, Places), ImportError> {
    let meta = std::fs::metadata(dir)
        .map_err(|e| ImportError::new(dir.display().to_string(), format!("cannot read: {e}")))?;
    if !meta.is_dir() {
        return Err(ImportError::new(
            dir.display().to_string(),
            "not a directory: `vnetd import az` reads a directory of `az ... list -o json` files",
        ));
    }
    let mut texts = Vec::new();
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
        texts.push((path.display().to_string(), text));
        documents.push(document);
    }
    if !found_any {
        let names: Vec<&str> = FILES.iter().map(|(name, _)| *name).collect();
        return Err(ImportError::new(
            dir.display().to_string(),
            format!("none of {} is there", names.join(", ")),
        ));
    }
    // In the order of FILES: a struct's fields are evaluated as written.
    let mut files = documents.into_iter().zip(&texts);
    let dump = Dump {
        vnets: next_list(&mut files)?,
        nics: next_list(&mut files)?,
        nsgs: next_list(&mut files)?,
        route_tables: next_list(&mut files)?,
        asgs: next_list(&mut files)?,
        vms: next_list(&mut files)?,
        circuits: next_list(&mut files)?,
        clouds: next_list(&mut files)?,
        firewalls: firewall::Lists {
            firewalls: next_list(&mut files)?,
            policies: next_list(&mut files)?,
            groups: next_list(&mut files)?,
            ip_groups: next_list(&mut files)?,
        },
        edge: edge::Lists {
            public_ips: next_list(&mut files)?,
            prefixes: next_list(&mut files)?,
            nat_gateways: next_list(&mut files)?,
        },
        load_balancers: next_list(&mut files)?,
        route_servers: route_server::Lists {
            servers: next_list(&mut files)?,
            peerings: next_list(&mut files)?,
        },
        names: names::Lists {
            zones: next_list(&mut files)?,
            links: next_list(&mut files)?,
            record_sets: next_list(&mut files)?,
            endpoints: next_list(&mut files)?,
            zone_groups: next_list(&mut files)?,
        },
        resolvers: resolvers::Lists {
            resolvers: next_list(&mut files)?,
            inbound: next_list(&mut files)?,
            outbound: next_list(&mut files)?,
            rulesets: next_list(&mut files)?,
            rules: next_list(&mut files)?,
            links: next_list(&mut files)?,
        },
        network_managers: network_managers::Lists {
            managers: next_list(&mut files)?,
            groups: next_list(&mut files)?,
            static_members: next_list(&mut files)?,
            connectivity: next_list(&mut files)?,
            security_admin: next_list(&mut files)?,
            rule_collections: next_list(&mut files)?,
            rules: next_list(&mut files)?,
            routing: next_list(&mut files)?,
            routing_collections: next_list(&mut files)?,
            routing_rules: next_list(&mut files)?,
            deployments: next_list(&mut files)?,
            policies: next_list(&mut files)?,
        },
        virtual_wans: virtual_wan::Lists {
            wans: next_list(&mut files)?,
            hubs: next_list(&mut files)?,
            connections: next_list(&mut files)?,
            route_tables: next_list(&mut files)?,
            routing_intents: next_list(&mut files)?,
            bgp_connections: next_list(&mut files)?,
            vpn_sites: next_list(&mut files)?,
            vpn_gateways: next_list(&mut files)?,
            express_route_gateways: next_list(&mut files)?,
        },
        services: services::Lists {
            storage_accounts: next_list(&mut files)?,
            key_vaults: next_list(&mut files)?,
            policies: next_list(&mut files)?,
        },
        flow_logs: next_list(&mut files)?,
    };
    let resources = dump.resources()?;
    let places = dump.network_managers.places();
    Ok((resources, texts, places))
}

/// The list of the next file of `files` (its document, name and text).
fn next_list<'a, T: DeserializeOwned>(
    files: &mut impl Iterator<Item = (Value, &'a (String, String))>,
) -> Result<List<'a, T>, ImportError> {
    let internal = || ImportError::new("vnetd import az", "internal: a file of FILES is missing");
    let (document, (file, text)) = files.next().ok_or_else(internal)?;
    List::read(file, text, document)
}

/// The lists of [`FILES`], read (by default, all empty).
#[derive(Default)]
pub struct Dump<'a> {
    pub vnets: List<'a, Vnet>,
    pub nics: List<'a, Nic>,
    pub nsgs: List<'a, Nsg>,
    pub route_tables: List<'a, RouteTable>,
    pub asgs: List<'a, Asg>,
    pub vms: List<'a, Vm>,
    pub circuits: List<'a, Circuit>,
    pub clouds: List<'a, PrivateCloud>,
    pub firewalls: firewall::Lists<'a>,
    pub edge: edge::Lists<'a>,
    pub load_balancers: List<'a, LoadBalancer>,
    pub route_servers: route_server::Lists<'a>,
    pub names: names::Lists<'a>,
    pub resolvers: resolvers::Lists<'a>,
    pub network_managers: network_managers::Lists<'a>,
    pub virtual_wans: virtual_wan::Lists<'a>,
    pub services: services::Lists<'a>,
    pub flow_logs: List<'a, flow_logs::FlowLog>,
}

impl Dump<'_> {
    /// The azurerm resources of the whole dump: VNets with their subnets
    /// and peerings, ASGs, NSGs, route tables, then NICs.
    pub fn resources(&self) -> Result<Vec<Resource>, ImportError> {
        let known = self.known();
        let mut out = Vec::new();
        // The peerings a deployed connectivity configuration of the dump
        // made are the file's network manager's to make again.
        let managed = self.network_managers.deploys_connectivity();
        for (at, vnet) in self.vnets.each() {
            vnet_resources(&at, vnet, managed, &known, &mut out)?;
        }
        for (at, asg) in self.asgs.each() {
            let (name, id, attributes) = top_level(&at, asg, asg.location.as_deref())?;
            out.push(resource(
                "azurerm_application_security_group",
                &name,
                attributes,
                &id,
            ));
        }
        for (at, nsg) in self.nsgs.each() {
            nsg_resource(&at, nsg, &known, &mut out)?;
        }
        for (at, table) in self.route_tables.each() {
            route_table_resource(&at, table, &mut out)?;
        }
        for (at, nic) in self.nics.each() {
            nic_resources(&at, nic, &known, &mut out)?;
        }
        for (at, vm) in self.vms.each() {
            vm_resource(&at, vm, &known, &mut out)?;
        }
        let clouds = express_route::private_clouds(&self.clouds, &mut out)?;
        express_route::circuits(&self.circuits, &clouds, &mut out)?;
        self.edge.resources(&known, &mut out)?;
        load_balancers::resources(&self.load_balancers, &known, &mut out)?;
        self.firewalls.resources(&known, &mut out)?;
        self.route_servers
            .resources(&self.vnets, &known, &mut out)?;
        self.names.resources(&self.nics, &known, &mut out)?;
        self.resolvers.resources(&known, &mut out)?;
        self.network_managers.resources(&known, &mut out)?;
        self.virtual_wans.resources(&known, &mut out)?;
        self.services.resources(&mut out)?;
        flow_logs::resources(&self.flow_logs, &mut out)?;
        Ok(out)
    }

    /// Every object's ID, before any reference is followed.
    fn known(&self) -> Known {
        let mut known = Known::default();
        for vnet in &self.vnets.items {
            known.add("vnet", &vnet.id);
            for subnet in &vnet.subnets {
                known.add("subnet", &subnet.id);
            }
        }
        self.nics.add_known("nic", &mut known);
        self.nsgs.add_known("nsg", &mut known);
        self.route_tables.add_known("route_table", &mut known);
        self.asgs.add_known("asg", &mut known);
        self.firewalls.add_known(&mut known);
        self.edge.add_known(&mut known);
        self.route_servers.add_known(&mut known);
        self.names.add_known(&mut known);
        self.resolvers.add_known(&mut known);
        self.network_managers.add_known(&mut known);
        self.virtual_wans.add_known(&mut known);
        known
    }
}

/// A VM of `az vm list`: its size (`hardwareProfile.vmSize`) and NICs
/// (`networkProfile.networkInterfaces[].id`), as Terraform's VM resource
/// of its OS (`storageProfile.osDisk.osType`).
fn vm_resource(
    at: &Place<'_>,
    vm: &Vm,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let (name, id, mut attributes) = top_level(at, vm, vm.location.as_deref())?;
    let size = vm
        .hardware_profile
        .as_ref()
        .and_then(|p| given(p.vm_size.as_deref()));
    put_str(&mut attributes, "size", size);
    let nics = match &vm.network_profile {
        Some(profile) => known.references(
            "nic",
            &at.key("networkProfile").key("networkInterfaces"),
            &profile.network_interfaces,
        )?,
        None => Vec::new(),
    };
    attributes.insert("network_interface_ids".into(), json!(nics));
    let os = (vm.storage_profile.as_ref())
        .and_then(|storage| storage.os_disk.as_ref())
        .and_then(|disk| given(disk.os_type.as_deref()));
    let kind = match os.as_deref() {
        Some(os) if os.eq_ignore_ascii_case("windows") => "azurerm_windows_virtual_machine",
        _ => "azurerm_linux_virtual_machine",
    };
    out.push(resource(kind, &name, attributes, &id));
    Ok(())
}

/// A VNet's resources: the VNet, its subnets and their associations, and
/// its peerings (`peerings`; with `managed`, those Virtual Network Manager
/// made are the file's network manager's).
fn vnet_resources(
    at: &Place<'_>,
    vnet: &Vnet,
    managed: bool,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let (name, id, mut attributes) = top_level(at, vnet, vnet.location.as_deref())?;
    attributes.insert(
        "address_space".into(),
        json!(vnet.address_space.address_prefixes),
    );
    if let Some(dhcp) = &vnet.dhcp_options {
        attributes.insert("dns_servers".into(), json!(dhcp.dns_servers));
    }
    if !vnet.tags.is_empty() {
        attributes.insert("tags".into(), json!(vnet.tags));
    }
    out.push(resource("azurerm_virtual_network", &name, attributes, &id));

    for (index, subnet) in vnet.subnets.iter().enumerate() {
        let at = at.key("subnets").index(index);
        let (subnet_name, subnet_id, subnet_group) = identity(&at, subnet)?;
        let mut prefixes = subnet.address_prefixes.clone();
        if prefixes.is_empty() {
            prefixes.extend(given(subnet.address_prefix.as_deref()));
        }
        if prefixes.is_empty() {
            return Err(at.error(format!(
                "subnet `{subnet_name}` has neither `addressPrefix` nor `addressPrefixes`"
            )));
        }
        let mut attributes = Map::new();
        attributes.insert("id".into(), json!(subnet_id));
        attributes.insert("name".into(), json!(subnet_name));
        attributes.insert("resource_group_name".into(), json!(subnet_group));
        attributes.insert("virtual_network_name".into(), json!(name));
        attributes.insert("address_prefixes".into(), json!(prefixes));
        let policies = given(subnet.private_endpoint_network_policies.as_deref());
        put_str(
            &mut attributes,
            "private_endpoint_network_policies",
            policies,
        );
        let services: Vec<&str> = (subnet.service_endpoints.iter())
            .filter_map(|e| e.service.as_deref())
            .collect();
        if !services.is_empty() {
            attributes.insert("service_endpoints".into(), json!(services));
        }
        let policies: Vec<&str> = (subnet.service_endpoint_policies.iter())
            .map(|p| p.id.as_str())
            .collect();
        if !policies.is_empty() {
            attributes.insert("service_endpoint_policy_ids".into(), json!(policies));
        }
        if let Some(outbound) = subnet.default_outbound_access {
            attributes.insert("default_outbound_access_enabled".into(), json!(outbound));
        }
        // azurerm's `delegation` blocks: each a name and the service.
        let delegations: Vec<Value> = (subnet.delegations.iter())
            .filter_map(|d| {
                let service = given(d.service_name.as_deref())?;
                Some(
                    json!({"name": d.name.clone().unwrap_or_else(|| service.clone()),
                            "service_delegation": [{"name": service}]}),
                )
            })
            .collect();
        if !delegations.is_empty() {
            attributes.insert("delegation".into(), Value::Array(delegations));
        }
        out.push(resource(
            "azurerm_subnet",
            &subnet_name,
            attributes,
            &subnet_id,
        ));

        // Terraform gives a subnet association the subnet's ID.
        for (kind, az_name, reference, association_kind, key) in [
            (
                "nsg",
                "networkSecurityGroup",
                &subnet.network_security_group,
                "azurerm_subnet_network_security_group_association",
                "network_security_group_id",
            ),
            (
                "route_table",
                "routeTable",
                &subnet.route_table,
                "azurerm_subnet_route_table_association",
                "route_table_id",
            ),
            (
                "nat_gateway",
                "natGateway",
                &subnet.nat_gateway,
                "azurerm_subnet_nat_gateway_association",
                "nat_gateway_id",
            ),
        ] {
            if let Some(other) = known.reference(kind, &at.key(az_name), reference.as_ref())? {
                let subnet = ("subnet_id", subnet_id.as_str());
                out.push(association(
                    association_kind,
                    &subnet_name,
                    &subnet_id,
                    subnet,
                    (key, &other),
                ));
            }
        }
    }

    peerings::resources(at, vnet, &name, managed, known, out)
}

fn nsg_resource(
    at: &Place<'_>,
    nsg: &Nsg,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let (name, id, mut attributes) = top_level(at, nsg, nsg.location.as_deref())?;
    let rules = (nsg.security_rules.iter().enumerate())
        .map(|(index, rule)| security_rule(&at.key("securityRules").index(index), rule, known))
        .collect::<Result<Vec<_>, _>>()?;
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
fn security_rule(at: &Place<'_>, rule: &SecurityRule, known: &Known) -> Result<Value, ImportError> {
    let mut block = Map::new();
    block.insert("name".into(), json!(rule.name));
    block.insert("priority".into(), json!(rule.priority));
    block.insert("direction".into(), json!(rule.direction));
    block.insert("access".into(), json!(rule.access));
    block.insert("protocol".into(), json!(rule.protocol));
    put_text(&mut block, "description", rule.description.as_deref());
    for (one, many, single, plural) in [
        (
            &rule.source_port_range,
            &rule.source_port_ranges,
            "source_port_range",
            "source_port_ranges",
        ),
        (
            &rule.destination_port_range,
            &rule.destination_port_ranges,
            "destination_port_range",
            "destination_port_ranges",
        ),
        (
            &rule.source_address_prefix,
            &rule.source_address_prefixes,
            "source_address_prefix",
            "source_address_prefixes",
        ),
        (
            &rule.destination_address_prefix,
            &rule.destination_address_prefixes,
            "destination_address_prefix",
            "destination_address_prefixes",
        ),
    ] {
        put_text(&mut block, single, one.as_deref());
        if !many.is_empty() {
            block.insert(plural.into(), json!(many));
        }
    }
    for (az_name, groups, azurerm_name) in [
        (
            "sourceApplicationSecurityGroups",
            &rule.source_application_security_groups,
            "source_application_security_group_ids",
        ),
        (
            "destinationApplicationSecurityGroups",
            &rule.destination_application_security_groups,
            "destination_application_security_group_ids",
        ),
    ] {
        let ids = known.references("asg", &at.key(az_name), groups)?;
        if !ids.is_empty() {
            block.insert(azurerm_name.into(), json!(ids));
        }
    }
    Ok(Value::Object(block))
}

fn route_table_resource(
    at: &Place<'_>,
    table: &RouteTable,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let (name, id, mut attributes) = top_level(at, table, table.location.as_deref())?;
    let routes = table.routes.iter().map(|route| {
        let mut block = Map::new();
        block.insert("name".into(), json!(route.name));
        block.insert("address_prefix".into(), json!(route.address_prefix));
        block.insert("next_hop_type".into(), json!(route.next_hop_type));
        put_text(
            &mut block,
            "next_hop_in_ip_address",
            route.next_hop_ip_address(),
        );
        Value::Object(block)
    });
    let routes: Vec<Value> = routes.collect();
    let disabled = table.disable_bgp_route_propagation.unwrap_or(false);
    attributes.insert("disable_bgp_route_propagation".into(), json!(disabled));
    attributes.insert("route".into(), Value::Array(routes));
    out.push(resource("azurerm_route_table", &name, attributes, &id));
    Ok(())
}

fn nic_resources(
    at: &Place<'_>,
    nic: &Nic,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let (name, id, mut attributes) = top_level(at, nic, nic.location.as_deref())?;
    if let Some(endpoint) = &nic.private_endpoint {
        let endpoint = id_names(&endpoint.id, &["privateEndpoints"])
            .map_or_else(|| endpoint.id.clone(), |mut names| names.remove(0));
        out.push(Resource {
            kind: "azurerm_network_interface".into(),
            name: format!(
                "{name} (the network interface of Private Endpoint `{endpoint}`, which stands \
                 for it)"
            ),
            attributes: Value::Null,
            source: id,
        });
        return Ok(());
    }
    let mut asgs: Vec<String> = Vec::new();
    let mut configurations = Vec::with_capacity(nic.ip_configurations.len());
    for (index, config) in nic.ip_configurations.iter().enumerate() {
        let at = at.key("ipConfigurations").index(index);
        let config_name = &config.name;
        let subnet = config.subnet.as_ref();
        let what = format_args!("IP configuration `{config_name}` of NIC `{name}`");
        let subnet = known.required("subnet", &at, "subnet", subnet, what)?;
        let allocation =
            given(config.private_ip_allocation_method()).unwrap_or_else(|| "Dynamic".to_string());
        let mut block = Map::new();
        block.insert("name".into(), json!(config_name));
        block.insert("subnet_id".into(), json!(subnet));
        block.insert("private_ip_address_allocation".into(), json!(allocation));
        put_text(
            &mut block,
            "private_ip_address",
            config.private_ip_address(),
        );
        put_text(
            &mut block,
            "private_ip_address_version",
            config.private_ip_address_version(),
        );
        if let Some(primary) = config.primary {
            block.insert("primary".into(), json!(primary));
        }
        if let Some(public_ip) = &config.public_ip_address {
            let id = known.own_id_or_given("public_ip", &public_ip.id);
            block.insert("public_ip_address_id".into(), json!(id));
        }
        let groups = &config.application_security_groups;
        for asg in known.references("asg", &at.key("applicationSecurityGroups"), groups)? {
            if !asgs.contains(&asg) {
                asgs.push(asg);
            }
        }
        configurations.push(Value::Object(block));
    }
    let forwarding = nic.enable_ip_forwarding().unwrap_or(false);
    attributes.insert("enable_ip_forwarding".into(), json!(forwarding));
    if let Some(dns) = &nic.dns_settings {
        attributes.insert("dns_servers".into(), json!(dns.dns_servers));
    }
    attributes.insert("ip_configuration".into(), Value::Array(configurations));
    out.push(resource(
        "azurerm_network_interface",
        &name,
        attributes,
        &id,
    ));

    // Terraform gives a NIC association the ID `NIC|OTHER`.
    let nsg = nic.network_security_group.as_ref();
    let nsg = known.reference("nsg", &at.key("networkSecurityGroup"), nsg)?;
    let nsg = nsg.into_iter().map(|nsg| {
        let kind = "azurerm_network_interface_security_group_association";
        (kind, "network_security_group_id", nsg)
    });
    let asgs = asgs.into_iter().map(|asg| {
        let kind = "azurerm_network_interface_application_security_group_association";
        (kind, "application_security_group_id", asg)
    });
    for (kind, key, other) in nsg.chain(asgs) {
        let association_id = format!("{id}|{other}");
        let nic = ("network_interface_id", id.as_str());
        out.push(association(
            kind,
            &name,
            &association_id,
            nic,
            (key, &other),
        ));
    }
    Ok(())
}

/// An association of `kind` (a subnet's or a NIC's with an NSG, a route
/// table, ...), named `name`: its `id`, which is also its source, then
/// `owner` and `other`, each an attribute's key and the ID it holds.
fn association(
    kind: &str,
    name: &str,
    id: &str,
    owner: (&str, &str),
    other: (&str, &str),
) -> Resource {
    let mut attributes = Map::new();
    attributes.insert("id".into(), json!(id));
    attributes.insert(owner.0.into(), json!(owner.1));
    attributes.insert(other.0.into(), json!(other.1));
    resource(kind, name, attributes, id)
}

#[cfg(test)]
mod tests;
