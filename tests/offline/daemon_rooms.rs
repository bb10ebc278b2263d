//! The daemon's rooms keep their order: forwarding uses no room,
//! reporting uses forwarding, changing uses both (docs/src/layout.md). The
//! compiler sees no edge inside a crate, so this test reads every path of
//! a file of `src/daemon/` and fails on a room using one it may not,
//! naming the file and line.

use crate::import_graph::{module_path, relative_paths};
use crate::layering::rust_files;
use std::path::Path;

/// The daemon's rooms (docs/src/layout.md), and which of them each may
/// use. `forwarding` carries packets and knows no other room; `reporting`
/// reads what the others count and publish; `changing` changes the lab.
/// Beside them, at the daemon's root: `shared` (the settings and the
/// threads' supervision, which every room uses and which use no room),
/// `control` (the control socket, the daemon's front door: it answers
/// `apply` as well as the reports, and no room uses it) and `root`
/// (`daemon/mod.rs` with the `Daemon`, and the lab's start, which starts
/// every room's threads).
const DAEMON_ROOMS: &[(&str, &[&str])] = &[
    ("shared", &[]),
    ("forwarding", &["shared"]),
    ("answering", &["forwarding", "shared", "root"]),
    ("reporting", &["forwarding", "answering", "shared", "root"]),
    ("changing", &["forwarding", "reporting", "shared"]),
    (
        "control",
        &[
            "forwarding",
            "reporting",
            "changing",
            "answering",
            "shared",
            "root",
        ],
    ),
    (
        "root",
        &[
            "forwarding",
            "reporting",
            "changing",
            "answering",
            "control",
            "shared",
        ],
    ),
];

/// The modules at the daemon's root that every room may use.
const DAEMON_SHARED: &[&str] = &["options", "threads"];

/// The room of a module directly in `daemon/` (its first path segment);
/// anything else there (an item of `daemon/mod.rs`, the lab's start) is
/// `root`.
fn daemon_room(first: &str) -> &str {
    match first {
        "forwarding" | "reporting" | "changing" | "answering" | "control" => first,
        _ if DAEMON_SHARED.contains(&first) => "shared",
        _ => "root",
    }
}

/// The room of each name `daemon/mod.rs` re-exports from a room (`pub use
/// forwarding::plane::{Plane, ...};`), so that a path through the root's
/// re-export counts as a path into that room.
fn daemon_reexports(root: &str) -> std::collections::BTreeMap<String, String> {
    let mut rooms = std::collections::BTreeMap::new();
    let code: String = root
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    for item in code.split(';') {
        let Some(at) = item.find("pub use ") else {
            continue;
        };
        let path = item[at + "pub use ".len()..].trim();
        let first = path.split("::").next().unwrap_or("").trim();
        let room = daemon_room(first);
        if room == "root" {
            continue;
        }
        let names = match (path.find('{'), path.rfind('}')) {
            (Some(open), Some(close)) => path[open + 1..close].split(',').collect(),
            _ => vec![path.rsplit("::").next().unwrap_or("")],
        };
        for name in names {
            let name = name.split(" as ").last().unwrap_or("").trim();
            if !name.is_empty() && name != "self" {
                rooms.insert(name.to_owned(), room.to_owned());
            }
        }
    }
    rooms
}

/// The room a file of `daemon/` is in, by where it sits.
fn daemon_room_of(daemon: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(daemon).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_str()
        .unwrap();
    let name = first.strip_suffix(".rs").unwrap_or(first);
    match name {
        "mod" | "start" => "root".to_owned(),
        _ if rel.components().count() > 1 || DAEMON_SHARED.contains(&name) => {
            let room = daemon_room(name);
            assert!(
                room != "root",
                "{} is in no daemon room: add its folder to DAEMON_ROOMS",
                file.display()
            );
            room.to_owned()
        }
        _ => panic!(
            "{} is in no daemon room: put it in a room's folder, or add it to DAEMON_SHARED",
            file.display()
        ),
    }
}

/// Daemon rooms that use a room they may not, as (from, to, where): each
/// `crate::daemon::`, `super::` and `self::` path of a file of `daemon/`
/// is resolved from where the file sits to the room it names.
fn reversed_daemon_edges(daemon: &Path) -> Vec<(String, String, String)> {
    let mut files = Vec::new();
    rust_files(daemon, &mut files);
    let reexports =
        daemon_reexports(&std::fs::read_to_string(daemon.join("mod.rs")).unwrap_or_default());
    let mut bad = Vec::new();
    for file in files {
        let from = daemon_room_of(daemon, &file);
        let allowed = DAEMON_ROOMS
            .iter()
            .find(|(m, _)| *m == from)
            .map(|(_, allowed)| *allowed)
            .unwrap();
        let mut here = vec!["daemon".to_owned()];
        here.extend(module_path(daemon, &file));
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for path in relative_paths(code) {
                let mut full: Vec<String> = Vec::new();
                let mut rest = path.as_slice();
                match rest.first().map(String::as_str) {
                    Some("crate") => rest = &rest[1..],
                    Some("self") => {
                        full = here.clone();
                        rest = &rest[1..];
                    }
                    _ => {
                        full = here.clone();
                        while rest.first().map(String::as_str) == Some("super") {
                            full.pop();
                            rest = &rest[1..];
                        }
                    }
                }
                full.extend(rest.iter().cloned());
                if full.first().map(String::as_str) != Some("daemon") || full.len() < 2 {
                    continue;
                }
                let to = match reexports.get(&full[1]) {
                    Some(room) => room.clone(),
                    None => daemon_room(&full[1]).to_owned(),
                };
                if to != from && !allowed.contains(&to.as_str()) {
                    bad.push((from.clone(), to, format!("{}:{}", file.display(), n + 1)));
                }
            }
        }
    }
    bad
}

#[test]
fn daemon_rooms_follow_their_order() {
    let daemon = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/daemon");
    let bad = reversed_daemon_edges(&daemon);
    assert!(
        bad.is_empty(),
        "daemon rooms using rooms they may not (room -> room at file:line): {bad:#?}"
    );
}

/// The rooms check can fail: the metrics reaching into the control socket
/// (the edge that once tied the two together) is reported, in both
/// spellings.
#[test]
fn metrics_using_control_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir_all(dir.join("control")).unwrap();
    std::fs::create_dir_all(dir.join("reporting")).unwrap();
    std::fs::write(
        dir.join("reporting/metrics.rs"),
        "use super::super::control::{stats_of, StatsReport};\nuse crate::daemon::{control, Daemon};\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("control/server.rs"),
        "use super::render;\nuse crate::daemon::reporting::metrics::render;\n",
    )
    .unwrap();
    let mut bad = reversed_daemon_edges(&dir);
    bad.sort();
    assert_eq!(bad.len(), 3, "{bad:?}");
    for edge in &bad {
        assert_eq!((edge.0.as_str(), edge.1.as_str()), ("reporting", "control"));
    }
    assert!(bad[0].2.ends_with("reporting/metrics.rs:1"), "{bad:?}");
    assert!(bad[2].2.ends_with("reporting/metrics.rs:2"), "{bad:?}");
}

/// The rooms check can fail on every edge against their order: the
/// workers sending into the flow log (reporting) or naming the `Daemon`,
/// an item of `changing` reached through the root's re-export, a report
/// that uses `changing`, `apply` naming the `Daemon` (the rooms that hold
/// the daemon's state are handed each other's handles, never the daemon),
/// the settings using a room; and the edges the order allows are not
/// reported.
#[test]
fn a_room_using_a_room_above_it_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    for room in ["forwarding/offload", "reporting", "changing"] {
        std::fs::create_dir_all(dir.join(room)).unwrap();
    }
    let files = [
        (
            "mod.rs",
            "pub mod forwarding;\npub use changing::hybrid::{\n    RoutingDaemon,\n};\n\
             pub use forwarding::plane::Plane;\nuse reporting::report;\n",
        ),
        (
            "forwarding/worker.rs",
            "use super::super::reporting::flow_log::DenySink;\nuse super::plane::Plane;\n\
             use crate::daemon::RoutingDaemon;\nuse crate::daemon::threads::Faults;\n",
        ),
        (
            "forwarding/offload/mod.rs",
            "use super::super::Daemon;\nuse super::stats::WorkerCounters;\n",
        ),
        (
            "reporting/convergence.rs",
            "use crate::daemon::changing::hybrid::SessionBook;\nuse crate::daemon::Plane;\n",
        ),
        (
            "changing/apply.rs",
            "use crate::daemon::reporting::report;\nuse super::super::forwarding::plane::Plane;\n\
             use crate::daemon::{Daemon, options::MAX_NICS};\n",
        ),
        ("threads.rs", "use super::forwarding::plane::Plane;\n"),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let mut bad: Vec<(String, String, String)> = reversed_daemon_edges(&dir)
        .into_iter()
        .map(|(from, to, at)| {
            let at = at
                .strip_prefix(&format!("{}/", dir.display()))
                .unwrap()
                .to_owned();
            (from, to, at)
        })
        .collect();
    bad.sort();
    let edge = |from: &str, to: &str, at: &str| (from.to_owned(), to.to_owned(), at.to_owned());
    assert_eq!(
        bad,
        vec![
            edge("changing", "root", "changing/apply.rs:3"),
            edge("forwarding", "changing", "forwarding/worker.rs:3"),
            edge("forwarding", "reporting", "forwarding/worker.rs:1"),
            edge("forwarding", "root", "forwarding/offload/mod.rs:1"),
            edge("reporting", "changing", "reporting/convergence.rs:1"),
            edge("shared", "forwarding", "threads.rs:1"),
        ]
    );
}
