//! Azure Firewall as the Azure CLI lists it (`az network firewall list`,
//! `az network firewall policy list`, `az network firewall policy
//! rule-collection-group list`, `az network ip-group list`), turned into
//! the azurerm resources Terraform would hold for it: `azurerm_firewall`
//! (its classic rule collections as `azurerm_firewall_network_rule_collection`,
//! `..._application_...` and `..._nat_...`), `azurerm_firewall_policy`,
//! `azurerm_firewall_policy_rule_collection_group` (a filter collection of
//! network rules as a `network_rule_collection`, one of application rules
//! as an `application_rule_collection`, a NAT collection as a
//! `nat_rule_collection` with its rules) and `azurerm_ip_group`. A
//! policy's `sku.tier` and `dnsSettings` are azurerm's `sku` and `dns`; a
//! classic firewall's DNS proxy is in its `additionalProperties`
//! (`Network.DNS.EnableProxy`, `Network.DNS.Servers`, comma-separated), as
//! azurerm's `dns_proxy_enabled` and `dns_servers`. An application rule
//! (`ruleType` ApplicationRule, or a classic application collection's) is
//! written with azurerm's keys, its protocols `{type, port}`. A
//! firewall's public IPs are its IP configurations' `publicIPAddress`
//! (not its management configuration's); a secured hub's firewall is in
//! its `virtualHub`, with `hubIPAddresses.publicIPs.count` public
//! addresses.
//!
//! A policy's NAT rule lists its destination in `destinationAddresses`,
//! as Azure's API does, where azurerm has one `destination_address`: one
//! address is written so, several as `destination_addresses`, as a
//! classic rule has them.
//!
//! A rule collection group's ID names its policy
//! (`.../firewallPolicies/P/ruleCollectionGroups/G`); IP groups, policies
//! and subnets are referred to by ID, matched without case as every other
//! reference of the dump.

use super::attributes::{given, put_given, put_str, put_text, resource, top_level};
use super::known::Known;
use super::list::List;
use super::model::{
    Action, ClassicCollection, Firewall, FirewallPolicy, IpGroup, NetworkRule, RuleCollection,
    RuleCollectionGroup,
};
use crate::json_file::Place;
use crate::{ImportError, Resource};
use serde_json::{json, Map, Value};

/// The four lists of a dump that hold firewalls, read.
#[derive(Default)]
pub struct Lists<'a> {
    pub firewalls: List<'a, Firewall>,
    pub policies: List<'a, FirewallPolicy>,
    pub groups: List<'a, RuleCollectionGroup>,
    pub ip_groups: List<'a, IpGroup>,
}

impl Lists<'_> {
    /// The IDs others refer to: IP groups, policies and firewalls (a hub
    /// route's or a routing policy's next hop).
    pub(super) fn add_known(&self, known: &mut Known) {
        self.ip_groups.add_known("ip_group", known);
        self.policies.add_known("firewall_policy", known);
        self.firewalls.add_known("firewall", known);
    }

    /// The azurerm resources of the four lists.
    pub(super) fn resources(
        &self,
        known: &Known,
        out: &mut Vec<Resource>,
    ) -> Result<(), ImportError> {
        for (at, group) in self.ip_groups.each() {
            let (name, id, mut attributes) = top_level(&at, group, group.location.as_deref())?;
            attributes.insert("cidrs".into(), json!(group.ip_addresses));
            out.push(resource("azurerm_ip_group", &name, attributes, &id));
        }
        for (at, policy) in self.policies.each() {
            let (name, id, mut attributes) = top_level(&at, policy, policy.location.as_deref())?;
            if let Some(snat) = &policy.snat {
                attributes.insert("private_ip_ranges".into(), json!(snat.private_ranges));
            }
            if let Some(base) = &policy.base_policy {
                attributes.insert("base_policy_id".into(), json!(base.id));
            }
            let tier = policy.sku.as_ref().and_then(|s| s.tier.as_deref());
            put_text(&mut attributes, "sku", tier);
            if let Some(dns) = &policy.dns_settings {
                let block = json!({"proxy_enabled": dns.enable_proxy, "servers": dns.servers});
                attributes.insert("dns".into(), json!([block]));
            }
            out.push(resource("azurerm_firewall_policy", &name, attributes, &id));
        }
        for (at, group) in self.groups.each() {
            out.push(rule_collection_group(&at, group, known)?);
        }
        for (at, firewall) in self.firewalls.each() {
            firewall_resources(&at, firewall, known, out)?;
        }
        Ok(())
    }
}

/// A rule collection group, its policy found from its ID.
fn rule_collection_group(
    at: &Place<'_>,
    group: &RuleCollectionGroup,
    known: &Known,
) -> Result<Resource, ImportError> {
    let (name, id, mut attributes) = top_level(at, group, None)?;
    let what = "a rule collection group (.../firewallPolicies/POLICY/ruleCollectionGroups/NAME)";
    let policy = known.parent("firewall_policy", at, &id, "ruleCollectionGroups", what)?;
    attributes.insert("firewall_policy_id".into(), json!(policy));
    attributes.insert("priority".into(), json!(group.priority));
    let mut kinds: [(&str, Vec<Value>); 3] = [
        ("network_rule_collection", Vec::new()),
        ("application_rule_collection", Vec::new()),
        ("nat_rule_collection", Vec::new()),
    ];
    for (index, collection) in group.rule_collections.iter().enumerate() {
        let at = at.key("ruleCollections").index(index);
        let (kind, block) = policy_collection(&at, collection, known)?;
        kinds[kind].1.push(block);
    }
    for (key, blocks) in kinds {
        attributes.insert(key.into(), Value::Array(blocks));
    }
    Ok(resource(
        "azurerm_firewall_policy_rule_collection_group",
        &name,
        attributes,
        &id,
    ))
}

/// One rule collection of a policy, as its azurerm block, with the index
/// of its kind: 0 network, 1 application, 2 NAT.
fn policy_collection(
    at: &Place<'_>,
    collection: &RuleCollection,
    known: &Known,
) -> Result<(usize, Value), ImportError> {
    let is_type = |text: &Option<String>, wanted: &str| {
        text.as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(wanted))
    };
    let mut block = Map::new();
    block.insert("name".into(), json!(collection.name));
    block.insert("priority".into(), json!(collection.priority));
    let action = action(collection.action.as_ref());
    let nat = "FirewallPolicyNatRuleCollection";
    if is_type(&collection.rule_collection_type, nat) {
        // Azure's `DNAT`, as azurerm spells it.
        let other = action.filter(|a| !a.eq_ignore_ascii_case("dnat"));
        put_str(&mut block, "action", other.or(Some("Dnat".to_string())));
        let rules = nat_rules(&at.key("rules"), &collection.rules, known, true)?;
        block.insert("rule".into(), Value::Array(rules));
        return Ok((2, Value::Object(block)));
    }
    put_str(&mut block, "action", action);
    if (collection.rules.iter()).any(|r| is_type(&r.rule_type, "ApplicationRule")) {
        let rules = application_rules(&at.key("rules"), &collection.rules, known)?;
        block.insert("rule".into(), Value::Array(rules));
        return Ok((1, Value::Object(block)));
    }
    let rules = network_rules(&at.key("rules"), &collection.rules, known)?;
    block.insert("rule".into(), Value::Array(rules));
    Ok((0, Value::Object(block)))
}

fn action(action: Option<&Action>) -> Option<String> {
    action.and_then(|a| given(a.kind.as_deref()))
}

/// The names of the IP groups `ids` (a rule's `key` at `at`) stand for.
fn ip_group_names(
    at: &Place<'_>,
    key: &'static str,
    ids: &[String],
    known: &Known,
) -> Result<Vec<String>, ImportError> {
    (ids.iter().enumerate())
        .map(|(i, id)| known.resolve("ip_group", &at.key(key).index(i), id))
        .collect()
}

/// Network rules as azurerm `rule` blocks, their IP groups resolved.
fn network_rules(
    at: &Place<'_>,
    rules: &[NetworkRule],
    known: &Known,
) -> Result<Vec<Value>, ImportError> {
    let mut blocks = Vec::with_capacity(rules.len());
    for (index, rule) in rules.iter().enumerate() {
        let at = at.index(index);
        let protocols: Vec<&str> = rule.protocols.iter().filter_map(Value::as_str).collect();
        let groups = |key, ids: &[String]| ip_group_names(&at, key, ids, known);
        blocks.push(json!({
            "name": rule.name,
            "protocols": protocols,
            "source_addresses": rule.source_addresses,
            "source_ip_groups": groups("sourceIpGroups", &rule.source_ip_groups)?,
            "destination_addresses": rule.destination_addresses,
            "destination_ip_groups": groups("destinationIpGroups", &rule.destination_ip_groups)?,
            "destination_fqdns": rule.destination_fqdns,
            "destination_ports": rule.destination_ports,
        }));
    }
    Ok(blocks)
}

/// Application rules as azurerm `rule` blocks, their IP groups resolved.
fn application_rules(
    at: &Place<'_>,
    rules: &[NetworkRule],
    known: &Known,
) -> Result<Vec<Value>, ImportError> {
    let mut blocks = Vec::with_capacity(rules.len());
    for (index, rule) in rules.iter().enumerate() {
        let at = at.index(index);
        let protocols: Vec<Value> = (rule.protocols.iter())
            .map(|p| json!({"type": p.get("protocolType"), "port": p.get("port")}))
            .collect();
        let groups = ip_group_names(&at, "sourceIpGroups", &rule.source_ip_groups, known)?;
        let headers: Vec<Value> = (rule.http_headers_to_insert.iter())
            .map(|h| json!({"name": h.get("headerName"), "value": h.get("headerValue")}))
            .collect();
        blocks.push(json!({
            "name": rule.name,
            "protocols": protocols,
            "source_addresses": rule.source_addresses,
            "source_ip_groups": groups,
            "destination_fqdns": rule.target_fqdns,
            "destination_fqdn_tags": rule.fqdn_tags,
            "web_categories": rule.web_categories,
            "destination_addresses": rule.destination_addresses,
            "destination_urls": rule.target_urls,
            "terminate_tls": rule.terminate_tls,
            "http_headers": headers,
        }));
    }
    Ok(blocks)
}

/// DNAT rules as azurerm `rule` blocks, their IP groups resolved; a
/// `policy` rule's one destination as `destination_address`.
fn nat_rules(
    at: &Place<'_>,
    rules: &[NetworkRule],
    known: &Known,
    policy: bool,
) -> Result<Vec<Value>, ImportError> {
    let mut blocks = Vec::with_capacity(rules.len());
    for (index, rule) in rules.iter().enumerate() {
        let at = at.index(index);
        let protocols: Vec<&str> = rule.protocols.iter().filter_map(Value::as_str).collect();
        let groups = (rule.source_ip_groups.iter().enumerate())
            .map(|(i, id)| known.resolve("ip_group", &at.key("sourceIpGroups").index(i), id))
            .collect::<Result<Vec<_>, _>>()?;
        let mut block = Map::new();
        block.insert("name".into(), json!(rule.name));
        block.insert("protocols".into(), json!(protocols));
        block.insert("source_addresses".into(), json!(rule.source_addresses));
        block.insert("source_ip_groups".into(), json!(groups));
        match rule.destination_addresses.as_slice() {
            [one] if policy => {
                block.insert("destination_address".into(), json!(one));
            }
            all => {
                block.insert("destination_addresses".into(), json!(all));
            }
        }
        block.insert("destination_ports".into(), json!(rule.destination_ports));
        let translated = given(rule.translated_address.as_deref());
        put_str(&mut block, "translated_address", translated);
        let fqdn = given(rule.translated_fqdn.as_deref());
        put_str(&mut block, "translated_fqdn", fqdn);
        let port = match &rule.translated_port {
            Some(Value::String(text)) => given(Some(text)),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        put_str(&mut block, "translated_port", port);
        blocks.push(Value::Object(block));
    }
    Ok(blocks)
}

/// A firewall and its classic rule collections.
fn firewall_resources(
    at: &Place<'_>,
    firewall: &Firewall,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let (name, id, mut attributes) = top_level(at, firewall, firewall.location.as_deref())?;
    if let Some(sku) = &firewall.sku {
        put_text(&mut attributes, "sku_name", sku.name.as_deref());
        put_text(&mut attributes, "sku_tier", sku.tier.as_deref());
    }
    let policy = firewall.firewall_policy.as_ref();
    let at_policy = at.key("firewallPolicy");
    if let Some(policy) = known.reference("firewall_policy", &at_policy, policy)? {
        attributes.insert("firewall_policy_id".into(), json!(policy));
    }
    let mut configurations = Vec::new();
    for (index, config) in firewall.ip_configurations.iter().enumerate() {
        let at = at.key("ipConfigurations").index(index);
        let subnet = known.reference("subnet", &at.key("subnet"), config.subnet.as_ref())?;
        let mut block = Map::new();
        block.insert("name".into(), json!(config.name));
        put_str(&mut block, "subnet_id", subnet);
        put_text(
            &mut block,
            "private_ip_address",
            config.private_ip_address.as_deref(),
        );
        if let Some(public_ip) = &config.public_ip_address {
            let id = known.own_id_or_given("public_ip", &public_ip.id);
            block.insert("public_ip_address_id".into(), json!(id));
        }
        configurations.push(Value::Object(block));
    }
    attributes.insert("ip_configuration".into(), Value::Array(configurations));
    let management = firewall.management_ip_configuration.as_ref();
    if let Some(public_ip) = management.and_then(|m| m.public_ip_address.as_ref()) {
        let id = known.own_id_or_given("public_ip", &public_ip.id);
        let block =
            json!([{"name": management.map(|m| m.name.clone()), "public_ip_address_id": id}]);
        attributes.insert("management_ip_configuration".into(), block);
    }
    if let Some(hub) = &firewall.virtual_hub {
        let hub = known.resolve("virtual_hub", &at.key("virtualHub").key("id"), &hub.id)?;
        let mut block = Map::new();
        block.insert("virtual_hub_id".into(), json!(hub));
        let addresses = firewall.hub_ip_addresses.as_ref();
        let count = addresses.and_then(|a| a.public_ips.as_ref()?.count);
        put_given(&mut block, [("public_ip_count", count)]);
        attributes.insert("virtual_hub".into(), json!([block]));
    }
    let setting = |key: &str| {
        firewall
            .additional_properties
            .get(key)
            .and_then(Value::as_str)
    };
    if let Some(enabled) = setting("Network.DNS.EnableProxy") {
        let enabled = enabled.eq_ignore_ascii_case("true");
        attributes.insert("dns_proxy_enabled".into(), json!(enabled));
    }
    if let Some(servers) = setting("Network.DNS.Servers") {
        let servers: Vec<&str> = (servers.split(',').map(str::trim))
            .filter(|s| !s.is_empty())
            .collect();
        attributes.insert("dns_servers".into(), json!(servers));
    }
    out.push(resource("azurerm_firewall", &name, attributes, &id));
    for (key, kind, collections) in [
        (
            "networkRuleCollections",
            "azurerm_firewall_network_rule_collection",
            &firewall.network_rule_collections,
        ),
        (
            "applicationRuleCollections",
            "azurerm_firewall_application_rule_collection",
            &firewall.application_rule_collections,
        ),
        (
            "natRuleCollections",
            "azurerm_firewall_nat_rule_collection",
            &firewall.nat_rule_collections,
        ),
    ] {
        for (index, collection) in collections.iter().enumerate() {
            let at = at.key(key).index(index);
            out.push(classic_collection(
                &at,
                collection,
                (&name, &id),
                known,
                kind,
            )?);
        }
    }
    Ok(())
}

/// A classic rule collection of `firewall` (its name and ID), of azurerm
/// type `kind`, with its rules.
fn classic_collection(
    at: &Place<'_>,
    collection: &ClassicCollection,
    (firewall, firewall_id): (&str, &str),
    known: &Known,
    kind: &str,
) -> Result<Resource, ImportError> {
    let id = given(collection.id.as_deref())
        .unwrap_or_else(|| format!("{firewall_id}/{}", collection.name));
    let mut attributes = Map::new();
    attributes.insert("id".into(), json!(id));
    attributes.insert("name".into(), json!(collection.name));
    attributes.insert("azure_firewall_name".into(), json!(firewall));
    if let Some(priority) = collection.priority {
        attributes.insert("priority".into(), json!(priority));
    }
    put_str(
        &mut attributes,
        "action",
        action(collection.action.as_ref()),
    );
    let rules = match kind {
        "azurerm_firewall_network_rule_collection" => {
            network_rules(&at.key("rules"), &collection.rules, known)?
        }
        "azurerm_firewall_nat_rule_collection" => {
            nat_rules(&at.key("rules"), &collection.rules, known, false)?
        }
        _ => application_rules(&at.key("rules"), &collection.rules, known)?,
    };
    if !rules.is_empty() {
        attributes.insert("rule".into(), Value::Array(rules));
    }
    Ok(resource(kind, &collection.name, attributes, &id))
}
