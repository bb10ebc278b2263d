//! Security admin rules of Azure Virtual Network Manager ("Security admin
//! rules in Azure Virtual Network Manager"): the rules a packet meets
//! before any NSG, at every NIC of the VNets their configurations are
//! deployed to.
//!
//! - A VNet's admin rules of one direction run by ascending priority (ties,
//!   between collections or configurations, in file order); the first
//!   match decides, and there are no default rules: a packet no admin rule
//!   matches goes on to the NSGs.
//! - `Deny` drops the packet whatever the NSGs say; `AlwaysAllow` lets it
//!   through without consulting them; `Allow` hands it to the NSGs, which
//!   decide (and with no NSG, it is allowed).
//! - Sources and destinations are prefixes and service tags, expanded as
//!   an NSG's are for the NIC's subnet; none listed means any address.
//! - Like NSG rules they judge a flow's first packet, and its replies
//!   follow the flow (the same connection tracking).
//!
//! [`first_decision`] is the plain reference of the whole evaluation
//! (admin rules, then the NSGs), against which the compiled classifiers
//! are tested.

use super::gateways::LearnedRoutes;
use super::nsg::{first_match, is_named, EffectiveRule, Expander};
use crate::net::PacketKey;
use crate::topology::{
    Access, AddressSpec, AdminAction, AdminRule, Direction, SecurityRuleSettings, SubnetRef,
    Topology,
};

/// The admin rules of `direction` that hold at NICs of `subnet`, in
/// evaluation order, as [`EffectiveRule`]s named
/// `securityAdminRules/<configuration>/<collection>/<rule>`.
pub fn effective_admin_rules(
    topo: &Topology,
    learned: &LearnedRoutes,
    subnet: SubnetRef,
    direction: Direction,
) -> Vec<EffectiveRule> {
    let mut held: Vec<&AdminRule> = (topo.network_management.admin_rules.iter())
        .filter(|r| r.settings.direction == direction && r.applies_to.contains(&subnet.vnet))
        .collect();
    // Stable: equal priorities keep file order.
    held.sort_by_key(|r| r.settings.priority);
    let expander = Expander {
        topo,
        learned,
        subnet,
    };
    held.into_iter()
        .map(|r| {
            let s = &r.settings;
            let (source, destination) = (side(&s.sources), side(&s.destinations));
            EffectiveRule {
                name: format!("{ADMIN_RULE_PREFIX}{}", r.path()),
                settings: SecurityRuleSettings {
                    priority: s.priority,
                    direction,
                    access: match s.action {
                        AdminAction::Deny => Access::Deny,
                        AdminAction::Allow | AdminAction::AlwaysAllow => Access::Allow,
                    },
                    protocol: s.protocol,
                    source_ports: s.source_ports.clone(),
                    destination_ports: s.destination_ports.clone(),
                },
                source_prefixes: source.iter().flat_map(|a| expander.listed(a)).collect(),
                destination_prefixes: (destination.iter())
                    .flat_map(|a| expander.listed(a))
                    .collect(),
                source_is_named: source.iter().any(is_named),
                destination_is_named: destination.iter().any(is_named),
                expanded_source: source.iter().flat_map(|a| expander.expand(a)).collect(),
                expanded_destination: (destination.iter())
                    .flat_map(|a| expander.expand(a))
                    .collect(),
                admin_action: Some(s.action),
            }
        })
        .collect()
}

/// How rule listings name an admin rule.
pub const ADMIN_RULE_PREFIX: &str = "securityAdminRules/";

/// A side with nothing listed stands for any address.
fn side(listed: &[AddressSpec]) -> Vec<AddressSpec> {
    if listed.is_empty() {
        vec![AddressSpec::Any]
    } else {
        listed.to_vec()
    }
}

/// Where a packet's fate was decided by [`first_decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decider {
    /// The admin rule at this index.
    Admin(usize),
    /// The rule at this index of the NSG at this position of the chain.
    Nsg(usize, usize),
    /// No rule: no admin rule matched and there is no NSG.
    Nothing,
}

/// The reference evaluation of one direction at one NIC: `admin` (in
/// evaluation order), then each NSG of `nsgs` in chain order, every one
/// of which must allow. Returns the access and the deciding rule (for an
/// allow through NSGs, the last NSG's allowing rule; through an `Allow`
/// admin rule and no NSG, that admin rule).
pub fn first_decision(
    admin: &[EffectiveRule],
    nsgs: &[Vec<EffectiveRule>],
    key: &PacketKey,
) -> (Access, Decider) {
    let mut decider = Decider::Nothing;
    if let Some(i) = first_match(admin, key) {
        match admin[i].admin_action {
            Some(AdminAction::Deny) => return (Access::Deny, Decider::Admin(i)),
            Some(AdminAction::AlwaysAllow) => return (Access::Allow, Decider::Admin(i)),
            Some(AdminAction::Allow) | None => decider = Decider::Admin(i),
        }
    }
    for (n, rules) in nsgs.iter().enumerate() {
        match first_match(rules, key) {
            Some(r) if rules[r].settings.access == Access::Allow => decider = Decider::Nsg(n, r),
            Some(r) => return (Access::Deny, Decider::Nsg(n, r)),
            None => return (Access::Deny, Decider::Nothing),
        }
    }
    (Access::Allow, decider)
}
