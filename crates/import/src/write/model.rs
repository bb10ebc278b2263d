//! What the writer knows before it writes: the VNets, subnets, peerings,
//! NICs, NSGs and route tables the resources describe, with the DNS servers
//! of VNets and NICs (and, in modules of their own, load balancers,
//! gateways, ExpressRoute, firewalls, Route Servers, Private DNS zones,
//! Private Endpoints, DNS Private Resolvers and forwarding rulesets, the
//! Internet edge: public IPs and prefixes, NAT gateways, and Virtual
//! WAN),
//! gathered by name (the allocation of Dynamic private addresses is
//! `dynamic`'s).

use super::*;
use crate::{ImportError, Resource};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// A name written in the file and the source of what put it there.
#[derive(Debug, Clone)]
pub(super) struct Link {
    pub(super) name: String,
    pub(super) source: String,
}

impl Link {
    /// `name`, written in the file for what was read at `source`.
    pub(super) fn new(name: String, source: &str) -> Self {
        Link {
            name,
            source: source.to_string(),
        }
    }
}

#[derive(Debug)]
pub(super) struct Vnet {
    pub(super) name: String,
    pub(super) source: String,
    pub(super) address_space: Vec<String>,
    pub(super) location: Option<String>,
    /// `dns_servers`, in their order (the first is asked first); none
    /// means Azure DNS.
    pub(super) dns_servers: Vec<String>,
    /// `tags`, by name: what a network group's `member_tags` selects.
    pub(super) tags: BTreeMap<String, String>,
    pub(super) subnets: BTreeMap<String, Subnet>,
}

#[derive(Debug)]
pub(super) struct Subnet {
    pub(super) name: String,
    pub(super) source: String,
    pub(super) prefixes: Vec<IpNet>,
    /// Declared inside its VNet (a VNet's `subnet` block), so a separate
    /// `azurerm_subnet` of the same name is the same subnet, not a second.
    pub(super) inline: bool,
    pub(super) nsg: Option<Link>,
    pub(super) route_table: Option<Link>,
    /// `private_endpoint_network_policies`, when given.
    pub(super) endpoint_policies: Option<String>,
    /// `default_outbound_access_enabled`, when given (Azure's default,
    /// and azurerm's, is true).
    pub(super) default_outbound: Option<bool>,
    /// The service the subnet is delegated to, and the services of any
    /// further delegation block (written as a comment).
    pub(super) delegation: Delegation,
    /// Its service endpoints and service endpoint policies.
    pub(super) services: services::SubnetServices,
}

/// A subnet's `delegation` blocks: the service of the first
/// (`service_delegation.name`), which the file keeps, and those of the
/// others, which it cannot hold.
#[derive(Debug, Default)]
pub(super) struct Delegation {
    pub(super) service: Option<String>,
    pub(super) others: Vec<String>,
}

impl Delegation {
    /// The delegations of a subnet (a resource, or a VNet's inline block).
    pub(super) fn of(values: &Nested) -> Delegation {
        let mut services = values.blocks("delegation").into_iter().filter_map(|block| {
            let b = Nested {
                values: block,
                resource: values.resource,
            };
            let service = b.blocks("service_delegation").into_iter().next()?;
            Nested {
                values: service,
                resource: values.resource,
            }
            .str("name")
        });
        Delegation {
            service: services.next(),
            others: services.collect(),
        }
    }
}

#[derive(Debug)]
pub(super) struct Peering {
    pub(super) name: String,
    pub(super) source: String,
    pub(super) vnet: String,
    pub(super) remote: String,
    /// The four flags whose value differs from the default, in file order.
    pub(super) flags: Vec<(&'static str, bool)>,
}

/// A virtual machine: its size and the NICs it owns, by name.
#[derive(Debug)]
pub(super) struct Vm {
    pub(super) name: String,
    pub(super) source: String,
    pub(super) size: String,
    pub(super) nics: Vec<String>,
}

#[derive(Debug)]
pub(super) struct IpConfig {
    pub(super) name: String,
    pub(super) subnet: (String, String),
    pub(super) address: Option<IpAddr>,
    pub(super) ipv6: bool,
    pub(super) primary: bool,
    /// `public_ip_address_id`, when given.
    pub(super) public_ip: Option<String>,
}

#[derive(Debug)]
pub(super) struct Nic {
    pub(super) name: String,
    pub(super) source: String,
    /// Its place in the input, the order of Dynamic allocation.
    pub(super) input_index: usize,
    pub(super) configs: Vec<IpConfig>,
    pub(super) ip_forwarding: bool,
    /// `dns_servers`, in their order; none means the VNet's.
    pub(super) dns_servers: Vec<String>,
    pub(super) nsg: Option<Link>,
    pub(super) asgs: BTreeSet<String>,
    /// The public IP of its primary configuration, by name.
    pub(super) public_ip: Option<String>,
    /// What of its public IPs is left out, and why.
    pub(super) public_ip_notes: Vec<String>,
}

#[derive(Debug)]
pub(super) struct Rule {
    pub(super) name: String,
    pub(super) source: String,
    /// An NSG's `security_rule` block (see [`Subnet::inline`]).
    pub(super) inline: bool,
    /// `key: value` lines after `name`, values already in YAML.
    pub(super) fields: Vec<(&'static str, String)>,
}

#[derive(Debug)]
pub(super) struct Nsg {
    pub(super) name: String,
    pub(super) source: String,
    pub(super) rules: Vec<Rule>,
}

#[derive(Debug)]
pub(super) struct Route {
    pub(super) name: String,
    pub(super) source: String,
    /// A route table's `route` block (see [`Subnet::inline`]).
    pub(super) inline: bool,
    pub(super) address_prefix: String,
    pub(super) next_hop_type: String,
    pub(super) next_hop_ip: Option<String>,
}

#[derive(Debug)]
pub(super) struct RouteTable {
    pub(super) name: String,
    pub(super) source: String,
    pub(super) propagation_enabled: bool,
    pub(super) routes: Vec<Route>,
}

#[derive(Debug, Default)]
pub(super) struct Model<'r> {
    pub(super) vnets: BTreeMap<String, Vnet>,
    pub(super) peerings: Vec<Peering>,
    /// In input order (the order of Dynamic allocation); sorted when written.
    pub(super) nics: Vec<Nic>,
    pub(super) nsgs: BTreeMap<String, Nsg>,
    pub(super) route_tables: BTreeMap<String, RouteTable>,
    pub(super) asgs: BTreeMap<String, String>,
    pub(super) load_balancers: BTreeMap<String, load_balancers::LoadBalancer>,
    pub(super) gateways: BTreeMap<String, gateways::Part>,
    pub(super) local_gateways: BTreeMap<String, gateways::Part>,
    /// The on-premises site of each local network gateway, by its name.
    pub(super) sites: BTreeMap<String, gateways::Site>,
    pub(super) connections: BTreeMap<String, gateways::Part>,
    pub(super) circuits: BTreeMap<String, express_route::Circuit>,
    pub(super) clouds: BTreeMap<String, gateways::Part>,
    pub(super) reach: BTreeMap<String, express_route::Reach>,
    /// Load balancers vnetd does not emulate (Basic, or without a frontend
    /// it can write), and why.
    pub(super) skipped_load_balancers: BTreeMap<String, String>,
    /// Resources left out, each with a note (empty: none).
    pub(super) ignored: Vec<(&'r Resource, String)>,
    pub(super) vms: Vec<Vm>,
    /// Azure Firewalls, their policies and IP groups.
    pub(super) firewalls: firewalls::Firewalls,
    /// Azure Route Servers with their BGP connections, by name.
    pub(super) route_servers: BTreeMap<String, route_servers::RouteServer>,
    /// Private DNS zones and Private Endpoints.
    pub(super) names: names::Names,
    /// DNS Private Resolvers and forwarding rulesets.
    pub(super) resolvers: resolvers::Resolvers,
    /// Public IPs and prefixes, NAT gateways.
    pub(super) edge: edge::Edge,
    /// Virtual Network Manager.
    pub(super) network_managers: network_managers::NetworkManagers,
    /// Virtual WANs, their hubs and VPN sites.
    pub(super) virtual_wans: virtual_wan::VirtualWans,
    /// PaaS resources and service endpoint policies.
    pub(super) services: services::Services,
    /// Network Watcher's VNet flow logs.
    pub(super) flow_logs: flow_logs::FlowLogs,
}

impl<'r> Model<'r> {
    pub(super) fn is_empty(&self) -> bool {
        self.vnets.is_empty()
            && self.nics.is_empty()
            && self.nsgs.is_empty()
            && self.route_tables.is_empty()
            && self.asgs.is_empty()
            && self.load_balancers.is_empty()
            && self.gateways.is_empty()
            && self.circuits.is_empty()
            && self.clouds.is_empty()
            && self.virtual_wans.is_empty()
    }

    pub(super) fn add(&mut self, r: &'r Resource, index: usize) -> Result<(), ImportError> {
        let a = Attrs { r };
        match r.kind.as_str() {
            "azurerm_virtual_network" => self.add_vnet(&a),
            "azurerm_subnet" => self.add_subnet(&a),
            "azurerm_network_security_group" => self.add_nsg(&a),
            "azurerm_network_security_rule" => {
                let nsg_name = a.required_str("network_security_group_name")?;
                let rule = rule(&a, a.r.attributes.clone(), false)?;
                let nsg = self.nsg_mut(&a, &nsg_name)?;
                let what = format!("security rule of NSG `{nsg_name}`");
                add_separate(&a, &mut nsg.rules, rule, &what, |r| {
                    (r.name.as_str(), r.inline, r.source.as_str())
                })
            }
            "azurerm_route_table" => self.add_route_table(&a),
            "azurerm_route" => {
                let table_name = a.required_str("route_table_name")?;
                let route = route(&a, &a.r.attributes, false)?;
                let table = self.route_table_mut(&a, &table_name)?;
                let what = format!("route of route table `{table_name}`");
                add_separate(&a, &mut table.routes, route, &what, |r| {
                    (r.name.as_str(), r.inline, r.source.as_str())
                })
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
                self.subnet_mut(&a, &vnet, &subnet)?.nsg = Some(Link::new(nsg, &r.source));
                Ok(())
            }
            "azurerm_subnet_route_table_association" => {
                let (vnet, subnet) = a.subnet_id("subnet_id")?;
                let table = a.id_name("route_table_id", "routeTables")?;
                self.route_table_mut(&a, &table)?;
                self.subnet_mut(&a, &vnet, &subnet)?.route_table =
                    Some(Link::new(table, &r.source));
                Ok(())
            }
            "azurerm_virtual_network_peering" => self.add_peering(&a),
            "azurerm_public_ip_prefix" => self.add_public_ip_prefix(&a),
            "azurerm_public_ip" => self.add_public_ip(&a),
            "azurerm_nat_gateway" => self.add_nat_gateway(&a),
            "azurerm_nat_gateway_public_ip_association" => {
                self.add_nat_gateway_address(&a, edge::GatewayAddress::PublicIp)
            }
            "azurerm_nat_gateway_public_ip_prefix_association" => {
                self.add_nat_gateway_address(&a, edge::GatewayAddress::Prefix)
            }
            "azurerm_subnet_nat_gateway_association" => self.add_subnet_nat_gateway(&a),
            "azurerm_network_interface" => self.add_nic(&a, index),
            "azurerm_linux_virtual_machine" | "azurerm_windows_virtual_machine" => self.add_vm(&a),
            "azurerm_lb" => self.add_load_balancer(&a, index),
            "azurerm_lb_backend_address_pool" => self.add_pool(&a),
            "azurerm_lb_probe" => self.add_probe(&a),
            "azurerm_lb_rule" => self.add_lb_rule(&a),
            "azurerm_lb_outbound_rule" => self.add_outbound_rule(&a),
            "azurerm_network_interface_backend_address_pool_association" => {
                self.add_pool_member(&a)
            }
            "azurerm_virtual_network_gateway" => self.add_gateway(&a),
            "azurerm_local_network_gateway" => self.add_local_gateway(&a),
            "azurerm_virtual_network_gateway_connection" => self.add_connection(&a),
            "azurerm_express_route_circuit" => self.add_circuit(&a),
            "azurerm_express_route_circuit_peering" => self.add_circuit_peering(&a),
            "azurerm_express_route_circuit_connection" => self.add_circuit_connection(&a),
            "azurerm_vmware_private_cloud" => self.add_private_cloud(&a),
            "azurerm_ip_group" => self.add_ip_group(&a),
            "azurerm_ip_group_cidr" => self.add_ip_group_cidr(&a),
            "azurerm_firewall_policy" => self.add_firewall_policy(&a),
            "azurerm_firewall_policy_rule_collection_group" => self.add_rule_collection_group(&a),
            "azurerm_firewall" => self.add_firewall(&a),
            "azurerm_firewall_network_rule_collection" => self.add_classic_network_rules(&a),
            "azurerm_firewall_application_rule_collection" => {
                self.add_classic_application_rules(&a)
            }
            "azurerm_firewall_nat_rule_collection" => self.add_classic_nat_rules(&a),
            "azurerm_route_server" => self.add_route_server(&a),
            "azurerm_network_watcher_flow_log" => self.add_flow_log(&a),
            "azurerm_route_server_bgp_connection" => self.add_route_server_connection(&a),
            "azurerm_virtual_wan" => self.add_virtual_wan(&a),
            "azurerm_virtual_hub" => self.add_virtual_hub(&a),
            "azurerm_vpn_site" => self.add_vpn_site(&a),
            "azurerm_vpn_gateway" => self.add_vpn_gateway(&a),
            "azurerm_express_route_gateway" => self.add_express_route_gateway(&a),
            "azurerm_virtual_hub_route_table" => self.add_hub_route_table(&a),
            "azurerm_virtual_hub_connection" => self.add_hub_connection(&a),
            "azurerm_virtual_hub_route_table_route" => self.add_hub_route(&a),
            "azurerm_virtual_hub_bgp_connection" => self.add_hub_bgp_connection(&a),
            "azurerm_virtual_hub_routing_intent" => self.add_routing_intent(&a),
            "azurerm_vpn_gateway_connection" => self.add_vpn_connection(&a),
            "azurerm_express_route_connection" => self.add_express_route_connection(&a),
            "azurerm_virtual_network_dns_servers" => {
                let vnet = a.id_name("virtual_network_id", "virtualNetworks")?;
                let servers = a.list("dns_servers");
                match self.vnets.get_mut(&vnet) {
                    Some(vnet) => vnet.dns_servers = servers,
                    None => return Err(a.dangling("virtual_network_id")),
                }
                Ok(())
            }
            "azurerm_private_dns_zone" => self.add_private_dns_zone(&a),
            "azurerm_private_dns_zone_virtual_network_link" => self.add_zone_link(&a),
            "azurerm_private_endpoint" => self.add_private_endpoint(&a, index),
            kind if names::record_type(kind).is_some() => self.add_record_set(&a),
            kind if names::paas_of_kind(kind).is_some() => self.add_paas_resource(&a),
            "azurerm_storage_account_network_rules" => self.add_storage_rules(&a),
            "azurerm_subnet_service_endpoint_storage_policy" => self.add_endpoint_policy(&a),
            "azurerm_private_dns_resolver" => self.add_dns_resolver(&a),
            "azurerm_private_dns_resolver_inbound_endpoint" => self.add_inbound_endpoint(&a),
            "azurerm_private_dns_resolver_outbound_endpoint" => self.add_outbound_endpoint(&a),
            "azurerm_private_dns_resolver_dns_forwarding_ruleset" => {
                self.add_forwarding_ruleset(&a)
            }
            "azurerm_private_dns_resolver_forwarding_rule" => self.add_forwarding_rule(&a),
            "azurerm_private_dns_resolver_virtual_network_link" => self.add_ruleset_link(&a),
            kind if kind.starts_with("azurerm_network_manager") => {
                self.add_network_manager_part(&a)
            }
            "azurerm_network_interface_security_group_association" => {
                let nic = a.id_name("network_interface_id", "networkInterfaces")?;
                let nsg = a.id_name("network_security_group_id", "networkSecurityGroups")?;
                self.nsg_mut(&a, &nsg)?;
                self.nic_mut(&a, &nic)?.nsg = Some(Link::new(nsg, &r.source));
                Ok(())
            }
            "azurerm_network_interface_application_security_group_association" => {
                let nic = a.id_name("network_interface_id", "networkInterfaces")?;
                let asg = a.referred(
                    "application_security_group_id",
                    "applicationSecurityGroups",
                    &self.asgs,
                )?;
                self.nic_mut(&a, &nic)?.asgs.insert(asg);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub(super) fn add_vnet(&mut self, a: &Attrs) -> Result<(), ImportError> {
        let name = a.new_name(&self.vnets, "virtual network", |f| &f.source)?;
        let location = a
            .str("location")
            .map(|l| vnetd_model::topology::regions::canonical(&l).map_or(l, str::to_string));
        let mut vnet = Vnet {
            name: name.clone(),
            source: a.r.source.clone(),
            address_space: sorted_prefixes(a.list("address_space")),
            location,
            dns_servers: a.list("dns_servers"),
            tags: a.own().map("tags"),
            subnets: BTreeMap::new(),
        };
        for block in a.blocks("subnet") {
            let b = Attrs::nested(a.r, block);
            let subnet_name = b.required_str("name")?;
            let mut prefixes = b.list("address_prefixes");
            prefixes.extend(b.str("address_prefix"));
            // What the ID under `key` (of a `kind` resource) names.
            let link = |key: &str, kind: &str| -> Result<Option<Link>, ImportError> {
                let Some(id) = b.str(key) else {
                    return Ok(None);
                };
                let name = a.name_in_id(&id, kind, &format!("subnet.{key}"))?;
                Ok(Some(Link::new(name, &b.source())))
            };
            let nsg = link("security_group", "networkSecurityGroups")?;
            let route_table = link("route_table_id", "routeTables")?;
            let subnet = Subnet {
                name: subnet_name.clone(),
                source: b.source(),
                prefixes: a.cidrs(&prefixes, "subnet.address_prefixes")?,
                inline: true,
                nsg,
                route_table,
                endpoint_policies: endpoint_policies(&b),
                default_outbound: b.bool("default_outbound_access_enabled"),
                delegation: Delegation::of(&b),
                services: services::SubnetServices::of(&b),
            };
            if vnet.subnets.insert(subnet_name.clone(), subnet).is_some() {
                let why = format!("VNet `{name}` has two subnet blocks named `{subnet_name}`");
                return Err(a.error(why));
            }
        }
        self.vnets.insert(name, vnet);
        Ok(())
    }

    pub(super) fn add_subnet(&mut self, a: &Attrs) -> Result<(), ImportError> {
        let name = a.name()?;
        let vnet_name = a.required_str("virtual_network_name")?;
        let mut prefixes = a.list("address_prefixes");
        prefixes.extend(a.str("address_prefix"));
        let prefixes = a.cidrs(&prefixes, "address_prefixes")?;
        let endpoint_policies = endpoint_policies(&a.own());
        let default_outbound = a.bool("default_outbound_access_enabled");
        let delegation = Delegation::of(&a.own());
        let services = services::SubnetServices::of(&a.own());
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
                inline.endpoint_policies = endpoint_policies;
                inline.default_outbound = default_outbound;
                inline.delegation = delegation;
                inline.services = services;
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
                    endpoint_policies,
                    default_outbound,
                    delegation,
                    services,
                };
                vnet.subnets.insert(name, subnet);
            }
        }
        Ok(())
    }

    pub(super) fn add_nsg(&mut self, a: &Attrs) -> Result<(), ImportError> {
        let name = a.new_name(&self.nsgs, "network security group", |f| &f.source)?;
        let mut rules = Vec::new();
        for block in a.blocks("security_rule") {
            rules.push(rule(a, block.clone(), true)?);
        }
        let nsg = Nsg {
            name: name.clone(),
            source: a.r.source.clone(),
            rules,
        };
        self.nsgs.insert(name, nsg);
        Ok(())
    }

    pub(super) fn add_route_table(&mut self, a: &Attrs) -> Result<(), ImportError> {
        let name = a.new_name(&self.route_tables, "route table", |f| &f.source)?;
        // Off if either name says so (state of provider versions that
        // have both names holds both).
        let propagation_enabled = a.bool("bgp_route_propagation_enabled") != Some(false)
            && a.bool("disable_bgp_route_propagation") != Some(true);
        let mut routes = Vec::new();
        for block in a.blocks("route") {
            routes.push(route(a, block, true)?);
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

    pub(super) fn add_peering(&mut self, a: &Attrs) -> Result<(), ImportError> {
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

    /// A VM whose size has a documented bandwidth and whose NICs are in the
    /// file; any other is left out, with the reason in the header (its
    /// NICs stay).
    pub(super) fn add_vm(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        use vnetd_model::topology::catalog::vm_sizes;
        let name = a.name()?;
        if let Some(first) = self.vms.iter().find(|v| v.name == name) {
            return Err(a.duplicate("virtual machine", &name, &first.source));
        }
        let size = a.str("size").unwrap_or_default();
        let known = vm_sizes::find(&size);
        let mut nics = Vec::new();
        for id in a.list("network_interface_ids") {
            match id_names(&id, &["networkInterfaces"]) {
                Some(mut names) => nics.push(names.remove(0)),
                None => {
                    let note = format!("NIC `{id}` is not a network interface ID");
                    self.ignored.push((a.r, note));
                    return Ok(());
                }
            }
        }
        let refused_name = vnetd_model::topology::resolve::VM_NAME.refusal(&name);
        let why = match known {
            _ if refused_name.is_some() => refused_name,
            None => Some(format!("size `{size}` is not a VM size vnetd knows")),
            Some(_) if nics.is_empty() => Some("no NIC".to_string()),
            Some(_) => nics
                .iter()
                .find(|n| !self.nics.iter().any(|nic| &nic.name == *n))
                .map(|n| format!("NIC `{n}` is not imported")),
        };
        let Some(size) = known.filter(|_| why.is_none()) else {
            self.ignored.push((a.r, why.unwrap_or_default()));
            return Ok(());
        };
        self.vms.push(Vm {
            name,
            source: a.r.source.clone(),
            size: size.name.to_string(),
            nics,
        });
        Ok(())
    }

    pub(super) fn add_nic(&mut self, a: &Attrs, index: usize) -> Result<(), ImportError> {
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
            let what = format!("ip_configuration `{config_name}`");
            let address = a.private_address(&b, "private_ip_address_allocation", &what)?;
            let ipv6 = b
                .str("private_ip_address_version")
                .is_some_and(|v| v.eq_ignore_ascii_case("ipv6"));
            configs.push(IpConfig {
                name: config_name,
                subnet: (vnet, subnet),
                address,
                ipv6,
                primary: b.bool("primary").unwrap_or(false),
                public_ip: b.str("public_ip_address_id"),
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
        // On if either name says so (v3 `enable_`, v4 `_enabled`).
        let ip_forwarding = a.bool("ip_forwarding_enabled") == Some(true)
            || a.bool("enable_ip_forwarding") == Some(true);
        let (public_ip, public_ip_notes) = self.edge.nic_public_ip(&configs);
        self.nics.push(Nic {
            name,
            source: a.r.source.clone(),
            input_index: index,
            configs,
            ip_forwarding,
            dns_servers: a.list("dns_servers"),
            nsg: None,
            asgs: BTreeSet::new(),
            public_ip,
            public_ip_notes,
        });
        Ok(())
    }

    pub(super) fn subnet_mut(
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

    pub(super) fn nsg_mut(&mut self, a: &Attrs, name: &str) -> Result<&mut Nsg, ImportError> {
        let why = format!("network security group `{name}` is not in the input");
        self.nsgs.get_mut(name).ok_or_else(|| a.error(why))
    }

    pub(super) fn route_table_mut(
        &mut self,
        a: &Attrs,
        name: &str,
    ) -> Result<&mut RouteTable, ImportError> {
        let why = format!("route table `{name}` is not in the input");
        self.route_tables.get_mut(name).ok_or_else(|| a.error(why))
    }

    pub(super) fn nic_mut(&mut self, a: &Attrs, name: &str) -> Result<&mut Nic, ImportError> {
        let why = format!("network interface `{name}` is not in the input");
        self.nics
            .iter_mut()
            .find(|n| n.name == name)
            .ok_or_else(|| a.error(why))
    }
}

/// A subnet's `private_endpoint_network_policies` (azurerm v4's and
/// Azure's name), else azurerm v3's boolean
/// `private_endpoint_network_policies_enabled` (true is `Enabled`, false
/// `Disabled`), else v2's `enforce_private_link_endpoint_network_policies`,
/// which says the opposite (true is `Disabled`). State of some provider
/// versions holds several: the first given wins.
pub(super) fn endpoint_policies(values: &Nested) -> Option<String> {
    let spelled = |enabled: bool| if enabled { "Enabled" } else { "Disabled" }.to_string();
    values
        .str("private_endpoint_network_policies")
        .or_else(|| {
            let enabled = values.bool("private_endpoint_network_policies_enabled")?;
            Some(spelled(enabled))
        })
        .or_else(|| {
            let enforced = values.bool("enforce_private_link_endpoint_network_policies")?;
            Some(spelled(!enforced))
        })
}

/// Adds `item`, a separate resource, to `items`: in place of the inline
/// block of its name (state lists a separate one in its parent too), else
/// refused as a second `what` when one of its name is there. `held` gives
/// an item's name, whether it is inline, and its source.
pub(super) fn add_separate<T>(
    a: &Attrs,
    items: &mut Vec<T>,
    item: T,
    what: &str,
    held: impl Fn(&T) -> (&str, bool, &str),
) -> Result<(), ImportError> {
    let name = held(&item).0.to_string();
    match items.iter().position(|i| held(i).0 == name) {
        Some(i) if held(&items[i]).1 => items[i] = item,
        Some(i) => return Err(a.duplicate(what, &name, held(&items[i]).2)),
        None => items.push(item),
    }
    Ok(())
}
