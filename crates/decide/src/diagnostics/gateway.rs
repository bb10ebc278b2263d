//! The gateway answers, in the JSON shapes of `az network vnet-gateway
//! list-learned-routes`, `list-advertised-routes` and
//! `list-bgp-peer-status`, and as tables.
//!
//! Learned routes list, per instance, what the gateway originates itself
//! (origin `Network`: the VNet ranges it serves, and a host route to the
//! BGP address of each BGP connection's remote speaker) and what the
//! instance learned over BGP (origin `EBgp`, the peer as source, its AS
//! path), as real gateways list them. They read the snapshot, so a lab's
//! answers follow what it forwards with.
//!
//! Advertised routes and BGP sessions without a lab are the
//! [`BgpModel`]'s prediction; a running lab answers them from its
//! speakers instead.

use super::lookup::{find_named, listed, QueryError};
use super::render::{as_path_text, Column, Tabular};
use crate::policy::bgp::{peer_host_groups, BgpModel};
use crate::policy::gateways::{bgp_peer_addresses, served_ranges};
use crate::snapshot::Snapshot;
use crate::topology::GatewayIdx;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// `{"value": [...]}` of a gateway route listing.
#[derive(Debug, Serialize)]
pub struct GatewayRouteList {
    pub value: Vec<GatewayRouteRow>,
}

/// One route as `az network vnet-gateway list-learned-routes` (and
/// `list-advertised-routes`) print it.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRouteRow {
    pub as_path: String,
    pub local_address: String,
    pub network: String,
    pub next_hop: String,
    pub origin: String,
    pub source_peer: Option<String>,
    pub weight: u32,
}

/// The gateway named `name`, or a refusal listing the gateways there are.
pub fn find_gateway(snap: &Snapshot, name: &str) -> Result<GatewayIdx, QueryError> {
    find_named(snap, &snap.topology.gateways, name, "gateway", "gateways")
}

fn as_path(path: &[u32]) -> String {
    as_path_text(path, "-")
}

/// Azure's own BGP weight for every route a gateway lists as learned.
const LEARNED_WEIGHT: u32 = 32768;

/// A row of instance `local`: `network` by `next_hop` (empty for its
/// own) with AS path `path`, as `origin` from `source_peer` with `weight`.
fn row(
    local: &str,
    network: String,
    next_hop: String,
    path: &[u32],
    origin: &str,
    source_peer: Option<String>,
    weight: u32,
) -> GatewayRouteRow {
    GatewayRouteRow {
        as_path: as_path(path),
        local_address: local.to_string(),
        network,
        next_hop,
        origin: origin.to_string(),
        source_peer,
        weight,
    }
}

/// A row the gateway originates itself: no next hop, itself as source.
fn network_row(local: &str, network: String) -> GatewayRouteRow {
    let source = Some(local.to_string());
    row(
        local,
        network,
        String::new(),
        &[],
        "Network",
        source,
        LEARNED_WEIGHT,
    )
}

pub fn learned_routes(snap: &Snapshot, gateway: GatewayIdx) -> GatewayRouteList {
    let topo = &snap.topology;
    let gw = &topo.gateways[gateway];
    let peer_hosts: Vec<IpAddr> = peer_host_groups(topo, gateway)
        .into_iter()
        .flatten()
        .collect();
    let mut value = Vec::new();
    for (i, local) in gw.instances.iter().enumerate() {
        let local = local.to_string();
        for range in served_ranges(topo, gateway) {
            value.push(network_row(&local, range.to_string()));
        }
        for host in &peer_hosts {
            value.push(network_row(&local, ipnet::IpNet::from(*host).to_string()));
        }
        for route in snap.learned.of(&gw.name, i) {
            value.push(row(
                &local,
                route.prefix.to_string(),
                route.next_hop.to_string(),
                &route.as_path,
                "EBgp",
                Some(route.peer.to_string()),
                LEARNED_WEIGHT,
            ));
        }
    }
    GatewayRouteList { value }
}

/// `peer` parsed and checked to be a BGP peer of `gateway`.
pub fn bgp_peer(snap: &Snapshot, gateway: GatewayIdx, peer: &str) -> Result<IpAddr, QueryError> {
    let topo = &snap.topology;
    let peers = bgp_peer_addresses(topo, gateway);
    let peer_ip: IpAddr = peer
        .parse()
        .map_err(|_| QueryError::usage(format!("--peer `{peer}`: expected an IP address")))?;
    if !peers.contains(&peer_ip) {
        let known: Vec<String> = peers.iter().map(IpAddr::to_string).collect();
        return Err(QueryError::refused(format!(
            "{peer} is not a BGP peer of gateway `{}` (peers: {})",
            topo.gateways[gateway].name,
            listed(&known)
        )));
    }
    Ok(peer_ip)
}

/// One advertised route as `list-advertised-routes` prints it.
pub fn advertised_row(
    local: IpAddr,
    prefix: ipnet::IpNet,
    next_hop: IpAddr,
    path: &[u32],
) -> GatewayRouteRow {
    let (local, network) = (local.to_string(), prefix.to_string());
    row(&local, network, next_hop.to_string(), path, "Igp", None, 0)
}

/// What each instance of `gateway` advertises to `peer`, as the
/// [`BgpModel`] predicts it.
pub fn advertised_routes(
    snap: &Snapshot,
    gateway: GatewayIdx,
    peer: &str,
) -> Result<GatewayRouteList, QueryError> {
    let topo = &snap.topology;
    let peer_ip = bgp_peer(snap, gateway, peer)?;
    let model = BgpModel::of(topo);
    let mut value = Vec::new();
    for (i, local) in topo.gateways[gateway].instances.iter().enumerate() {
        for route in model.advertised(gateway, i, peer_ip).unwrap_or_default() {
            value.push(advertised_row(
                *local,
                route.prefix,
                route.next_hop,
                &route.as_path,
            ));
        }
    }
    Ok(GatewayRouteList { value })
}

/// The BGP sessions of every instance of `gateway` once the lab is up, as
/// the [`BgpModel`] predicts them: no times, no message counts.
pub fn predicted_peer_status(snap: &Snapshot, gateway: GatewayIdx) -> BgpPeerStatusList {
    let topo = &snap.topology;
    let model = BgpModel::of(topo);
    let mut value = Vec::new();
    for i in 0..topo.gateways[gateway].instances.len() {
        for s in model.sessions(gateway, i) {
            value.push(BgpPeerStatus {
                asn: s.asn,
                connected_duration: String::new(),
                local_address: s.local_address.to_string(),
                messages_received: 0,
                messages_sent: 0,
                neighbor: s.neighbor.to_string(),
                routes_received: s.routes_received,
                state: s.state.to_string(),
                reason: s.reason,
            });
        }
    }
    BgpPeerStatusList { value }
}

impl Tabular for GatewayRouteList {
    type Row = GatewayRouteRow;

    const COLUMNS: &'static [Column<GatewayRouteRow>] = &[
        ("Network", |r| r.network.clone()),
        ("Next Hop", |r| r.next_hop.clone()),
        ("Source Peer", |r| r.source_peer.clone().unwrap_or_default()),
        ("AS Path", |r| r.as_path.clone()),
        ("Origin", |r| r.origin.clone()),
        ("Weight", |r| r.weight.to_string()),
        ("Local Address", |r| r.local_address.clone()),
    ];

    fn for_each_row(&self, row: impl FnMut(&GatewayRouteRow)) {
        self.value.iter().for_each(row)
    }
}

/// A route listing as a table or `az`'s JSON.
pub fn render_route_list(
    title: &str,
    list: &GatewayRouteList,
    json: bool,
) -> Result<String, QueryError> {
    list.render(title, json)
}

/// `{"value": [...]}` of `list-bgp-peer-status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BgpPeerStatusList {
    pub value: Vec<BgpPeerStatus>,
}

/// One BGP session of a gateway instance, as `az network vnet-gateway
/// list-bgp-peer-status` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BgpPeerStatus {
    pub asn: u32,
    /// `hh:mm:ss` since the session came up; empty while it is down.
    pub connected_duration: String,
    pub local_address: String,
    pub messages_received: u64,
    pub messages_sent: u64,
    pub neighbor: String,
    pub routes_received: u64,
    /// Azure's words: Connected, Connecting, Idle, Stopped or Unknown.
    pub state: String,
    /// vnetd's own: why the session is down when that is known
    /// (`speaker not running`, `speaker not answering`, `prefix limit 4000
    /// exceeded`); null otherwise.
    pub reason: Option<String>,
}

/// A BGP session state as Azure names it: `Connected` once established,
/// `Stopped` when shut down (or dropped for too many prefixes), `Idle`,
/// and `Connecting` in between.
pub fn azure_peer_state(fsm_state: &str, admin_state: &str) -> &'static str {
    match (fsm_state, admin_state) {
        (_, "Down" | "PrefixLimit") => "Stopped",
        ("Established", _) => "Connected",
        ("Idle", _) => "Idle",
        ("Connect" | "Active" | "OpenSent" | "OpenConfirm", _) => "Connecting",
        _ => "Unknown",
    }
}

/// `hh:mm:ss` of a duration in seconds.
pub fn duration_text(seconds: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

impl Tabular for BgpPeerStatusList {
    type Row = BgpPeerStatus;

    const COLUMNS: &'static [Column<BgpPeerStatus>] = &[
        ("Neighbor", |p| p.neighbor.clone()),
        ("ASN", |p| p.asn.to_string()),
        ("State", |p| p.state.clone()),
        ("Connected Duration", |p| p.connected_duration.clone()),
        ("Routes Received", |p| p.routes_received.to_string()),
        ("Messages Sent", |p| p.messages_sent.to_string()),
        ("Messages Received", |p| p.messages_received.to_string()),
        ("Local Address", |p| p.local_address.clone()),
        ("Reason", |p| p.reason.clone().unwrap_or_default()),
    ];

    fn for_each_row(&self, row: impl FnMut(&BgpPeerStatus)) {
        self.value.iter().for_each(row)
    }
}

/// The BGP sessions of `gateway` as a table or `az`'s JSON.
pub fn render_peer_status(
    gateway: &str,
    list: &BgpPeerStatusList,
    json: bool,
) -> Result<String, QueryError> {
    list.render(&format!("BGP peers of gateway {gateway}:"), json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(local: &str, state: &str, reason: Option<&str>) -> BgpPeerStatus {
        BgpPeerStatus {
            asn: 65050,
            connected_duration: String::new(),
            local_address: local.into(),
            messages_received: 0,
            messages_sent: 0,
            neighbor: "192.168.255.1".into(),
            routes_received: 0,
            state: state.into(),
            reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn peer_status_shows_the_reason_of_each_row() {
        let list = BgpPeerStatusList {
            value: vec![
                row("10.0.255.4", "Unknown", Some("speaker not running")),
                row("10.0.255.5", "Connected", None),
            ],
        };
        let text = render_peer_status("gw", &list, false).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[2].ends_with("Local Address  Reason"), "{text}");
        assert!(
            lines[4].ends_with("10.0.255.4     speaker not running"),
            "{text}"
        );
        assert!(lines[5].ends_with("10.0.255.5"), "{text}");
        let json: serde_json::Value =
            serde_json::from_str(&render_peer_status("gw", &list, true).unwrap()).unwrap();
        assert_eq!(json["value"][0]["reason"], "speaker not running");
        assert_eq!(json["value"][1]["reason"], serde_json::Value::Null);
    }
}
