//! The evaluator's bounds: the limits on strings, collections, values,
//! work and depth, the [`Budget`] that counts work, and the [`Fault`] an
//! evaluation ends with.

use crate::quoted;
use hcl::{Map, Value};
use std::cell::Cell;

/// The longest string evaluated, in bytes (1 MiB): names, prefixes and IDs
/// are far shorter; a VM's `custom_data` fits.
pub const MAX_STRING_BYTES: usize = 1 << 20;
/// The most elements of one list or map.
pub const MAX_ELEMENTS: usize = 100_000;
/// The largest value, everything nested in it counted ([`size_of`]):
/// 16 MiB.
pub const MAX_VALUE_BYTES: usize = 16 << 20;
/// The work of a whole import, in steps: one per expression evaluated,
/// plus the size ([`size_of`]) of every value made or copied: 64 Mi, where
/// a configuration of a thousand NICs takes a few Mi.
pub const MAX_WORK: u64 = 64 << 20;
/// What one value takes besides the bytes of its strings and keys, about
/// what it takes in memory.
pub const VALUE_OVERHEAD: usize = 32;
/// The deepest nesting of expressions evaluated: above what the parser
/// lets through (64 levels of brackets and 128 operators), a guard of the
/// stack for expressions made otherwise.
pub const MAX_DEPTH: usize = 256;

/// Why an evaluation stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The expression cannot be evaluated (a type error, a missing
    /// element, a function's refusal): the reason.
    Failed(String),
    /// A member that the value does not have.
    NoSuchKey(String),
    /// A value would be past one of the bounds.
    TooLarge(String),
    /// The import's work is spent: nothing more is evaluated.
    Exhausted(String),
}

impl Fault {
    /// The reason, in words.
    pub fn reason(&self) -> &str {
        match self {
            Fault::Failed(why) | Fault::TooLarge(why) | Fault::Exhausted(why) => why,
            Fault::NoSuchKey(key) => key,
        }
    }
}

/// The steps an import may still take (see [`MAX_WORK`]).
#[derive(Debug)]
pub struct Budget {
    left: Cell<u64>,
    spent: Cell<bool>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(MAX_WORK)
    }
}

impl Budget {
    pub fn new(steps: u64) -> Self {
        Budget {
            left: Cell::new(steps),
            spent: Cell::new(false),
        }
    }

    /// Takes `steps`; once the budget is spent every charge fails.
    pub fn charge(&self, steps: usize) -> Result<(), Fault> {
        match self.left.get().checked_sub(steps as u64) {
            Some(left) if !self.spent.get() => {
                self.left.set(left);
                Ok(())
            }
            _ => {
                self.spent.set(true);
                Err(Fault::Exhausted(format!(
                    "evaluating the configuration took more than the {MAX_WORK} steps an \
                     import may take (values made or copied, in bytes): a value is built \
                     too many times or too large"
                )))
            }
        }
    }

    /// Whether the budget is spent.
    pub fn exhausted(&self) -> bool {
        self.spent.get()
    }

    /// The steps still left.
    pub fn left(&self) -> u64 {
        if self.spent.get() {
            0
        } else {
            self.left.get()
        }
    }

    /// Takes what a module's evaluation spent from its own budget, which
    /// started with what this one had left.
    pub fn settle_with(&self, child: &Budget) {
        self.left.set(child.left());
        if child.exhausted() {
            self.spent.set(true);
        }
    }
}

/// What a name at the root of a reference stands for.
pub enum Root<'a> {
    /// A value (`count`, `each`, a `for` variable).
    Value(&'a Value),
    /// A map whose members the reference names (`var`, `local`, a resource
    /// type), not copied as a whole.
    Members(&'a Map<String, Value>),
    /// A value made for the occasion.
    Owned(Value),
}

/// The names expressions may refer to.
pub trait Names {
    fn root(&self, name: &str) -> Option<Root<'_>>;

    /// Whether a member missing under `root` is a value only Terraform or
    /// Azure computes (a resource's attribute the configuration does not
    /// write, a data source, a module's output), rather than an error.
    fn computes(&self, _root: &str) -> bool {
        false
    }
}

/// No names at all: constants and functions only.
pub struct NoNames;

impl Names for NoNames {
    fn root(&self, _name: &str) -> Option<Root<'_>> {
        None
    }
}

/// The size of a value, as the bounds count it: the bytes of its strings
/// and keys, plus [`VALUE_OVERHEAD`] for each value in it.
pub fn size_of(value: &Value) -> usize {
    VALUE_OVERHEAD
        + match value {
            Value::String(s) => s.len(),
            Value::Array(items) => items.iter().map(size_of).sum::<usize>(),
            Value::Object(map) => map.iter().map(|(k, v)| k.len() + size_of(v)).sum::<usize>(),
            _ => 0,
        }
}

/// A value in a message: at most [`crate::QUOTED_BYTES`] of it.
pub fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{}\"", quoted(s)),
        other => quoted(&other.to_string()),
    }
}

pub(super) fn failed(why: impl Into<String>) -> Fault {
    Fault::Failed(why.into())
}

pub(super) fn unexpected(value: &Value, expected: &str) -> Fault {
    failed(format!(
        "unexpected value `{}`, expected {expected}",
        shown(value)
    ))
}

/// Fails unless a string of `bytes` bytes is within the bound.
pub fn check_string(bytes: usize) -> Result<(), Fault> {
    if bytes > MAX_STRING_BYTES {
        return Err(Fault::TooLarge(format!(
            "the string would be {bytes} bytes, more than the {MAX_STRING_BYTES} bytes (1 MiB) \
             a string may have"
        )));
    }
    Ok(())
}

/// Fails unless a list or map of `count` elements is within the bound.
pub fn check_elements(count: usize) -> Result<(), Fault> {
    if count > MAX_ELEMENTS {
        return Err(Fault::TooLarge(format!(
            "the list or map would have more than the {MAX_ELEMENTS} elements one may have"
        )));
    }
    Ok(())
}

/// Fails unless a value of `size` ([`size_of`]) is within the bound.
pub fn check_value(size: usize) -> Result<(), Fault> {
    if size > MAX_VALUE_BYTES {
        return Err(Fault::TooLarge(format!(
            "the value would be more than {MAX_VALUE_BYTES} bytes (16 MiB) with everything in \
             it, more than a value may be"
        )));
    }
    Ok(())
}
