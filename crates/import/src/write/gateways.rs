//! VPN gateways: `azurerm_virtual_network_gateway`,
//! `azurerm_local_network_gateway` and
//! `azurerm_virtual_network_gateway_connection`, written as the topology's
//! `virtual_network_gateways`, `local_network_gateways` and
//! `virtual_network_gateway_connections`.
//!
//! vnetd runs the on-premises side too, as an `on_premises_sites` entry
//! that each local network gateway stands for. Azure has no such resource,
//! so one site is written per local network gateway, named after it: its
//! address space is the gateway's (or, when BGP alone announces the
//! ranges, the BGP speaker's address), its router speaks BGP with BIRD
//! when the gateway has BGP settings. Local network gateways that are
//! devices in front of one network, as Azure's highly available designs
//! build them (BGP on each, one ASN, the same address space once each
//! one's own BGP address is left out: Microsoft's walk-through gives each
//! its BGP address as a /32, others the network's ranges to both), become
//! one site with a router per device, named after its local network
//! gateway; the site is named after what their names share. A
//! connection's shared key is not written: vnetd does not need it, and
//! the file should not spread it.

use super::attrs::Attrs;
use super::model::Model;
use super::output::{flow_list, plain_or_quoted, scalar, Output};
use super::rules::sorted_prefixes;
use crate::ImportError;
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

/// A gateway, local gateway, connection or private cloud, or a load
/// balancer's probe or rule: its source and its `key: value` lines after
/// `name`.
#[derive(Debug)]
pub(super) struct Part {
    pub(super) source: String,
    pub(super) fields: Vec<(&'static str, String)>,
}

impl Part {
    /// The part the resource `a` stands for, with its `fields`.
    pub(super) fn new(a: &Attrs, fields: Vec<(&'static str, String)>) -> Self {
        Part {
            source: a.r.source.clone(),
            fields,
        }
    }

    /// Writes the part as the item `name` at `indent`, its fields under it.
    pub(super) fn render(&self, out: &mut Output, indent: usize, name: &str) {
        out.item(indent, &self.source, name);
        for (field, value) in &self.fields {
            out.field(indent + 2, field, value);
        }
    }
}

/// The on-premises site a local network gateway stands for.
#[derive(Debug)]
pub(super) struct Site {
    source: String,
    address_space: Vec<String>,
    asn: Option<String>,
    /// With BGP: the gateway's address space without its own BGP
    /// address, which devices of one network share.
    shared_space: Option<Vec<String>>,
}

/// The sites the local network gateways stand for: each device's own, or
/// one for the devices of one network.
struct SiteGroup<'m> {
    name: String,
    source: &'m str,
    address_space: Vec<String>,
    asn: Option<&'m str>,
    /// The local network gateways, each a router of the site when there
    /// are several.
    devices: Vec<&'m str>,
}

impl<'r> Model<'r> {
    pub(super) fn add_gateway(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.gateways, "virtual network gateway", |f| &f.source)?;
        let Some(config) = a.first_block("ip_configuration") else {
            return Err(a.error(format!(
                "virtual network gateway `{name}` has no ip_configuration (its GatewaySubnet)"
            )));
        };
        let subnet_id = config.required_str("subnet_id")?;
        let (vnet, subnet) = a.subnet_in_id(&subnet_id, "ip_configuration.subnet_id")?;
        self.subnet_mut(a, &vnet, &subnet)?;
        let mut fields = vec![
            ("virtual_network", scalar(&vnet)),
            (
                "type",
                scalar(&a.str("type").unwrap_or_else(|| "Vpn".into())),
            ),
        ];
        if let Some(vpn_type) = a.str("vpn_type") {
            fields.push(("vpn_type", scalar(&vpn_type)));
        }
        if let Some(sku) = a.str("sku") {
            fields.push(("sku", scalar(&sku)));
        }
        if a.bool("active_active") == Some(true) {
            fields.push(("active_active", "true".into()));
        }
        if bgp_enabled(a) {
            fields.push(("bgp_enabled", "true".into()));
            let asn = a.first_block("bgp_settings").and_then(|b| b.str("asn"));
            if let Some(asn) = asn {
                fields.push((
                    "bgp_settings",
                    format!("{{asn: {}}}", plain_or_quoted(&asn)),
                ));
            }
        }
        self.gateways.insert(name, Part::new(a, fields));
        Ok(())
    }

    pub(super) fn add_local_gateway(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.local_gateways, "local network gateway", |f| &f.source)?;
        let mut address_space = sorted_prefixes(a.list("address_space"));
        let mut fields = vec![("site", scalar(&name))];
        if let Some(address) = a.str("gateway_address") {
            fields.push(("gateway_address", scalar(&address)));
        }
        fields.push(("address_space", flow_list(&address_space)));
        let bgp = a.first_block("bgp_settings");
        let mut asn = None;
        let mut shared_space = None;
        if let Some(b) = bgp {
            let number = b.required_str("asn")?;
            let peer = b.required_str("bgp_peering_address")?;
            fields.push((
                "bgp_settings",
                format!(
                    "{{asn: {}, bgp_peering_address: {}}}",
                    plain_or_quoted(&number),
                    scalar(&peer)
                ),
            ));
            let ip = IpAddr::from_str(&peer).map_err(|_| {
                a.error(format!("bgp_peering_address `{peer}` is not an IP address"))
            })?;
            let own = IpNet::from(ip).to_string();
            shared_space = Some(
                address_space
                    .iter()
                    .filter(|p| **p != own)
                    .cloned()
                    .collect(),
            );
            if address_space.is_empty() {
                // BGP announces the ranges; the site holds its speaker.
                address_space.push(own);
            }
            asn = Some(number);
        }
        if address_space.is_empty() {
            return Err(a.error(format!(
                "local network gateway `{name}` has neither address_space nor bgp_settings: \
                 nothing says what is behind it"
            )));
        }
        self.sites.insert(
            name.clone(),
            Site {
                source: a.r.source.clone(),
                address_space,
                asn,
                shared_space,
            },
        );
        self.local_gateways.insert(name, Part::new(a, fields));
        Ok(())
    }

    pub(super) fn add_connection(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.connections, "gateway connection", |f| &f.source)?;
        let gateway = a.referred(
            "virtual_network_gateway_id",
            "virtualNetworkGateways",
            &self.gateways,
        )?;
        let mut fields = vec![
            ("type", scalar(&a.required_str("type")?)),
            ("virtual_network_gateway", scalar(&gateway)),
        ];
        if a.str("local_network_gateway_id").is_some() {
            let local = a.referred(
                "local_network_gateway_id",
                "localNetworkGateways",
                &self.local_gateways,
            )?;
            fields.push(("local_network_gateway", scalar(&local)));
        }
        if a.str("express_route_circuit_id").is_some() {
            let circuit = a.id_name("express_route_circuit_id", "expressRouteCircuits")?;
            if !self.has_circuit(&circuit) {
                return Err(a.dangling("express_route_circuit_id"));
            }
            fields.push(("express_route_circuit", scalar(&circuit)));
            // The key an AVS private cloud's authorization gives is not
            // written: vnetd does not check it.
        }
        if a.str("peer_virtual_network_gateway_id").is_some() {
            let peer = a.referred(
                "peer_virtual_network_gateway_id",
                "virtualNetworkGateways",
                &self.gateways,
            )?;
            fields.push(("peer_virtual_network_gateway", scalar(&peer)));
        }
        if bgp_enabled(a) {
            fields.push(("bgp_enabled", "true".into()));
        }
        if let Some(weight) = a.str("routing_weight").filter(|w| w != "0") {
            fields.push(("routing_weight", plain_or_quoted(&weight)));
        }
        self.connections.insert(name, Part::new(a, fields));
        Ok(())
    }

    /// The sites the local network gateways stand for, by name: one per
    /// gateway, but one for the gateways that are devices of one network
    /// (BGP, one ASN, one address space without their own BGP addresses).
    fn site_groups(&self) -> Vec<SiteGroup<'_>> {
        let mut groups: Vec<SiteGroup<'_>> = Vec::new();
        let mut keys: Vec<Option<(&str, &[String])>> = Vec::new();
        for (name, site) in &self.sites {
            let key = site.asn.as_deref().zip(site.shared_space.as_deref());
            let same = key.and_then(|k| keys.iter().position(|o| *o == Some(k)));
            match same {
                Some(g) => {
                    let group = &mut groups[g];
                    group.devices.push(name);
                    for prefix in &site.address_space {
                        if !group.address_space.contains(prefix) {
                            group.address_space.push(prefix.clone());
                        }
                    }
                }
                None => {
                    keys.push(key);
                    groups.push(SiteGroup {
                        name: name.clone(),
                        source: &site.source,
                        address_space: site.address_space.clone(),
                        asn: site.asn.as_deref(),
                        devices: vec![name],
                    });
                }
            }
        }
        let taken: Vec<String> = self.sites.keys().cloned().collect();
        for group in groups.iter_mut().filter(|g| g.devices.len() > 1) {
            group.name = shared_name(&group.devices, &taken);
            group.address_space = sorted_prefixes(group.address_space.clone());
        }
        groups
    }

    /// The local network gateways, each naming its site (and, a device of
    /// several, its router).
    fn local_gateway_parts(&self, groups: &[SiteGroup<'_>]) -> BTreeMap<String, Part> {
        self.local_gateways
            .iter()
            .map(|(name, part)| {
                let mut fields = part.fields.clone();
                if let Some(group) = groups.iter().find(|g| g.devices.contains(&name.as_str())) {
                    if group.devices.len() > 1 {
                        fields[0] = ("site", scalar(&group.name));
                        fields.insert(1, ("router", scalar(name)));
                    }
                }
                let part = Part {
                    source: part.source.clone(),
                    fields,
                };
                (name.clone(), part)
            })
            .collect()
    }

    /// The on-premises site of the local network gateway whose
    /// `gateway_address` is `address`, when one is (a VPN site's link at
    /// that address is the same device).
    pub(super) fn site_at_address(&self, address: &str) -> Option<String> {
        let written = scalar(address);
        let (device, _) = self.local_gateways.iter().find(|(_, part)| {
            (part.fields.iter()).any(|(key, value)| *key == "gateway_address" && *value == written)
        })?;
        let groups = self.site_groups();
        let group = groups
            .iter()
            .find(|g| g.devices.contains(&device.as_str()))?;
        Some(group.name.clone())
    }

    pub(super) fn render_gateways(&self, out: &mut Output) {
        let edges = self.edge_sites();
        let groups = self.site_groups();
        if !self.sites.is_empty() || !edges.is_empty() {
            out.line("");
            if !self.sites.is_empty() {
                out.line("# One site per local network gateway, for vnetd to run (Azure has no");
                out.line("# such resource): its router speaks BGP with BIRD when the gateway has");
                out.line("# BGP settings; its address space is the gateway's, or only the BGP");
                out.line("# speaker's address when BGP announces the ranges: widen it to the");
                out.line("# branch's ranges, and add hosts, as the lab needs.");
            }
            if groups.iter().any(|g| g.devices.len() > 1) {
                out.line("# Local network gateways with BGP, one ASN and the same ranges are");
                out.line("# devices in front of one network: one site, a router per device");
                out.line("# (make them sites of their own if they are different branches).");
            }
            if !edges.is_empty() {
                out.line(
                    "# One site per ExpressRoute circuit, its customer edge (`<circuit>-edge`,",
                );
                out.line("# no Azure resource either): BIRD with the peering's ASN; its address");
                out.line("# space is only the edge's own address: widen it to the datacenter's");
                out.line("# ranges, and add hosts, as the lab needs.");
            }
            out.line("on_premises_sites:");
            type Row<'a> = (
                &'a str,
                &'a str,
                &'a [String],
                Option<&'a str>,
                &'a [&'a str],
            );
            let mut all: Vec<Row<'_>> = groups
                .iter()
                .map(|g| {
                    let devices: &[&str] = if g.devices.len() > 1 { &g.devices } else { &[] };
                    (
                        g.name.as_str(),
                        g.source,
                        g.address_space.as_slice(),
                        g.asn,
                        devices,
                    )
                })
                .collect();
            all.extend(edges.iter().map(|(source, name, space, asn)| {
                let no_devices: &[&str] = &[];
                (
                    name.as_str(),
                    source.as_str(),
                    space.as_slice(),
                    Some(asn.as_str()),
                    no_devices,
                )
            }));
            all.sort_by_key(|(name, ..)| *name);
            for (name, source, address_space, asn, devices) in all {
                out.item(2, source, name);
                out.field(4, "address_space", &flow_list(address_space));
                match (asn, devices) {
                    (Some(asn), [_, _, ..]) => {
                        out.line("    routers:");
                        for device in devices {
                            out.line(&format!(
                                "      - {{name: {}, asn: {}, bgp_speaker: bird}}",
                                scalar(device),
                                plain_or_quoted(asn)
                            ));
                        }
                    }
                    (Some(asn), _) => out.line(&format!(
                        "    router: {{asn: {}, bgp_speaker: bird}}",
                        plain_or_quoted(asn)
                    )),
                    (None, _) => out.line("    router: {bgp_speaker: none}"),
                }
            }
        }
        let local_gateways = self.local_gateway_parts(&groups);
        for (key, parts) in [
            ("virtual_network_gateways", &self.gateways),
            ("local_network_gateways", &local_gateways),
            ("virtual_network_gateway_connections", &self.connections),
        ] {
            render_parts(out, key, parts);
        }
    }
}

/// The name of the site of several devices: what their names start with,
/// less a trailing `-`, `_` or `.` (`Site5_1`, `Site5_2`: `Site5`); the
/// first device's name with `-site` when they share none, or when that is
/// another local network gateway's name.
fn shared_name(devices: &[&str], taken: &[String]) -> String {
    let first = devices[0];
    let mut len = first.len();
    for other in &devices[1..] {
        len = first
            .char_indices()
            .zip(other.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, c), _)| i + c.len_utf8())
            .min(len);
    }
    let shared = first[..len].trim_end_matches(['-', '_', '.']);
    let usable = shared
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if usable && !taken.iter().any(|t| t.eq_ignore_ascii_case(shared)) {
        shared.to_string()
    } else {
        format!("{first}-site")
    }
}

/// A list of parts under `key`, each `name` then its fields; nothing when
/// there is none.
pub(super) fn render_parts(out: &mut Output, key: &str, parts: &BTreeMap<String, Part>) {
    out.list(0, key, parts, |out, (name, part)| part.render(out, 2, name));
}

/// BGP on, under the v3 (`enable_bgp`) or the v4 (`bgp_enabled`) name.
fn bgp_enabled(a: &Attrs) -> bool {
    a.bool("bgp_enabled") == Some(true) || a.bool("enable_bgp") == Some(true)
}

#[cfg(test)]
mod tests {
    use super::shared_name;

    #[test]
    fn devices_of_one_network_share_the_start_of_their_names() {
        let taken = |names: &[&str]| names.iter().map(ToString::to_string).collect::<Vec<_>>();
        let all = ["Site5_1", "Site5_2"];
        assert_eq!(shared_name(&all, &taken(&all)), "Site5");
        let all = ["onprem-vpn1", "onprem-vpn2"];
        assert_eq!(shared_name(&all, &taken(&all)), "onprem-vpn");
        // Nothing shared, or a name another gateway has: the first's.
        let all = ["alpha", "beta"];
        assert_eq!(shared_name(&all, &taken(&all)), "alpha-site");
        let all = ["dc", "dc-2"];
        assert_eq!(shared_name(&all, &taken(&all)), "dc-site");
    }
}
