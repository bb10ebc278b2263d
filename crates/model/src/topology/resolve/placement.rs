//! The placement of a lab spread over several machines: the file's `hosts`
//! checked (names and underlay addresses each once, IPv4 underlay
//! addresses), and every `host` of a VNet, NIC or site turned into the
//! host's index. A `host` in a file without `hosts` is refused: the file
//! would otherwise run on one machine while saying it does not.

use super::super::decode::{NameRef, RawHost, RawTopology};
use super::super::model::{HostIdx, LabHost, Placement};
use super::resolver::Resolver;
use crate::topology::ByName;
use std::collections::HashMap;
use std::net::IpAddr;

/// The `host` references of a file's VNets, NICs and sites, taken before
/// those are resolved, by the name of what they place.
pub(super) struct PlacementRefs {
    vnets: Vec<(String, NameRef)>,
    nics: Vec<(String, NameRef)>,
    sites: Vec<(String, NameRef)>,
}

impl PlacementRefs {
    pub(super) fn of(raw: &RawTopology) -> PlacementRefs {
        fn placed<'a>(
            items: impl Iterator<Item = (&'a String, &'a Option<NameRef>)>,
        ) -> Vec<(String, NameRef)> {
            items
                .filter_map(|(name, host)| Some((name.clone(), host.clone()?)))
                .collect()
        }
        PlacementRefs {
            vnets: placed(raw.vnets.iter().map(|v| (&v.name, &v.host))),
            nics: placed(raw.nics.iter().map(|n| (&n.name, &n.host))),
            sites: placed(raw.sites.iter().map(|s| (&s.name, &s.host))),
        }
    }
}

/// The longest host name: a DNS label's.
const MAX_HOST_NAME_LEN: usize = 63;

/// Why `name` cannot name a host, or `None`. A host's name becomes part of
/// the names of its files (its host mesh speaker's directory), so it is
/// held to a machine name's letters: 1 to 63 letters, digits, `_`, `.` or
/// `-`, starting with a letter or digit (never `..`, `/` or NUL).
fn host_name_refusal(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let fits = !bytes.is_empty()
        && bytes.len() <= MAX_HOST_NAME_LEN
        && bytes[0].is_ascii_alphanumeric()
        && (bytes.iter()).all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    (!fits).then(|| {
        format!(
            "{name:?} is not a usable host name: 1 to {MAX_HOST_NAME_LEN} letters, digits, `_`, \
             `.` or `-`, starting with a letter or digit"
        )
    })
}

impl Resolver<'_> {
    /// The file's hosts, then what each `host` names.
    pub(super) fn placement(&mut self, hosts: Vec<RawHost>, refs: PlacementRefs) {
        let mut placement = Placement::default();
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut addresses: HashMap<IpAddr, String> = HashMap::new();
        for host in hosts {
            if let Some(first) = names.insert(host.name.clone(), host.line) {
                let why = format!(
                    "duplicate host name `{}` (first at line {first})",
                    host.name
                );
                self.diags.error(host.line, &host.key, why);
                continue;
            }
            // Refused, but declared: what it places is not refused again.
            if let Some(why) = host_name_refusal(&host.name) {
                self.diags.error(host.line, &host.key, why);
                continue;
            }
            let key = format!("{}.underlay_address", host.key);
            let address = match host.underlay_address {
                None => {
                    let why = "a host needs `underlay_address`, where the other hosts reach it";
                    self.diags.error(host.line, &key, why.to_string());
                    continue;
                }
                Some(IpAddr::V6(v6)) => {
                    let why = format!(
                        "{v6} is IPv6: vnetd's VXLAN between hosts runs over IPv4 underlay addresses"
                    );
                    self.diags.error(host.line, &key, why);
                    continue;
                }
                Some(IpAddr::V4(v4)) => v4,
            };
            if let Some(first) = addresses.insert(IpAddr::V4(address), host.name.clone()) {
                let why = format!("{address} is already the underlay address of host `{first}`");
                self.diags.error(host.line, &key, why);
                continue;
            }
            placement.hosts.push(LabHost {
                name: host.name,
                underlay_address: address,
                line: host.line,
            });
        }
        let declared = Declared(names);
        for (vnet, host) in refs.vnets {
            let found = self.topo.vnets.by_name(&vnet);
            if let (Some(vnet), Some(host)) = (found, self.host_ref(&placement, &host, &declared)) {
                placement.vnets.insert(vnet, host);
            }
        }
        for (nic, host) in refs.nics {
            let found = self.topo.nics.by_name(&nic);
            if let (Some(nic), Some(host)) = (found, self.host_ref(&placement, &host, &declared)) {
                placement.nics.insert(nic, host);
            }
        }
        for (site, host) in refs.sites {
            let found = self.topo.sites.by_name(&site);
            if let (Some(site), Some(host)) = (found, self.host_ref(&placement, &host, &declared)) {
                placement.sites.insert(site, host);
            }
        }
        self.topo.placement = placement;
        self.check_global_reach_placement();
    }

    /// A Global Reach link joins the two circuits' edge routers with a
    /// link of the kernel's, so both circuits' sites must be on one
    /// machine.
    fn check_global_reach_placement(&mut self) {
        let placement = &self.topo.placement;
        let mut refusals = Vec::new();
        for reach in &self.topo.global_reach {
            let sites = [reach.circuit, reach.peer_circuit].map(|c| self.topo.circuits[c].site);
            let hosts = sites.map(|s| placement.site_host(s));
            if hosts[0] != hosts[1] {
                let names = sites.map(|s| self.topo.sites[s].name.as_str());
                let why = format!(
                    "Global Reach `{}` joins the edge routers of sites `{}` and `{}` by a link on \
                     one machine, but they are placed on hosts `{}` and `{}`: place both on one host",
                    reach.name,
                    names[0],
                    names[1],
                    placement.hosts[hosts[0]].name,
                    placement.hosts[hosts[1]].name
                );
                refusals.push((
                    reach.line,
                    format!("express_route_circuit_connections[{}]", reach.name),
                    why,
                ));
            }
        }
        for (line, key, why) in refusals {
            self.diags.error(line, &key, why);
        }
    }

    /// The host `r` names. A host the file declares but that was refused
    /// (its error already given) is not reported again.
    fn host_ref(
        &mut self,
        placement: &Placement,
        r: &NameRef,
        declared: &Declared,
    ) -> Option<HostIdx> {
        if declared.0.is_empty() {
            let why = format!(
                "`host: {}` places this on a machine, but the file has no `hosts` list",
                r.name
            );
            return self.refuse_ref(r, why);
        }
        let found = placement.host_by_name(&r.name);
        if found.is_none() && !declared.0.contains_key(&r.name) {
            let known: Vec<&str> = placement.hosts.iter().map(|h| h.name.as_str()).collect();
            let why = format!(
                "no host named `{}` in `hosts` (the hosts are {})",
                r.name,
                known.join(", ")
            );
            self.diags.error(r.line, &r.key, why);
        }
        found
    }
}

/// Every host name the file declares, refused or not, with its line.
struct Declared(HashMap<String, usize>);
