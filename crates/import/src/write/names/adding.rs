//! What the model takes of the names resources as it reads them (zones,
//! record sets, links, endpoints with their zone groups), and how it
//! writes them: the half of [`super`] that fills and renders the
//! [`Model`], kept apart so that the names' own shapes use no model.

use super::{paas_of_id, record_type, zone_key, PAAS_RESOURCES};
use super::{Connection, Endpoint, RecordSet, Zone, ZoneGroup, ZoneLink};
use crate::write::attrs::Attrs;
use crate::write::ids::id_names;
use crate::write::model::Model;
use crate::write::output::{flow_list, plain_or_quoted, scalar, Output};
use crate::ImportError;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

impl<'r> Model<'r> {
    pub(in crate::write) fn add_private_dns_zone(
        &mut self,
        a: &Attrs<'r>,
    ) -> Result<(), ImportError> {
        let name = a.name()?;
        let key = zone_key(&name);
        if let Some(first) = self.names.zones.get(&key) {
            return Err(a.duplicate("Private DNS zone", &name, &first.source));
        }
        let zone = Zone {
            name,
            source: a.r.source.clone(),
            records: BTreeMap::new(),
            links: BTreeMap::new(),
        };
        self.names.zones.insert(key, zone);
        Ok(())
    }

    fn zone_mut(&mut self, a: &Attrs<'r>, name: &str) -> Result<&mut Zone, ImportError> {
        let why = format!("Private DNS zone `{name}` is not in the input");
        self.names
            .zones
            .get_mut(&zone_key(name))
            .ok_or_else(|| a.error(why))
    }

    pub(in crate::write) fn add_zone_link(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let zone_name = a.required_str("private_dns_zone_name")?;
        let vnet = a.referred("virtual_network_id", "virtualNetworks", &self.vnets)?;
        let link = ZoneLink {
            source: a.r.source.clone(),
            vnet,
            registration_enabled: a.bool("registration_enabled") == Some(true),
            resolution_policy: a.str("resolution_policy"),
        };
        let zone = self.zone_mut(a, &zone_name)?;
        let what = format!("virtual network link of zone `{}`", zone.name);
        a.insert_unique(&mut zone.links, &what, name, link, |f| &f.source)
    }

    pub(in crate::write) fn add_record_set(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let Some(record_type) = record_type(&a.r.kind) else {
            return Ok(());
        };
        // azurerm names an MX record set `@` (the zone's apex) unless told.
        let name = match a.str("name") {
            Some(name) => name,
            None if record_type == "MX" => "@".to_string(),
            None => a.required_str("name")?,
        };
        let zone_name = a.required_str("zone_name")?;
        let values = record_values(a, record_type)?;
        let ttl = a.str("ttl");
        let key = (zone_key(&zone_name), name.to_ascii_lowercase());
        self.zone_mut(a, &zone_name)?;
        if record_type == "A" {
            if let Some(endpoint) = self.names.group_records.get(&key) {
                let note = format!(
                    "written by the DNS zone group of Private Endpoint `{endpoint}`, which the \
                     file's endpoint writes again"
                );
                self.ignored.push((a.r, note));
                return Ok(());
            }
        }
        let zone = self.zone_mut(a, &zone_name)?;
        let set_key = (key.1, record_type);
        if let Some(first) = zone.records.get(&set_key) {
            let what = format!("{record_type} record set of zone `{}`", zone.name);
            return Err(a.duplicate(&what, &name, &first.source));
        }
        let set = RecordSet {
            name,
            source: a.r.source.clone(),
            ttl,
            values,
        };
        zone.records.insert(set_key, set);
        Ok(())
    }

    pub(in crate::write) fn add_private_endpoint(
        &mut self,
        a: &Attrs<'r>,
        index: usize,
    ) -> Result<(), ImportError> {
        let name = a.new_name(&self.names.endpoints, "Private Endpoint", |f| &f.source)?;
        let (vnet, subnet) = a.subnet_id("subnet_id")?;
        self.subnet_mut(a, &vnet, &subnet)?;
        let what = format!("Private Endpoint `{name}`");
        let c = a.one_block(
            "private_service_connection",
            &what,
            "private service connections",
        )?;
        let Some(resource_id) = c.str("private_connection_resource_id") else {
            let why = match c.str("private_connection_resource_alias") {
                Some(alias) => format!(
                    "reaches the Private Link service `{alias}` by its alias: vnetd places PaaS \
                     resources only behind Private Endpoints"
                ),
                None => "its private_service_connection names no resource".to_string(),
            };
            self.ignored.push((a.r, why));
            return Ok(());
        };
        let Some((resource, kind)) = paas_of_id(&resource_id) else {
            let known: Vec<String> = PAAS_RESOURCES
                .iter()
                .map(|p| format!("{}/{}", p.namespace, p.resource_type))
                .collect();
            let why = format!(
                "reaches `{resource_id}`, which is not a resource vnetd places behind a Private \
                 Endpoint ({})",
                known.join(", ")
            );
            self.ignored.push((a.r, why));
            return Ok(());
        };
        // The address: an IP configuration's (Static), else the one Azure
        // gave (state and `az` know it), else Dynamic.
        let address = a
            .blocks("ip_configuration")
            .into_iter()
            .find_map(|b| Attrs::nested(a.r, b).str("private_ip_address"))
            .or_else(|| c.str("private_ip_address"));
        let address = match address {
            Some(text) => Some(a.ip_address(&text, &format!("Private Endpoint `{name}`"))?),
            None => None,
        };
        let connection = Connection {
            name: c.str("name"),
            resource,
            kind,
            sub_resources: c.list("subresource_names"),
            manual: c.bool("is_manual_connection") == Some(true),
        };
        let groups = a.blocks("private_dns_zone_group");
        let group = match groups.as_slice() {
            [] => None,
            [block] => Some(self.zone_group(a, block)?),
            _ => {
                return Err(a.error(format!(
                    "Private Endpoint `{name}` has {} DNS zone groups; Azure takes one",
                    groups.len()
                )))
            }
        };
        for zone in group.iter().flat_map(|g| &g.zones) {
            let key = (zone_key(zone), connection.resource.to_ascii_lowercase());
            self.names.group_records.entry(key).or_insert(name.clone());
        }
        let endpoint = Endpoint {
            source: a.r.source.clone(),
            input_index: index,
            subnet: (vnet, subnet),
            address,
            connection,
            group,
        };
        self.names.endpoints.insert(name, endpoint);
        Ok(())
    }

    /// A `private_dns_zone_group` block: its zones, which the input must
    /// hold, by their own names.
    fn zone_group(
        &self,
        a: &Attrs<'r>,
        block: &serde_json::Value,
    ) -> Result<ZoneGroup, ImportError> {
        let g = Attrs::nested(a.r, block);
        let key = "private_dns_zone_group.private_dns_zone_ids";
        let mut zones = Vec::new();
        for id in g.list("private_dns_zone_ids") {
            let Some(names) = id_names(&id, &["privateDnsZones"]) else {
                return Err(a.error(format!(
                    "{key} `{id}` is not the ID of a Private DNS zone (.../privateDnsZones/NAME)"
                )));
            };
            let Some(zone) = self.names.zones.get(&zone_key(&names[0])) else {
                return Err(a.not_in_input(key, &id));
            };
            if !zones.contains(&zone.name) {
                zones.push(zone.name.clone());
            }
        }
        Ok(ZoneGroup {
            name: g.str("name"),
            zones,
        })
    }

    pub(in crate::write) fn render_names(&self, out: &mut Output) {
        let names = &self.names;
        out.list(0, "private_dns_zones", names.zones.values(), render_zone);
        let endpoints = &names.endpoints;
        out.list(0, "private_endpoints", endpoints, |out, (name, e)| {
            out.item(2, &e.source, name);
            let (vnet, subnet) = &e.subnet;
            out.field(4, "subnet", &scalar(&format!("{vnet}/{subnet}")));
            if let Some(address) = e.address {
                out.field(4, "private_ip_address", &scalar(&address.to_string()));
            }
            let c = &e.connection;
            out.line("    private_service_connection:");
            out.scalar_field(6, "name", c.name.as_deref());
            out.field(6, "resource", &scalar(&c.resource));
            out.field(6, "kind", c.kind.as_str());
            out.field(6, "subresource_names", &flow_list(&c.sub_resources));
            if c.manual {
                out.field(6, "is_manual_connection", "true");
            }
            if let Some(group) = &e.group {
                out.line("    private_dns_zone_group:");
                out.scalar_field(6, "name", group.name.as_deref());
                out.field(6, "zones", &flow_list(&group.zones));
            }
        });
    }
}

fn render_zone(out: &mut Output, zone: &Zone) {
    out.item(2, &zone.source, &zone.name);
    let records = &zone.records;
    out.list(4, "records", records, |out, ((_, record_type), set)| {
        out.item(6, &set.source, &set.name);
        out.field(8, "type", record_type);
        if let Some(ttl) = &set.ttl {
            out.field(8, "ttl", &plain_or_quoted(ttl));
        }
        out.field(8, "records", &flow_list(&set.values));
    });
    let links = &zone.links;
    out.list(4, "virtual_network_links", links, |out, (name, link)| {
        out.item(6, &link.source, name);
        out.field(8, "virtual_network", &scalar(&link.vnet));
        if link.registration_enabled {
            out.field(8, "registration_enabled", "true");
        }
        let policy = link.resolution_policy.as_deref();
        if let Some(policy) = policy.filter(|p| !p.eq_ignore_ascii_case("Default")) {
            out.field(8, "resolution_policy", &scalar(policy));
        }
    });
}

/// A record set's values in zone-file form, as azurerm holds them by type:
/// `records` (A, AAAA, PTR), `record` (CNAME), `record` blocks (MX:
/// `preference exchange`, SRV: `priority weight port target`, TXT:
/// `value`). They are a set in azurerm's schema: sorted (addresses by
/// address, numbers by value), without repeats.
fn record_values(a: &Attrs, record_type: &str) -> Result<Vec<String>, ImportError> {
    let keys: &[&str] = match record_type {
        "A" | "AAAA" | "PTR" => return Ok(sorted_values(a.list("records"))),
        "CNAME" => return Ok(a.str("record").into_iter().collect()),
        "MX" => &["preference", "exchange"],
        "SRV" => &["priority", "weight", "port", "target"],
        _ => &["value"],
    };
    let mut values = Vec::new();
    for block in a.blocks("record") {
        let b = Attrs::nested(a.r, block);
        let parts = keys
            .iter()
            .map(|key| b.required_str(key))
            .collect::<Result<Vec<_>, _>>()?;
        values.push(parts.join(" "));
    }
    Ok(sorted_values(values))
}

pub(super) fn sorted_values(mut values: Vec<String>) -> Vec<String> {
    let order = |value: &str| {
        let words: Vec<(Option<u64>, String)> = value
            .split_whitespace()
            .map(|w| (w.parse::<u64>().ok(), w.to_string()))
            .collect();
        (IpAddr::from_str(value).ok(), words)
    };
    values.sort_by_cached_key(|v| order(v));
    values.dedup();
    values
}
