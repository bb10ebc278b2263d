//! Azure's NSG flow-log format, version 2: flow tuples, the records of a
//! `PT1H.json` document, rule names with their `UserRule_`/`DefaultRule_`
//! prefixes, MAC addresses and NSG resource IDs, spelled exactly as Azure
//! writes them so that tools reading Azure's blobs read these unchanged.
//! Pure functions: no I/O, no clock.

use super::calendar::iso8601;
use crate::policy::ids::{RESOURCE_GROUP, SUBSCRIPTION};
use crate::topology::{Direction, IPPROTO_TCP, IPPROTO_UDP};
use serde::Serialize;
use std::net::IpAddr;

/// `systemId` of every record: the emulated fabric is one system.
const SYSTEM_ID: &str = "00000000-0000-0000-0000-000000000001";
/// Azure's OUI: Azure NICs have MAC addresses 00-0D-3A-xx-xx-xx.
const AZURE_OUI: u32 = 0x000D3A;

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
    pub fn since(self, earlier: Counts) -> Counts {
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
    /// Unix time in milliseconds (version 2 writes the seconds).
    pub time_ms: u64,
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
            self.time_ms / 1000,
            self.src,
            self.dst,
            self.src_port,
            self.dst_port,
            self.state.code()
        )
    }
}

/// Whether the format can say a protocol (T or U).
pub fn loggable(proto: u8) -> bool {
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
/// (from the effective rule names `securityRules/x`, `defaultSecurityRules/x`),
/// and `SecurityAdminRule_configuration/collection/rule` for a security
/// admin rule (`securityAdminRules/...`).
pub fn flow_log_rule_name(effective: &str) -> String {
    if let Some(name) = effective.strip_prefix("defaultSecurityRules/") {
        format!("DefaultRule_{name}")
    } else if let Some(path) = effective.strip_prefix("securityAdminRules/") {
        format!("SecurityAdminRule_{path}")
    } else if let Some(name) = effective.strip_prefix("securityRules/") {
        format!("UserRule_{name}")
    } else {
        format!("UserRule_{effective}")
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(state: FlowState, counts: Option<Counts>, allowed: bool) -> FlowTuple {
        FlowTuple {
            time_ms: 1_542_110_379_000,
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
}
