//! `vnetd lb show`: the backends of an internal load balancer as its
//! health probes see them in the running lab, in vnetd's own JSON shape
//! (Azure lists probe health only as portal metrics) and as a table.
//!
//! The values are filled in by the daemon, which holds the probes' state
//! and the flow table; this room holds their shape, the lookup of a load
//! balancer by name and the rendering.

use super::lookup::{find_named, QueryError};
use super::render::{Column, Tabular};
use crate::snapshot::Snapshot;
use crate::topology::LoadBalancerIdx;
use serde::{Deserialize, Serialize};

/// The load balancer named `name`, or a refusal listing the load balancers
/// there are.
pub fn find_load_balancer(snap: &Snapshot, name: &str) -> Result<LoadBalancerIdx, QueryError> {
    let balancers = &snap.topology.load_balancers;
    find_named(snap, balancers, name, "load balancer", "load balancers")
}

/// `vnetd lb show --json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerStatus {
    pub load_balancer: String,
    /// One row per backend of each rule's pool, in rule order.
    pub backends: Vec<BackendStatus>,
}

/// One backend of one rule's pool.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BackendStatus {
    pub rule: String,
    pub pool: String,
    pub nic: String,
    /// The NIC's primary address of the frontend's family: where the
    /// rule's flows arrive, and what the probe connects to.
    pub ip_address: String,
    /// The rule's probe; null for a rule without one (its backends are
    /// all taken as healthy).
    pub probe: Option<ProbeRef>,
    /// `Up` or `Down`.
    pub state: String,
    /// When the backend last changed state (RFC 3339, UTC); for one that
    /// never did, when probing began. Null before the first probe and
    /// without a probe.
    pub since: Option<String>,
    /// Why the last failed probe failed, while the backend is down.
    pub reason: Option<String>,
    /// Flows the load balancer placed on this backend that are tracked
    /// now.
    pub flows: u64,
}

/// A probe by name, with what it checks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProbeRef {
    pub name: String,
    /// `Tcp`, `Http` or `Https`.
    pub protocol: String,
    pub port: u16,
}

impl Tabular for LoadBalancerStatus {
    type Row = BackendStatus;

    const COLUMNS: &'static [Column<BackendStatus>] = &[
        ("Rule", |b| b.rule.clone()),
        ("Pool", |b| b.pool.clone()),
        ("NIC", |b| b.nic.clone()),
        ("Address", |b| b.ip_address.clone()),
        ("Probe", |b| {
            b.probe.as_ref().map_or_else(
                || "(none)".to_string(),
                |p| format!("{} {}:{}", p.name, p.protocol, p.port),
            )
        }),
        ("State", |b| b.state.clone()),
        ("Since", |b| b.since.clone().unwrap_or_default()),
        ("Flows", |b| b.flows.to_string()),
        ("Reason", |b| b.reason.clone().unwrap_or_default()),
    ];

    fn for_each_row(&self, row: impl FnMut(&BackendStatus)) {
        self.backends.iter().for_each(row)
    }
}

/// A backend as the tests of the answers see it: web1 of rule `http`,
/// up, with three flows (also for the control API's tests, with the
/// `fixtures` feature).
#[cfg(any(test, feature = "fixtures"))]
pub fn sample_backend() -> BackendStatus {
    BackendStatus {
        rule: "http".into(),
        pool: "web".into(),
        nic: "web1".into(),
        ip_address: "10.0.1.4".into(),
        probe: Some(ProbeRef {
            name: "health".into(),
            protocol: "Http".into(),
            port: 80,
        }),
        state: "Up".into(),
        since: Some("2026-11-23T07:50:08Z".into()),
        reason: None,
        flows: 3,
    }
}

/// The status as a table or as JSON.
pub fn render_status(status: &LoadBalancerStatus, json: bool) -> Result<String, QueryError> {
    let title = format!("Backends of load balancer {}:", status.load_balancer);
    status.render(&title, json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> LoadBalancerStatus {
        LoadBalancerStatus {
            load_balancer: "ilb".into(),
            backends: vec![
                sample_backend(),
                BackendStatus {
                    rule: "http".into(),
                    pool: "web".into(),
                    nic: "web2".into(),
                    ip_address: "10.0.1.5".into(),
                    probe: Some(ProbeRef {
                        name: "health".into(),
                        protocol: "Http".into(),
                        port: 80,
                    }),
                    state: "Down".into(),
                    since: Some("2026-11-23T07:51:00Z".into()),
                    reason: Some("HTTP 404".into()),
                    flows: 0,
                },
            ],
        }
    }

    #[test]
    fn json_keys_are_camel_case_and_complete() {
        let text = render_status(&status(), true).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["loadBalancer"], "ilb");
        let down = &value["backends"][1];
        assert_eq!(down["ipAddress"], "10.0.1.5");
        assert_eq!(down["probe"]["protocol"], "Http");
        assert_eq!(down["state"], "Down");
        assert_eq!(down["reason"], "HTTP 404");
        assert_eq!(value["backends"][0]["reason"], serde_json::Value::Null);
        assert_eq!(value["backends"][0]["flows"], 3);
        let keys: Vec<&String> = down.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 9, "{keys:?}");
    }

    #[test]
    fn the_table_has_a_row_per_backend() {
        let text = render_status(&status(), false).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Backends of load balancer ilb:");
        assert!(lines[2].starts_with("Rule"));
        assert!(lines[4].contains("web1") && lines[4].contains("Up"));
        assert!(lines[5].contains("Down") && lines[5].ends_with("HTTP 404"));
        assert_eq!(lines.len(), 6);
    }
}
