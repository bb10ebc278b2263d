//! The file-level import graph of each crate, and its circles.
//!
//! A module's files may use each other in any direction as far as the
//! compiler cares; a circle of files is a knot nobody can read from one
//! end. This reads every path a file names (`crate::`, `super::`,
//! `self::`, and the bare paths at a child module or at a module brought
//! in by `use`), follows re-exports to the file that defines what the
//! path names, and finds the strongly connected files.

use crate::layering::{rust_files, source_dirs};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The module path of a file of `src/` (`src/a/b.rs` and `src/a/b/mod.rs`
/// are `["a", "b"]`; `lib.rs` is the root).
pub(crate) fn module_path(src: &Path, file: &Path) -> Vec<String> {
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
pub(crate) fn relative_paths(code: &str) -> Vec<Vec<String>> {
    paths_from(code, &["crate::", "super::", "self::"])
}

/// Every path of `code` that starts at one of `starts` (each ending in
/// `::`) and is not the tail of a longer path, with each member of a
/// `{...}` group spelled out.
fn paths_from(code: &str, starts: &[&str]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    for start in starts {
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

/// Where a path of `here` starting at `path[0]` leads, as a module path:
/// `crate::`, `self::` and `super::` as Rust reads them.
fn resolve(here: &[String], path: &[String]) -> Vec<String> {
    let mut base: Vec<String> = Vec::new();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => rest = &rest[1..],
        Some("self") => {
            base = here.to_vec();
            rest = &rest[1..];
        }
        _ => {
            base = here.to_vec();
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
        }
    }
    base.extend(rest.iter().cloned());
    base
}

/// The code lines of a file that count: without comments, with a `use`
/// written over several lines joined into one, up to its inline test
/// module (a test module declared as a file of its own, `#[cfg(test)]
/// mod tests;`, is skipped and the reading goes on).
fn code_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut open_use: Option<String> = None;
    let mut skip_next = false;
    let all: Vec<&str> = text.lines().collect();
    for (at, line) in all.iter().enumerate() {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if line.trim_start().starts_with("#[cfg(test)]") {
            let rest = line.trim_start().trim_start_matches("#[cfg(test)]").trim();
            let declared_here = rest.starts_with("mod ") && rest.ends_with(';');
            if declared_here {
                continue;
            }
            // `#[cfg(test)]` alone on its line: what follows is the item.
            if rest.is_empty() {
                skip_next = true;
                let next = all.get(at + 1).map_or("", |l| l.trim());
                if next.starts_with("mod ") && next.ends_with(';') {
                    continue;
                }
                if next.starts_with("use ") || next.starts_with("pub(crate) use ") {
                    continue;
                }
            }
            break;
        }
        let code = line.split("//").next().unwrap_or("");
        let joined = match open_use.take() {
            Some(mut head) => {
                head.push(' ');
                head.push_str(code.trim());
                head
            }
            None => code.to_owned(),
        };
        if use_line(&joined).is_some() && !joined.trim_end().ends_with(';') {
            open_use = Some(joined);
        } else {
            lines.push(joined);
        }
    }
    lines.extend(open_use);
    lines
}

/// The child modules a file declares (`mod a;`, `pub(crate) mod b;`), not
/// the ones written inline.
fn declared_children(text: &str) -> Vec<String> {
    code_lines(text)
        .iter()
        .filter_map(|code| {
            let code = code.trim();
            let at = code.find("mod ")?;
            let before = code[..at].trim();
            let visibility = before.is_empty() || before.starts_with("pub");
            let name = code[at + "mod ".len()..].strip_suffix(';')?.trim();
            (visibility && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .then(|| name.to_owned())
        })
        .collect()
}

/// Every path of `code` that starts at one of `names` (a child module, or
/// a module brought in by `use`) and is not the tail of a longer path,
/// spelled out from the module that name stands for.
fn bare_paths(code: &str, names: &BTreeMap<String, Vec<String>>) -> Vec<Vec<String>> {
    let starts: Vec<String> = names.keys().map(|name| format!("{name}::")).collect();
    let starts: Vec<&str> = starts.iter().map(String::as_str).collect();
    paths_from(code, &starts)
        .into_iter()
        .filter_map(|path| {
            let (first, rest) = path.split_first()?;
            let mut full = names.get(first)?.clone();
            full.extend(rest.iter().cloned());
            Some(full)
        })
        .collect()
}

/// The names a file defines at its top level (functions, types, traits,
/// constants, statics, macros).
fn defined_items(text: &str) -> BTreeSet<String> {
    items_defined(text, false)
}

/// The names a file defines at its top level; with `unindented_only`,
/// those written at the start of a line (not a method of an `impl`).
fn items_defined(text: &str, unindented_only: bool) -> BTreeSet<String> {
    const KINDS: &[&str] = &[
        "fn ",
        "struct ",
        "enum ",
        "trait ",
        "type ",
        "const ",
        "static ",
        "union ",
        "macro_rules! ",
    ];
    let mut found = BTreeSet::new();
    // Inside an item-making macro invoked at the top level
    // (`index_type!(Name)`, `spelled_enum! { pub enum Name .. }`): its
    // first code line names an item, or is one.
    let mut in_macro: Option<bool> = None;
    for code in &code_lines(text) {
        let unindented = !code.starts_with(char::is_whitespace);
        if unindented && in_macro.is_some() && code.starts_with([')', '}']) {
            in_macro = None;
            continue;
        }
        if unindented && !code.starts_with("macro_rules!") {
            let name = ident(code);
            let after = code[name.len()..].trim_start();
            if !name.is_empty() && after.starts_with('!') && after.trim_end().ends_with(['(', '{'])
            {
                in_macro = Some(true);
                continue;
            }
        }
        let first_in_macro = in_macro == Some(true);
        if first_in_macro {
            in_macro = Some(false);
            let lone = code.trim().trim_end_matches(',');
            if !lone.is_empty() && ident(lone) == lone {
                found.insert(lone.to_owned());
                continue;
            }
        }
        if unindented_only && !unindented && in_macro.is_none() {
            continue;
        }
        let mut rest = code.trim_start();
        if let Some(after) = rest.strip_prefix("pub") {
            rest = after.trim_start();
            if rest.starts_with('(') {
                rest = rest.split_once(')').map_or("", |(_, r)| r).trim_start();
            }
        }
        for qualifier in ["const ", "async ", "unsafe ", "extern \"C\" "] {
            if let Some(after) = rest.strip_prefix(qualifier) {
                if after.starts_with("fn ")
                    || after.starts_with("unsafe ")
                    || after.starts_with("extern ")
                {
                    rest = after;
                }
            }
        }
        for kind in KINDS {
            if let Some(after) = rest.strip_prefix(kind) {
                let name = ident(after);
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        }
    }
    found
}

/// The identifier `text` starts with.
fn ident(text: &str) -> String {
    text.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// What one file of `src/` says of itself for the import graph.
struct SourceFile {
    name: String,
    here: Vec<String>,
    text: String,
    /// The names it defines.
    items: BTreeSet<String>,
    /// The names it defines at the start of a line: its own items, not
    /// the methods of its `impl`s (what a glob import brings in).
    top_items: BTreeSet<String>,
    /// The bare names it can start a path at: its child modules, and the
    /// modules it brought in by `use`.
    names: BTreeMap<String, Vec<String>>,
    /// What it brings in by `use` (which its children see too, and
    /// everyone when it is `pub`): each name, and the path it names in
    /// the crate, or `None` for a name from outside the crate.
    imported: BTreeMap<String, Option<Vec<String>>>,
    /// The modules it re-exports whole (`pub use a::*`).
    globs: Vec<Vec<String>>,
    /// The modules it brings in whole (`use super::*`), re-exported or
    /// not: it uses such a module's file when it names one of its items.
    glob_uses: Vec<Vec<String>>,
}

/// Whether a line of code is a `use` (of any visibility), and whether it
/// exports what it brings in.
fn use_line(code: &str) -> Option<bool> {
    let code = code.trim_start();
    if code.starts_with("use ") {
        return Some(false);
    }
    let rest = code.strip_prefix("pub")?;
    let rest = match rest.strip_prefix('(') {
        Some(r) => r.split_once(')')?.1,
        None => rest,
    };
    rest.trim_start().starts_with("use ").then_some(true)
}

/// Every path of a code line, spelled out from the crate's root: those at
/// `crate::`, `super::` and `self::`, and those at one of `names`.
fn full_paths(
    code: &str,
    here: &[String],
    names: &BTreeMap<String, Vec<String>>,
) -> Vec<Vec<String>> {
    relative_paths(code)
        .into_iter()
        .map(|path| resolve(here, &path))
        .chain(bare_paths(code, names))
        .collect()
}

fn read_source(src: &Path, file: &Path, modules: &BTreeMap<Vec<String>, usize>) -> SourceFile {
    let name = file.strip_prefix(src).unwrap().display().to_string();
    let here = module_path(src, file);
    let text = std::fs::read_to_string(file).unwrap();
    let mut names: BTreeMap<String, Vec<String>> = declared_children(&text)
        .into_iter()
        .map(|child| {
            let mut path = here.clone();
            path.push(child.clone());
            (child, path)
        })
        .collect();
    let mut imported = BTreeMap::new();
    let mut globs = Vec::new();
    let mut glob_uses = Vec::new();
    for code in &code_lines(&text) {
        let Some(exported) = use_line(code) else {
            continue;
        };
        let glob = code.contains("::*");
        // `use std::{..}`, `use vnetd_net::..`: names from outside.
        let first = ident(code.split_once("use ").map_or("", |(_, rest)| rest));
        if !["crate", "super", "self", ""].contains(&first.as_str()) && !names.contains_key(&first)
        {
            for path in paths_from(code, &[&format!("{first}::")]) {
                if let Some(last) = path.last() {
                    let alias = last
                        .split_once(" as ")
                        .map_or(last.as_str(), |(_, a)| a.trim());
                    imported.insert(alias.to_owned(), None);
                }
            }
            continue;
        }
        for path in full_paths(code, &here, &names.clone()) {
            // `a::b as c`: the segment reads "b as c".
            let (path, alias) = match path.last().and_then(|l| l.split_once(" as ")) {
                Some((real, alias)) => {
                    let mut p = path.clone();
                    *p.last_mut().unwrap() = real.trim().to_owned();
                    (p, alias.trim().to_owned())
                }
                None => (path.clone(), path.last().cloned().unwrap_or_default()),
            };
            if modules.contains_key(&path) {
                if glob {
                    glob_uses.push(path.clone());
                }
                if glob && exported {
                    globs.push(path.clone());
                }
                names.insert(alias.clone(), path.clone());
            }
            if !alias.is_empty() {
                imported.insert(alias, Some(path));
            }
        }
    }
    let items = defined_items(&text);
    let top_items = items_defined(&text, true);
    SourceFile {
        name,
        here,
        text,
        items,
        top_items,
        names,
        imported,
        globs,
        glob_uses,
    }
}

/// The file that defines what `path` names: the file of its longest module
/// prefix, or, when that file re-exports the item, the file the re-export
/// leads to. `None` when the path names a module itself (its use is read
/// where its items are named) or leads outside the crate.
fn defining_file(
    path: &[String],
    modules: &BTreeMap<Vec<String>, usize>,
    sources: &[SourceFile],
    depth: usize,
) -> Option<usize> {
    let n = (0..=path.len())
        .rev()
        .find(|n| modules.contains_key(&path[..*n]))?;
    if n == path.len() || depth > 8 {
        return (n < path.len()).then(|| modules[&path[..n]]);
    }
    let at = modules[&path[..n]];
    let source = &sources[at];
    let item = &path[n];
    if source.items.contains(item) {
        return Some(at);
    }
    if let Some(target) = source.imported.get(item) {
        let target = target.as_ref()?;
        if target.as_slice() == path {
            return Some(at);
        }
        let mut next = target.clone();
        next.extend(path[n + 1..].iter().cloned());
        return defining_file(&next, modules, sources, depth + 1);
    }
    for glob in &source.globs {
        let mut next = glob.clone();
        next.extend(path[n..].iter().cloned());
        if let Some(found) = defining_file(&next, modules, sources, depth + 1) {
            if sources[found].items.contains(item) {
                return Some(found);
            }
        }
    }
    Some(at)
}

/// The file-to-file imports of `src/`: from each file to the file that
/// defines what each of its paths names (following re-exports), leaving
/// out test modules. The paths are those starting at `crate::`, `super::`
/// and `self::`, and the bare ones: starting at a child module the file
/// declares, or at a module it brought in by `use`.
fn file_imports(src: &Path) -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let modules: BTreeMap<Vec<String>, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (module_path(src, f), i))
        .collect();
    let sources: Vec<SourceFile> = files
        .iter()
        .map(|f| read_source(src, f, &modules))
        .collect();
    let mut edges = BTreeSet::new();
    for (i, source) in sources.iter().enumerate() {
        let lines = code_lines(&source.text);
        let words: BTreeSet<&str> = lines
            .iter()
            .flat_map(|l| l.split(|c: char| !c.is_ascii_alphanumeric() && c != '_'))
            .collect();
        for glob in &source.glob_uses {
            let at = modules[glob];
            if at != i
                && sources[at]
                    .top_items
                    .iter()
                    .any(|item| words.contains(item.as_str()))
            {
                edges.insert((source.name.clone(), sources[at].name.clone()));
            }
            // What the module brought in by `use` comes with it: the file
            // uses what it names of those where they are defined.
            let brought = (sources[at].imported.iter())
                .filter(|(name, _)| words.contains(name.as_str()))
                .filter_map(|(_, path)| path.as_ref());
            for path in brought {
                if let Some(target) = defining_file(path, &modules, &sources, 0).filter(|t| *t != i)
                {
                    edges.insert((source.name.clone(), sources[target].name.clone()));
                }
            }
        }
        for code in &lines {
            for full in full_paths(code, &source.here, &source.names) {
                if let Some(target) =
                    defining_file(&full, &modules, &sources, 0).filter(|t| *t != i)
                {
                    edges.insert((source.name.clone(), sources[target].name.clone()));
                }
            }
        }
    }
    edges
}

/// The knots among `edges`: each set of two or more files that all reach
/// each other (the strongly connected files, by Tarjan's walk).
fn knots(edges: &BTreeSet<(String, String)>) -> Vec<BTreeSet<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges {
        next.entry(from).or_default().push(to);
        next.entry(to).or_default();
    }
    struct Walk<'a> {
        next: BTreeMap<&'a str, Vec<&'a str>>,
        order: BTreeMap<&'a str, (usize, usize)>,
        stack: Vec<&'a str>,
        found: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(walk: &mut Walk<'a>, at: &'a str) {
        let seen = walk.order.len();
        walk.order.insert(at, (seen, seen));
        walk.stack.push(at);
        for to in walk.next[at].clone() {
            let low = match walk.order.get(to) {
                None => {
                    visit(walk, to);
                    walk.order[to].1
                }
                Some(&(index, _)) if walk.stack.contains(&to) => index,
                Some(_) => continue,
            };
            let entry = walk.order.get_mut(at).unwrap();
            entry.1 = entry.1.min(low);
        }
        let (index, low) = walk.order[at];
        if index == low {
            let from = walk.stack.iter().rposition(|f| *f == at).unwrap();
            let knot: BTreeSet<String> = walk.stack.drain(from..).map(str::to_owned).collect();
            if knot.len() > 1 {
                walk.found.push(knot);
            }
        }
    }
    let mut walk = Walk {
        next,
        order: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    let files: Vec<&str> = walk.next.keys().copied().collect();
    for file in files {
        if !walk.order.contains_key(file) {
            visit(&mut walk, file);
        }
    }
    walk.found
}

#[test]
/// No file of any crate imports itself through others. A knot is undone
/// by moving what a module's children share out of the module's own
/// file into a leaf, so that the parent only names its children.
fn no_file_imports_itself_through_others() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut knotted = BTreeSet::new();
    let mut report = Vec::new();
    for src in source_dirs(root) {
        let edges = file_imports(&src);
        let dir = src.strip_prefix(root).unwrap().display().to_string();
        let dir = dir.trim_start_matches("./");
        for knot in knots(&edges) {
            let inside: Vec<&(String, String)> = edges
                .iter()
                .filter(|(a, b)| knot.contains(a) && knot.contains(b))
                .collect();
            report.push(format!("{dir}: {inside:?}"));
            knotted.extend(knot.iter().map(|f| format!("{dir}/{f}")));
        }
    }
    // Shown with `--nocapture`, to see which edges to cut.
    println!("{report:#?}");
    assert!(
        knotted.is_empty(),
        "files in a circle of imports (cut one edge): {knotted:#?}\nthe knots and their edges: {report:#?}"
    );
}

/// The file imports of a small tree written from `files` (path under
/// `src/`, text), for the tests of what the graph reads.
fn imports_of(files: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    for (path, text) in files {
        let path = src.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    file_imports(&src)
}

#[test]
fn a_circle_of_imports_is_reported() {
    let edges = imports_of(&[
        ("lib.rs", "mod a;\n"),
        ("a.rs", "mod b;\nmod c;\n"),
        ("a/b.rs", "use super::c::{one, two::Three};\n"),
        (
            "a/c.rs",
            "fn f() { crate::a::b::g() } // super::d\n#[cfg(test)]\nuse super::e;\n",
        ),
    ]);
    let edge = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        edges,
        BTreeSet::from([edge("a/b.rs", "a/c.rs"), edge("a/c.rs", "a/b.rs")])
    );
    assert_eq!(
        knots(&edges),
        vec![BTreeSet::from(["a/b.rs".to_owned(), "a/c.rs".to_owned()])]
    );
}

/// A parent naming its child by its bare name, and the child using what
/// the parent defines, is a circle; a parent that only re-exports its
/// child's type (in a `use` of several lines) is none, since its users
/// reach the child's file; nor is a name the parent brought in from
/// outside the crate.
#[test]
fn bare_child_paths_and_re_exports_are_read() {
    let edges = imports_of(&[
        ("lib.rs", "mod knotted;\nmod facade;\n"),
        (
            "knotted/mod.rs",
            "mod child;\npub struct Shared;\nfn f() { child::work() }\n",
        ),
        ("knotted/child.rs", "use super::Shared;\npub fn work() {}\n"),
        (
            "facade/mod.rs",
            "mod types;\nmod user;\nuse std::fmt::Debug;\npub use types::{\n    Thing,\n};\n",
        ),
        ("facade/types.rs", "pub struct Thing;\n"),
        (
            "facade/user.rs",
            "use super::{Debug, Thing};\npub(crate) fn make() -> Thing { Thing }\n",
        ),
    ]);
    let edge = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        edges,
        BTreeSet::from([
            edge("facade/mod.rs", "facade/types.rs"),
            edge("facade/user.rs", "facade/types.rs"),
            edge("knotted/child.rs", "knotted/mod.rs"),
            edge("knotted/mod.rs", "knotted/child.rs"),
        ])
    );
    assert_eq!(
        knots(&edges),
        vec![BTreeSet::from([
            "knotted/child.rs".to_owned(),
            "knotted/mod.rs".to_owned()
        ])]
    );
}

/// A child that brings in its parent whole (`use super::*`) uses the
/// parent's file when it names one of the parent's items; a test module
/// declared near the top of a file does not end the reading of the rest.
#[test]
fn glob_imports_and_a_test_module_declared_early_are_read() {
    let edges = imports_of(&[
        ("lib.rs", "mod a;\n"),
        ("a.rs", "mod glob;\n#[cfg(test)]\nmod tests;\nmod quiet;\npub struct Shared;\nfn f() { glob::work(); quiet::rest() }\n"),
        ("a/glob.rs", "use super::*;\npub fn work() -> Option<Shared> { None }\n"),
        ("a/quiet.rs", "use super::*;\npub fn rest() {}\n"),
    ]);
    let edge = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        edges,
        BTreeSet::from([
            edge("a.rs", "a/glob.rs"),
            edge("a.rs", "a/quiet.rs"),
            edge("a/glob.rs", "a.rs"),
        ])
    );
}

/// A child that brings in its parent whole uses, through it, the files
/// of what the parent brought in by `use` (here a sibling's type the
/// parent re-exports); and an item made by a macro invoked at the top
/// level (`index_type!(Name)`, `spelled! { pub enum Name .. }`) is its
/// file's.
#[test]
fn what_a_glob_brings_from_the_parents_imports_and_macro_made_items_are_read() {
    let edges = imports_of(&[
        ("lib.rs", "mod a;\n"),
        ("a.rs", "mod kinds;\nmod lookup;\nmod made;\npub use kinds::Kind;\npub use made::{Idx, Mode};\nindex_type!(\n    Own\n);\n"),
        ("a/kinds.rs", "pub struct Kind;\n"),
        ("a/made.rs", "index_type!(\n    /// An index.\n    Idx\n);\nspelled! {\n    pub enum Mode { On }\n}\n"),
        ("a/lookup.rs", "use super::*;\npub fn find(_: &[Kind], _: Idx, _: Mode, _: Own) {}\n"),
    ]);
    let edge = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        edges,
        BTreeSet::from([
            edge("a.rs", "a/kinds.rs"),
            edge("a.rs", "a/made.rs"),
            edge("a/lookup.rs", "a.rs"),
            edge("a/lookup.rs", "a/kinds.rs"),
            edge("a/lookup.rs", "a/made.rs"),
        ])
    );
}
