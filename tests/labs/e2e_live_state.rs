//! The live page's state feed on the hybrid example (a VPN gateway and a
//! branch router running BIRD): once the lab has converged, the `state`
//! event lists the gateway's BGP session as `vnetd gateway
//! bgp-peer-status` predicts it offline, Connected, with the prefixes the
//! BGP model says it receives. Read over a plain TCP connection, as any
//! client of `/events` would. The connection's shared key is in none of
//! the page's answers. Needs root, `bird2` and `gobgpd`.

use crate::common;

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const PREFIX: &str = "e2ls";

/// The connection's shared key in this test's copy of the file: a string
/// nothing else in the lab spells.
const SHARED_KEY: &str = "k3y-never-shown-e2ls";

/// `(gateway, neighbor, state, prefixes)` of each session, sorted.
type Sessions = Vec<(String, String, String, u64)>;

#[test]
fn the_state_feed_shows_the_sessions_the_bgp_model_predicts() {
    common::require_root();
    let hybrid = include_str!("../../config/hybrid.yaml");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hybrid.yaml");
    let text = common::with_netns_prefix(hybrid, PREFIX).replace(
        "shared_key: \"lab\"",
        &format!("shared_key: \"{SHARED_KEY}\""),
    );
    assert!(text.contains(SHARED_KEY), "the example's shared key moved");
    std::fs::write(&file, text).unwrap();
    let socket = dir.path().join("vnetd.sock");
    let mut run = common::vnetd_command(&socket);
    run.arg("run").arg(&file).args(["--ui", "127.0.0.1:0"]);
    let (mut lab, line) = common::spawn_lab(run, "live page: ");
    let (addr, token) = common::live_page_address(&line);
    let waited = common::vnetd_command(&socket)
        .args(["wait", "--timeout", "60"])
        .output()
        .unwrap();
    assert!(waited.status.success(), "{waited:?}");

    let predicted = offline_sessions(&file);
    assert_eq!(predicted.len(), 1, "{predicted:?}");
    let shown = state_sessions_until(&addr, &token, &predicted);
    assert_eq!(shown, predicted);
    for path in [
        "/",
        "/api/graph",
        "/api/flows",
        "/api/trace?from=hub-vm&to=192.168.1.10",
    ] {
        let answer = get(&addr, &token, path);
        assert!(
            answer.starts_with("HTTP/1.0 200 OK\r\n"),
            "{path}: {answer}"
        );
        assert!(!answer.contains(SHARED_KEY), "{path} shows the shared key");
    }
    common::stop_lab(&mut lab);
}

/// One GET over HTTP/1.0, with the page's token: the whole answer.
fn get(addr: &str, token: &str, path: &str) -> String {
    use std::io::Read;
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.0\r\nAuthorization: Bearer {token}\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// What `vnetd gateway bgp-peer-status --config` predicts for the file's
/// gateway: its sessions once every one is up.
fn offline_sessions(file: &Path) -> Sessions {
    let out = Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(["gateway", "bgp-peer-status", "--gateway", "hub-vpngw"])
        .arg("--config")
        .arg(file)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut sessions: Sessions = answer["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                "hub-vpngw".to_string(),
                s["neighbor"].as_str().unwrap().to_string(),
                s["state"].as_str().unwrap().to_string(),
                s["routesReceived"].as_u64().unwrap(),
            )
        })
        .collect();
    sessions.sort();
    sessions
}

/// Reads `/events` until a `state` event's sessions equal `expected`, and
/// returns the last sessions seen (the state is read every five seconds:
/// one a session still coming up is followed by the next).
fn state_sessions_until(addr: &str, token: &str, expected: &Sessions) -> Sessions {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(
            format!("GET /events?token={token} HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut event = String::new();
    let mut last = Sessions::new();
    for line in BufReader::new(stream).lines() {
        let line = line.expect("the event stream");
        if let Some(name) = line.strip_prefix("event: ") {
            event = name.to_string();
        } else if let (Some(data), "state") = (line.strip_prefix("data: "), event.as_str()) {
            let state: Value = serde_json::from_str(data).unwrap();
            let mut sessions: Sessions = state["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["gateway"].as_str().unwrap().to_string(),
                        s["neighbor"].as_str().unwrap().to_string(),
                        s["state"].as_str().unwrap().to_string(),
                        s["prefixes"].as_u64().unwrap(),
                    )
                })
                .collect();
            sessions.sort();
            last = sessions;
            if &last == expected || Instant::now() > deadline {
                break;
            }
        }
    }
    last
}
