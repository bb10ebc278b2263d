//! The JSON inputs of `vnetd import` (Terraform state, `terraform show
//! -json` output, `az ... -o json` dumps): reading a file with bounds, and
//! walking its values so that every complaint names the file, the line and
//! the path of the value inside it
//! (`nics.json:12: [0].ipConfigurations[0].privateIPAddress`).
//!
//! serde_json keeps no positions in its values, so the line is found when a
//! complaint is made: the value's path is followed through the source text
//! ([`line_of`]). A document is read either by walking its values
//! ([`Node`]) or through serde into typed shapes ([`typed`]), whose
//! complaints serde_path_to_error places; what is wrong with a value found
//! after reading is placed with a [`Place`] kept on the way down.

use super::ImportError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::path::Path;

/// The largest input read: a state of thousands of resources fits many
/// times over, and a wrong file (a disk image, a log) is refused unread.
pub const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// Reads and parses a JSON file: a regular file (a symlink to one is
/// followed) of at most [`MAX_INPUT_BYTES`]. A FIFO, device, socket or
/// directory is refused without being read. Syntax errors name the line
/// and column.
pub fn read(path: &Path) -> Result<Value, ImportError> {
    read_with_text(path).map(|(_, value)| value)
}

/// [`read`], with the file's text, for the lines of later complaints.
pub fn read_with_text(path: &Path) -> Result<(String, Value), ImportError> {
    let text = read_text(path)?;
    let value = serde_json::from_str(&text).map_err(|e| {
        ImportError::new(
            format!("{}:{}", path.display(), e.line()),
            format!("not valid JSON: {e}"),
        )
    })?;
    Ok((text, value))
}

/// Reads a file's text with the checks of [`read`].
pub fn read_text(path: &Path) -> Result<String, ImportError> {
    vnetd_model::topology::read_bounded_text(path, MAX_INPUT_BYTES, "an import reads")
        .map_err(|message| ImportError::new(path.display().to_string(), message))
}

/// A value of a JSON document with the way to it: the file it came from
/// and its path inside (empty for the document itself).
#[derive(Clone, Copy)]
pub struct Node<'a> {
    pub value: &'a Value,
    file: &'a str,
    /// The document's source text (empty: unknown, errors name no line).
    text: &'a str,
    path: &'a PathStep<'a>,
}

/// One step of a path, linked to the step before it; only rendered when
/// something goes wrong.
pub enum PathStep<'a> {
    Root,
    Key(&'a PathStep<'a>, &'a str),
    Index(&'a PathStep<'a>, usize),
}

impl PathStep<'_> {
    /// The steps from the document down to this one.
    fn steps(&self) -> Vec<Step<'_>> {
        let mut steps = Vec::new();
        let mut at = self;
        loop {
            match at {
                PathStep::Root => break,
                PathStep::Key(parent, key) => {
                    steps.push(Step::Key(key));
                    at = parent;
                }
                PathStep::Index(parent, index) => {
                    steps.push(Step::Index(*index));
                    at = parent;
                }
            }
        }
        steps.reverse();
        steps
    }
}

/// One step into a JSON value: a member of an object or an element of a
/// list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The line (from 1) where the value at `steps` starts in `text`, a valid
/// JSON document (of a duplicated key, the last, which is the one parsed).
pub fn line_of(text: &str, steps: &[Step<'_>]) -> Option<usize> {
    let offset = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    }
    .locate(steps)?;
    Some(line_at(text, offset))
}

/// The line (from 1) of byte `offset` of `text`.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The line (from 1) of the object whose `"id"` member is the string `id`
/// in the JSON `text`.
pub fn line_of_id(text: &str, id: &str) -> Option<usize> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut from = 0;
    while let Some(found) = text[from..].find("\"id\"") {
        scanner.at = from + found + "\"id\"".len();
        from = scanner.at;
        scanner.skip_space();
        if scanner.peek() != Some(b':') {
            continue;
        }
        scanner.at += 1;
        scanner.skip_space();
        let start = scanner.at;
        if scanner.string().as_deref() == Some(id) {
            return Some(line_at(text, start));
        }
    }
    None
}

/// A path as complaints show it (`[0].ipConfigurations[1].subnet`),
/// `(the document)` for the document itself.
fn render(steps: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(index) => {
                let _ = write!(out, "[{index}]");
            }
        }
    }
    if out.is_empty() {
        out.push_str("(the document)");
    }
    out
}

/// Where the value at `steps` of `file` is: `file:line`, or the file for
/// the document itself or when the line is unknown (`text` empty).
fn location(file: &str, text: &str, steps: &[Step<'_>]) -> String {
    // The document itself is the whole file: no line to name.
    if steps.is_empty() || text.is_empty() {
        return file.to_string();
    }
    match line_of(text, steps) {
        Some(line) => format!("{file}:{line}"),
        None => file.to_string(),
    }
}

/// Walks the text of a valid JSON document without building values.
struct Scanner<'t> {
    bytes: &'t [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
    }

    /// Past the string that starts here; its decoded text.
    fn string(&mut self) -> Option<String> {
        let start = self.at;
        if self.peek() != Some(b'"') {
            return None;
        }
        self.at += 1;
        loop {
            match self.peek()? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    break;
                }
                _ => self.at += 1,
            }
        }
        let raw = std::str::from_utf8(&self.bytes[start..self.at]).ok()?;
        serde_json::from_str(raw).ok()
    }

    /// Past the value that starts here (nested ones counted, not
    /// recursed into).
    fn skip_value(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            self.skip_space();
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                b'{' | b'[' => {
                    depth += 1;
                    self.at += 1;
                }
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    self.at += 1;
                }
                b',' | b':' if depth > 0 => self.at += 1,
                _ => {
                    while !matches!(
                        self.peek(),
                        None | Some(b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n')
                    ) {
                        self.at += 1;
                    }
                }
            }
            if depth == 0 {
                return Some(());
            }
        }
    }

    /// The offset of the value at `steps` below the value that starts here.
    fn locate(mut self, steps: &[Step<'_>]) -> Option<usize> {
        for step in steps {
            self.skip_space();
            match step {
                Step::Key(key) => {
                    if self.peek()? != b'{' {
                        return None;
                    }
                    self.at += 1;
                    let mut found = None;
                    loop {
                        self.skip_space();
                        if self.peek()? == b'}' {
                            break;
                        }
                        let name = self.string()?;
                        self.skip_space();
                        if self.peek()? != b':' {
                            return None;
                        }
                        self.at += 1;
                        self.skip_space();
                        if name == *key {
                            found = Some(self.at);
                        }
                        self.skip_value()?;
                        self.skip_space();
                        if self.peek() == Some(b',') {
                            self.at += 1;
                        }
                    }
                    self.at = found?;
                }
                Step::Index(index) => {
                    if self.peek()? != b'[' {
                        return None;
                    }
                    self.at += 1;
                    for _ in 0..*index {
                        self.skip_space();
                        self.skip_value()?;
                        self.skip_space();
                        if self.peek()? != b',' {
                            return None;
                        }
                        self.at += 1;
                    }
                    self.skip_space();
                    if self.peek()? == b']' {
                        return None;
                    }
                }
            }
        }
        self.skip_space();
        Some(self.at)
    }
}

/// What a JSON value is, for messages.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl<'a> Node<'a> {
    /// The document itself, its source unknown: errors name the file.
    pub fn root(file: &'a str, value: &'a Value) -> Self {
        Self::root_in(file, "", value)
    }

    /// The document itself, parsed from `text`: errors name the file and
    /// the line.
    pub fn root_in(file: &'a str, text: &'a str, value: &'a Value) -> Self {
        Node {
            value,
            file,
            text,
            path: &PathStep::Root,
        }
    }

    /// The file the document came from.
    pub fn file(&self) -> &'a str {
        self.file
    }

    /// Where this value is: `file:line`, or the file for the document
    /// itself or when the line is unknown.
    pub fn location(&self) -> String {
        location(self.file, self.text, &self.path.steps())
    }

    /// The path of this value inside its file, `(the document)` for the
    /// document itself.
    pub fn path(&self) -> String {
        render(&self.path.steps())
    }

    /// An error about this value: located at its file and line, the message
    /// starting with the value's path.
    pub fn error(&self, message: impl std::fmt::Display) -> ImportError {
        ImportError::new(self.location(), format!("{}: {message}", self.path()))
    }

    fn expected(&self, what: &str) -> ImportError {
        self.error(format!("expected {what}, found {}", kind_of(self.value)))
    }

    /// This value as an object.
    pub fn object(&self) -> Result<&'a Map<String, Value>, ImportError> {
        self.value
            .as_object()
            .ok_or_else(|| self.expected("an object"))
    }

    /// This value as a string.
    pub fn str(&self) -> Result<&'a str, ImportError> {
        self.value.as_str().ok_or_else(|| self.expected("a string"))
    }

    /// This value as a whole number.
    pub fn integer(&self) -> Result<i64, ImportError> {
        self.value
            .as_i64()
            .ok_or_else(|| self.expected("a whole number"))
    }

    /// Calls `each` with every element of this list, each with its path.
    pub fn each_element<T>(
        &self,
        mut each: impl FnMut(Node<'_>) -> Result<T, ImportError>,
    ) -> Result<Vec<T>, ImportError> {
        let items = self
            .value
            .as_array()
            .ok_or_else(|| self.expected("a list"))?;
        let mut out = Vec::with_capacity(items.len());
        for (index, value) in items.iter().enumerate() {
            let step = PathStep::Index(self.path, index);
            out.push(each(Node {
                value,
                file: self.file,
                text: self.text,
                path: &step,
            })?);
        }
        Ok(out)
    }

    /// Calls `with` with the member `key` of this object (`None` when it is
    /// absent or null); an error when this value is not an object.
    pub fn member<T>(
        &self,
        key: &str,
        with: impl FnOnce(Option<Node<'_>>) -> Result<T, ImportError>,
    ) -> Result<T, ImportError> {
        let object = self.object()?;
        match object.get_key_value(key) {
            Some((name, value)) if !value.is_null() => {
                let step = PathStep::Key(self.path, name);
                with(Some(Node {
                    value,
                    file: self.file,
                    text: self.text,
                    path: &step,
                }))
            }
            _ => with(None),
        }
    }

    /// [`Node::member`] under the first of `keys` present (the spellings
    /// of one field across versions).
    pub fn member_any<T>(
        &self,
        keys: &[&str],
        with: impl FnOnce(Option<Node<'_>>) -> Result<T, ImportError>,
    ) -> Result<T, ImportError> {
        let object = self.object()?;
        let found = keys
            .iter()
            .find(|key| object.get(**key).is_some_and(|v| !v.is_null()));
        match found {
            Some(key) => self.member(key, with),
            None => with(None),
        }
    }

    /// A member that must be there: an error naming it when absent.
    pub fn required<T>(
        &self,
        key: &str,
        with: impl FnOnce(Node<'_>) -> Result<T, ImportError>,
    ) -> Result<T, ImportError> {
        self.member(key, |found| match found {
            Some(node) => with(node),
            None => Err(self.error(format!("`{key}` is missing"))),
        })
    }

    /// A required string member.
    pub fn required_str(&self, key: &str) -> Result<String, ImportError> {
        self.required(key, |n| n.str().map(str::to_string))
    }

    /// An optional string member (absent, null or empty: `None`).
    pub fn optional_str(&self, keys: &[&str]) -> Result<Option<String>, ImportError> {
        self.member_any(keys, |found| match found {
            Some(node) => {
                let text = node.str()?;
                Ok((!text.is_empty()).then(|| text.to_string()))
            }
            None => Ok(None),
        })
    }
}

/// Where a value of a document read through [`typed`] is: the file, its
/// text and the value's path, kept on the way down the typed shapes for
/// what is found wrong after reading (a reference to nothing, ...), which
/// is placed as [`Node::error`] places it.
#[derive(Clone)]
pub struct Place<'a> {
    file: &'a str,
    /// The document's source text (empty: unknown, errors name no line).
    text: &'a str,
    steps: Vec<Step<'a>>,
}

impl<'a> Place<'a> {
    /// The document itself, parsed from `text` (empty: errors name the
    /// file only).
    pub fn root(file: &'a str, text: &'a str) -> Self {
        Place {
            file,
            text,
            steps: Vec::new(),
        }
    }

    /// The member `key` of the object here.
    #[must_use]
    pub fn key(&self, key: &'a str) -> Self {
        self.with(Step::Key(key))
    }

    /// The element `index` of the list here.
    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        self.with(Step::Index(index))
    }

    fn with(&self, step: Step<'a>) -> Self {
        let mut steps = Vec::with_capacity(self.steps.len() + 1);
        steps.extend_from_slice(&self.steps);
        steps.push(step);
        Place {
            file: self.file,
            text: self.text,
            steps,
        }
    }

    /// Where the value is: `file:line`, or the file when the line is not
    /// known.
    pub fn location(&self) -> String {
        location(self.file, self.text, &self.steps)
    }

    /// An error about the value here: located at its file and line, the
    /// message starting with its path.
    pub fn error(&self, message: impl std::fmt::Display) -> ImportError {
        ImportError::new(
            location(self.file, self.text, &self.steps),
            format!("{}: {message}", render(&self.steps)),
        )
    }
}

/// `document`, parsed from `text` of `file`, read as a `T` through serde.
/// A member that is null counts as absent, as [`Node::member`] has it (an
/// `Option` is `None`, a `#[serde(default)]` its default, any other
/// missing). A value that does not fit is refused at its file, line and
/// path, in [`Node`]'s words: `[0].addressSpace.addressPrefixes: expected
/// a list, found a string`, `[1]: `name` is missing`.
pub fn typed<T: DeserializeOwned>(
    file: &str,
    text: &str,
    mut document: Value,
) -> Result<T, ImportError> {
    drop_null_members(&mut document);
    serde_path_to_error::deserialize(&document).map_err(|e| {
        let mut steps = Vec::new();
        for segment in e.path() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => steps.push(Step::Index(*index)),
                serde_path_to_error::Segment::Map { key } => steps.push(Step::Key(key)),
                // No enums in these shapes, and a JSON key is a string:
                // the path so far is as near as it gets.
                _ => break,
            }
        }
        let message = complaint(&e.inner().to_string(), value_at(&document, &steps));
        Place { file, text, steps }.error(message)
    })
}

/// Removes the null members of every object in `value`.
fn drop_null_members(value: &mut Value) {
    match value {
        Value::Object(members) => {
            members.retain(|_, member| !member.is_null());
            members.values_mut().for_each(drop_null_members);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null_members),
        _ => {}
    }
}

/// The value at `steps` below `value`.
fn value_at<'v>(mut value: &'v Value, steps: &[Step<'_>]) -> Option<&'v Value> {
    for step in steps {
        value = match step {
            Step::Key(key) => value.get(*key)?,
            Step::Index(index) => value.get(*index)?,
        };
    }
    Some(value)
}

/// serde's complaint about the value `found` in [`Node`]'s words:
/// `missing field `x`` is `` `x` is missing``, `invalid type: ..., expected
/// a sequence` is `expected a list, found an object`; any other as serde
/// says it.
fn complaint(serde_message: &str, found: Option<&Value>) -> String {
    if let Some(field) = serde_message.strip_prefix("missing field ") {
        return format!("{field} is missing");
    }
    let expected = serde_message
        .strip_prefix("invalid type: ")
        .or_else(|| serde_message.strip_prefix("invalid value: "))
        .and_then(|rest| rest.rsplit_once(", expected "));
    match (expected, found) {
        (Some((_, expected)), Some(found)) => {
            let expected = match expected {
                "a sequence" => "a list",
                "a map" => "an object",
                "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => "a whole number",
                other if other.starts_with("struct ") => "an object",
                other => other,
            };
            format!("expected {expected}, found {}", kind_of(found))
        }
        _ => serde_message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_file_and_the_path_of_the_value() {
        let doc = json!({"items": [{"name": "a"}, {"name": 7}]});
        let root = Node::root("dump.json", &doc);
        let err = root
            .required("items", |items| {
                items.each_element(|item| item.required_str("name"))
            })
            .unwrap_err();
        assert_eq!(err.location, "dump.json");
        assert_eq!(
            err.message,
            "items[1].name: expected a string, found a number"
        );
        let err = root.required("things", |_| Ok(())).unwrap_err();
        assert_eq!(err.message, "(the document): `things` is missing");
    }

    #[test]
    fn a_member_is_looked_up_under_each_spelling_and_null_is_absent() {
        let doc = json!({"enableIPForwarding": "yes", "gone": null});
        let root = Node::root("nics.json", &doc);
        assert_eq!(
            root.optional_str(&["enableIpForwarding", "enableIPForwarding"]),
            Ok(Some("yes".to_string()))
        );
        assert_eq!(root.optional_str(&["gone"]), Ok(None));
    }

    /// A shape of [`typed`]'s tests: a required, an optional, a defaulted
    /// and a nested member, one under two spellings.
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code, reason = "read only through Debug")]
    struct Item {
        name: String,
        #[serde(rename = "privateIPAddress", alias = "privateIpAddress")]
        address: Option<String>,
        #[serde(default)]
        prefixes: Vec<String>,
        priority: Option<i64>,
        inner: Option<Box<Item>>,
    }

    #[test]
    fn a_typed_read_takes_null_as_absent_and_either_spelling() {
        let doc = json!([{"name": "a", "privateIpAddress": "10.0.0.4", "prefixes": null,
                          "inner": null, "other": {"unknown": true}}]);
        let items: Vec<Item> = typed("nics.json", "", doc).unwrap();
        assert_eq!(items[0].address.as_deref(), Some("10.0.0.4"));
        assert!(items[0].prefixes.is_empty() && items[0].inner.is_none());
    }

    #[test]
    fn a_typed_read_names_the_file_line_and_path_of_what_does_not_fit() {
        let text = r#"[
  {"name": "a"},
  {"name": "b",
   "inner": {"name": "c",
     "prefixes": ["10.0.0.0/8",
       7],
     "priority": 1.5}}
]"#;
        let read = |text: &str| {
            let doc: Value = serde_json::from_str(text).unwrap();
            typed::<Vec<Item>>("x.json", text, doc)
                .map(drop)
                .unwrap_err()
        };
        let err = read(text);
        // serde reads the members of an object in the order of their names.
        assert_eq!(err.location, "x.json:6");
        assert_eq!(
            err.message,
            "[1].inner.prefixes[1]: expected a string, found a number"
        );
        let text = text.replace("7]", r#""7"]"#);
        let err = read(&text);
        assert_eq!(err.location, "x.json:7");
        assert_eq!(
            err.message,
            "[1].inner.priority: expected a whole number, found a number"
        );
        let text = text.replace("1.5", "1");
        let err = read(&text.replace(r#""name": "c""#, r#""name": null"#));
        assert_eq!(err.location, "x.json:4");
        assert_eq!(err.message, "[1].inner: `name` is missing");
        let err = read(r#"{"name": "a"}"#);
        assert_eq!(err.location, "x.json");
        assert_eq!(
            err.message,
            "(the document): expected a list, found an object"
        );
        let err = read("[null]");
        assert_eq!(err.location, "x.json:1");
        assert_eq!(err.message, "[0]: expected an object, found null");
        let err = read(r#"[{"name": "a", "privateIPAddress": "x", "privateIpAddress": "y"}]"#);
        assert_eq!(err.message, "[0]: duplicate field `privateIPAddress`");
    }

    #[test]
    fn a_value_is_found_at_its_line_past_strings_escapes_and_nesting() {
        let text = r#"{
 "a": [1, {"x": "}]\"{"},
  {"b": 2}],
 "c": {"d":
  true},
 "c": {"d": false, "id": "/x/y"}
}"#;
        use Step::{Index, Key};
        assert_eq!(line_of(text, &[Key("a"), Index(2), Key("b")]), Some(3));
        assert_eq!(line_of(text, &[Key("a"), Index(1), Key("x")]), Some(2));
        // A duplicated key: the last, as parsed.
        assert_eq!(line_of(text, &[Key("c"), Key("d")]), Some(6));
        assert_eq!(line_of(text, &[Key("a"), Index(3)]), None);
        assert_eq!(line_of(text, &[Key("zz")]), None);
        assert_eq!(line_of_id(text, "/x/y"), Some(6));
        assert_eq!(line_of_id(text, "/x"), None);

        let doc: Value = serde_json::from_str(text).unwrap();
        let root = Node::root_in("dump.json", text, &doc);
        let err = root
            .required("c", |c| c.required("d", |d| d.str().map(drop)))
            .unwrap_err();
        assert_eq!(err.location, "dump.json:6");
        assert_eq!(err.message, "c.d: expected a string, found a boolean");
        let err = root.required("things", |_| Ok(())).unwrap_err();
        assert_eq!(err.location, "dump.json");
    }

    #[test]
    fn a_file_that_is_not_json_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, "[\n  {\"a\": 1,}\n]").unwrap();
        let err = read(&path).unwrap_err();
        assert_eq!(err.location, format!("{}:2", path.display()));
        err.assert_starts_with("not valid JSON: ");
        let err = read(dir.path()).unwrap_err();
        err.assert_contains("a directory");
    }
}
