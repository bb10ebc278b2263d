//! What the compiler cannot check of vnetd's layering.
//!
//! The layers are crates (`crates/*`, the root crate on top), so a wrong
//! arrow between them does not build; [`the_crates_depend_as_the_layers_do`]
//! keeps their manifests to the layer table, so that nobody makes a wrong
//! import build by adding a dependency. Inside a crate of several modules
//! the compiler allows every edge, so this test reads every `crate::` path
//! of such a crate and fails on an edge its layering does not allow, naming
//! the file and line; and it holds the daemon's rooms to their order.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each crate of vnetd (its directory) and the crates of vnetd it may
/// depend on: the layer table of `src/lib.rs`.
const CRATES: &[(&str, &str, &[&str])] = &[
    ("crates/net", "vnetd-net", &[]),
    ("crates/engine", "vnetd-engine", &["vnetd-net"]),
    ("crates/model", "vnetd-model", &["vnetd-net"]),
    (
        "crates/decide",
        "vnetd-decide",
        &["vnetd-engine", "vnetd-model", "vnetd-net"],
    ),
    ("crates/import", "vnetd-import", &["vnetd-model"]),
    ("crates/host", "vnetd-host", &[]),
    (
        ".",
        "vnetd",
        &[
            "vnetd-decide",
            "vnetd-engine",
            "vnetd-host",
            "vnetd-import",
            "vnetd-model",
            "vnetd-net",
        ],
    ),
];

/// The crates of several modules, and which modules (their own, or the
/// lower crates' they re-export under a module's name) each module may
/// use. A crate of one module (`net`, `engine`, `import`, `host`) has no
/// edges inside to check.
/// Modules and the modules each may use.
type Layers = &'static [(&'static str, &'static [&'static str])];

const ALLOWED: &[(&str, Layers)] = &[
    (
        "crates/model/src",
        &[
            ("topology", &["net"]),
            // `fixtures` is built only for tests (`cfg(test)` or the
            // `fixtures` feature): only the policy's tests can use it.
            ("policy", &["fixtures", "net", "topology"]),
            ("plan", &["net", "topology"]),
            // The tests' builders of small topologies.
            ("fixtures", &["policy", "topology"]),
        ],
    ),
    (
        "crates/decide/src",
        &[
            (
                "snapshot",
                &["engine", "names", "net", "plan", "policy", "topology"],
            ),
            // Azure DNS's answers: the topology's names, no tables of the
            // snapshot (which holds them).
            ("names", &["topology"]),
            ("dataplane", &["engine", "net", "snapshot", "topology"]),
            (
                "diagnostics",
                &[
                    "dataplane",
                    "engine",
                    "names",
                    "net",
                    "plan",
                    "policy",
                    "snapshot",
                    "topology",
                ],
            ),
            ("graph", &["net", "policy", "snapshot", "topology"]),
        ],
    ),
    ("src", ROOT_CRATE),
];

/// The root crate's modules. The layers below are crates it re-exports
/// under their module names (`crate::topology`), so which of them each
/// module may use is checked here too.
const ROOT_CRATE: Layers = &[
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
            "names",
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

/// Every `src` directory of the workspace: the root crate's and each
/// crate's under `crates/`.
pub(crate) fn source_dirs(root: &Path) -> Vec<PathBuf> {
    CRATES
        .iter()
        .map(|(dir, _, _)| root.join(dir).join("src"))
        .collect()
}

/// The vnetd crates `manifest` (a `Cargo.toml`) names in its
/// `[dependencies]` (not its dev-dependencies, which only its tests use).
fn vnetd_dependencies(manifest: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut in_dependencies = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        if in_dependencies && line.starts_with("vnetd-") {
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            found.insert(name);
        }
    }
    found
}

/// Each crate depends on exactly the crates of its layers, and the
/// workspace has no crate the table does not list.
#[test]
fn the_crates_depend_as_the_layers_do() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (dir, name, allowed) in CRATES {
        let manifest = std::fs::read_to_string(root.join(dir).join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{dir}/Cargo.toml is not the crate {name}"
        );
        let allowed: BTreeSet<String> = allowed.iter().map(|s| (*s).to_string()).collect();
        assert_eq!(
            vnetd_dependencies(&manifest),
            allowed,
            "{dir}/Cargo.toml: the vnetd crates {name} depends on"
        );
    }
    let listed: BTreeSet<PathBuf> = CRATES
        .iter()
        .filter(|(dir, _, _)| *dir != ".")
        .map(|(dir, _, _)| root.join(dir))
        .collect();
    let present: BTreeSet<PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    assert_eq!(present, listed, "crates/ against the layer table");
}

/// The manifest check can fail: a dependency of the model on the host is
/// seen, a dev-dependency is not.
#[test]
fn a_wrong_dependency_is_seen() {
    let manifest = "[package]\nname = \"vnetd-model\"\n\n[dependencies]\nvnetd-net.workspace = true\nvnetd-host = { workspace = true }\nipnet.workspace = true\n\n[dev-dependencies]\nvnetd-decide.workspace = true\n";
    assert_eq!(
        vnetd_dependencies(manifest),
        BTreeSet::from(["vnetd-host".to_string(), "vnetd-net".to_string()])
    );
}

pub(crate) fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
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
fn reversed_edges(src: &Path, layers: &[(&str, &[&str])]) -> Vec<(String, String, String)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<&str> = layers
        .iter()
        .flat_map(|(m, uses)| std::iter::once(*m).chain(uses.iter().copied()))
        .collect();
    let mut bad = Vec::new();
    for file in files {
        let Some(from) = module_of(src, &file) else {
            continue;
        };
        let allowed = layers
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
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bad: Vec<_> = ALLOWED
        .iter()
        .flat_map(|(src, layers)| reversed_edges(&root.join(src), layers))
        .collect();
    assert!(
        bad.is_empty(),
        "imports against the layering (module -> module at file:line): {bad:#?}"
    );
}

/// The check itself can fail: a file of the model's `topology` that uses
/// its `policy` is reported with its line.
#[test]
fn a_reversed_import_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir_all(dir.join("topology")).unwrap();
    std::fs::write(
        dir.join("topology/resolve.rs"),
        "//! doc mentioning crate::policy is fine\nuse crate::{policy::routes, topology::x, net::y};\n",
    )
    .unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod topology;\n").unwrap();
    let model = ALLOWED
        .iter()
        .find(|(src, _)| *src == "crates/model/src")
        .unwrap()
        .1;
    let bad = reversed_edges(&dir, model);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(
        (bad[0].0.as_str(), bad[0].1.as_str()),
        ("topology", "policy")
    );
    assert!(bad[0].2.ends_with("topology/resolve.rs:2"), "{bad:?}");
}

/// The repository stands alone: no file points at reference material
/// outside it.
#[test]
fn nothing_points_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for src in source_dirs(root) {
        rust_files(&src, &mut files);
    }
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
    let bad = reversed_edges(&dir, ROOT_CRATE);
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
    let long = long_files(
        root,
        &["src", "crates", "tests", "benches", "fuzz"],
        MAX_LINES,
    );
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
