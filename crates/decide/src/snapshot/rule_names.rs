//! Stable names for the rules that admit flows. A tracked flow remembers
//! which rule let it in as a small number; that number must name the same
//! rule after any later `apply`, however the rules were reordered, so it
//! indexes this append-only table of (NSG, rule) names rather than a
//! position in one snapshot's rule list. Snapshots compiled one after the
//! other share the table ([`crate::snapshot::Snapshot::compile_after`]);
//! it grows only when a rule name is seen for the first time.

use std::collections::HashMap;
use std::sync::Mutex;

/// Which rule of which NSG.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuleIdentity {
    pub nsg: String,
    /// As Azure names it: `securityRules/NAME` or `defaultSecurityRules/NAME`.
    pub rule: String,
}

/// The stable number of a rule in [`RuleNames`]: what a tracked flow
/// remembers as the rule that admitted it, and what a drop names as the
/// rule that denied it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(u32);

impl RuleId {
    /// No rule: no NSG was on the packet's path, or no NSG decided.
    pub const NONE: RuleId = RuleId(u32::MAX);

    /// The number as the flow table stores it (its verdict tag).
    #[inline]
    pub const fn tag(self) -> u32 {
        self.0
    }

    /// The rule a flow table's verdict tag stands for.
    #[inline]
    pub const fn from_tag(tag: u32) -> RuleId {
        RuleId(tag)
    }

    pub const fn is_none(self) -> bool {
        self.0 == u32::MAX
    }
}

/// The rule id of a flow no NSG rule admitted (no NSG on its path).
pub const NO_RULE: RuleId = RuleId::NONE;

#[derive(Debug, Default)]
pub struct RuleNames {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    names: Vec<RuleIdentity>,
    ids: HashMap<RuleIdentity, RuleId>,
}

impl RuleNames {
    /// The number of `identity`, given it if it has none yet. Used while
    /// compiling a snapshot, never on the packet path.
    pub fn intern(&self, identity: RuleIdentity) -> RuleId {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&id) = table.ids.get(&identity) {
            return id;
        }
        let id = RuleId(table.names.len() as u32);
        table.names.push(identity.clone());
        table.ids.insert(identity, id);
        id
    }

    /// The number of `identity`, if a snapshot has used the rule.
    pub fn id_of(&self, identity: &RuleIdentity) -> Option<RuleId> {
        let table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        table.ids.get(identity).copied()
    }

    /// The rule a number stands for.
    pub fn get(&self, id: RuleId) -> Option<RuleIdentity> {
        let table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        table.names.get(id.0 as usize).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(nsg: &str, rule: &str) -> RuleIdentity {
        RuleIdentity {
            nsg: nsg.into(),
            rule: rule.into(),
        }
    }

    #[test]
    fn numbers_are_stable_and_distinct() {
        let names = RuleNames::default();
        let a = names.intern(rule("web", "securityRules/allow-80"));
        let b = names.intern(rule("web", "securityRules/deny-23"));
        let c = names.intern(rule("db", "securityRules/allow-80"));
        assert_eq!(names.intern(rule("web", "securityRules/allow-80")), a);
        assert!(a != b && b != c && a != c);
        assert_eq!(names.get(b), Some(rule("web", "securityRules/deny-23")));
        assert_eq!(names.get(NO_RULE), None);
        assert_eq!(names.id_of(&rule("db", "securityRules/allow-80")), Some(c));
        assert_eq!(names.id_of(&rule("db", "securityRules/deny-23")), None);
    }
}
