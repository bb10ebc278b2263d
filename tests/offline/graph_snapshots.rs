//! `vnetd graph` on every example lab in `config/`, and on the golden
//! topologies that draw what no example lab has (load balancers): the
//! Mermaid and DOT pictures match the checked-in references in
//! `tests/graph/` (and, for the labs in [`CYTOSCAPE_LABS`], the Cytoscape
//! elements the live page draws), the DOT is
//! accepted by the real Graphviz `dot`, and the Mermaid passes a structural
//! check (there is no Mermaid renderer on the test machines).
//!
//! The references are insta snapshots. After an intended change of the
//! pictures, review and accept the new ones with
//!
//! ```sh
//! cargo insta test --review --test graph_snapshots
//! ```
//!
//! (or `INSTA_UPDATE=always cargo test --test graph_snapshots`, then read
//! the diff before committing it): the references are the spec.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use vnetd::graph::{render, GraphFormat};
use vnetd::snapshot::Snapshot;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Golden topologies pictured beside the example labs.
const GOLDEN_LABS: &[&str] = &["tests/golden/40-ilb-ha-ports.yaml"];

/// Labs whose Cytoscape elements (the live page's picture) are kept as a
/// reference too: the one with the Internet edge, whose nodes and edges
/// the page puts rates on by their identifiers.
const CYTOSCAPE_LABS: &[&str] = &["config/internet-edge.yaml"];

/// Every `config/*.yaml`, sorted by name, then [`GOLDEN_LABS`].
fn example_labs() -> Vec<PathBuf> {
    let dir = manifest_dir().join("config");
    let mut labs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    labs.sort();
    assert!(!labs.is_empty(), "no example labs in {}", dir.display());
    labs.extend(GOLDEN_LABS.iter().map(|lab| manifest_dir().join(lab)));
    labs
}

fn picture(lab: &Path, format: GraphFormat) -> String {
    let loaded =
        vnetd::plan::load_file(lab).unwrap_or_else(|e| panic!("{} refused: {e:?}", lab.display()));
    render(&Snapshot::compile(loaded.topology, 0), format)
}

fn lab_name(lab: &Path) -> String {
    lab.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn pictures_match_the_references() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(manifest_dir().join("tests/graph"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        for lab in example_labs() {
            for (format, ext) in [(GraphFormat::Mermaid, "mmd"), (GraphFormat::Dot, "dot")] {
                let name = format!("{}.{ext}", lab_name(&lab));
                insta::assert_snapshot!(name, picture(&lab, format));
            }
        }
        for lab in CYTOSCAPE_LABS.iter().map(|lab| manifest_dir().join(lab)) {
            let name = format!("{}.cytoscape.json", lab_name(&lab));
            insta::assert_snapshot!(name, cytoscape_elements(&lab));
        }
    });
}

/// The live page's picture of `lab`: its Cytoscape elements, one a line.
fn cytoscape_elements(lab: &Path) -> String {
    let loaded =
        vnetd::plan::load_file(lab).unwrap_or_else(|e| panic!("{} refused: {e:?}", lab.display()));
    let snapshot = Snapshot::compile(loaded.topology, 0);
    let elements = vnetd::graph::cytoscape::elements(&vnetd::graph::Picture::of(&snapshot));
    let lines: Vec<String> = elements.iter().map(|e| e.to_string()).collect();
    lines.join("\n") + "\n"
}

/// Every lab's Cytoscape elements: identifiers unique, and every edge
/// between two of its nodes (an edge to a missing node would be dropped by
/// the page without a word).
#[test]
fn every_cytoscape_edge_joins_two_drawn_nodes() {
    for lab in example_labs() {
        let loaded = vnetd::plan::load_file(&lab).unwrap();
        let snapshot = Snapshot::compile(loaded.topology, 0);
        let elements = vnetd::graph::cytoscape::elements(&vnetd::graph::Picture::of(&snapshot));
        let mut ids = HashSet::new();
        let mut nodes = HashSet::new();
        for e in &elements {
            let id = e["data"]["id"].as_str().unwrap().to_string();
            assert!(ids.insert(id.clone()), "{}: {id} twice", lab.display());
            if e["group"] == "nodes" {
                nodes.insert(id);
            }
        }
        for e in elements.iter().filter(|e| e["group"] == "edges") {
            for end in ["source", "target"] {
                let node = e["data"][end].as_str().unwrap();
                assert!(nodes.contains(node), "{}: {e} to no node", lab.display());
            }
        }
    }
}

#[test]
fn the_cli_prints_the_same_picture() {
    let lab = manifest_dir().join("config/hub-spoke.yaml");
    for (args, format) in [
        (vec![], GraphFormat::Mermaid),
        (vec!["--format", "mermaid"], GraphFormat::Mermaid),
        (vec!["--format", "dot"], GraphFormat::Dot),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_vnetd"))
            .arg("graph")
            .arg(&lab)
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), picture(&lab, format));
    }
}

#[test]
fn the_cli_refuses_a_broken_file_and_a_bad_format() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("broken.yaml");
    std::fs::write(
        &broken,
        "vnets:\n  - name: hub\n    adress_space: [10.0.0.0/16]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .arg("graph")
        .arg(&broken)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.yaml:3"), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(["graph", "config/hub-spoke.yaml", "--format", "png"])
        .current_dir(manifest_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn graphviz_renders_every_dot_picture() {
    let dot_available = Command::new("dot")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !dot_available {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but Graphviz `dot` is not installed (apt-get install graphviz)"
        );
        eprintln!(
            "note: Graphviz `dot` not found, DOT validity not checked (apt-get install graphviz)"
        );
        return;
    }
    for lab in example_labs() {
        let source = picture(&lab, GraphFormat::Dot);
        let mut child = Command::new("dot")
            .arg("-Tsvg")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(source.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{}: dot failed: {stderr}",
            lab.display()
        );
        // Graphviz reports a layout it had to bend (a bad lhead/ltail, say)
        // as a warning with exit 0; a correct picture has none.
        assert!(
            stderr.trim().is_empty(),
            "{}: dot warned: {stderr}",
            lab.display()
        );
        let svg = String::from_utf8_lossy(&out.stdout);
        assert!(
            svg.contains("<svg"),
            "{}: no <svg> in dot's output",
            lab.display()
        );
    }
}

#[test]
fn every_mermaid_picture_is_well_formed() {
    for lab in example_labs() {
        let source = picture(&lab, GraphFormat::Mermaid);
        if let Err(e) = check_mermaid(&source) {
            panic!("{}: {e}\n{source}", lab.display());
        }
    }
}

#[test]
fn the_mermaid_checker_rejects_broken_pictures() {
    let good = "flowchart LR\n  subgraph a[\"A\"]\n    n1[\"one\"]\n    f1([\"fe\"])\n  end\n  i1((\"net\"))\n  a -->|\"x\"| n1\n  f1 ==>|\"y\"| n1\n  i1 -.->|\"z\"| f1\n";
    assert_eq!(check_mermaid(good), Ok(()));
    let broken = [
        ("graph TD\n", "header"),
        (
            "flowchart LR\n  subgraph a[\"A\"]\n    n1[\"one\"]\n",
            "unclosed",
        ),
        ("flowchart LR\n  n1[\"one\"]\n  end\n", "`end` without"),
        ("flowchart LR\n  n1[\"one\"]\n  n1 --- n2\n", "undeclared"),
        ("flowchart LR\n  n1[\"say \"hi\"\"]\n", "quote"),
        (
            "flowchart LR\n  n1[\"one\"]\n  n1 -->|\"a \"b\"\"| n1\n",
            "quote",
        ),
        ("flowchart LR\n  spoke-1[\"one\"]\n", "identifier"),
        ("flowchart LR\n  n1[\"one\n", "quote"),
        ("flowchart LR\n  n1([\"one\"]\n", "quote"),
        ("flowchart LR\n  n1((\"one\")\n", "quote"),
        ("flowchart LR\n  n1(one)\n", "unquoted"),
    ];
    for (text, why) in broken {
        match check_mermaid(text) {
            Ok(()) => panic!("accepted a broken picture ({why}):\n{text}"),
            Err(e) => assert!(e.contains(why), "{text}: expected {why:?}, got {e:?}"),
        }
    }
}

/// A structural check of the Mermaid that `vnetd graph` writes: the
/// `flowchart LR` header, balanced `subgraph`/`end`, identifiers Mermaid
/// accepts, every quoted label closed and free of raw quotes, and every
/// edge between declared nodes or subgraphs.
fn check_mermaid(text: &str) -> Result<(), String> {
    let mut lines = text.lines();
    match lines.next() {
        Some("flowchart LR") | Some("graph LR") => {}
        other => return Err(format!("header: expected `flowchart LR`, got {other:?}")),
    }
    let mut declared = HashSet::new();
    let mut edges = Vec::new();
    let mut depth = 0usize;
    for (n, raw) in lines.enumerate() {
        let line_no = n + 2;
        let line = raw.trim();
        if line.is_empty() || line.starts_with("%%") {
            continue;
        }
        if line == "end" {
            depth = depth
                .checked_sub(1)
                .ok_or(format!("line {line_no}: `end` without a subgraph"))?;
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if matches!(words.first(), Some(&"classDef") | Some(&"class")) {
            continue;
        }
        let bare = strip_labels(line).map_err(|e| format!("line {line_no}: {e}"))?;
        let tokens: Vec<&str> = bare.split_whitespace().collect();
        match tokens.as_slice() {
            ["subgraph", id] => {
                check_id(id).map_err(|e| format!("line {line_no}: {e}"))?;
                declared.insert(id.to_string());
                depth += 1;
            }
            [id] => {
                check_id(id).map_err(|e| format!("line {line_no}: {e}"))?;
                declared.insert(id.to_string());
            }
            [from, arrow, to] if ["---", "-->", "-.->", "-.-", "==>", "==="].contains(arrow) => {
                check_id(from).map_err(|e| format!("line {line_no}: {e}"))?;
                check_id(to).map_err(|e| format!("line {line_no}: {e}"))?;
                edges.push((line_no, from.to_string(), to.to_string()));
            }
            _ => return Err(format!("line {line_no}: not understood: {raw}")),
        }
    }
    if depth != 0 {
        return Err(format!("{depth} unclosed subgraph(s)"));
    }
    for (line_no, from, to) in edges {
        for end in [from, to] {
            if !declared.contains(&end) {
                return Err(format!("line {line_no}: edge to undeclared `{end}`"));
            }
        }
    }
    Ok(())
}

/// Removes the quoted labels of a line (`["..."]`, `(["..."])`,
/// `(("..."))`, `[["..."]]`, `{{"..."}}`, `[/"..."\]`, `|"..."|`),
/// leaving identifiers and arrows. A quote that does not open or close a
/// label where a label may be is a raw quote inside a label.
fn strip_labels(line: &str) -> Result<String, String> {
    // A stadium's and a subroutine's openers end like a rectangle's, so
    // they are tried first.
    const OPENERS: [(&str, &str); 7] = [
        ("((\"", "\"))"),
        ("([\"", "\"])"),
        ("[[\"", "\"]]"),
        ("[\"", "\"]"),
        ("{{\"", "\"}}"),
        ("[/\"", "\"\\]"),
        ("|\"", "\"|"),
    ];
    let mut rest = line;
    let mut bare = String::new();
    while let Some(q) = rest.find('"') {
        let before = &rest[..q + 1];
        let Some((open, close)) = OPENERS.iter().find(|(open, _)| before.ends_with(open)) else {
            return Err(format!("quote outside a label opener: {line}"));
        };
        bare.push_str(&rest[..q + 1 - open.len()]);
        let after = &rest[q + 1..];
        let Some(end) = after.find('"') else {
            return Err(format!("unclosed quote in a label: {line}"));
        };
        if !after[end..].starts_with(close) {
            return Err(format!("raw quote inside a label: {line}"));
        }
        bare.push(' ');
        rest = &after[end + close.len()..];
    }
    bare.push_str(rest);
    if bare.contains(['[', ']', '{', '}', '|', '(', ')']) {
        return Err(format!("unquoted label: {line}"));
    }
    Ok(bare)
}

fn check_id(id: &str) -> Result<(), String> {
    let valid = !id.is_empty()
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !id.starts_with(|c: char| c.is_ascii_digit())
        && id != "end";
    if valid {
        Ok(())
    } else {
        Err(format!("`{id}` is not a Mermaid identifier"))
    }
}

/// The README and the book's Pictures chapter both show the built-in lab.
#[test]
fn the_readme_shows_the_current_picture_of_the_built_in_lab() {
    for page in ["README.md", "docs/src/pictures.md"] {
        let readme = std::fs::read_to_string(manifest_dir().join(page)).unwrap();
        let block = readme
            .split_once("```mermaid\n")
            .and_then(|(_, rest)| rest.split_once("```"))
            .map(|(block, _)| block)
            .unwrap_or_else(|| panic!("{page} has no ```mermaid block"));
        let lab = manifest_dir().join("config/hub-spoke.yaml");
        assert_eq!(
            block,
            picture(&lab, GraphFormat::Mermaid),
            "{page}'s Mermaid sample is not the built-in lab's picture: paste the picture of tests/graph/hub-spoke.mmd.snap"
        );
    }
}
