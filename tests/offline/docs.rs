//! The documentation's links hold: in `README.md`, `BENCHMARKS.md`, the
//! dated runs under `benchmarks/`, `fuzz/README.md` and every chapter of
//! the book (`docs/src/`), each relative link leads to a file or directory
//! of the repository, each `#anchor` to a heading of the page it names and
//! each reference link (`[text][name]`) to a definition on its page; every
//! `{{#include FILE:ANCHOR}}` finds its anchor; every chapter is listed in
//! the book's `SUMMARY.md` and every entry there exists; the book's Layout
//! table, and the lists under it, name only paths that exist, and the
//! table every module of `src/lib.rs`.
//!
//! Links to `http(s)` and `mailto` addresses are not followed: the tests use
//! no network.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The pages whose links are checked, under `root`.
fn pages(root: &Path) -> Vec<PathBuf> {
    let mut pages = Vec::new();
    for page in ["README.md", "BENCHMARKS.md", "fuzz/README.md"] {
        if root.join(page).is_file() {
            pages.push(root.join(page));
        }
    }
    markdown_files(&root.join("benchmarks"), &mut pages);
    markdown_files(&root.join("docs/src"), &mut pages);
    pages
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// `path` without `.` and `..` components (the file need not exist).
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The text of a page as mdBook sees it: each `{{#include PATH}}` (a path
/// relative to the page) replaced by that file's text, and each
/// `{{#include PATH:NAME}}` by the lines between the file's `ANCHOR: NAME`
/// and `ANCHOR_END: NAME` lines (without any line that marks an anchor).
/// An include whose file or anchor is missing is reported in `problems`
/// (without the page's name) and left out.
fn expanded(page: &Path, problems: &mut Vec<String>) -> String {
    let text = std::fs::read_to_string(page).unwrap();
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let directive = line
            .trim()
            .strip_prefix("{{#include ")
            .and_then(|rest| rest.strip_suffix("}}"));
        let Some(directive) = directive else {
            out.push_str(line);
            continue;
        };
        let (path, anchor) = match directive.trim().rsplit_once(':') {
            Some((path, anchor)) => (path, Some(anchor)),
            None => (directive.trim(), None),
        };
        let file = page.parent().unwrap().join(path);
        let included = match std::fs::read_to_string(&file) {
            Ok(included) => included,
            Err(e) => {
                problems.push(format!("{{{{#include {directive}}}}}: {e}"));
                continue;
            }
        };
        match anchor {
            None => out.push_str(&included),
            Some(anchor) => match anchored(&included, anchor) {
                Some(part) => out.push_str(&part),
                None => problems.push(format!(
                    "{{{{#include {directive}}}}}: {path} has no anchor `{anchor}`"
                )),
            },
        }
    }
    out
}

/// The lines of `text` between `ANCHOR: name` and `ANCHOR_END: name`, as
/// mdBook includes them: lines that mark any anchor left out.
fn anchored(text: &str, name: &str) -> Option<String> {
    let marks = |line: &str, mark: &str| {
        line.split(mark)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            == Some(name)
    };
    let mut lines = text.split_inclusive('\n');
    lines.by_ref().find(|line| marks(line, "ANCHOR:"))?;
    let mut part = String::new();
    for line in lines {
        if marks(line, "ANCHOR_END:") {
            return Some(part);
        }
        if !line.contains("ANCHOR:") && !line.contains("ANCHOR_END:") {
            part.push_str(line);
        }
    }
    None
}

/// Whether a line opens or closes a fenced code block.
fn is_fence(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("```") || line.starts_with("~~~")
}

/// The text with fenced code blocks and inline code spans blanked out
/// (newlines kept, so byte offsets still give line numbers).
fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut fenced = false;
    for line in text.split_inclusive('\n') {
        if is_fence(line) {
            fenced = !fenced;
            out.push_str(&blank(line));
        } else if fenced {
            out.push_str(&blank(line));
        } else {
            out.push_str(line);
        }
    }
    // Inline code: a run of n backticks up to the next run of exactly n,
    // across lines too.
    let bytes = out.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i] == b'`' {
            i += 1;
        }
        let n = i - start;
        let mut j = i;
        let mut end = None;
        while j < bytes.len() {
            if bytes[j] == b'`' {
                let run = j;
                while j < bytes.len() && bytes[j] == b'`' {
                    j += 1;
                }
                if j - run == n {
                    end = Some(j);
                    break;
                }
            } else {
                j += 1;
            }
        }
        if let Some(end) = end {
            spans.push((start, end));
            i = end;
        }
    }
    let mut text = out.into_bytes();
    for (start, end) in spans {
        for b in &mut text[start..end] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    }
    // Blanking only touched whole backtick spans, so the UTF-8 is still
    // valid where it matters; replace what is not.
    String::from_utf8_lossy(&text).into_owned()
}

fn blank(line: &str) -> String {
    line.chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect()
}

/// A heading's id, as mdBook and GitHub make it from the heading's text:
/// inline code marks and link targets dropped, lowercase, letters, digits,
/// `-` and `_` kept, whitespace as `-`, everything else dropped.
fn heading_id(heading: &str) -> String {
    // `[text](target)` reads as its text.
    let mut text = String::new();
    let mut rest = heading;
    while let Some(open) = rest.find('[') {
        match rest[open..].find("](").and_then(|close| {
            let after = open + close + 2;
            rest[after..]
                .find(')')
                .map(|end| (open + close, after + end))
        }) {
            Some((close, end)) => {
                text.push_str(&rest[..open]);
                text.push_str(&rest[open + 1..close]);
                rest = &rest[end + 1..];
            }
            None => break,
        }
    }
    text.push_str(rest);
    text.trim()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                Some(c.to_lowercase().collect::<String>())
            } else if c.is_whitespace() {
                Some("-".to_string())
            } else {
                None
            }
        })
        .collect()
}

/// The anchors of a page's headings (ATX headings outside code blocks), a
/// repeated id numbered `-1`, `-2`, ... as mdBook and GitHub number it.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = BTreeSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if is_fence(line) {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let hashes = line.len() - line.trim_start_matches('#').len();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let title = line[hashes..].trim().trim_end_matches('#').trim();
        let id = heading_id(title);
        let count = seen.entry(id.clone()).or_insert(0);
        if *count == 0 {
            out.insert(id);
        } else {
            out.insert(format!("{id}-{count}"));
        }
        *count += 1;
    }
    out
}

/// The link targets of a page, with their line numbers: inline links and
/// images (`[text](target)`, the text may span lines) and reference
/// definitions (`[name]: target`), outside code.
fn links(text: &str) -> Vec<(usize, String)> {
    let prose = prose(text);
    let line_of = |offset: usize| prose[..offset].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = prose[from..].find("](") {
        let start = from + at + 2;
        let Some(len) = prose[start..].find(')') else {
            break;
        };
        let inside = prose[start..start + len].trim();
        let target = inside
            .strip_prefix('<')
            .and_then(|t| t.split_once('>').map(|(t, _)| t))
            .unwrap_or_else(|| inside.split_whitespace().next().unwrap_or(""));
        out.push((line_of(start), target.to_string()));
        from = start;
    }
    for (n, line) in prose.lines().enumerate() {
        let line = line.trim_start();
        if let Some(rest) = line.strip_prefix('[') {
            if let Some((name, target)) = rest.split_once("]:") {
                if !name.is_empty() && !name.contains(']') {
                    if let Some(target) = target.split_whitespace().next() {
                        out.push((n + 1, target.to_string()));
                    }
                }
            }
        }
    }
    out
}

/// The reference links of a page (`[text][name]`, `[name][]`) whose name
/// no `[name]: target` of the page defines, with their line numbers;
/// names compare without regard to case, as CommonMark compares them.
fn undefined_references(text: &str) -> Vec<(usize, String)> {
    let prose = prose(text);
    let defined: BTreeSet<String> = prose
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix('[')?;
            let (name, _) = rest.split_once("]:")?;
            (!name.is_empty() && !name.contains(']')).then(|| name.to_lowercase())
        })
        .collect();
    let line_of = |offset: usize| prose[..offset].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = prose[from..].find("][") {
        let start = from + at + 2;
        let Some(len) = prose[start..].find(']') else {
            break;
        };
        let name = &prose[start..start + len];
        let name = if name.is_empty() {
            // `[name][]`: the name is the text before.
            let text_end = start - 2;
            prose[..text_end]
                .rfind('[')
                .map_or("", |open| &prose[open + 1..text_end])
        } else {
            name
        };
        if !name.contains('\n') && !defined.contains(&name.to_lowercase()) {
            out.push((line_of(start), name.to_string()));
        }
        from = start;
    }
    out
}

fn is_external(target: &str) -> bool {
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| target.starts_with(scheme))
}

/// Every broken relative link or anchor of the pages under `root`.
fn broken_links(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut anchor_cache: HashMap<PathBuf, BTreeSet<String>> = HashMap::new();
    // A linked page's own includes are reported where that page is checked.
    let mut anchors_of = |file: &Path| {
        anchor_cache
            .entry(file.to_path_buf())
            .or_insert_with(|| anchors(&expanded(file, &mut Vec::new())))
            .clone()
    };
    for page in pages(root) {
        let shown = page.strip_prefix(root).unwrap_or(&page).display();
        let mut includes = Vec::new();
        let text = expanded(&page, &mut includes);
        problems.extend(includes.iter().map(|problem| format!("{shown}: {problem}")));
        for (line, name) in undefined_references(&text) {
            problems.push(format!(
                "{shown}:{line}: [{name}] is a reference no `[{name}]: ...` of the page defines"
            ));
        }
        for (line, target) in links(&text) {
            if target.is_empty() {
                problems.push(format!("{shown}:{line}: an empty link"));
                continue;
            }
            if is_external(&target) {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                page.clone()
            } else {
                normalise(&page.parent().unwrap().join(path))
            };
            if !file.starts_with(root) {
                problems.push(format!(
                    "{shown}:{line}: {target} leads outside the repository"
                ));
                continue;
            }
            if !file.exists() {
                problems.push(format!("{shown}:{line}: {target}: no such file"));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            if file.extension().is_none_or(|e| e != "md") {
                problems.push(format!(
                    "{shown}:{line}: {target}: an anchor into a file that is not Markdown"
                ));
                continue;
            }
            if !anchors_of(&file).contains(anchor) {
                problems.push(format!(
                    "{shown}:{line}: {target}: no heading has the id `{anchor}`"
                ));
            }
        }
    }
    problems
}

/// The chapters `SUMMARY.md` lists that do not exist, the chapters of
/// `docs/src/` it does not list, and the ones it lists twice.
fn summary_problems(root: &Path) -> Vec<String> {
    let src = root.join("docs/src");
    let summary = src.join("SUMMARY.md");
    let Ok(text) = std::fs::read_to_string(&summary) else {
        return vec!["docs/src/SUMMARY.md: missing".to_string()];
    };
    let mut problems = Vec::new();
    let mut listed = BTreeSet::new();
    for (line, target) in links(&text) {
        if is_external(&target) {
            continue;
        }
        let chapter = normalise(&src.join(&target));
        if !chapter.is_file() {
            problems.push(format!(
                "docs/src/SUMMARY.md:{line}: {target}: no such chapter"
            ));
        }
        if !listed.insert(chapter) {
            problems.push(format!(
                "docs/src/SUMMARY.md:{line}: {target} is listed twice"
            ));
        }
    }
    let mut chapters = Vec::new();
    markdown_files(&src, &mut chapters);
    for chapter in chapters {
        if chapter != summary && !listed.contains(&chapter) {
            problems.push(format!(
                "{}: not listed in docs/src/SUMMARY.md",
                chapter.strip_prefix(root).unwrap().display()
            ));
        }
    }
    problems
}

/// The backticked words of a table cell.
fn code_words(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// Whether a backticked word of the Layout table's second column names a
/// path (`write.rs`, `flow_log/`, `terraform/eval.rs`) rather than a type
/// or a function.
fn looks_like_path(word: &str) -> bool {
    !word.contains(' ')
        && (word.contains('/')
            || [".rs", ".sh", ".toml", ".md"]
                .iter()
                .any(|ext| word.ends_with(ext)))
}

/// Whether `word` names something under one of `dirs` (those that are
/// directories), or else under the repository.
fn exists_under(root: &Path, dirs: &[&str], word: &str) -> bool {
    dirs.iter()
        .map(|dir| root.join(dir))
        .filter(|dir| dir.is_dir())
        .chain([root.to_path_buf()])
        .any(|dir| dir.join(word).exists())
}

/// The paragraphs and list items of `text` outside tables, each with the
/// number of its first line and the paths (backticked) of the heading it
/// is under, its lines joined, so that a code span may run over a line's
/// end.
fn layout_blocks(text: &str) -> Vec<(usize, Vec<&str>, String)> {
    let mut blocks = Vec::new();
    let mut dirs: Vec<&str> = Vec::new();
    let mut block: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let ends = trimmed.is_empty()
            || trimmed.starts_with('#')
            || trimmed.starts_with('|')
            || trimmed.starts_with("- ");
        if ends {
            if let Some((first, joined)) = block.take() {
                blocks.push((first, dirs.clone(), joined));
            }
        }
        if trimmed.starts_with('#') {
            dirs = code_words(trimmed);
            blocks.push((n + 1, Vec::new(), trimmed.to_string()));
        } else if !trimmed.is_empty() && !trimmed.starts_with('|') {
            let (_, joined) = block.get_or_insert_with(|| (n + 1, String::new()));
            joined.push(' ');
            joined.push_str(trimmed);
        }
    }
    if let Some((first, joined)) = block {
        blocks.push((first, dirs, joined));
    }
    blocks
}

/// Paths the Layout table names that do not exist, and modules of
/// `src/lib.rs` it does not name. A path of the first column is relative
/// to the repository; a path of the second to a directory of its row's
/// first column, or else to the repository. Below the table, a path a
/// heading names must exist, and a path of the lists under it is relative
/// to the heading's directories, or else to the repository.
fn layout_problems(root: &Path) -> Vec<String> {
    let layout = root.join("docs/src/layout.md");
    let text = std::fs::read_to_string(&layout).unwrap();
    let mut problems = Vec::new();
    let mut named = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let cells: Vec<&str> = line.split('|').collect();
        // `| path | what it owns | may use |` splits into 5 pieces.
        if !line.starts_with('|') || cells.len() < 4 || cells[1].trim() == "path" {
            continue;
        }
        let paths: Vec<&str> = code_words(cells[1]);
        for path in &paths {
            named.insert(path.trim_end_matches('/').to_string());
            if !root.join(path).exists() {
                problems.push(format!(
                    "docs/src/layout.md:{line_no}: `{path}` does not exist"
                ));
            }
        }
        for word in code_words(cells[2])
            .into_iter()
            .filter(|w| looks_like_path(w))
        {
            if !exists_under(root, &paths, word) {
                problems.push(format!(
                    "docs/src/layout.md:{line_no}: `{word}` does not exist under {}",
                    paths.join(", ")
                ));
            }
        }
    }
    for (line_no, dirs, block) in layout_blocks(&text) {
        for word in code_words(&block)
            .into_iter()
            .filter(|w| looks_like_path(w))
        {
            if !exists_under(root, &dirs, word) {
                let under = if dirs.is_empty() {
                    "the repository".to_string()
                } else {
                    dirs.join(", ")
                };
                problems.push(format!(
                    "docs/src/layout.md:{line_no}: `{word}` does not exist under {under}"
                ));
            }
        }
    }
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        let Some(module) = line
            .trim()
            .strip_prefix("pub mod ")
            .and_then(|rest| rest.strip_suffix(';'))
        else {
            continue;
        };
        if !named.contains(&format!("src/{module}")) && !named.contains(&format!("src/{module}.rs"))
        {
            problems.push(format!(
                "docs/src/layout.md: the module `{module}` of src/lib.rs is not in the Layout table"
            ));
        }
    }
    problems
}

fn assert_none(what: &str, problems: Vec<String>) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

#[test]
fn every_relative_link_and_anchor_leads_somewhere() {
    assert_none("broken links", broken_links(root()));
}

#[test]
fn the_summary_lists_every_chapter_and_only_chapters() {
    assert_none("the book's SUMMARY.md", summary_problems(root()));
}

#[test]
fn the_layout_table_names_the_tree_as_it_is() {
    assert_none("the Layout table is stale", layout_problems(root()));
}

#[test]
fn heading_ids_are_made_as_mdbook_and_github_make_them() {
    assert_eq!(
        heading_id("§6 VPN gateways and BGP"),
        "6-vpn-gateways-and-bgp"
    );
    assert_eq!(
        heading_id("`vnetd check CONFIG --json`"),
        "vnetd-check-config---json"
    );
    assert_eq!(
        heading_id("BGP convergence: `scripts/bench-bgp-convergence.sh`"),
        "bgp-convergence-scriptsbench-bgp-convergencesh"
    );
    assert_eq!(
        heading_id("Hybrid networks: gateways, sites and BGP"),
        "hybrid-networks-gateways-sites-and-bgp"
    );
    assert_eq!(heading_id("a [linked](x.md) word_s"), "a-linked-word_s");
    let text = "# Results\n```\n# not a heading\n```\n## Results\n### Results\n";
    assert_eq!(
        anchors(text).into_iter().collect::<Vec<_>>(),
        ["results", "results-1", "results-2"]
    );
}

/// The checks can fail: a tree with a missing file, a missing anchor in the
/// same page and in another, a reference link without its definition, an
/// include of an anchor a file lacks, a link that holds in the included
/// file but not in the page that includes it, a chapter left out of
/// SUMMARY.md and an entry without its chapter has each reported, and
/// nothing else.
#[test]
fn broken_links_and_chapters_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("docs/src")).unwrap();
    std::fs::write(
        root.join("README.md"),
        "# Top\n\n[ok](docs/src/a.md#there), [ok](#top), [ok](https://example.com/x),\n\
         `[in code](nowhere.md)`, [gone](docs/src/missing.md),\n[no anchor](#bottom), \
         [spread over\nlines](docs/src/a.md#elsewhere)\n\n```\n[in a block](nowhere.md)\n```\n\n\
         [a reference][defined], [another][Missing], [short][]\n\n\
         [defined]: docs/src/a.md\n[SHORT]: #top\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("benchmarks")).unwrap();
    std::fs::write(root.join("benchmarks/x.md"), "# X\n").unwrap();
    std::fs::write(
        root.join("BENCHMARKS.md"),
        "# Benchmarks\n\n<!-- ANCHOR: current -->\n## Current\n\
         [the figures](benchmarks/x.md)\n<!-- ANCHOR_END: current -->\n",
    )
    .unwrap();
    std::fs::write(
        root.join("docs/src/a.md"),
        "# There\n\n[up](../../README.md#top)\n{{#include ../../BENCHMARKS.md:current}}\n\
         {{#include ../../BENCHMARKS.md:gone}}\n[the included heading](#current)\n",
    )
    .unwrap();
    std::fs::write(root.join("docs/src/b.md"), "# Unlisted\n").unwrap();
    std::fs::write(
        root.join("docs/src/SUMMARY.md"),
        "# Summary\n\n- [A](a.md)\n- [C](c.md)\n",
    )
    .unwrap();
    let links = broken_links(root);
    assert_eq!(
        links,
        [
            "README.md:12: [Missing] is a reference no `[Missing]: ...` of the page defines",
            "README.md:4: docs/src/missing.md: no such file",
            "README.md:5: #bottom: no heading has the id `bottom`",
            "README.md:6: docs/src/a.md#elsewhere: no heading has the id `elsewhere`",
            "docs/src/SUMMARY.md:4: c.md: no such file",
            "docs/src/a.md: {{#include ../../BENCHMARKS.md:gone}}: ../../BENCHMARKS.md has no anchor `gone`",
            "docs/src/a.md:5: benchmarks/x.md: no such file",
        ]
    );
    assert_eq!(
        summary_problems(root),
        [
            "docs/src/SUMMARY.md:4: c.md: no such chapter",
            "docs/src/b.md: not listed in docs/src/SUMMARY.md",
        ]
    );
}

/// The Layout check can fail: a path that is gone, from the table or from
/// the lists under it, a heading naming a directory that is gone, and a
/// module of lib.rs the table leaves out are reported.
#[test]
fn a_stale_layout_table_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("docs/src")).unwrap();
    std::fs::create_dir_all(root.join("src/engine")).unwrap();
    std::fs::write(root.join("src/engine/lpm.rs"), "").unwrap();
    std::fs::write(root.join("src/net.rs"), "").unwrap();
    std::fs::write(
        root.join("src/lib.rs"),
        "pub mod engine;\npub mod net;\npub mod plan;\n",
    )
    .unwrap();
    std::fs::write(
        root.join("docs/src/layout.md"),
        "# Layout\n\n| path | what it owns | may use |\n|---|---|---|\n\
         | `src/net.rs` | words | nothing |\n\
         | `src/engine/` | `lpm.rs` and `flow_table.rs`, `Lpm` | `net` |\n\
         | `src/graph.rs` | pictures | |\n\n\
         ## What each holds\n\n### `src/engine/`\n\n- `lpm.rs`, and the `Lpm`\n  \
         type in `classifier.rs`\n\n### `src/gone/`\n\nThe `src/net.rs` of the \
         repository.\n",
    )
    .unwrap();
    assert_eq!(
        layout_problems(root),
        [
            "docs/src/layout.md:6: `flow_table.rs` does not exist under src/engine/",
            "docs/src/layout.md:7: `src/graph.rs` does not exist",
            "docs/src/layout.md:13: `classifier.rs` does not exist under src/engine/",
            "docs/src/layout.md:16: `src/gone/` does not exist under the repository",
            "docs/src/layout.md: the module `plan` of src/lib.rs is not in the Layout table",
        ]
    );
}
