//! The addresses Azure Firewall's DNS proxy holds for the FQDNs of its
//! policy's network rules: an input of the snapshot beside the learned
//! routes and the backends' health. Azure resolves a network rule's FQDN
//! through the firewall's DNS proxy and matches the addresses it got; the
//! daemon records the live answers ([`FqdnResolutions`]) and publishes a
//! new snapshot when they change. An FQDN with no live answer yet is
//! resolved as the proxy would ask: Azure DNS in the firewall's VNet
//! ([`crate::names::NameTables::resolve`]) when the policy names no DNS
//! servers; custom servers cannot be asked offline, so it then matches no
//! address until the running firewall has asked them.

use crate::names::{NameTables, QueryType};
use crate::topology::{FirewallIdx, RecordData, Topology};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The live answers of the firewalls' DNS proxies: per firewall (by name,
/// so that an `apply` that renumbers firewalls keeps them), per FQDN
/// (lower case, without the final dot), the addresses last resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FqdnResolutions {
    by_firewall: BTreeMap<String, BTreeMap<String, Vec<IpAddr>>>,
}

impl FqdnResolutions {
    /// These resolutions with `fqdn` of `firewall` resolved to
    /// `addresses` (sorted, without duplicates).
    #[must_use]
    pub fn with(mut self, firewall: &str, fqdn: &str, mut addresses: Vec<IpAddr>) -> Self {
        addresses.sort_unstable();
        addresses.dedup();
        self.by_firewall
            .entry(firewall.to_string())
            .or_default()
            .insert(normalise(fqdn), addresses);
        self
    }

    /// The live addresses of `fqdn` at `firewall`, if its proxy resolved
    /// it.
    pub fn get(&self, firewall: &str, fqdn: &str) -> Option<&[IpAddr]> {
        self.by_firewall
            .get(firewall)?
            .get(&normalise(fqdn))
            .map(Vec::as_slice)
    }

    /// Every live resolution: firewall, FQDN, addresses.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &[IpAddr])> {
        self.by_firewall.iter().flat_map(|(firewall, fqdns)| {
            fqdns.iter().map(move |(fqdn, addresses)| {
                (firewall.as_str(), fqdn.as_str(), addresses.as_slice())
            })
        })
    }
}

fn normalise(fqdn: &str) -> String {
    fqdn.trim_end_matches('.').to_ascii_lowercase()
}

/// The addresses a network rule's `fqdn` matches at firewall `f`: its
/// proxy's live answer, else what its upstream answers offline (see the
/// module's documentation).
pub fn fqdn_addresses(
    topology: &Topology,
    names: &NameTables,
    resolutions: &FqdnResolutions,
    f: FirewallIdx,
    fqdn: &str,
) -> Vec<IpAddr> {
    let firewall = &topology.firewalls[f];
    if let Some(live) = resolutions.get(&firewall.name, fqdn) {
        return live.to_vec();
    }
    let custom = firewall
        .policy
        .is_some_and(|p| !topology.firewall_policies[p].dns.servers.is_empty());
    if custom {
        return Vec::new();
    }
    offline_answer(names, firewall.vnet, fqdn)
}

/// What Azure DNS answers in `vnet` for `fqdn`, A then AAAA: the
/// addresses at the end of its CNAMEs.
fn offline_answer(names: &NameTables, vnet: crate::topology::VnetIdx, fqdn: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for query_type in [QueryType::A, QueryType::AAAA] {
        for record in names.resolve(vnet, fqdn, query_type).answers {
            match record.data {
                RecordData::A(v4) => out.push(IpAddr::V4(v4)),
                RecordData::Aaaa(v6) => out.push(IpAddr::V6(v6)),
                _ => {}
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolution_is_found_in_any_case_with_or_without_the_final_dot() {
        let r = FqdnResolutions::default().with(
            "hub-fw",
            "Api.Contoso.com.",
            vec![
                "10.9.0.2".parse().unwrap(),
                "10.9.0.1".parse().unwrap(),
                "10.9.0.2".parse().unwrap(),
            ],
        );
        let want: Vec<IpAddr> = vec!["10.9.0.1".parse().unwrap(), "10.9.0.2".parse().unwrap()];
        assert_eq!(r.get("hub-fw", "api.contoso.com"), Some(want.as_slice()));
        assert_eq!(r.get("other-fw", "api.contoso.com"), None);
        assert_eq!(r.get("hub-fw", "contoso.com"), None);
        assert_eq!(r.iter().count(), 1);
    }
}
