//! gobgp's JSON (`gobgp -j`): RIB replies, neighbour lists and the lines
//! of `gobgp monitor ... -j`, read through typed shapes of the parts vnetd
//! uses (unknown fields are ignored; a number gobgp leaves out is 0, as
//! gobgp omits zero values) into the types of `routes.rs`. A reply
//! of the wrong shape is refused naming where in it (for example
//! `[0].conf.peer_asn: invalid type`).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use anyhow::{anyhow, bail, Context, Result};
use ipnet::Ipv4Net;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::routes::{AdvertisedPath, LearnedPath, NeighborStatus, Origin};

/// `value` read as a `T`, or an error naming where it did not fit.
fn typed<T: DeserializeOwned>(value: &Value, what: &str) -> Result<T> {
    let mut track = serde_path_to_error::Track::new();
    let deserializer = serde_path_to_error::Deserializer::new(value, &mut track);
    T::deserialize(deserializer).map_err(|e| {
        let at = track.path().to_string();
        anyhow!("{what}: at `{at}`: {e}")
    })
}

/// One path of a RIB reply or of a monitor line.
#[derive(Debug, Deserialize)]
struct Path {
    #[serde(default)]
    nlri: Option<Nlri>,
    /// Null for a path gobgp is taking out (a withdrawal it still shows).
    #[serde(default)]
    attrs: Option<Vec<Attribute>>,
    /// Where the path was learned; absent (or not an address) for one
    /// originated here.
    #[serde(rename = "neighbor-ip", default)]
    neighbor_ip: Option<String>,
    /// Whether gobgpd takes this path as the prefix's best.
    #[serde(default)]
    best: bool,
    #[serde(default)]
    withdrawal: bool,
}

#[derive(Debug, Deserialize)]
struct Nlri {
    prefix: String,
}

/// A path attribute: type 1 ORIGIN (`value`), type 2 AS_PATH
/// (`as_paths[].asns[]`), type 3 NEXT_HOP or type 14 MP_REACH_NLRI
/// (`nexthop`); the others are passed over.
#[derive(Debug, Deserialize)]
struct Attribute {
    #[serde(rename = "type")]
    kind: u64,
    /// ORIGIN's number; other attributes carry other kinds of value.
    #[serde(default)]
    value: Value,
    #[serde(default)]
    as_paths: Vec<AsPathSegment>,
    #[serde(default)]
    nexthop: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AsPathSegment {
    #[serde(default)]
    asns: Vec<u32>,
}

impl Path {
    /// The neighbour it was learned from, if any.
    fn neighbor(&self) -> Option<Ipv4Addr> {
        self.neighbor_ip.as_deref().and_then(|ip| ip.parse().ok())
    }
}

fn parse_origin(value: u64) -> Result<Origin> {
    match value {
        0 => Ok(Origin::Igp),
        1 => Ok(Origin::Egp),
        2 => Ok(Origin::Incomplete),
        other => bail!("unknown ORIGIN {other}"),
    }
}

/// The attributes of a path in gobgp's JSON that these types carry.
struct PathAttributes {
    next_hop: Ipv4Addr,
    as_path: Vec<u32>,
    origin: Origin,
}

/// Reads the attributes of one path of `gobgp -j ... rib`.
fn parse_attributes(prefix: Ipv4Net, attrs: &[Attribute]) -> Result<PathAttributes> {
    let mut origin = None;
    let mut as_path = Vec::new();
    let mut next_hop = None;
    for attr in attrs {
        match attr.kind {
            1 => origin = Some(parse_origin(attr.value.as_u64().unwrap_or(0))?),
            2 => as_path.extend(attr.as_paths.iter().flat_map(|s| s.asns.iter().copied())),
            3 | 14 => {
                if let Some(text) = &attr.nexthop {
                    next_hop = Some(
                        text.parse()
                            .with_context(|| format!("next hop {text:?} of {prefix}"))?,
                    );
                }
            }
            _ => {}
        }
    }
    Ok(PathAttributes {
        next_hop: next_hop.ok_or_else(|| anyhow!("a path to {prefix} without a next hop"))?,
        as_path,
        origin: origin.unwrap_or(Origin::Incomplete),
    })
}

/// Each path of a `gobgp -j ... rib` reply (an object of prefix to the
/// list of its paths) that is not being taken out, with its prefix and
/// attributes.
fn rib_paths(rib: &Value) -> Result<Vec<(Ipv4Net, Path, Vec<Attribute>)>> {
    let destinations: BTreeMap<String, Option<Vec<Path>>> = typed(rib, "a RIB reply")?;
    let mut out = Vec::new();
    for (prefix, paths) in destinations {
        let prefix: Ipv4Net = prefix
            .parse()
            .with_context(|| format!("prefix {prefix:?} of the RIB"))?;
        for mut path in paths.into_iter().flatten() {
            if let Some(attrs) = path.attrs.take() {
                out.push((prefix, path, attrs));
            }
        }
    }
    Ok(out)
}

/// Parses `gobgp -j global rib`: the paths with a `neighbor-ip` were
/// learned, the others are originated here.
pub fn parse_learned(rib: &Value) -> Result<Vec<LearnedPath>> {
    let mut out = Vec::new();
    for (prefix, path, attrs) in rib_paths(rib)? {
        let Some(neighbor) = path.neighbor() else {
            continue;
        };
        let attrs = parse_attributes(prefix, &attrs)?;
        out.push(LearnedPath {
            prefix,
            neighbor,
            next_hop: attrs.next_hop,
            as_path: attrs.as_path,
            origin: attrs.origin,
            best: path.best,
        });
    }
    Ok(out)
}

/// The prefixes originated here in a `gobgp -j global rib` reply.
pub fn parse_originated(rib: &Value) -> Result<Vec<Ipv4Net>> {
    let mut out: Vec<Ipv4Net> = rib_paths(rib)?
        .into_iter()
        .filter(|(_, path, _)| path.neighbor().is_none())
        .map(|(prefix, _, _)| prefix)
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Parses `gobgp -j neighbor N adj-out`.
pub fn parse_advertised(rib: &Value) -> Result<Vec<AdvertisedPath>> {
    rib_paths(rib)?
        .into_iter()
        .map(|(prefix, _, attrs)| {
            let attrs = parse_attributes(prefix, &attrs)?;
            Ok(AdvertisedPath {
                prefix,
                next_hop: attrs.next_hop,
                as_path: attrs.as_path,
                origin: attrs.origin,
            })
        })
        .collect()
}

fn session_state_name(code: u64) -> &'static str {
    match code {
        1 => "Idle",
        2 => "Connect",
        3 => "Active",
        4 => "OpenSent",
        5 => "OpenConfirm",
        6 => "Established",
        _ => "Unknown",
    }
}

fn admin_state_name(code: u64) -> &'static str {
    match code {
        0 => "Up",
        1 => "Down",
        2 => "PrefixLimit",
        _ => "Unknown",
    }
}

/// One peer of `gobgp -j neighbor`, as far as vnetd reads it.
#[derive(Debug, Deserialize)]
struct Peer {
    conf: PeerConf,
    #[serde(default)]
    state: PeerState,
    #[serde(default)]
    timers: Timers,
    #[serde(default)]
    afi_safis: Vec<AfiSafi>,
}

#[derive(Debug, Deserialize)]
struct PeerConf {
    neighbor_address: String,
    #[serde(default)]
    peer_asn: u32,
}

/// `session_state` and `admin_state` are gobgp's enum numbers.
#[derive(Debug, Default, Deserialize)]
struct PeerState {
    #[serde(default)]
    session_state: u64,
    #[serde(default)]
    admin_state: u64,
    #[serde(default)]
    messages: Messages,
}

#[derive(Debug, Default, Deserialize)]
struct Messages {
    #[serde(default)]
    sent: Total,
    #[serde(default)]
    received: Total,
}

#[derive(Debug, Default, Deserialize)]
struct Total {
    #[serde(default)]
    total: u64,
}

#[derive(Debug, Default, Deserialize)]
struct Timers {
    #[serde(default)]
    state: TimersState,
}

#[derive(Debug, Default, Deserialize)]
struct TimersState {
    #[serde(default)]
    uptime: Seconds,
}

/// The Unix time the session came up.
#[derive(Debug, Default, Deserialize)]
struct Seconds {
    #[serde(default)]
    seconds: u64,
}

#[derive(Debug, Default, Deserialize)]
struct AfiSafi {
    #[serde(default)]
    state: AfiSafiState,
}

#[derive(Debug, Default, Deserialize)]
struct AfiSafiState {
    #[serde(default)]
    received: u64,
    #[serde(default)]
    accepted: u64,
}

/// Parses `gobgp -j neighbor` (a list of peers, or null for none): each
/// peer's address and ASN, session and administrative state, messages
/// sent and received, how long the session has been up (from the Unix
/// time it came up and `now_unix`) and the routes received and accepted
/// over all its address families.
pub fn parse_neighbors(peers: &Value, now_unix: u64) -> Result<Vec<NeighborStatus>> {
    let peers: Option<Vec<Peer>> = typed(peers, "the neighbour list")?;
    let mut out = Vec::new();
    for peer in peers.into_iter().flatten() {
        let address = &peer.conf.neighbor_address;
        let address = address
            .parse()
            .with_context(|| format!("neighbour address {address:?}"))?;
        let state = session_state_name(peer.state.session_state);
        let uptime_secs = (state == "Established")
            .then(|| now_unix.saturating_sub(peer.timers.state.uptime.seconds));
        out.push(NeighborStatus {
            address,
            asn: peer.conf.peer_asn,
            state: state.to_owned(),
            admin_state: admin_state_name(peer.state.admin_state).to_owned(),
            uptime_secs,
            routes_received: peer.afi_safis.iter().map(|f| f.state.received).sum(),
            routes_accepted: peer.afi_safis.iter().map(|f| f.state.accepted).sum(),
            messages_sent: peer.state.messages.sent.total,
            messages_received: peer.state.messages.received.total,
        });
    }
    Ok(out)
}

/// One path of a `gobgp monitor ... -j` line: a route that became best
/// (or arrived, for `adj-in`), or one withdrawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RibChange {
    pub prefix: Ipv4Net,
    /// The neighbour it came from; `None` for a route originated here.
    pub neighbor: Option<Ipv4Addr>,
    pub withdrawal: bool,
}

/// Parses one line of `gobgp monitor global rib -j` or `gobgp monitor
/// adj-in -j`: a list of paths, each with `nlri.prefix`, its
/// `neighbor-ip` when learned, and `withdrawal: true` when withdrawn. An
/// empty list is a change gobgp reports without a path (nothing to read).
pub fn parse_monitor_line(line: &str) -> Result<Vec<RibChange>> {
    let value: Value =
        serde_json::from_str(line).with_context(|| format!("parsing gobgp's JSON: {line}"))?;
    let paths: Vec<Path> = typed(&value, "a monitor line")?;
    paths
        .into_iter()
        .map(|path| {
            let prefix = path
                .nlri
                .as_ref()
                .map(|n| n.prefix.as_str())
                .ok_or_else(|| anyhow!("a path without a prefix in {line}"))?;
            Ok(RibChange {
                prefix: prefix
                    .parse()
                    .with_context(|| format!("prefix {prefix:?} in {line}"))?,
                neighbor: path.neighbor(),
                withdrawal: path.withdrawal,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::v4_net as net;

    #[test]
    fn rib_json_is_read_into_learned_and_originated_paths() {
        let rib: Value = serde_json::from_str(
            r#"{"10.200.0.0/16":[{"nlri":{"prefix":"10.200.0.0/16"},"age":1,"best":true,
            "attrs":[{"type":1,"value":0},{"type":2,"as_paths":[{"segment_type":2,"num":1,"asns":[65010]}]},
            {"type":3,"nexthop":"10.77.0.2"}],"stale":false,"source-id":"10.77.0.2","neighbor-ip":"10.77.0.2"}],
            "172.16.0.0/16":[{"nlri":{"prefix":"172.16.0.0/16"},"age":1,"best":true,
            "attrs":[{"type":1,"value":2},{"type":3,"nexthop":"0.0.0.0"}],"stale":false}],
            "10.10.0.0/16":[{"age":1795589647,"attrs":null,"best":false,"neighbor-ip":"10.10.255.30",
            "nlri":{"prefix":"10.10.0.0/16"},"source-id":"10.10.255.30","stale":false}]}"#,
        )
        .expect("literal JSON");
        let learned = parse_learned(&rib).expect("parses");
        assert_eq!(
            learned,
            vec![LearnedPath {
                prefix: net("10.200.0.0/16"),
                neighbor: Ipv4Addr::new(10, 77, 0, 2),
                next_hop: Ipv4Addr::new(10, 77, 0, 2),
                as_path: vec![65010],
                origin: Origin::Igp,
                best: true,
            }]
        );
        assert_eq!(
            parse_originated(&rib).expect("parses"),
            vec![net("172.16.0.0/16")]
        );
    }

    #[test]
    fn neighbor_json_gives_state_uptime_and_counters() {
        let peers: Value = serde_json::from_str(
            r#"[{"conf":{"local_asn":65515,"neighbor_address":"10.77.0.2","peer_asn":65010},
            "state":{"messages":{"received":{"update":2,"total":4},"sent":{"total":3}},
            "session_state":6},"timers":{"state":{"uptime":{"seconds":1000}}},
            "afi_safis":[{"state":{"received":2,"accepted":1}}]},
            {"conf":{"neighbor_address":"10.77.0.3","peer_asn":65020},
            "state":{"session_state":1,"admin_state":2}}]"#,
        )
        .expect("literal JSON");
        let status = parse_neighbors(&peers, 1030).expect("parses");
        assert_eq!(status[0].state, "Established");
        assert_eq!(status[0].uptime_secs, Some(30));
        assert_eq!(status[0].routes_received, 2);
        assert_eq!(status[0].routes_accepted, 1);
        assert_eq!(
            (status[0].messages_sent, status[0].messages_received),
            (3, 4)
        );
        assert_eq!(status[1].state, "Idle");
        assert_eq!(status[1].admin_state, "PrefixLimit");
        assert_eq!(status[1].uptime_secs, None);
    }

    #[test]
    fn monitor_lines_give_learned_originated_and_withdrawn_prefixes() {
        let learned = r#"[{"nlri":{"prefix":"10.6.0.0/16"},"age":1795468043,"best":false,
            "attrs":[{"type":1,"value":2},{"type":2,"as_paths":[{"segment_type":2,"num":1,"asns":[65002]}]},
            {"type":3,"nexthop":"192.0.2.1"}],"stale":false,"source-id":"127.0.0.3","neighbor-ip":"127.0.0.3"},
            {"nlri":{"prefix":"172.1.0.0/16"},"age":1795468019,"best":false,
            "attrs":[{"type":1,"value":2},{"type":3,"nexthop":"0.0.0.0"}],"stale":false}]"#;
        let withdrawn = r#"[{"nlri":{"prefix":"10.6.0.0/16"},"age":1795468043,"best":false,
            "attrs":[{"type":1,"value":2},{"type":3,"nexthop":"192.0.2.1"}],"stale":false,
            "withdrawal":true,"source-id":"127.0.0.3","neighbor-ip":"127.0.0.3"}]"#;
        let neighbor = Some(Ipv4Addr::new(127, 0, 0, 3));
        assert_eq!(
            parse_monitor_line(learned).expect("parses"),
            vec![
                RibChange {
                    prefix: net("10.6.0.0/16"),
                    neighbor,
                    withdrawal: false
                },
                RibChange {
                    prefix: net("172.1.0.0/16"),
                    neighbor: None,
                    withdrawal: false
                },
            ]
        );
        assert_eq!(
            parse_monitor_line(withdrawn).expect("parses"),
            vec![RibChange {
                prefix: net("10.6.0.0/16"),
                neighbor,
                withdrawal: true
            }]
        );
        assert_eq!(parse_monitor_line("[]").expect("parses"), vec![]);
        assert!(parse_monitor_line("{}").is_err());
    }

    #[test]
    fn a_reply_of_the_wrong_shape_is_refused_naming_where() {
        let peers: Value = serde_json::from_str(
            r#"[{"conf":{"neighbor_address":"10.77.0.2","peer_asn":65010}},
            {"conf":{"neighbor_address":"10.77.0.3","peer_asn":"65020"}}]"#,
        )
        .expect("literal JSON");
        let err = parse_neighbors(&peers, 0).expect_err("an ASN as a string");
        assert!(
            format!("{err:#}").contains("at `[1].conf.peer_asn`"),
            "{err:#}"
        );
        let rib: Value = serde_json::from_str(
            r#"{"10.200.0.0/16":[{"nlri":{"prefix":"10.200.0.0/16"},"neighbor-ip":"10.77.0.2",
            "attrs":[{"type":2,"as_paths":[{"asns":[4294967296]}]},{"type":3,"nexthop":"10.77.0.2"}]}]}"#,
        )
        .expect("literal JSON");
        let err = parse_learned(&rib).expect_err("an ASN past 32 bits");
        assert!(
            format!("{err:#}").contains("at `10.200.0.0/16[0].attrs[0].as_paths[0].asns[0]`"),
            "{err:#}"
        );
        assert!(parse_neighbors(&Value::Null, 0).expect("none").is_empty());
    }
}
