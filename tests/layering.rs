//! The crate's layers import one way only: each module may use the modules
//! below it (see `src/lib.rs`), never one above. This test reads every
//! `crate::` path in `src/` and fails on an edge the layering does not allow,
//! naming the file and line, so a reversed import cannot land unnoticed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Which top-level modules each module may use. `cli` is the top; `host`
/// and `topology` know nothing of the rest.
const ALLOWED: &[(&str, &[&str])] = &[
    ("topology", &[]),
    ("engine", &[]),
    ("host", &[]),
    ("policy", &["topology"]),
    ("snapshot", &["engine", "policy", "topology"]),
    ("dataplane", &["engine", "snapshot", "topology"]),
    ("diagnostics", &["engine", "policy", "snapshot", "topology"]),
    ("graph", &["policy", "snapshot", "topology"]),
    (
        "daemon",
        &[
            "dataplane",
            "diagnostics",
            "engine",
            "host",
            "policy",
            "snapshot",
            "topology",
        ],
    ),
    (
        "cli",
        &[
            "daemon",
            "dataplane",
            "diagnostics",
            "engine",
            "graph",
            "host",
            "policy",
            "snapshot",
            "topology",
        ],
    ),
];

/// Edges that exist today against the layering, each to be removed by
/// moving the type to the layer that produces it. The test fails when one
/// of them disappears too, so that the list only shrinks.
const KNOWN_REVERSED: &[(&str, &str)] = &[
    ("engine", "topology"),
    ("policy", "engine"),
    ("diagnostics", "cli"),
    ("daemon", "cli"),
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
    let new: Vec<_> = bad
        .iter()
        .filter(|(f, t, _)| !KNOWN_REVERSED.contains(&(f.as_str(), t.as_str())))
        .collect();
    assert!(
        new.is_empty(),
        "imports against the layering (module -> module at file:line): {new:#?}"
    );
    for (from, to) in KNOWN_REVERSED {
        assert!(
            bad.iter().any(|(f, t, _)| f == from && t == to),
            "{from} -> {to} is gone: remove it from KNOWN_REVERSED"
        );
    }
}

/// The check itself can fail: a file of `engine` that uses `daemon` is
/// reported with its line.
#[test]
fn a_reversed_import_is_reported() {
    let dir = std::env::temp_dir().join(format!("vnetd-layering-{}", std::process::id()));
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
    for doc in std::fs::read_dir(root.join("docs")).unwrap() {
        files.push(doc.unwrap().path());
    }
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
