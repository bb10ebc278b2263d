//! The shapes of Azure Virtual Network Manager's objects: network
//! managers, network groups and their static members, connectivity,
//! security admin and routing configurations, admin and routing rule
//! collections and rules, deployment statuses, and the policy definitions
//! that add VNets to a group.
//!
//! The CLI's `network manager` commands print an object with its
//! `properties` flattened (`connectivityTopology` beside `id`), as every
//! command of the dump does; Azure's REST API, and some versions of the
//! extension, keep them under `properties`. Both are read: an object with
//! `properties` is read from there, any other from its own members.
//! Azure writes some flags as the text `"True"` or `"False"` (`isGlobal`,
//! `useHubGateway`, `deleteExistingPeering`, `disableBgpRoutePropagation`):
//! they are read as booleans either way.

use serde::Deserialize;
use serde_json::Value;

/// An object of Azure's: its name, ID and group, and its properties
/// `P`, under `properties` or beside the ID.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arm<P> {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    properties: Option<P>,
    #[serde(flatten)]
    flattened: P,
}

impl<P> Arm<P> {
    /// The object's properties, wherever the dump has them.
    pub fn props(&self) -> &P {
        self.properties.as_ref().unwrap_or(&self.flattened)
    }
}

/// `az network manager list`.
pub type NetworkManager = Arm<ManagerProps>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagerProps {
    pub description: Option<String>,
    #[serde(default)]
    pub network_manager_scope_accesses: Vec<String>,
}

/// `az network manager group list`.
pub type NetworkGroup = Arm<GroupProps>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupProps {
    pub description: Option<String>,
    /// `VirtualNetwork` (absent on groups made before the setting) or
    /// `Subnet`.
    pub member_type: Option<String>,
}

/// `az network manager group static-member list`.
pub type StaticMember = Arm<StaticMemberProps>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaticMemberProps {
    /// The member VNet's ID.
    pub resource_id: Option<String>,
}

/// `az network manager connect-config list`.
pub type ConnectivityConfiguration = Arm<ConnectivityProps>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectivityProps {
    pub description: Option<String>,
    pub connectivity_topology: Option<String>,
    #[serde(default)]
    pub hubs: Vec<Hub>,
    pub is_global: Option<Value>,
    pub delete_existing_peering: Option<Value>,
    #[serde(default)]
    pub applies_to_groups: Vec<ConnectivityGroup>,
}

/// A connectivity configuration's hub: a VNet's ID.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hub {
    pub resource_id: Option<String>,
    pub resource_type: Option<String>,
}

/// One group a connectivity configuration applies to.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectivityGroup {
    pub network_group_id: Option<String>,
    pub group_connectivity: Option<String>,
    pub is_global: Option<Value>,
    pub use_hub_gateway: Option<Value>,
}

/// `az network manager security-admin-config list`.
pub type SecurityAdminConfiguration = Arm<SecurityAdminProps>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityAdminProps {
    pub description: Option<String>,
    #[serde(default)]
    pub apply_on_network_intent_policy_based_services: Vec<String>,
}

/// `az network manager security-admin-config rule-collection list`.
pub type AdminRuleCollection = Arm<RuleCollectionProps>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleCollectionProps {
    pub description: Option<String>,
    #[serde(default)]
    pub applies_to_groups: Vec<GroupReference>,
}

/// A group a rule collection applies to.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupReference {
    pub network_group_id: Option<String>,
}

/// `az network manager security-admin-config rule-collection rule list`.
pub type AdminRule = Arm<AdminRuleProps>;

/// A rule's properties: Azure names its action `access`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminRuleProps {
    pub description: Option<String>,
    pub access: Option<String>,
    pub direction: Option<String>,
    pub priority: Option<Value>,
    pub protocol: Option<String>,
    #[serde(default)]
    pub source_port_ranges: Vec<String>,
    #[serde(default)]
    pub destination_port_ranges: Vec<String>,
    #[serde(default)]
    pub sources: Vec<AddressPrefixItem>,
    #[serde(default)]
    pub destinations: Vec<AddressPrefixItem>,
}

/// A source or destination of an admin rule: an address or prefix
/// (`IPPrefix`), a service tag (`ServiceTag`) or a network group's ID
/// (`NetworkGroup`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressPrefixItem {
    pub address_prefix: Option<String>,
    pub address_prefix_type: Option<String>,
}

/// `az network manager routing-config list`.
pub type RoutingConfiguration = Arm<RoutingProps>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingProps {
    pub description: Option<String>,
    /// `ManagedOnly` or `UseExisting`.
    pub route_table_usage_mode: Option<String>,
}

/// `az network manager routing-config rule-collection list`.
pub type RoutingRuleCollection = Arm<RoutingCollectionProps>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingCollectionProps {
    pub description: Option<String>,
    #[serde(default)]
    pub applies_to: Vec<GroupReference>,
    /// `"True"` or `"False"` (Azure's default), or a boolean.
    pub disable_bgp_route_propagation: Option<Value>,
}

/// `az network manager routing-config rule-collection rule list`.
pub type RoutingRule = Arm<RoutingRuleProps>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingRuleProps {
    pub description: Option<String>,
    pub destination: Option<RoutingDestination>,
    pub next_hop: Option<RoutingNextHop>,
}

/// A routing rule's destination: a prefix (`AddressPrefix`) or a service
/// tag (`ServiceTag`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingDestination {
    pub destination_address: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// A routing rule's next hop: `VirtualAppliance` (with its address),
/// `VirtualNetworkGateway`, `VnetLocal`, `Internet` or `NoNextHop`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingNextHop {
    pub next_hop_type: Option<String>,
    pub next_hop_address: Option<String>,
}

/// One entry of `az network manager list-deploy-status` (its `value`):
/// what is committed to a region for one kind of configuration.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStatus {
    pub region: String,
    pub deployment_type: String,
    /// `Deployed`, `Deploying`, `NotStarted` or `Failed`.
    pub deployment_status: Option<String>,
    #[serde(default)]
    pub configuration_ids: Vec<String>,
}

/// `az policy definition list`: a policy definition (one of a
/// subscription has no group), of which vnetd reads whether it adds VNets
/// to a network group.
pub type PolicyDefinition = Arm<PolicyProps>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyProps {
    pub mode: Option<String>,
    pub policy_rule: Option<Value>,
}
