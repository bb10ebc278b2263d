//! The Internet edge as the Azure CLI lists it (`az network public-ip
//! list`, `az network public-ip prefix list`, `az network nat gateway
//! list`), turned into the azurerm resources Terraform would hold for it:
//! `azurerm_public_ip` (with the `ipAddress` Azure gave it),
//! `azurerm_public_ip_prefix` (with its `ipPrefix`), `azurerm_nat_gateway`
//! with one `azurerm_nat_gateway_public_ip_association` per public IP and
//! one `azurerm_nat_gateway_public_ip_prefix_association` per prefix (the
//! provider's IDs of them, `GATEWAY|IP`). The subnets a gateway serves are
//! read from the subnets (`natGateway.id`, in the parent module), which
//! repeat the gateway's `subnets`. A public IP's `ipConfiguration.id`, what
//! it is attached to, is handed on as `ip_configuration_id`: the writer
//! leaves out one held by what the lab gives no public address.
//!
//! A public IP or prefix is referred to by ID, matched without case; one
//! the dump does not hold is handed on as its ID, for the writer to leave
//! out with a note (a public IP is often kept apart from the network).

use super::model::{EdgeSku, NatGateway, PublicIp, PublicIpPrefix};
use super::{given, identity, put_str, resource, resource_attributes, Known, List};
use crate::{ImportError, Resource};
use serde_json::json;

/// The three lists of a dump that hold the Internet edge, read.
pub struct Lists<'a> {
    pub public_ips: List<'a, PublicIp>,
    pub prefixes: List<'a, PublicIpPrefix>,
    pub nat_gateways: List<'a, NatGateway>,
}

fn sku_name(sku: &Option<EdgeSku>) -> Option<String> {
    sku.as_ref().and_then(|s| given(s.name.as_deref()))
}

impl Lists<'_> {
    /// No public IP, prefix or NAT gateway.
    pub fn empty() -> Self {
        Lists {
            public_ips: List::none(),
            prefixes: List::none(),
            nat_gateways: List::none(),
        }
    }

    /// The IDs others refer to: public IPs, prefixes, NAT gateways.
    pub(super) fn add_known(&self, known: &mut Known) {
        for ip in &self.public_ips.items {
            known.add("public_ip", &ip.id);
        }
        for prefix in &self.prefixes.items {
            known.add("public_ip_prefix", &prefix.id);
        }
        for gateway in &self.nat_gateways.items {
            known.add("nat_gateway", &gateway.id);
        }
    }

    /// The azurerm resources of the three lists.
    pub(super) fn resources(
        &self,
        known: &Known,
        out: &mut Vec<Resource>,
    ) -> Result<(), ImportError> {
        for (at, prefix) in self.prefixes.each() {
            let (name, id, group) = identity(&at, prefix)?;
            let mut attributes =
                resource_attributes(&id, &name, &group, prefix.location.as_deref());
            put_str(&mut attributes, "sku", sku_name(&prefix.sku));
            put_str(
                &mut attributes,
                "ip_prefix",
                given(prefix.ip_prefix.as_deref()),
            );
            if let Some(length) = prefix.prefix_length {
                attributes.insert("prefix_length".into(), json!(length));
            }
            put_str(
                &mut attributes,
                "ip_version",
                given(prefix.version.as_deref()),
            );
            out.push(resource("azurerm_public_ip_prefix", &name, attributes, &id));
        }
        for (at, ip) in self.public_ips.each() {
            let (name, id, group) = identity(&at, ip)?;
            let mut attributes = resource_attributes(&id, &name, &group, ip.location.as_deref());
            put_str(&mut attributes, "sku", sku_name(&ip.sku));
            let method = given(ip.allocation_method.as_deref());
            put_str(&mut attributes, "allocation_method", method);
            put_str(
                &mut attributes,
                "ip_address",
                given(ip.ip_address.as_deref()),
            );
            put_str(&mut attributes, "ip_version", given(ip.version.as_deref()));
            // What it is attached to: the writer leaves it to what the lab
            // gives no public address (a VPN gateway, which the dump does
            // not list).
            if let Some(config) = &ip.ip_configuration {
                attributes.insert("ip_configuration_id".into(), json!(config.id));
            }
            if let Some(prefix) = &ip.prefix {
                let prefix = known.own_id_or_given("public_ip_prefix", &prefix.id);
                attributes.insert("public_ip_prefix_id".into(), json!(prefix));
            }
            out.push(resource("azurerm_public_ip", &name, attributes, &id));
        }
        for (at, gateway) in self.nat_gateways.each() {
            let (name, id, group) = identity(&at, gateway)?;
            let location = gateway.location.as_deref();
            let mut attributes = resource_attributes(&id, &name, &group, location);
            put_str(&mut attributes, "sku_name", sku_name(&gateway.sku));
            if let Some(minutes) = gateway.idle_timeout_in_minutes {
                attributes.insert("idle_timeout_in_minutes".into(), json!(minutes));
            }
            out.push(resource("azurerm_nat_gateway", &name, attributes, &id));
            let ips = gateway.public_ip_addresses.iter().flatten();
            for ip in ips {
                let ip = known.own_id_or_given("public_ip", &ip.id);
                let association = format!("{id}|{ip}");
                let attributes = json!({"id": association, "nat_gateway_id": id,
                                        "public_ip_address_id": ip});
                let kind = "azurerm_nat_gateway_public_ip_association";
                out.push(resource(kind, &name, as_map(attributes), &association));
            }
            for prefix in gateway.public_ip_prefixes.iter().flatten() {
                let prefix = known.own_id_or_given("public_ip_prefix", &prefix.id);
                let association = format!("{id}|{prefix}");
                let attributes = json!({"id": association, "nat_gateway_id": id,
                                        "public_ip_prefix_id": prefix});
                let kind = "azurerm_nat_gateway_public_ip_prefix_association";
                out.push(resource(kind, &name, as_map(attributes), &association));
            }
        }
        Ok(())
    }
}

fn as_map(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}
