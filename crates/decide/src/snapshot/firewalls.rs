//! The compiled side of Azure Firewall: whose rules an NSG stage holds
//! ([`StageOwner`]), and the stage of a firewall's port, its policy's
//! network rules ([`crate::policy::firewall`]) in the same first-match
//! classifier as an NSG's, judged where packets reach the firewall.

use super::{NsgStage, RuleNames};
use crate::policy::firewall;
use crate::policy::nsg::NsgLevel;
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

/// The stage of an Azure Firewall's port: its policy's network rules (an
/// FQDN matching the addresses `fqdns` gives for it) and the default
/// action, judged where packets reach it.
pub(super) fn firewall_stage(
    topology: &Topology,
    f: FirewallIdx,
    fqdns: firewall::FqdnAddresses<'_>,
    rule_names: &RuleNames,
) -> NsgStage {
    let rules = firewall::effective_rules(topology, &topology.firewalls[f], fqdns);
    let owner = StageOwner::Firewall(f);
    NsgStage::compile(topology, NsgLevel::Firewall, owner, rules, rule_names)
}
