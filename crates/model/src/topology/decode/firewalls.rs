//! Decoders for the keys of Azure Firewall, its policies and IP groups:
//! the SKU tier, rule priorities (100 to 65000), a network rule's protocols,
//! addresses (`*`, an address, a CIDR or a range `a-b`) and destination
//! ports, and `private_ranges`. Rule kinds vnetd does not emulate
//! (application rules, DNAT rules, FQDN destinations) are accepted, as
//! Azure accepts them, and warned about at their line: the lab runs
//! without them.

use super::reader::{Decoder, Fields, NameRef};
use crate::topology::model::{iana_private_ranges, PortSpec, Protocol};
use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};
use std::net::IpAddr;

/// Priorities of rule collection groups and rule collections.
const FIREWALL_PRIORITIES: std::ops::RangeInclusive<i64> = 100..=65_000;

/// The keyword that stands for Azure's default private ranges.
pub const IANA_PRIVATE_RANGES_KEYWORD: &str = "IANAPrivateRanges";

impl Decoder<'_> {
    /// A rule collection group's or collection's priority.
    pub(super) fn firewall_priority(&mut self, f: &Fields, key: &str) -> Option<u16> {
        let n = self.required(f, key)?;
        let why = "firewall rule collection groups and collections take priorities 100 to 65000";
        let v = self.number_in(n, &f.key(key), FIREWALL_PRIORITIES, why)?;
        Some(v as u16)
    }

    /// A network rule's `protocols`: TCP, UDP, ICMP or Any, at least one.
    pub(super) fn firewall_protocols(&mut self, f: &Fields, key: &str) -> Option<Vec<Protocol>> {
        let allowed = [
            ("tcp", Protocol::Tcp),
            ("udp", Protocol::Udp),
            ("icmp", Protocol::Icmp),
            ("any", Protocol::Any),
        ];
        let (empty, refused) = (
            "a network rule needs at least one protocol",
            "is not one of TCP, UDP, ICMP, Any",
        );
        self.protocol_list(f, key, &allowed, empty, refused)
    }

    /// A required, non-empty list of protocols, each one of `allowed`
    /// (lower-case spellings, matched without case); `empty` is the
    /// refusal of an empty list, `refused` follows a bad item's text.
    pub(super) fn protocol_list(
        &mut self,
        f: &Fields,
        key: &str,
        allowed: &[(&str, Protocol)],
        empty: &str,
        refused: &str,
    ) -> Option<Vec<Protocol>> {
        let node = self.required(f, key)?;
        let k = f.key(key);
        let items = self.nonempty_items(node, &k, empty)?;
        let read = self.texts(items, &k, |d, text, line, k| {
            let lower = text.to_ascii_lowercase();
            let found = allowed.iter().find(|(name, _)| *name == lower);
            if found.is_none() {
                d.diags.error(line, k, format!("`{text}` {refused}"));
            }
            found.map(|&(_, p)| p)
        });
        read.into_iter().collect()
    }

    /// A network rule's addresses: each `*`, an address, a CIDR or a range
    /// `first-last`, expanded into prefixes. Absent, none.
    pub(super) fn firewall_addresses(&mut self, f: &Fields, key: &str) -> Option<Vec<IpNet>> {
        let k = f.key(key);
        let items = self.items(f.given(key), &k);
        let read = self.texts(items, &k, |d, text, line, k| {
            let expanded = firewall_address(&text);
            if expanded.is_none() {
                let why = format!(
                    "`{text}` is not an address vnetd reads here (expected \"*\", an address, \
                     a CIDR such as 10.1.0.0/16 or a range such as 10.1.0.4-10.1.0.9)"
                );
                d.diags.error(line, k, why);
            }
            expanded
        });
        let nets: Option<Vec<Vec<IpNet>>> = read.into_iter().collect();
        nets.map(|n| n.into_iter().flatten().collect())
    }

    /// A network rule's `destination_ports`: `*`, ports or ranges.
    pub(super) fn firewall_ports(&mut self, f: &Fields, key: &str) -> Option<PortSpec> {
        let node = self.required(f, key)?;
        let k = f.key(key);
        let items = self.nonempty_items(node, &k, "the list of ports is empty")?;
        self.port_items(items, &k)
    }

    /// Each item `*`, a port or a range: any port when one is `*`.
    pub(super) fn port_items(&mut self, items: &[super::Node], k: &str) -> Option<PortSpec> {
        let read = self.texts(items, k, |d, text, line, k| {
            if text == "*" {
                return Some(None);
            }
            d.port_range(&text, line, k).map(Some)
        });
        let ranges: Option<Vec<_>> = read.into_iter().collect();
        let ranges = ranges?;
        if ranges.iter().any(Option::is_none) {
            return Some(PortSpec::Any);
        }
        Some(PortSpec::Ranges(ranges.into_iter().flatten().collect()))
    }

    /// `private_ranges`: `IANAPrivateRanges` and CIDRs; absent, Azure's
    /// default (`IANAPrivateRanges`).
    pub(super) fn private_ranges(&mut self, f: &Fields, key: &str) -> Option<Vec<IpNet>> {
        let Some(node) = f.given(key) else {
            return Some(iana_private_ranges());
        };
        let k = f.key(key);
        let items = self.items(Some(node), &k);
        let read = self.texts(items, &k, |d, text, line, k| {
            if text.eq_ignore_ascii_case(IANA_PRIVATE_RANGES_KEYWORD) {
                return Some(iana_private_ranges());
            }
            d.cidr_text(&text, line, k).map(|net| vec![net])
        });
        let nets: Option<Vec<Vec<IpNet>>> = read.into_iter().collect();
        nets.map(|n| n.into_iter().flatten().collect())
    }

    /// azurerm's `sku_name`: `AZFW_VNet`, a firewall in a VNet, or
    /// `AZFW_Hub`, a secured virtual hub's (which `virtual_hub` places);
    /// with its line: true for `AZFW_Hub`.
    pub(super) fn firewall_sku_name(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Option<(bool, usize)>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let k = f.key(key);
        let text = self.string(node, &k)?;
        match text.to_ascii_lowercase().as_str() {
            "azfw_vnet" => Some(Some((false, node.line))),
            "azfw_hub" => Some(Some((true, node.line))),
            _ => {
                let why = format!("`{text}` is not one of AZFW_VNet, AZFW_Hub");
                self.diags.error(node.line, &k, why);
                Some(None)
            }
        }
    }

    /// A secured hub's firewall's `virtual_hub` block: `{virtual_hub,
    /// public_ip_count}`, the hub by name.
    pub(super) fn firewall_hub(&mut self, f: &Fields, key: &str) -> Option<Option<NameRef>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let k = f.key(key);
        let h = self.fields(
            node,
            &k,
            "a firewall's hub",
            &["virtual_hub", "public_ip_count"],
        )?;
        if let Some(n) = h.given("public_ip_count") {
            self.number_in(
                n,
                &h.key("public_ip_count"),
                1..=250,
                "1 to 250 public addresses",
            );
        }
        self.required_ref(&h, "virtual_hub").map(Some)
    }

    /// A key vnetd does not emulate: given, it is read (its items) and
    /// warned about at its line with `why`; the item is kept, without what
    /// the key says. Azure accepts the design, so vnetd does not refuse it.
    pub(super) fn not_emulated(&mut self, f: &Fields, key: &str, why: &str) -> Option<bool> {
        match f.given(key) {
            Some(node) if !self.items(Some(node), &f.key(key)).is_empty() => {
                self.diags.warning(node.line, &f.key(key), why);
                Some(true)
            }
            _ => Some(false),
        }
    }
}

/// The prefixes one address of a network rule stands for.
fn firewall_address(text: &str) -> Option<Vec<IpNet>> {
    let text = text.trim();
    if text == "*" {
        return Some(vec!["0.0.0.0/0".parse().ok()?, "::/0".parse().ok()?]);
    }
    if let Ok(net) = text.parse::<IpNet>() {
        return Some(vec![net.trunc()]);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(vec![IpNet::from(ip)]);
    }
    let (first, last) = text.split_once('-')?;
    match (
        first.trim().parse::<IpAddr>().ok()?,
        last.trim().parse::<IpAddr>().ok()?,
    ) {
        (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => {
            Some(Ipv4Subnets::new(a, b, 0).map(IpNet::V4).collect())
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => {
            Some(Ipv6Subnets::new(a, b, 0).map(IpNet::V6).collect())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_expand_as_written() {
        let nets =
            |t| firewall_address(t).map(|v| v.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        assert_eq!(nets("10.1.0.0/16").unwrap(), ["10.1.0.0/16"]);
        assert_eq!(nets("10.1.2.3").unwrap(), ["10.1.2.3/32"]);
        assert_eq!(nets("*").unwrap(), ["0.0.0.0/0", "::/0"]);
        assert_eq!(
            nets("10.0.0.4-10.0.0.9").unwrap(),
            ["10.0.0.4/30", "10.0.0.8/31"]
        );
        assert_eq!(nets("10.0.0.9-10.0.0.4"), None);
        assert_eq!(nets("AzureCloud"), None);
    }
}
