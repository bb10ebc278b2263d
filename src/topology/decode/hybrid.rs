//! Decoders for the keys of hybrid networking: an on-premises site's
//! `router`, gateways' `bgp_settings`, the azurerm spellings that renamed a
//! flag (`enable_bgp` / `bgp_enabled`, and `disable_bgp_route_propagation`,
//! the inverse of `bgp_route_propagation_enabled`), and enum keys with an
//! Azure default.

use super::{Decoder, Fields, RawBgpSettings, RawRouter, BGP_SPEAKERS};
use crate::topology::model::BgpSpeaker;

const ROUTER_KEYS: &[&str] = &["netns", "asn", "bgp_speaker"];
const GATEWAY_BGP_KEYS: &[&str] = &["asn"];
const LOCAL_BGP_KEYS: &[&str] = &["asn", "bgp_peering_address"];

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
        if f.has(new) && f.has(old) {
            let why = format!("`{new}` and `{old}` are the same setting: give one");
            self.diags.error(f.line, &f.key(old), why);
        }
        let key = if f.has(old) { old } else { new };
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
        if f.has(enabled) && f.has(disabled) {
            let why = format!("`{enabled}` and `{disabled}` are the same setting: give one");
            self.diags.error(f.line, &f.key(disabled), why);
        }
        if f.has(disabled) {
            return self.flag(f, disabled, false).map(|d| !d);
        }
        self.flag(f, enabled, true)
    }

    /// An optional value from a fixed set, matched case-insensitively.
    pub(super) fn one_of_or<T: Copy>(
        &mut self,
        f: &Fields,
        key: &str,
        choices: &[(&str, T)],
        default: T,
    ) -> Option<T> {
        if f.given(key).is_none() {
            return Some(default);
        }
        self.one_of(f, key, choices)
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
    fn asn(&mut self, f: &Fields, key: &str) -> Option<Option<(u32, usize)>> {
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
        let bgp_speaker = self.one_of_or(&r, "bgp_speaker", BGP_SPEAKERS, BgpSpeaker::None)?;
        Some(Some(RawRouter {
            netns,
            asn,
            bgp_speaker,
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
}
