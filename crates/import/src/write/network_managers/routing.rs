//! Routing configurations of Virtual Network Manager: a configuration,
//! its routing rule collections and their rules, read from
//! `azurerm_network_manager_routing_*` and written as a network manager's
//! `routing_configurations`.

use crate::write::attrs::Attrs;
use crate::write::model::Model;
use crate::write::output::{flow_list, one_line, scalar, Output};
use crate::ImportError;
use std::collections::BTreeMap;

/// A routing configuration, with its rule collections by name.
#[derive(Debug)]
pub(super) struct Routing {
    source: String,
    /// `ManagedOnly` or `UseExisting`, when given.
    route_table_usage_mode: Option<String>,
    collections: BTreeMap<String, RoutingCollection>,
}

#[derive(Debug)]
struct RoutingCollection {
    source: String,
    groups: Vec<String>,
    /// The groups of subnets it names, which are left out.
    subnet_groups: Vec<String>,
    bgp_route_propagation_enabled: bool,
    rules: BTreeMap<String, RoutingRule>,
}

#[derive(Debug)]
struct RoutingRule {
    source: String,
    /// A prefix, an address or a service tag, as given.
    destination: String,
    /// The file's (a route table's) spelling: `None` for `NoNextHop`.
    next_hop_type: String,
    next_hop_address: Option<String>,
}

impl<'r> Model<'r> {
    pub(super) fn add_routing_configuration(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let manager_name = a.id_name("network_manager_id", "networkManagers")?;
        let route_table_usage_mode = a.str("route_table_usage_mode");
        let manager = self.manager_mut(a, &manager_name)?;
        let what = format!("routing configuration of network manager `{manager_name}`");
        let configuration = Routing {
            source: a.r.source.clone(),
            route_table_usage_mode,
            collections: BTreeMap::new(),
        };
        a.insert_unique(&mut manager.routing, &what, name, configuration, |f| {
            &f.source
        })
    }

    pub(super) fn add_routing_rule_collection(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let kinds = ["networkManagers", "routingConfigurations"];
        let key = "routing_configuration_id";
        let [manager_name, configuration] = a.id_names(key, &kinds)?;
        let (mut groups, mut subnet_groups) = (Vec::new(), Vec::new());
        for id in a.list("network_group_ids") {
            // A group of subnets is left out: the collection is written
            // without it.
            let subnets = crate::write::id_names(&id, &["networkManagers", "networkGroups"])
                .filter(|names| names[0] == manager_name)
                .filter(|names| {
                    (self.network_managers)
                        .left_out_group(&names[0], &names[1])
                        .is_some()
                });
            match subnets {
                Some(names) => subnet_groups.push(names[1].clone()),
                None => groups.push(self.group_of_manager(
                    a,
                    &manager_name,
                    &id,
                    "network_group_ids",
                )?),
            }
        }
        let nm = &mut self.network_managers;
        let Some(routing) = nm.routing_mut(&manager_name, &configuration) else {
            return Err(a.dangling(key));
        };
        let what = format!("rule collection of routing configuration `{configuration}`");
        let collection = RoutingCollection {
            source: a.r.source.clone(),
            groups,
            subnet_groups,
            // azurerm's default.
            bgp_route_propagation_enabled: a.bool("bgp_route_propagation_enabled") == Some(true),
            rules: BTreeMap::new(),
        };
        a.insert_unique(&mut routing.collections, &what, name, collection, |f| {
            &f.source
        })
    }

    pub(super) fn add_routing_rule(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let kinds = [
            "networkManagers",
            "routingConfigurations",
            "ruleCollections",
        ];
        let key = "rule_collection_id";
        let [manager_name, configuration, collection_name] = a.id_names(key, &kinds)?;
        let block = |side: &str| {
            a.first_block(side)
                .ok_or_else(|| a.error(format!("routing rule `{name}` has no {side} block")))
        };
        let destination = block("destination")?.required_str("address")?;
        let next_hop = block("next_hop")?;
        let next_hop_type = next_hop.required_str("type")?;
        let next_hop_type = if next_hop_type.eq_ignore_ascii_case("NoNextHop") {
            "None".to_string()
        } else {
            next_hop_type
        };
        let next_hop_address = next_hop.str("address").filter(|s| !s.is_empty());
        let rule = RoutingRule {
            source: a.r.source.clone(),
            destination,
            next_hop_type,
            next_hop_address,
        };
        let Some(collection) = (self.network_managers)
            .routing_mut(&manager_name, &configuration)
            .and_then(|c| c.collections.get_mut(&collection_name))
        else {
            return Err(a.dangling(key));
        };
        let what = format!("routing rule of rule collection `{collection_name}`");
        a.insert_unique(&mut collection.rules, &what, name, rule, |f| &f.source)
    }
}

/// A routing configuration, its rule collections and their rules; a
/// collection whose groups are all groups of subnets is a comment.
pub(super) fn render_routing(out: &mut Output, (name, c): (&String, &Routing)) {
    out.item(6, &c.source, name);
    out.scalar_field(
        8,
        "route_table_usage_mode",
        c.route_table_usage_mode.as_deref(),
    );
    if c.collections.is_empty() {
        return;
    }
    out.line("        rule_collections:");
    for (collection_name, collection) in &c.collections {
        if collection.groups.is_empty() {
            out.line(&format!(
                "          # {}: rule collection `{}` left out: it applies to groups of subnets \
                 ({}) only, and the file's network groups hold VNets",
                one_line(&collection.source),
                one_line(collection_name),
                one_line(&collection.subnet_groups.join(", "))
            ));
            continue;
        }
        out.item(10, &collection.source, collection_name);
        for group in &collection.subnet_groups {
            out.line(&format!(
                "            # network group `{}`, a group of subnets, is left out: the file's \
                 network groups hold VNets",
                one_line(group)
            ));
        }
        out.field(12, "network_groups", &flow_list(&collection.groups));
        if !collection.bgp_route_propagation_enabled {
            out.line("            bgp_route_propagation_enabled: false");
        }
        if collection.rules.is_empty() {
            continue;
        }
        out.line("            rules:");
        for (rule_name, rule) in &collection.rules {
            let mut fields = vec![
                format!("name: {}", scalar(rule_name)),
                format!("destination: {}", scalar(&rule.destination)),
                format!("next_hop_type: {}", scalar(&rule.next_hop_type)),
            ];
            if let Some(address) = &rule.next_hop_address {
                fields.push(format!("next_hop_address: {}", scalar(address)));
            }
            out.source(14, &rule.source);
            out.line(&format!("              - {{{}}}", fields.join(", ")));
        }
    }
}
