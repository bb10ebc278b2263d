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

use super::attributes::{as_map, given, put_sku_name, put_str, put_text, resource, top_level};
use super::known::Known;
use super::list::List;
use super::model::{NatGateway, PublicIp, PublicIpPrefix};
use crate::{ImportError, Resource};
use serde_json::json;

/// The three lists of a dump that hold the Internet edge, read.
#[derive(Default)]
pub struct Lists<'a> {
    pub public_ips: List<'a, PublicIp>,
    pub prefixes: List<'a, PublicIpPrefix>,
    pub nat_gateways: List<'a, NatGateway>,
}

impl Lists<'_> {
    /// The IDs others refer to: public IPs, prefixes, NAT gateways.
    pub(super) fn add_known(&self, known: &mut Known) {
        self.public_ips.add_known("public_ip", known);
        self.prefixes.add_known("public_ip_prefix", known);
        self.nat_gateways.add_known("nat_gateway", known);
    }

    /// The azurerm resources of the three lists.
    pub(super) fn resources(
        &self,
        known: &Known,
        out: &mut Vec<Resource>,
    ) -> Result<(), ImportError> {
        for (at, prefix) in self.prefixes.each() {
            let (name, id, mut attributes) = top_level(&at, prefix, prefix.location.as_deref())?;
            put_sku_name(&mut attributes, "sku", &prefix.sku);
            put_text(&mut attributes, "ip_prefix", prefix.ip_prefix.as_deref());
            if let Some(length) = prefix.prefix_length {
                attributes.insert("prefix_length".into(), json!(length));
            }
            put_text(&mut attributes, "ip_version", prefix.version.as_deref());
            out.push(resource("azurerm_public_ip_prefix", &name, attributes, &id));
        }
        for (at, ip) in self.public_ips.each() {
            let (name, id, mut attributes) = top_level(&at, ip, ip.location.as_deref())?;
            put_sku_name(&mut attributes, "sku", &ip.sku);
            let method = given(ip.allocation_method.as_deref());
            put_str(&mut attributes, "allocation_method", method);
            put_text(&mut attributes, "ip_address", ip.ip_address.as_deref());
            put_text(&mut attributes, "ip_version", ip.version.as_deref());
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
            let (name, id, mut attributes) = top_level(&at, gateway, gateway.location.as_deref())?;
            put_sku_name(&mut attributes, "sku_name", &gateway.sku);
            if let Some(minutes) = gateway.idle_timeout_in_minutes {
                attributes.insert("idle_timeout_in_minutes".into(), json!(minutes));
            }
            out.push(resource("azurerm_nat_gateway", &name, attributes, &id));
            let associations = [
                (
                    "public_ip",
                    "public_ip_address_id",
                    &gateway.public_ip_addresses,
                ),
                (
                    "public_ip_prefix",
                    "public_ip_prefix_id",
                    &gateway.public_ip_prefixes,
                ),
            ];
            for (of, key, references) in associations {
                let kind = format!("azurerm_nat_gateway_{of}_association");
                for reference in references.iter().flatten() {
                    let target = known.own_id_or_given(of, &reference.id);
                    let association = format!("{id}|{target}");
                    let attributes = json!({"id": association, "nat_gateway_id": id, key: target});
                    out.push(resource(&kind, &name, as_map(attributes), &association));
                }
            }
        }
        Ok(())
    }
}
