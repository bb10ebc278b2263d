//! NSG flow logs (docs/azure-behaviour.md §5, Network Watcher "NSG flow logs"),
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
//! - Deny events are judged again on the current snapshot to name the
//!   denying rule and NSG; one `D` tuple per 5-tuple per interval.
//! - Every interval (60 s by default, as Azure) it appends one record per
//!   NSG and NIC (MAC) to that NSG's hourly `PT1H.json`, at Azure's blob
//!   path under the flow-log directory.
//!
//! As in Azure, flow logs belong to NSGs: an allowed flow is logged under
//! the NSG whose rule decided it (the last NSG that allowed it), a denied
//! one under the NSG that denied it, and NICs without any NSG log nothing.
//! Only TCP and UDP flows are logged, as the format has no other protocol.

use super::{Plane, PortId};
use crate::dataplane::conntrack::TrackedFlow;
use crate::dataplane::PacketView;
use crate::engine::classifier::PacketKey;
use crate::engine::flow_table::{FlowKey, FlowTable};
use crate::snapshot::{RuleId, Snapshot};
use crate::topology::{Direction, IPPROTO_TCP, IPPROTO_UDP};
use anyhow::{Context, Result};
use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, Sender};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Azure's flow-log interval: one record per NSG and MAC per minute.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// A live flow gets a Continuing tuple this long after its previous tuple.
const CONTINUING_AFTER_MS: u64 = 5 * 60_000;
/// The flow table is read at least this often, so that short flows are
/// seen even with a long interval.
const MAX_SCAN_PERIOD: Duration = Duration::from_secs(1);
/// Deny events waiting for the flow-log thread; more are counted as lost.
const DENY_CHANNEL_CAPACITY: usize = 4096;

/// The fixed parts of the resource IDs, shared with the diagnostics.
use crate::policy::ids::{RESOURCE_GROUP, SUBSCRIPTION};
/// `systemId` of every record: the emulated fabric is one system.
const SYSTEM_ID: &str = "00000000-0000-0000-0000-000000000001";
/// Azure's OUI: Azure NICs have MAC addresses 00-0D-3A-xx-xx-xx.
const AZURE_OUI: u32 = 0x000D3A;

/// Where and how often flow logs are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLogOptions {
    pub dir: PathBuf,
    pub interval: Duration,
}

impl FlowLogOptions {
    pub fn new(dir: PathBuf) -> FlowLogOptions {
        FlowLogOptions {
            dir,
            interval: DEFAULT_INTERVAL,
        }
    }
}

/// One packet denied by an NSG, as a worker reports it. Fixed size, no
/// allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenyEvent {
    /// The stable port number of the NIC whose NSG denied it.
    pub port: PortId,
    pub direction: Direction,
    /// The rule that denied it, as the decision named it.
    pub rule: RuleId,
    pub key: PacketKey,
    pub flow_ports: (u16, u16),
    /// The daemon's clock (milliseconds since it started).
    pub time_ms: u64,
}

/// The workers' end of the deny channel.
#[derive(Debug, Clone)]
pub struct DenySink {
    sender: Sender<DenyEvent>,
    lost: Arc<AtomicU64>,
}

impl DenySink {
    /// Reports a denied packet; never blocks. When the flow-log thread is
    /// behind, the event is lost and counted.
    #[inline]
    pub fn denied(
        &self,
        port: PortId,
        direction: Direction,
        rule: RuleId,
        view: &PacketView,
        now_ms: u64,
    ) {
        let event = DenyEvent {
            port,
            direction,
            rule,
            key: view.key,
            flow_ports: view.flow_ports,
            time_ms: now_ms,
        };
        if self.sender.try_send(event).is_err() {
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The flow-log thread's end of the deny channel.
pub struct DenySource {
    receiver: Receiver<DenyEvent>,
    lost: Arc<AtomicU64>,
}

/// A bounded deny channel; events it cannot take are counted in `lost`.
pub fn deny_channel(lost: Arc<AtomicU64>) -> (DenySink, DenySource) {
    let (sender, receiver) = crossbeam_channel::bounded(DENY_CHANNEL_CAPACITY);
    (
        DenySink {
            sender,
            lost: lost.clone(),
        },
        DenySource { receiver, lost },
    )
}

/// A flow tuple's state field (version 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowState {
    Begin,
    Continuing,
    End,
}

impl FlowState {
    fn code(self) -> char {
        match self {
            FlowState::Begin => 'B',
            FlowState::Continuing => 'C',
            FlowState::End => 'E',
        }
    }
}

/// Packets and bytes since a flow's previous tuple: source to destination,
/// then destination to source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub packets_out: u64,
    pub bytes_out: u64,
    pub packets_back: u64,
    pub bytes_back: u64,
}

impl Counts {
    fn since(self, earlier: Counts) -> Counts {
        Counts {
            packets_out: self.packets_out.saturating_sub(earlier.packets_out),
            bytes_out: self.bytes_out.saturating_sub(earlier.bytes_out),
            packets_back: self.packets_back.saturating_sub(earlier.packets_back),
            bytes_back: self.bytes_back.saturating_sub(earlier.bytes_back),
        }
    }
}

/// One flow tuple, version 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowTuple {
    pub time_s: u64,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub proto: u8,
    pub direction: Direction,
    pub allowed: bool,
    pub state: FlowState,
    /// None for Begin tuples and denies: their counts are empty.
    pub counts: Option<Counts>,
}

impl FlowTuple {
    /// `ts,src,dst,srcport,dstport,T|U,I|O,A|D,B|C|E,pkts,bytes,pkts,bytes`.
    pub fn format(&self) -> String {
        let proto = if self.proto == IPPROTO_TCP { 'T' } else { 'U' };
        let direction = match self.direction {
            Direction::Inbound => 'I',
            Direction::Outbound => 'O',
        };
        let access = if self.allowed { 'A' } else { 'D' };
        let counts = match self.counts {
            Some(c) => format!(
                "{},{},{},{}",
                c.packets_out, c.bytes_out, c.packets_back, c.bytes_back
            ),
            None => ",,,".to_string(),
        };
        format!(
            "{},{},{},{},{},{proto},{direction},{access},{},{counts}",
            self.time_s,
            self.src,
            self.dst,
            self.src_port,
            self.dst_port,
            self.state.code()
        )
    }
}

/// Whether the format can say a protocol (T or U).
fn loggable(proto: u8) -> bool {
    proto == IPPROTO_TCP || proto == IPPROTO_UDP
}

/// The MAC address a NIC's records carry: Azure's OUI and the port's
/// serial (unique for the lab's life, so no two NICs share one), as 12 hex
/// digits without separators (Azure's flow-log spelling).
pub fn mac_of_port(serial: u32) -> String {
    format!("{AZURE_OUI:06X}{:06X}", serial & 0x00ff_ffff)
}

/// The ARM ID of an NSG, uppercase as flow logs write it.
pub fn nsg_resource_id(nsg: &str) -> String {
    format!(
        "/SUBSCRIPTIONS/{SUBSCRIPTION}/RESOURCEGROUPS/{RESOURCE_GROUP}/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/{}",
        nsg.to_uppercase()
    )
}

/// A rule's name as flow logs write it: `UserRule_x` or `DefaultRule_x`
/// (from the effective rule names `securityRules/x`, `defaultSecurityRules/x`).
pub fn flow_log_rule_name(effective: &str) -> String {
    if let Some(name) = effective.strip_prefix("defaultSecurityRules/") {
        format!("DefaultRule_{name}")
    } else if let Some(name) = effective.strip_prefix("securityRules/") {
        format!("UserRule_{name}")
    } else {
        format!("UserRule_{effective}")
    }
}

/// A UTC calendar date and time, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// The civil date of a day counted from 1970-01-01 (proleptic Gregorian;
/// H. Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl UtcTime {
    pub fn from_unix_seconds(secs: u64) -> UtcTime {
        let secs = secs as i64;
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let of_day = secs.rem_euclid(86_400);
        UtcTime {
            year,
            month,
            day,
            hour: (of_day / 3600) as u32,
            minute: (of_day / 60 % 60) as u32,
            second: (of_day % 60) as u32,
        }
    }
}

/// ISO 8601 in UTC with Azure's seven fractional digits.
pub fn iso8601(unix_ms: u64) -> String {
    let t = UtcTime::from_unix_seconds(unix_ms / 1000);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        (unix_ms % 1000) * 10_000
    )
}

/// The blob path of an NSG's hourly file for one MAC, under `dir`.
pub fn log_path(dir: &Path, nsg: &str, mac: &str, unix_s: u64) -> PathBuf {
    let t = UtcTime::from_unix_seconds(unix_s);
    let mut path = dir.join("resourceId=");
    for part in nsg_resource_id(nsg).split('/').filter(|p| !p.is_empty()) {
        path.push(part);
    }
    path.join(format!("y={:04}", t.year))
        .join(format!("m={:02}", t.month))
        .join(format!("d={:02}", t.day))
        .join(format!("h={:02}", t.hour))
        .join("m=00")
        .join(format!("macAddress={mac}"))
        .join("PT1H.json")
}

/// One record of a `PT1H.json` file.
#[derive(Debug, Serialize)]
pub struct Record {
    pub time: String,
    #[serde(rename = "systemId")]
    pub system_id: String,
    #[serde(rename = "macAddress")]
    pub mac_address: String,
    pub category: &'static str,
    #[serde(rename = "resourceId")]
    pub resource_id: String,
    #[serde(rename = "operationName")]
    pub operation_name: &'static str,
    pub properties: Properties,
}

#[derive(Debug, Serialize)]
pub struct Properties {
    #[serde(rename = "Version")]
    pub version: u32,
    pub flows: Vec<RuleFlows>,
}

#[derive(Debug, Serialize)]
pub struct RuleFlows {
    pub rule: String,
    pub flows: Vec<MacFlows>,
}

#[derive(Debug, Serialize)]
pub struct MacFlows {
    pub mac: String,
    #[serde(rename = "flowTuples")]
    pub flow_tuples: Vec<String>,
}

/// The record of one NSG and MAC: tuples grouped by rule, in rule order of
/// first appearance.
pub fn record(unix_ms: u64, nsg: &str, mac: &str, tuples: &[(String, String)]) -> Record {
    let mut flows: Vec<RuleFlows> = Vec::new();
    for (rule, tuple) in tuples {
        let at = match flows.iter().position(|f| &f.rule == rule) {
            Some(i) => i,
            None => {
                flows.push(RuleFlows {
                    rule: rule.clone(),
                    flows: vec![MacFlows {
                        mac: mac.to_string(),
                        flow_tuples: Vec::new(),
                    }],
                });
                flows.len() - 1
            }
        };
        flows[at].flows[0].flow_tuples.push(tuple.clone());
    }
    Record {
        time: iso8601(unix_ms),
        system_id: SYSTEM_ID.to_string(),
        mac_address: mac.to_string(),
        category: "NetworkSecurityGroupFlowEvent",
        resource_id: nsg_resource_id(nsg),
        operation_name: "NetworkSecurityGroupFlowEvents",
        properties: Properties { version: 2, flows },
    }
}

/// Appends `record` to the `{"records":[...]}` document at `path` (created
/// if missing), replacing the file atomically. `path` lies under `root`
/// (`--flow-log-dir`), and nothing below `root` is followed if it is a
/// symbolic link: every directory is opened relative to its parent with
/// `O_NOFOLLOW` (and created with `mkdirat`, mode 0750), the file is read
/// with `O_NOFOLLOW`, written as a new 0640 file with `O_EXCL`, and renamed
/// into place, which replaces a link rather than writing through it. A link
/// planted anywhere in the blob path is refused with an error, and nothing
/// is written outside `root`.
pub fn append_record(root: &Path, path: &Path, record: &Record) -> Result<()> {
    use nix::errno::Errno;
    use nix::fcntl::{open, openat, renameat, OFlag};
    use nix::sys::stat::{mkdirat, Mode};
    use nix::unistd::{unlinkat, UnlinkatFlags};
    use std::io::{Read, Write};
    use std::os::fd::OwnedFd;

    let rel = path
        .strip_prefix(root)
        .with_context(|| format!("{} is not under {}", path.display(), root.display()))?;
    let (Some(file_name), Some(dirs)) = (rel.file_name(), rel.parent()) else {
        anyhow::bail!("{} names no file", path.display());
    };
    let dir_flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY;
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    // The root itself is the user's choice, link or not.
    let mut dir: OwnedFd = open(root, OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .with_context(|| format!("opening {}", root.display()))?;
    let mut walked = root.to_path_buf();
    for part in dirs.components() {
        let name = part.as_os_str();
        walked.push(name);
        match mkdirat(&dir, name, Mode::from_bits_truncate(0o750)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", walked.display())),
        }
        dir = openat(&dir, name, dir_flags, Mode::empty()).map_err(|e| {
            let why = if e == Errno::ELOOP || e == Errno::ENOTDIR {
                " (a symbolic link or not a directory: refused)".to_string()
            } else {
                String::new()
            };
            anyhow::anyhow!("opening {}: {e}{why}", walked.display())
        })?;
    }
    let file_flags = OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut document = match openat(&dir, file_name, file_flags | OFlag::O_RDONLY, Mode::empty()) {
        Ok(fd) => {
            let mut bytes = Vec::new();
            std::fs::File::from(fd)
                .read_to_end(&mut bytes)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .filter(|v| v.get("records").is_some_and(|r| r.is_array()))
                .with_context(|| format!("{} is not a flow-log document", path.display()))?
        }
        Err(Errno::ENOENT) => serde_json::json!({ "records": [] }),
        Err(e) => {
            return Err(anyhow::anyhow!(
                "reading {}: {e}{}",
                path.display(),
                if e == Errno::ELOOP {
                    " (a symbolic link: refused)"
                } else {
                    ""
                }
            ))
        }
    };
    if let Some(records) = document.get_mut("records").and_then(|r| r.as_array_mut()) {
        records.push(serde_json::to_value(record)?);
    }
    let mut partial_name = file_name.to_os_string();
    partial_name.push(".partial");
    let partial = partial_name.as_os_str();
    // A leftover (or planted) partial file or link is removed, never
    // followed.
    match unlinkat(&dir, partial, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(e).with_context(|| format!("removing {:?}", partial)),
    }
    let fd = openat(
        &dir,
        partial,
        file_flags | OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
        Mode::from_bits_truncate(0o640),
    )
    .with_context(|| format!("creating {}.partial", path.display()))?;
    std::fs::File::from(fd)
        .write_all(&serde_json::to_vec(&document)?)
        .with_context(|| format!("writing {}.partial", path.display()))?;
    renameat(&dir, partial, &dir, file_name)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Where a flow is logged: its NSG, its NIC's MAC and the deciding rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct LogTarget {
    nsg: String,
    mac: String,
    rule: String,
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
}

/// The NSG and rule behind an allowed flow's verdict tag: the rule's stable
/// number (see [`crate::snapshot::RuleNames`]), whatever was applied since.
fn allowed_target(plane: &Plane, key: &FlowKey, rule: RuleId) -> Option<LogTarget> {
    let nic = plane.nic_of_port(PortId::new(key.nic))?;
    let rule = plane.snapshot.rule_names.get(rule)?;
    Some(LogTarget {
        nsg: rule.nsg,
        mac: mac_of_port(plane.ports[nic].serial),
        rule: flow_log_rule_name(&rule.rule),
    })
}

/// The NSG and rule that denied a packet, as its decision named them.
fn denying_target(snap: &Snapshot, serial: u32, e: &DenyEvent) -> Option<LogTarget> {
    let rule = snap.rule_names.get(e.rule)?;
    Some(LogTarget {
        nsg: rule.nsg,
        mac: mac_of_port(serial),
        rule: flow_log_rule_name(&rule.rule),
    })
}

/// The flow-log thread's state.
pub struct FlowLogger {
    pub options: FlowLogOptions,
    pub plane: Arc<ArcSwap<Plane>>,
    pub flows: Arc<FlowTable>,
    pub denies: DenySource,
    pub stop: Arc<AtomicBool>,
    /// The daemon's start, and the Unix time in milliseconds at that instant.
    pub epoch: Instant,
    pub epoch_unix_ms: u64,
    tracked: HashMap<FlowKey, Tracked>,
    /// 5-tuples (with NIC and direction) denied this interval.
    denied: HashSet<(PortId, Direction, PacketKey)>,
    pending: Vec<(LogTarget, String)>,
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
        plane: Arc<ArcSwap<Plane>>,
        flows: Arc<FlowTable>,
        denies: DenySource,
        stop: Arc<AtomicBool>,
        epoch: Instant,
    ) -> FlowLogger {
        let epoch_unix_ms = unix_ms_now().saturating_sub(epoch.elapsed().as_millis() as u64);
        FlowLogger {
            options,
            plane,
            flows,
            denies,
            stop,
            epoch,
            epoch_unix_ms,
            tracked: HashMap::new(),
            denied: HashSet::new(),
            pending: Vec::new(),
            lost_reported: 0,
        }
    }

    /// Scans and writes until stopped; then scans once more and writes what
    /// it has (flows still live get no invented end).
    pub fn run(mut self) {
        std::fs::create_dir_all(&self.options.dir).unwrap_or_else(|e| {
            eprintln!(
                "vnetd: flow logs: creating {}: {e}",
                self.options.dir.display()
            )
        });
        let interval = self.options.interval.max(Duration::from_millis(100));
        let scan_period = interval.min(MAX_SCAN_PERIOD);
        let mut next_scan = Instant::now() + scan_period;
        let mut next_write = Instant::now() + interval;
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
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

    fn unix_s(&self, daemon_ms: u64) -> u64 {
        (self.epoch_unix_ms + daemon_ms) / 1000
    }

    /// Compares the flow table with the previous scan and drains the deny
    /// events, turning both into pending tuples.
    pub fn scan(&mut self) {
        let now = self.now_ms();
        let plane = self.plane.load_full();
        let mut seen: HashSet<FlowKey> = HashSet::new();
        let mut live: Vec<(FlowKey, crate::engine::flow_table::FlowValue)> = Vec::new();
        self.flows.for_each(now, |key, value| {
            if loggable(key.proto) && !RuleId::from_tag(value.verdict_tag).is_none() {
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
                let Some(target) =
                    allowed_target(&plane, &key, RuleId::from_tag(value.verdict_tag))
                else {
                    continue;
                };
                let tuple = self.tuple(&key, value.created_ms, FlowState::Begin, None);
                self.pending.push((target.clone(), tuple));
                self.tracked.insert(
                    key,
                    Tracked {
                        created_ms: value.created_ms,
                        last_seen_ms: value.last_seen_ms,
                        latest: counts,
                        reported: Counts::default(),
                        last_tuple_ms: now,
                        target,
                    },
                );
            }
            seen.insert(key);
            let Some(t) = self.tracked.get_mut(&key) else {
                continue;
            };
            t.latest = counts;
            t.last_seen_ms = value.last_seen_ms;
            if now.saturating_sub(t.last_tuple_ms) >= CONTINUING_AFTER_MS {
                let delta = counts.since(t.reported);
                t.reported = counts;
                t.last_tuple_ms = now;
                let target = t.target.clone();
                let tuple = self.tuple(&key, now, FlowState::Continuing, Some(delta));
                self.pending.push((target, tuple));
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

    fn end(&mut self, key: &FlowKey, old: Tracked) {
        let delta = old.latest.since(old.reported);
        let tuple = self.tuple(key, old.last_seen_ms, FlowState::End, Some(delta));
        self.pending.push((old.target, tuple));
    }

    fn tuple(&self, key: &FlowKey, at_ms: u64, state: FlowState, counts: Option<Counts>) -> String {
        FlowTuple {
            time_s: self.unix_s(at_ms),
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
        .format()
    }

    fn drain_denies(&mut self, plane: &Plane) {
        let events: Vec<DenyEvent> = self.denies.receiver.try_iter().collect();
        for e in events {
            if !loggable(e.key.proto) {
                continue;
            }
            let id = (e.port, e.direction, e.key);
            if self.denied.contains(&id) {
                continue;
            }
            let Some(nic) = plane.nic_of_port(e.port) else {
                continue;
            };
            let serial = plane.ports[nic].serial;
            let Some(target) = denying_target(&plane.snapshot, serial, &e) else {
                continue;
            };
            self.denied.insert(id);
            let tuple = FlowTuple {
                time_s: self.unix_s(e.time_ms),
                src: e.key.src,
                dst: e.key.dst,
                src_port: e.flow_ports.0,
                dst_port: e.flow_ports.1,
                proto: e.key.proto,
                direction: e.direction,
                allowed: false,
                state: FlowState::Begin,
                counts: None,
            }
            .format();
            self.pending.push((target, tuple));
        }
    }

    /// Appends one record per NSG and MAC with the pending tuples.
    pub fn write(&mut self) {
        let lost = self.denies.lost.load(Ordering::Relaxed);
        if lost > self.lost_reported {
            eprintln!(
                "vnetd: flow logs: {} deny events lost (the flow-log thread fell behind)",
                lost - self.lost_reported
            );
            self.lost_reported = lost;
        }
        self.denied.clear();
        if self.pending.is_empty() {
            return;
        }
        let unix_ms = unix_ms_now();
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
                eprintln!("vnetd: flow logs: {e:#}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(state: FlowState, counts: Option<Counts>, allowed: bool) -> FlowTuple {
        FlowTuple {
            time_s: 1_542_110_379,
            src: "10.5.16.4".parse().unwrap(),
            dst: "203.0.113.115".parse().unwrap(),
            src_port: 44931,
            dst_port: 443,
            proto: IPPROTO_TCP,
            direction: Direction::Outbound,
            allowed,
            state,
            counts,
        }
    }

    #[test]
    fn tuples_are_formatted_as_azure_writes_them() {
        let c = Counts {
            packets_out: 30,
            bytes_out: 16978,
            packets_back: 24,
            bytes_back: 14008,
        };
        // The example of Azure's documentation.
        assert_eq!(
            tuple(FlowState::Continuing, Some(c), true).format(),
            "1542110379,10.5.16.4,203.0.113.115,44931,443,T,O,A,C,30,16978,24,14008"
        );
        assert_eq!(
            tuple(FlowState::Begin, None, true).format(),
            "1542110379,10.5.16.4,203.0.113.115,44931,443,T,O,A,B,,,,"
        );
        let mut deny = tuple(FlowState::Begin, None, false);
        deny.proto = IPPROTO_UDP;
        deny.direction = Direction::Inbound;
        assert_eq!(
            deny.format(),
            "1542110379,10.5.16.4,203.0.113.115,44931,443,U,I,D,B,,,,"
        );
        assert!(tuple(FlowState::End, Some(c), true)
            .format()
            .ends_with(",A,E,30,16978,24,14008"));
    }

    #[test]
    fn counts_since_the_previous_tuple() {
        let before = Counts {
            packets_out: 3,
            bytes_out: 180,
            packets_back: 2,
            bytes_back: 120,
        };
        let after = Counts {
            packets_out: 5,
            bytes_out: 400,
            packets_back: 4,
            bytes_back: 300,
        };
        assert_eq!(
            after.since(before),
            Counts {
                packets_out: 2,
                bytes_out: 220,
                packets_back: 2,
                bytes_back: 180
            }
        );
    }

    #[test]
    fn civil_dates_of_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
        assert_eq!(civil_from_days(20_088), (2024, 12, 31));
        // 2018-11-13T12:00:35Z, the time of Azure's sample record.
        assert_eq!(
            UtcTime::from_unix_seconds(1_542_110_435),
            UtcTime {
                year: 2018,
                month: 11,
                day: 13,
                hour: 12,
                minute: 0,
                second: 35
            }
        );
        assert_eq!(iso8601(1_542_110_435_389), "2018-11-13T12:00:35.3890000Z");
    }

    #[test]
    fn blob_path_follows_azure_layout() {
        let path = log_path(
            Path::new("/logs"),
            "spoke2-app-nsg",
            "000D3A000003",
            1_542_110_435,
        );
        assert_eq!(
            path,
            PathBuf::from(
                "/logs/resourceId=/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/VNETD/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/SPOKE2-APP-NSG/y=2018/m=11/d=13/h=12/m=00/macAddress=000D3A000003/PT1H.json"
            )
        );
    }

    #[test]
    fn macs_are_stable_azure_addresses_per_port() {
        assert_eq!(mac_of_port(0), "000D3A000000");
        assert_eq!(mac_of_port(3), "000D3A000003");
        assert_eq!(mac_of_port(4095), "000D3A000FFF");
        assert_eq!(mac_of_port(7), mac_of_port(7));
    }

    #[test]
    fn rule_names_use_the_flow_log_prefixes() {
        assert_eq!(
            flow_log_rule_name("defaultSecurityRules/AllowVnetInBound"),
            "DefaultRule_AllowVnetInBound"
        );
        assert_eq!(
            flow_log_rule_name("securityRules/deny-telnet"),
            "UserRule_deny-telnet"
        );
    }

    #[test]
    fn records_have_azure_field_names_and_group_by_rule() {
        let tuples = vec![
            ("UserRule_a".to_string(), "t1".to_string()),
            ("DefaultRule_b".to_string(), "t2".to_string()),
            ("UserRule_a".to_string(), "t3".to_string()),
        ];
        let r = record(1_542_110_435_000, "nsg1", "000D3A000001", &tuples);
        let v = serde_json::to_value(&r).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut expected = vec![
            "time",
            "systemId",
            "macAddress",
            "category",
            "resourceId",
            "operationName",
            "properties",
        ];
        expected.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, expected);
        assert_eq!(v["category"], "NetworkSecurityGroupFlowEvent");
        assert_eq!(v["operationName"], "NetworkSecurityGroupFlowEvents");
        assert_eq!(v["time"], "2018-11-13T12:00:35.0000000Z");
        assert_eq!(v["macAddress"], "000D3A000001");
        assert_eq!(v["resourceId"], nsg_resource_id("nsg1"));
        assert_eq!(v["properties"]["Version"], 2);
        let flows = &v["properties"]["flows"];
        assert_eq!(flows[0]["rule"], "UserRule_a");
        assert_eq!(flows[0]["flows"][0]["mac"], "000D3A000001");
        assert_eq!(
            flows[0]["flows"][0]["flowTuples"],
            serde_json::json!(["t1", "t3"])
        );
        assert_eq!(flows[1]["rule"], "DefaultRule_b");
    }

    #[test]
    fn records_are_appended_to_the_document() {
        let dir = std::env::temp_dir().join(format!("vnetd-flowlog-unit-{}", std::process::id()));
        let path = dir.join("a/PT1H.json");
        let tuples = vec![("UserRule_a".to_string(), "t1".to_string())];
        append_record(&dir, &path, &record(0, "n", "000D3A000001", &tuples)).unwrap();
        append_record(&dir, &path, &record(1000, "n", "000D3A000001", &tuples)).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["records"].as_array().unwrap().len(), 2);
        assert_eq!(v["records"][1]["time"], "1970-01-01T00:00:01.0000000Z");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A link planted where the file, its temporary file or a directory of
    /// the blob path goes never makes the logger write through it.
    #[test]
    fn planted_symlinks_are_never_followed() {
        use std::os::unix::fs::symlink;
        let base = std::env::temp_dir().join(format!("vnetd-flowlog-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (root, outside) = (base.join("logs"), base.join("outside"));
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let precious = outside.join("shadow");
        std::fs::write(&precious, "secret\n").unwrap();
        let tuples = vec![("UserRule_a".to_string(), "t1".to_string())];
        let rec = record(0, "n", "000D3A000001", &tuples);

        // The file itself is a link: refused, the target untouched.
        let path = root.join("a/PT1H.json");
        symlink(&precious, &path).unwrap();
        let err = append_record(&root, &path, &rec).unwrap_err();
        assert!(
            format!("{err:#}").contains("a symbolic link: refused"),
            "{err:#}"
        );
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "secret\n");
        std::fs::remove_file(&path).unwrap();

        // Its temporary file is a link: removed and replaced, not followed.
        symlink(&precious, root.join("a/PT1H.json.partial")).unwrap();
        append_record(&root, &path, &rec).unwrap();
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "secret\n");
        assert!(!std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink());

        // A directory of the blob path is a link out of the root: refused,
        // nothing written outside.
        symlink(&outside, root.join("b")).unwrap();
        let err = append_record(&root, &root.join("b/c/PT1H.json"), &rec).unwrap_err();
        assert!(
            format!("{err:#}").contains("a symbolic link or not a directory"),
            "{err:#}"
        );
        let outside_now: Vec<_> = std::fs::read_dir(&outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(outside_now, vec![std::ffi::OsString::from("shadow")]);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
