//! Names as the Azure CLI lists them: Private DNS zones (`az network
//! private-dns zone list`), their virtual network links and record sets
//! (`az network private-dns link vnet list` and `az network private-dns
//! record-set list`, one of each per zone), Private Endpoints (`az network
//! private-endpoint list`) and their DNS zone groups (`az network
//! private-endpoint dns-zone-group list`, one per endpoint), turned into the
//! azurerm resources Terraform would hold for them:
//! `azurerm_private_dns_zone`, `azurerm_private_dns_zone_virtual_network_link`,
//! one `azurerm_private_dns_*_record` per record set, and
//! `azurerm_private_endpoint` with its `private_service_connection` and
//! `private_dns_zone_group`.
//!
//! A link's and a record set's ID names its zone
//! (`.../privateDnsZones/ZONE/virtualNetworkLinks/NAME`,
//! `.../privateDnsZones/ZONE/A/NAME`), a zone group's its endpoint
//! (`.../privateEndpoints/PE/privateDnsZoneGroups/NAME`). A zone's SOA
//! record set is Azure's own and is not read. A record set Azure
//! registered for a VM through a link with auto-registration
//! (`isAutoRegistered`) is listed as ignored: vnetd registers the VMs of
//! such links itself. An endpoint's address is its Static IP
//! configuration's, else its NIC's (in nics.json, where the NIC is not
//! imported as one of the lab's: the endpoint stands for it), else the one
//! its custom DNS configuration gives; without any, the writer allocates
//! it as Azure does.

use super::attributes::{
    given, identity, put_str, put_texts, resource, resource_attributes, top_level,
};
use super::known::Known;
use super::list::List;
use super::model::{
    Nic, PrivateDnsZone, PrivateDnsZoneGroup, PrivateEndpoint, RecordSet, ZoneLink,
};
use crate::json_file::Place;
use crate::{ImportError, Resource};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// The five lists of a dump that hold names, read.
#[derive(Default)]
pub struct Lists<'a> {
    pub zones: List<'a, PrivateDnsZone>,
    pub links: List<'a, ZoneLink>,
    pub record_sets: List<'a, RecordSet>,
    pub endpoints: List<'a, PrivateEndpoint>,
    pub zone_groups: List<'a, PrivateDnsZoneGroup>,
}

impl Lists<'_> {
    /// The IDs others refer to: the zones' and the endpoints'.
    pub(super) fn add_known(&self, known: &mut Known) {
        self.zones.add_known("private_dns_zone", known);
        self.endpoints.add_known("private_endpoint", known);
    }

    /// The azurerm resources of the five lists; `nics` for the address of
    /// each endpoint's NIC.
    pub(super) fn resources(
        &self,
        nics: &List<'_, Nic>,
        known: &Known,
        out: &mut Vec<Resource>,
    ) -> Result<(), ImportError> {
        // Each zone's name, by its ID in lower case.
        let mut zone_names = HashMap::new();
        for (at, zone) in self.zones.each() {
            let (name, id, attributes) = top_level(&at, zone, None)?;
            zone_names.insert(id.to_ascii_lowercase(), name.clone());
            out.push(resource("azurerm_private_dns_zone", &name, attributes, &id));
        }
        let zone_of = |at: &Place<'_>, id: &str| -> Result<String, ImportError> {
            let Some(zone_id) = zone_id_in(id) else {
                return Err(at.key("id").error(format!(
                    "`{id}` is not the ID of a part of a Private DNS zone \
                     (.../privateDnsZones/ZONE/...)"
                )));
            };
            let zone_id = known.resolve("private_dns_zone", &at.key("id"), zone_id)?;
            Ok(zone_names[&zone_id.to_ascii_lowercase()].clone())
        };
        for (at, link) in self.links.each() {
            let (name, id, group) = identity(&at, link)?;
            let zone = zone_of(&at, &id)?;
            let vnet = link.virtual_network.as_ref();
            let what = format_args!("link `{name}`");
            let vnet = known.required("vnet", &at, "virtualNetwork", vnet, what)?;
            let mut attributes = resource_attributes(&id, &name, &group, None);
            attributes.insert("private_dns_zone_name".into(), json!(zone));
            attributes.insert("virtual_network_id".into(), json!(vnet));
            let registration = link.registration_enabled.unwrap_or(false);
            attributes.insert("registration_enabled".into(), json!(registration));
            let policy = given(link.resolution_policy.as_deref());
            put_str(&mut attributes, "resolution_policy", policy);
            let kind = "azurerm_private_dns_zone_virtual_network_link";
            out.push(resource(kind, &name, attributes, &id));
        }
        for (at, set) in self.record_sets.each() {
            let zone = zone_of(&at, &set.id)?;
            out.extend(record_set(&at, set, &zone)?);
        }
        let groups = self.zone_groups_by_endpoint(known)?;
        let nic_addresses = nic_addresses(nics);
        for (at, endpoint) in self.endpoints.each() {
            let own = groups
                .get(&endpoint.id.to_ascii_lowercase())
                .map(Vec::as_slice)
                .unwrap_or_default();
            let inline = (endpoint.private_dns_zone_groups.iter().enumerate())
                .map(|(i, g)| (at.key("privateDnsZoneGroups").index(i), g));
            let mut zone_groups = Vec::new();
            for (at, group) in own.iter().cloned().chain(inline) {
                zone_groups.push(zone_group(&at, group, known)?);
            }
            out.push(endpoint_resource(
                &at,
                endpoint,
                zone_groups,
                &nic_addresses,
                known,
            )?);
        }
        Ok(())
    }

    /// The zone groups of the dump, by their endpoint's ID in lower case.
    fn zone_groups_by_endpoint(&self, known: &Known) -> Result<Groups<'_>, ImportError> {
        let mut groups: HashMap<String, Vec<_>> = HashMap::new();
        for (at, group) in self.zone_groups.each() {
            let id = group.id.as_deref().unwrap_or_default();
            let what = "a DNS zone group \
                        (.../privateEndpoints/ENDPOINT/privateDnsZoneGroups/NAME)";
            let children = "privateDnsZoneGroups";
            let endpoint = known.parent("private_endpoint", &at, id, children, what)?;
            groups
                .entry(endpoint.to_ascii_lowercase())
                .or_default()
                .push((at, group));
        }
        Ok(groups)
    }
}

/// Zone groups, each with its place, by their endpoint's ID in lower case.
type Groups<'a> = HashMap<String, Vec<(Place<'a>, &'a PrivateDnsZoneGroup)>>;

/// The ID of the zone a zone's part (a link, a record set) is of.
fn zone_id_in(id: &str) -> Option<&str> {
    let marker = "/privatednszones/";
    let start = id.to_ascii_lowercase().find(marker)? + marker.len();
    let end = id[start..].find('/').map_or(id.len(), |e| start + e);
    (end > start).then(|| &id[..end])
}

/// A record set as the azurerm resource of its type (none for the zone's
/// SOA record set; one without attributes, listed as ignored, for a VM's
/// auto-registered one).
fn record_set(
    at: &Place<'_>,
    set: &RecordSet,
    zone: &str,
) -> Result<Option<Resource>, ImportError> {
    let (name, id, group) = identity(at, set)?;
    let from_id = id.rsplit('/').nth(1).unwrap_or_default();
    let record_type = set
        .kind
        .as_deref()
        .and_then(|t| t.rsplit('/').next())
        .filter(|t| !t.is_empty())
        .unwrap_or(from_id)
        .to_ascii_uppercase();
    if record_type == "SOA" {
        return Ok(None);
    }
    let Some(&(kind, _)) = crate::write::RECORD_KINDS
        .iter()
        .find(|(_, t)| *t == record_type)
    else {
        return Err(at.error(format!(
            "`{record_type}` is not a record type of a Private DNS zone (A, AAAA, CNAME, MX, \
             PTR, SOA, SRV, TXT)"
        )));
    };
    if set.is_auto_registered == Some(true) {
        let note = format!(
            "{name} (registered by Azure for a VM through a link with auto-registration: vnetd \
             registers the VMs of such links itself)"
        );
        return Ok(Some(Resource {
            kind: kind.to_string(),
            name: note,
            attributes: Value::Null,
            source: id,
        }));
    }
    let mut attributes = resource_attributes(&id, &name, &group, None);
    attributes.insert("zone_name".into(), json!(zone));
    if let Some(ttl) = set.ttl {
        attributes.insert("ttl".into(), json!(ttl));
    }
    let (key, value) = match record_type.as_str() {
        "A" => ("records", json!(set.a_records.iter().map(|r| &r.ipv4_address).collect::<Vec<_>>())),
        "AAAA" => ("records", json!(set.aaaa_records.iter().map(|r| &r.ipv6_address).collect::<Vec<_>>())),
        "PTR" => ("records", json!(set.ptr_records.iter().map(|r| &r.ptrdname).collect::<Vec<_>>())),
        "CNAME" => ("record", json!(set.cname_record.as_ref().map(|r| &r.cname))),
        "MX" => (
            "record",
            json!(set.mx_records.iter().map(|r| json!({"preference": r.preference, "exchange": r.exchange})).collect::<Vec<_>>()),
        ),
        "SRV" => (
            "record",
            json!(set.srv_records.iter().map(|r| json!({"priority": r.priority, "weight": r.weight, "port": r.port, "target": r.target})).collect::<Vec<_>>()),
        ),
        // A TXT record's strings are one value to DNS.
        _ => (
            "record",
            json!(set.txt_records.iter().map(|r| json!({"value": r.value.concat()})).collect::<Vec<_>>()),
        ),
    };
    attributes.insert(key.into(), value);
    Ok(Some(resource(kind, &name, attributes, &id)))
}

/// A DNS zone group as azurerm's block: its name, and its zones' IDs,
/// each one of the dump.
fn zone_group(
    at: &Place<'_>,
    group: &PrivateDnsZoneGroup,
    known: &Known,
) -> Result<Value, ImportError> {
    let mut zones = Vec::new();
    for (index, config) in group.private_dns_zone_configs.iter().enumerate() {
        let at = at.key("privateDnsZoneConfigs").index(index);
        let Some(zone) = given(config.private_dns_zone_id.as_deref()) else {
            return Err(at.error("`privateDnsZoneId` is missing"));
        };
        zones.push(known.resolve("private_dns_zone", &at.key("privateDnsZoneId"), &zone)?);
    }
    Ok(json!({"name": group.name, "private_dns_zone_ids": zones}))
}

/// The address of each NIC's primary IP configuration (else its first),
/// by the NIC's ID in lower case.
fn nic_addresses(nics: &List<'_, Nic>) -> HashMap<String, String> {
    let mut addresses = HashMap::new();
    for nic in &nics.items {
        let configs = &nic.ip_configurations;
        let config = (configs.iter().find(|c| c.primary == Some(true))).or(configs.first());
        if let Some(address) = config.and_then(|c| given(c.private_ip_address())) {
            addresses.insert(nic.id.to_ascii_lowercase(), address);
        }
    }
    addresses
}

/// A Private Endpoint with its connection and zone groups.
fn endpoint_resource(
    at: &Place<'_>,
    endpoint: &PrivateEndpoint,
    zone_groups: Vec<Value>,
    nic_addresses: &HashMap<String, String>,
    known: &Known,
) -> Result<Resource, ImportError> {
    let (name, id, mut attributes) = top_level(at, endpoint, endpoint.location.as_deref())?;
    let subnet = endpoint.subnet.as_ref();
    let what = format_args!("Private Endpoint `{name}`");
    let subnet = known.required("subnet", at, "subnet", subnet, what)?;
    attributes.insert("subnet_id".into(), json!(subnet));
    let configurations: Vec<Value> = (endpoint.ip_configurations.iter())
        .map(|c| {
            let mut block = Map::new();
            block.insert("name".into(), json!(c.name));
            put_texts(
                &mut block,
                [
                    ("private_ip_address", c.private_ip_address.as_deref()),
                    ("subresource_name", c.group_id.as_deref()),
                    ("member_name", c.member_name.as_deref()),
                ],
            );
            Value::Object(block)
        })
        .collect();
    attributes.insert("ip_configuration".into(), Value::Array(configurations));
    // The address Azure gave it: its NIC's, else its custom DNS
    // configuration's.
    let from_nic = (endpoint.network_interfaces.iter())
        .find_map(|nic| nic_addresses.get(&nic.id.to_ascii_lowercase()).cloned());
    let from_dns = (endpoint.custom_dns_configs.iter())
        .flat_map(|c| &c.ip_addresses)
        .find_map(|a| given(Some(a)));
    let manual = endpoint.private_link_service_connections.is_empty();
    let connections = if manual {
        &endpoint.manual_private_link_service_connections
    } else {
        &endpoint.private_link_service_connections
    };
    let connections: Vec<Value> = connections
        .iter()
        .map(|c| {
            let mut block = Map::new();
            block.insert("name".into(), json!(c.name));
            block.insert("is_manual_connection".into(), json!(manual));
            let resource_id = given(c.private_link_service_id.as_deref());
            put_str(&mut block, "private_connection_resource_id", resource_id);
            block.insert("subresource_names".into(), json!(c.group_ids));
            put_str(
                &mut block,
                "private_ip_address",
                from_nic.clone().or(from_dns.clone()),
            );
            Value::Object(block)
        })
        .collect();
    attributes.insert(
        "private_service_connection".into(),
        Value::Array(connections),
    );
    attributes.insert("private_dns_zone_group".into(), Value::Array(zone_groups));
    Ok(resource("azurerm_private_endpoint", &name, attributes, &id))
}
