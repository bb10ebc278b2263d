//! What an Azure Firewall's namespace forwards as it is and what it hands
//! its proxy (see [`crate::host::intercept`]): the TCP to its application
//! rules' ports that none of its DNAT and network rules forwards. The
//! firewall's port is built with it (`changing`), and its proxy keeps the
//! pass rules of FQDNs current (`answering`).

use crate::topology::Topology;
use ipnet::{IpNet, Ipv4Net};

/// What `fw`'s namespace hands its proxy: TCP to its application rules'
/// ports that its network rules do not forward as it is (IPv4, as Azure
/// Firewall's rules are), a network rule's FQDN standing for the
/// addresses `fqdns` gives.
pub fn of(
    topology: &Topology,
    fw: &crate::topology::AzureFirewall,
    fqdns: crate::policy::firewall::FqdnAddresses<'_>,
) -> Option<crate::host::intercept::Intercept> {
    use crate::host::intercept::{Intercept, PassRule};
    use crate::policy::firewall;
    if !firewall::has_application_rules(topology, fw) {
        return None;
    }
    let policy = &topology.firewall_policies[fw.policy?];
    let mut ports: Vec<u16> = (policy.application_rules.iter())
        .flat_map(|r| r.protocols.iter().map(|p| p.port))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    let v4 = |nets: Vec<IpNet>| -> Vec<Ipv4Net> {
        nets.into_iter()
            .filter_map(|n| match n {
                IpNet::V4(n) => Some(n),
                IpNet::V6(_) => None,
            })
            .collect()
    };
    let pass = firewall::forwarded_untaken(topology, fw, fqdns)
        .into_iter()
        .map(|f| PassRule {
            sources: v4(f.sources),
            destinations: v4(f.destinations),
            ports: f
                .ports
                .map(|r| r.into_iter().map(|r| (r.lo, r.hi)).collect()),
        })
        .collect();
    Some(Intercept {
        listener: crate::plan::ports::firewall::PROXY_LISTENER,
        ports,
        pass,
    })
}
