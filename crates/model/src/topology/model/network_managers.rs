//! Azure Virtual Network Manager as it stands once deployed: network
//! groups with the VNets they hold, the security admin rules each VNet
//! meets before its NSGs, and the connected groups that join VNets without
//! peerings. The peerings a hub-and-spoke configuration creates are plain
//! [`super::Peering`]s of the topology, named `ANM_…` as Azure names them.
//! See `resolve/network_managers.rs` for the rules Azure applies, and
//! `policy/admin.rs` for how admin rules judge packets.

use super::indices::VnetIdx;
use super::networks::{AddressSpec, Direction, Protocol};
use super::spelled_enum;
use crate::net::PortSpec;

super::index_type!(
    /// Index of a network group in [`NetworkManagement::groups`].
    NetworkGroupIdx
);

spelled_enum! {
    /// What a security admin rule does with a packet it matches.
    pub enum AdminAction {
        /// Hands the packet on to the NSGs.
        Allow,
        /// Lets the packet through; the NSGs are not consulted.
        AlwaysAllow,
        /// Drops the packet, whatever the NSGs say.
        Deny,
    }
}

spelled_enum! {
    /// A connectivity configuration's shape.
    pub enum ConnectivityTopology {
        HubAndSpoke,
        Mesh,
    }
}

spelled_enum! {
    /// What a deployment commits to a region.
    pub enum ScopeAccess {
        Connectivity,
        SecurityAdmin,
        Routing,
    }
}

/// Everything the file's network managers put in place.
#[derive(Debug, Clone, Default)]
pub struct NetworkManagement {
    pub groups: super::TiVec<NetworkGroupIdx, NetworkGroup>,
    /// Every security admin rule of every configuration, deployed or not,
    /// in file order; [`AdminRule::applies_to`] says where it holds.
    pub admin_rules: Vec<AdminRule>,
    /// The connected groups of the deployed connectivity configurations.
    pub connected_groups: Vec<ConnectedGroup>,
    /// The VNets Azure leaves out of security admin rules: those with a
    /// service that uses network intent policies (a subnet delegated to
    /// SQL Managed Instance).
    pub intent_policy_vnets: Vec<VnetIdx>,
}

/// A network group (`azurerm_network_manager_network_group`) with its
/// members: the static ones and those its conditions select.
#[derive(Debug, Clone)]
pub struct NetworkGroup {
    pub manager: String,
    pub name: String,
    /// In file order, each once.
    pub members: Vec<VnetIdx>,
    pub line: usize,
}

/// One security admin rule (`azurerm_network_manager_admin_rule`).
#[derive(Debug, Clone)]
pub struct AdminRule {
    pub manager: String,
    pub configuration: String,
    pub collection: String,
    pub name: String,
    pub settings: AdminRuleSettings,
    /// The VNets the rule holds in: members of its collection's groups, in
    /// a region its configuration is deployed to, without network intent
    /// policies.
    pub applies_to: Vec<VnetIdx>,
    pub line: usize,
}

/// What a security admin rule matches and does, as written.
#[derive(Debug, Clone)]
pub struct AdminRuleSettings {
    /// 1 to 4096; lower first.
    pub priority: u16,
    pub direction: Direction,
    pub action: AdminAction,
    pub protocol: Protocol,
    pub source_ports: PortSpec,
    pub destination_ports: PortSpec,
    /// Each an address prefix, a service tag or `*`; empty means any.
    pub sources: Vec<AddressSpec>,
    pub destinations: Vec<AddressSpec>,
}

impl AdminRule {
    /// `configuration/collection/rule`: how rule listings, traces, drops
    /// and flow logs name the rule.
    pub fn path(&self) -> String {
        format!("{}/{}/{}", self.configuration, self.collection, self.name)
    }
}

/// VNets a connectivity configuration joins directly: every pair of
/// members reaches the other (`ConnectedGroup` routes), those in two
/// regions only when the group is global.
#[derive(Debug, Clone)]
pub struct ConnectedGroup {
    pub configuration: String,
    pub members: Vec<VnetIdx>,
    pub global: bool,
}

impl NetworkManagement {
    /// The connected group that joins `a` and `b` given their regions,
    /// if any: the configuration's name.
    pub fn connected_group(
        &self,
        a: VnetIdx,
        b: VnetIdx,
        same_region: bool,
    ) -> Option<&ConnectedGroup> {
        self.connected_groups.iter().find(|g| {
            a != b && (g.global || same_region) && g.members.contains(&a) && g.members.contains(&b)
        })
    }
}
