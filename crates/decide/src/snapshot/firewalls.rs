//! Whose rules an NSG stage holds ([`StageOwner`]): an NSG's, Virtual
//! Network Manager's security admin rules, or an Azure Firewall's policy's
//! network rules ([`crate::policy::firewall`]), which the firewall's port
//! judges in the same first-match classifier as an NSG's (its stage is
//! compiled beside the admin rules' stage, in the module's `stages.rs`).

use crate::policy::firewall;
use crate::topology::{FirewallIdx, NsgIdx, Topology};

/// How listings name the owner of admin rules.
pub const ADMIN_OWNER: &str = "SecurityAdminConfigurations";

/// Whose rules a stage holds: an NSG's, or an Azure Firewall's policy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StageOwner {
    Nsg(NsgIdx),
    Firewall(FirewallIdx),
    /// Virtual Network Manager's security admin rules of the NIC's VNet.
    SecurityAdmin,
}

impl StageOwner {
    /// The NSG's name, or the firewall policy's (the firewall's without
    /// one).
    pub fn name(self, topology: &Topology) -> &str {
        match self {
            StageOwner::Nsg(nsg) => &topology.nsgs[nsg].name,
            StageOwner::Firewall(f) => firewall::rules_owner(topology, &topology.firewalls[f]),
            StageOwner::SecurityAdmin => ADMIN_OWNER,
        }
    }

    /// Whether the stage's established flows are judged again when the
    /// rules change: an NSG's `flush_connection`. A firewall keeps its
    /// established connections.
    pub fn flushes(self, topology: &Topology) -> bool {
        match self {
            StageOwner::Nsg(nsg) => topology.nsgs[nsg].flush_connection,
            StageOwner::Firewall(_) => false,
            // As an NSG without flush_connection: a new deployment judges
            // new flows; established ones carry on.
            StageOwner::SecurityAdmin => false,
        }
    }
}
