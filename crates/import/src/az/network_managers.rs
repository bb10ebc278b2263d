//! Azure Virtual Network Manager as the Azure CLI lists it (`az network
//! manager list`, and per manager its groups, their static members, its
//! connectivity, security admin and routing configurations, the rule
//! collections and rules of the security admin and routing ones, and its
//! deployment statuses), turned into the azurerm resources Terraform would
//! hold for it: `azurerm_network_manager`, `_network_group`,
//! `_static_member`, `_connectivity_configuration`,
//! `_security_admin_configuration`, `_admin_rule_collection`,
//! `_admin_rule`, `_routing_configuration`, `_routing_rule_collection`,
//! `_routing_rule` and `_deployment`, with azurerm's names (an admin
//! rule's `access` is its `action`, a configuration's `isGlobal` its
//! `global_mesh_enabled`, a routing rule collection's
//! `disableBgpRoutePropagation` the opposite of its
//! `bgp_route_propagation_enabled`, which Azure enables when not given).
//!
//! What an object belongs to is read from its ID, as Azure nests them
//! (`.../networkManagers/NM/networkGroups/G/staticMembers/M` is a member
//! of group `G` of `NM`), and must be an object of the dump; so must every
//! VNet, group and configuration an object names.
//!
//! A deployment status has no ID: it becomes the deployment azurerm keeps
//! for the region and kind, with azurerm's ID (`NM_ID/commit|REGION|KIND`),
//! its manager from its configurations' IDs, and a problem with it is
//! placed at its entry of the file (`Lists::places`). Only what Azure
//! has committed or is committing (`Deployed`, `Deploying`) is read; a
//! `Failed` or `NotStarted` one is listed as ignored, and an entry that
//! commits nothing is left aside.
//!
//! Policy definitions (`az policy definition list`) are handed on as
//! `azurerm_policy_definition`s: the writer names the ones that add VNets
//! to a network group, whose policy-based members it does not import.

use super::attributes::{given, identity, put_str, put_text, resource, top_level};
use super::known::Known;
use super::list::List;
use super::model::{
    AddressPrefixItem, AdminRule, AdminRuleCollection, ConnectivityConfiguration, DeploymentStatus,
    GroupReference, NetworkGroup, NetworkManager, PolicyDefinition, RoutingConfiguration,
    RoutingRule, RoutingRuleCollection, SecurityAdminConfiguration, StaticMember,
};
use crate::json_file::Place;
use crate::{ImportError, Resource};
use serde_json::{json, Map, Value};

/// The lists of a dump that hold Virtual Network Manager, read.
#[derive(Default)]
pub struct Lists<'a> {
    pub managers: List<'a, NetworkManager>,
    pub groups: List<'a, NetworkGroup>,
    pub static_members: List<'a, StaticMember>,
    pub connectivity: List<'a, ConnectivityConfiguration>,
    pub security_admin: List<'a, SecurityAdminConfiguration>,
    pub rule_collections: List<'a, AdminRuleCollection>,
    pub rules: List<'a, AdminRule>,
    pub routing: List<'a, RoutingConfiguration>,
    pub routing_collections: List<'a, RoutingRuleCollection>,
    pub routing_rules: List<'a, RoutingRule>,
    pub deployments: List<'a, DeploymentStatus>,
    pub policies: List<'a, PolicyDefinition>,
}

impl Lists<'_> {
    /// The IDs that others refer to.
    pub(super) fn add_known(&self, known: &mut Known) {
        self.managers.add_known("network_manager", known);
        self.groups.add_known("network_group", known);
        self.connectivity.add_known("configuration", known);
        self.security_admin.add_known("configuration", known);
        self.routing.add_known("configuration", known);
        self.rule_collections
            .add_known("admin_rule_collection", known);
        self.routing_collections
            .add_known("routing_rule_collection", known);
    }

    /// The azurerm resources of the lists.
    pub(super) fn resources(
        &self,
        known: &Known,
        out: &mut Vec<Resource>,
    ) -> Result<(), ImportError> {
        for (at, manager) in self.managers.each() {
            let (name, id, mut attributes) = top_level(&at, manager, manager.location.as_deref())?;
            let props = manager.props();
            put_text(&mut attributes, "description", props.description.as_deref());
            let accesses = &props.network_manager_scope_accesses;
            attributes.insert("scope_accesses".into(), json!(accesses));
            out.push(resource("azurerm_network_manager", &name, attributes, &id));
        }
        for (at, group) in self.groups.each() {
            let (mut attributes, name, id) = part(&at, group, MANAGER, "networkGroups", known)?;
            let props = group.props();
            put_text(&mut attributes, "description", props.description.as_deref());
            put_text(&mut attributes, "member_type", props.member_type.as_deref());
            let kind = "azurerm_network_manager_network_group";
            out.push(resource(kind, &name, attributes, &id));
        }
        for (at, member) in self.static_members.each() {
            let (mut attributes, name, id) = part(&at, member, GROUP, "staticMembers", known)?;
            let Some(vnet) = given(member.props().resource_id.as_deref()) else {
                return Err(at.error(format!(
                    "static member `{name}` has no `resourceId` (the VNet it adds)"
                )));
            };
            let vnet = known.resolve("vnet", &at.key("resourceId"), &vnet)?;
            attributes.insert("target_virtual_network_id".into(), json!(vnet));
            let kind = "azurerm_network_manager_static_member";
            out.push(resource(kind, &name, attributes, &id));
        }
        for (at, config) in self.connectivity.each() {
            connectivity(&at, config, known, out)?;
        }
        for (at, config) in self.security_admin.each() {
            let segment = "securityAdminConfigurations";
            let (mut attributes, name, id) = part(&at, config, MANAGER, segment, known)?;
            let props = config.props();
            let services = &props.apply_on_network_intent_policy_based_services;
            if !services.is_empty() {
                let key = "apply_on_network_intent_policy_based_services";
                attributes.insert(key.into(), json!(services));
            }
            let kind = "azurerm_network_manager_security_admin_configuration";
            out.push(resource(kind, &name, attributes, &id));
        }
        for (at, collection) in self.rule_collections.each() {
            let (mut attributes, name, id) =
                part(&at, collection, SECURITY_ADMIN, "ruleCollections", known)?;
            let groups = &collection.props().applies_to_groups;
            let ids = group_ids(&at.key("appliesToGroups"), groups, known)?;
            attributes.insert("network_group_ids".into(), json!(ids));
            let kind = "azurerm_network_manager_admin_rule_collection";
            out.push(resource(kind, &name, attributes, &id));
        }
        for (at, rule) in self.rules.each() {
            admin_rule(&at, rule, known, out)?;
        }
        for (at, config) in self.routing.each() {
            let segment = "routingConfigurations";
            let (mut attributes, name, id) = part(&at, config, MANAGER, segment, known)?;
            let mode = given(config.props().route_table_usage_mode.as_deref());
            put_str(&mut attributes, "route_table_usage_mode", mode);
            let kind = "azurerm_network_manager_routing_configuration";
            out.push(resource(kind, &name, attributes, &id));
        }
        for (at, collection) in self.routing_collections.each() {
            routing_collection(&at, collection, known, out)?;
        }
        for (at, rule) in self.routing_rules.each() {
            routing_rule(&at, rule, known, out)?;
        }
        for (at, status) in self.deployments.each() {
            if let Some(deployment) = deployment(&at, status, known)? {
                out.push(deployment);
            }
        }
        for (_, policy) in self.policies.each() {
            let props = policy.props();
            let mut attributes = Map::new();
            attributes.insert("id".into(), json!(policy.id));
            attributes.insert("name".into(), json!(policy.name));
            put_text(&mut attributes, "mode", props.mode.as_deref());
            if let Some(rule) = &props.policy_rule {
                attributes.insert("policy_rule".into(), rule.clone());
            }
            let kind = "azurerm_policy_definition";
            out.push(resource(kind, &policy.name, attributes, &policy.id));
        }
        Ok(())
    }

    /// Whether the dump commits a connectivity configuration somewhere:
    /// the peerings Azure made for it are then the file's to make.
    pub(super) fn deploys_connectivity(&self) -> bool {
        self.deployments.items.iter().any(|d| {
            d.deployment_type.eq_ignore_ascii_case("Connectivity")
                && !d.configuration_ids.is_empty()
        })
    }

    /// Where each deployment status is, by the source its resource has: a
    /// status has no ID for a problem to be placed at.
    pub(super) fn places(&self) -> Vec<(String, String)> {
        let mut places = Vec::new();
        for (at, status) in self.deployments.each() {
            if let Some(manager) = manager_of(status) {
                let source = deployment_id(&manager, status);
                places.push((source, at.location()));
            }
        }
        places
    }
}

/// What a part of a network manager carries: its ID, name, group and,
/// under `key`, the ID of what it belongs to (its own ID up to
/// `/SEGMENT/NAME`), which must be an object of kind `parent` of the dump.
fn part(
    at: &Place<'_>,
    object: &impl super::model::Object,
    (parent, key): (&'static str, &str),
    segment: &str,
    known: &Known,
) -> Result<(Map<String, Value>, String, String), ImportError> {
    let (name, id, group) = identity(at, object)?;
    let what = format_args!("a network manager's part (.../{segment}/NAME)");
    let owner = known.parent(parent, at, &id, segment, what)?;
    let mut attributes = Map::new();
    attributes.insert("id".into(), json!(id));
    attributes.insert("name".into(), json!(name));
    attributes.insert("resource_group_name".into(), json!(group));
    attributes.insert(key.into(), json!(owner));
    Ok((attributes, name, id))
}

/// The owners a part names, and under which key.
const MANAGER: (&str, &str) = ("network_manager", "network_manager_id");
const GROUP: (&str, &str) = ("network_group", "network_group_id");
const SECURITY_ADMIN: (&str, &str) = ("configuration", "security_admin_configuration_id");
const COLLECTION: (&str, &str) = ("admin_rule_collection", "admin_rule_collection_id");
const ROUTING: (&str, &str) = ("configuration", "routing_configuration_id");
const ROUTING_COLLECTION: (&str, &str) = ("routing_rule_collection", "rule_collection_id");

/// The IDs of the network groups `groups` (the list at `at`) name, each
/// a group of the dump.
fn group_ids(
    at: &Place<'_>,
    groups: &[GroupReference],
    known: &Known,
) -> Result<Vec<String>, ImportError> {
    let mut ids = Vec::with_capacity(groups.len());
    for (index, g) in groups.iter().enumerate() {
        let at = at.index(index).key("networkGroupId");
        let Some(group) = given(g.network_group_id.as_deref()) else {
            return Err(at.error("no network group's ID"));
        };
        ids.push(known.resolve("network_group", &at, &group)?);
    }
    Ok(ids)
}

/// `azurerm_network_manager_routing_rule_collection`: the groups it
/// applies to, and whether BGP routes propagate (Azure's
/// `disableBgpRoutePropagation`, `"False"` when not given).
fn routing_collection(
    at: &Place<'_>,
    collection: &RoutingRuleCollection,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let (mut attributes, name, id) = part(at, collection, ROUTING, "ruleCollections", known)?;
    let props = collection.props();
    let ids = group_ids(&at.key("appliesTo"), &props.applies_to, known)?;
    attributes.insert("network_group_ids".into(), json!(ids));
    let disabled = match &props.disable_bgp_route_propagation {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("True") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("False") || s.is_empty() => false,
        Some(other) => {
            return Err(at
                .key("disableBgpRoutePropagation")
                .error(format!("`{other}` is not True or False")));
        }
    };
    attributes.insert("bgp_route_propagation_enabled".into(), json!(!disabled));
    let kind = "azurerm_network_manager_routing_rule_collection";
    out.push(resource(kind, &name, attributes, &id));
    Ok(())
}

/// `azurerm_network_manager_routing_rule`: its `destination` and
/// `next_hop` blocks, with azurerm's keys.
fn routing_rule(
    at: &Place<'_>,
    rule: &RoutingRule,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let (mut attributes, name, id) = part(at, rule, ROUTING_COLLECTION, "rules", known)?;
    let props = rule.props();
    let destination = props.destination.as_ref();
    let Some(address) = destination.and_then(|d| given(d.destination_address.as_deref())) else {
        return Err(at
            .key("destination")
            .key("destinationAddress")
            .error("no destination (a prefix or a service tag)"));
    };
    let mut block = Map::new();
    put_str(
        &mut block,
        "type",
        destination.and_then(|d| given(d.kind.as_deref())),
    );
    block.insert("address".into(), json!(address));
    attributes.insert("destination".into(), json!([block]));
    let next_hop = props.next_hop.as_ref();
    let Some(kind) = next_hop.and_then(|h| given(h.next_hop_type.as_deref())) else {
        return Err(at
            .key("nextHop")
            .key("nextHopType")
            .error("no next hop type"));
    };
    let mut block = Map::new();
    block.insert("type".into(), json!(kind));
    put_str(
        &mut block,
        "address",
        next_hop.and_then(|h| given(h.next_hop_address.as_deref())),
    );
    attributes.insert("next_hop".into(), json!([block]));
    out.push(resource(
        "azurerm_network_manager_routing_rule",
        &name,
        attributes,
        &id,
    ));
    Ok(())
}

/// `azurerm_network_manager_connectivity_configuration`: its topology,
/// its hub (the first of `hubs`: Azure takes one) and the groups it
/// applies to.
fn connectivity(
    at: &Place<'_>,
    config: &ConnectivityConfiguration,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let segment = "connectivityConfigurations";
    let (mut attributes, name, id) = part(at, config, MANAGER, segment, known)?;
    let props = config.props();
    put_text(
        &mut attributes,
        "connectivity_topology",
        props.connectivity_topology.as_deref(),
    );
    if let Some(hub) = props.hubs.first() {
        let at = at.key("hubs").index(0).key("resourceId");
        let Some(vnet) = given(hub.resource_id.as_deref()) else {
            return Err(at.error("no hub VNet's ID"));
        };
        let vnet = known.resolve("vnet", &at, &vnet)?;
        let kind = given(hub.resource_type.as_deref())
            .unwrap_or_else(|| "Microsoft.Network/virtualNetworks".to_string());
        attributes.insert(
            "hub".into(),
            json!([{"resource_id": vnet, "resource_type": kind}]),
        );
    }
    if let Some(global) = &props.is_global {
        attributes.insert("global_mesh_enabled".into(), global.clone());
    }
    if let Some(delete) = &props.delete_existing_peering {
        attributes.insert("delete_existing_peering_enabled".into(), delete.clone());
    }
    let mut groups = Vec::with_capacity(props.applies_to_groups.len());
    for (index, g) in props.applies_to_groups.iter().enumerate() {
        let at = at.key("appliesToGroups").index(index);
        let Some(group) = given(g.network_group_id.as_deref()) else {
            return Err(at.key("networkGroupId").error("no network group's ID"));
        };
        let group = known.resolve("network_group", &at.key("networkGroupId"), &group)?;
        let mut block = Map::new();
        block.insert("network_group_id".into(), json!(group));
        put_text(
            &mut block,
            "group_connectivity",
            g.group_connectivity.as_deref(),
        );
        if let Some(global) = &g.is_global {
            block.insert("global_mesh_enabled".into(), global.clone());
        }
        if let Some(gateway) = &g.use_hub_gateway {
            block.insert("use_hub_gateway".into(), gateway.clone());
        }
        groups.push(Value::Object(block));
    }
    attributes.insert("applies_to_group".into(), Value::Array(groups));
    let kind = "azurerm_network_manager_connectivity_configuration";
    out.push(resource(kind, &name, attributes, &id));
    Ok(())
}

/// `azurerm_network_manager_admin_rule`: Azure's `access` as its
/// `action`, each source and destination a block; a network group named
/// as one must be of the dump.
fn admin_rule(
    at: &Place<'_>,
    rule: &AdminRule,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let (mut attributes, name, id) = part(at, rule, COLLECTION, "rules", known)?;
    let props = rule.props();
    put_text(&mut attributes, "action", props.access.as_deref());
    put_text(&mut attributes, "direction", props.direction.as_deref());
    put_text(&mut attributes, "protocol", props.protocol.as_deref());
    if let Some(priority) = &props.priority {
        attributes.insert("priority".into(), priority.clone());
    }
    for (key, ranges) in [
        ("source_port_ranges", &props.source_port_ranges),
        ("destination_port_ranges", &props.destination_port_ranges),
    ] {
        if !ranges.is_empty() {
            attributes.insert(key.into(), json!(ranges));
        }
    }
    for (member, key, items) in [
        ("sources", "source", &props.sources),
        ("destinations", "destination", &props.destinations),
    ] {
        let blocks = address_blocks(&at.key(member), items, known)?;
        if !blocks.is_empty() {
            attributes.insert(key.into(), Value::Array(blocks));
        }
    }
    out.push(resource(
        "azurerm_network_manager_admin_rule",
        &name,
        attributes,
        &id,
    ));
    Ok(())
}

/// An admin rule's sources or destinations as azurerm's blocks; a network
/// group's ID is written as its own spelling in the dump.
fn address_blocks(
    at: &Place<'_>,
    items: &[AddressPrefixItem],
    known: &Known,
) -> Result<Vec<Value>, ImportError> {
    let mut blocks = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let at = at.index(index);
        let Some(prefix) = given(item.address_prefix.as_deref()) else {
            return Err(at
                .key("addressPrefix")
                .error("no address, prefix or service tag"));
        };
        let kind = given(item.address_prefix_type.as_deref());
        let prefix = match &kind {
            Some(k) if k.eq_ignore_ascii_case("NetworkGroup") => {
                known.resolve("network_group", &at.key("addressPrefix"), &prefix)?
            }
            _ => prefix,
        };
        let mut block = Map::new();
        block.insert("address_prefix".into(), json!(prefix));
        put_str(&mut block, "address_prefix_type", kind);
        blocks.push(Value::Object(block));
    }
    Ok(blocks)
}

/// The network manager a deployment status is of: the one its first
/// configuration's ID names (`.../networkManagers/NM/...`).
fn manager_of(status: &DeploymentStatus) -> Option<String> {
    let first = status.configuration_ids.first()?;
    let lower = first.to_ascii_lowercase();
    let at = lower.find("/networkmanagers/")? + "/networkmanagers/".len();
    let end = first[at..].find('/').map_or(first.len(), |e| at + e);
    Some(first[..end].to_string())
}

/// azurerm's ID of the deployment of `status` by `manager`.
fn deployment_id(manager: &str, status: &DeploymentStatus) -> String {
    format!(
        "{manager}/commit|{}|{}",
        status.region, status.deployment_type
    )
}

/// `azurerm_network_manager_deployment` of a deployment status: none for
/// one that commits nothing; one Azure has not committed (`Failed`,
/// `NotStarted`) is left out, with why.
fn deployment(
    at: &Place<'_>,
    status: &DeploymentStatus,
    known: &Known,
) -> Result<Option<Resource>, ImportError> {
    let Some(manager) = manager_of(status) else {
        if status.configuration_ids.is_empty() {
            return Ok(None);
        }
        return Err(at.key("configurationIds").index(0).error(
            "not the ID of a network manager's configuration (.../networkManagers/NM/...)",
        ));
    };
    let manager = known.resolve(
        "network_manager",
        &at.key("configurationIds").index(0),
        &manager,
    )?;
    let id = deployment_id(&manager, status);
    let state = given(status.deployment_status.as_deref());
    if let Some(state) = state
        .filter(|s| !s.eq_ignore_ascii_case("Deployed") && !s.eq_ignore_ascii_case("Deploying"))
    {
        return Ok(Some(Resource {
            kind: "azurerm_network_manager_deployment".into(),
            name: format!(
                "{} {} (its deployment status is {state}: Azure has not committed it)",
                status.region, status.deployment_type
            ),
            attributes: Value::Null,
            source: id,
        }));
    }
    let configurations = (status.configuration_ids.iter().enumerate())
        .map(|(index, id)| {
            known.resolve(
                "configuration",
                &at.key("configurationIds").index(index),
                id,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let attributes = json!({
        "id": id,
        "network_manager_id": manager,
        "location": status.region,
        "scope_access": status.deployment_type,
        "configuration_ids": configurations,
    });
    Ok(Some(Resource {
        kind: "azurerm_network_manager_deployment".into(),
        name: format!("{} {}", status.region, status.deployment_type),
        attributes,
        source: id,
    }))
}
