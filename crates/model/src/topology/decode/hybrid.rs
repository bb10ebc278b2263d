//! Decoders for the keys of hybrid networking: an on-premises site's
//! `router`, gateways' `bgp_settings`, the azurerm spellings that renamed a
//! flag (`enable_bgp` / `bgp_enabled`, and `disable_bgp_route_propagation`,
//! the inverse of `bgp_route_propagation_enabled`), enum keys with an
//! Azure default, and an ExpressRoute circuit's bandwidth and private
//! peering.

use super::raw::{RawBgpSettings, RawPrivatePeering, RawRouter, RawRouterSettings};
use super::reader::{Decoder, Fields};
use crate::topology::model::BgpSpeaker;
use ipnet::IpNet;
use std::str::FromStr;
use strum::VariantNames;

const ROUTER_KEYS: &[&str] = &["netns", "asn", "bgp_speaker"];
const GATEWAY_BGP_KEYS: &[&str] = &["asn"];
const LOCAL_BGP_KEYS: &[&str] = &["asn", "bgp_peering_address"];
const PRIVATE_PEERING_KEYS: &[&str] = &[
    "peer_asn",
    "primary_peer_address_prefix",
    "secondary_peer_address_prefix",
    "vlan_id",
];

/// The bandwidths an ExpressRoute circuit is sold in, in Mbps.
pub const CIRCUIT_BANDWIDTHS_MBPS: &[u32] = &[50, 100, 200, 500, 1000, 2000, 5000, 10_000];

/// Every 32-bit ASN but 0.
const ASN_RANGE: std::ops::RangeInclusive<i64> = 1..=4_294_967_295;

impl Decoder<'_> {
    /// A flag written under either of two names (azurerm renamed it); both
    /// at once is refused.
    pub(super) fn either_flag(
        &mut self,
        f: &Fields,
        new: &str,
        old: &str,
        default: bool,
    ) -> Option<bool> {
        let key = self.either_key(f, new, old);
        self.flag(f, key, default)
    }

    /// `bgp_route_propagation_enabled`, or the older
    /// `disable_bgp_route_propagation` with the meaning inverted.
    pub(super) fn propagation(
        &mut self,
        f: &Fields,
        enabled: &str,
        disabled: &str,
    ) -> Option<bool> {
        let key = self.either_key(f, enabled, disabled);
        if f.has(disabled) {
            return self.flag(f, key, false).map(|d| !d);
        }
        self.flag(f, key, true)
    }

    /// An optional value from a fixed set, matched case-insensitively.
    pub(super) fn one_of_or<T: FromStr + VariantNames>(
        &mut self,
        f: &Fields,
        key: &str,
        default: T,
    ) -> Option<T> {
        if f.given(key).is_none() {
            return Some(default);
        }
        self.one_of(f, key)
    }

    /// A connection's `routing_weight`, 0 to 32000 as Azure takes it.
    pub(super) fn routing_weight(&mut self, f: &Fields, key: &str) -> Option<u32> {
        let Some(node) = f.given(key) else {
            return Some(0);
        };
        let v = self.number_in(node, &f.key(key), 0..=32_000, "Azure takes 0 to 32000")?;
        Some(v as u32)
    }

    /// An ASN with its line.
    pub(super) fn asn(&mut self, f: &Fields, key: &str) -> Option<Option<(u32, usize)>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let why = "an ASN is 1 to 4294967295";
        let v = self.number_in(node, &f.key(key), ASN_RANGE, why)?;
        Some(Some((v as u32, node.line)))
    }

    /// An on-premises site's `router`: its namespace, ASN and BGP daemon.
    pub(super) fn router(&mut self, f: &Fields, key: &str) -> Option<Option<RawRouter>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let r = self.fields(node, &f.key(key), "a router", ROUTER_KEYS)?;
        let netns = self.optional_text(&r, "netns")?;
        let asn = self.asn(&r, "asn")?;
        let bgp_speaker = self.one_of_or(&r, "bgp_speaker", BgpSpeaker::None)?;
        Some(Some(RawRouter {
            settings: RawRouterSettings {
                netns,
                asn,
                bgp_speaker,
            },
            line: node.line,
        }))
    }

    /// `bgp_settings`: the ASN, and for a local network gateway the
    /// on-premises speaker's address.
    pub(super) fn bgp_settings(
        &mut self,
        f: &Fields,
        key: &str,
        local: bool,
    ) -> Option<Option<RawBgpSettings>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let known = if local {
            LOCAL_BGP_KEYS
        } else {
            GATEWAY_BGP_KEYS
        };
        let what = if local {
            "local BGP settings"
        } else {
            "gateway BGP settings"
        };
        let b = self.fields(node, &f.key(key), what, known)?;
        let asn = self.asn(&b, "asn")?;
        let peering_address = match (local, b.given("bgp_peering_address")) {
            (true, Some(n)) => {
                let ip = self.ip(n, &b.key("bgp_peering_address"))?;
                Some((ip, n.line))
            }
            _ => None,
        };
        Some(Some(RawBgpSettings {
            asn,
            peering_address,
            line: node.line,
        }))
    }

    /// A required CIDR with the line it is written on.
    pub(super) fn required_cidr_with_line(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<(IpNet, usize)> {
        let line = f.given(key).map_or(f.line, |n| n.line);
        self.required_cidr(f, key).map(|net| (net, line))
    }

    /// A circuit's `bandwidth_in_mbps`: one of the sizes Azure sells. A
    /// missing or wrong one is reported and read as 0, so the circuit stays
    /// and what names it is not refused a second time.
    pub(super) fn circuit_bandwidth(&mut self, f: &Fields, key: &str) -> Option<u32> {
        let Some(node) = self.required(f, key) else {
            return Some(0);
        };
        let Some(v) = self.integer(node, &f.key(key)) else {
            return Some(0);
        };
        match u32::try_from(v) {
            Ok(mbps) if CIRCUIT_BANDWIDTHS_MBPS.contains(&mbps) => Some(mbps),
            _ => {
                let sizes: Vec<String> =
                    CIRCUIT_BANDWIDTHS_MBPS.iter().map(u32::to_string).collect();
                let why = format!(
                    "{v} Mbps is not a circuit size Azure offers ({})",
                    sizes.join(", ")
                );
                self.diags.error(node.line, &f.key(key), why);
                Some(0)
            }
        }
    }

    /// A /30 of a private peering: a CIDR of exactly that length, IPv4.
    fn peering_link(&mut self, f: &Fields, key: &str) -> Option<(IpNet, usize)> {
        let Some(node) = f.given(key) else {
            let why = format!("missing required key `{key}`: an IPv4 /30");
            self.diags.error(f.line, &f.key(key), why);
            return None;
        };
        let text = self.string(node, &f.key(key))?;
        let net: IpNet = match text.parse() {
            Ok(net) => net,
            Err(_) => {
                let why = format!("`{text}` is not a valid CIDR (expected e.g. 172.16.0.0/30)");
                self.diags.error(node.line, &f.key(key), why);
                return None;
            }
        };
        if !matches!(net, IpNet::V4(_)) || net.prefix_len() != 30 {
            let why = format!("`{text}` is not a /30: a private peering link is an IPv4 /30");
            self.diags.error(node.line, &f.key(key), why);
            return None;
        }
        if net.trunc() != net {
            let why = format!(
                "`{text}` has host bits set: the prefix starts at {}",
                net.trunc()
            );
            self.diags.error(node.line, &f.key(key), why);
            return None;
        }
        Some((net, node.line))
    }

    /// A circuit's `private_peering`; its parts are checked in resolution,
    /// so a missing one is kept as `None` here.
    pub(super) fn private_peering(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Option<RawPrivatePeering>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let p = self.fields(node, &f.key(key), "a private peering", PRIVATE_PEERING_KEYS)?;
        let peer_asn = self.asn(&p, "peer_asn")?;
        let primary = self.peering_link(&p, "primary_peer_address_prefix");
        let secondary = self.peering_link(&p, "secondary_peer_address_prefix");
        let vlan_id = match p.given("vlan_id") {
            None => None,
            Some(n) => {
                let why = "a VLAN ID is 1 to 4094";
                let v = self.number_in(n, &p.key("vlan_id"), 1..=4094, why)?;
                Some(v as u16)
            }
        };
        Some(Some(RawPrivatePeering {
            peer_asn,
            primary,
            secondary,
            vlan_id,
            key: f.key(key),
            line: node.line,
        }))
    }
}
