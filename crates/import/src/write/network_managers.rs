//! Azure Virtual Network Manager: `azurerm_network_manager` with its
//! network groups and their static members, its connectivity and
//! security admin configurations (admin rule collections and rules), and
//! routing configurations (routing rule collections and rules), and its
//! deployments, written as the topology's `network_managers`.
//!
//! What the file cannot hold is left out and said, as Azure's designs go:
//!
//! - Membership by Azure Policy (a policy definition whose effect is
//!   `addToNetworkGroup`) is not read: a group is written with its static
//!   members, and a comment before it names the policy that adds more (the
//!   policy is listed as ignored, naming the group). A group without a
//!   static member says so too: its members, if any, are the policies'.
//! - A group of subnets (`member_type = "Subnet"`), which only routing
//!   configurations use, is left out with its members: the file's network
//!   groups hold VNets. A routing rule collection that names one is
//!   written without it, and a comment names it; one that names nothing
//!   else is left out as a comment.
//! - A routing rule's destination of type `ServiceTag` is written as the
//!   tag, which vnetd warns about and leaves out; its next hop type
//!   `NoNextHop` is the file's (and a route table's) `None`. A rule
//!   collection's `bgp_route_propagation_enabled` is azurerm's (`false`
//!   when not given), written when not the file's default (`true`).
//! - An admin rule's address of type `NetworkGroup` (a group as source or
//!   destination) is written as the address spaces of the group's static
//!   members, which is what Azure matches; a rule whose group has none
//!   would match nothing, and is left out as a comment in its collection.
//! - `apply_on_network_intent_policy_based_services` is not in the file:
//!   vnetd leaves VNets with network intent policies out of admin rules, as
//!   Azure does by default, and a comment says so when the input asks
//!   otherwise.

use super::attrs::Attrs;
use super::model::{Link, Model};
use super::output::{flow_list, one_line, plain_or_quoted, scalar, Output};
use crate::{ImportError, Resource};
use routing::{render_routing, Routing};
use std::collections::BTreeMap;

/// The policy definitions that may add VNets to a network group.
pub const POLICY_KIND: &str = "azurerm_policy_definition";

/// The network managers of the input, by name.
#[derive(Debug, Default)]
pub(super) struct NetworkManagers {
    managers: BTreeMap<String, Manager>,
    /// Groups left out (of subnets), by manager and name: what they are.
    left_out_groups: BTreeMap<(String, String), String>,
}

#[derive(Debug)]
struct Manager {
    source: String,
    groups: BTreeMap<String, Group>,
    connectivity: BTreeMap<String, Connectivity>,
    security: BTreeMap<String, Security>,
    routing: BTreeMap<String, Routing>,
    /// In input order; sorted by region and kind when written.
    deployments: Vec<Deployment>,
}

#[derive(Debug)]
struct Group {
    source: String,
    members: Vec<Link>,
    /// The policy definitions that add members to it, by their source.
    policies: Vec<String>,
}

#[derive(Debug)]
struct Connectivity {
    source: String,
    topology: String,
    hub: Option<String>,
    global_mesh: bool,
    delete_existing_peering: bool,
    groups: Vec<AppliesTo>,
}

/// One `applies_to_group` of a connectivity configuration.
#[derive(Debug)]
struct AppliesTo {
    group: String,
    connectivity: Option<String>,
    global_mesh: bool,
    use_hub_gateway: bool,
}

#[derive(Debug)]
struct Security {
    source: String,
    /// What the input asks of VNets with network intent policies, when it
    /// is not Azure's default (`None`).
    intent_policy_services: Vec<String>,
    collections: BTreeMap<String, Collection>,
}

#[derive(Debug)]
struct Collection {
    source: String,
    groups: Vec<String>,
    rules: BTreeMap<String, AdminRule>,
}

#[derive(Debug)]
struct AdminRule {
    source: String,
    priority: String,
    direction: String,
    action: String,
    protocol: String,
    source_ports: Vec<String>,
    destination_ports: Vec<String>,
    sources: Vec<Address>,
    destinations: Vec<Address>,
}

/// One source or destination of an admin rule.
#[derive(Debug)]
enum Address {
    /// An address, a prefix, a service tag or `*`, as written.
    Text(String),
    /// A network group of the same manager: its members' address spaces.
    Group(String),
}

#[derive(Debug)]
struct Deployment {
    source: String,
    location: String,
    scope_access: String,
    configurations: Vec<String>,
}

impl<'r> Model<'r> {
    /// A resource of Virtual Network Manager, by its kind.
    pub(super) fn add_network_manager_part(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        match a.r.kind.as_str() {
            "azurerm_network_manager" => self.add_network_manager(a),
            "azurerm_network_manager_network_group" => self.add_network_group(a),
            "azurerm_network_manager_static_member" => self.add_static_member(a),
            "azurerm_network_manager_connectivity_configuration" => {
                self.add_connectivity_configuration(a)
            }
            "azurerm_network_manager_security_admin_configuration" => {
                self.add_security_admin_configuration(a)
            }
            "azurerm_network_manager_admin_rule_collection" => self.add_admin_rule_collection(a),
            "azurerm_network_manager_admin_rule" => self.add_admin_rule(a),
            "azurerm_network_manager_routing_configuration" => self.add_routing_configuration(a),
            "azurerm_network_manager_routing_rule_collection" => {
                self.add_routing_rule_collection(a)
            }
            "azurerm_network_manager_routing_rule" => self.add_routing_rule(a),
            "azurerm_network_manager_deployment" => self.add_network_manager_deployment(a),
            _ => Ok(()),
        }
    }

    fn add_network_manager(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let manager = Manager {
            source: a.r.source.clone(),
            groups: BTreeMap::new(),
            connectivity: BTreeMap::new(),
            security: BTreeMap::new(),
            routing: BTreeMap::new(),
            deployments: Vec::new(),
        };
        let managers = &mut self.network_managers.managers;
        a.insert_unique(managers, "network manager", name, manager, |f| &f.source)
    }

    fn add_network_group(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let manager_name = a.id_name("network_manager_id", "networkManagers")?;
        let nm = &mut self.network_managers;
        let Some(manager) = nm.managers.get_mut(&manager_name) else {
            return Err(a.dangling("network_manager_id"));
        };
        let what = format!("network group of network manager `{manager_name}`");
        a.unique(&manager.groups, &what, &name, |f| &f.source)?;
        let subnets = a
            .str("member_type")
            .is_some_and(|t| t.eq_ignore_ascii_case("Subnet"));
        if subnets {
            let note = "a network group of subnets (member_type Subnet), which only routing \
                        configurations use: the file's network groups hold VNets";
            nm.left_out_groups
                .insert((manager_name, name), "a group of subnets".to_string());
            self.ignored.push((a.r, note.to_string()));
            return Ok(());
        }
        let group = Group {
            source: a.r.source.clone(),
            members: Vec::new(),
            policies: Vec::new(),
        };
        manager.groups.insert(name, group);
        Ok(())
    }

    fn add_static_member(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let (manager, group) = group_in_id(a, "network_group_id")?;
        if let Some(what) = self.network_managers.left_out_group(&manager, &group) {
            let note = format!("a member of network group `{group}`, {what}, which is left out");
            self.ignored.push((a.r, note));
            return Ok(());
        }
        let vnet = a.referred("target_virtual_network_id", "virtualNetworks", &self.vnets)?;
        let Some(g) = self.network_managers.group_mut(&manager, &group) else {
            return Err(a.dangling("network_group_id"));
        };
        if let Some(first) = g.members.iter().find(|m| m.name == vnet) {
            return Err(a.error(format!(
                "VNet `{vnet}` is a static member of network group `{group}` twice (the first \
                 at {})",
                first.source
            )));
        }
        g.members.push(Link::new(vnet, &a.r.source));
        Ok(())
    }

    fn add_connectivity_configuration(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let manager_name = a.id_name("network_manager_id", "networkManagers")?;
        let topology = a.required_str("connectivity_topology")?;
        let hub = match a.first_block("hub") {
            Some(b) => {
                let id = b.required_str("resource_id")?;
                let vnet = a.name_in_id(&id, "virtualNetworks", "hub.resource_id")?;
                if !self.vnets.contains_key(&vnet) {
                    return Err(a.not_in_input("hub.resource_id", &id));
                }
                Some(vnet)
            }
            None => None,
        };
        let mut groups = Vec::new();
        for block in a.blocks("applies_to_group") {
            let b = Attrs::nested(a.r, block);
            let id = b.required_str("network_group_id")?;
            let group = self.group_of_manager(a, &manager_name, &id, "applies_to_group")?;
            groups.push(AppliesTo {
                group,
                connectivity: b.str("group_connectivity"),
                global_mesh: b.bool("global_mesh_enabled") == Some(true),
                use_hub_gateway: b.bool("use_hub_gateway") == Some(true),
            });
        }
        let configuration = Connectivity {
            source: a.r.source.clone(),
            topology,
            hub,
            global_mesh: a.bool("global_mesh_enabled") == Some(true),
            delete_existing_peering: a.bool("delete_existing_peering_enabled") == Some(true),
            groups,
        };
        let manager = self.manager_mut(a, &manager_name)?;
        let what = format!("connectivity configuration of network manager `{manager_name}`");
        a.insert_unique(&mut manager.connectivity, &what, name, configuration, |f| {
            &f.source
        })
    }

    fn add_security_admin_configuration(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let manager_name = a.id_name("network_manager_id", "networkManagers")?;
        let intent_policy_services: Vec<String> = a
            .list("apply_on_network_intent_policy_based_services")
            .into_iter()
            .filter(|s| !s.eq_ignore_ascii_case("None"))
            .collect();
        let manager = self.manager_mut(a, &manager_name)?;
        let what = format!("security admin configuration of network manager `{manager_name}`");
        let configuration = Security {
            source: a.r.source.clone(),
            intent_policy_services,
            collections: BTreeMap::new(),
        };
        a.insert_unique(&mut manager.security, &what, name, configuration, |f| {
            &f.source
        })
    }

    fn add_admin_rule_collection(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let kinds = ["networkManagers", "securityAdminConfigurations"];
        let key = "security_admin_configuration_id";
        let [manager_name, configuration] = a.id_names(key, &kinds)?;
        let mut groups = Vec::new();
        for id in a.list("network_group_ids") {
            groups.push(self.group_of_manager(a, &manager_name, &id, "network_group_ids")?);
        }
        let nm = &mut self.network_managers;
        let Some(security) = nm.security_mut(&manager_name, &configuration) else {
            return Err(a.dangling(key));
        };
        let what = format!("rule collection of security admin configuration `{configuration}`");
        let collection = Collection {
            source: a.r.source.clone(),
            groups,
            rules: BTreeMap::new(),
        };
        a.insert_unique(&mut security.collections, &what, name, collection, |f| {
            &f.source
        })
    }

    fn add_admin_rule(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let kinds = [
            "networkManagers",
            "securityAdminConfigurations",
            "ruleCollections",
        ];
        let key = "admin_rule_collection_id";
        let [manager_name, configuration, collection_name] = a.id_names(key, &kinds)?;
        let mut sides = Vec::new();
        for side in ["source", "destination"] {
            let mut addresses = Vec::new();
            for block in a.blocks(side) {
                let b = Attrs::nested(a.r, block);
                let Some(prefix) = b.str("address_prefix") else {
                    return Err(b.error(format!(
                        "a {side} block of admin rule `{name}` has no address_prefix"
                    )));
                };
                let kind = b.str("address_prefix_type").unwrap_or_default();
                if kind.eq_ignore_ascii_case("NetworkGroup") {
                    let key = format!("{side}.address_prefix");
                    addresses.push(Address::Group(self.group_of_manager(
                        a,
                        &manager_name,
                        &prefix,
                        &key,
                    )?));
                } else {
                    addresses.push(Address::Text(prefix));
                }
            }
            sides.push(addresses);
        }
        let destinations = sides.pop().unwrap_or_default();
        let sources = sides.pop().unwrap_or_default();
        let required = |key: &str| {
            a.str(key)
                .ok_or_else(|| a.error(format!("admin rule `{name}` has no {key}")))
        };
        let rule = AdminRule {
            source: a.r.source.clone(),
            priority: required("priority")?,
            direction: required("direction")?,
            action: required("action")?,
            protocol: required("protocol")?,
            source_ports: any_port_is_none(a.list("source_port_ranges")),
            destination_ports: any_port_is_none(a.list("destination_port_ranges")),
            sources,
            destinations,
        };
        let Some(collection) = (self.network_managers)
            .security_mut(&manager_name, &configuration)
            .and_then(|c| c.collections.get_mut(&collection_name))
        else {
            return Err(a.dangling(key));
        };
        let what = format!("admin rule of rule collection `{collection_name}`");
        a.insert_unique(&mut collection.rules, &what, name, rule, |f| &f.source)
    }

    fn manager_mut(&mut self, a: &Attrs, name: &str) -> Result<&mut Manager, ImportError> {
        self.network_managers
            .managers
            .get_mut(name)
            .ok_or_else(|| a.dangling("network_manager_id"))
    }

    /// The network group `id` names, which must be one of `manager`'s
    /// (`key` is where the ID is, for messages).
    fn group_of_manager(
        &self,
        a: &Attrs,
        manager: &str,
        id: &str,
        key: &str,
    ) -> Result<String, ImportError> {
        let Some(names) = crate::write::id_names(id, &["networkManagers", "networkGroups"]) else {
            return Err(a.error(format!(
                "{key}: `{id}` is not the ID of a network group \
                 (.../networkManagers/NAME/networkGroups/NAME)"
            )));
        };
        let [of, group] = [&names[0], &names[1]];
        if of != manager {
            return Err(a.error(format!(
                "{key}: `{id}` is a network group of network manager `{of}`, not of `{manager}`"
            )));
        }
        if let Some(what) = self.network_managers.left_out_group(of, group) {
            return Err(a.error(format!(
                "{key}: `{id}` is {what}, which security admin and connectivity \
                 configurations cannot use"
            )));
        }
        let known =
            (self.network_managers.managers.get(of)).is_some_and(|m| m.groups.contains_key(group));
        if !known {
            return Err(a.error(format!(
                "{key}: `{id}` names a resource that is not in the input"
            )));
        }
        Ok(group.clone())
    }

    /// What the header says of a [`POLICY_KIND`] definition; a policy
    /// that adds VNets to a network group of the input is noted at that
    /// group too.
    pub(super) fn network_manager_note(&mut self, r: &Resource) -> Option<String> {
        if r.kind != POLICY_KIND {
            return None;
        }
        let id = policy_network_group(&r.attributes)?;
        let names = crate::write::id_names(&id, &["networkManagers", "networkGroups"])?;
        let (manager, group) = (&names[0], &names[1]);
        let g = self.network_managers.group_mut(manager, group)?;
        g.policies.push(r.source.clone());
        Some(format!(
            "adds VNets to network group `{group}` of network manager `{manager}` (Azure \
             Policy): vnetd imports the group's static members only"
        ))
    }

    pub(super) fn render_network_managers(&self, out: &mut Output) {
        let managers = &self.network_managers.managers;
        out.list(0, "network_managers", managers, |out, (name, manager)| {
            out.item(2, &manager.source, name);
            let groups = &manager.groups;
            out.list(4, "network_groups", groups, |out, (group_name, group)| {
                out.item(6, &group.source, group_name);
                for policy in &group.policies {
                    out.line(&format!(
                        "        # Azure Policy adds members ({}): not imported; write its \
                         condition as member_name_contains or member_tags",
                        one_line(policy)
                    ));
                }
                if group.members.is_empty() {
                    if group.policies.is_empty() {
                        out.line(
                            "        # No static member: the members Azure Policy adds, if \
                             any, are not imported",
                        );
                    }
                    return;
                }
                out.line("        static_members:");
                out.link_list(10, &group.members);
            });
            out.list(
                4,
                "connectivity_configurations",
                &manager.connectivity,
                render_connectivity,
            );
            out.list(
                4,
                "security_admin_configurations",
                &manager.security,
                |out, (name, c)| self.render_security_admin(out, manager, name, c),
            );
            out.list(
                4,
                "routing_configurations",
                &manager.routing,
                render_routing,
            );
            let mut deployments: Vec<&Deployment> = manager.deployments.iter().collect();
            deployments.sort_by(|a, b| {
                (&a.location, &a.scope_access).cmp(&(&b.location, &b.scope_access))
            });
            out.list(4, "deployments", deployments, |out, d| {
                out.source(6, &d.source);
                out.line(&format!(
                    "      - {{location: {}, scope_access: {}, configurations: {}}}",
                    scalar(&d.location),
                    scalar(&d.scope_access),
                    flow_list(&d.configurations)
                ));
            });
        });
    }

    fn render_security_admin(&self, out: &mut Output, manager: &Manager, name: &str, c: &Security) {
        out.item(6, &c.source, name);
        if !c.intent_policy_services.is_empty() {
            out.line(&format!(
                "        # apply_on_network_intent_policy_based_services is {}: the file has no \
                 such setting, and vnetd leaves VNets with network intent policies out, as \
                 Azure does by default",
                one_line(&c.intent_policy_services.join(", "))
            ));
        }
        out.list(
            8,
            "rule_collections",
            &c.collections,
            |out, (collection_name, collection)| {
                out.item(10, &collection.source, collection_name);
                out.field(12, "network_groups", &flow_list(&collection.groups));
                out.list(12, "rules", &collection.rules, |out, (rule_name, rule)| {
                    let (sources, destinations) = match (
                        self.addresses(manager, &rule.sources),
                        self.addresses(manager, &rule.destinations),
                    ) {
                        (Ok(s), Ok(d)) => (any_address_is_none(s), any_address_is_none(d)),
                        (Err(group), _) | (_, Err(group)) => {
                            out.line(&format!(
                                "              # {}: admin rule `{}` left out: its network group \
                                 `{group}` has no static member, so vnetd cannot tell its \
                                 addresses",
                                one_line(&rule.source),
                                one_line(rule_name)
                            ));
                            return;
                        }
                    };
                    out.item(14, &rule.source, rule_name);
                    out.field(16, "priority", &plain_or_quoted(&rule.priority));
                    out.field(16, "direction", &scalar(&rule.direction));
                    out.field(16, "action", &scalar(&rule.action));
                    out.field(16, "protocol", &scalar(&rule.protocol));
                    for (key, list) in [
                        ("source_port_ranges", &rule.source_ports),
                        ("destination_port_ranges", &rule.destination_ports),
                        ("sources", &sources),
                        ("destinations", &destinations),
                    ] {
                        if !list.is_empty() {
                            out.field(16, key, &flow_list(list));
                        }
                    }
                });
            },
        );
    }

    /// The texts of `addresses`, a network group as its static members'
    /// address spaces; `Err` names a group without one.
    fn addresses(&self, manager: &Manager, addresses: &[Address]) -> Result<Vec<String>, String> {
        let mut texts = Vec::new();
        for address in addresses {
            match address {
                Address::Text(text) => texts.push(text.clone()),
                Address::Group(group) => {
                    let members = manager.groups.get(group).map_or(&[][..], |g| &g.members);
                    let spaces = members
                        .iter()
                        .filter_map(|m| self.vnets.get(&m.name))
                        .flat_map(|v| v.address_space.iter().cloned());
                    let before = texts.len();
                    texts.extend(spaces);
                    if texts.len() == before {
                        return Err(group.clone());
                    }
                }
            }
        }
        Ok(texts)
    }
}

/// A connectivity configuration, with the groups it applies to.
fn render_connectivity(out: &mut Output, (name, c): (&String, &Connectivity)) {
    out.item(6, &c.source, name);
    out.field(8, "connectivity_topology", &scalar(&c.topology));
    out.scalar_field(8, "hub", c.hub.as_deref());
    if c.global_mesh {
        out.line("        global_mesh_enabled: true");
    }
    if c.delete_existing_peering {
        out.line("        delete_existing_peering_enabled: true");
    }
    out.list(8, "applies_to_group", &c.groups, |out, g| {
        let mut fields = vec![format!("network_group: {}", scalar(&g.group))];
        if let Some(connectivity) = &g.connectivity {
            fields.push(format!("group_connectivity: {}", scalar(connectivity)));
        }
        if g.global_mesh {
            fields.push("global_mesh_enabled: true".to_string());
        }
        if g.use_hub_gateway {
            fields.push("use_hub_gateway: true".to_string());
        }
        out.line(&format!("          - {{{}}}", fields.join(", ")));
    });
}

impl NetworkManagers {
    fn left_out_group(&self, manager: &str, group: &str) -> Option<&String> {
        self.left_out_groups
            .get(&(manager.to_string(), group.to_string()))
    }

    fn group_mut(&mut self, manager: &str, group: &str) -> Option<&mut Group> {
        self.managers.get_mut(manager)?.groups.get_mut(group)
    }

    /// The security admin configuration `name` of `manager`.
    fn security_mut(&mut self, manager: &str, name: &str) -> Option<&mut Security> {
        self.managers.get_mut(manager)?.security.get_mut(name)
    }

    /// The routing configuration `name` of `manager`.
    fn routing_mut(&mut self, manager: &str, name: &str) -> Option<&mut Routing> {
        self.managers.get_mut(manager)?.routing.get_mut(name)
    }
}

/// Port ranges as the file writes them: none when they are every port
/// (`*`, or `0-65535`, which Azure writes for a rule made without
/// ports), the file's default.
fn any_port_is_none(ranges: Vec<String>) -> Vec<String> {
    let every = |r: &String| r == "*" || r == "0-65535";
    if ranges.iter().any(every) {
        Vec::new()
    } else {
        ranges
    }
}

/// Sources or destinations as the file writes them: none when one of
/// them is `*` (any address), the file's default.
fn any_address_is_none(texts: Vec<String>) -> Vec<String> {
    if texts.iter().any(|t| t == "*") {
        Vec::new()
    } else {
        texts
    }
}

/// The (manager, group) of a network group ID attribute.
fn group_in_id(a: &Attrs, key: &str) -> Result<(String, String), ImportError> {
    let [manager, group] = a.id_names(key, &["networkManagers", "networkGroups"])?;
    Ok((manager, group))
}

/// The network group a policy definition adds VNets to: its rule's
/// `then.details.networkGroupId` when its effect is `addToNetworkGroup`.
/// The rule is an object, or its JSON text (Terraform writes it so).
fn policy_network_group(attributes: &serde_json::Value) -> Option<String> {
    let rule = &attributes["policy_rule"];
    let parsed;
    let rule = match rule {
        serde_json::Value::String(text) => {
            parsed = serde_json::from_str::<serde_json::Value>(text).ok()?;
            &parsed
        }
        other => other,
    };
    let then = &rule["then"];
    let effect = then["effect"].as_str()?;
    if !effect.eq_ignore_ascii_case("addToNetworkGroup") {
        return None;
    }
    then["details"]["networkGroupId"]
        .as_str()
        .map(str::to_string)
}

mod deployments;
mod routing;
#[cfg(test)]
mod tests;
