//! The diagnostic answers laid out for people (aligned tables) or for
//! programs (`az`-shaped JSON).

use super::az::*;
use super::lookup::{find_nic, QueryError, RoutesOf};
use super::query::FlowQuery;
use crate::policy::nsg::NsgLevel;
use crate::snapshot::Snapshot;
use serde::Serialize;
use std::fmt::Write as _;
use std::net::IpAddr;

pub(super) fn json_text<T: Serialize + ?Sized>(value: &T) -> Result<String, QueryError> {
    serde_json::to_string_pretty(value)
        .map(|t| t + "\n")
        .map_err(|e| QueryError::refused(format!("cannot write JSON: {e}")))
}

/// A table's column: its name, and how a row's cell in it reads.
pub type Column<R> = (&'static str, fn(&R) -> String);

/// An answer that is a list of rows: printed as it is in JSON (`az`'s
/// shape, or vnetd's own), or as an aligned table under a title.
pub trait Tabular: Serialize {
    /// What one row of the table shows.
    type Row: 'static;

    /// The table's columns, in order.
    const COLUMNS: &'static [Column<Self::Row>];

    /// Calls `row` with every row, in the table's order.
    fn for_each_row(&self, row: impl FnMut(&Self::Row));

    /// The rows, one cell per column.
    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        self.for_each_row(|r| rows.push(Self::COLUMNS.iter().map(|(_, cell)| cell(r)).collect()));
        rows
    }

    /// `title`, a blank line and the table.
    fn titled_table(&self, title: &str) -> String {
        let header: Vec<&str> = Self::COLUMNS.iter().map(|(name, _)| *name).collect();
        format!("{title}\n\n{}", table(&header, &self.rows()))
    }

    /// The answer as JSON, or as its table under `title`.
    fn render(&self, title: &str, json: bool) -> Result<String, QueryError> {
        if json {
            return json_text(self);
        }
        Ok(self.titled_table(title))
    }
}

/// An AS path as `az` prints it: the ASNs joined by `separator`.
pub(super) fn as_path_text(path: &[u32], separator: &str) -> String {
    path.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}

/// Lays out rows as aligned columns under a header.
pub(super) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
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

impl Tabular for RouteList {
    type Row = RouteRow;

    const COLUMNS: &'static [Column<RouteRow>] = &[
        ("Source", |r| r.source.to_string()),
        ("State", |r| r.state.to_string()),
        ("Address Prefix", |r| r.address_prefix.join(", ")),
        ("Next Hop Type", |r| r.next_hop_type.to_string()),
        ("Next Hop IP", |r| r.next_hop_ip_address.join(", ")),
        ("User Route", |r| r.name.clone().unwrap_or_default()),
    ];

    fn for_each_row(&self, row: impl FnMut(&RouteRow)) {
        self.value.iter().for_each(row)
    }
}

pub(super) fn render_routes(
    snap: &Snapshot,
    of: RoutesOf,
    json: bool,
) -> Result<String, QueryError> {
    let topo = &snap.topology;
    let (list, title) = match of {
        RoutesOf::Nic(idx) => (
            routes(snap, idx),
            format!(
                "NIC {} (subnet {})",
                snap.plan.ports[idx].name,
                topo.subnet_path(snap.plan.ports[idx].subnet)
            ),
        ),
        RoutesOf::Subnet(subnet) => (
            subnet_routes(snap, subnet),
            format!("subnet {}", topo.subnet_path(subnet)),
        ),
    };
    list.render(&format!("Effective routes of {title}:"), json)
}

pub(super) fn render_next_hop(
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
    if let Some(egress) = &hop.egress {
        let through = egress
            .nat_gateway
            .as_ref()
            .or(egress.load_balancer.as_ref());
        let by = match (through, egress.public_ip_address.as_str()) {
            (_, "") => format!("{} (no way out: dropped)", egress.method),
            (Some(through), address) => format!("{} {through}, as {address}", egress.method),
            (None, address) => format!("{}, as {address}", egress.method),
        };
        let _ = writeln!(out, "  leaves by:       {by}");
    }
    if let Some(behind) = load_balancer_behind(snap, idx, dst) {
        out.push_str(&behind);
    }
    Ok(out)
}

/// When the hop leads to an internal load balancer's frontend (as the
/// destination or as a route's next hop), its rules and their backends
/// with their probe state, as the packet path sees them.
fn load_balancer_behind(snap: &Snapshot, nic: crate::plan::PortIdx, dst: IpAddr) -> Option<String> {
    use crate::dataplane::{route_step, HopTo};
    let src = source_towards(snap, nic, dst)?;
    let key = crate::net::PacketKey {
        proto: crate::net::IPPROTO_TCP,
        src,
        dst,
        src_port: None,
        dst_port: None,
    };
    let HopTo::Frontend {
        frontend,
        addressed,
    } = route_step(snap, nic, &key).ok()?.to
    else {
        return None;
    };
    let fe = snap.frontend(frontend);
    let lb = &snap.topology.load_balancers[fe.load_balancer];
    let mut out = String::new();
    let how = if addressed {
        "the destination"
    } else {
        "the next hop (HA-ports rules only)"
    };
    let _ = writeln!(
        out,
        "  load balancer:   {} frontend {} ({}), {how}",
        lb.name, lb.frontends[fe.frontend].name, fe.address
    );
    for rule in fe.rules.iter() {
        let r = &lb.rules[rule.rule];
        let backends: Vec<String> = rule
            .pool
            .iter()
            .map(|b| {
                let state = if rule.is_healthy(b.port()) {
                    "up"
                } else {
                    "down"
                };
                format!("{} {} ({state})", snap.plan.ports[b.port()].name, b.address)
            })
            .collect();
        let protocol: &str = r.settings.protocol.into();
        let _ = writeln!(
            out,
            "  rule {}:  {protocol} {} -> {}, {}: {}",
            r.name,
            r.settings.frontend_port,
            r.settings.backend_port,
            <&str>::from(r.settings.distribution),
            backends.join(", ")
        );
    }
    Some(out)
}

pub(super) fn render_flow_verify(
    snap: &Snapshot,
    nic: &str,
    query: &FlowQuery,
    json: bool,
) -> Result<String, QueryError> {
    let mut out = String::new();
    let idx = find_nic(snap, nic)?;
    let local = query.local.ip();
    if !snap.plan.ports[idx].owns(local) {
        let own: Vec<String> = snap.plan.ports[idx]
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
        Some((NsgLevel::Admin, _, rule)) => writeln!(
            out,
            "Rule:   {} (priority {}, {}) of the VNet's security admin rules",
            rule.name,
            rule.settings.priority,
            rule.admin_action.map_or("Allow", |a| a.as_str()),
        ),
        Some((level, nsg, rule)) => writeln!(
            out,
            "Rule:   {} (priority {}) of NSG {} on the {}",
            rule.name,
            rule.settings.priority,
            nsg,
            match level {
                NsgLevel::Subnet => "subnet",
                NsgLevel::Nic => "NIC",
                NsgLevel::Firewall => "firewall",
                NsgLevel::Admin => "VNet",
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

impl Tabular for EffectiveNsg {
    type Row = SecurityRuleRow;

    const COLUMNS: &'static [Column<SecurityRuleRow>] = &[
        ("Direction", |r| r.direction.to_string()),
        ("Priority", |r| r.priority.to_string()),
        ("Name", |r| r.name.clone()),
        ("Access", |r| r.access.to_string()),
        ("Protocol", |r| r.protocol.to_string()),
        ("Source", |r| {
            shorten(
                &r.expanded_source_address_prefix,
                &r.source_address_prefixes,
            )
        }),
        ("Source Ports", |r| r.source_port_ranges.join(",")),
        ("Destination", |r| {
            shorten(
                &r.expanded_destination_address_prefix,
                &r.destination_address_prefixes,
            )
        }),
        ("Destination Ports", |r| r.destination_port_ranges.join(",")),
    ];

    fn for_each_row(&self, row: impl FnMut(&SecurityRuleRow)) {
        self.effective_security_rules.iter().for_each(row)
    }
}

pub(super) fn render_rules(snap: &Snapshot, nic: &str, json: bool) -> Result<String, QueryError> {
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
        let id = &entry.network_security_group.id;
        let title = if id.contains("/securityAdminConfigurations/") {
            format!(
                "Security admin rules of {} on the VNet of {at} (before the NSGs):",
                id_name(id)
            )
        } else {
            format!("NSG {} on {at}:", id_name(id))
        };
        let _ = writeln!(out, "{}", entry.titled_table(&title));
    }
    Ok(out)
}
