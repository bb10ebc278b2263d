//! The objects of one file of a dump ([`List`]), each with its place in
//! the file, so that what is found wrong with one is reported at its line.

use super::known::Known;
use super::model::Object;
use crate::json_file::{self, Place};
use crate::ImportError;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The objects of one file of the dump, with the file's place.
pub struct List<'a, T> {
    at: Place<'a>,
    pub(super) items: Vec<T>,
}

impl<T> Default for List<'_, T> {
    /// A list the dump does not hold: no items, and nowhere to point at.
    fn default() -> Self {
        List {
            at: Place::root("", ""),
            items: Vec::new(),
        }
    }
}

impl<'a, T: DeserializeOwned> List<'a, T> {
    /// The list `document` of `file`, parsed from `text` (empty: errors
    /// name no line).
    pub fn read(file: &'a str, text: &'a str, document: Value) -> Result<Self, ImportError> {
        Ok(List {
            items: json_file::typed(file, text, document)?,
            at: Place::root(file, text),
        })
    }
}

impl<'a, T> List<'a, T> {
    /// Each object with its place.
    pub(super) fn each(&self) -> impl Iterator<Item = (Place<'a>, &T)> + '_ {
        self.items
            .iter()
            .enumerate()
            .map(|(index, item)| (self.at.index(index), item))
    }
}

impl<T: Object> List<'_, T> {
    /// Adds each object's ID to `known` as one of `kind`.
    pub(super) fn add_known(&self, kind: &'static str, known: &mut Known) {
        for item in &self.items {
            known.add(kind, item.id());
        }
    }
}
