//! DNAT rules before their unknowns are settled: what a rule's values
//! known only after apply become.
//!
//! A DNAT rule's destination is the firewall's public address, which
//! Azure allocates, so a configuration writes it as a reference:
//! `destination_address = azurerm_public_ip.fw.ip_address`. That address
//! is an unknown whose origin names the public IP (with its module's
//! address: `module.fw.azurerm_public_ip.data.ip_address`), and the
//! public IP is one the import writes: the destination is handed on as
//! that public IP's ID, which the writer turns into its address in the
//! lab. Any other value of a rule that is known only after apply (a
//! destination from a data source, a translated address of a Dynamic
//! NIC) is taken out of the rule and recorded under
//! [`crate::KNOWN_AFTER_APPLY`] with its chain: the writer leaves the rule
//! out, saying why, and the rest of the configuration imports.

use super::unknown;
use crate::Resource;
use hcl::{Map, Value};
use serde_json::Value as J;
use std::collections::BTreeMap;

/// The ID of each public IP of the configuration, by the origin of the
/// unknown its `ip_address` is.
pub(super) type PublicIpOrigins = BTreeMap<String, String>;

/// Gives an `azurerm_public_ip` without an `ip_address` (Azure allocates
/// it) the unknown `origin` as its address, for references to carry, and
/// records the public IP's ID under that origin.
pub(super) fn public_ip_address(
    kind: &str,
    origin: String,
    attributes: &mut Map<String, Value>,
    origins: &mut PublicIpOrigins,
) {
    if kind != "azurerm_public_ip" || attributes.contains_key("ip_address") {
        return;
    }
    let Some(Value::String(id)) = attributes.get("id") else {
        return;
    };
    origins.insert(origin.clone(), id.clone());
    attributes.insert("ip_address".to_string(), unknown::unknown(&origin));
}

/// Settles the unknowns of the DNAT rules of `resources` (the rules of a
/// rule collection group's `nat_rule_collection`s, and of a classic
/// `azurerm_firewall_nat_rule_collection`), as the module docs say.
pub(super) fn settle_rules(resources: &mut [Resource], origins: &PublicIpOrigins) {
    for r in resources {
        match r.kind.as_str() {
            "azurerm_firewall_policy_rule_collection_group" => {
                let Some(J::Array(collections)) = r.attributes.get_mut("nat_rule_collection")
                else {
                    continue;
                };
                for collection in collections {
                    settle_collection(collection, origins);
                }
            }
            "azurerm_firewall_nat_rule_collection" => settle_collection(&mut r.attributes, origins),
            _ => {}
        }
    }
}

fn settle_collection(collection: &mut J, origins: &PublicIpOrigins) {
    let Some(J::Array(rules)) = collection.get_mut("rule") else {
        return;
    };
    for rule in rules {
        if let J::Object(rule) = rule {
            settle_rule(rule, origins);
        }
    }
}

fn settle_rule(rule: &mut serde_json::Map<String, J>, origins: &PublicIpOrigins) {
    let mut after_apply = serde_json::Map::new();
    // The attributes the writer needs known.
    for key in crate::write::DNAT_RULE_ATTRIBUTES {
        let Some(value) = rule.get_mut(*key) else {
            continue;
        };
        let destination = key.starts_with("destination_address");
        let unknown = match value {
            J::String(text) => settle_text(text, destination, origins),
            J::Array(items) => items.iter_mut().find_map(|item| match item {
                J::String(text) => settle_text(text, destination, origins),
                _ => None,
            }),
            _ => None,
        };
        if let Some(chain) = unknown {
            rule.remove(*key);
            after_apply.insert(key.to_string(), J::String(chain));
        }
    }
    if !after_apply.is_empty() {
        rule.insert(crate::KNOWN_AFTER_APPLY.to_string(), J::Object(after_apply));
    }
}

/// A destination that is a public IP's address becomes that public IP's
/// ID (names known only after apply in it as their placeholders, as the
/// public IP's own are); the chain of any other unknown is returned.
fn settle_text(text: &mut String, destination: bool, origins: &PublicIpOrigins) -> Option<String> {
    let chain = unknown::chain_of(&Value::String(text.clone()))?;
    let public_ip = unknown::whole_chain(text)
        .filter(|_| destination)
        .and_then(|whole| origins.get(unknown::origin_of(&whole)));
    match public_ip {
        Some(id) => {
            *text = unknown::settled_text(id);
            None
        }
        None => Some(chain),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text_of(value: &Value) -> String {
        match value {
            Value::String(s) => s.clone(),
            other => panic!("not a string: {other:?}"),
        }
    }

    /// A destination that is a public IP's address, through a module's
    /// output, becomes the public IP's ID; a translated address known only
    /// after apply is taken out with its chain; known values stay.
    #[test]
    fn a_public_ip_destination_is_its_id_and_other_unknowns_are_recorded() {
        let id = "/x/publicIPAddresses/hub-fw-pip";
        let mut origins = PublicIpOrigins::new();
        let mut attributes = Map::new();
        attributes.insert("id".to_string(), Value::from(id));
        let origin = "module.firewall.azurerm_public_ip.data.ip_address".to_string();
        public_ip_address("azurerm_public_ip", origin, &mut attributes, &mut origins);
        let address = unknown::through(
            attributes["ip_address"].clone(),
            "module.firewall.public_ip",
        );
        let nic = unknown::unknown("azurerm_network_interface.web.private_ip_address");
        let mut resources = vec![Resource {
            kind: "azurerm_firewall_policy_rule_collection_group".into(),
            name: "g".into(),
            attributes: json!({"name": "g", "nat_rule_collection": [{"name": "in", "rule": [
                {"name": "web", "destination_address": text_of(&address),
                 "destination_ports": ["443"], "translated_address": text_of(&nic),
                 "translated_port": 443},
                {"name": "ssh", "destination_address": "203.0.113.5",
                 "translated_address": "10.0.2.4"}]}]}),
            source: "fw.tf:1".into(),
        }];
        settle_rules(&mut resources, &origins);
        let rules = &resources[0].attributes["nat_rule_collection"][0]["rule"];
        assert_eq!(
            rules[0],
            json!({"name": "web", "destination_address": id, "destination_ports": ["443"],
                   "translated_port": 443, crate::KNOWN_AFTER_APPLY: {
                       "translated_address": "azurerm_network_interface.web.private_ip_address"}})
        );
        assert_eq!(
            rules[1],
            json!({"name": "ssh", "destination_address": "203.0.113.5",
                   "translated_address": "10.0.2.4"})
        );
    }

    /// A classic rule's destination from a data source stays unknown: it
    /// is taken out with its chain, as is a public IP's address used as a
    /// translated address (no public IP stands for it there).
    #[test]
    fn a_classic_destination_from_a_data_source_is_recorded() {
        let data = unknown::unknown("data.azurerm_public_ip.shared.ip_address");
        let mut origins = PublicIpOrigins::new();
        origins.insert(
            "azurerm_public_ip.fw.ip_address".into(),
            "/x/publicIPAddresses/fw".into(),
        );
        let own = unknown::unknown("azurerm_public_ip.fw.ip_address");
        let mut resources = vec![Resource {
            kind: "azurerm_firewall_nat_rule_collection".into(),
            name: "in".into(),
            attributes: json!({"name": "in", "rule": [{"name": "ssh",
                "destination_addresses": [text_of(&own), text_of(&data)],
                "translated_address": text_of(&own)}]}),
            source: "rules.tf:1".into(),
        }];
        settle_rules(&mut resources, &origins);
        assert_eq!(
            resources[0].attributes["rule"][0],
            json!({"name": "ssh", crate::KNOWN_AFTER_APPLY: {
                "destination_addresses": "data.azurerm_public_ip.shared.ip_address",
                "translated_address": "azurerm_public_ip.fw.ip_address"}})
        );
    }
}
