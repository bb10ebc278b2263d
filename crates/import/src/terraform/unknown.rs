//! Values only Terraform or Azure compute, as Terraform's plan shows them:
//! "known after apply".
//!
//! A `random_string`'s `result`, a data source's attributes, an output of a
//! module that is not a local directory, or an attribute the configuration
//! does not write and vnetd does not synthesise (a Dynamic NIC's
//! `private_ip_address`, a public IP's `ip_address`) are *unknown*. An
//! unknown flows through expressions: a string template keeps it in place
//! (`"vnet-${random_string.s.result}"` is `vnet-` then the unknown),
//! functions and operators that need its value make their whole result
//! unknown, and it carries the chain of references it came through
//! (`local.nva_ip <- azurerm_network_interface.nva.private_ip_address`).
//!
//! Inside a string an unknown is written between two private-use
//! characters, which no configuration value holds, so every function that
//! treats strings as opaque carries it unchanged. Once the configuration
//! is evaluated, [`settle`] decides each unknown by where it is: in a name
//! or an ID it becomes a stable placeholder (the label of the resource it
//! came from, so `"vnet-${random_string.name.result}"` imports as
//! `vnet-name` in every file that refers to it); where the topology needs
//! the value itself (an address, a prefix, a port, a rule's verdict) the
//! import is refused at the resource's `file:line` with the chain.

use crate::{ImportError, Resource};
use hcl::Value;

/// Opens an unknown inside a string.
const OPEN: char = '\u{E000}';
/// Closes it.
const CLOSE: char = '\u{E001}';

/// How a chain's links are joined: the reference used first, the origin
/// last.
const LINK: &str = " <- ";

/// An unknown that `origin` (a reference, as written) stands for.
pub fn unknown(origin: &str) -> Value {
    Value::String(format!("{OPEN}{origin}{CLOSE}"))
}

/// Whether `value` holds an unknown anywhere.
pub fn is_unknown(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains(OPEN),
        Value::Array(items) => items.iter().any(is_unknown),
        Value::Object(map) => map.values().any(is_unknown),
        _ => false,
    }
}

/// The chain of the first unknown in `value`.
pub fn chain_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => {
            let start = s.find(OPEN)? + OPEN.len_utf8();
            let end = s[start..].find(CLOSE)? + start;
            Some(s[start..end].to_string())
        }
        Value::Array(items) => items.iter().find_map(chain_of),
        Value::Object(map) => map.values().find_map(chain_of),
        _ => None,
    }
}

/// The chain of the unknown `text` is, when it is one unknown and
/// nothing else.
pub fn whole_chain(text: &str) -> Option<String> {
    let whole = text.starts_with(OPEN) && text.ends_with(CLOSE) && text.matches(OPEN).count() == 1;
    whole.then(|| chain_of(&Value::String(text.to_string())))?
}

/// The origin of `chain`: its last link, what the value came from.
pub fn origin_of(chain: &str) -> &str {
    chain.rsplit(LINK).next().unwrap_or(chain)
}

/// An unknown for what `what` (an expression's text) makes of the first
/// unknown of `from`.
pub fn derived(what: &str, from: &Value) -> Value {
    match chain_of(from) {
        Some(chain) => unknown(&format!("{what}{LINK}{chain}")),
        None => unknown(what),
    }
}

/// `value` reached through `name` (`local.x`, `var.y`, a resource's
/// attribute): each unknown in it records that link, unless it starts
/// with it already (it was made there).
pub fn through(value: Value, name: &str) -> Value {
    if !is_unknown(&value) {
        return value;
    }
    map_strings(value, &mut |s| {
        let mut out = String::with_capacity(s.len() + name.len() + LINK.len());
        let mut rest = s.as_str();
        while let Some(open) = rest.find(OPEN) {
            out.push_str(&rest[..open]);
            out.push(OPEN);
            rest = &rest[open + OPEN.len_utf8()..];
            if !rest.starts_with(name) {
                out.push_str(name);
                out.push_str(LINK);
            }
        }
        out.push_str(rest);
        out
    })
}

/// `text` with `f` applied to what lies outside its unknowns (for
/// `lower` and `upper`, which must not change a chain).
pub fn map_outside(text: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(OPEN) {
        out.push_str(&f(&rest[..open]));
        let end = rest[open..]
            .find(CLOSE)
            .map_or(rest.len(), |c| open + c + CLOSE.len_utf8());
        out.push_str(&rest[open..end]);
        rest = &rest[end..];
    }
    out.push_str(&f(rest));
    out
}

fn map_strings(value: Value, f: &mut dyn FnMut(String) -> String) -> Value {
    match value {
        Value::String(s) if s.contains(OPEN) => Value::String(f(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| map_strings(v, f)).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, map_strings(v, f)))
                .collect(),
        ),
        other => other,
    }
}

/// The placeholder an unknown with `chain` imports as in a name: the
/// label of the resource or data source it came from, in lower case with
/// hyphens (`random_string.name.result` is `name`, `data.azurerm_client_
/// config.current.tenant_id` is `current`).
pub fn placeholder(chain: &str) -> String {
    let origin = chain.rsplit(LINK).next().unwrap_or(chain);
    let mut parts = origin.split(['.', '[']);
    let first = parts.next().unwrap_or_default();
    let label = match first {
        "data" | "module" => {
            if first == "data" {
                parts.next();
            }
            parts.next()
        }
        "var" | "local" => parts.next(),
        _ => parts.next().or(Some(first)),
    }
    .unwrap_or("unknown");
    let label: String = label
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    let label = label.trim_matches('-');
    if label.is_empty() {
        "unknown".to_string()
    } else {
        label.to_string()
    }
}

/// Whether the topology needs the value of attribute `key` itself (an
/// address, a prefix, a port, a rule's verdict), rather than taking a
/// placeholder (a name, an ID, a location, a tag).
fn needs_value(key: &str) -> bool {
    const NAMING: &[&str] = &["name", "id", "location", "tags", "description"];
    const NEEDED: &[&str] = &[
        "address",
        "prefix",
        "port",
        "priority",
        "protocol",
        "access",
        "direction",
        "next_hop",
        "allocation",
        "asn",
        "peer_ip",
        "routing_preference",
        "enable",
        "type",
        "primary",
        "count",
        "ttl",
        "dns_server",
        "network_policies",
        "resolution_policy",
    ];
    // A forwarding rule's domain is what it forwards, not a resource's
    // name.
    if key == "domain_name" {
        return true;
    }
    // A hub route's or a routing policy's next hop is the ID of a
    // connection or a firewall, named as any ID.
    if key == "next_hop" {
        return false;
    }
    if NAMING.contains(&key)
        || key.ends_with("_id")
        || key.ends_with("_ids")
        || key.ends_with("_name")
        || key.ends_with("_names")
    {
        return false;
    }
    NEEDED.iter().any(|n| key.contains(n))
}

/// Whether the attribute at `path` is (part of) a DNS record's value: a
/// record set's `records`, `record`, or a key of its `record` blocks
/// (`record[0].exchange`).
fn is_record_value(path: &str) -> bool {
    path == "records"
        || path == "record"
        || path.starts_with("records[")
        || path.starts_with("record[")
}

/// Decides every unknown of `resources` (see the module docs): a
/// placeholder in names, or a refusal where a resource vnetd imports
/// needs the value. Resources vnetd does not import take placeholders
/// everywhere.
/// Returns each placeholder used in the resources vnetd imports, with
/// the reference it stands for.
///
/// A resource vnetd imports whose reference to another (an ID, or the
/// name of the VNet a subnet is in) is wholly unknown refers to what the
/// configuration does not declare (a data source, a variable): it is
/// moved to `left_out`, with the reason in its name, and so is a DNS
/// record set whose value is known only after apply (a Dynamic NIC's
/// address): nothing else depends on it. A value that comes from a
/// function the evaluator does not know is refused naming the ones it
/// knows, `evaluated`.
///
/// `read_keys` names the imported kinds of which only some top-level
/// attributes are read (a firewall policy rule collection group's network
/// rules, not its application or DNAT rules): in their other attributes an
/// unknown takes a placeholder, as in a kind vnetd does not import.
pub fn settle(
    resources: &mut Vec<Resource>,
    imported: &[&str],
    read_keys: &[(&str, &[&str])],
    evaluated: &[&str],
    left_out: &mut Vec<Resource>,
) -> Result<Placeholders, ImportError> {
    let mut placeholders = Placeholders::new();
    let mut kept = Vec::with_capacity(resources.len());
    for mut r in std::mem::take(resources) {
        let strict = imported.contains(&r.kind.as_str());
        let read = read_keys.iter().find(|(kind, _)| *kind == r.kind);
        let (mut found, mut outside) = (None, None);
        // The resource's own placeholders: listed only if it is written
        // (or left out under a name that uses them).
        let mut own = Placeholders::new();
        if let serde_json::Value::Object(attributes) = &mut r.attributes {
            for (key, value) in attributes.iter_mut() {
                let read_here = read.is_none_or(|(_, keys)| keys.contains(&key.as_str()));
                settle_json(
                    value,
                    key,
                    strict && read_here,
                    &mut found,
                    &mut outside,
                    &mut own,
                );
            }
        }
        if let Some((path, chain)) = outside {
            // It refers to what the configuration does not declare.
            placeholders.append(&mut own);
            let name = replace_unknowns(&r.name, &mut placeholders);
            left_out.push(Resource {
                name: format!("{name} ({path} comes from {chain}, outside the configuration)"),
                attributes: serde_json::Value::Null,
                ..r
            });
            continue;
        }
        if let Some((path, chain)) = found {
            let origin = chain.rsplit(LINK).next().unwrap_or(&chain);
            let function = origin.strip_suffix("()");
            let shown = replace_unknowns(&r.name, &mut Placeholders::new());
            let after_apply = function.is_none() && !origin.starts_with("var.");
            if after_apply && crate::write::record_type(&r.kind).is_some() {
                // A record set stands alone: nothing else of the file
                // depends on it, so it is left out, not the import.
                left_out.push(Resource {
                    name: format!(
                        "{shown} ({path} is known only after apply: it comes from {chain})"
                    ),
                    attributes: serde_json::Value::Null,
                    ..r
                });
                continue;
            }
            let message = match origin.strip_prefix("var.") {
                _ if function.is_some() => format!(
                    "{} `{}`: `{path}` cannot be known here (it comes from {chain}): vnetd does \
                     not evaluate the function `{}` (it evaluates {}), and the topology needs \
                     the value",
                    r.kind,
                    shown,
                    function.unwrap_or_default(),
                    evaluated.join(", "),
                ),
                Some(variable) => format!(
                    "{} `{}`: `{path}` has no value (it comes from {chain}), and the topology \
                     needs it: variable \"{variable}\" has no default and no value: give it \
                     with --var {variable}=VALUE",
                    r.kind, shown,
                ),
                None => format!(
                    "{} `{}`: `{path}` is known only after apply (it comes from {chain}), \
                     and the topology needs its value: write it in the configuration",
                    r.kind, shown,
                ),
            };
            return Err(ImportError::new(&r.source, message));
        }
        placeholders.append(&mut own);
        r.name = if strict {
            replace_unknowns(&r.name, &mut placeholders)
        } else {
            replace_unknowns(&r.name, &mut Placeholders::new())
        };
        kept.push(r);
    }
    *resources = kept;
    Ok(placeholders)
}

/// Whether `text`, the value of attribute `key`, is a reference to
/// another resource (an ID or its name) that is wholly unknown: what it
/// names is not in the configuration.
fn is_whole_reference(key: &str, text: &str) -> bool {
    // A forwarding rule's `domain_name` is a value, not another resource's
    // name.
    let reference = (key.ends_with("_id") || key.ends_with("_ids") || key.ends_with("_name"))
        && key != "domain_name";
    let whole = text.starts_with(OPEN) && text.ends_with(CLOSE) && text.matches(OPEN).count() == 1;
    // Through a resource of the configuration (`azurerm_virtual_network.
    // hub.name <- random_pet.p.id`), it names what the file declares.
    let declared = chain_of(&Value::String(text.to_string()))
        .is_some_and(|chain| chain.split(LINK).any(|link| link.starts_with("azurerm_")));
    reference && key != "resource_group_name" && whole && !declared
}

/// `text` with each unknown replaced by its placeholder, as [`settle`]
/// writes it in a name: how an ID built from an unknown is compared with
/// another built from the same unknown through other references.
pub fn settled_text(text: &str) -> String {
    replace_unknowns(text, &mut Placeholders::new())
}

/// Each placeholder used, with the reference it stands for.
pub type Placeholders = std::collections::BTreeMap<String, String>;

fn settle_json(
    value: &mut serde_json::Value,
    path: &str,
    strict: bool,
    found: &mut Option<(String, String)>,
    outside: &mut Option<(String, String)>,
    placeholders: &mut Placeholders,
) {
    use serde_json::Value as J;
    let key = path
        .rsplit('.')
        .next()
        .unwrap_or(path)
        .split('[')
        .next()
        .unwrap_or_default();
    if key == "location" && matches!(value, J::String(s) if s.contains(OPEN)) {
        // A region known only after apply is a region not given.
        *value = J::Null;
        return;
    }
    match value {
        J::String(s) if s.contains(OPEN) => {
            if strict && (needs_value(key) || is_record_value(path)) && found.is_none() {
                let chain = chain_of(&Value::String(s.clone())).unwrap_or_default();
                *found = Some((path.to_string(), chain));
            }
            if strict && is_whole_reference(key, s) && outside.is_none() {
                let chain = chain_of(&Value::String(s.clone())).unwrap_or_default();
                *outside = Some((path.to_string(), chain));
            }
            if strict {
                *s = replace_unknowns(s, placeholders);
            } else {
                *s = replace_unknowns(s, &mut Placeholders::new());
            }
        }
        J::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                settle_json(
                    item,
                    &format!("{path}[{i}]"),
                    strict,
                    found,
                    outside,
                    placeholders,
                );
            }
        }
        J::Object(map) => {
            for (k, v) in map.iter_mut() {
                let inner = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                settle_json(v, &inner, strict, found, outside, placeholders);
            }
        }
        _ => {}
    }
}

/// `text` with each unknown replaced by its placeholder, recorded in
/// `placeholders`.
fn replace_unknowns(text: &str, placeholders: &mut Placeholders) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(OPEN) {
        out.push_str(&rest[..open]);
        let inner = &rest[open + OPEN.len_utf8()..];
        let (chain, after) = match inner.find(CLOSE) {
            Some(c) => (&inner[..c], &inner[c + CLOSE.len_utf8()..]),
            None => (inner, ""),
        };
        let shown = placeholder(chain);
        let origin = chain.rsplit(LINK).next().unwrap_or(chain);
        placeholders
            .entry(shown.clone())
            .or_insert_with(|| origin.to_string());
        out.push_str(&shown);
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placeholder_is_the_label_of_what_the_value_comes_from() {
        assert_eq!(placeholder("random_string.name.result"), "name");
        assert_eq!(placeholder("random_pet.rg_name.id"), "rg-name");
        assert_eq!(
            placeholder("local.x <- data.azurerm_client_config.current.tenant_id"),
            "current"
        );
        assert_eq!(placeholder("module.hub.vnet_name"), "hub");
        assert_eq!(placeholder("var.Prefix"), "prefix");
    }

    #[test]
    fn a_chain_records_each_name_it_flows_through_once() {
        let v = unknown("random_string.s.result");
        let v = Value::String(format!(
            "vnet-{}",
            match v {
                Value::String(s) => s,
                _ => unreachable!(),
            }
        ));
        let v = through(v, "local.name");
        let v = through(v, "azurerm_virtual_network.hub.name");
        assert_eq!(
            chain_of(&v).unwrap(),
            "azurerm_virtual_network.hub.name <- local.name <- random_string.s.result"
        );
        let made = unknown("data.x.y.id");
        assert_eq!(
            chain_of(&through(made, "data.x.y.id")).unwrap(),
            "data.x.y.id"
        );
        let mut placeholders = Placeholders::new();
        assert_eq!(replace_unknowns(&text_of(&v), &mut placeholders), "vnet-s");
        assert_eq!(placeholders["s"], "random_string.s.result");
    }

    fn text_of(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            _ => String::new(),
        }
    }

    #[test]
    fn case_mapping_leaves_a_chain_alone() {
        let v = text_of(&unknown("random_pet.Pet.id"));
        let mixed = format!("RG-{v}");
        let lowered = map_outside(&mixed, str::to_lowercase);
        assert_eq!(
            chain_of(&Value::String(lowered.clone())).unwrap(),
            "random_pet.Pet.id"
        );
        assert!(lowered.starts_with("rg-"));
    }

    #[test]
    fn names_take_placeholders_and_needed_values_are_refused_with_their_chain() {
        let unknown_text = text_of(&unknown("local.fw <- azurerm_firewall.fw.ip_address"));
        let name = text_of(&unknown("random_string.s.result"));
        let mut resources = vec![Resource {
            kind: "azurerm_route_table".into(),
            name: format!("rt-{name}"),
            attributes: serde_json::json!({
                "name": format!("rt-{name}"),
                "resource_group_name": name,
                "route": [{"name": "r", "next_hop_in_ip_address": unknown_text}],
            }),
            source: "main.tf:7".into(),
        }];
        let mut left_out = Vec::new();
        let err = settle(
            &mut resources.clone(),
            &["azurerm_route_table"],
            &[],
            super::super::functions::NAMES,
            &mut left_out,
        )
        .unwrap_err();
        assert_eq!(err.location, "main.tf:7");
        err.assert_contains("`route[0].next_hop_in_ip_address` is known only after apply (it comes from local.fw <- azurerm_firewall.fw.ip_address)");
        // Not imported: placeholders everywhere.
        let placeholders = settle(&mut resources, &[], &[], &[], &mut left_out).unwrap();
        assert!(left_out.is_empty());
        // Only the placeholders of imported resources are listed.
        assert!(placeholders.is_empty());
        assert_eq!(resources[0].name, "rt-s");
        assert_eq!(resources[0].attributes["resource_group_name"], "s");
        assert_eq!(
            resources[0].attributes["route"][0]["next_hop_in_ip_address"],
            "fw"
        );
    }

    /// A record's value is the answer itself, and nothing else depends on
    /// a record set: one whose value is known only after apply (a Dynamic
    /// NIC's address in an A record, a target in an SRV record's block) is
    /// left out with the reason; one whose value is a variable without a
    /// value is refused, since `--var` gives it.
    #[test]
    fn a_record_value_known_only_after_apply_leaves_the_record_out() {
        let address = text_of(&unknown("azurerm_network_interface.vm1.private_ip_address"));
        let record = |kind: &str, attributes: serde_json::Value| Resource {
            kind: kind.into(),
            name: "r".into(),
            attributes,
            source: "main.tf:3".into(),
        };
        let cases = [
            (
                record(
                    "azurerm_private_dns_a_record",
                    serde_json::json!({"name": "r", "records": [address.clone()]}),
                ),
                "records[0]",
            ),
            (
                record(
                    "azurerm_private_dns_srv_record",
                    serde_json::json!({"name": "r", "record": [{"priority": 1, "weight": 1,
                        "port": 5060, "target": address.clone()}]}),
                ),
                "record[0].target",
            ),
        ];
        for (resource, path) in cases {
            let kind = resource.kind.clone();
            let mut resources = vec![resource];
            let mut left_out = Vec::new();
            settle(&mut resources, &[kind.as_str()], &[], &[], &mut left_out).unwrap();
            assert!(resources.is_empty());
            assert_eq!(
                left_out[0].name,
                format!(
                    "r ({path} is known only after apply: it comes from \
                     azurerm_network_interface.vm1.private_ip_address)"
                )
            );
            assert!(left_out[0].attributes.is_null());
        }
        let from_var = record(
            "azurerm_private_dns_a_record",
            serde_json::json!({"name": "r", "records": [text_of(&unknown("var.ip"))]}),
        );
        let kinds = ["azurerm_private_dns_a_record"];
        let err = settle(&mut vec![from_var], &kinds, &[], &[], &mut Vec::new()).unwrap_err();
        err.assert_contains("give it with --var ip=VALUE");
    }

    /// A forwarding rule's domain is a value the topology needs, not a
    /// name: a variable without a value is refused, not a placeholder.
    #[test]
    fn a_rules_domain_is_needed_not_a_placeholder() {
        let kind = "azurerm_private_dns_resolver_forwarding_rule";
        let rule = Resource {
            kind: kind.into(),
            name: "corp".into(),
            attributes: serde_json::json!({"name": "corp",
                "domain_name": text_of(&unknown("var.corp_domain")),
                "target_dns_servers": [{"ip_address": "192.168.1.10", "port": 53}]}),
            source: "dns.tf:4".into(),
        };
        let err = settle(&mut vec![rule], &[kind], &[], &[], &mut Vec::new()).unwrap_err();
        assert_eq!(err.location, "dns.tf:4");
        err.assert_contains("`domain_name` has no value");
        err.assert_contains("give it with --var corp_domain=VALUE");
    }

    #[test]
    fn a_resource_referring_outside_the_configuration_is_left_out() {
        let hub_id = text_of(&unknown("var.hub_vnet_id"));
        let peering = |name: &str, attributes| Resource {
            kind: "azurerm_virtual_network_peering".into(),
            name: name.into(),
            attributes,
            source: "peering.tf:3".into(),
        };
        let settle_peerings = |resources: &mut Vec<Resource>, left_out: &mut Vec<_>| {
            settle(
                resources,
                &["azurerm_virtual_network_peering"],
                &[],
                &[],
                left_out,
            )
            .unwrap()
        };
        let mut resources = vec![peering(
            "spoke-to-hub",
            serde_json::json!({
                "name": "spoke-to-hub",
                "virtual_network_name": "spoke",
                "remote_virtual_network_id": hub_id,
                "location": text_of(&unknown("var.location")),
            }),
        )];
        let mut left_out = Vec::new();
        settle_peerings(&mut resources, &mut left_out);
        assert!(resources.is_empty());
        assert_eq!(
            left_out[0].name,
            "spoke-to-hub (remote_virtual_network_id comes from var.hub_vnet_id, outside the \
             configuration)"
        );
        // An ID with known parts is not left out; an unknown region is no
        // region.
        let mut resources = vec![peering(
            "p",
            serde_json::json!({
                "remote_virtual_network_id": format!("/x/virtualNetworks/{hub_id}"),
                "location": text_of(&unknown("var.location")),
            }),
        )];
        settle_peerings(&mut resources, &mut left_out);
        assert_eq!(resources[0].attributes["location"], serde_json::Value::Null);
        assert_eq!(
            resources[0].attributes["remote_virtual_network_id"],
            "/x/virtualNetworks/hub-vnet-id"
        );
    }

    /// A DNAT rule's destination is a public address Azure computes; vnetd
    /// reads a rule collection group's network rules only, so there it is
    /// a placeholder, while in a network rule it is refused.
    #[test]
    fn an_unknown_in_an_attribute_not_read_takes_a_placeholder() {
        let public_ip = text_of(&unknown("azurerm_public_ip.fw.ip_address"));
        let group = |key: &str| Resource {
            kind: "azurerm_firewall_policy_rule_collection_group".into(),
            name: "g".into(),
            attributes: serde_json::json!({
                "name": "g",
                key: [{"rule": [{"destination_address": public_ip}]}],
            }),
            source: "fw.tf:9".into(),
        };
        let kinds = ["azurerm_firewall_policy_rule_collection_group"];
        let read: &[(&str, &[&str])] = &[(kinds[0], &["name", "network_rule_collection"])];
        let mut resources = vec![group("nat_rule_collection")];
        settle(&mut resources, &kinds, read, &[], &mut Vec::new()).unwrap();
        assert_eq!(
            resources[0].attributes["nat_rule_collection"][0]["rule"][0]["destination_address"],
            "fw"
        );
        let mut resources = vec![group("network_rule_collection")];
        let err = settle(&mut resources, &kinds, read, &[], &mut Vec::new()).unwrap_err();
        assert_eq!(err.location, "fw.tf:9");
        err.assert_starts_with(
            "azurerm_firewall_policy_rule_collection_group `g`: \
                 `network_rule_collection[0].rule[0].destination_address` is known only after \
                 apply",
        );
    }

    #[test]
    fn naming_keys_take_placeholders_and_address_keys_do_not() {
        for key in [
            "name",
            "subnet_id",
            "resource_group_name",
            "location",
            "tags",
            "next_hop",
        ] {
            assert!(!needs_value(key), "{key}");
        }
        for key in [
            "address_space",
            "address_prefixes",
            "private_ip_address",
            "next_hop_in_ip_address",
            "next_hop_type",
            "destination_port_range",
            "priority",
            "asn",
            "peer_ip",
            "hub_routing_preference",
            "domain_name",
            "private_ip_allocation_method",
        ] {
            assert!(needs_value(key), "{key}");
        }
    }
}
