//! The answers of the diagnostic commands, computed from a compiled
//! [`Snapshot`] (the same tables the packet path forwards with):
//!
//! - `routes`: effective routes of a NIC's subnet, like
//!   `az network nic show-effective-route-table`;
//! - `next-hop`: the deciding route for a destination, like
//!   `az network watcher show-next-hop`;
//! - `flow-verify`: the NSG verdict and deciding rule for a TCP/UDP flow,
//!   like `az network watcher test-ip-flow`;
//! - `rules`: effective security rules, like
//!   `az network nic list-effective-nsg`.
//!
//! Each comes as a value with the JSON shape `az` prints (the contract's
//! keys, in its order) and as a readable table.

use crate::dataplane::judge_nsgs;
use crate::engine::classifier::PacketKey;
use crate::policy::ids;
use crate::policy::nsg::{EffectiveRule, NsgLevel};
use crate::policy::routes::EffectiveRoute;
use crate::snapshot::Snapshot;
use crate::topology::{Direction, Loaded, NextHopType, NicIdx, PortSpec, IPPROTO_TCP, IPPROTO_UDP};
use serde::Serialize;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// One row of `routes --json`.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RouteRow {
    pub source: &'static str,
    pub state: &'static str,
    pub address_prefix: Vec<String>,
    pub next_hop_type: &'static str,
    pub next_hop_ip_address: Vec<String>,
    pub name: Option<String>,
    pub disable_bgp_route_propagation: bool,
}

#[derive(Debug, Serialize)]
pub struct RouteList {
    pub value: Vec<RouteRow>,
}

/// The answer of `next-hop --json`.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NextHop {
    pub next_hop_type: &'static str,
    pub next_hop_ip_address: String,
    /// The user route's route table as an Azure resource ID, or
    /// `System Route`.
    pub route_table_id: String,
}

/// What `routeTableId` says for a route that is no user route.
pub const SYSTEM_ROUTE: &str = "System Route";

/// The answer of `flow-verify --json`.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FlowVerdict {
    pub access: &'static str,
    /// `securityRules/<name>` or `defaultSecurityRules/<name>`; null when
    /// the NIC has no NSG at all (Azure then allows everything).
    pub rule_name: Option<String>,
}

/// The subnet's route table setting, repeated on every row as Azure does.
fn propagation_disabled(snap: &Snapshot, nic: NicIdx) -> bool {
    let t = &snap.topology;
    t.subnet(t.nics[nic].subnet)
        .route_table
        .is_some_and(|rt| !t.route_tables[rt].bgp_route_propagation_enabled)
}

fn route_row(route: &EffectiveRoute, disable_bgp: bool) -> RouteRow {
    RouteRow {
        source: route.source.as_str(),
        state: route.state.as_str(),
        address_prefix: vec![route.address_prefix.to_string()],
        next_hop_type: route.next_hop_type.as_str(),
        next_hop_ip_address: route.next_hop_ip.iter().map(|ip| ip.to_string()).collect(),
        name: route.name.clone(),
        disable_bgp_route_propagation: disable_bgp,
    }
}

pub fn routes(snap: &Snapshot, nic: NicIdx) -> RouteList {
    let disable_bgp = propagation_disabled(snap, nic);
    RouteList {
        value: snap
            .nic_routes(nic)
            .routes
            .iter()
            .map(|r| route_row(r, disable_bgp))
            .collect(),
    }
}

pub fn next_hop(snap: &Snapshot, nic: NicIdx, dst: IpAddr) -> NextHop {
    // The deciding row as forwarding finds it (`route_step`'s lookup).
    let route = snap
        .route_target(nic, dst)
        .map(|(row, _)| &snap.nic_routes(nic).routes[row]);
    match route {
        Some(route) => NextHop {
            next_hop_type: route.next_hop_type.as_str(),
            next_hop_ip_address: route
                .next_hop_ip
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
            route_table_id: match route.route_table {
                Some(rt) => ids::route_table_id(&snap.topology.route_tables[rt].name),
                None => SYSTEM_ROUTE.to_string(),
            },
        },
        // No route at all: the packet is dropped, which Azure reports as
        // next hop None.
        None => NextHop {
            next_hop_type: NextHopType::None.as_str(),
            next_hop_ip_address: String::new(),
            route_table_id: SYSTEM_ROUTE.to_string(),
        },
    }
}

/// A `flow-verify` question: direction, protocol and the two ends.
/// Why a question got no answer. The CLI renders it: `Usage` (the
/// question itself is malformed) exits 2, `Refused` (it names what is not
/// there) exits 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    Usage(String),
    Refused(String),
}

impl QueryError {
    pub fn usage(message: impl Into<String>) -> Self {
        QueryError::Usage(message.into())
    }

    pub fn refused(message: impl Into<String>) -> Self {
        QueryError::Refused(message.into())
    }

    pub fn message(&self) -> &str {
        match self {
            QueryError::Usage(m) | QueryError::Refused(m) => m,
        }
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for QueryError {}

#[derive(Debug, Clone, Copy)]
pub struct FlowQuery {
    pub direction: Direction,
    pub protocol: u8,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

impl FlowQuery {
    pub fn parse(
        direction: &str,
        protocol: &str,
        local: &str,
        remote: &str,
    ) -> Result<Self, QueryError> {
        let direction = match direction.to_ascii_lowercase().as_str() {
            "inbound" => Direction::Inbound,
            "outbound" => Direction::Outbound,
            _ => {
                return Err(QueryError::usage(format!(
                    "--direction `{direction}`: expected Inbound or Outbound"
                )))
            }
        };
        let protocol = match protocol.to_ascii_lowercase().as_str() {
            "tcp" => IPPROTO_TCP,
            "udp" => IPPROTO_UDP,
            _ => {
                return Err(QueryError::usage(format!(
                    "--protocol `{protocol}`: expected TCP or UDP (IP flow verify tests TCP and UDP only, as in Azure)"
                )))
            }
        };
        let endpoint = |flag: &str, text: &str| {
            text.parse::<SocketAddr>().map_err(|_| {
                QueryError::usage(format!(
                    "{flag} `{text}`: expected IP:PORT (IPv6 as [ADDR]:PORT)"
                ))
            })
        };
        let local = endpoint("--local", local)?;
        let remote = endpoint("--remote", remote)?;
        if local.is_ipv4() != remote.is_ipv4() {
            return Err(QueryError::usage(
                "--local and --remote must be of the same IP version",
            ));
        }
        Ok(FlowQuery {
            direction,
            protocol,
            local,
            remote,
        })
    }

    /// The first packet of the flow, as the NIC's NSGs see it.
    pub fn packet(&self) -> PacketKey {
        let (src, dst) = match self.direction {
            Direction::Inbound => (self.remote, self.local),
            Direction::Outbound => (self.local, self.remote),
        };
        PacketKey {
            proto: self.protocol,
            src: src.ip(),
            dst: dst.ip(),
            src_port: Some(src.port()),
            dst_port: Some(dst.port()),
        }
    }
}

/// The verdict with the deciding rule and where it sits (for the table).
pub struct FlowAnswer<'s> {
    pub verdict: FlowVerdict,
    pub decided_by: Option<(NsgLevel, &'s str, &'s EffectiveRule)>,
}

pub fn flow_verify<'s>(snap: &'s Snapshot, nic: NicIdx, query: &FlowQuery) -> FlowAnswer<'s> {
    // The same step forwarding runs for a packet no flow admits.
    let judged = judge_nsgs(snap, nic, query.direction, &query.packet());
    let verdict = judged.verdict;
    let decided_by = snap
        .deciding_rule(nic, query.direction, &verdict)
        .map(|(stage, rule)| {
            (
                stage.level,
                snap.topology.nsgs[stage.nsg].name.as_str(),
                rule,
            )
        });
    FlowAnswer {
        verdict: FlowVerdict {
            access: verdict.access.as_str(),
            rule_name: decided_by.map(|(_, _, r)| r.name.clone()),
        },
        decided_by,
    }
}

/// One rule of `rules --json`, key for key (and in the order) of Azure's
/// effective security rules: `name`, `protocol` (`All` for `*`), port
/// ranges as `lo-hi` both single (null when there are several) and as a
/// list, address prefixes the same way (`0.0.0.0/0` for `*`), the
/// expansion of tags and ASGs (null for plain prefixes and `*`), `access`,
/// `priority`, `direction`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityRuleRow {
    pub name: String,
    pub protocol: &'static str,
    pub source_port_range: Option<String>,
    pub destination_port_range: Option<String>,
    pub source_port_ranges: Vec<String>,
    pub destination_port_ranges: Vec<String>,
    pub source_address_prefix: Option<String>,
    pub destination_address_prefix: Option<String>,
    pub source_address_prefixes: Vec<String>,
    pub destination_address_prefixes: Vec<String>,
    pub expanded_source_address_prefix: Option<Vec<String>>,
    pub expanded_destination_address_prefix: Option<Vec<String>>,
    pub access: &'static str,
    pub priority: u16,
    pub direction: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ResourceId {
    pub id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Association {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<ResourceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_interface: Option<ResourceId>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveNsg {
    pub network_security_group: ResourceId,
    pub association: Association,
    pub effective_security_rules: Vec<SecurityRuleRow>,
}

#[derive(Debug, Serialize)]
pub struct EffectiveNsgList {
    pub value: Vec<EffectiveNsg>,
}

/// Azure prints port ranges as `lo-hi` (`0-65535` for `*`).
fn port_ranges(spec: &PortSpec) -> Vec<String> {
    match spec {
        PortSpec::Any => vec!["0-65535".to_string()],
        PortSpec::Ranges(r) => r.iter().map(|r| format!("{}-{}", r.lo, r.hi)).collect(),
    }
}

fn single(list: &[String]) -> Option<String> {
    match list {
        [one] => Some(one.clone()),
        _ => None,
    }
}

fn expanded(named: bool, prefixes: &[ipnet::IpNet]) -> Option<Vec<String>> {
    named.then(|| prefixes.iter().map(|p| p.to_string()).collect())
}

fn security_row(rule: &EffectiveRule) -> SecurityRuleRow {
    let src = port_ranges(&rule.source_ports);
    let dst = port_ranges(&rule.destination_ports);
    SecurityRuleRow {
        name: rule.name.clone(),
        protocol: rule.protocol.as_str(),
        source_port_range: single(&src),
        destination_port_range: single(&dst),
        source_port_ranges: src,
        destination_port_ranges: dst,
        source_address_prefix: single(&rule.source_prefixes),
        destination_address_prefix: single(&rule.destination_prefixes),
        source_address_prefixes: rule.source_prefixes.clone(),
        destination_address_prefixes: rule.destination_prefixes.clone(),
        expanded_source_address_prefix: expanded(rule.source_is_named, &rule.expanded_source),
        expanded_destination_address_prefix: expanded(
            rule.destination_is_named,
            &rule.expanded_destination,
        ),
        access: rule.access.as_str(),
        priority: rule.priority,
        direction: rule.direction.as_str(),
    }
}

/// Effective security rules: one entry per associated NSG (subnet first),
/// inbound rules then outbound, each in evaluation order.
pub fn rules(snap: &Snapshot, nic: NicIdx) -> EffectiveNsgList {
    let tables = &snap.nics[nic];
    let topo = &snap.topology;
    let mut value: Vec<EffectiveNsg> = Vec::new();
    for level in [NsgLevel::Subnet, NsgLevel::Nic] {
        let stages: Vec<_> = tables
            .inbound
            .iter()
            .chain(tables.outbound.iter())
            .filter(|s| s.level == level)
            .collect();
        let Some(first) = stages.first() else {
            continue;
        };
        let association = match level {
            NsgLevel::Subnet => Association {
                subnet: Some(ResourceId {
                    id: {
                        let at = topo.nics[nic].subnet;
                        ids::subnet_id(&topo.vnets[at.vnet].name, &topo.subnet(at).name)
                    },
                }),
                network_interface: None,
            },
            NsgLevel::Nic => Association {
                subnet: None,
                network_interface: Some(ResourceId {
                    id: ids::nic_id(&topo.nics[nic].name),
                }),
            },
        };
        value.push(EffectiveNsg {
            network_security_group: ResourceId {
                id: ids::nsg_id(&topo.nsgs[first.nsg].name),
            },
            association,
            effective_security_rules: stages
                .iter()
                .flat_map(|s| s.rules.iter().map(security_row))
                .collect(),
        });
    }
    EffectiveNsgList { value }
}

// ---- the command-line side ------------------------------------------------

/// The NIC named `name`, or a refusal that lists the NICs there are.
pub fn find_nic(snap: &Snapshot, name: &str) -> Result<NicIdx, QueryError> {
    snap.nic_by_name(name).ok_or_else(|| {
        let known: Vec<&str> = snap.topology.nics.iter().map(|n| n.name.as_str()).collect();
        QueryError::refused(format!(
            "no NIC named `{name}` in {} (NICs: {})",
            snap.topology.source,
            known.join(", ")
        ))
    })
}

/// A question the diagnostic commands answer, from a file or from the
/// running daemon's snapshot alike.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(tag = "query", rename_all = "kebab-case")]
pub enum Query {
    Routes {
        nic: String,
    },
    NextHop {
        nic: String,
        dst: String,
    },
    FlowVerify {
        nic: String,
        direction: String,
        protocol: String,
        local: String,
        remote: String,
    },
    Rules {
        nic: String,
    },
}

/// The printed answer to `query`: a table, or `az`-shaped JSON.
pub fn answer(snap: &Snapshot, query: &Query, json: bool) -> Result<String, QueryError> {
    match query {
        Query::Routes { nic } => render_routes(snap, nic, json),
        Query::NextHop { nic, dst } => render_next_hop(snap, nic, dst, json),
        Query::FlowVerify {
            nic,
            direction,
            protocol,
            local,
            remote,
        } => {
            let q = FlowQuery::parse(direction, protocol, local, remote)?;
            render_flow_verify(snap, nic, &q, json)
        }
        Query::Rules { nic } => render_rules(snap, nic, json),
    }
}

/// Answers from a topology file (compiled here, as the daemon would).
pub fn answer_offline(loaded: &Loaded, query: &Query, json: bool) -> Result<String, QueryError> {
    answer(&Snapshot::compile(loaded.topology.clone(), 0), query, json)
}

fn json_text<T: Serialize>(value: &T) -> Result<String, QueryError> {
    serde_json::to_string_pretty(value)
        .map(|t| t + "\n")
        .map_err(|e| QueryError::refused(format!("cannot write JSON: {e}")))
}

/// Lays out rows as aligned columns under a header.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                let _ = write!(s, "{cell:<w$}  ");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(|s| s.as_str())
            .collect(),
    );
    for row in rows {
        line(row.iter().map(|s| s.as_str()).collect());
    }
    out
}

fn render_routes(snap: &Snapshot, nic: &str, json: bool) -> Result<String, QueryError> {
    let mut out = String::new();
    let idx = find_nic(snap, nic)?;
    let list = routes(snap, idx);
    if json {
        return json_text(&list);
    }
    let rows: Vec<Vec<String>> = list
        .value
        .iter()
        .map(|r| {
            vec![
                r.source.to_string(),
                r.state.to_string(),
                r.address_prefix.join(", "),
                r.next_hop_type.to_string(),
                r.next_hop_ip_address.join(", "),
                r.name.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let topo = &snap.topology;
    let _ = writeln!(
        out,
        "Effective routes of NIC {} (subnet {}):\n",
        nic,
        topo.subnet_path(topo.nics[idx].subnet)
    );
    let _ = write!(
        out,
        "{}",
        table(
            &[
                "Source",
                "State",
                "Address Prefix",
                "Next Hop Type",
                "Next Hop IP",
                "User Route"
            ],
            &rows
        )
    );
    Ok(out)
}

fn render_next_hop(
    snap: &Snapshot,
    nic: &str,
    dst: &str,
    json: bool,
) -> Result<String, QueryError> {
    let mut out = String::new();
    let dst: IpAddr = dst.parse().map_err(|_| {
        QueryError::usage(format!("--dst `{dst}`: expected an IPv4 or IPv6 address"))
    })?;
    let idx = find_nic(snap, nic)?;
    let hop = next_hop(snap, idx, dst);
    if json {
        return json_text(&hop);
    }
    let prefix = snap
        .route(idx, dst)
        .map(|r| r.address_prefix.to_string())
        .unwrap_or_else(|| "no route".to_string());
    let _ = writeln!(out, "Next hop from {nic} to {dst}:");
    let _ = writeln!(out, "  next hop type:   {}", hop.next_hop_type);
    if !hop.next_hop_ip_address.is_empty() {
        let _ = writeln!(out, "  next hop IP:     {}", hop.next_hop_ip_address);
    }
    let table = match hop.route_table_id.as_str() {
        SYSTEM_ROUTE => SYSTEM_ROUTE.to_string(),
        id => id_name(id),
    };
    let _ = writeln!(out, "  route table:     {table}");
    let _ = writeln!(out, "  matched prefix:  {prefix}");
    Ok(out)
}

fn render_flow_verify(
    snap: &Snapshot,
    nic: &str,
    query: &FlowQuery,
    json: bool,
) -> Result<String, QueryError> {
    let mut out = String::new();
    let idx = find_nic(snap, nic)?;
    let local = query.local.ip();
    if !snap.topology.nics[idx].owns(local) {
        let own: Vec<String> = snap.topology.nics[idx]
            .ip_configurations
            .iter()
            .map(|c| c.address.to_string())
            .collect();
        return Err(QueryError::refused(format!(
            "--local {local} is not an address of NIC `{nic}` ({})",
            own.join(", ")
        )));
    }
    let answer = flow_verify(snap, idx, query);
    if json {
        return json_text(&answer.verdict);
    }
    let _ = writeln!(out, "Access: {}", answer.verdict.access);
    let _ = match answer.decided_by {
        Some((level, nsg, rule)) => writeln!(
            out,
            "Rule:   {} (priority {}) of NSG {} on the {}",
            rule.name,
            rule.priority,
            nsg,
            match level {
                NsgLevel::Subnet => "subnet",
                NsgLevel::Nic => "NIC",
            }
        ),
        None => writeln!(out, "Rule:   none (no NSG on the NIC or its subnet)"),
    };
    Ok(out)
}

fn shorten(expanded: &Option<Vec<String>>, listed: &[String]) -> String {
    let text = listed.join(",");
    let Some(prefixes) = expanded else {
        return text;
    };
    if prefixes.len() == 1 && prefixes[0] == text {
        return text;
    }
    let shown: Vec<&str> = prefixes.iter().take(3).map(|s| s.as_str()).collect();
    let more = prefixes.len().saturating_sub(3);
    let mut s = format!("{text} [{}", shown.join(", "));
    if more > 0 {
        let _ = write!(s, ", +{more} more");
    }
    s.push(']');
    s
}

/// The names in a resource ID, for tables: `hub/nva` for a subnet's ID,
/// `spoke2-app-nsg` for an NSG's.
fn id_name(id: &str) -> String {
    let path = id
        .split_once("/providers/Microsoft.Network/")
        .map_or(id, |(_, p)| p);
    path.split('/')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .join("/")
}

fn render_rules(snap: &Snapshot, nic: &str, json: bool) -> Result<String, QueryError> {
    let mut out = String::new();
    let idx = find_nic(snap, nic)?;
    let list = rules(snap, idx);
    if json {
        return json_text(&list);
    }
    if list.value.is_empty() {
        let _ = writeln!(
            out,
            "NIC {nic} has no NSG on itself or its subnet: all traffic is allowed."
        );
        return Ok(out);
    }
    for entry in &list.value {
        let at = match (
            &entry.association.subnet,
            &entry.association.network_interface,
        ) {
            (Some(s), _) => format!("subnet {}", id_name(&s.id)),
            (_, Some(n)) => format!("NIC {}", id_name(&n.id)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "NSG {} on {at}:\n",
            id_name(&entry.network_security_group.id)
        );
        let rows: Vec<Vec<String>> = entry
            .effective_security_rules
            .iter()
            .map(|r| {
                vec![
                    r.direction.to_string(),
                    r.priority.to_string(),
                    r.name.clone(),
                    r.access.to_string(),
                    r.protocol.to_string(),
                    shorten(
                        &r.expanded_source_address_prefix,
                        &r.source_address_prefixes,
                    ),
                    r.source_port_ranges.join(","),
                    shorten(
                        &r.expanded_destination_address_prefix,
                        &r.destination_address_prefixes,
                    ),
                    r.destination_port_ranges.join(","),
                ]
            })
            .collect();
        let _ = write!(
            out,
            "{}",
            table(
                &[
                    "Direction",
                    "Priority",
                    "Name",
                    "Access",
                    "Protocol",
                    "Source",
                    "Source Ports",
                    "Destination",
                    "Destination Ports"
                ],
                &rows
            )
        );
        let _ = writeln!(out);
    }
    Ok(out)
}
