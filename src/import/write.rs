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
//! [`crate::topology::parse_str`] before it is returned, and a refusal is
//! reported at the source of the object it is about.

use super::{ImportError, Resource};
use ipnet::IpNet;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::str::FromStr;

/// The azurerm types vnetd has no counterpart for yet, though its topology
/// file does: they are listed with the ignored resources, with this note.
const NOT_YET_IMPORTED: &[&str] = &[
    "azurerm_virtual_network_gateway",
    "azurerm_local_network_gateway",
    "azurerm_virtual_network_gateway_connection",
    "azurerm_lb",
    "azurerm_lb_backend_address_pool",
    "azurerm_lb_probe",
    "azurerm_lb_rule",
    "azurerm_network_interface_backend_address_pool_association",
];

/// Writes the topology file for `resources`. `origin` names the input in
/// the header comment (e.g. `Terraform configuration in infra/`).
///
/// Dynamic private addresses are allocated as Azure does, the first free
/// address of the subnet from its fifth on (Azure reserves the network
/// address, the next three and the broadcast address), skipping the
/// subnet's Static addresses and the Dynamic ones the input already
/// knows; NICs are taken in the order given, since the order in which
/// Azure created them is not known.
pub fn topology_yaml(resources: &[Resource], origin: &str) -> Result<String, ImportError> {
    let mut model = Model::default();
    for kind in KINDS_IN_ORDER {
        for r in resources.iter().filter(|r| r.kind == *kind) {
            model.add(r)?;
        }
    }
    for r in resources {
        if !KINDS_IN_ORDER.contains(&r.kind.as_str()) {
            model.ignored.push(r);
        }
    }
    model.allocate_dynamic_addresses()?;
    if model.is_empty() {
        return Err(ImportError::new(
            origin,
            "nothing to import: no virtual network, NIC, NSG, route table or application \
             security group was found",
        ));
    }
    let out = model.render(origin);
    check(&out, origin)?;
    Ok(out.text)
}

/// The kinds read, in the order they are read: what a resource refers to
/// is read before it.
const KINDS_IN_ORDER: &[&str] = &[
    "azurerm_virtual_network",
    "azurerm_subnet",
    "azurerm_network_security_group",
    "azurerm_network_security_rule",
    "azurerm_route_table",
    "azurerm_route",
    "azurerm_application_security_group",
    "azurerm_subnet_network_security_group_association",
    "azurerm_subnet_route_table_association",
    "azurerm_virtual_network_peering",
    "azurerm_network_interface",
    "azurerm_network_interface_security_group_association",
    "azurerm_network_interface_application_security_group_association",
];

// ---- the model -----------------------------------------------------------

/// A name written in the file and the source of what put it there.
#[derive(Debug, Clone)]
struct Link {
    name: String,
    source: String,
}

#[derive(Debug)]
struct Vnet {
    name: String,
    source: String,
    address_space: Vec<String>,
    location: Option<String>,
    subnets: BTreeMap<String, Subnet>,
}

#[derive(Debug)]
struct Subnet {
    name: String,
    source: String,
    prefixes: Vec<IpNet>,
    /// Declared inside its VNet (a VNet's `subnet` block), so a separate
    /// `azurerm_subnet` of the same name is the same subnet, not a second.
    inline: bool,
    nsg: Option<Link>,
    route_table: Option<Link>,
}

#[derive(Debug)]
struct Peering {
    name: String,
    source: String,
    vnet: String,
    remote: String,
    /// The four flags whose value differs from the default, in file order.
    flags: Vec<(&'static str, bool)>,
}

#[derive(Debug)]
struct IpConfig {
    name: String,
    subnet: (String, String),
    address: Option<IpAddr>,
    ipv6: bool,
    primary: bool,
}

#[derive(Debug)]
struct Nic {
    name: String,
    source: String,
    configs: Vec<IpConfig>,
    ip_forwarding: bool,
    nsg: Option<Link>,
    asgs: BTreeSet<String>,
}

#[derive(Debug)]
struct Rule {
    name: String,
    source: String,
    /// `key: value` lines after `name`, values already in YAML.
    fields: Vec<(&'static str, String)>,
}

#[derive(Debug)]
struct Nsg {
    name: String,
    source: String,
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Route {
    name: String,
    source: String,
    address_prefix: String,
    next_hop_type: String,
    next_hop_ip: Option<String>,
}

#[derive(Debug)]
struct RouteTable {
    name: String,
    source: String,
    propagation_enabled: bool,
    routes: Vec<Route>,
}

#[derive(Debug, Default)]
struct Model<'r> {
    vnets: BTreeMap<String, Vnet>,
    peerings: Vec<Peering>,
    /// In input order (the order of Dynamic allocation); sorted when written.
    nics: Vec<Nic>,
    nsgs: BTreeMap<String, Nsg>,
    route_tables: BTreeMap<String, RouteTable>,
    asgs: BTreeMap<String, String>,
    ignored: Vec<&'r Resource>,
}

impl Model<'_> {
    fn is_empty(&self) -> bool {
        self.vnets.is_empty()
            && self.nics.is_empty()
            && self.nsgs.is_empty()
            && self.route_tables.is_empty()
            && self.asgs.is_empty()
    }

    fn add(&mut self, r: &Resource) -> Result<(), ImportError> {
        let a = Attrs { r };
        match r.kind.as_str() {
            "azurerm_virtual_network" => self.add_vnet(&a),
            "azurerm_subnet" => self.add_subnet(&a),
            "azurerm_network_security_group" => self.add_nsg(&a),
            "azurerm_network_security_rule" => {
                let nsg = a.required_str("network_security_group_name")?;
                let rule = rule(&a, a.r.attributes.clone())?;
                self.nsg_mut(&a, &nsg)?.rules.push(rule);
                Ok(())
            }
            "azurerm_route_table" => self.add_route_table(&a),
            "azurerm_route" => {
                let table = a.required_str("route_table_name")?;
                let route = route(&a, &a.r.attributes)?;
                self.route_table_mut(&a, &table)?.routes.push(route);
                Ok(())
            }
            "azurerm_application_security_group" => {
                let name = a.name()?;
                if let Some(first) = self.asgs.insert(name.clone(), r.source.clone()) {
                    return Err(a.duplicate("application security group", &name, &first));
                }
                Ok(())
            }
            "azurerm_subnet_network_security_group_association" => {
                let (vnet, subnet) = a.subnet_id("subnet_id")?;
                let nsg = a.id_name("network_security_group_id", "networkSecurityGroups")?;
                self.nsg_mut(&a, &nsg)?;
                let link = Link {
                    name: nsg,
                    source: r.source.clone(),
                };
                self.subnet_mut(&a, &vnet, &subnet)?.nsg = Some(link);
                Ok(())
            }
            "azurerm_subnet_route_table_association" => {
                let (vnet, subnet) = a.subnet_id("subnet_id")?;
                let table = a.id_name("route_table_id", "routeTables")?;
                self.route_table_mut(&a, &table)?;
                let link = Link {
                    name: table,
                    source: r.source.clone(),
                };
                self.subnet_mut(&a, &vnet, &subnet)?.route_table = Some(link);
                Ok(())
            }
            "azurerm_virtual_network_peering" => self.add_peering(&a),
            "azurerm_network_interface" => self.add_nic(&a),
            "azurerm_network_interface_security_group_association" => {
                let nic = a.id_name("network_interface_id", "networkInterfaces")?;
                let nsg = a.id_name("network_security_group_id", "networkSecurityGroups")?;
                self.nsg_mut(&a, &nsg)?;
                let link = Link {
                    name: nsg,
                    source: r.source.clone(),
                };
                self.nic_mut(&a, &nic)?.nsg = Some(link);
                Ok(())
            }
            "azurerm_network_interface_application_security_group_association" => {
                let nic = a.id_name("network_interface_id", "networkInterfaces")?;
                let asg =
                    a.id_name("application_security_group_id", "applicationSecurityGroups")?;
                if !self.asgs.contains_key(&asg) {
                    return Err(a.dangling("application_security_group_id"));
                }
                self.nic_mut(&a, &nic)?.asgs.insert(asg);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn add_vnet(&mut self, a: &Attrs) -> Result<(), ImportError> {
        let name = a.name()?;
        if let Some(first) = self.vnets.get(&name) {
            return Err(a.duplicate("virtual network", &name, &first.source));
        }
        let location = a
            .str("location")
            .map(|l| crate::topology::regions::canonical(&l).map_or(l, str::to_string));
        let mut vnet = Vnet {
            name: name.clone(),
            source: a.r.source.clone(),
            address_space: sorted_prefixes(a.list("address_space")),
            location,
            subnets: BTreeMap::new(),
        };
        for block in a.blocks("subnet") {
            let b = Attrs::nested(a.r, block);
            let subnet_name = b.required_str("name")?;
            let mut prefixes = b.list("address_prefixes");
            prefixes.extend(b.str("address_prefix"));
            let nsg = match b.str("security_group") {
                Some(id) => Some(Link {
                    name: a.name_in_id(&id, "networkSecurityGroups", "subnet.security_group")?,
                    source: a.r.source.clone(),
                }),
                None => None,
            };
            let route_table = match b.str("route_table_id") {
                Some(id) => Some(Link {
                    name: a.name_in_id(&id, "routeTables", "subnet.route_table_id")?,
                    source: a.r.source.clone(),
                }),
                None => None,
            };
            let subnet = Subnet {
                name: subnet_name.clone(),
                source: a.r.source.clone(),
                prefixes: a.cidrs(&prefixes, "subnet.address_prefixes")?,
                inline: true,
                nsg,
                route_table,
            };
            if vnet.subnets.insert(subnet_name.clone(), subnet).is_some() {
                let why = format!("VNet `{name}` has two subnet blocks named `{subnet_name}`");
                return Err(a.error(why));
            }
        }
        self.vnets.insert(name, vnet);
        Ok(())
    }

    fn add_subnet(&mut self, a: &Attrs) -> Result<(), ImportError> {
        let name = a.name()?;
        let vnet_name = a.required_str("virtual_network_name")?;
        let mut prefixes = a.list("address_prefixes");
        prefixes.extend(a.str("address_prefix"));
        let prefixes = a.cidrs(&prefixes, "address_prefixes")?;
        let Some(vnet) = self.vnets.get_mut(&vnet_name) else {
            let why = format!(
                "subnet `{name}` is in VNet `{vnet_name}`, which the input does not declare"
            );
            return Err(a.error(why));
        };
        match vnet.subnets.get_mut(&name) {
            // The same subnet, as Terraform state lists it in its VNet too:
            // the subnet resource's own values win.
            Some(inline) if inline.inline => {
                inline.inline = false;
                inline.source = a.r.source.clone();
                inline.prefixes = prefixes;
            }
            Some(first) => {
                let what = format!("subnet of VNet `{vnet_name}`");
                return Err(a.duplicate(&what, &name, &first.source));
            }
            None => {
                let subnet = Subnet {
                    name: name.clone(),
                    source: a.r.source.clone(),
                    prefixes,
                    inline: false,
                    nsg: None,
                    route_table: None,
                };
                vnet.subnets.insert(name, subnet);
            }
        }
        Ok(())
    }

    fn add_nsg(&mut self, a: &Attrs) -> Result<(), ImportError> {
        let name = a.name()?;
        if let Some(first) = self.nsgs.get(&name) {
            return Err(a.duplicate("network security group", &name, &first.source));
        }
        let mut rules = Vec::new();
        for block in a.blocks("security_rule") {
            rules.push(rule(a, block.clone())?);
        }
        let nsg = Nsg {
            name: name.clone(),
            source: a.r.source.clone(),
            rules,
        };
        self.nsgs.insert(name, nsg);
        Ok(())
    }

    fn add_route_table(&mut self, a: &Attrs) -> Result<(), ImportError> {
        let name = a.name()?;
        if let Some(first) = self.route_tables.get(&name) {
            return Err(a.duplicate("route table", &name, &first.source));
        }
        let propagation_enabled = match (
            a.bool("bgp_route_propagation_enabled"),
            a.bool("disable_bgp_route_propagation"),
        ) {
            (Some(enabled), _) => enabled,
            (None, Some(disabled)) => !disabled,
            (None, None) => true,
        };
        let mut routes = Vec::new();
        for block in a.blocks("route") {
            routes.push(route(a, block)?);
        }
        let table = RouteTable {
            name: name.clone(),
            source: a.r.source.clone(),
            propagation_enabled,
            routes,
        };
        self.route_tables.insert(name, table);
        Ok(())
    }

    fn add_peering(&mut self, a: &Attrs) -> Result<(), ImportError> {
        let name = a.name()?;
        let vnet = a.required_str("virtual_network_name")?;
        let remote = a.id_name("remote_virtual_network_id", "virtualNetworks")?;
        if !self.vnets.contains_key(&vnet) {
            let why =
                format!("peering `{name}` is in VNet `{vnet}`, which the input does not declare");
            return Err(a.error(why));
        }
        if !self.vnets.contains_key(&remote) {
            return Err(a.dangling("remote_virtual_network_id"));
        }
        let mut flags = Vec::new();
        for (key, default) in [
            ("allow_virtual_network_access", true),
            ("allow_forwarded_traffic", false),
            ("allow_gateway_transit", false),
            ("use_remote_gateways", false),
        ] {
            if let Some(v) = a.bool(key).filter(|v| *v != default) {
                flags.push((key, v));
            }
        }
        self.peerings.push(Peering {
            name,
            source: a.r.source.clone(),
            vnet,
            remote,
            flags,
        });
        Ok(())
    }

    fn add_nic(&mut self, a: &Attrs) -> Result<(), ImportError> {
        let name = a.name()?;
        if let Some(first) = self.nics.iter().find(|n| n.name == name) {
            return Err(a.duplicate("network interface", &name, &first.source));
        }
        let mut configs = Vec::new();
        for block in a.blocks("ip_configuration") {
            let b = Attrs::nested(a.r, block);
            let config_name = b.required_str("name")?;
            let Some(subnet_id) = b.str("subnet_id") else {
                let why = format!("IP configuration `{config_name}` has no subnet_id");
                return Err(a.error(why));
            };
            let (vnet, subnet) = a.subnet_in_id(&subnet_id, "ip_configuration.subnet_id")?;
            self.subnet_mut(a, &vnet, &subnet)?;
            let allocation = b.str("private_ip_address_allocation");
            let address = match b.str("private_ip_address") {
                Some(text) => Some(IpAddr::from_str(&text).map_err(|_| {
                    a.error(format!(
                        "ip_configuration `{config_name}`: `{text}` is not an IP address"
                    ))
                })?),
                None => None,
            };
            let is_static = allocation
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("static"));
            if is_static && address.is_none() {
                let why = format!(
                    "ip_configuration `{config_name}` is Static but has no private_ip_address"
                );
                return Err(a.error(why));
            }
            let ipv6 = b
                .str("private_ip_address_version")
                .is_some_and(|v| v.eq_ignore_ascii_case("ipv6"));
            configs.push(IpConfig {
                name: config_name,
                subnet: (vnet, subnet),
                address,
                ipv6,
                primary: b.bool("primary").unwrap_or(false),
            });
        }
        if configs.is_empty() {
            return Err(a.error(format!(
                "network interface `{name}` has no ip_configuration"
            )));
        }
        if let Some(other) = configs.iter().find(|c| c.subnet != configs[0].subnet) {
            let why = format!(
                "network interface `{name}` has IP configurations in subnets {}/{} and {}/{}; \
                 a vnetd NIC sits in one subnet",
                configs[0].subnet.0, configs[0].subnet.1, other.subnet.0, other.subnet.1
            );
            return Err(a.error(why));
        }
        // The primary configuration first, as vnetd takes the first one.
        configs.sort_by_key(|c| !c.primary);
        let ip_forwarding = a
            .bool("ip_forwarding_enabled")
            .or_else(|| a.bool("enable_ip_forwarding"))
            .unwrap_or(false);
        self.nics.push(Nic {
            name,
            source: a.r.source.clone(),
            configs,
            ip_forwarding,
            nsg: None,
            asgs: BTreeSet::new(),
        });
        Ok(())
    }

    fn subnet_mut(
        &mut self,
        a: &Attrs,
        vnet: &str,
        subnet: &str,
    ) -> Result<&mut Subnet, ImportError> {
        self.vnets
            .get_mut(vnet)
            .and_then(|v| v.subnets.get_mut(subnet))
            .ok_or_else(|| a.error(format!("subnet `{vnet}/{subnet}` is not in the input")))
    }

    fn nsg_mut(&mut self, a: &Attrs, name: &str) -> Result<&mut Nsg, ImportError> {
        let why = format!("network security group `{name}` is not in the input");
        self.nsgs.get_mut(name).ok_or_else(|| a.error(why))
    }

    fn route_table_mut(&mut self, a: &Attrs, name: &str) -> Result<&mut RouteTable, ImportError> {
        let why = format!("route table `{name}` is not in the input");
        self.route_tables.get_mut(name).ok_or_else(|| a.error(why))
    }

    fn nic_mut(&mut self, a: &Attrs, name: &str) -> Result<&mut Nic, ImportError> {
        let why = format!("network interface `{name}` is not in the input");
        self.nics
            .iter_mut()
            .find(|n| n.name == name)
            .ok_or_else(|| a.error(why))
    }

    /// Gives each Dynamic configuration without an address the first free
    /// one of its subnet, NIC after NIC in input order.
    fn allocate_dynamic_addresses(&mut self) -> Result<(), ImportError> {
        let mut taken: HashSet<IpAddr> = self
            .nics
            .iter()
            .flat_map(|n| n.configs.iter().filter_map(|c| c.address))
            .collect();
        for nic in &mut self.nics {
            for config in &mut nic.configs {
                if config.address.is_some() {
                    continue;
                }
                let (vnet, subnet) = &config.subnet;
                let prefixes = self
                    .vnets
                    .get(vnet)
                    .and_then(|v| v.subnets.get(subnet))
                    .map(|s| s.prefixes.clone())
                    .unwrap_or_default();
                let found = prefixes
                    .iter()
                    .filter(|p| matches!(p, IpNet::V6(_)) == config.ipv6)
                    .find_map(|p| first_free(p, &taken));
                let Some(ip) = found else {
                    return Err(ImportError::new(
                        &nic.source,
                        format!(
                            "no free address left in subnet {vnet}/{subnet} for the Dynamic \
                             IP configuration `{}` of `{}`",
                            config.name, nic.name
                        ),
                    ));
                };
                taken.insert(ip);
                config.address = Some(ip);
            }
        }
        Ok(())
    }
}

/// The first address of `prefix` from its fifth on that is not taken,
/// short of the last (the broadcast address in IPv4).
fn first_free(prefix: &IpNet, taken: &HashSet<IpAddr>) -> Option<IpAddr> {
    let (first, last) = match prefix {
        IpNet::V4(p) => (
            u128::from(u32::from(p.network())),
            u128::from(u32::from(p.broadcast())),
        ),
        IpNet::V6(p) => (u128::from(p.network()), u128::from(p.broadcast())),
    };
    let mut candidate = first.checked_add(4)?;
    while candidate < last {
        let ip = match prefix {
            IpNet::V4(_) => IpAddr::from(std::net::Ipv4Addr::from(u32::try_from(candidate).ok()?)),
            IpNet::V6(_) => IpAddr::from(std::net::Ipv6Addr::from(candidate)),
        };
        if !taken.contains(&ip) {
            return Some(ip);
        }
        candidate += 1;
    }
    None
}

/// A security rule, inline (`security_rule` block) or separate
/// (`azurerm_network_security_rule`), in the topology's keys.
fn rule(owner: &Attrs, attributes: Value) -> Result<Rule, ImportError> {
    let b = Attrs::nested(owner.r, &attributes);
    let name = b.required_str("name")?;
    let required = |key: &str| {
        b.str(key)
            .ok_or_else(|| owner.error(format!("security rule `{name}` has no {key}")))
    };
    let mut fields = vec![
        ("priority", plain_or_quoted(&required("priority")?)),
        ("direction", scalar(&required("direction")?)),
        ("access", scalar(&required("access")?)),
        ("protocol", scalar(&required("protocol")?)),
    ];
    for side in ["source", "destination"] {
        let (single, plural) = match side {
            "source" => ("source_port_range", "source_port_ranges"),
            _ => ("destination_port_range", "destination_port_ranges"),
        };
        if let Some(port) = b.str(single) {
            fields.push((single, scalar(&port)));
        }
        let mut ports = b.list(plural);
        if !ports.is_empty() {
            ports.sort_by_key(|p| (port_start(p), p.clone()));
            fields.push((plural, flow_list(&ports)));
        }
    }
    for side in ["source", "destination"] {
        let (single, plural, asgs, asg_ids) = match side {
            "source" => (
                "source_address_prefix",
                "source_address_prefixes",
                "source_application_security_groups",
                "source_application_security_group_ids",
            ),
            _ => (
                "destination_address_prefix",
                "destination_address_prefixes",
                "destination_application_security_groups",
                "destination_application_security_group_ids",
            ),
        };
        if let Some(prefix) = b.str(single) {
            fields.push((single, scalar(&prefix)));
        }
        let prefixes = b.list(plural);
        if !prefixes.is_empty() {
            fields.push((plural, flow_list(&sorted_prefixes(prefixes))));
        }
        let mut names = Vec::new();
        for id in b.list(asg_ids) {
            names.push(owner.name_in_id(&id, "applicationSecurityGroups", asg_ids)?);
        }
        if !names.is_empty() {
            names.sort();
            fields.push((asgs, flow_list(&names)));
        }
    }
    Ok(Rule {
        name,
        source: owner.r.source.clone(),
        fields,
    })
}

/// A route, inline (`route` block) or separate (`azurerm_route`).
fn route(owner: &Attrs, attributes: &Value) -> Result<Route, ImportError> {
    let b = Attrs::nested(owner.r, attributes);
    let name = b.required_str("name")?;
    let required = |key: &str| {
        b.str(key)
            .ok_or_else(|| owner.error(format!("route `{name}` has no {key}")))
    };
    Ok(Route {
        address_prefix: required("address_prefix")?,
        next_hop_type: required("next_hop_type")?,
        next_hop_ip: b.str("next_hop_in_ip_address"),
        source: owner.r.source.clone(),
        name,
    })
}

/// The first port of a port or range, for sorting (`*` first).
fn port_start(text: &str) -> u32 {
    text.split('-')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(0)
}

/// Prefixes in address order (text that is not a prefix last, by text).
fn sorted_prefixes(mut list: Vec<String>) -> Vec<String> {
    let key = |s: &String| {
        let net = IpNet::from_str(s)
            .ok()
            .or_else(|| IpAddr::from_str(s).ok().map(IpNet::from));
        (net.is_none(), net, s.clone())
    };
    list.sort_by_key(key);
    list
}

// ---- reading attributes ----------------------------------------------------

/// The attributes of a resource, or of one of its nested blocks, read
/// leniently: Terraform and state write numbers and booleans as such, `az`
/// sometimes as strings, and state writes an unset string as `""` and an
/// unset list as `[]`, which all mean "not given" here.
struct Attrs<'r> {
    r: &'r Resource,
}

struct Nested<'r, 'v> {
    values: &'v Value,
    _r: &'r Resource,
}

impl<'r> Attrs<'r> {
    fn nested<'v>(r: &'r Resource, values: &'v Value) -> Nested<'r, 'v> {
        Nested { values, _r: r }
    }

    fn own(&self) -> Nested<'r, 'r> {
        Nested {
            values: &self.r.attributes,
            _r: self.r,
        }
    }

    fn str(&self, key: &str) -> Option<String> {
        self.own().str(key)
    }

    fn list(&self, key: &str) -> Vec<String> {
        self.own().list(key)
    }

    fn bool(&self, key: &str) -> Option<bool> {
        self.own().bool(key)
    }

    fn blocks(&self, key: &str) -> Vec<&'r Value> {
        match self.r.attributes.get(key) {
            Some(Value::Array(items)) => items.iter().filter(|v| v.is_object()).collect(),
            Some(v @ Value::Object(_)) => vec![v],
            _ => Vec::new(),
        }
    }

    fn required_str(&self, key: &str) -> Result<String, ImportError> {
        self.str(key)
            .ok_or_else(|| self.error(format!("{} has no {key}", self.r.kind)))
    }

    /// The resource's name: its `name` attribute, else the reader's name.
    fn name(&self) -> Result<String, ImportError> {
        match self.str("name") {
            Some(n) => Ok(n),
            None if !self.r.name.is_empty() => Ok(self.r.name.clone()),
            None => Err(self.error(format!("{} has no name", self.r.kind))),
        }
    }

    fn error(&self, message: impl Into<String>) -> ImportError {
        ImportError::new(&self.r.source, message)
    }

    fn duplicate(&self, what: &str, name: &str, first: &str) -> ImportError {
        self.error(format!(
            "a second {what} named `{name}` (the first is at {first}); vnetd names must be \
             unique, across resource groups too"
        ))
    }

    fn dangling(&self, key: &str) -> ImportError {
        let id = self.str(key).unwrap_or_default();
        self.error(format!(
            "{key} `{id}` names a resource that is not in the input"
        ))
    }

    /// The name an ID attribute refers to, its last segment of type `kind`.
    fn id_name(&self, key: &str, kind: &str) -> Result<String, ImportError> {
        let id = self.required_str(key)?;
        self.name_in_id(&id, kind, key)
    }

    fn name_in_id(&self, id: &str, kind: &str, key: &str) -> Result<String, ImportError> {
        match id_names(id, &[kind]) {
            Some(mut names) => Ok(names.remove(0)),
            None => Err(self.error(format!(
                "{key} `{id}` is not the ID of a {kind} resource (.../{kind}/NAME)"
            ))),
        }
    }

    fn subnet_id(&self, key: &str) -> Result<(String, String), ImportError> {
        let id = self.required_str(key)?;
        self.subnet_in_id(&id, key)
    }

    fn subnet_in_id(&self, id: &str, key: &str) -> Result<(String, String), ImportError> {
        match id_names(id, &["virtualNetworks", "subnets"]) {
            Some(names) => Ok((names[0].clone(), names[1].clone())),
            None => Err(self.error(format!(
                "{key} `{id}` is not a subnet ID (.../virtualNetworks/VNET/subnets/SUBNET)"
            ))),
        }
    }

    fn cidrs(&self, texts: &[String], key: &str) -> Result<Vec<IpNet>, ImportError> {
        let mut nets = Vec::new();
        for t in texts {
            match IpNet::from_str(t) {
                Ok(n) => nets.push(n),
                Err(_) => {
                    return Err(self.error(format!("{key}: `{t}` is not a CIDR prefix")));
                }
            }
        }
        nets.sort();
        Ok(nets)
    }
}

impl Nested<'_, '_> {
    fn str(&self, key: &str) -> Option<String> {
        match self.values.get(key)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    fn list(&self, key: &str) -> Vec<String> {
        match self.values.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn bool(&self, key: &str) -> Option<bool> {
        match self.values.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    fn required_str(&self, key: &str) -> Result<String, ImportError> {
        self.str(key).ok_or_else(|| {
            ImportError::new(
                &self._r.source,
                format!("a block of {} has no {key}", self._r.kind),
            )
        })
    }
}

/// The names of the last segments of an Azure resource ID, when their types
/// are `kinds` (compared without case, as Azure does): `id_names(id,
/// ["virtualNetworks", "subnets"])` of `.../virtualNetworks/hub/subnets/nva`
/// is `["hub", "nva"]`.
pub fn id_names(id: &str, kinds: &[&str]) -> Option<Vec<String>> {
    let parts: Vec<&str> = id.trim_end_matches('/').split('/').collect();
    let needed = kinds.len() * 2;
    if parts.len() < needed + 1 {
        return None;
    }
    let tail = &parts[parts.len() - needed..];
    let mut names = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        let (t, n) = (tail[2 * i], tail[2 * i + 1]);
        if !t.eq_ignore_ascii_case(kind) || n.is_empty() {
            return None;
        }
        names.push(n.to_string());
    }
    Some(names)
}

// ---- writing ---------------------------------------------------------------

/// The text, and for each object the line of its source comment.
struct Output {
    text: String,
    sources: Vec<(usize, String)>,
}

impl Output {
    fn line(&mut self, text: &str) {
        self.text.push_str(text);
        self.text.push('\n');
    }

    fn lines(&self) -> usize {
        self.text.lines().count()
    }

    /// `# SOURCE` at `indent`, remembered for mapping refusals back.
    fn source(&mut self, indent: usize, source: &str) {
        let line = self.lines() + 1;
        self.sources.push((line, source.to_string()));
        self.line(&format!("{}# {}", " ".repeat(indent), one_line(source)));
    }
}

impl Model<'_> {
    fn render(&self, origin: &str) -> Output {
        let mut out = Output {
            text: String::new(),
            sources: Vec::new(),
        };
        out.line(&format!(
            "# Imported by `vnetd import` from {}.",
            one_line(origin)
        ));
        out.line("# The comment before each object names where it came from.");
        if !self.ignored.is_empty() {
            out.line("# Ignored (vnetd does not emulate these):");
            let mut ignored: Vec<String> = self
                .ignored
                .iter()
                .map(|r| {
                    let what = if r.name.is_empty() {
                        r.kind.clone()
                    } else {
                        format!("{}.{}", r.kind, r.name)
                    };
                    let note = if NOT_YET_IMPORTED.contains(&r.kind.as_str()) {
                        ", not imported yet: see config/hybrid.yaml and config/ha-nva.yaml"
                    } else {
                        ""
                    };
                    format!("#   {} ({}{note})", one_line(&what), one_line(&r.source))
                })
                .collect();
            ignored.sort();
            for line in ignored {
                out.line(&line);
            }
        }
        self.render_vnets(&mut out);
        self.render_peerings(&mut out);
        self.render_nics(&mut out);
        self.render_route_tables(&mut out);
        self.render_nsgs(&mut out);
        if !self.asgs.is_empty() {
            out.line("");
            out.line("application_security_groups:");
            for (name, source) in &self.asgs {
                out.source(2, source);
                out.line(&format!("  - name: {}", scalar(name)));
            }
        }
        out
    }

    fn render_vnets(&self, out: &mut Output) {
        if self.vnets.is_empty() {
            return;
        }
        out.line("");
        out.line("vnets:");
        for vnet in self.vnets.values() {
            out.source(2, &vnet.source);
            out.line(&format!("  - name: {}", scalar(&vnet.name)));
            out.line(&format!(
                "    address_space: {}",
                flow_list(&vnet.address_space)
            ));
            if let Some(location) = &vnet.location {
                out.line(&format!("    location: {}", scalar(location)));
            }
            if vnet.subnets.is_empty() {
                continue;
            }
            out.line("    subnets:");
            for subnet in vnet.subnets.values() {
                out.source(6, &subnet.source);
                out.line(&format!("      - name: {}", scalar(&subnet.name)));
                let prefixes: Vec<String> = subnet.prefixes.iter().map(|p| p.to_string()).collect();
                out.line(&format!(
                    "        address_prefixes: {}",
                    flow_list(&prefixes)
                ));
                if let Some(nsg) = &subnet.nsg {
                    out.line(&format!(
                        "        network_security_group: {}  # {}",
                        scalar(&nsg.name),
                        one_line(&nsg.source)
                    ));
                }
                if let Some(rt) = &subnet.route_table {
                    out.line(&format!(
                        "        route_table: {}  # {}",
                        scalar(&rt.name),
                        one_line(&rt.source)
                    ));
                }
            }
        }
    }

    fn render_peerings(&self, out: &mut Output) {
        if self.peerings.is_empty() {
            return;
        }
        out.line("");
        out.line("peerings:");
        let mut peerings: Vec<&Peering> = self.peerings.iter().collect();
        peerings.sort_by(|a, b| (&a.name, &a.vnet).cmp(&(&b.name, &b.vnet)));
        for p in peerings {
            out.source(2, &p.source);
            out.line(&format!("  - name: {}", scalar(&p.name)));
            out.line(&format!("    virtual_network: {}", scalar(&p.vnet)));
            out.line(&format!(
                "    remote_virtual_network: {}",
                scalar(&p.remote)
            ));
            for (key, value) in &p.flags {
                out.line(&format!("    {key}: {value}"));
            }
        }
    }

    fn render_nics(&self, out: &mut Output) {
        if self.nics.is_empty() {
            return;
        }
        out.line("");
        out.line("network_interfaces:");
        let mut nics: Vec<&Nic> = self.nics.iter().collect();
        nics.sort_by(|a, b| a.name.cmp(&b.name));
        for nic in nics {
            out.source(2, &nic.source);
            out.line(&format!("  - name: {}", scalar(&nic.name)));
            let (vnet, subnet) = &nic.configs[0].subnet;
            out.line(&format!(
                "    subnet: {}",
                scalar(&format!("{vnet}/{subnet}"))
            ));
            let address = |c: &IpConfig| c.address.map(|a| a.to_string()).unwrap_or_default();
            if let [only] = nic.configs.as_slice() {
                out.line(&format!(
                    "    private_ip_address: {}",
                    scalar(&address(only))
                ));
            } else {
                out.line("    ip_configurations:");
                for c in &nic.configs {
                    out.line(&format!("      - name: {}", scalar(&c.name)));
                    out.line(&format!(
                        "        private_ip_address: {}",
                        scalar(&address(c))
                    ));
                }
            }
            if nic.ip_forwarding {
                out.line("    ip_forwarding_enabled: true");
            }
            if let Some(nsg) = &nic.nsg {
                out.line(&format!(
                    "    network_security_group: {}  # {}",
                    scalar(&nsg.name),
                    one_line(&nsg.source)
                ));
            }
            if !nic.asgs.is_empty() {
                let names: Vec<String> = nic.asgs.iter().cloned().collect();
                out.line(&format!(
                    "    application_security_groups: {}",
                    flow_list(&names)
                ));
            }
        }
    }

    fn render_route_tables(&self, out: &mut Output) {
        if self.route_tables.is_empty() {
            return;
        }
        out.line("");
        out.line("route_tables:");
        for table in self.route_tables.values() {
            out.source(2, &table.source);
            out.line(&format!("  - name: {}", scalar(&table.name)));
            if !table.propagation_enabled {
                out.line("    bgp_route_propagation_enabled: false");
            }
            if table.routes.is_empty() {
                continue;
            }
            out.line("    routes:");
            let mut routes: Vec<&Route> = table.routes.iter().collect();
            routes.sort_by(|a, b| a.name.cmp(&b.name));
            for route in routes {
                out.source(6, &route.source);
                out.line(&format!("      - name: {}", scalar(&route.name)));
                out.line(&format!(
                    "        address_prefix: {}",
                    scalar(&route.address_prefix)
                ));
                out.line(&format!(
                    "        next_hop_type: {}",
                    scalar(&route.next_hop_type)
                ));
                if let Some(ip) = &route.next_hop_ip {
                    out.line(&format!("        next_hop_in_ip_address: {}", scalar(ip)));
                }
            }
        }
    }

    fn render_nsgs(&self, out: &mut Output) {
        if self.nsgs.is_empty() {
            return;
        }
        out.line("");
        out.line("network_security_groups:");
        for nsg in self.nsgs.values() {
            out.source(2, &nsg.source);
            out.line(&format!("  - name: {}", scalar(&nsg.name)));
            if nsg.rules.is_empty() {
                continue;
            }
            out.line("    security_rules:");
            let mut rules: Vec<&Rule> = nsg.rules.iter().collect();
            rules.sort_by(|a, b| a.name.cmp(&b.name));
            for rule in rules {
                out.source(6, &rule.source);
                out.line(&format!("      - name: {}", scalar(&rule.name)));
                for (key, value) in &rule.fields {
                    out.line(&format!("        {key}: {value}"));
                }
            }
        }
    }
}

/// Parses the written text as `vnetd check` would; a refusal is reported
/// at the source of the object the refused line belongs to.
fn check(out: &Output, origin: &str) -> Result<(), ImportError> {
    let Err(diagnostics) = crate::topology::parse_str(origin, &out.text) else {
        return Ok(());
    };
    let Some(first) = diagnostics
        .iter()
        .find(|d| d.severity == crate::topology::Severity::Error)
    else {
        return Ok(());
    };
    let location = out
        .sources
        .iter()
        .rev()
        .find(|(line, _)| *line <= first.line)
        .map_or(origin, |(_, source)| source.as_str());
    let what = if first.key.is_empty() {
        first.message.clone()
    } else {
        format!("{}: {}", first.key, first.message)
    };
    let more = diagnostics.len() - 1;
    let more = if more > 0 {
        format!(" (and {more} more)")
    } else {
        String::new()
    };
    Err(ImportError::new(
        location,
        format!("vnetd refuses what this imports to: {what}{more}"),
    ))
}

/// A YAML scalar: plain when it cannot be read as anything but this text,
/// double-quoted otherwise (`*`, port numbers, IPv6 addresses, ...).
fn scalar(text: &str) -> String {
    let plain_chars = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-' | '_'));
    let starts_well = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let reads_as_text = text
        .chars()
        .any(|c| c.is_ascii_alphabetic() || c == '.' || c == '/');
    let reserved = ["true", "false", "yes", "no", "on", "off", "null", "y", "n"]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(text));
    if plain_chars && starts_well && reads_as_text && !reserved {
        return text.to_string();
    }
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04x}", c as u32);
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A number as a plain scalar, anything else quoted.
fn plain_or_quoted(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        text.to_string()
    } else {
        scalar(text)
    }
}

fn flow_list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| scalar(s)).collect();
    format!("[{}]", parts.join(", "))
}

/// Text for a comment: one line.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(kind: &str, name: &str, attributes: Value, line: usize) -> Resource {
        Resource {
            kind: kind.into(),
            name: name.into(),
            attributes,
            source: format!("main.tf:{line}"),
        }
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
        let loaded = crate::topology::parse_str("t", &text).unwrap();
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
        assert!(
            err.message.contains("virtualNetworks/gone"),
            "{}",
            err.message
        );
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
        assert!(err.message.contains("Storage"), "{}", err.message);
    }
}
