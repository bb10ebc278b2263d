//! What the running lab reports about itself: per-NIC counters, the flow
//! table's occupancy, the load balancers' backends as their probes see
//! them, the routing daemons as their supervisor sees them, and the
//! tracked flows with the rule that admitted each, filled in from the
//! daemon in the control API's shapes ([`crate::api::report`]). The
//! control socket answers with them and the metrics endpoint exposes them;
//! both read them from here.
//!
//! It may use the daemon (`daemon/mod.rs`) and the forwarding room's
//! counters, never the servers that show its reports; it holds the
//! calendar its dates are written in ([`rfc3339`]), which the prober's
//! `lb show` answer uses too.

pub use crate::api::report::{
    BackendReport, FlowReport, FlowTableReport, FlowsReport, NicStats, OffloadReport,
    RoutingDaemonReport, ShapingReport, StatsReport,
};
use crate::daemon::forwarding::offload::FastTuple;
use crate::daemon::forwarding::plane::Plane;
use crate::daemon::forwarding::port_id::PortId;
use crate::daemon::Daemon;
use crate::dataplane::conntrack::TrackedFlow;
use crate::diagnostics;
use crate::net::{IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};
use crate::snapshot::RuleId;
use crate::topology::Direction;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

/// The lab's counters, as `vnetd stats --json` prints them, with what
/// could not be read for them.
pub fn stats_of(daemon: &Daemon) -> StatsReport {
    // One reading of the kernel's counters for the whole report.
    let warnings = daemon.sync_offload();
    let plane = daemon.plane();
    let nics = nic_counters(daemon, &plane);
    let t = daemon.flows().stats();
    StatsReport {
        generation: plane.snapshot.generation,
        host: plane.snapshot.topology.placement.local_name(),
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
        offload: daemon.offload().map(|o| OffloadReport {
            entries: o.installed() as u64,
            capacity: u64::from(o.fabric().capacity()),
            installed: o.totals.installed.load(Relaxed),
            removed: o.totals.removed.load(Relaxed),
            refused_full: o.totals.refused_full.load(Relaxed),
            share_per_nic: u64::from(o.share_under(&plane)),
            refused_share: o.totals.refused_share.load(Relaxed),
            nics_at_share: o
                .refused_share()
                .into_iter()
                .filter_map(|(port, n)| {
                    let nic = plane.port_of_slot(port)?;
                    Some((plane.snapshot.plan.ports[nic].name.clone(), n))
                })
                .collect(),
            removed_stale: o.totals.removed_stale.load(Relaxed),
            removed_egress_gone: o.totals.removed_egress_gone.load(Relaxed),
            refused_egress_gone: o.totals.refused_egress_gone.load(Relaxed),
        }),
        shaping: Some(Box::new(ShapingReport {
            on: daemon.forwarding().shaping,
            limits: plane
                .snapshot
                .shaping
                .limits(&plane.snapshot.topology, &plane.snapshot.plan),
            delayed_paths: plane.snapshot.shaping.delayed_paths() as u64,
            delays: plane.snapshot.shaping.delays(),
        })),
        underlay: daemon
            .forwarding()
            .underlay
            .as_ref()
            .map(|u| Box::new(u.report())),
        global_reach: daemon.forwarding().reach.report(),
        names: Some(Box::new(names_report(daemon))),
        warnings,
    }
}

/// Azure DNS's and the PaaS responders' counters as they stand.
fn names_report(daemon: &Daemon) -> crate::api::NamesReport {
    let (dns, paas) = daemon.names_counters();
    crate::api::NamesReport {
        dns_queries: dns.queries.load(Relaxed),
        dns_answers: dns.answers.load(Relaxed),
        dns_malformed: dns.malformed.load(Relaxed),
        dns_send_failed: dns.send_failed.load(Relaxed),
        dns_forwarded: dns.forwarded.load(Relaxed),
        dns_forward_timeouts: dns.forward_timeouts.load(Relaxed),
        dns_forward_loops_cut: dns.forward_loops_cut.load(Relaxed),
        dns_tcp_refused_per_source: dns.tcp_refused_per_source.load(Relaxed),
        dns_tcp_refused_at_capacity: dns.tcp_refused_at_capacity.load(Relaxed),
        paas_requests: paas.requests.load(Relaxed),
        paas_refused: paas.refused.load(Relaxed),
        application_allowed: paas.application_rules.allowed.load(Relaxed),
        application_denied: paas.application_rules.denied.load(Relaxed),
        application_unreachable: paas.application_rules.unreachable.load(Relaxed),
        application_refused: paas.application_rules.refused.load(Relaxed),
        dns_servers_ready: paas.dns_servers.ready.load(Relaxed),
        dns_servers_starting: paas.dns_servers.starting.load(Relaxed),
        dns_servers_failed_starts: paas.dns_servers.failed_starts.load(Relaxed),
    }
}

/// The counters of every port placed on this machine, by port name, as
/// they stand: call [`Daemon::sync_offload`] first for the kernel fast
/// path's share to be in them.
pub fn nic_counters(daemon: &Daemon, plane: &Plane) -> BTreeMap<String, NicStats> {
    plane
        .snapshot
        .plan
        .ports
        .iter_enumerated()
        .filter(|(i, _)| plane.snapshot.plan.is_local(*i))
        .map(|(i, n)| {
            (
                n.name.clone(),
                daemon.forwarding().nic_totals(plane.port_id(i)),
            )
        })
        .collect()
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

/// What says why a flow the kernel does not carry stays in the daemon,
/// when the offload neither judged nor refused it.
struct Stays {
    /// The lab offloads (no `--no-offload`).
    offloading: bool,
    /// The flow's port is on the fabric (a gateway's, a site's or a
    /// prober's is a TUN device).
    on_fabric: bool,
    protocol: u8,
    /// The Internet edge translates it.
    translated: bool,
}

impl Stays {
    /// `offload_off`, `off_fabric` or `protocol` (neither TCP nor UDP nor
    /// an ICMP echo the edge translates); none for a flow the offload asks
    /// about but has not judged yet (its first packets) or whose entry
    /// went with its end (FIN, RST).
    fn because(&self) -> Option<&'static str> {
        if !self.offloading {
            return Some("offload_off");
        }
        if !self.on_fabric {
            return Some("off_fabric");
        }
        match self.protocol {
            IPPROTO_TCP | IPPROTO_UDP => None,
            IPPROTO_ICMP | IPPROTO_ICMPV6 if self.translated => None,
            _ => Some("protocol"),
        }
    }
}

/// The tracked flows of `only` (or of every NIC), sorted.
pub fn flows_of(daemon: &Daemon, only: Option<&str>) -> Vec<FlowReport> {
    flows_report(daemon, only).flows
}

/// [`flows_of`], with what could not be read for it (each also in the
/// log): what the `flows` command is answered with.
pub fn flows_report(daemon: &Daemon, only: Option<&str>) -> FlowsReport {
    let warnings = daemon.sync_offload();
    let paths = daemon.offload().map(|o| o.flow_paths()).unwrap_or_default();
    let plane = daemon.plane();
    let snap = &plane.snapshot;
    let now = daemon.now_ms();
    let mut out = Vec::new();
    daemon.flows().for_each(now, |key, value| {
        let flow = TrackedFlow::of(key);
        let Some(nic) = plane.port_of_slot(PortId::of_owner(flow.owner)) else {
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
        let outbound = direction == Direction::Outbound;
        let hop = outbound.then(|| diagnostics::next_hop(snap, nic, dst));
        let gateways = if outbound {
            diagnostics::gateways_crossed(snap, nic, &flow.key)
        } else {
            Vec::new()
        };
        let translated = edge_translation(daemon, &plane, nic, &flow, now);
        let port = PortId::of_owner(flow.owner);
        let tuple = FastTuple::of_key(key);
        let offloaded = tuple.is_some_and(|t| paths.in_kernel(port, direction, t));
        // Why it stays here: as judged or refused by the offload, else as
        // the lab and the flow's port and protocol say.
        let stays = Stays {
            offloading: daemon.offload().is_some(),
            on_fabric: plane.ports[nic].fast.is_some(),
            protocol: flow.key.proto,
            translated: translated.is_some(),
        };
        let not_offloaded_because = match offloaded {
            true => None,
            false => (tuple.and_then(|t| paths.why_not(port, t)))
                .map(|why| why.as_str())
                .or_else(|| stays.because())
                .map(str::to_string),
        };
        out.push(FlowReport {
            host: snap.topology.placement.local_name(),
            nic: name.clone(),
            direction: direction.as_str().to_string(),
            protocol,
            source: endpoint(src, flow.key.src_port),
            destination: endpoint(dst, flow.key.dst_port),
            rule,
            next_hop_type: hop.as_ref().map(|h| h.next_hop_type.to_string()),
            next_hop_ip_address: hop.map(|h| h.next_hop_ip_address).filter(|s| !s.is_empty()),
            gateways,
            hub: outbound.then(|| hub_of_route(snap, nic, dst)).flatten(),
            packets_forward: value.forward_packets,
            bytes_forward: value.forward_bytes,
            packets_reverse: value.reverse_packets,
            bytes_reverse: value.reverse_bytes,
            age_ms: now.saturating_sub(value.created_ms),
            idle_ms: now.saturating_sub(value.last_seen_ms),
            offloaded,
            not_offloaded_because,
            translated,
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
    FlowsReport {
        flows: out,
        warnings,
    }
}

/// The Internet edge's side of a tracked flow, in words: on the private
/// side's records the public address it leaves as, on the Internet's the
/// private address behind the public one. TCP and UDP (an ICMP record
/// keeps no identifier to look it up by).
fn edge_translation(
    daemon: &Daemon,
    plane: &crate::daemon::forwarding::plane::Plane,
    nic: crate::plan::PortIdx,
    flow: &crate::dataplane::conntrack::TrackedFlow,
    now: u64,
) -> Option<String> {
    let key = &flow.key;
    let (Some(sport), Some(dport)) = (key.src_port, key.dst_port) else {
        return None;
    };
    let tracked = crate::dataplane::conntrack::TrackedFlows {
        table: daemon.flows(),
        owners: plane,
    };
    let found = |src, dst| tracked.edge_of(key.proto, src, dst, now);
    let endpoint = |(ip, port): (std::net::IpAddr, u16)| std::net::SocketAddr::new(ip, port);
    let internet = plane.snapshot.nics[nic].kind.is_internet();
    // The Internet's records hold the public side, whose flow runs from
    // the remote end; the others the private side, sent or received.
    let (src, dst) = match (internet, flow.direction) {
        (true, Direction::Inbound) => ((key.dst, dport), (key.src, sport)),
        (true, Direction::Outbound) => ((key.src, sport), (key.dst, dport)),
        (false, Direction::Outbound) => ((key.src, sport), (key.dst, dport)),
        (false, Direction::Inbound) => ((key.dst, dport), (key.src, sport)),
    };
    let memo = found(src, dst)?;
    Some(if internet {
        format!("from {}", endpoint(memo.private))
    } else {
        format!("as {}", endpoint(memo.public))
    })
}

/// `since` as RFC 3339 in UTC, to the second.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `hub/table` of the virtual hub route that takes `nic`'s packets to
/// `dst`, when a hub's route does.
fn hub_of_route(
    snap: &crate::snapshot::Snapshot,
    nic: crate::plan::PortIdx,
    dst: std::net::IpAddr,
) -> Option<String> {
    let (row, _) = snap.route_target(nic, dst)?;
    let hub = snap.nic_routes(nic).routes[row].hub.as_deref()?;
    let h = &snap.topology.virtual_hubs[hub.hub];
    let table = match hub.table {
        Some(t) => h.route_tables[t].name.clone(),
        None => "firewall".to_string(),
    };
    Some(format!("{}/{table}", h.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn since_reads_as_rfc3339_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_542_110_435_389);
        assert_eq!(rfc3339(t), "2018-11-13T12:00:35Z");
    }

    #[test]
    fn a_flow_the_offload_never_judged_is_named_by_its_lab_port_and_protocol() {
        let stays = |offloading, on_fabric, protocol, translated| {
            Stays {
                offloading,
                on_fabric,
                protocol,
                translated,
            }
            .because()
        };
        // The lab's choice first, then the port's, then the protocol's.
        assert_eq!(
            stays(false, false, IPPROTO_ICMP, false),
            Some("offload_off")
        );
        assert_eq!(stays(true, false, IPPROTO_TCP, true), Some("off_fabric"));
        assert_eq!(stays(true, true, IPPROTO_ICMP, false), Some("protocol"));
        assert_eq!(stays(true, true, 47, false), Some("protocol"));
        assert_eq!(stays(true, true, IPPROTO_ICMPV6, false), Some("protocol"));
        // Carried once judged: nothing to say before (its first packets)
        // or after its entry went with its end.
        assert_eq!(stays(true, true, IPPROTO_TCP, false), None);
        assert_eq!(stays(true, true, IPPROTO_UDP, true), None);
        assert_eq!(stays(true, true, IPPROTO_ICMP, true), None);
        assert_eq!(stays(true, true, IPPROTO_ICMPV6, true), None);
    }
}
