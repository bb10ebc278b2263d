//! gobgp's JSON (`gobgp -j`): RIB replies, neighbour lists and the lines
//! of `gobgp monitor ... -j`, read into this module's parent's types.

use std::net::Ipv4Addr;

use anyhow::{anyhow, bail, Context, Result};
use ipnet::Ipv4Net;
use serde_json::Value;

use super::{AdvertisedPath, LearnedPath, NeighborStatus, Origin};

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

/// Reads `attrs` of one path of `gobgp -j ... rib`: type 1 ORIGIN
/// (`value`), type 2 AS_PATH (`as_paths[].asns[]`), type 3 NEXT_HOP
/// (`nexthop`) or type 14 MP_REACH_NLRI (`nexthop`).
fn parse_attributes(path: &Value) -> Result<PathAttributes> {
    let attrs = path["attrs"]
        .as_array()
        .ok_or_else(|| anyhow!("path without attrs: {path}"))?;
    let mut origin = None;
    let mut as_path = Vec::new();
    let mut next_hop = None;
    for attr in attrs {
        match attr["type"].as_u64() {
            Some(1) => {
                let value = attr["value"].as_u64().unwrap_or(0);
                origin = Some(parse_origin(value)?);
            }
            Some(2) => {
                for segment in attr["as_paths"].as_array().into_iter().flatten() {
                    for asn in segment["asns"].as_array().into_iter().flatten() {
                        let asn = asn
                            .as_u64()
                            .and_then(|asn| u32::try_from(asn).ok())
                            .ok_or_else(|| anyhow!("bad ASN in {attr}"))?;
                        as_path.push(asn);
                    }
                }
            }
            Some(3) | Some(14) => {
                if let Some(text) = attr["nexthop"].as_str() {
                    next_hop = Some(
                        text.parse()
                            .with_context(|| format!("next hop {text:?} of {path}"))?,
                    );
                }
            }
            _ => {}
        }
    }
    Ok(PathAttributes {
        next_hop: next_hop.ok_or_else(|| anyhow!("path without a next hop: {path}"))?,
        as_path,
        origin: origin.unwrap_or(Origin::Incomplete),
    })
}

/// Each path of a `gobgp -j ... rib` reply (an object of prefix to the
/// list of its paths), with its prefix. A path listed with null `attrs` is
/// one gobgp is taking out (a withdrawal it still shows): not a path.
fn rib_paths(rib: &Value) -> Result<Vec<(Ipv4Net, &Value)>> {
    let Some(destinations) = rib.as_object() else {
        bail!("a RIB reply is not an object: {rib}");
    };
    let mut out = Vec::new();
    for (prefix, paths) in destinations {
        let prefix: Ipv4Net = prefix
            .parse()
            .with_context(|| format!("prefix {prefix:?} of the RIB"))?;
        for path in paths.as_array().into_iter().flatten() {
            if !path["attrs"].is_null() {
                out.push((prefix, path));
            }
        }
    }
    Ok(out)
}

/// Parses `gobgp -j global rib`: the paths with a `neighbor-ip` were
/// learned, the others are originated here.
pub fn parse_learned(rib: &Value) -> Result<Vec<LearnedPath>> {
    let mut out = Vec::new();
    for (prefix, path) in rib_paths(rib)? {
        let Some(neighbor) = path["neighbor-ip"].as_str() else {
            continue;
        };
        let Ok(neighbor) = neighbor.parse() else {
            continue;
        };
        let attrs = parse_attributes(path)?;
        out.push(LearnedPath {
            prefix,
            neighbor,
            next_hop: attrs.next_hop,
            as_path: attrs.as_path,
            origin: attrs.origin,
        });
    }
    Ok(out)
}

/// The prefixes originated here in a `gobgp -j global rib` reply.
pub fn parse_originated(rib: &Value) -> Result<Vec<Ipv4Net>> {
    let mut out: Vec<Ipv4Net> = rib_paths(rib)?
        .into_iter()
        .filter(|(_, path)| {
            path["neighbor-ip"]
                .as_str()
                .is_none_or(|ip| ip.parse::<Ipv4Addr>().is_err())
        })
        .map(|(prefix, _)| prefix)
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Parses `gobgp -j neighbor N adj-out`.
pub fn parse_advertised(rib: &Value) -> Result<Vec<AdvertisedPath>> {
    rib_paths(rib)?
        .into_iter()
        .map(|(prefix, path)| {
            let attrs = parse_attributes(path)?;
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

/// Parses `gobgp -j neighbor` (a list of peers): `conf.neighbor_address`,
/// `conf.peer_asn`, `state.session_state` and `state.admin_state` (enum
/// numbers), `state.messages.{sent,received}.total`,
/// `timers.state.uptime.seconds` (the Unix time the session came up) and
/// `afi_safis[].state.{received,accepted}`. Absent numbers are 0 (gobgp
/// omits zero values).
pub fn parse_neighbors(peers: &Value, now_unix: u64) -> Result<Vec<NeighborStatus>> {
    if peers.is_null() {
        return Ok(Vec::new());
    }
    let Some(peers) = peers.as_array() else {
        bail!("the neighbour list is not a list: {peers}");
    };
    let number = |value: &Value| value.as_u64().unwrap_or(0);
    let mut out = Vec::new();
    for peer in peers {
        let address = peer["conf"]["neighbor_address"]
            .as_str()
            .ok_or_else(|| anyhow!("a neighbour without an address: {peer}"))?;
        let address = address
            .parse()
            .with_context(|| format!("neighbour address {address:?}"))?;
        let asn = u32::try_from(number(&peer["conf"]["peer_asn"])).context("peer ASN")?;
        let state = session_state_name(number(&peer["state"]["session_state"]));
        let uptime_secs = (state == "Established").then(|| {
            now_unix.saturating_sub(number(&peer["timers"]["state"]["uptime"]["seconds"]))
        });
        let (mut received, mut accepted) = (0, 0);
        for family in peer["afi_safis"].as_array().into_iter().flatten() {
            received += number(&family["state"]["received"]);
            accepted += number(&family["state"]["accepted"]);
        }
        out.push(NeighborStatus {
            address,
            asn,
            state: state.to_owned(),
            admin_state: admin_state_name(number(&peer["state"]["admin_state"])).to_owned(),
            uptime_secs,
            routes_received: received,
            routes_accepted: accepted,
            messages_sent: number(&peer["state"]["messages"]["sent"]["total"]),
            messages_received: number(&peer["state"]["messages"]["received"]["total"]),
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
    let Some(paths) = value.as_array() else {
        bail!("a monitor line is not a list: {line}");
    };
    paths
        .iter()
        .map(|path| {
            let prefix = path["nlri"]["prefix"]
                .as_str()
                .ok_or_else(|| anyhow!("a path without a prefix: {path}"))?;
            Ok(RibChange {
                prefix: prefix
                    .parse()
                    .with_context(|| format!("prefix {prefix:?} of {path}"))?,
                neighbor: path["neighbor-ip"].as_str().and_then(|ip| ip.parse().ok()),
                withdrawal: path["withdrawal"].as_bool().unwrap_or(false),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Ipv4Net {
        text.parse().expect("literal prefix")
    }

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
}
