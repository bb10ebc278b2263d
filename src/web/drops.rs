//! Drop events as the live page shows them: the NIC, the direction, the
//! reason, and the rule that caused the drop, named from the rule the
//! decision carried (an NSG's or the firewall's) or, for a drop decided by
//! a route, the route the NIC's tables hold for the destination. At most
//! [`PER_SECOND`] events a second go out one by one; beyond that, drops of
//! the same NIC, reason and rule are summed into one event with a count.

use crate::daemon::forwarding::drop_feed::DropEvent;
use crate::daemon::forwarding::plane::Plane;
use crate::dataplane::decide::DropReason;
use crate::net::PacketKey;
use crate::topology::{Direction, NextHopType};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// Events sent one by one per second before they are summed.
pub const PER_SECOND: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropRecord {
    /// RFC 3339, UTC, to the millisecond.
    pub time: String,
    pub nic: String,
    pub direction: &'static str,
    pub reason: &'static str,
    /// The rule's own name (`deny-telnet`), or the route's prefix and next
    /// hop, or null when no rule decided.
    pub rule: Option<String>,
    /// `admin` (a security admin rule), `nsg`, `firewall` or `route`.
    pub rule_kind: Option<&'static str>,
    /// Where the rule sits: `NSG/securityRules/NAME`, or the route's table.
    pub detail: Option<String>,
    pub protocol: String,
    pub source: String,
    pub destination: String,
    pub count: u64,
}

fn endpoint(ip: std::net::IpAddr, port: Option<u16>) -> String {
    match port {
        Some(port) => SocketAddr::new(ip, port).to_string(),
        None => ip.to_string(),
    }
}

fn protocol_name(proto: u8) -> String {
    match proto {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "icmpv6".into(),
        other => other.to_string(),
    }
}

/// Drops a route decides: the packet's route names why.
fn decided_by_route(reason: DropReason) -> bool {
    matches!(
        reason,
        DropReason::NoRoute
            | DropReason::RouteNone
            | DropReason::NextHopInternet
            | DropReason::NextHopGateway
            | DropReason::ApplianceUnreachable
    )
}

/// The page's record of `event`, or None when its port is gone (an
/// `apply` removed it since). `time` is the event's wall-clock time.
pub fn record(plane: &Plane, event: &DropEvent, time: String) -> Option<DropRecord> {
    let port = plane.port_of_slot(event.port)?;
    let snap = &plane.snapshot;
    let nic = snap.plan.ports[port]
        .resource_name(&snap.topology)
        .unwrap_or_else(|| snap.plan.ports[port].name.clone());
    // As the decision judged it, the flow logs' direction.
    let direction = match event.direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    };
    let (rule, rule_kind, detail) = match snap.rule_names.get(event.rule) {
        Some(named) => {
            let kind = match event.reason {
                DropReason::FirewallDenied => "firewall",
                DropReason::AdminDenied => "admin",
                _ => "nsg",
            };
            let short = named
                .rule
                .rsplit('/')
                .next()
                .unwrap_or(&named.rule)
                .to_string();
            (
                Some(short),
                Some(kind),
                Some(format!("{}/{}", named.nsg, named.rule)),
            )
        }
        None if decided_by_route(event.reason) => route_named(plane, port, &event.key),
        None => (None, None, None),
    };
    Some(DropRecord {
        time,
        nic,
        direction,
        reason: event.reason.as_str(),
        rule,
        rule_kind,
        detail,
        protocol: protocol_name(event.key.proto),
        source: endpoint(event.key.src, event.key.src_port),
        destination: endpoint(event.key.dst, event.key.dst_port),
        count: 1,
    })
}

type Named = (Option<String>, Option<&'static str>, Option<String>);

/// The route the sender's tables hold for the destination, as the page
/// names it: prefix and next hop, and the route table (or system route).
fn route_named(plane: &Plane, port: crate::plan::PortIdx, key: &PacketKey) -> Named {
    let snap = &plane.snapshot;
    let Some((row, _)) = snap.route_target(port, key.dst) else {
        let none = NextHopType::None.as_str();
        return (Some(format!("no route: {none}")), Some("route"), None);
    };
    let route = &snap.nic_routes(port).routes[row];
    let rule = format!(
        "{} → {}",
        route.address_prefix,
        route.next_hop_type.as_str()
    );
    let table = match route.route_table {
        Some(rt) => format!("route table {}", snap.topology.route_tables[rt].name),
        None => format!("{} route", route.source.as_str()),
    };
    (Some(rule), Some("route"), Some(table))
}

/// Holds the page to [`PER_SECOND`] events a second: the rest of a second
/// is summed per NIC, reason and rule, and sent when the second ends.
#[derive(Debug, Default)]
pub struct Throttle {
    second: u64,
    sent: usize,
    held: BTreeMap<(String, &'static str, Option<String>), DropRecord>,
}

impl Throttle {
    /// What to send now for `record`, which happened in second `second`
    /// of the daemon's clock: itself, or nothing (held), after what a
    /// second that ended held.
    pub fn admit(&mut self, second: u64, record: DropRecord) -> Vec<DropRecord> {
        let mut out = self.flush_before(second);
        if self.sent < PER_SECOND {
            self.sent += 1;
            out.push(record);
        } else {
            let key = (record.nic.clone(), record.reason, record.rule.clone());
            self.held
                .entry(key)
                .and_modify(|r| r.count += 1)
                .or_insert(record);
        }
        out
    }

    /// What the seconds before `second` held, once `second` has begun.
    pub fn flush_before(&mut self, second: u64) -> Vec<DropRecord> {
        if second == self.second {
            return Vec::new();
        }
        self.second = second;
        self.sent = 0;
        std::mem::take(&mut self.held).into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telnet(n: u16) -> DropRecord {
        DropRecord {
            time: String::new(),
            nic: "vm2".into(),
            direction: "inbound",
            reason: "nsg_inbound",
            rule: Some("deny-telnet".into()),
            rule_kind: Some("nsg"),
            detail: None,
            protocol: "tcp".into(),
            source: format!("10.1.1.4:{n}"),
            destination: "10.2.1.4:23".into(),
            count: 1,
        }
    }

    #[test]
    fn beyond_the_limit_a_second_s_drops_are_summed() {
        let mut throttle = Throttle::default();
        let mut sent = Vec::new();
        for n in 0..PER_SECOND as u16 + 30 {
            sent.extend(throttle.admit(5, telnet(n)));
        }
        assert_eq!(sent.len(), PER_SECOND);
        assert!(sent.iter().all(|r| r.count == 1));
        let next = throttle.admit(6, telnet(9));
        assert_eq!(next.len(), 2, "the held sum, then the new drop");
        assert_eq!(next[0].count, 30);
        assert_eq!(next[1].count, 1);
        assert!(throttle.flush_before(6).is_empty());
    }
}
