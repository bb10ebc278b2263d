//! The crate's layers import one way only: each module may use the modules
//! below it (see `src/lib.rs`), never one above. This test reads every
//! `crate::` path in `src/` and fails on an edge the layering does not allow,
//! naming the file and line, so a reversed import cannot land unnoticed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Which top-level modules each module may use. `cli` is the top; `host`
/// and `topology` know nothing of the rest.
const ALLOWED: &[(&str, &[&str])] = &[
    ("net", &[]),
    ("topology", &["net"]),
    ("engine", &["net"]),
    ("host", &[]),
    ("policy", &["net", "topology"]),
    ("plan", &["net", "topology"]),
    ("snapshot", &["engine", "net", "plan", "policy", "topology"]),
    ("dataplane", &["engine", "net", "snapshot", "topology"]),
    (
        "diagnostics",
        &[
            "dataplane",
            "engine",
            "net",
            "plan",
            "policy",
            "snapshot",
            "topology",
        ],
    ),
    ("graph", &["net", "policy", "snapshot", "topology"]),
    // `import` checks what it writes as `vnetd check` does, plan included.
    ("import", &["net", "plan", "topology"]),
    ("api", &["diagnostics", "topology"]),
    (
        "daemon",
        &[
            "api",
            "net",
            "dataplane",
            "diagnostics",
            "engine",
            "host",
            "plan",
            "policy",
            "snapshot",
            "topology",
        ],
    ),
    // `verify` asks the running lab through the control API's client,
    // never the daemon itself.
    (
        "verify",
        &["api", "net", "topology", "host", "diagnostics", "plan"],
    ),
    // The HTTP server reads the running lab: its snapshot, reports,
    // counters and drop events, the picture, traces and captures.
    (
        "web",
        &[
            "api",
            "daemon",
            "dataplane",
            "diagnostics",
            "graph",
            "host",
            "net",
            "plan",
            "policy",
            "snapshot",
            "topology",
        ],
    ),
    (
        "cli",
        &[
            "api",
            "net",
            "daemon",
            "dataplane",
            "diagnostics",
            "engine",
            "graph",
            "host",
            "import",
            "plan",
            "policy",
            "snapshot",
            "topology",
            "verify",
            "web",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The book's sources under `dir` (its Markdown chapters and `book.toml`),
/// leaving out what `mdbook build` writes to `docs/book/`.
fn book_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "book") {
                book_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "md" || e == "toml") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None` for lib.rs and
/// main.rs).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_string())
}

/// Every `crate::<module>` named in `text`, with its line, outside comments.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push((n + 1, name));
            }
        }
        // `use crate::{a, b::c}` groups.
        if let Some(at) = code.find("crate::{") {
            let group = &code[at + "crate::{".len()..];
            for part in group.split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push((n + 1, name));
                }
            }
        }
    }
    found
}

/// The edges of the crate that break the layering, as (from, to, where).
fn reversed_edges(src: &Path) -> Vec<(String, String, String)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<&str> = ALLOWED.iter().map(|(m, _)| *m).collect();
    let mut bad = Vec::new();
    for file in files {
        let Some(from) = module_of(src, &file) else {
            continue;
        };
        let allowed = ALLOWED
            .iter()
            .find(|(m, _)| *m == from)
            .unwrap_or_else(|| panic!("{} is in no layer: add it to ALLOWED", file.display()))
            .1;
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, to) in crate_paths(&text) {
            if to == from || !modules.contains(to.as_str()) || allowed.contains(&to.as_str()) {
                continue;
            }
            bad.push((from.clone(), to, format!("{}:{line}", file.display())));
        }
    }
    bad
}

#[test]
fn imports_follow_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = reversed_edges(&src);
    assert!(
        bad.is_empty(),
        "imports against the layering (module -> module at file:line): {bad:#?}"
    );
}

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
    ("reporting", &["forwarding", "shared", "root"]),
    ("changing", &["forwarding", "reporting", "shared", "root"]),
    (
        "control",
        &["forwarding", "reporting", "changing", "shared", "root"],
    ),
    (
        "root",
        &["forwarding", "reporting", "changing", "control", "shared"],
    ),
];

/// The modules at the daemon's root that every room may use.
const DAEMON_SHARED: &[&str] = &["options", "threads"];

/// The room of a module directly in `daemon/` (its first path segment);
/// anything else there (an item of `daemon/mod.rs`, the lab's start) is
/// `root`.
fn daemon_room(first: &str) -> &str {
    match first {
        "forwarding" | "reporting" | "changing" | "control" => first,
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
/// that uses `changing`, the settings using a room; and the edges the
/// order allows are not reported.
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
            edge("forwarding", "changing", "forwarding/worker.rs:3"),
            edge("forwarding", "reporting", "forwarding/worker.rs:1"),
            edge("forwarding", "root", "forwarding/offload/mod.rs:1"),
            edge("reporting", "changing", "reporting/convergence.rs:1"),
            edge("shared", "forwarding", "threads.rs:1"),
        ]
    );
}

/// The check itself can fail: a file of `engine` that uses `daemon` is
/// reported with its line.
#[test]
fn a_reversed_import_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir_all(dir.join("engine")).unwrap();
    std::fs::write(
        dir.join("engine/lpm.rs"),
        "//! doc mentioning crate::daemon is fine\nuse crate::{daemon::Daemon, engine::x};\n",
    )
    .unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod engine;\n").unwrap();
    let bad = reversed_edges(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!((bad[0].0.as_str(), bad[0].1.as_str()), ("engine", "daemon"));
    assert!(bad[0].2.ends_with("engine/lpm.rs:2"), "{bad:?}");
}

/// The repository stands alone: no file points at reference material
/// outside it.
#[test]
fn nothing_points_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("tests"), &mut files);
    files.push(root.join("README.md"));
    files.push(root.join("BENCHMARKS.md"));
    book_files(&root.join("benchmarks"), &mut files);
    book_files(&root.join("docs"), &mut files);
    // Spelled in pieces, so that this file does not match itself.
    let outside = [
        concat!("..", "/shared"),
        concat!("azure-", "semantics.md"),
        concat!("contr", "act.md"),
        concat!("design-", "notes.md"),
    ];
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for word in outside {
                assert!(
                    !line.contains(word),
                    "{}:{}: points outside the repository ({word})",
                    file.display(),
                    n + 1
                );
            }
        }
    }
}

/// `verify` asks the lab through the control API only: a file of it that
/// reaches into the daemon is reported, one that uses the API is not.
#[test]
fn verify_using_the_daemon_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir_all(dir.join("verify")).unwrap();
    std::fs::write(
        dir.join("verify/mod.rs"),
        "use crate::api::client::Client;\nuse crate::daemon::control::{self, Request};\n",
    )
    .unwrap();
    let bad = reversed_edges(&dir);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!((bad[0].0.as_str(), bad[0].1.as_str()), ("verify", "daemon"));
    assert!(bad[0].2.ends_with("verify/mod.rs:2"), "{bad:?}");
}

/// The longest a Rust file of the repository may be: a longer one does
/// several jobs and is split along its seams (docs/src/layout.md).
const MAX_LINES: usize = 800;

/// Every `.rs` file under `dirs` (relative to `root`) longer than `limit`
/// lines, with its length.
fn long_files(root: &Path, dirs: &[&str], limit: usize) -> Vec<(PathBuf, usize)> {
    let mut files = Vec::new();
    for dir in dirs {
        let dir = root.join(dir);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
    }
    let mut long: Vec<(PathBuf, usize)> = files
        .into_iter()
        .filter(|f| !f.components().any(|c| c.as_os_str() == "target"))
        .map(|f| {
            let lines = std::fs::read_to_string(&f).unwrap().lines().count();
            (f, lines)
        })
        .filter(|(_, lines)| *lines > limit)
        .collect();
    long.sort();
    long
}

#[test]
fn every_file_does_one_job_in_at_most_800_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let long = long_files(root, &["src", "tests", "benches", "fuzz"], MAX_LINES);
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines (split them along their seams): {long:?}"
    );
}

#[test]
fn a_long_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src/deep")).unwrap();
    std::fs::write(dir.path().join("src/deep/long.rs"), "//\n".repeat(11)).unwrap();
    std::fs::write(dir.path().join("src/short.rs"), "//\n".repeat(10)).unwrap();
    let long = long_files(dir.path(), &["src", "tests"], 10);
    assert_eq!(long, vec![(dir.path().join("src/deep/long.rs"), 11)]);
}

/// The module path of a file of `src/` (`src/a/b.rs` and `src/a/b/mod.rs`
/// are `["a", "b"]`; `lib.rs` is the root).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut path: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(path.last().map(String::as_str), Some("mod" | "lib")) {
        path.pop();
    }
    path
}

/// Every path a line of code starts at `crate::`, `super::` or `self::`,
/// with each member of a `{...}` group spelled out: `use super::{a, b::c}`
/// gives `super::a` and `super::b::c`.
fn relative_paths(code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start).map(|i| i + from) {
            from = at + start.len();
            // Not the tail of a longer name (`my_crate::`) or of a path.
            if at > 0
                && (bytes[at - 1].is_ascii_alphanumeric()
                    || bytes[at - 1] == b'_'
                    || bytes[at - 1] == b':')
            {
                continue;
            }
            let rest = &code[at..];
            let head: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let head = head.trim_end_matches(':');
            let segments: Vec<String> = head.split("::").map(str::to_owned).collect();
            let after = &rest[head.len()..];
            match after.strip_prefix("::{") {
                Some(group) => {
                    let group = group.split('}').next().unwrap_or("");
                    for member in group.split(',') {
                        let mut path = segments.clone();
                        path.extend(
                            member
                                .trim()
                                .split("::")
                                .map(|s| {
                                    s.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                                })
                                .filter(|s| !s.is_empty())
                                .map(str::to_owned),
                        );
                        found.push(path);
                    }
                }
                None => found.push(segments),
            }
        }
    }
    found
}

/// The file-to-file imports of `src/`: from each file to the file of the
/// module each of its `crate::`, `super::` and `self::` paths names (the
/// longest prefix of the path that is a module), leaving out test modules.
fn file_imports(src: &Path) -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: std::collections::BTreeMap<Vec<String>, String> = files
        .iter()
        .map(|f| {
            (
                module_path(src, f),
                f.strip_prefix(src).unwrap().display().to_string(),
            )
        })
        .collect();
    let mut edges = BTreeSet::new();
    for file in &files {
        let name = file.strip_prefix(src).unwrap().display().to_string();
        let here = module_path(src, file);
        let text = std::fs::read_to_string(file).unwrap();
        for line in text.lines() {
            if line.trim_start().starts_with("#[cfg(test)]") {
                break;
            }
            let code = line.split("//").next().unwrap_or("");
            for path in relative_paths(code) {
                let mut base: Vec<String> = Vec::new();
                let mut rest = path.as_slice();
                match rest.first().map(String::as_str) {
                    Some("crate") => rest = &rest[1..],
                    Some("self") => {
                        base = here.clone();
                        rest = &rest[1..];
                    }
                    _ => {
                        base = here.clone();
                        while rest.first().map(String::as_str) == Some("super") {
                            base.pop();
                            rest = &rest[1..];
                        }
                    }
                }
                let mut full = base;
                full.extend(rest.iter().cloned());
                let target = (0..=full.len()).rev().find_map(|n| modules.get(&full[..n]));
                if let Some(target) = target.filter(|t| **t != name) {
                    edges.insert((name.clone(), target.clone()));
                }
            }
        }
    }
    edges
}

/// The circles among `edges`: each as the files it goes through, the
/// smallest first, found from every file by a depth-first walk.
fn circles(edges: &BTreeSet<(String, String)>) -> BTreeSet<Vec<String>> {
    let mut next: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (from, to) in edges {
        next.entry(from).or_default().push(to);
    }
    fn walk<'a>(
        at: &'a str,
        next: &std::collections::BTreeMap<&'a str, Vec<&'a str>>,
        trail: &mut Vec<&'a str>,
        found: &mut BTreeSet<Vec<String>>,
    ) {
        for &to in next.get(at).into_iter().flatten() {
            if let Some(i) = trail.iter().position(|f| *f == to) {
                let mut circle: Vec<String> = trail[i..].iter().map(|s| s.to_string()).collect();
                let smallest = (0..circle.len())
                    .min_by_key(|&k| circle[k].clone())
                    .unwrap();
                circle.rotate_left(smallest);
                found.insert(circle);
            } else if trail.len() < 12 {
                trail.push(to);
                walk(to, next, trail, found);
                trail.pop();
            }
        }
    }
    let mut found = BTreeSet::new();
    for &from in next.keys() {
        walk(from, &next, &mut vec![from], &mut found);
    }
    found
}

#[test]
fn no_file_imports_itself_through_others() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = circles(&file_imports(&src));
    assert!(
        found.is_empty(),
        "files that import each other in a circle (cut one edge): {found:#?}"
    );
}

#[test]
fn a_circle_of_imports_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\n").unwrap();
    std::fs::write(src.join("a.rs"), "mod b;\nmod c;\n").unwrap();
    std::fs::write(src.join("a/b.rs"), "use super::c::{one, two::Three};\n").unwrap();
    std::fs::write(
        src.join("a/c.rs"),
        "fn f() { crate::a::b::g() } // super::d\n#[cfg(test)]\nuse super::e;\n",
    )
    .unwrap();
    let edges = file_imports(&src);
    let edge = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        edges,
        BTreeSet::from([edge("a/b.rs", "a/c.rs"), edge("a/c.rs", "a/b.rs")])
    );
    assert_eq!(
        circles(&edges),
        BTreeSet::from([vec!["a/b.rs".to_owned(), "a/c.rs".to_owned()]])
    );
}
