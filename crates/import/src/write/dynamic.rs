//! Dynamic private addresses, allocated as Azure does: the first free
//! address of the subnet from its fifth on, in the input's order (see
//! [`super::topology_yaml`]).

use super::*;
use crate::ImportError;
use ipnet::IpNet;
use std::collections::HashSet;
use std::net::IpAddr;

impl Model<'_> {
    /// Gives each Dynamic IP configuration and load balancer frontend
    /// without an address the first free one of its subnet, in input order.
    pub(super) fn allocate_dynamic_addresses(&mut self) -> Result<(), ImportError> {
        let mut taken: HashSet<IpAddr> = self
            .nics
            .iter()
            .flat_map(|n| n.configs.iter().filter_map(|c| c.address))
            .chain(
                self.load_balancers
                    .values()
                    .flat_map(|lb| lb.frontends.iter().filter_map(|f| f.address)),
            )
            .chain(self.names.endpoints.values().filter_map(|e| e.address))
            .collect();
        // (input index, NIC or load balancer, configuration or frontend)
        let mut claims: Vec<(usize, Claim, usize)> = Vec::new();
        for (n, nic) in self.nics.iter().enumerate() {
            for (c, config) in nic.configs.iter().enumerate() {
                if config.address.is_none() {
                    claims.push((nic.input_index, Claim::Nic(n), c));
                }
            }
        }
        for (name, lb) in &self.load_balancers {
            for (f, frontend) in lb.frontends.iter().enumerate() {
                if frontend.address.is_none() && frontend.subnet.is_some() {
                    claims.push((lb.input_index, Claim::Frontend(name.clone()), f));
                }
            }
        }
        for (name, endpoint) in &self.names.endpoints {
            if endpoint.address.is_none() {
                claims.push((endpoint.input_index, Claim::Endpoint(name.clone()), 0));
            }
        }
        claims.sort_by_key(|(index, _, item)| (*index, *item));
        for (_, claim, item) in claims {
            let (subnet, ipv6, what, source) = match &claim {
                Claim::Nic(n) => {
                    let nic = &self.nics[*n];
                    let c = &nic.configs[item];
                    let what = format!(
                        "the Dynamic IP configuration `{}` of `{}`",
                        c.name, nic.name
                    );
                    (c.subnet.clone(), c.ipv6, what, nic.source.clone())
                }
                Claim::Frontend(lb) => {
                    let lb = &self.load_balancers[lb];
                    let f = &lb.frontends[item];
                    let what = format!("the Dynamic frontend `{}` of `{}`", f.name, lb.name);
                    let subnet = f.subnet.clone().unwrap_or_default();
                    (subnet, f.ipv6, what, lb.source.clone())
                }
                Claim::Endpoint(name) => {
                    let endpoint = &self.names.endpoints[name];
                    let what = format!("Private Endpoint `{name}`");
                    (
                        endpoint.subnet.clone(),
                        false,
                        what,
                        endpoint.source.clone(),
                    )
                }
            };
            let (vnet, subnet) = subnet;
            let prefixes = self
                .vnets
                .get(&vnet)
                .and_then(|v| v.subnets.get(&subnet))
                .map(|s| s.prefixes.clone())
                .unwrap_or_default();
            let found = prefixes
                .iter()
                .filter(|p| matches!(p, IpNet::V6(_)) == ipv6)
                .find_map(|p| first_free(p, &taken));
            let Some(ip) = found else {
                return Err(ImportError::new(
                    source,
                    format!("no free address left in subnet {vnet}/{subnet} for {what}"),
                ));
            };
            taken.insert(ip);
            match claim {
                Claim::Nic(n) => self.nics[n].configs[item].address = Some(ip),
                Claim::Frontend(lb) => {
                    if let Some(lb) = self.load_balancers.get_mut(&lb) {
                        lb.frontends[item].address = Some(ip);
                    }
                }
                Claim::Endpoint(name) => {
                    if let Some(endpoint) = self.names.endpoints.get_mut(&name) {
                        endpoint.address = Some(ip);
                    }
                }
            }
        }
        Ok(())
    }
}

/// What asks for a Dynamic address.
enum Claim {
    /// A NIC, by its index in [`Model::nics`].
    Nic(usize),
    /// A load balancer, by name.
    Frontend(String),
    /// A Private Endpoint, by name.
    Endpoint(String),
}

/// The first address of `prefix` from its fifth on that is not taken,
/// short of the last (the broadcast address in IPv4).
fn first_free(prefix: &IpNet, taken: &HashSet<IpAddr>) -> Option<IpAddr> {
    let (first, last) = match prefix {
        IpNet::V4(p) => (
            u128::from(u32::from(p.network())),
            u128::from(u32::from(p.broadcast())),
        ),
        IpNet::V6(p) => (u128::from(p.network()), u128::from(p.broadcast())),
    };
    let mut candidate = first.checked_add(4)?;
    while candidate < last {
        let ip = match prefix {
            IpNet::V4(_) => IpAddr::from(std::net::Ipv4Addr::from(u32::try_from(candidate).ok()?)),
            IpNet::V6(_) => IpAddr::from(std::net::Ipv6Addr::from(candidate)),
        };
        if !taken.contains(&ip) {
            return Some(ip);
        }
        candidate += 1;
    }
    None
}
