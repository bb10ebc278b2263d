//! The decoder and what the decoding of every record shares: the keys of
//! a mapping ([`Fields`]), the [`Record`] trait with a named item's
//! [`Head`], the reading of a list of records, the known key closest to a
//! mistyped one, and the reference by name ([`NameRef`]) records hold. It
//! uses no decoder of a kind, so each kind's file can use it without using
//! the others.

use super::super::diagnostic::Diagnostics;
use super::super::yaml::{Node, Value};

/// A name that refers to another resource, and where it was written.
#[derive(Debug, Clone)]
pub struct NameRef {
    pub name: String,
    pub line: usize,
    pub key: String,
}

/// The keys of a mapping, checked against the ones a place allows.
pub(super) struct Fields<'n> {
    pub(super) entries: &'n [(String, Node, usize)],
    pub(super) line: usize,
    pub(super) path: String,
}

impl<'n> Fields<'n> {
    pub(super) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, n, _)| n)
    }

    /// The value, unless absent or null: both mean "not given".
    pub(super) fn given(&self, key: &str) -> Option<&'n Node> {
        self.get(key).filter(|n| !matches!(n.value, Value::Null))
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(super) fn key(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{}", self.path, key)
        }
    }
}

/// Reads a line-marked YAML tree into raw records, reporting every problem
/// it finds to `diags`.
pub struct Decoder<'d> {
    pub diags: &'d mut Diagnostics,
}

/// A resource written as a list item with a `name`.
pub(super) trait Record: Sized {
    /// What one item is called in messages.
    const WHAT: &'static str;
    /// Every key an item may have, `name` first. The order is the contract's:
    /// it breaks ties between typo suggestions and is the order listed when
    /// no key is close.
    const KEYS: &'static [&'static str];
    /// The item's other keys, once its name is known; `None` drops the item
    /// (its errors are already reported).
    fn decode(d: &mut Decoder, f: &Fields, head: Head) -> Option<Self>;
}

/// What every named item has: its name, its key (`vnets[hub]`), its line.
pub(super) struct Head {
    pub(super) name: String,
    pub(super) key: String,
    pub(super) line: usize,
}

impl Decoder<'_> {
    /// The items of a list of records; broken items are left out.
    pub(super) fn records<R: Record>(&mut self, f: &Fields, key: &str) -> Vec<R> {
        let list_key = f.key(key);
        let items = self.items(f.get(key), &list_key);
        self.each(items, &list_key)
    }

    pub(super) fn each<R: Record>(&mut self, items: &[Node], list_key: &str) -> Vec<R> {
        let mut out = Vec::new();
        for (i, node) in items.iter().enumerate() {
            if let Some(r) = self.record(node, &format!("{list_key}[{i}]"), list_key) {
                out.push(r);
            }
        }
        out
    }

    /// One item: its keys checked, then its name, which names its key path
    /// in every later message.
    pub(super) fn record<R: Record>(
        &mut self,
        node: &Node,
        path: &str,
        list_key: &str,
    ) -> Option<R> {
        let f = self.fields(node, path, R::WHAT, R::KEYS)?;
        let name = self.required_string(&f, "name")?;
        let key = format!("{list_key}[{name}]");
        let f = Fields {
            path: key.clone(),
            ..f
        };
        let head = Head {
            name,
            key,
            line: node.line,
        };
        R::decode(self, &f, head)
    }

    /// A list of records held by a record (a VNet's subnets).
    pub(super) fn list<R: Record>(&mut self, f: &Fields, key: &str) -> Option<Vec<R>> {
        Some(self.records(f, key))
    }
}

/// The known key closest to a mistyped one, when it is close enough to be a
/// likely typo: at most 2 edits away, or a quarter of the key's length for
/// long keys. On a tie the first known key wins.
pub(in crate::topology) fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}
