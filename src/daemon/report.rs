//! What the running lab reports about itself: per-NIC counters, the flow
//! table's occupancy, the load balancers' backends as their probes see
//! them, the routing daemons as their supervisor sees them, and the
//! tracked flows with the rule that admitted each. The control socket renders these reports and the metrics endpoint
//! exposes them; both read them from here.
//!
//! It may use the daemon (`daemon/mod.rs`), the counters and the prober's
//! calendar, never the servers that show its reports.

use super::lb::rfc3339;
use super::stats::NicStats;
use super::{Daemon, PortId, RoutingDaemon};
use crate::dataplane::conntrack::TrackedFlow;
use crate::diagnostics;
use crate::net::{IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};
use crate::snapshot::RuleId;
use crate::topology::Direction;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `vnetd stats --json`.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatsReport {
    pub generation: u64,
    pub nics: BTreeMap<String, NicStats>,
    pub flow_table: FlowTableReport,
    /// Deny events that could not reach the flow logs (0 without them).
    #[serde(default)]
    pub flow_log_events_lost: u64,
    /// Times a forwarding worker failed (an error or a panic) and was
    /// started again.
    #[serde(default)]
    pub worker_restarts: u64,
    /// Panics caught in the daemon's threads, by kind of thread (`worker`,
    /// `bgp-watcher`, `prober`, `housekeeping`, `flow-log`, `control`,
    /// `metrics`), every kind present, 0 included: each such thread was
    /// started again, each such connection closed (empty from a daemon
    /// that did not report them).
    #[serde(default)]
    pub thread_panics: BTreeMap<String, u64>,
    /// What the load balancers' health probes found, per probed backend
    /// (empty without load balancers, or from a daemon that had none).
    #[serde(default)]
    pub load_balancer_backends: Vec<BackendReport>,
    /// The gateways' and sites' routing daemons: state, pid, restarts and
    /// how each last ended (empty without BGP).
    #[serde(default)]
    pub routing_daemons: Vec<RoutingDaemon>,
}

/// One backend as one load balancer's probe sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackendReport {
    pub load_balancer: String,
    pub probe: String,
    pub nic: String,
    pub up: bool,
    /// When it last changed state, or when probing began (RFC 3339, UTC).
    pub since: String,
    pub consecutive_successes: u32,
    pub consecutive_failures: u32,
    /// Why the last failed probe failed; null while up.
    pub reason: Option<String>,
    /// Flows the load balancer placed on this backend that are tracked
    /// now (0 from a daemon that did not report it).
    #[serde(default)]
    pub flows: u64,
}

#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FlowTableReport {
    pub capacity: usize,
    /// Bytes the table was allocated with (0 from a daemon that did not
    /// report it).
    #[serde(default)]
    pub memory_bytes: usize,
    pub flows: usize,
    pub inserted: u64,
    pub evicted: u64,
    pub failed_inserts: u64,
}

pub fn stats_of(daemon: &Daemon) -> StatsReport {
    let plane = daemon.plane();
    let nics = plane
        .snapshot
        .plan
        .ports
        .iter()
        .filter_map(|n| Some((n.name.clone(), daemon.nic_stats(&n.name)?)))
        .collect();
    let t = daemon.flows().stats();
    StatsReport {
        generation: plane.snapshot.generation,
        nics,
        flow_table: FlowTableReport {
            capacity: t.capacity,
            memory_bytes: t.memory_bytes,
            flows: t.occupied,
            inserted: t.inserted,
            evicted: t.evicted,
            failed_inserts: t.failed_inserts,
        },
        flow_log_events_lost: daemon.flow_log_events_lost(),
        worker_restarts: daemon.worker_restarts(),
        thread_panics: daemon.thread_panics().by_kind(),
        load_balancer_backends: backends_with_flows(daemon),
        routing_daemons: daemon.routing_daemons(),
    }
}

/// The backends as their probes see them, with the flows placed on each:
/// the flow table is read once per load balancer.
fn backends_with_flows(daemon: &Daemon) -> Vec<BackendReport> {
    let mut flows: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>> =
        std::collections::BTreeMap::new();
    daemon
        .lb_backends()
        .into_iter()
        .map(|(target, state)| BackendReport {
            flows: flows
                .entry(target.load_balancer.clone())
                .or_insert_with(|| daemon.lb_flow_counts(&target.load_balancer))
                .get(&target.nic)
                .copied()
                .unwrap_or(0),
            load_balancer: target.load_balancer,
            probe: target.probe,
            nic: target.nic,
            up: state.up,
            since: rfc3339(state.since),
            consecutive_successes: state.consecutive_successes,
            consecutive_failures: state.consecutive_failures,
            reason: state.last_reason.filter(|_| !state.up),
        })
        .collect()
}

/// One tracked flow, as `vnetd flows --json` prints it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, Clone)]
pub struct FlowReport {
    pub nic: String,
    pub direction: String,
    pub protocol: String,
    pub source: String,
    pub destination: String,
    /// The NSG rule that allowed the flow's first packet at this NIC
    /// (`securityRules/...`, `defaultSecurityRules/...`), or null when no
    /// NSG applies.
    pub rule: Option<String>,
    /// The route the flow's packets take now from this NIC (outbound only).
    pub next_hop_type: Option<String>,
    pub next_hop_ip_address: Option<String>,
    pub packets_forward: u64,
    pub bytes_forward: u64,
    pub packets_reverse: u64,
    pub bytes_reverse: u64,
    pub age_ms: u64,
    pub idle_ms: u64,
}

pub fn flows_of(daemon: &Daemon, only: Option<&str>) -> Vec<FlowReport> {
    let plane = daemon.plane();
    let snap = &plane.snapshot;
    let now = daemon.now_ms();
    let mut out = Vec::new();
    daemon.flows().for_each(now, |key, value| {
        let flow = TrackedFlow::of(key);
        let Some(nic) = plane.nic_of_port(PortId::new(flow.port)) else {
            return;
        };
        let name = &snap.plan.ports[nic].name;
        if only.is_some_and(|o| o != name) {
            return;
        }
        let direction = flow.direction;
        let (src, dst) = (flow.key.src, flow.key.dst);
        let endpoint = |ip: std::net::IpAddr, port: Option<u16>| match port {
            Some(port) => std::net::SocketAddr::new(ip, port).to_string(),
            None => ip.to_string(),
        };
        let protocol = match flow.key.proto {
            IPPROTO_TCP => "Tcp".to_string(),
            IPPROTO_UDP => "Udp".to_string(),
            IPPROTO_ICMP | IPPROTO_ICMPV6 => "Icmp".to_string(),
            other => other.to_string(),
        };
        // The tag names the rule for the lab's life, whatever was applied
        // since the flow was admitted.
        let rule = snap
            .rule_names
            .get(RuleId::from_tag(value.verdict_tag))
            .map(|r| r.rule);
        let hop = (direction == Direction::Outbound).then(|| diagnostics::next_hop(snap, nic, dst));
        out.push(FlowReport {
            nic: name.clone(),
            direction: direction.as_str().to_string(),
            protocol,
            source: endpoint(src, flow.key.src_port),
            destination: endpoint(dst, flow.key.dst_port),
            rule,
            next_hop_type: hop.as_ref().map(|h| h.next_hop_type.to_string()),
            next_hop_ip_address: hop.map(|h| h.next_hop_ip_address).filter(|s| !s.is_empty()),
            packets_forward: value.forward_packets,
            bytes_forward: value.forward_bytes,
            packets_reverse: value.reverse_packets,
            bytes_reverse: value.reverse_bytes,
            age_ms: now.saturating_sub(value.created_ms),
            idle_ms: now.saturating_sub(value.last_seen_ms),
        });
    });
    out.sort_by(|a, b| {
        (&a.nic, &a.direction, &a.source, &a.destination).cmp(&(
            &b.nic,
            &b.direction,
            &b.source,
            &b.destination,
        ))
    });
    out
}
