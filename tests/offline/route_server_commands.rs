//! `vnetd route-server learned-routes` and `advertised-routes` through the
//! real binary, offline with `--config`: the exact JSON of
//! `az network routeserver peering list-learned-routes` and
//! `list-advertised-routes` for `config/route-server.yaml`, the same JSON
//! as the live-equals-offline agreement compares, the table, and the
//! refusals naming what there is.

use super::diagnostics_cli::{json_of, vnetd};
use crate::common::bgp_agreement::offline_route_server_json;
use serde_json::{json, Value};

const CONFIG: &str = "config/route-server.yaml";

fn config_text() -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(CONFIG)).unwrap()
}

/// A route instance `local` learned from appliance `peer` (ASN 65001).
fn learned(local: &str, peer: &str) -> Value {
    json!({"asPath": "65001", "localAddress": local, "network": "10.100.0.0/16",
           "nextHop": peer, "origin": "EBgp", "sourcePeer": peer, "weight": 32768})
}

/// A VNet range instance `local` originates.
fn originated(local: &str, network: &str) -> Value {
    json!({"asPath": "65515", "localAddress": local, "network": network,
           "nextHop": local, "origin": "Igp", "weight": 0})
}

#[test]
fn learned_routes_list_what_both_instances_learned_from_both_appliances() {
    let got = json_of(&[
        "route-server",
        "learned-routes",
        "--route-server",
        "hub-rs",
        "--config",
        CONFIG,
        "--json",
    ]);
    let want = json!({
        "RouteServiceRole_IN_0": [
            learned("10.0.1.4", "10.0.2.4"),
            learned("10.0.1.4", "10.0.2.5"),
        ],
        "RouteServiceRole_IN_1": [
            learned("10.0.1.5", "10.0.2.4"),
            learned("10.0.1.5", "10.0.2.5"),
        ],
    });
    assert_eq!(got, want);
    assert_eq!(
        offline_route_server_json(&config_text(), "hub-rs", None, false),
        Some(got)
    );
}

#[test]
fn learned_routes_of_one_peer_list_only_what_it_announced() {
    let got = json_of(&[
        "route-server",
        "learned-routes",
        "--route-server",
        "hub-rs",
        "--peer",
        "10.0.2.5",
        "--config",
        CONFIG,
        "--json",
    ]);
    let want = json!({
        "RouteServiceRole_IN_0": [learned("10.0.1.4", "10.0.2.5")],
        "RouteServiceRole_IN_1": [learned("10.0.1.5", "10.0.2.5")],
    });
    assert_eq!(got, want);
    assert_eq!(
        offline_route_server_json(&config_text(), "hub-rs", Some("10.0.2.5"), false),
        Some(got)
    );
}

#[test]
fn advertised_routes_are_the_vnet_ranges_and_never_the_appliances_own_prefix() {
    let got = json_of(&[
        "route-server",
        "advertised-routes",
        "--route-server",
        "hub-rs",
        "--peer",
        "10.0.2.4",
        "--config",
        CONFIG,
        "--json",
    ]);
    // 10.100.0.0/16 is not sent back: both appliances have ASN 65001, which
    // is on its path.
    let want = json!({
        "RouteServiceRole_IN_0": [
            originated("10.0.1.4", "10.0.0.0/16"),
            originated("10.0.1.4", "10.1.0.0/16"),
        ],
        "RouteServiceRole_IN_1": [
            originated("10.0.1.5", "10.0.0.0/16"),
            originated("10.0.1.5", "10.1.0.0/16"),
        ],
    });
    assert_eq!(got, want);
    assert_eq!(
        offline_route_server_json(&config_text(), "hub-rs", Some("10.0.2.4"), true),
        Some(got)
    );
}

#[test]
fn the_tables_name_each_rows_role() {
    let out = vnetd(&[
        "route-server",
        "learned-routes",
        "--route-server",
        "hub-rs",
        "--config",
        CONFIG,
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Routes Route Server hub-rs learned:", "{text}");
    for column in [
        "Role",
        "Local Address",
        "Network",
        "Next Hop",
        "Source Peer",
        "Origin",
        "AS Path",
        "Weight",
    ] {
        assert!(lines[2].contains(column), "{text}");
    }
    assert_eq!(lines.len(), 8, "{text}");
    assert!(
        lines[4].starts_with("RouteServiceRole_IN_0  10.0.1.4"),
        "{text}"
    );
    assert!(
        lines[7].starts_with("RouteServiceRole_IN_1  10.0.1.5"),
        "{text}"
    );
    assert!(lines[7].contains("10.0.2.5"), "{text}");

    let out = vnetd(&[
        "route-server",
        "advertised-routes",
        "--route-server",
        "hub-rs",
        "--peer",
        "10.0.2.5",
        "--config",
        CONFIG,
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("Routes Route Server hub-rs advertises to 10.0.2.5:\n"),
        "{text}"
    );
    assert_eq!(text.matches("Igp").count(), 4, "{text}");
}

#[test]
fn an_unknown_route_server_or_peer_is_refused_naming_what_there_is() {
    let out = vnetd(&[
        "route-server",
        "learned-routes",
        "--route-server",
        "spoke-rs",
        "--config",
        CONFIG,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no Route Server named `spoke-rs`") && err.contains("(Route Servers: hub-rs)"),
        "{err}"
    );

    for command in ["learned-routes", "advertised-routes"] {
        let out = vnetd(&[
            "route-server",
            command,
            "--route-server",
            "hub-rs",
            "--peer",
            "10.0.2.6",
            "--config",
            CONFIG,
        ]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("10.0.2.6 is not a BGP peer of Route Server `hub-rs`")
                && err.contains("(peers: 10.0.2.4 (nva1), 10.0.2.5 (nva2))"),
            "{command}: {err}"
        );
    }

    // Not an address at all: a usage error.
    let out = vnetd(&[
        "route-server",
        "advertised-routes",
        "--route-server",
        "hub-rs",
        "--peer",
        "nva1",
        "--config",
        CONFIG,
    ]);
    assert_eq!(out.status.code(), Some(2));
    // advertised-routes needs its peer, as Azure's command does.
    let out = vnetd(&[
        "route-server",
        "advertised-routes",
        "--route-server",
        "hub-rs",
        "--config",
        CONFIG,
    ]);
    assert_eq!(out.status.code(), Some(2));
}
