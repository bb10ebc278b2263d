//! Network Watcher's VNet flow logs (Azure's "Virtual network flow logs",
//! log format version 4): what the NICs a flow log targets saw, the
//! decisions of the security admin rules and of the NSGs in one record,
//! spelled as Azure writes them so that tools reading Azure's blobs read
//! these unchanged. Pure functions: no I/O, no clock.
//!
//! One record per flow log, NIC (MAC) and interval, in
//! `insights-logs-flowlogflowevent/flowLogResourceID=/SUBSCRIPTIONS/…/
//! RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/
//! NETWORKWATCHERS/NETWORKWATCHER_<REGION>/FLOWLOGS/<NAME>/y=…/m=…/d=…/
//! h=…/m=00/macAddress=<MAC>/PT1H.json`:
//!
//! ```text
//! {"time", "flowLogVersion": 4, "flowLogGUID", "macAddress",
//!  "category": "FlowLogFlowEvent", "flowLogResourceID", "targetResourceID",
//!  "operationName": "FlowLogFlowEvent",
//!  "flowRecords": {"flows": [{"aclID", "flowGroups": [{"rule", "flowTuples"}]}]}}
//! ```
//!
//! `aclID` names what decided: an NSG, or the NIC's security admin rules
//! (Azure gives the resource's GUID; vnetd one derived from its name, see
//! [`acl_id`]). A tuple is
//! `ms,src,dst,srcport,dstport,protocol,I|O,B|C|E|D,encryption,packets
//! s→d,bytes s→d,packets d→s,bytes d→s`: the protocol by its IANA number,
//! `D` a denied flow, the encryption `NX` (the lab's VNets have no
//! encryption), the counts since the flow's previous tuple (zeros for `B`
//! and `D`).

use super::calendar::iso8601;
use super::file::keyed_hourly_blob;
use super::format::{FlowState, FlowTuple};
use crate::policy::ids::{RESOURCE_GROUP, SUBSCRIPTION};
use crate::topology::{Direction, FlowLog, FlowLogTarget, Topology};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The container Azure writes VNet flow logs to.
pub const CONTAINER: &str = "insights-logs-flowlogflowevent";
/// `category` and `operationName` of every record.
pub const CATEGORY: &str = "FlowLogFlowEvent";
/// The version of the format.
pub const FLOW_LOG_VERSION: u32 = 4;
/// The encryption state of every flow: not encrypted.
pub const NOT_ENCRYPTED: &str = "NX";

/// Where a tuple goes: the flow log (its resource ID, target and GUID),
/// the NIC's MAC, and what decided (the ACL and its rule).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VnetLogTarget {
    pub flow_log_id: String,
    pub target_id: String,
    pub guid: String,
    pub mac: String,
    /// The NSG's name, or the security admin rules' owner.
    pub acl: String,
    /// The rule as flow logs name it (`UserRule_…`, `DefaultRule_…`,
    /// `SecurityAdminRule_…`).
    pub rule: String,
}

/// The flow log's resource ID, in the upper case of Azure's records: the
/// region's Network Watcher in `NetworkWatcherRG`.
pub fn flow_log_resource_id(region: &str, name: &str) -> String {
    format!(
        "/SUBSCRIPTIONS/{SUBSCRIPTION}/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_{}/FLOWLOGS/{}",
        region.to_uppercase(),
        name.to_uppercase()
    )
}

/// The ARM ID of what `log` targets.
pub fn target_resource_id(topology: &Topology, log: &FlowLog) -> String {
    let network = format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Network"
    );
    match log.target {
        FlowLogTarget::VirtualNetwork(v) => {
            format!("{network}/virtualNetworks/{}", topology.vnets[v].name)
        }
        FlowLogTarget::Subnet(s) => format!(
            "{network}/virtualNetworks/{}/subnets/{}",
            topology.vnets[s.vnet].name,
            topology.subnet(s).name
        ),
        FlowLogTarget::NetworkInterface(n) => {
            format!("{network}/networkInterfaces/{}", topology.nics[n].name)
        }
    }
}

/// The region of what `log` targets: its VNet's.
pub fn target_region<'t>(topology: &'t Topology, log: &FlowLog) -> &'t str {
    let vnet = match log.target {
        FlowLogTarget::VirtualNetwork(v) => v,
        FlowLogTarget::Subnet(s) => s.vnet,
        FlowLogTarget::NetworkInterface(n) => topology.nics[n].subnet.vnet,
    };
    &topology.vnets[vnet].location
}

/// A GUID derived from `name` (two FNV-1a hashes): stable for the name,
/// in the 8-4-4-4-12 spelling of Azure's GUIDs.
pub fn acl_id(name: &str) -> String {
    let hash = |seed: u64| {
        name.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let (a, b) = (hash(0xcbf2_9ce4_8422_2325), hash(0x6c62_272e_07bb_0142));
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The hourly blob of the flow log `flow_log_id` for the NIC `mac` at
/// `unix_s`.
pub fn vnet_log_path(dir: &Path, flow_log_id: &str, mac: &str, unix_s: u64) -> PathBuf {
    keyed_hourly_blob(
        dir.join(CONTAINER),
        "flowLogResourceID=",
        flow_log_id,
        unix_s,
    )
    .join(format!("macAddress={mac}"))
    .join("PT1H.json")
}

/// `tuple` in version 4's spelling.
pub fn format_tuple(tuple: &FlowTuple) -> String {
    let direction = match tuple.direction {
        Direction::Inbound => 'I',
        Direction::Outbound => 'O',
    };
    let state = match (tuple.allowed, tuple.state) {
        (false, _) => 'D',
        (true, FlowState::Begin) => 'B',
        (true, FlowState::Continuing) => 'C',
        (true, FlowState::End) => 'E',
    };
    let c = tuple.counts.unwrap_or_default();
    format!(
        "{},{},{},{},{},{},{direction},{state},{NOT_ENCRYPTED},{},{},{},{}",
        tuple.time_ms,
        tuple.src,
        tuple.dst,
        tuple.src_port,
        tuple.dst_port,
        tuple.proto,
        c.packets_out,
        c.bytes_out,
        c.packets_back,
        c.bytes_back
    )
}

/// One record of a VNet flow log's `PT1H.json`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct VnetRecord {
    pub time: String,
    #[serde(rename = "flowLogVersion")]
    pub flow_log_version: u32,
    #[serde(rename = "flowLogGUID")]
    pub flow_log_guid: String,
    #[serde(rename = "macAddress")]
    pub mac_address: String,
    pub category: &'static str,
    #[serde(rename = "flowLogResourceID")]
    pub flow_log_resource_id: String,
    #[serde(rename = "targetResourceID")]
    pub target_resource_id: String,
    #[serde(rename = "operationName")]
    pub operation_name: &'static str,
    #[serde(rename = "flowRecords")]
    pub flow_records: FlowRecords,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct FlowRecords {
    pub flows: Vec<AclFlows>,
}

/// The tuples one ACL (an NSG, or the security admin rules) decided.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct AclFlows {
    #[serde(rename = "aclID")]
    pub acl_id: String,
    #[serde(rename = "flowGroups")]
    pub flow_groups: Vec<FlowGroup>,
}

/// The tuples one rule decided.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct FlowGroup {
    pub rule: String,
    #[serde(rename = "flowTuples")]
    pub flow_tuples: Vec<String>,
}

/// The record of one flow log and NIC, written at `unix_ms`: `tuples`
/// (each with its ACL and rule) grouped by ACL, then by rule, in order of
/// first appearance. `first` gives the flow log and the NIC.
pub fn vnet_record(
    unix_ms: u64,
    first: &VnetLogTarget,
    tuples: &[(String, String, String)],
) -> VnetRecord {
    let mut flows: Vec<AclFlows> = Vec::new();
    for (acl, rule, tuple) in tuples {
        let id = acl_id(acl);
        let at = match flows.iter().position(|f| f.acl_id == id) {
            Some(i) => i,
            None => {
                flows.push(AclFlows {
                    acl_id: id,
                    flow_groups: Vec::new(),
                });
                flows.len() - 1
            }
        };
        let groups = &mut flows[at].flow_groups;
        let group = match groups.iter().position(|g| &g.rule == rule) {
            Some(i) => i,
            None => {
                groups.push(FlowGroup {
                    rule: rule.clone(),
                    flow_tuples: Vec::new(),
                });
                groups.len() - 1
            }
        };
        groups[group].flow_tuples.push(tuple.clone());
    }
    VnetRecord {
        time: iso8601(unix_ms),
        flow_log_version: FLOW_LOG_VERSION,
        flow_log_guid: first.guid.clone(),
        mac_address: first.mac.clone(),
        category: CATEGORY,
        flow_log_resource_id: first.flow_log_id.clone(),
        target_resource_id: first.target_id.clone(),
        operation_name: CATEGORY,
        flow_records: FlowRecords { flows },
    }
}

#[cfg(test)]
mod tests {
    use super::super::format::Counts;
    use super::*;
    use crate::topology::IPPROTO_TCP;

    fn tuple(allowed: bool, state: FlowState, counts: Option<Counts>) -> FlowTuple {
        FlowTuple {
            time_ms: 1_663_146_003_599,
            src: "203.0.113.10".parse().unwrap(),
            dst: "10.1.1.4".parse().unwrap(),
            src_port: 40000,
            dst_port: 80,
            proto: IPPROTO_TCP,
            direction: Direction::Inbound,
            allowed,
            state,
            counts,
        }
    }

    #[test]
    fn tuples_are_version_4() {
        assert_eq!(
            format_tuple(&tuple(true, FlowState::Begin, None)),
            "1663146003599,203.0.113.10,10.1.1.4,40000,80,6,I,B,NX,0,0,0,0"
        );
        let counts = Counts {
            packets_out: 6,
            bytes_out: 3320,
            packets_back: 4,
            bytes_back: 3216,
        };
        assert_eq!(
            format_tuple(&tuple(true, FlowState::End, Some(counts))),
            "1663146003599,203.0.113.10,10.1.1.4,40000,80,6,I,E,NX,6,3320,4,3216"
        );
        assert_eq!(
            format_tuple(&tuple(false, FlowState::Begin, None)),
            "1663146003599,203.0.113.10,10.1.1.4,40000,80,6,I,D,NX,0,0,0,0"
        );
    }

    #[test]
    fn records_group_by_acl_then_rule_with_azures_names() {
        let first = VnetLogTarget {
            flow_log_id: flow_log_resource_id("westeurope", "spoke1-flows"),
            target_id: "/subscriptions/x/virtualNetworks/spoke1".into(),
            guid: acl_id("spoke1-flows"),
            mac: "000D3A000003".into(),
            acl: String::new(),
            rule: String::new(),
        };
        let tuples = [
            (
                "app-nsg".to_string(),
                "UserRule_web".to_string(),
                "t1".to_string(),
            ),
            (
                "admin".to_string(),
                "SecurityAdminRule_a/b/c".to_string(),
                "t2".to_string(),
            ),
            (
                "app-nsg".to_string(),
                "UserRule_web".to_string(),
                "t3".to_string(),
            ),
        ];
        let value = serde_json::to_value(vnet_record(0, &first, &tuples)).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "time": "1970-01-01T00:00:00.0000000Z",
                "flowLogVersion": 4,
                "flowLogGUID": acl_id("spoke1-flows"),
                "macAddress": "000D3A000003",
                "category": "FlowLogFlowEvent",
                "flowLogResourceID": "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_WESTEUROPE/FLOWLOGS/SPOKE1-FLOWS",
                "targetResourceID": "/subscriptions/x/virtualNetworks/spoke1",
                "operationName": "FlowLogFlowEvent",
                "flowRecords": {"flows": [
                    {"aclID": acl_id("app-nsg"), "flowGroups": [{"rule": "UserRule_web", "flowTuples": ["t1", "t3"]}]},
                    {"aclID": acl_id("admin"), "flowGroups": [{"rule": "SecurityAdminRule_a/b/c", "flowTuples": ["t2"]}]}
                ]}
            })
        );
        assert_eq!(
            vnet_log_path(Path::new("/l"), &first.flow_log_id, &first.mac, 1_542_110_435),
            PathBuf::from("/l/insights-logs-flowlogflowevent/flowLogResourceID=/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_WESTEUROPE/FLOWLOGS/SPOKE1-FLOWS/y=2018/m=11/d=13/h=12/m=00/macAddress=000D3A000003/PT1H.json")
        );
    }

    #[test]
    fn acl_ids_are_stable_guids_that_tell_names_apart() {
        let id = acl_id("app-nsg");
        assert_eq!(id, acl_id("app-nsg"));
        assert_ne!(id, acl_id("locked-nsg"));
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }
}
