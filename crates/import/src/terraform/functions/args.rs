//! A function's arguments read as the types it takes, each refusal saying
//! what the argument is instead, and what a function gives ([`Outcome`]).

use super::super::limits::Fault;
use crate::quoted;
use hcl::{Map, Value};

/// A bound's fault as a function's refusal.
pub(super) fn bound(fault: Fault) -> String {
    fault.reason().to_string()
}

/// What a function gives: its value, or why it refuses.
pub(super) type Outcome = Result<Value, String>;

/// A string argument, or a number or bool as its text.
pub(super) fn text(v: &Value, what: &str) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("{what} must be a string, not {}", kind(other))),
    }
}

/// A whole-number argument (a number or its text).
pub(super) fn integer(v: &Value, what: &str) -> Result<i128, String> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(f) if f.fract() == 0.0 && f.abs() < 2f64.powi(100) => Ok(f as i128),
        _ => Err(format!("{what} must be a whole number, not {}", shown(v))),
    }
}

/// A list argument.
pub(super) fn list(v: &Value, what: &str) -> Result<Vec<Value>, String> {
    match v {
        Value::Array(items) => Ok(items.clone()),
        other => Err(format!("{what} must be a list, not {}", kind(other))),
    }
}

/// A map or object argument.
pub(super) fn object(v: &Value, what: &str) -> Result<Map<String, Value>, String> {
    match v {
        Value::Object(map) => Ok(map.clone()),
        other => Err(format!(
            "{what} must be a map or object, not {}",
            kind(other)
        )),
    }
}

/// What kind of value `v` is, for a message (`a list`).
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A value in a message: a string quoted (at most a few hundred bytes of
/// it), a number, or what kind of value it is.
pub(super) fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{}\"", quoted(s)),
        Value::Number(n) => n.to_string(),
        other => kind(other).to_string(),
    }
}
