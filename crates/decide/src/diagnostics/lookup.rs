//! How every question finds what it names in the snapshot (a NIC, a
//! subnet, a gateway, a circuit...), and the error it answers when the
//! question is malformed or names what is not there.

use crate::plan::PortIdx;
use crate::snapshot::Snapshot;
use crate::topology::{ByName, Named, SubnetRef, TiSlice};

/// Why a question got no answer. The CLI renders it: `Usage` (the
/// question itself is malformed) exits 2, `Refused` (it names what is not
/// there) exits 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    Usage(String),
    Refused(String),
}

impl QueryError {
    pub fn usage(message: impl Into<String>) -> Self {
        QueryError::Usage(message.into())
    }

    pub fn refused(message: impl Into<String>) -> Self {
        QueryError::Refused(message.into())
    }

    pub fn message(&self) -> &str {
        match self {
            QueryError::Usage(m) | QueryError::Refused(m) => m,
        }
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for QueryError {}

/// The `kind` named `name` among `items`, or a refusal that names the
/// file and lists the `plural` there are (`no gateway named `x` in
/// lab.yaml (gateways: hub-gw)`): how every command finds what it is
/// asked about.
pub fn find_named<K: From<usize>, T: Named>(
    snap: &Snapshot,
    items: &TiSlice<K, T>,
    name: &str,
    kind: &str,
    plural: &str,
) -> Result<K, QueryError> {
    items.by_name(name).ok_or_else(|| {
        QueryError::refused(format!(
            "no {kind} named `{name}` in {} ({plural}: {})",
            snap.topology.source,
            listed(&items.names())
        ))
    })
}

/// `names` joined by commas, or `none`: what a refusal lists.
pub fn listed<S: AsRef<str>>(names: &[S]) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    names
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The NIC named `name`, or a refusal that lists the NICs there are.
pub fn find_nic(snap: &Snapshot, name: &str) -> Result<PortIdx, QueryError> {
    find_named(snap, &snap.plan.ports, name, "NIC", "NICs")
}

/// Whose effective routes `routes` lists.
#[derive(Debug, Clone, Copy)]
pub enum RoutesOf {
    Nic(PortIdx),
    Subnet(SubnetRef),
}

/// The subnet written `vnet/subnet`, or a refusal that lists the subnets
/// there are.
pub fn find_subnet(snap: &Snapshot, path: &str) -> Result<SubnetRef, QueryError> {
    let topo = &snap.topology;
    topo.subnet_refs()
        .find(|s| topo.subnet_path(*s) == path)
        .ok_or_else(|| {
            let known: Vec<String> = topo.subnet_refs().map(|s| topo.subnet_path(s)).collect();
            QueryError::refused(format!(
                "no subnet `{path}` in {} (subnets: {})",
                topo.source,
                known.join(", ")
            ))
        })
}
