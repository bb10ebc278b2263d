//! The Internet edge: `azurerm_public_ip_prefix`, `azurerm_public_ip`,
//! `azurerm_nat_gateway` with its `azurerm_nat_gateway_public_ip_association`s,
//! `azurerm_nat_gateway_public_ip_prefix_association`s and
//! `azurerm_subnet_nat_gateway_association`s, written as the topology's
//! `public_ip_prefixes`, `public_ip_addresses` and `nat_gateways`; the
//! public IP a NIC's primary IP configuration and an Azure Firewall's IP
//! configurations name (`public_ip_address_id`) is written on the NIC and
//! the firewall by name.
//!
//! What Azure allocates is written when the input knows it (state and
//! `az` do): a public IP's `ip_address`, a prefix's `ip_prefix`. A public
//! IP whose address is known only after apply is written without one, and
//! vnetd gives it one (the next free address of its prefix, or of its own
//! pool); a DNAT rule naming it gets that address (see `dnat_rules`),
//! which the writer reads back from the file it wrote. A prefix without
//! its `ip_prefix` cannot be written: Azure picks it at creation. It is
//! left out and listed with the reason, and its public IPs and NAT gateway
//! associations are written without it, each saying so.
//!
//! A public IP is written when the lab gives it a place: on a NIC, an
//! Azure Firewall (its IP configurations), a NAT gateway or a Standard load
//! balancer's frontend, or nowhere (one attached to nothing, as Azure
//! keeps it). One attached to what vnetd gives no public address (a VPN or
//! ExpressRoute gateway, a Route Server, a Basic load balancer, a
//! firewall's management IP configuration, which carries Azure's own
//! traffic) is listed as ignored with what holds it: the lab has no use
//! for it.
//!
//! A public IP is often kept apart from the network it serves (made once,
//! read as a data source): a reference to one the input does not hold, or
//! left out, does not refuse the import. The NIC, firewall or NAT gateway
//! is written without it, and a comment in it says why. A NAT gateway, a
//! subnet or a VNet named by an association must be in the input, as for
//! every other association.

use super::attrs::Attrs;
use super::ids::id_names;
use super::load_balancers::is_standard;
use super::model::{IpConfig, Link, Model};
use super::output::{plain_or_quoted, scalar, Output};
use crate::ImportError;
use ipnet::IpNet;
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::str::FromStr;

/// The public IPs, prefixes and NAT gateways of the input, by name.
#[derive(Debug, Default)]
pub(super) struct Edge {
    prefixes: BTreeMap<String, Prefix>,
    /// Prefixes that cannot be written, and why.
    left_out_prefixes: BTreeMap<String, String>,
    public_ips: BTreeMap<String, PublicIp>,
    /// Public IPs that cannot be written, and why.
    left_out_ips: BTreeMap<String, String>,
    nat_gateways: BTreeMap<String, NatGateway>,
    /// The address vnetd gives each public IP written without one, read
    /// back from the written file.
    allocated: BTreeMap<String, IpAddr>,
    /// What holds each public IP the lab has no use for, by its ID in
    /// lower case.
    held_elsewhere: BTreeMap<String, String>,
}

#[derive(Debug)]
struct Prefix {
    source: String,
    ip_prefix: IpNet,
    location: Option<String>,
}

#[derive(Debug)]
struct PublicIp {
    source: String,
    address: Option<IpAddr>,
    sku: Option<String>,
    prefix: Option<String>,
    location: Option<String>,
    /// What of it is left out (its prefix), and why.
    note: Option<String>,
}

#[derive(Debug)]
struct NatGateway {
    source: String,
    sku_name: Option<String>,
    idle_timeout: Option<String>,
    public_ips: Vec<Link>,
    prefixes: Vec<Link>,
    /// `vnet/subnet`, each with the source of its association.
    subnets: Vec<Link>,
    /// What of its addresses is left out, and why.
    notes: Vec<String>,
}

/// What a NAT gateway takes its addresses from: a public IP or a public
/// IP prefix.
#[derive(Clone, Copy)]
pub(super) enum GatewayAddress {
    PublicIp,
    Prefix,
}

impl GatewayAddress {
    /// What the file's notes call it.
    fn what(self) -> &'static str {
        match self {
            GatewayAddress::PublicIp => "public IP",
            GatewayAddress::Prefix => "public IP prefix",
        }
    }

    /// The attribute of an association that names it.
    fn key(self) -> &'static str {
        match self {
            GatewayAddress::PublicIp => "public_ip_address_id",
            GatewayAddress::Prefix => "public_ip_prefix_id",
        }
    }
}

/// A region as the file spells it (its programmatic name).
fn region(location: Option<String>) -> Option<String> {
    location.map(|l| vnetd_model::topology::regions::canonical(&l).map_or(l, str::to_string))
}

/// The resources whose references to a public IP are the places the lab
/// gives it, or are not attachments at all (a DNAT rule's destination).
const PLACES: &[&str] = &[
    "azurerm_public_ip",
    "azurerm_network_interface",
    "azurerm_nat_gateway",
    "azurerm_nat_gateway_public_ip_association",
    "azurerm_firewall_policy_rule_collection_group",
    "azurerm_firewall_nat_rule_collection",
];

impl Edge {
    /// Finds, among `resources`, what holds each public IP that the lab
    /// gives no public address: any reference outside [`PLACES`] and a
    /// firewall's IP configurations, or (from `az`) the public IP's own
    /// `ip_configuration_id` when it names neither a NIC nor a firewall.
    pub(super) fn find_holders(&mut self, resources: &[crate::Resource]) {
        let name_of = |r: &crate::Resource| {
            let name = r.attributes["name"].as_str().unwrap_or(&r.name);
            name.to_ascii_lowercase()
        };
        // The load balancers the import writes, whose frontends are places.
        let load_balancers: HashSet<String> = resources
            .iter()
            .filter(|r| r.kind == "azurerm_lb" && is_standard(&r.attributes))
            .map(name_of)
            .collect();
        for r in resources.iter().filter(|r| !r.attributes.is_null()) {
            let name = r.attributes["name"].as_str().unwrap_or(&r.name);
            if r.kind == "azurerm_lb" && load_balancers.contains(&name_of(r)) {
                continue;
            }
            if r.kind == "azurerm_public_ip" {
                let config = r.attributes["ip_configuration_id"].as_str();
                let holder = config.and_then(|id| holder_in_id(id, &load_balancers));
                if let (Some(holder), Some(id)) = (holder, r.attributes["id"].as_str()) {
                    self.held_elsewhere.insert(id.to_ascii_lowercase(), holder);
                }
                continue;
            }
            if PLACES.contains(&r.kind.as_str()) {
                continue;
            }
            let (values, holder) = if r.kind == "azurerm_firewall" {
                let what = format!("the management IP configuration of Azure Firewall `{name}`");
                (&r.attributes["management_ip_configuration"], what)
            } else {
                (&r.attributes, format!("{} `{name}`", r.kind))
            };
            let mut ids = Vec::new();
            public_ip_ids(values, &mut ids);
            for id in ids {
                self.held_elsewhere
                    .entry(id)
                    .or_insert_with(|| holder.clone());
            }
        }
    }

    /// The name of the public IP `id` names, or why it is not written.
    pub(super) fn public_ip_named(&self, id: &str) -> Result<String, String> {
        self.address_named(GatewayAddress::PublicIp, id)
    }

    /// The name of the public IP or prefix `id` names, or why it is not
    /// written.
    fn address_named(&self, kind: GatewayAddress, id: &str) -> Result<String, String> {
        let (segment, what, left_out) = match kind {
            GatewayAddress::PublicIp => {
                ("publicIPAddresses", "public IP address", &self.left_out_ips)
            }
            GatewayAddress::Prefix => (
                "publicIPPrefixes",
                "public IP prefix",
                &self.left_out_prefixes,
            ),
        };
        let Some(name) = id_names(id, &[segment]).map(|mut n| n.remove(0)) else {
            return Err(format!("`{id}` is not the ID of a {what}"));
        };
        let held = match kind {
            GatewayAddress::PublicIp => self.public_ips.contains_key(&name),
            GatewayAddress::Prefix => self.prefixes.contains_key(&name),
        };
        if held {
            return Ok(name);
        }
        Err(match left_out.get(&name) {
            Some(why) => format!("{} `{name}` is left out: {why}", kind.what()),
            None => format!("`{id}` names no {what} of the input"),
        })
    }

    /// A NIC's public IP: its primary configuration's (the first of
    /// `configs`), with a note for each one left out.
    pub(super) fn nic_public_ip(&self, configs: &[IpConfig]) -> (Option<String>, Vec<String>) {
        let mut notes = Vec::new();
        let mut written = None;
        for (i, config) in configs.iter().enumerate() {
            let Some(id) = &config.public_ip else {
                continue;
            };
            if i > 0 {
                notes.push(format!(
                    "the public IP of IP configuration `{}` left out: vnetd gives a NIC one \
                     public IP, its primary configuration's",
                    config.name
                ));
                continue;
            }
            match self.public_ip_named(id) {
                Ok(name) => written = Some(name),
                Err(why) => notes.push(format!("public_ip_address left out: {why}")),
            }
        }
        (written, notes)
    }

    /// The address of public IP `name` in the lab, and whether it is the
    /// one vnetd gives it (the input does not know Azure's); none while the
    /// file has not been read back.
    pub(super) fn address_of(&self, name: &str) -> Option<(IpAddr, bool)> {
        let ip = self.public_ips.get(name)?;
        match ip.address {
            Some(address) => Some((address, false)),
            None => self.allocated.get(name).map(|a| (*a, true)),
        }
    }

    /// Whether public IP `name` is written without an address.
    pub(super) fn lacks_address(&self, name: &str) -> bool {
        self.public_ips
            .get(name)
            .is_some_and(|ip| ip.address.is_none())
    }

    /// Records the addresses vnetd gave the public IPs written without
    /// one, as `topology` (the written file, read) holds them.
    pub(super) fn learn(&mut self, topology: &vnetd_model::topology::Topology) {
        for ip in &topology.edge.public_ips {
            if self.lacks_address(&ip.name) {
                self.allocated.insert(ip.name.clone(), ip.address);
            }
        }
    }

    fn gateway_mut(&mut self, a: &Attrs) -> Result<(String, &mut NatGateway), ImportError> {
        a.referred_mut("nat_gateway_id", "natGateways", &mut self.nat_gateways)
    }
}

impl NatGateway {
    /// One more public IP or prefix (by ID), or a note saying why not.
    fn add(&mut self, kind: GatewayAddress, named: Result<String, String>, source: &str) {
        let links = match kind {
            GatewayAddress::PublicIp => &mut self.public_ips,
            GatewayAddress::Prefix => &mut self.prefixes,
        };
        match named {
            Ok(name) if links.iter().any(|l| l.name == name) => {}
            Ok(name) => links.push(Link::new(name, source)),
            Err(why) => self
                .notes
                .push(format!("a {} left out: {why}", kind.what())),
        }
    }
}

impl<'r> Model<'r> {
    pub(super) fn add_public_ip_prefix(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.edge.prefixes, "public IP prefix", |f| &f.source)?;
        let Some(text) = a.str("ip_prefix") else {
            // Azure picks the prefix when it creates it.
            let length = a
                .str("prefix_length")
                .filter(|l| l.parse::<u8>().is_ok())
                .map_or(String::new(), |l| {
                    format!(" (Azure picks a /{l} when it creates it)")
                });
            let why = format!("its ip_prefix is known only after apply{length}");
            self.edge.left_out_prefixes.insert(name, why.clone());
            self.ignored.push((a.r, why));
            return Ok(());
        };
        let Ok(ip_prefix) = IpNet::from_str(&text) else {
            return Err(a.error(format!(
                "public IP prefix `{name}`: ip_prefix `{text}` is not a CIDR prefix"
            )));
        };
        let prefix = Prefix {
            source: a.r.source.clone(),
            ip_prefix,
            location: region(a.str("location")),
        };
        self.edge.prefixes.insert(name, prefix);
        Ok(())
    }

    pub(super) fn add_public_ip(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.edge.public_ips, "public IP address", |f| &f.source)?;
        let id = a.str("id").unwrap_or_default().to_ascii_lowercase();
        if let Some(holder) = self.edge.held_elsewhere.get(&id) {
            let why = format!("held by {holder}: the lab gives it no public address");
            self.edge.left_out_ips.insert(name, why.clone());
            self.ignored.push((a.r, why));
            return Ok(());
        }
        let address = match a.str("ip_address") {
            Some(text) => {
                Some(a.ip_address(&text, &format!("public IP address `{name}`: ip_address"))?)
            }
            None => None,
        };
        let ipv6 = a
            .str("ip_version")
            .is_some_and(|v| v.eq_ignore_ascii_case("ipv6"));
        if ipv6 && address.is_none() {
            let why = "an IPv6 address known only after apply: vnetd's own pool of public \
                       addresses is IPv4"
                .to_string();
            self.edge.left_out_ips.insert(name, why.clone());
            self.ignored.push((a.r, why));
            return Ok(());
        }
        let (prefix, note) = match a.str("public_ip_prefix_id") {
            None => (None, None),
            Some(id) => match self.edge.address_named(GatewayAddress::Prefix, &id) {
                Ok(prefix) => (Some(prefix), None),
                Err(why) => {
                    let from = if address.is_some() {
                        "its address is the one the input gives"
                    } else {
                        "vnetd gives it an address of its own pool"
                    };
                    (
                        None,
                        Some(format!("public_ip_prefix left out: {why}; {from}")),
                    )
                }
            },
        };
        let ip = PublicIp {
            source: a.r.source.clone(),
            address,
            sku: a.str("sku"),
            prefix,
            location: region(a.str("location")),
            note,
        };
        self.edge.public_ips.insert(name, ip);
        Ok(())
    }

    pub(super) fn add_nat_gateway(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.edge.nat_gateways, "NAT gateway", |f| &f.source)?;
        let mut gateway = NatGateway {
            source: a.r.source.clone(),
            sku_name: a.str("sku_name"),
            idle_timeout: a.str("idle_timeout_in_minutes"),
            public_ips: Vec::new(),
            prefixes: Vec::new(),
            subnets: Vec::new(),
            notes: Vec::new(),
        };
        // azurerm v2 listed them in the gateway; later versions have the
        // association resources below.
        let lists = [
            ("public_ip_address_ids", GatewayAddress::PublicIp),
            ("public_ip_prefix_ids", GatewayAddress::Prefix),
        ];
        for (key, kind) in lists {
            for id in a.list(key) {
                gateway.add(kind, self.edge.address_named(kind, &id), &a.r.source);
            }
        }
        self.edge.nat_gateways.insert(name, gateway);
        Ok(())
    }

    /// `azurerm_nat_gateway_public_ip_association` (`kind` a public IP)
    /// or `azurerm_nat_gateway_public_ip_prefix_association`.
    pub(super) fn add_nat_gateway_address(
        &mut self,
        a: &Attrs<'r>,
        kind: GatewayAddress,
    ) -> Result<(), ImportError> {
        let id = a.required_str(kind.key())?;
        let named = self.edge.address_named(kind, &id);
        let (_, gateway) = self.edge.gateway_mut(a)?;
        gateway.add(kind, named, &a.r.source);
        Ok(())
    }

    /// `azurerm_subnet_nat_gateway_association`: one more subnet the
    /// gateway serves.
    pub(super) fn add_subnet_nat_gateway(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let (vnet, subnet) = a.subnet_id("subnet_id")?;
        self.subnet_mut(a, &vnet, &subnet)?;
        let (_, gateway) = self.edge.gateway_mut(a)?;
        let name = format!("{vnet}/{subnet}");
        if !gateway.subnets.iter().any(|l| l.name == name) {
            gateway.subnets.push(Link::new(name, &a.r.source));
        }
        Ok(())
    }

    pub(super) fn render_edge(&self, out: &mut Output) {
        let e = &self.edge;
        out.list(0, "public_ip_prefixes", &e.prefixes, |out, (name, p)| {
            out.item(2, &p.source, name);
            out.field(4, "ip_prefix", &scalar(&p.ip_prefix.to_string()));
            out.scalar_field(4, "location", p.location.as_deref());
        });
        let ips = &e.public_ips;
        out.list(0, "public_ip_addresses", ips, |out, (name, ip)| {
            out.item(2, &ip.source, name);
            if let Some(address) = ip.address {
                out.field(4, "ip_address", &scalar(&address.to_string()));
            }
            out.scalar_field(4, "sku", ip.sku.as_deref());
            out.notes(4, &ip.note);
            out.scalar_field(4, "public_ip_prefix", ip.prefix.as_deref());
            out.scalar_field(4, "location", ip.location.as_deref());
        });
        out.list(0, "nat_gateways", &e.nat_gateways, |out, (name, g)| {
            out.item(2, &g.source, name);
            out.scalar_field(4, "sku_name", g.sku_name.as_deref());
            // 4 minutes is Azure's default, and the file's.
            if let Some(minutes) = g.idle_timeout.as_deref().filter(|m| *m != "4") {
                out.field(4, "idle_timeout_in_minutes", &plain_or_quoted(minutes));
            }
            out.notes(4, &g.notes);
            for (key, links) in [
                ("public_ip_addresses", &g.public_ips),
                ("public_ip_prefixes", &g.prefixes),
                ("subnets", &g.subnets),
            ] {
                if links.is_empty() {
                    continue;
                }
                out.line(&format!("    {key}:"));
                out.link_list(6, links);
            }
        });
    }
}

/// Every public IP ID in `value`, in lower case.
fn public_ip_ids(value: &serde_json::Value, ids: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) if id_names(s, &["publicIPAddresses"]).is_some() => {
            ids.push(s.to_ascii_lowercase());
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| public_ip_ids(v, ids)),
        serde_json::Value::Object(map) => map.values().for_each(|v| public_ip_ids(v, ids)),
        _ => {}
    }
}

/// What an IP configuration's ID (`.../virtualNetworkGateways/gw/
/// ipConfigurations/default`) belongs to, when it is neither a NIC's, a
/// firewall's nor a frontend of one of `load_balancers` (written ones, by
/// name in lower case): its resource type and name.
fn holder_in_id(id: &str, load_balancers: &HashSet<String>) -> Option<String> {
    let parts: Vec<&str> = id.split('/').collect();
    let at = parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("providers"))?;
    let (kind, name) = (parts.get(at + 2)?, parts.get(at + 3)?);
    let placed = ["networkInterfaces", "azureFirewalls"];
    if placed.iter().any(|p| p.eq_ignore_ascii_case(kind)) {
        return None;
    }
    if kind.eq_ignore_ascii_case("loadBalancers")
        && load_balancers.contains(&name.to_ascii_lowercase())
    {
        return None;
    }
    Some(format!("{kind} `{name}`"))
}

#[cfg(test)]
mod tests;
