//! What the resources of a dump carry, and the reading of the members
//! every object has: its name, ID and resource group.

use super::model::{Object, Sku};
use crate::json_file::Place;
use crate::{ImportError, Resource};
use serde_json::{json, Map, Value};

/// A resource of the dump: its azurerm type, name and attributes, and the
/// ID it came from.
pub(super) fn resource(
    kind: &str,
    name: &str,
    attributes: Map<String, Value>,
    source: &str,
) -> Resource {
    Resource {
        kind: kind.to_string(),
        name: name.to_string(),
        attributes: Value::Object(attributes),
        source: source.to_string(),
    }
}

/// The members of `value`, an object (anything else has none).
pub(super) fn as_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// What every top-level resource carries: its ID, name, resource group and
/// (when the dump has it) location.
pub(super) fn resource_attributes(
    id: &str,
    name: &str,
    group: &str,
    location: Option<&str>,
) -> Map<String, Value> {
    let mut attributes = Map::new();
    attributes.insert("id".into(), json!(id));
    attributes.insert("name".into(), json!(name));
    attributes.insert("resource_group_name".into(), json!(group));
    put_text(&mut attributes, "location", location);
    attributes
}

/// An optional string member that says something: absent and `""` are
/// both nothing.
pub(super) fn given(value: Option<&str>) -> Option<String> {
    value.filter(|text| !text.is_empty()).map(str::to_string)
}

pub(super) fn put_str(attributes: &mut Map<String, Value>, key: &str, value: Option<String>) {
    if let Some(value) = value {
        attributes.insert(key.to_string(), Value::String(value));
    }
}

/// An optional string member under `key` when it says something (see
/// [`given`]).
pub(super) fn put_text(attributes: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    put_str(attributes, key, given(value));
}

/// Each optional string member of `values` under its key when it says
/// something (see [`put_text`]).
pub(super) fn put_texts<const N: usize>(
    attributes: &mut Map<String, Value>,
    values: [(&str, Option<&str>); N],
) {
    for (key, value) in values {
        put_text(attributes, key, value);
    }
}

/// The name of an object's `sku` under `key`, when it says something.
pub(super) fn put_sku_name(attributes: &mut Map<String, Value>, key: &str, sku: &Option<Sku>) {
    put_text(
        attributes,
        key,
        sku.as_ref().and_then(|s| s.name.as_deref()),
    );
}

/// Each value of `values` that the dump gives, under its key.
pub(super) fn put_given<T: Into<Value>, const N: usize>(
    attributes: &mut Map<String, Value>,
    values: [(&str, Option<T>); N],
) {
    for (key, value) in values {
        if let Some(value) = value {
            attributes.insert(key.to_string(), value.into());
        }
    }
}

/// An object's name and ID, and the attributes every top-level resource
/// carries (see [`resource_attributes`]), `location` among them.
pub(super) fn top_level(
    at: &Place<'_>,
    object: &impl Object,
    location: Option<&str>,
) -> Result<(String, String, Map<String, Value>), ImportError> {
    let (name, id, group) = identity(at, object)?;
    let attributes = resource_attributes(&id, &name, &group, location);
    Ok((name, id, attributes))
}

/// An object's name, ID and resource group (from the ID, else from its
/// `resourceGroup`).
pub(super) fn identity(
    at: &Place<'_>,
    object: &impl Object,
) -> Result<(String, String, String), ImportError> {
    let id = object.id();
    let group = match resource_group_of(id) {
        Some(group) => group,
        None => object
            .resource_group()
            .filter(|group| !group.is_empty())
            .map(str::to_string)
            .ok_or_else(|| at.error(format!("`id` `{id}` names no resource group")))?,
    };
    Ok((object.name().to_string(), id.to_string(), group))
}

/// The resource group of an Azure resource ID.
fn resource_group_of(id: &str) -> Option<String> {
    let mut parts = id.split('/');
    while let Some(part) = parts.next() {
        if part.eq_ignore_ascii_case("resourceGroups") {
            return parts.next().filter(|g| !g.is_empty()).map(str::to_string);
        }
    }
    None
}
