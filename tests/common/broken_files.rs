//! The broken-file tests' shared steps: a valid base file, edits that each
//! break it once, and `vnetd check` run on the edited file through the
//! real binary.

use std::path::PathBuf;
use std::process::Command;

/// One broken file: edits of the base, and the errors they must give.
pub struct Case {
    pub name: &'static str,
    /// (text to replace, replacement) applied once each to the base file.
    pub edits: &'static [(&'static str, &'static str)],
    /// For each expected error: text of the line it must point at (its
    /// first occurrence in the edited file), and what follows `error: ` on
    /// that line (words it contains, or the exact key and message, as the
    /// test asks).
    pub expect: &'static [(&'static str, &'static str)],
}

impl Case {
    /// The base file with the case's edits; each must find its text.
    pub fn edited(&self, base: &str) -> String {
        let mut text = base.to_string();
        for (from, to) in self.edits {
            assert!(text.contains(from), "{}: `{from}` not found", self.name);
            text = text.replacen(from, to, 1);
        }
        text
    }
}

/// `vnetd check` on `text`, written as `<name>.yaml` in a directory of the
/// test's own (`tag`): the exit code, stderr and the file's path.
pub fn check(tag: &str, name: &str, text: &str) -> (Option<i32>, String, PathBuf) {
    let dir = std::env::temp_dir().join(format!("vnetd-broken-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        path,
    )
}

/// The number (from 1) of the first line of `text` that contains `needle`.
pub fn line_of(text: &str, needle: &str, case: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle.trim_end_matches('\n')))
        .unwrap_or_else(|| panic!("{case}: `{needle}` not in the edited file"))
        + 1
}

/// Checks `case` on `base`: refused (exit 1, no panic) with exactly its
/// errors, each at its line and containing its words.
pub fn assert_refused_with_words(tag: &str, base: &str, case: &Case) {
    let text = case.edited(base);
    let (code, stderr, path) = check(tag, case.name, &text);
    assert_eq!(code, Some(1), "{}: exit code; stderr:\n{stderr}", case.name);
    assert!(
        !stderr.contains("panicked"),
        "{}: panicked:\n{stderr}",
        case.name
    );
    for (needle, words) in case.expect {
        let line = line_of(&text, needle, case.name);
        let prefix = format!("{}:{line}: error: ", path.display());
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&prefix) && l.contains(words)),
            "{}: expected an error at line {line} containing {words:?}; got:\n{stderr}",
            case.name
        );
    }
    let count = case.expect.len();
    let suffix = if count == 1 { "error" } else { "errors" };
    assert!(
        stderr.contains(&format!("refused, {count} {suffix}")),
        "{}: expected exactly {count} errors; got:\n{stderr}",
        case.name
    );
}
