//! What the fabric recorded of one probe: its flow's records in the flow
//! table (which NICs it crossed) and the drop counters that moved while it
//! ran (why and where it stopped).
//!
//! The fabric tracks a flow at every NIC it crosses, once per direction
//! (`vnetd flows`): the source NIC's outbound record, an NVA's inbound and
//! outbound ones, the destination's inbound one. A probe's records are
//! those of its protocol and source (address and port; ICMP shows no
//! port) towards its destination (or a load balancer's backend address,
//! where the frontend's address was translated), whose packet counts grew
//! while it ran. Their NICs are the hops crossed; they are put in path
//! order by following each NIC's outbound record to its next hop, and
//! NICs the walk does not reach follow in topology order.
//!
//! In a lab spread over machines, this machine records only its own NICs'
//! part: the walk ends at the first next hop placed on another machine,
//! which is where the probe was sent.
//!
//! Gateway ports and site tunnels stand for their gateway; a load
//! balancer's pinned flows are kept under a key of its own, not a NIC, and
//! are not listed, so a load balancer counts as crossed when the probe
//! went to one of its frontends, or a route sent it to one (an outbound
//! record whose next hop is a frontend address), and a backend recorded
//! it.

use crate::api::{FlowReport, StatsReport};
use crate::plan::Plan;
use crate::plan::PortIdx;
use crate::topology::{ExpectedProtocol, LoadBalancerIdx, Site, Topology};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// The flow a probe sent, as the fabric sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFlow {
    pub protocol: ExpectedProtocol,
    pub source: IpAddr,
    /// Other sources the probe may be recorded with: the address a
    /// firewall's DNAT rule translated its source to.
    pub translated_sources: Vec<IpAddr>,
    /// TCP and UDP; ICMP records show no port.
    pub source_port: Option<u16>,
    /// The destination, and the backends a load balancer may have
    /// translated it to.
    pub destinations: Vec<IpAddr>,
}

/// The address of a record's endpoint, written `ip`, `ip:port` or
/// `[ip6]:port`.
fn endpoint(text: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Some((a.ip(), Some(a.port())));
    }
    text.parse::<IpAddr>().ok().map(|ip| (ip, None))
}

impl ProbeFlow {
    fn matches(&self, record: &FlowReport) -> bool {
        if record.protocol != self.protocol.as_str() {
            return false;
        }
        let (Some(source), Some(destination)) =
            (endpoint(&record.source), endpoint(&record.destination))
        else {
            return false;
        };
        let port_matches = match self.protocol {
            ExpectedProtocol::Icmp => true,
            _ => source.1 == self.source_port,
        };
        (source.0 == self.source || self.translated_sources.contains(&source.0))
            && port_matches
            && self.destinations.contains(&destination.0)
    }
}

/// Where and what a record is: its NIC, direction, source and destination.
fn record_key(r: &FlowReport) -> (&str, &str, &str, &str) {
    (
        r.nic.as_str(),
        r.direction.as_str(),
        r.source.as_str(),
        r.destination.as_str(),
    )
}

/// Packets counted per record, keyed by [`record_key`].
fn packet_counts(records: &[FlowReport]) -> BTreeMap<(&str, &str, &str, &str), u64> {
    let mut counts = BTreeMap::new();
    for r in records {
        *counts.entry(record_key(r)).or_insert(0) += r.packets_forward + r.packets_reverse;
    }
    counts
}

/// The records of `flow` in `after` whose packets grew since `before`.
pub fn probe_records(
    before: &[FlowReport],
    after: &[FlowReport],
    flow: &ProbeFlow,
) -> Vec<FlowReport> {
    let old = packet_counts(before);
    let new = packet_counts(after);
    let mut out: Vec<FlowReport> = Vec::new();
    for r in after.iter().filter(|r| flow.matches(r)) {
        let key = record_key(r);
        let grew = new.get(&key).copied().unwrap_or(0) > old.get(&key).copied().unwrap_or(0);
        let listed = out.iter().any(|o| record_key(o) == key);
        if grew && !listed {
            out.push(r.clone());
        }
    }
    out
}

/// Who else answered a probe's flow: the sources of new inbound records
/// at the probe's source NIC (`nic`) of packets to the probe's own address
/// and port, other than the destination it was sent to. A load balancer's
/// backend whose reply was not translated back answers this way (the
/// client's kernel then refuses it with a reset).
pub fn answered_by_others(
    before: &[FlowReport],
    after: &[FlowReport],
    flow: &ProbeFlow,
    nic: &str,
    to: IpAddr,
) -> Vec<String> {
    let Some(port) = flow.source_port else {
        return Vec::new();
    };
    let old = packet_counts(before);
    let mut out: Vec<String> = Vec::new();
    for r in after {
        if r.nic != nic || r.direction != "Inbound" || r.protocol != flow.protocol.as_str() {
            continue;
        }
        let (Some(from), Some(at)) = (endpoint(&r.source), endpoint(&r.destination)) else {
            continue;
        };
        let grew =
            old.get(&record_key(r)).copied().unwrap_or(0) < r.packets_forward + r.packets_reverse;
        if at == (flow.source, Some(port)) && from.0 != to && grew && !out.contains(&r.source) {
            out.push(r.source.clone());
        }
    }
    out
}

/// The name a port of the running lab's plan has as a hop: its own, or its
/// gateway's for a gateway port or a site tunnel; none for a prober.
pub fn hop_name(topology: &Topology, plan: &Plan, nic: PortIdx) -> Option<String> {
    plan.ports[nic].resource_name(topology)
}

/// The load balancer one of whose frontends has `address`.
fn balancer_at(topology: &Topology, address: IpAddr) -> Option<usize> {
    topology
        .load_balancers
        .iter()
        .position(|lb| lb.frontends.iter().any(|f| f.address == address))
}

/// The load balancers of which the NIC on `port` is a backend.
fn balancers_of(topology: &Topology, plan: &Plan, port: PortIdx) -> Vec<usize> {
    let Some(nic) = plan.nic(port) else {
        return Vec::new();
    };
    topology
        .load_balancers
        .iter()
        .enumerate()
        .filter(|(_, lb)| lb.pools.iter().any(|p| p.nics.contains(&nic)))
        .map(|(i, _)| i)
        .collect()
}

/// The hops a probe from `source` (a name: left out) to `to` crossed, in
/// path order as far as the records tell it (see the module doc).
pub fn hops(topology: &Topology, records: &[FlowReport], source: &str, to: IpAddr) -> Vec<String> {
    let plan = Plan::derive(topology);
    let mut recorded: Vec<PortIdx> = records
        .iter()
        .filter_map(|r| plan.port_by_name(&r.nic))
        .collect();
    recorded.sort();
    recorded.dedup();
    // Where each outbound record sent the probe: its route's next hops,
    // or the destination itself.
    let next_of = |r: &FlowReport| -> Vec<IpAddr> {
        match &r.next_hop_ip_address {
            Some(hops) => hops
                .split(',')
                .filter_map(|a| a.trim().parse().ok())
                .collect(),
            None => vec![to],
        }
    };
    // Load balancers the probe reached: a NIC sent it to one of their
    // frontends, addressed to it or by a route whose next hop is one.
    let mut balanced: Vec<usize> = Vec::new();
    for r in records.iter().filter(|r| r.direction == "Outbound") {
        for lb in next_of(r)
            .into_iter()
            .filter_map(|a| balancer_at(topology, a))
        {
            if !balanced.contains(&lb) {
                balanced.push(lb);
            }
        }
    }
    // Walk from the source along each outbound record's next hop; from
    // where the flow entered the fabric (a NIC that sent it and did not
    // receive it: a site's tunnel) when the source is not a NIC.
    let sent_only = |nic: &PortIdx| {
        let name = &plan.ports[*nic].name;
        let sent = records
            .iter()
            .any(|r| &r.nic == name && r.direction == "Outbound");
        let received = records
            .iter()
            .any(|r| &r.nic == name && r.direction == "Inbound");
        sent && !received
    };
    let mut order: Vec<PortIdx> = Vec::new();
    let mut current = plan
        .port_by_name(source)
        .filter(|n| recorded.contains(n))
        .or_else(|| recorded.iter().copied().find(sent_only));
    while let Some(nic) = current {
        order.push(nic);
        let name = &plan.ports[nic].name;
        let Some(out) = records
            .iter()
            .find(|r| &r.nic == name && r.direction == "Outbound")
        else {
            break;
        };
        let next = next_of(out);
        // In a lab spread over machines, a next hop on another machine
        // is where this one's records end: the probe was sent there.
        let elsewhere = plan
            .ports
            .keys()
            .find(|port| !plan.is_local(*port) && next.iter().any(|a| plan.ports[*port].owns(*a)));
        if let Some(port) = elsewhere.filter(|p| !order.contains(p)) {
            order.push(port);
            break;
        }
        current = recorded.iter().copied().find(|candidate| {
            !order.contains(candidate)
                && next.iter().any(|a| {
                    plan.ports[*candidate].owns(*a)
                        || public_addresses(topology, &plan, *candidate).contains(a)
                        || balancer_at(topology, *a).is_some_and(|lb| {
                            balancers_of(topology, &plan, *candidate).contains(&lb)
                        })
                })
        });
    }
    for nic in &recorded {
        if !order.contains(nic) {
            order.push(*nic);
        }
    }
    // Each name once, in the order first crossed: a backend's load
    // balancer before it, a NIC's gateways after it; a load balancer no
    // backend recorded the probe at (it dropped it) last.
    let mut names: Vec<String> = Vec::new();
    let mut cross = |name: String| {
        if !names.contains(&name) {
            names.push(name);
        }
    };
    let lb_name = |lb: usize| {
        topology.load_balancers[LoadBalancerIdx::from(lb)]
            .name
            .clone()
    };
    for &nic in &order {
        for lb in balancers_of(topology, &plan, nic) {
            if balanced.contains(&lb) {
                cross(lb_name(lb));
            }
        }
        if let Some(name) = hop_name(topology, &plan, nic) {
            cross(name);
        }
        let name = &plan.ports[nic].name;
        let out = records
            .iter()
            .find(|r| &r.nic == name && r.direction == "Outbound");
        for gateway in out.iter().flat_map(|r| &r.gateways) {
            cross(gateway.clone());
        }
    }
    for &lb in &balanced {
        cross(lb_name(lb));
    }
    names.retain(|n| n != source);
    names
}

/// The public addresses that lead to `port`: its NIC's public IP, or its
/// firewall's.
fn public_addresses(topology: &Topology, plan: &Plan, port: PortIdx) -> Vec<IpAddr> {
    let edge = &topology.edge;
    match (plan.nic(port), plan.ports[port].kind.firewall()) {
        (Some(nic), _) => edge.nic_public_address(nic).into_iter().collect(),
        (None, Some(f)) => edge.firewall_addresses(f),
        (None, None) => Vec::new(),
    }
}

/// What a probe to `destination` (protocol `protocol`, port `port`) may be
/// recorded as after the Internet edge translated it: the private address
/// behind a NIC's public IP, or a firewall DNAT rule's translated address
/// (and the firewall's instance addresses as the sources it may then
/// have).
pub fn edge_translations(
    topology: &Topology,
    destination: IpAddr,
    protocol: ExpectedProtocol,
    port: u16,
) -> (Vec<IpAddr>, Vec<IpAddr>) {
    let edge = &topology.edge;
    let (mut sources, mut destinations) = (Vec::new(), Vec::new());
    for (&nic, _) in edge.nic_public_ips.iter() {
        if edge.nic_public_address(nic) == Some(destination) {
            let n = &topology.nics[nic];
            destinations.extend(n.ip_configurations.first().map(|c| c.address));
        }
    }
    for (f, fw) in topology.firewalls.iter_enumerated() {
        if !edge.firewall_addresses(f).contains(&destination) {
            continue;
        }
        let rules = fw.policy.and_then(|p| edge.dnat_rules.get(&p));
        for rule in rules.into_iter().flatten() {
            let proto = match protocol {
                ExpectedProtocol::Tcp => crate::net::IPPROTO_TCP,
                ExpectedProtocol::Udp => crate::net::IPPROTO_UDP,
                ExpectedProtocol::Icmp => continue,
            };
            if rule.destination == destination
                && rule.destination_port == port
                && rule.protocols.iter().any(|p| p.matches(proto))
            {
                destinations.push(rule.translated_address);
                sources.extend(fw.instance_addresses());
            }
        }
    }
    (sources, destinations)
}

/// Whether the probe reached what holds its destination: a NIC that owns
/// the address a record of it received (the destination, or the backend a
/// load balancer translated it to), or a tunnel into the site that holds
/// it. A probe delivered and not answered lost its reply.
pub fn delivered(topology: &Topology, records: &[FlowReport]) -> bool {
    let plan = Plan::derive(topology);
    records
        .iter()
        .filter(|r| r.direction == "Inbound")
        .any(|r| {
            let (Some(nic), Some((address, _))) =
                (plan.port_by_name(&r.nic), endpoint(&r.destination))
            else {
                return false;
            };
            let port = &plan.ports[nic];
            match port.kind.site_tunnel() {
                Some((site, _, _)) => site_holds(&topology.sites[site], address),
                None => port.is_vm() && port.owns(address),
            }
        })
}

/// The Azure Firewall a probe's records show it reached (the first whose
/// port received it), by name.
pub fn firewall_crossed(topology: &Topology, records: &[FlowReport]) -> Option<String> {
    records
        .iter()
        .filter(|r| r.direction == "Inbound")
        .find(|r| topology.firewalls.iter().any(|f| f.name == r.nic))
        .map(|r| r.nic.clone())
}

/// Whether `site` holds `address`: one of its hosts has it, or its
/// address space takes it in.
fn site_holds(site: &Site, address: IpAddr) -> bool {
    site.hosts.iter().any(|h| h.address == address)
        || site.address_space.iter().any(|n| n.contains(&address))
}

/// The site a probe was delivered to, when a record shows it received by
/// a tunnel into the site that holds its destination.
pub fn site_of_delivery(
    topology: &Topology,
    records: &[FlowReport],
) -> Option<crate::topology::SiteIdx> {
    let plan = Plan::derive(topology);
    records
        .iter()
        .filter(|r| r.direction == "Inbound")
        .find_map(|r| {
            let (site, _, _) = plan.ports[plan.port_by_name(&r.nic)?].kind.site_tunnel()?;
            let (address, _) = endpoint(&r.destination)?;
            site_holds(&topology.sites[site], address).then_some(site)
        })
}

/// The drop counters that moved between `before` and `after`, as (reason,
/// NIC, count).
fn moved_drops<'a>(before: &StatsReport, after: &'a StatsReport) -> Vec<(&'a str, &'a str, u64)> {
    let mut out = Vec::new();
    for (nic, stats) in &after.nics {
        for (reason, count) in &stats.drops {
            let old = before
                .nics
                .get(nic)
                .and_then(|s| s.drops.get(reason))
                .copied()
                .unwrap_or(0);
            if *count > old {
                out.push((reason.as_str(), nic.as_str(), count - old));
            }
        }
    }
    out
}

/// Why and where a probe was dropped, from the counters that moved while
/// it ran: a counter at a NIC on the probe's way (`near`) before others,
/// then any reason before `unroutable` (the kernels' IPv6 multicast
/// chatter, which moves on its own), then the one that moved most. The
/// place is named as a hop ([`hop_name`]).
pub fn drop_of(
    topology: &Topology,
    before: &StatsReport,
    after: &StatsReport,
    near: &[String],
) -> Option<(String, String)> {
    let moved = moved_drops(before, after);
    let best = moved.iter().max_by_key(|(reason, nic, count)| {
        (
            near.iter().any(|n| n == nic),
            *reason != "unroutable",
            *count,
        )
    })?;
    let (reason, nic, _) = *best;
    let plan = Plan::derive(topology);
    let at = plan
        .port_by_name(nic)
        .and_then(|i| hop_name(topology, &plan, i))
        .unwrap_or_else(|| nic.to_string());
    Some((reason.to_string(), at))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");

    fn record(nic: &str, direction: &str, source: &str, destination: &str) -> FlowReport {
        FlowReport {
            direction: direction.into(),
            packets_forward: 3,
            bytes_forward: 180,
            packets_reverse: 2,
            bytes_reverse: 120,
            age_ms: 5,
            idle_ms: 1,
            ..crate::api::report::sample_flow(nic, source, destination)
        }
    }

    fn flow() -> ProbeFlow {
        ProbeFlow {
            protocol: ExpectedProtocol::Tcp,
            source: "10.1.1.4".parse().unwrap(),
            translated_sources: Vec::new(),
            source_port: Some(40000),
            destinations: vec!["10.2.1.4".parse().unwrap()],
        }
    }

    #[test]
    fn a_probes_records_are_its_flows_that_grew() {
        let ours = record("vm2", "Inbound", "10.1.1.4:40000", "10.2.1.4:80");
        let other_port = record("vm2", "Inbound", "10.1.1.4:40001", "10.2.1.4:80");
        let mut stale = record("nva1", "Inbound", "10.1.1.4:40000", "10.2.1.4:80");
        stale.packets_forward = 7;
        let before = vec![stale.clone()];
        let after = vec![ours.clone(), other_port, stale];
        assert_eq!(probe_records(&before, &after, &flow()), vec![ours]);
    }

    #[test]
    fn hops_follow_the_next_hops_from_the_source_and_leave_it_out() {
        let t = crate::topology::parse_str("hub-spoke.yaml", HUB_SPOKE)
            .unwrap()
            .topology;
        let mut out = record("vm1", "Outbound", "10.1.1.4:40000", "10.2.1.4:80");
        out.next_hop_ip_address = Some("10.0.1.4".into());
        let records = vec![
            record("vm2", "Inbound", "10.1.1.4:40000", "10.2.1.4:80"),
            record("nva1", "Outbound", "10.1.1.4:40000", "10.2.1.4:80"),
            record("nva1", "Inbound", "10.1.1.4:40000", "10.2.1.4:80"),
            out,
        ];
        let to = "10.2.1.4".parse().unwrap();
        assert_eq!(hops(&t, &records, "vm1", to), ["nva1", "vm2"]);
        // Without the source's record, topology order.
        assert_eq!(hops(&t, &records[..3], "vm1", to), ["nva1", "vm2"]);
    }

    #[test]
    fn a_backend_answering_in_its_own_name_is_named() {
        let sent = record("vm1", "Outbound", "10.1.1.4:40000", "10.2.1.100:80");
        let untranslated = record("vm1", "Inbound", "10.2.1.5:80", "10.1.1.4:40000");
        let other_port = record("vm1", "Inbound", "10.2.1.6:80", "10.1.1.4:40001");
        let after = vec![sent.clone(), untranslated, other_port];
        let flow = ProbeFlow {
            destinations: vec!["10.2.1.100".parse().unwrap()],
            ..flow()
        };
        let to = "10.2.1.100".parse().unwrap();
        assert_eq!(
            answered_by_others(std::slice::from_ref(&sent), &after, &flow, "vm1", to),
            ["10.2.1.5:80"]
        );
        // Counted before the probe and not since: not this probe's.
        assert!(answered_by_others(&after, &after, &flow, "vm1", to).is_empty());
    }

    #[test]
    fn the_drop_on_the_way_wins_over_chatter_and_drops_elsewhere() {
        let stats = |drops: &[(&str, &str, u64)]| {
            let mut nics = BTreeMap::new();
            for (nic, reason, n) in drops {
                let entry: &mut crate::api::NicStats = nics.entry(nic.to_string()).or_default();
                entry.drops.insert(reason.to_string(), *n);
            }
            StatsReport {
                generation: 1,
                nics,
                flow_table: crate::api::FlowTableReport {
                    capacity: 1024,
                    ..Default::default()
                },
                ..Default::default()
            }
        };
        let t = crate::topology::parse_str("hub-spoke.yaml", HUB_SPOKE)
            .unwrap()
            .topology;
        let before = stats(&[("vm2", "nsg_inbound", 4), ("shared1", "unroutable", 1)]);
        let after = stats(&[
            ("vm2", "nsg_inbound", 6),
            ("vm1", "unroutable", 9),
            ("shared1", "nsg_outbound", 50),
        ]);
        let near = ["vm1".to_string(), "nva1".to_string(), "vm2".to_string()];
        assert_eq!(
            drop_of(&t, &before, &after, &near),
            Some(("nsg_inbound".to_string(), "vm2".to_string()))
        );
        assert_eq!(drop_of(&t, &before, &before, &near), None);
    }
}
