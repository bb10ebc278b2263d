//! Decoders for the keys of Azure Route Server and of the appliances that
//! peer with it: a Route Server's `hub_routing_preference` (ExpressRoute,
//! VpnGateway or ASPath, as Azure spells them), a BGP connection's
//! `peer_ip` (Route Server is IPv4 only) and `peer_asn` (Route Server takes
//! only 16-bit ASNs), and a NIC's `bgp_speaker` (bird, frr, none) and
//! `bgp_announce` (IPv4 prefixes), vnetd's own keys. A wrong value is
//! reported at its line and the item kept, so that what refers to it draws
//! no second error; the rules between items are `resolve/route_servers.rs`'s.

use super::raw::RawAnnounce;
use super::reader::{Decoder, Fields};
use super::values::choice_list;
use crate::topology::model::{BgpSpeaker, HubRoutingPreference};
use ipnet::IpNet;
use std::net::IpAddr;
use strum::VariantNames;

/// The ASNs a Route Server peer may have: 16-bit ones only.
const ROUTE_SERVER_PEER_ASNS: std::ops::RangeInclusive<i64> = 1..=65_535;

impl Decoder<'_> {
    /// `hub_routing_preference`: absent, ExpressRoute (Azure's default). A
    /// wrong one is reported and the default kept.
    pub(super) fn hub_routing_preference(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<HubRoutingPreference> {
        let Some(node) = f.given(key) else {
            return Some(HubRoutingPreference::default());
        };
        let k = f.key(key);
        let Some(text) = self.string(node, &k) else {
            return Some(HubRoutingPreference::default());
        };
        match text.parse() {
            Ok(preference) => Some(preference),
            Err(_) => {
                let accepted = HubRoutingPreference::VARIANTS.join(", ");
                let why =
                    format!("`{text}` is not a hub routing preference: Azure accepts {accepted}");
                self.diags.error(node.line, &k, why);
                Some(HubRoutingPreference::default())
            }
        }
    }

    /// A BGP connection's `peer_ip`, with its line: an IPv4 address, since
    /// Route Server peers over IPv4 only. Missing or broken, it is reported
    /// and `None` kept.
    pub(super) fn route_server_peer_ip(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Option<(IpAddr, usize)>> {
        let Some((ip, line)) = self.required_ip_or_none(f, key)? else {
            return Some(None);
        };
        if ip.is_ipv6() {
            let why = format!(
                "{ip} is an IPv6 address: Route Server is IPv4 only, so a BGP connection's \
                 peer_ip is an IPv4 address"
            );
            self.diags.error(line, &f.key(key), why);
            return Some(None);
        }
        Some(Some((ip, line)))
    }

    /// A BGP connection's `peer_asn`, with its line: 1 to 65535. Missing or
    /// out of range, it is reported and `None` kept.
    pub(super) fn route_server_peer_asn(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Option<(u32, usize)>> {
        let Some(node) = self.required(f, key) else {
            return Some(None);
        };
        let why = "Route Server supports only 16-bit ASNs (1 to 65535)";
        let asn = self.number_in(node, &f.key(key), ROUTE_SERVER_PEER_ASNS, why);
        Some(asn.map(|v| (v as u32, node.line)))
    }

    /// A NIC's `bgp_speaker`, with its line; absent, `None`. A value that
    /// is not bird, frr or none is reported and kept as `Some((None, line))`.
    pub(super) fn nic_bgp_speaker(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Option<(Option<BgpSpeaker>, usize)>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let k = f.key(key);
        let Some(text) = self.string(node, &k) else {
            return Some(Some((None, node.line)));
        };
        match text.parse() {
            Ok(speaker) => Some(Some((Some(speaker), node.line))),
            Err(_) => {
                let choices = choice_list::<BgpSpeaker>();
                let why = format!("`{text}` is not one of {choices}");
                self.diags.error(node.line, &k, why);
                Some(Some((None, node.line)))
            }
        }
    }

    /// A NIC's `bgp_announce`: IPv4 prefixes; absent, `None`. Broken or
    /// IPv6 prefixes are reported and left out.
    pub(super) fn bgp_announce(&mut self, f: &Fields, key: &str) -> Option<Option<RawAnnounce>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let k = f.key(key);
        let items = self.items(Some(node), &k);
        let read = self.texts(items, &k, |d, text, line, k| {
            let net = d.cidr_text(&text, line, k)?;
            if let IpNet::V6(_) = net {
                let why = format!(
                    "{net} is an IPv6 prefix: Route Server is IPv4 only, so an appliance \
                     announces IPv4 prefixes"
                );
                d.diags.error(line, k, why);
                return None;
            }
            Some((net, line))
        });
        Some(Some(RawAnnounce {
            prefixes: read.into_iter().flatten().collect(),
            line: node.line,
        }))
    }
}
