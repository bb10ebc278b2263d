//! NSG flow logs (docs/src/azure-behaviour.md §5, Network Watcher "NSG flow logs"),
//! written in Azure's version 2 format so that tools that read Azure's
//! flow-log blobs read these files unchanged.
//!
//! The packet path does almost nothing for it: allowed flows are already in
//! the flow table, with their counters and the NSG rule that admitted them,
//! and a denied packet costs one `try_send` of a small fixed-size
//! [`DenyEvent`] on a bounded channel (a full channel loses the event, never
//! the packet; the loss is counted). Everything else happens here, on one
//! thread:
//!
//! - Every scan (once a second, or once per interval if shorter) it reads
//!   the flow table and compares with the previous scan: a new flow gives a
//!   Begin tuple (`B`, empty counts), a flow gone gives an End tuple (`E`)
//!   with the packets and bytes each way since the flow's previous tuple, a
//!   flow alive five minutes since its previous tuple a Continuing tuple
//!   (`C`) with the counts since then. TCP flows leave the table a few
//!   seconds after their FIN or RST, so their end is seen promptly.
//! - Deny events carry the rule their decision named (so a rule changed
//!   since does not rename the deny); one `D` tuple per 5-tuple per
//!   interval.
//! - Every interval (60 s by default, as Azure) it appends one record per
//!   NSG and NIC (MAC) to that NSG's hourly `PT1H.json`, at Azure's blob
//!   path under the flow-log directory.
//!
//! A port that stands for an Azure Firewall logs instead in the shape of
//! Azure Firewall's logs ([`firewall`]): one `AZFWNatRule` or
//! `AZFWNetworkRule` row per connection it admits, when it begins, and
//! one `AZFWNetworkRule` row per 5-tuple it denies, ICMP included; the
//! rows other rooms append through the
//! [`FirewallLog`](crate::daemon::forwarding::firewall_log::FirewallLog)
//! handle are written with them.
//!
//! A NIC that a VNet flow log of the file targets (its VNet, its subnet
//! or itself, see [`crate::topology::FlowLog`]) has its tuples written
//! again in Azure's VNet flow log format ([`vnet`]), beside the NSG flow
//! logs: one record per flow log, NIC and interval, with the admin rules'
//! and the NSGs' decisions side by side. Every tuple, in both formats and
//! whichever rule decided, shows the addresses as the NIC sees them: a
//! packet denied on its way to a NIC's public IP shows the NIC's private
//! address, as the flows it admits do.
//!
//! As in Azure, flow logs belong to NSGs: an allowed flow is logged under
//! the NSG whose rule decided it (the last NSG that allowed it), a denied
//! one under the NSG that denied it, and NICs without any NSG log nothing.
//! Only TCP and UDP flows are logged, as the format has no other protocol.
//!
//! The rooms: [`format`](mod@format) is Azure's version 2 format (tuples,
//! records, rule names, MACs), [`vnet`] the VNet flow logs' version 4,
//! [`firewall`] the firewall's tables, [`calendar`] the UTC dates it is written
//! with, [`file`](mod@file) the blob layout and the append that never
//! follows a link; this module holds the thread that scans and writes.
//! The deny events it reads come from the workers through the receiving
//! end of [`crate::daemon::forwarding::deny_feed`] (the sender's side is
//! the workers' room). It may use
//! the daemon's plane and ports, the flow table, the dataplane's
//! [`TrackedFlow`], the snapshot's rule names and the threads' fault
//! injection.

pub mod calendar;
pub mod file;
pub mod firewall;
pub mod format;
pub mod vnet;

pub use file::{append_record, append_records, log_path};
pub use format::{
    flow_log_rule_name, mac_of_port, nsg_resource_id, record, Counts, FlowState, FlowTuple, Record,
};

use crate::daemon::forwarding::deny_feed::{DenyEvent, DenySource};
use crate::daemon::forwarding::firewall_log::{FirewallLogRow, FirewallLogSource};
use crate::daemon::forwarding::plane::{Plane, PublishedPlane};
use crate::daemon::forwarding::port_id::PortId;
use crate::daemon::options::FlowLogOptions;
use crate::daemon::threads::{Faults, ThreadKind};
use crate::dataplane::conntrack::{is_pin, TrackedFlow};
use crate::engine::classifier::PacketKey;
use crate::engine::flow_table::{FlowKey, FlowTable};
use crate::snapshot::edge::PublicTarget;
use crate::snapshot::{RuleId, Snapshot};
use crate::topology::Direction;
use format::loggable;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A live flow gets a Continuing tuple this long after its previous tuple.
const CONTINUING_AFTER_MS: u64 = 5 * 60_000;
/// The flow table is read at least this often, so that short flows are
/// seen even with a long interval.
const MAX_SCAN_PERIOD: Duration = Duration::from_secs(1);

/// Where a flow is logged: its NSG, its NIC's MAC and the deciding rule,
/// and the VNet flow log that logs the NIC, if one does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct LogTarget {
    nsg: String,
    mac: String,
    rule: String,
    vnet: Option<VnetLog>,
}

/// The VNet flow log of a NIC: its resource ID, target and GUID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct VnetLog {
    flow_log_id: String,
    target_id: String,
    guid: String,
}

/// The VNet flow log that logs the NIC `nic` (a VM's NIC; the most
/// specific enabled flow log whose target holds it).
fn vnet_log_of(plane: &Plane, nic: crate::plan::PortIdx) -> Option<VnetLog> {
    let port = &plane.snapshot.plan.ports[nic];
    if !port.is_vm() {
        return None;
    }
    let topology = &plane.snapshot.topology;
    let log = topology.vnet_flow_log_of(port.subnet, topology.nic_by_name(&port.name))?;
    Some(VnetLog {
        flow_log_id: vnet::flow_log_resource_id(vnet::target_region(topology, log), &log.name),
        target_id: vnet::target_resource_id(topology, log),
        guid: vnet::acl_id(&log.name),
    })
}

/// What the previous scans knew about one live flow.
struct Tracked {
    created_ms: u64,
    last_seen_ms: u64,
    /// Counts as of the latest scan, and as of the flow's previous tuple.
    latest: Counts,
    reported: Counts,
    last_tuple_ms: u64,
    target: LogTarget,
    /// The flow is an Azure Firewall's: logged once, when it began.
    firewall: bool,
}

/// The NSG and rule behind an allowed flow's verdict tag: the rule's stable
/// number (see [`crate::snapshot::RuleNames`]), whatever was applied since.
fn allowed_target(plane: &Plane, key: &FlowKey, rule: RuleId) -> Option<LogTarget> {
    let nic = plane.port_of_slot(PortId::of_owner(key.owner))?;
    let rule = plane.snapshot.rule_names.get(rule)?;
    Some(LogTarget {
        nsg: rule.nsg,
        mac: mac_of_port(plane.ports[nic].serial),
        rule: flow_log_rule_name(&rule.rule),
        vnet: vnet_log_of(plane, nic),
    })
}

/// The NSG and rule that denied a packet at the NIC `nic`, as its
/// decision named them.
fn denying_target(plane: &Plane, nic: crate::plan::PortIdx, e: &DenyEvent) -> Option<LogTarget> {
    let rule = plane.snapshot.rule_names.get(e.rule)?;
    Some(LogTarget {
        nsg: rule.nsg,
        mac: mac_of_port(plane.ports[nic].serial),
        rule: flow_log_rule_name(&rule.rule),
        vnet: vnet_log_of(plane, nic),
    })
}

/// The address a NIC sees where a packet it received is addressed to
/// `dst`: its private address for its own public IP (the edge translates
/// before the NIC's rules run), else `dst`. Every tuple, whichever rule
/// decided, shows the NIC's side of the translation.
fn as_the_nic_sees(snap: &Snapshot, nic: crate::plan::PortIdx, dst: IpAddr) -> IpAddr {
    match snap.edge.public.get(&dst) {
        Some(PublicTarget::Nic { port, private }) if *port == nic => *private,
        _ => dst,
    }
}

/// The Azure Firewall a port stands for, by name, with its policy's.
fn firewall_at(plane: &Plane, port: PortId) -> Option<(&str, &str)> {
    let fw = firewall_of(plane, port)?;
    let topology = &plane.snapshot.topology;
    Some((&fw.name, crate::policy::firewall::rules_owner(topology, fw)))
}

/// The Azure Firewall a port stands for.
fn firewall_of(plane: &Plane, port: PortId) -> Option<&crate::topology::AzureFirewall> {
    let nic = plane.port_of_slot(port)?;
    let f = plane.snapshot.plan.ports[nic].kind.firewall()?;
    Some(&plane.snapshot.topology.firewalls[f])
}

/// The flow-log thread's state.
pub struct FlowLogger {
    pub options: FlowLogOptions,
    pub plane: Arc<PublishedPlane>,
    pub flows: Arc<FlowTable>,
    pub denies: DenySource,
    /// The rows other rooms append to the firewalls' logs.
    pub firewall_rows: FirewallLogSource,
    pub stop: Arc<AtomicBool>,
    /// The daemon's start, and the Unix time in milliseconds at that instant.
    pub epoch: Instant,
    pub epoch_unix_ms: u64,
    tracked: HashMap<FlowKey, Tracked>,
    /// 5-tuples (with NIC and direction) denied this interval.
    denied: HashSet<(PortId, Direction, PacketKey)>,
    pending: Vec<(LogTarget, String)>,
    /// VNet flow log tuples not yet written.
    vnet_pending: Vec<(vnet::VnetLogTarget, String)>,
    /// Firewall log rows not yet written.
    firewall_pending: Vec<FirewallLogRow>,
    lost_reported: u64,
}

/// Unix time in milliseconds now.
pub fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl FlowLogger {
    pub fn new(
        options: FlowLogOptions,
        plane: Arc<PublishedPlane>,
        flows: Arc<FlowTable>,
        (denies, firewall_rows): (DenySource, FirewallLogSource),
        stop: Arc<AtomicBool>,
        epoch: Instant,
    ) -> FlowLogger {
        let epoch_unix_ms = unix_ms_now().saturating_sub(epoch.elapsed().as_millis() as u64);
        FlowLogger {
            options,
            plane,
            flows,
            denies,
            firewall_rows,
            stop,
            epoch,
            epoch_unix_ms,
            tracked: HashMap::new(),
            denied: HashSet::new(),
            pending: Vec::new(),
            vnet_pending: Vec::new(),
            firewall_pending: Vec::new(),
            lost_reported: 0,
        }
    }

    /// Scans and writes until stopped; then scans once more and writes what
    /// it has (flows still live get no invented end). After a panic the
    /// daemon runs it again with what it had tracked and not yet written.
    pub fn run(&mut self, faults: &Faults) {
        std::fs::create_dir_all(&self.options.dir).unwrap_or_else(|e| {
            tracing::warn!("flow logs: creating {}: {e}", self.options.dir.display())
        });
        let interval = self.options.interval.max(Duration::from_millis(100));
        let scan_period = interval.min(MAX_SCAN_PERIOD);
        let mut next_scan = Instant::now() + scan_period;
        let mut next_write = Instant::now() + interval;
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            faults.check(ThreadKind::FlowLog);
            let now = Instant::now();
            if now >= next_scan {
                self.scan();
                next_scan = now + scan_period;
            }
            if now >= next_write {
                self.write();
                next_write = now + interval;
            }
        }
        self.scan();
        self.write();
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Compares the flow table with the previous scan and drains the deny
    /// events, turning both into pending tuples.
    pub fn scan(&mut self) {
        let now = self.now_ms();
        let plane = self.plane.load_full();
        let mut seen: HashSet<FlowKey> = HashSet::new();
        let mut live: Vec<(FlowKey, crate::engine::flow_table::FlowValue)> = Vec::new();
        self.flows.for_each(now, |key, value| {
            // A load balancer's pins are not NSG flows; a firewall logs
            // every protocol.
            let kind_logged =
                loggable(key.proto) || firewall_at(&plane, PortId::of_owner(key.owner)).is_some();
            if kind_logged && !is_pin(key) && !RuleId::from_tag(value.verdict_tag).is_none() {
                live.push((*key, *value));
            }
        });
        for (key, value) in live {
            let counts = Counts {
                packets_out: value.forward_packets,
                bytes_out: value.forward_bytes,
                packets_back: value.reverse_packets,
                bytes_back: value.reverse_bytes,
            };
            let same = self
                .tracked
                .get(&key)
                .is_some_and(|t| t.created_ms == value.created_ms);
            if !same {
                // A slot reused by the same 5-tuple: the old flow ended.
                if let Some(old) = self.tracked.remove(&key) {
                    self.end(&key, old);
                }
                let rule = RuleId::from_tag(value.verdict_tag);
                let Some(target) = allowed_target(&plane, &key, rule) else {
                    continue;
                };
                let firewall = firewall_at(&plane, PortId::of_owner(key.owner));
                if let Some((name, policy)) = firewall {
                    let seen = firewall::Seen {
                        proto: key.proto,
                        src: key.src_ip(),
                        dst: key.dst_ip(),
                        ports: (key.src_port, key.dst_port),
                        allowed: true,
                    };
                    self.firewall_saw(&plane, (name, policy), rule, value.created_ms, seen);
                } else {
                    let tuple = self.tuple(&key, value.created_ms, FlowState::Begin, None);
                    self.push(&target, &tuple);
                }
                self.tracked.insert(
                    key,
                    Tracked {
                        created_ms: value.created_ms,
                        last_seen_ms: value.last_seen_ms,
                        latest: counts,
                        reported: Counts::default(),
                        last_tuple_ms: now,
                        target,
                        firewall: firewall.is_some(),
                    },
                );
            }
            seen.insert(key);
            let Some(t) = self.tracked.get_mut(&key) else {
                continue;
            };
            t.latest = counts;
            t.last_seen_ms = value.last_seen_ms;
            if !t.firewall && now.saturating_sub(t.last_tuple_ms) >= CONTINUING_AFTER_MS {
                let delta = counts.since(t.reported);
                t.reported = counts;
                t.last_tuple_ms = now;
                let target = t.target.clone();
                let tuple = self.tuple(&key, now, FlowState::Continuing, Some(delta));
                self.push(&target, &tuple);
            }
        }
        let gone: Vec<FlowKey> = self
            .tracked
            .keys()
            .filter(|k| !seen.contains(k))
            .copied()
            .collect();
        for key in gone {
            if let Some(old) = self.tracked.remove(&key) {
                self.end(&key, old);
            }
        }
        self.drain_denies(&plane);
    }

    /// Queues the record of what firewall `name` of `policy` saw at
    /// `at_ms` (on the daemon's clock), decided by `rule`.
    fn firewall_saw(
        &mut self,
        plane: &Plane,
        (name, policy): (&str, &str),
        rule: RuleId,
        at_ms: u64,
        seen: firewall::Seen,
    ) {
        let rule = plane.snapshot.rule_names.get(rule).map(|r| r.rule);
        // What only the application rules take is the proxy's to log, as
        // `AZFWApplicationRule`, once it has read the name.
        // So are the questions its DNS proxy answers, as `AZFWDnsQuery`.
        use crate::policy::firewall::{APPLICATION_RULES, DNS_PROXY};
        if matches!(rule.as_deref(), Some(APPLICATION_RULES | DNS_PROXY)) {
            return;
        }
        let topology = &plane.snapshot.topology;
        let dnat = (topology.firewalls.iter())
            .find(|f| f.name == name)
            .and_then(|f| f.policy)
            .and_then(|p| topology.edge.dnat_rules.get(&p))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let entry = firewall::rule_entry(policy, dnat, rule.as_deref().unwrap_or_default(), seen);
        self.firewall_pending.push(FirewallLogRow {
            unix_ms: self.epoch_unix_ms + at_ms,
            firewall: name.to_string(),
            entry,
        });
    }

    fn end(&mut self, key: &FlowKey, old: Tracked) {
        if old.firewall {
            return;
        }
        let delta = old.latest.since(old.reported);
        let tuple = self.tuple(key, old.last_seen_ms, FlowState::End, Some(delta));
        self.push(&old.target, &tuple);
    }

    /// Queues `tuple` for the NSG flow log of `target`, and for its VNet
    /// flow log when the NIC has one.
    fn push(&mut self, target: &LogTarget, tuple: &FlowTuple) {
        self.pending.push((target.clone(), tuple.format()));
        if let Some(log) = &target.vnet {
            let at = vnet::VnetLogTarget {
                flow_log_id: log.flow_log_id.clone(),
                target_id: log.target_id.clone(),
                guid: log.guid.clone(),
                mac: target.mac.clone(),
                acl: target.nsg.clone(),
                rule: target.rule.clone(),
            };
            self.vnet_pending.push((at, vnet::format_tuple(tuple)));
        }
    }

    fn tuple(
        &self,
        key: &FlowKey,
        at_ms: u64,
        state: FlowState,
        counts: Option<Counts>,
    ) -> FlowTuple {
        FlowTuple {
            time_ms: self.epoch_unix_ms + at_ms,
            src: key.src_ip(),
            dst: key.dst_ip(),
            src_port: key.src_port,
            dst_port: key.dst_port,
            proto: key.proto,
            direction: TrackedFlow::of(key).direction,
            allowed: true,
            state,
            counts,
        }
    }

    fn drain_denies(&mut self, plane: &Plane) {
        let events: Vec<DenyEvent> = self.denies.waiting().collect();
        for e in events {
            let firewall = firewall_at(plane, e.port);
            if !loggable(e.key.proto) && firewall.is_none() {
                continue;
            }
            let id = (e.port, e.direction, e.key);
            if self.denied.contains(&id) {
                continue;
            }
            let Some(nic) = plane.port_of_slot(e.port) else {
                continue;
            };
            let Some(target) = denying_target(plane, nic, &e) else {
                continue;
            };
            self.denied.insert(id);
            if let Some((name, policy)) = firewall {
                let seen = firewall::Seen {
                    proto: e.key.proto,
                    src: e.key.src,
                    dst: e.key.dst,
                    ports: e.flow_ports,
                    allowed: false,
                };
                self.firewall_saw(plane, (name, policy), e.rule, e.time_ms, seen);
                continue;
            }
            let dst = match e.direction {
                Direction::Inbound => as_the_nic_sees(&plane.snapshot, nic, e.key.dst),
                Direction::Outbound => e.key.dst,
            };
            let tuple = FlowTuple {
                time_ms: self.epoch_unix_ms + e.time_ms,
                src: e.key.src,
                dst,
                src_port: e.flow_ports.0,
                dst_port: e.flow_ports.1,
                proto: e.key.proto,
                direction: e.direction,
                allowed: false,
                state: FlowState::Begin,
                counts: None,
            };
            self.push(&target, &tuple);
        }
    }

    /// Appends one record per NSG and MAC with the pending tuples.
    pub fn write(&mut self) {
        let lost = self.denies.lost();
        if lost > self.lost_reported {
            tracing::warn!(
                "flow logs: {} deny events lost (the flow-log thread fell behind)",
                lost - self.lost_reported
            );
            self.lost_reported = lost;
        }
        self.denied.clear();
        let unix_ms = unix_ms_now();
        self.write_firewall_records(unix_ms);
        self.write_vnet_records(unix_ms);
        if self.pending.is_empty() {
            return;
        }
        let mut by_file: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
        for (target, tuple) in self.pending.drain(..) {
            by_file
                .entry((target.nsg, target.mac))
                .or_default()
                .push((target.rule, tuple));
        }
        for ((nsg, mac), tuples) in by_file {
            let path = log_path(&self.options.dir, &nsg, &mac, unix_ms / 1000);
            let record = record(unix_ms, &nsg, &mac, &tuples);
            if let Err(e) = append_record(&self.options.dir, &path, &record) {
                tracing::warn!("flow logs: {e:#}");
            }
        }
    }

    /// Appends one record per VNet flow log and NIC with the pending
    /// tuples to their hourly blobs.
    fn write_vnet_records(&mut self, unix_ms: u64) {
        let mut by_file: BTreeMap<(String, String), Vec<(vnet::VnetLogTarget, String)>> =
            BTreeMap::new();
        for (target, tuple) in self.vnet_pending.drain(..) {
            by_file
                .entry((target.flow_log_id.clone(), target.mac.clone()))
                .or_default()
                .push((target, tuple));
        }
        for ((flow_log_id, mac), tuples) in by_file {
            let first = tuples[0].0.clone();
            let tuples: Vec<(String, String, String)> = (tuples.into_iter())
                .map(|(t, tuple)| (t.acl, t.rule, tuple))
                .collect();
            let path = vnet::vnet_log_path(&self.options.dir, &flow_log_id, &mac, unix_ms / 1000);
            let record = vnet::vnet_record(unix_ms, &first, &tuples);
            if let Err(e) = append_records(&self.options.dir, &path, &[record]) {
                tracing::warn!("flow logs: {e:#}");
            }
        }
    }

    /// Appends each firewall's pending rows, the workers' and those the
    /// other rooms appended, to their tables' hourly blobs, in the order
    /// they were seen.
    fn write_firewall_records(&mut self, unix_ms: u64) {
        self.firewall_pending.extend(self.firewall_rows.waiting());
        let mut by_blob: BTreeMap<PathBuf, Vec<firewall::FirewallRecord>> = BTreeMap::new();
        for row in self.firewall_pending.drain(..) {
            let path = firewall::firewall_log_path(
                &self.options.dir,
                &row.entry,
                &row.firewall,
                unix_ms / 1000,
            );
            let record = firewall::firewall_record(row.unix_ms, &row.firewall, row.entry);
            by_blob.entry(path).or_default().push(record);
        }
        for (path, records) in by_blob {
            if let Err(e) = append_records(&self.options.dir, &path, &records) {
                tracing::warn!("flow logs: {e:#}");
            }
        }
    }
}
