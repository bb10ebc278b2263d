//! Golden cases as data: a folder holds `cases.yaml`, a list of cases
//! (each a mapping with a unique `case` name and the inputs its test
//! reads), and one insta snapshot per case, `<case>.snap`, the exact
//! answer the case must give. The expected answers are the snapshots, not
//! code: a new case is a few lines of YAML and a reviewed snapshot.
//!
//! After an intended change of the answers, review and accept the new
//! snapshots with `cargo insta test --review --test offline`, or
//! `INSTA_UPDATE=always cargo test --test offline -- <test>` and read the
//! diff before committing it.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

/// One case of `cases.yaml`.
pub struct Case {
    pub name: String,
    fields: Yaml,
}

impl Case {
    /// The text of `key`.
    pub fn text(&self, key: &str) -> String {
        scalar(&self.fields[key])
            .unwrap_or_else(|| panic!("case {}: `{key}` is not a scalar", self.name))
    }

    /// The text of `key`, when the case has it.
    pub fn optional(&self, key: &str) -> Option<String> {
        (!self.fields[key].is_badvalue()).then(|| self.text(key))
    }

    /// The texts of the list under `key` (empty when the case has none).
    pub fn texts(&self, key: &str) -> Vec<String> {
        self.items(key)
            .iter()
            .map(|item| {
                scalar(item)
                    .unwrap_or_else(|| panic!("case {}: `{key}` holds a non-scalar", self.name))
            })
            .collect()
    }

    /// The mappings of the list under `key` (empty when the case has none).
    pub fn list(&self, key: &str) -> Vec<Case> {
        self.items(key)
            .iter()
            .map(|fields| Case {
                name: self.name.clone(),
                fields: fields.clone(),
            })
            .collect()
    }

    fn items(&self, key: &str) -> &[Yaml] {
        match &self.fields[key] {
            Yaml::Array(items) => items,
            Yaml::BadValue => &[],
            other => panic!("case {}: `{key}` is not a list: {other:?}", self.name),
        }
    }
}

/// A scalar as it is written.
fn scalar(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The cases of `folder` (relative to the crate), in file order.
pub fn cases(folder: &str) -> Vec<Case> {
    let path = folder_path(folder).join("cases.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let docs =
        YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let Some(Yaml::Array(items)) = docs.into_iter().next() else {
        panic!("{}: expected a list of cases", path.display());
    };
    let cases: Vec<Case> = items
        .into_iter()
        .map(|fields| {
            let name = match &fields["case"] {
                Yaml::String(s) => s.clone(),
                other => panic!("{}: a case without a name: {other:?}", path.display()),
            };
            Case { name, fields }
        })
        .collect();
    let mut names = BTreeSet::new();
    for case in &cases {
        assert!(
            names.insert(case.name.as_str()),
            "{}: two cases named {}",
            path.display(),
            case.name
        );
    }
    cases
}

fn folder_path(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(folder)
}

/// Runs every case of `folder` through `answer` and compares the answer
/// with the case's snapshot. Every case runs; the test fails after the
/// last one if any answer differs (insta shows each difference), or if a
/// snapshot has no case (it would check nothing).
pub fn check_cases(folder: &str, answer: impl Fn(&Case) -> String) {
    let cases = cases(folder);
    assert!(!cases.is_empty(), "{folder}: no cases");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(folder_path(folder));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let mut differ = Vec::new();
    settings.bind(|| {
        for case in &cases {
            let checked = catch_unwind(AssertUnwindSafe(|| {
                insta::assert_snapshot!(case.name.as_str(), answer(case));
            }));
            if checked.is_err() {
                differ.push(case.name.clone());
            }
        }
    });
    assert!(
        differ.is_empty(),
        "{folder}: the answers of {differ:?} differ from their snapshots"
    );
    let names: BTreeSet<String> = cases.iter().map(|c| c.name.clone()).collect();
    let dir = folder_path(folder);
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a folder entry").path();
        if path.extension().is_some_and(|x| x == "snap") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                names.contains(&stem),
                "{}: a snapshot without a case in cases.yaml",
                path.display()
            );
        }
    }
}
