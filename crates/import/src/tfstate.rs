//! `vnetd import tfstate FILE`: the azurerm resources of a Terraform state
//! (format version 4, what Terraform 0.12 and later write, e.g.
//! `terraform state pull`) or of `terraform show -json` output, which is
//! told apart by its content.
//!
//! Both hold every attribute already evaluated, with Azure resource IDs
//! for references, so a resource is taken as it is: its attributes
//! unchanged (the provider's names, v3 or v4, nested blocks as lists of
//! objects), its `id` as its source. Data sources, deposed objects and
//! resources of other providers are left out.
//!
//! One thing is undone: the azurerm provider mirrors some separate
//! resources into the resource they belong to (a VNet's `subnet` lists the
//! `azurerm_subnet`s of that VNet, an NSG's `security_rule` its
//! `azurerm_network_security_rule`s, a route table's `route` its
//! `azurerm_route`s, a hub route table's `route` its
//! `azurerm_virtual_hub_route_table_route`s). Such mirrored entries are
//! dropped, so each object comes once, from its own resource.

use super::json_file::{self, Node};
use super::{ImportError, Resource};
use serde_json::Value;
use std::path::Path;

/// The state format version read.
const STATE_VERSION: i64 = 4;

/// Reads a state file or `terraform show -json` output.
pub fn read(path: &Path) -> Result<Vec<Resource>, ImportError> {
    let (text, document) = json_file::read_with_text(path)?;
    from_root(Node::root_in(&path.display().to_string(), &text, &document))
}

/// The resources of a parsed state or show output; `file` names it in
/// errors.
pub fn from_value(file: &str, document: &Value) -> Result<Vec<Resource>, ImportError> {
    from_root(Node::root(file, document))
}

fn from_root(root: Node<'_>) -> Result<Vec<Resource>, ImportError> {
    let file = root.file();
    let object = root.object()?;
    let mut resources = if object.contains_key("format_version") {
        from_show_output(root)?
    } else if object.contains_key("version") {
        from_state(root)?
    } else {
        return Err(ImportError::new(
            file,
            "neither a Terraform state (no `version`) nor `terraform show -json` output (no `format_version`)",
        ));
    };
    drop_mirrored_entries(&mut resources);
    Ok(resources)
}

/// One resource instance as both formats describe it.
struct Instance<'a> {
    kind: String,
    label: String,
    attributes: Node<'a>,
}

/// `{"version": 4, "resources": [{"module"?, "mode", "type", "name",
/// "instances": [{"index_key"?, "attributes", "deposed"?}]}]}`
fn from_state(root: Node<'_>) -> Result<Vec<Resource>, ImportError> {
    let version = root.required("version", |v| v.integer())?;
    if version != STATE_VERSION {
        return Err(root.error(format!(
            "Terraform state version {version} is not supported: vnetd reads version {STATE_VERSION}, which Terraform 0.12 and later write (`terraform state pull` prints the state in the version of the Terraform that runs it)"
        )));
    }
    let per_resource = root.member("resources", |found| match found {
        None => Ok(Vec::new()),
        Some(list) => list.each_element(|resource| {
            let mode = resource.required_str("mode")?;
            let kind = resource.required_str("type")?;
            let name = resource.required_str("name")?;
            let module = resource.optional_str(&["module"])?;
            if mode != "managed" || !is_azurerm(&kind) {
                return Ok(Vec::new());
            }
            let instances = resource.required("instances", |instances| {
                instances.each_element(|instance| {
                    if instance.optional_str(&["deposed"])?.is_some() {
                        return Ok(None);
                    }
                    let index = instance
                        .member("index_key", |key| key.map(|k| index_text(&k)).transpose())?;
                    let label = label(module.as_deref(), &name, index.as_deref());
                    instance
                        .required("attributes", |attributes| {
                            resource_of(Instance {
                                kind: kind.clone(),
                                label,
                                attributes,
                            })
                        })
                        .map(Some)
                })
            })?;
            Ok(instances.into_iter().flatten().collect())
        }),
    })?;
    Ok(per_resource.into_iter().flatten().collect())
}

/// `{"format_version", "values": {"root_module": {"resources": [{"mode",
/// "type", "name", "index"?, "values", "deposed_key"?}], "child_modules":
/// [{"address", "resources", "child_modules"}]}}}`
fn from_show_output(root: Node<'_>) -> Result<Vec<Resource>, ImportError> {
    let object = root.object()?;
    if object.contains_key("planned_values") || object.contains_key("resource_changes") {
        return Err(root.error(
            "this is `terraform show -json` of a saved plan: vnetd reads the state, `terraform show -json` without a plan file",
        ));
    }
    root.member("values", |values| match values {
        // An empty state: `terraform show -json` prints no values.
        None => Ok(Vec::new()),
        Some(values) => values.member("root_module", |module| match module {
            None => Ok(Vec::new()),
            Some(module) => {
                let mut out = Vec::new();
                module_resources(module, None, &mut out)?;
                Ok(out)
            }
        }),
    })
}

/// The resources of one module of show output and of its child modules,
/// depth first.
fn module_resources(
    module: Node<'_>,
    address: Option<&str>,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    module.member("resources", |found| {
        let Some(list) = found else { return Ok(()) };
        let resources = list.each_element(|resource| {
            let mode = resource.required_str("mode")?;
            let kind = resource.required_str("type")?;
            let name = resource.required_str("name")?;
            let deposed = resource.optional_str(&["deposed_key"])?.is_some();
            if mode != "managed" || !is_azurerm(&kind) || deposed {
                return Ok(None);
            }
            let index = resource.member("index", |key| key.map(|k| index_text(&k)).transpose())?;
            let label = label(address, &name, index.as_deref());
            resource
                .required("values", |attributes| {
                    resource_of(Instance {
                        kind,
                        label,
                        attributes,
                    })
                })
                .map(Some)
        })?;
        out.extend(resources.into_iter().flatten());
        Ok(())
    })?;
    module.member("child_modules", |found| {
        let Some(list) = found else { return Ok(()) };
        list.each_element(|child| {
            let child_address = child.required_str("address")?;
            module_resources(child, Some(&child_address), out)
        })
        .map(drop)
    })
}

fn is_azurerm(kind: &str) -> bool {
    kind.starts_with("azurerm_")
}

/// `[0]` or `["key"]`, as Terraform writes an instance's index.
fn index_text(key: &Node<'_>) -> Result<String, ImportError> {
    match key.value {
        Value::Number(n) => Ok(format!("[{n}]")),
        Value::String(s) => Ok(format!("[{}]", Value::String(s.clone()))),
        other => Err(key.error(format!(
            "expected a number or a string, found {}",
            json_file::kind_of(other)
        ))),
    }
}

/// The Terraform label with its index, after its module's address when it
/// is in one: `app`, `app[0]`, `module.spoke["spoke1"].app`.
fn label(module: Option<&str>, name: &str, index: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(module) = module {
        out.push_str(module);
        out.push('.');
    }
    out.push_str(name);
    out.push_str(index.unwrap_or(""));
    out
}

/// A resource from one instance: its `name` attribute (else its label)
/// and its `id` as source; attributes as they are.
fn resource_of(instance: Instance<'_>) -> Result<Resource, ImportError> {
    let attributes = instance.attributes;
    attributes.object()?;
    let id = attributes.optional_str(&["id"])?.ok_or_else(|| {
        attributes.error(format!(
            "{} `{}` has no `id`: not created yet, or not a state",
            instance.kind, instance.label
        ))
    })?;
    let name = match attributes.value.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        _ => instance.label,
    };
    Ok(Resource {
        kind: instance.kind,
        name,
        attributes: attributes.value.clone(),
        source: id,
    })
}

/// Where the provider mirrors separate resources into their parent: the
/// parent's kind, its list attribute, the child's kind, and the segment of
/// the child's ID under the parent's.
const MIRRORS: &[(&str, &str, &str, &str)] = &[
    (
        "azurerm_virtual_network",
        "subnet",
        "azurerm_subnet",
        "subnets",
    ),
    (
        "azurerm_network_security_group",
        "security_rule",
        "azurerm_network_security_rule",
        "securityRules",
    ),
    ("azurerm_route_table", "route", "azurerm_route", "routes"),
    (
        "azurerm_virtual_hub_route_table",
        "route",
        "azurerm_virtual_hub_route_table_route",
        "routes",
    ),
];

/// Removes from each parent the list entries that stand for a separate
/// resource of the state (matched by resource ID, case-insensitively as
/// Azure compares them).
fn drop_mirrored_entries(resources: &mut [Resource]) {
    for (parent_kind, list, child_kind, segment) in MIRRORS {
        let children: std::collections::HashSet<String> = resources
            .iter()
            .filter(|r| r.kind == *child_kind)
            .map(|r| r.source.to_ascii_lowercase())
            .collect();
        if children.is_empty() {
            continue;
        }
        for parent in resources.iter_mut().filter(|r| r.kind == *parent_kind) {
            let parent_id = parent.source.clone();
            let Some(Value::Array(entries)) = parent.attributes.get_mut(*list) else {
                continue;
            };
            entries.retain(|entry| {
                let Some(name) = entry.get("name").and_then(Value::as_str) else {
                    return true;
                };
                let id = format!("{parent_id}/{segment}/{name}").to_ascii_lowercase();
                !children.contains(&id)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read_value(document: Value) -> Result<Vec<Resource>, ImportError> {
        from_value("state.json", &document)
    }

    const VNET_ID: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/hub";

    #[test]
    fn a_state_gives_each_managed_azurerm_instance_with_its_id() {
        let state = json!({
            "version": 4,
            "resources": [
                {"mode": "data", "type": "azurerm_client_config", "name": "current",
                 "instances": [{"attributes": {"id": "x"}}]},
                {"mode": "managed", "type": "random_id", "name": "suffix",
                 "instances": [{"attributes": {"id": "abc"}}]},
                {"mode": "managed", "type": "azurerm_virtual_network", "name": "hub",
                 "instances": [{"schema_version": 0,
                                "attributes": {"id": VNET_ID, "name": "hub", "address_space": ["10.0.0.0/16"]}}]},
                {"module": "module.spoke[\"a\"]", "mode": "managed",
                 "type": "azurerm_subnet_route_table_association", "name": "app",
                 "instances": [{"index_key": 0, "attributes": {"id": "sub-id", "subnet_id": "sub-id"}},
                               {"index_key": 1, "deposed": "0a1b2c3d", "attributes": {"id": "old"}}]}
            ]
        });
        let resources = read_value(state).unwrap();
        assert_eq!(
            resources,
            vec![
                Resource {
                    kind: "azurerm_virtual_network".into(),
                    name: "hub".into(),
                    attributes: json!({"id": VNET_ID, "name": "hub", "address_space": ["10.0.0.0/16"]}),
                    source: VNET_ID.into(),
                },
                Resource {
                    kind: "azurerm_subnet_route_table_association".into(),
                    name: "module.spoke[\"a\"].app[0]".into(),
                    attributes: json!({"id": "sub-id", "subnet_id": "sub-id"}),
                    source: "sub-id".into(),
                },
            ]
        );
    }

    #[test]
    fn show_output_is_read_through_child_modules() {
        let show = json!({
            "format_version": "1.0",
            "values": {"root_module": {
                "resources": [
                    {"address": "data.azurerm_client_config.current", "mode": "data",
                     "type": "azurerm_client_config", "name": "current", "values": {"id": "x"}},
                    {"address": "azurerm_virtual_network.hub", "mode": "managed",
                     "type": "azurerm_virtual_network", "name": "hub",
                     "values": {"id": VNET_ID, "name": "hub"}}
                ],
                "child_modules": [{
                    "address": "module.spoke[\"a\"]",
                    "resources": [
                        {"address": "module.spoke[\"a\"].azurerm_subnet_route_table_association.app[\"k\"]",
                         "mode": "managed", "type": "azurerm_subnet_route_table_association",
                         "name": "app", "index": "k", "values": {"id": "sub-id"}}
                    ]
                }]
            }}
        });
        let resources = read_value(show).unwrap();
        let names: Vec<_> = resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["hub", "module.spoke[\"a\"].app[\"k\"]"]);
        assert_eq!(read_value(json!({"format_version": "1.0"})), Ok(Vec::new()));
    }

    #[test]
    fn subnets_rules_and_routes_mirrored_into_their_parent_are_dropped() {
        let subnet_id = format!("{VNET_ID}/subnets/app");
        let state = json!({
            "version": 4,
            "resources": [
                {"mode": "managed", "type": "azurerm_virtual_network", "name": "hub",
                 "instances": [{"attributes": {"id": VNET_ID, "name": "hub", "subnet": [
                     {"name": "app", "id": subnet_id, "address_prefixes": ["10.0.1.0/24"]},
                     {"name": "inline", "id": format!("{VNET_ID}/subnets/inline")}
                 ]}}]},
                {"mode": "managed", "type": "azurerm_subnet", "name": "app",
                 "instances": [{"attributes": {"id": subnet_id.to_uppercase(), "name": "app"}}]}
            ]
        });
        let resources = read_value(state).unwrap();
        assert_eq!(
            resources[0].attributes["subnet"],
            json!([{"name": "inline", "id": format!("{VNET_ID}/subnets/inline")}])
        );

        let nsg_id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n";
        let table_id =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/routeTables/t";
        let state = json!({
            "version": 4,
            "resources": [
                {"mode": "managed", "type": "azurerm_network_security_group", "name": "n",
                 "instances": [{"attributes": {"id": nsg_id, "name": "n", "security_rule": [
                     {"name": "separate", "priority": 100}, {"name": "inline", "priority": 200}]}}]},
                {"mode": "managed", "type": "azurerm_network_security_rule", "name": "separate",
                 "instances": [{"attributes": {"id": format!("{nsg_id}/securityRules/separate"),
                                               "name": "separate"}}]},
                {"mode": "managed", "type": "azurerm_route_table", "name": "t",
                 "instances": [{"attributes": {"id": table_id, "name": "t", "route": [
                     {"name": "a"}, {"name": "b"}]}}]},
                {"mode": "managed", "type": "azurerm_route", "name": "b",
                 "instances": [{"attributes": {"id": format!("{table_id}/routes/b"), "name": "b"}}]}
            ]
        });
        let resources = read_value(state).unwrap();
        assert_eq!(
            resources[0].attributes["security_rule"],
            json!([{"name": "inline", "priority": 200}])
        );
        assert_eq!(resources[2].attributes["route"], json!([{"name": "a"}]));
    }

    #[test]
    fn unknown_versions_plans_and_other_documents_are_refused() {
        let err = read_value(json!({"version": 3, "modules": []})).unwrap_err();
        assert_eq!(err.location, "state.json");
        err.assert_starts_with(
            "(the document): Terraform state version 3 is not supported: vnetd reads version 4",
        );
        let err = read_value(json!({"format_version": "1.2", "planned_values": {}})).unwrap_err();
        err.assert_contains("saved plan");
        let err = read_value(json!([1, 2])).unwrap_err();
        assert_eq!(
            err.message,
            "(the document): expected an object, found a list"
        );
        let err = read_value(json!({"resources": []})).unwrap_err();
        err.assert_starts_with("neither a Terraform state");
    }

    #[test]
    fn a_broken_resource_is_named_by_its_path() {
        for (resources, message) in [
            (
                json!([
                    {"mode": "managed", "type": "azurerm_subnet", "name": "a",
                     "instances": [{"attributes": {"id": "x", "name": "a"}}]},
                    {"mode": "managed", "type": "azurerm_subnet", "name": "b",
                     "instances": [{"attributes_flat": {"id": "y"}}]}
                ]),
                "resources[1].instances[0]: `attributes` is missing",
            ),
            (
                json!([
                    {"mode": "managed", "type": "azurerm_subnet", "name": "a",
                     "instances": [{"attributes": {"name": "a"}}]}
                ]),
                "resources[0].instances[0].attributes: azurerm_subnet `a` has no `id`: not created yet, or not a state",
            ),
        ] {
            let state = json!({"version": 4, "resources": resources});
            let err = read_value(state).unwrap_err();
            assert_eq!(err.message, message, "for the resources {resources}");
        }
    }
}
