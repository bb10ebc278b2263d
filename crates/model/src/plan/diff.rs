//! What changes between two plans: the ports and namespaces that appear,
//! disappear or stay. Ports are known by name (a name stays with its port
//! across `apply`, and with it the port's counters and flows); a port that
//! stays but is realised differently (another address, subnet, namespace,
//! interface or forwarding) is `changed`.

use super::{Plan, Port};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanDiff {
    /// Ports of the new plan only, in its order.
    pub added: Vec<String>,
    /// Ports of the old plan only, in its order.
    pub removed: Vec<String>,
    /// Ports of both plans, in the new plan's order.
    pub kept: Vec<String>,
    /// The kept ports realised differently, in the new plan's order.
    pub changed: Vec<String>,
    pub namespaces_added: Vec<String>,
    pub namespaces_removed: Vec<String>,
}

impl PlanDiff {
    /// True when the two plans realise the same ports and namespaces.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.namespaces_added.is_empty()
            && self.namespaces_removed.is_empty()
    }
}

/// Whether two ports of one name are realised the same way (the file line
/// and the indices of what they belong to may move).
fn same_realisation(a: &Port, b: &Port) -> bool {
    a.kind.name() == b.kind.name()
        && a.ip_configurations == b.ip_configurations
        && a.ip_forwarding == b.ip_forwarding
        && a.netns == b.netns
        && a.interface == b.interface
}

impl Plan {
    /// What changes from `self` to `new`.
    pub fn diff(&self, new: &Plan) -> PlanDiff {
        let mut d = PlanDiff::default();
        for p in &new.ports {
            match self.port_by_name(&p.name) {
                None => d.added.push(p.name.clone()),
                Some(i) => {
                    d.kept.push(p.name.clone());
                    let old = &self.ports[i];
                    if !same_realisation(old, p) {
                        d.changed.push(p.name.clone());
                    }
                }
            }
        }
        d.removed = self
            .ports
            .iter()
            .filter(|p| new.port_by_name(&p.name).is_none())
            .map(|p| p.name.clone())
            .collect();
        d.namespaces_added = missing_from(&new.namespaces, &self.namespaces);
        d.namespaces_removed = missing_from(&self.namespaces, &new.namespaces);
        d
    }
}

/// The names of `names` that `other` lacks, in `names`' order.
fn missing_from(names: &[String], other: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| !other.contains(n))
        .cloned()
        .collect()
}
