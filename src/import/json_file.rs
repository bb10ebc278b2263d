//! The JSON inputs of `vnetd import` (Terraform state, `terraform show
//! -json` output, `az ... -o json` dumps): reading a file with bounds, and
//! walking its values so that every complaint names the file and the path
//! of the value inside it (`resources[3].instances[0].attributes`).

use super::ImportError;
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
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|e| {
        ImportError::new(
            format!("{}:{}", path.display(), e.line()),
            format!("not valid JSON: {e}"),
        )
    })
}

/// Reads a file's text with the checks of [`read`].
pub fn read_text(path: &Path) -> Result<String, ImportError> {
    crate::topology::read_bounded_text(path, MAX_INPUT_BYTES, "an import reads")
        .map_err(|message| ImportError::new(path.display().to_string(), message))
}

/// A value of a JSON document with the way to it: the file it came from
/// and its path inside (empty for the document itself).
#[derive(Clone, Copy)]
pub struct Node<'a> {
    pub value: &'a Value,
    file: &'a str,
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
    fn render(&self, out: &mut String) {
        match self {
            PathStep::Root => {}
            PathStep::Key(parent, key) => {
                parent.render(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            PathStep::Index(parent, index) => {
                parent.render(out);
                let _ = write!(out, "[{index}]");
            }
        }
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
    /// The document itself.
    pub fn root(file: &'a str, value: &'a Value) -> Self {
        Node {
            value,
            file,
            path: &PathStep::Root,
        }
    }

    /// The path of this value inside its file, `(the document)` for the
    /// document itself.
    pub fn path(&self) -> String {
        let mut out = String::new();
        self.path.render(&mut out);
        if out.is_empty() {
            out.push_str("(the document)");
        }
        out
    }

    /// An error about this value: located at the file, the message starting
    /// with the value's path.
    pub fn error(&self, message: impl std::fmt::Display) -> ImportError {
        ImportError::new(self.file, format!("{}: {message}", self.path()))
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

    /// This value as a boolean.
    pub fn bool(&self) -> Result<bool, ImportError> {
        self.value
            .as_bool()
            .ok_or_else(|| self.expected("a boolean"))
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

    /// An optional boolean member.
    pub fn optional_bool(&self, keys: &[&str]) -> Result<Option<bool>, ImportError> {
        self.member_any(keys, |found| found.map(|n| n.bool()).transpose())
    }

    /// An optional list of strings (absent or null: empty).
    pub fn string_list(&self, keys: &[&str]) -> Result<Vec<String>, ImportError> {
        self.member_any(keys, |found| match found {
            Some(node) => node.each_element(|item| item.str().map(str::to_string)),
            None => Ok(Vec::new()),
        })
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
        let doc = json!({"enableIPForwarding": true, "gone": null});
        let root = Node::root("nics.json", &doc);
        assert_eq!(
            root.optional_bool(&["enableIpForwarding", "enableIPForwarding"]),
            Ok(Some(true))
        );
        assert_eq!(root.optional_str(&["gone"]), Ok(None));
        assert_eq!(root.string_list(&["gone"]), Ok(Vec::new()));
    }

    #[test]
    fn a_file_that_is_not_json_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, "[\n  {\"a\": 1,}\n]").unwrap();
        let err = read(&path).unwrap_err();
        assert_eq!(err.location, format!("{}:2", path.display()));
        assert!(
            err.message.starts_with("not valid JSON: "),
            "{}",
            err.message
        );
        let err = read(dir.path()).unwrap_err();
        assert!(err.message.contains("a directory"), "{}", err.message);
    }
}
