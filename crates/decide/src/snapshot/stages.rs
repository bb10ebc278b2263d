//! How one NIC's stages judge a packet: Virtual Network Manager's
//! security admin rules first (`Deny` and `AlwaysAllow` decide, `Allow`
//! and no match go on), then its NSGs (or an Azure Firewall's rules), as
//! [`crate::policy::admin::first_decision`] defines plainly; and the
//! compiled stages of a VNet's admin rules and of an Azure Firewall's
//! port, its policy's network rules in the same first-match classifier as
//! an NSG's, judged where packets reach the firewall.

use super::firewalls::StageOwner;
use super::rule_names::{RuleId, RuleNames, NO_RULE};
use super::tables::{NsgStage, Snapshot};
use crate::engine::classifier::PacketKey;
use crate::plan::PortIdx;
use crate::policy::admin::effective_admin_rules;
use crate::policy::firewall;
use crate::policy::gateways::LearnedRoutes;
use crate::policy::nsg::{EffectiveRule, NsgLevel};
use crate::topology::{Access, AdminAction, Direction, FirewallIdx, SubnetRef, Topology};

/// The outcome of the NSG stages of one NIC and direction for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NsgVerdict {
    pub access: Access,
    /// A security admin rule decided: `Deny` or `AlwaysAllow` (an `Allow`
    /// admin rule hands the packet on to the NSGs).
    pub by_admin: bool,
    /// The deciding rule as (stage index, rule index): the denying rule, or
    /// for an allow, the allowing rule of the last stage. `None` when the NIC
    /// has no NSG at all (everything is allowed).
    pub decided_by: Option<(usize, usize)>,
}

/// Told each rule a packet meets as a NIC's stages judge it, in order
/// ([`Snapshot::evaluate_observed`]).
pub trait StageObserver {
    /// The packet met rule `rule` of `stage` (it matched).
    fn met(&mut self, stage: &NsgStage, rule: usize);
}

/// The observer of the per-packet path: told nothing, it compiles away.
pub struct Unobserved;

impl StageObserver for Unobserved {
    #[inline(always)]
    fn met(&mut self, _: &NsgStage, _: usize) {}
}

impl Snapshot {
    /// The stable number of the rule that decided `verdict` (see
    /// [`RuleNames`]), or [`NO_RULE`] when no NSG applies.
    #[inline]
    pub fn rule_id(&self, nic: PortIdx, direction: Direction, verdict: &NsgVerdict) -> RuleId {
        verdict
            .decided_by
            .and_then(|(s, r)| {
                let stage = self.nics[nic].stages(direction).get(s)?;
                stage.rule_ids.get(r).copied()
            })
            .unwrap_or(NO_RULE)
    }

    /// Runs the stages of `nic` in `direction` on a packet: first the
    /// security admin rules (`Deny` and `AlwaysAllow` decide, `Allow` and
    /// no match go on), then the NSGs, every one of which must allow; the
    /// first deny stops evaluation. No NSG means allow.
    #[inline]
    pub fn evaluate(&self, nic: PortIdx, direction: Direction, key: &PacketKey) -> NsgVerdict {
        self.evaluate_observed(nic, direction, key, &mut Unobserved)
    }

    /// [`Snapshot::evaluate`], telling `observer` each rule the packet
    /// meets, in order: what `trace` shows of a hop, from the decision
    /// itself.
    #[inline]
    pub fn evaluate_observed<O: StageObserver>(
        &self,
        nic: PortIdx,
        direction: Direction,
        key: &PacketKey,
        observer: &mut O,
    ) -> NsgVerdict {
        let mut decided_by = None;
        for (s, stage) in self.nics[nic].stages(direction).iter().enumerate() {
            if stage.level == NsgLevel::Admin {
                // Admin rules have no default rules: no match goes on.
                let Some(r) = stage.classifier.classify(key) else {
                    continue;
                };
                observer.met(stage, r);
                match stage.rules[r].admin_action {
                    Some(AdminAction::Allow) | None => decided_by = Some((s, r)),
                    Some(action) => {
                        return NsgVerdict {
                            access: if action == AdminAction::Deny {
                                Access::Deny
                            } else {
                                Access::Allow
                            },
                            by_admin: true,
                            decided_by: Some((s, r)),
                        }
                    }
                }
                continue;
            }
            let matched = stage.classifier.classify(key);
            if let Some(r) = matched {
                observer.met(stage, r);
            }
            match matched {
                Some(r) if stage.rules[r].settings.access == Access::Allow => {
                    decided_by = Some((s, r))
                }
                Some(r) => {
                    return NsgVerdict {
                        access: Access::Deny,
                        by_admin: false,
                        decided_by: Some((s, r)),
                    }
                }
                // The default rules match every packet, so a stage always
                // decides; an empty classifier would be a compile fault, and
                // failing closed is the safe reading.
                None => {
                    return NsgVerdict {
                        access: Access::Deny,
                        by_admin: false,
                        decided_by: None,
                    }
                }
            }
        }
        NsgVerdict {
            access: Access::Allow,
            by_admin: false,
            decided_by,
        }
    }

    /// The rule behind a verdict, with its stage.
    pub fn deciding_rule(
        &self,
        nic: PortIdx,
        direction: Direction,
        verdict: &NsgVerdict,
    ) -> Option<(&NsgStage, &EffectiveRule)> {
        let (s, r) = verdict.decided_by?;
        let stage = self.nics[nic].stages(direction).get(s)?;
        Some((stage, stage.rules.get(r)?))
    }
}

/// The security admin rules of `subnet`'s VNet in `direction` as a stage,
/// or `None` where none hold.
pub(super) fn admin_stage(
    topology: &Topology,
    learned: &LearnedRoutes,
    subnet: SubnetRef,
    direction: Direction,
    rule_names: &RuleNames,
) -> Option<NsgStage> {
    let rules = effective_admin_rules(topology, learned, subnet, direction);
    if rules.is_empty() {
        return None;
    }
    let owner = StageOwner::SecurityAdmin;
    Some(NsgStage::compile(
        topology,
        NsgLevel::Admin,
        owner,
        rules,
        rule_names,
    ))
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
