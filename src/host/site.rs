//! A small routed site as real Linux networking: one router namespace and
//! one namespace per host, each host joined to the router by a veth pair.
//!
//! The router forwards between its links and hashes ECMP flows on L4 ports
//! (`fib_multipath_hash_policy=1`), so that flows spread over equal routes
//! a routing daemon installs later. Every host reaches everything else
//! through its default route via the router.
//!
//! Each router-side link carries the router's address as a `/32` and a
//! `/32` route to its host, with proxy ARP on: hosts may then share a
//! prefix (each on its own link) and still reach each other through the
//! router.
//!
//! Links, addresses and routes are made through rtnetlink
//! ([`super::netlink`]).

use std::net::IpAddr;

use anyhow::{bail, Context, Result};
use ipnet::IpNet;

use super::{netlink, netns};

/// A host of a site: a namespace with one interface, `eth0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteHostSpec {
    /// The host's namespace name.
    pub netns: String,
    /// The host's address on `eth0`, with its prefix length (e.g.
    /// `192.168.1.10/24`).
    pub address: IpNet,
}

/// A site: a router namespace and its hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSpec {
    /// The router's namespace name.
    pub router: String,
    /// The hosts, joined to the router in order: the router side of the
    /// n-th host's link is `h<n>`.
    pub hosts: Vec<SiteHostSpec>,
}

/// The name of the router's side of the link to the `index`-th host.
pub fn router_link_name(index: usize) -> String {
    format!("h{index}")
}

/// The router's address on a host's link: the first host address of the
/// host's prefix, or the next one when the host has the first.
pub fn router_address_for(host: &IpNet) -> Result<IpAddr> {
    host.hosts()
        .find(|candidate| *candidate != host.addr())
        .with_context(|| format!("prefix {host} has no address left for the router"))
}

/// Writes `value` to the sysctl file `path` (under `/proc/sys`) inside the
/// namespace `namespace`.
fn set_sysctl(namespace: &str, path: &str, value: &str) -> Result<()> {
    netns::run_in(namespace, || {
        std::fs::write(path, value).with_context(|| format!("writing {value} to {path}"))
    })
    .with_context(|| format!("setting {path} in network namespace {namespace}"))
}

/// Builds the site: namespaces, veth pairs, addresses, routes and the
/// router's forwarding settings. On failure, removes what it created.
pub fn build_site(spec: &SiteSpec) -> Result<()> {
    check_spec(spec)?;
    let built = build_all(spec);
    if built.is_err() {
        let _ = remove_site(spec);
    }
    built.with_context(|| format!("building the site of router {}", spec.router))
}

fn check_spec(spec: &SiteSpec) -> Result<()> {
    let mut names = vec![spec.router.as_str()];
    for host in &spec.hosts {
        if names.contains(&host.netns.as_str()) {
            bail!("namespace {} is listed twice in the site", host.netns);
        }
        names.push(&host.netns);
        router_address_for(&host.address)?;
    }
    Ok(())
}

fn build_all(spec: &SiteSpec) -> Result<()> {
    let router = spec.router.as_str();
    netns::create(router)?;
    netlink::set_link_up(router, "lo")?;
    let any_ipv6 = spec.hosts.iter().any(|h| h.address.addr().is_ipv6());
    set_sysctl(router, "/proc/sys/net/ipv4/ip_forward", "1")?;
    set_sysctl(router, "/proc/sys/net/ipv4/fib_multipath_hash_policy", "1")?;
    if any_ipv6 {
        set_sysctl(router, "/proc/sys/net/ipv6/conf/all/forwarding", "1")?;
    }
    for (index, host) in spec.hosts.iter().enumerate() {
        join_host(router, index, host)
            .with_context(|| format!("joining host {} to the router", host.netns))?;
    }
    Ok(())
}

fn join_host(router: &str, index: usize, host: &SiteHostSpec) -> Result<()> {
    let name = host.netns.as_str();
    netns::create(name)?;
    netlink::set_link_up(name, "lo")?;
    let link = router_link_name(index);
    netlink::add_veth_pair(router, &link, name, "eth0")?;

    let router_address = router_address_for(&host.address)?;
    let host_len = if host.address.addr().is_ipv4() {
        32
    } else {
        128
    };
    if host.address.addr().is_ipv4() {
        set_sysctl(
            router,
            &format!("/proc/sys/net/ipv4/conf/{link}/proxy_arp"),
            "1",
        )?;
    }
    let router_single = IpNet::new(router_address, host_len).expect("a full-length prefix");
    netlink::add_address(router, &link, router_single)?;
    netlink::set_link_up(router, &link)?;
    netlink::add_host_route(router, &link, host.address.addr(), router_address)?;

    netlink::add_address(name, "eth0", host.address)?;
    netlink::set_link_up(name, "eth0")?;
    netlink::add_default_route(name, "eth0", router_address)?;
    Ok(())
}

/// One end of a link between two routers: the namespace, the interface's
/// name there and its address with the link's prefix length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEnd {
    pub netns: String,
    pub interface: String,
    pub address: IpNet,
}

/// A router of its own: a namespace that forwards (and hashes ECMP flows
/// on ports, as a site's router does), with nothing on it yet.
pub fn build_router(netns: &str) -> Result<()> {
    let built = (|| {
        netns::create(netns)?;
        netlink::set_link_up(netns, "lo")?;
        set_sysctl(netns, "/proc/sys/net/ipv4/ip_forward", "1")?;
        set_sysctl(netns, "/proc/sys/net/ipv4/fib_multipath_hash_policy", "1")
    })();
    if built.is_err() && netns::exists(netns) {
        let _ = netns::delete(netns);
    }
    built.with_context(|| format!("building router {netns}"))
}

/// Joins two routers' namespaces by a veth pair, each end with its
/// address, both up. A pair already there (same names) is replaced.
pub fn join_routers(a: &LinkEnd, b: &LinkEnd) -> Result<()> {
    let joined = (|| -> Result<()> {
        if netlink::link_names(&a.netns)?.contains(&a.interface) {
            netlink::delete_link(&a.netns, &a.interface)?;
        }
        netlink::add_veth_pair(&a.netns, &a.interface, &b.netns, &b.interface)?;
        for end in [a, b] {
            netlink::add_address(&end.netns, &end.interface, end.address)?;
            netlink::set_link_up(&end.netns, &end.interface)?;
        }
        Ok(())
    })();
    joined.with_context(|| {
        format!(
            "joining {}:{} ({}) to {}:{} ({})",
            a.netns, a.interface, a.address, b.netns, b.interface, b.address
        )
    })
}

/// Removes the site's namespaces (their veth pairs go with them). Missing
/// namespaces are not an error.
pub fn remove_site(spec: &SiteSpec) -> Result<()> {
    let mut failures = Vec::new();
    let names = spec
        .hosts
        .iter()
        .map(|h| h.netns.as_str())
        .chain([spec.router.as_str()]);
    for name in names {
        if netns::exists(name) {
            if let Err(err) = netns::delete(name) {
                failures.push(format!("{err:#}"));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        bail!("removing the site: {}", failures.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNet {
        text.parse().expect("literal prefix")
    }

    #[test]
    fn the_router_takes_the_first_host_address_the_host_does_not_have() {
        let first: IpAddr = "192.168.1.1".parse().expect("literal");
        let second: IpAddr = "192.168.1.2".parse().expect("literal");
        assert_eq!(
            router_address_for(&net("192.168.1.10/24")).ok(),
            Some(first)
        );
        assert_eq!(
            router_address_for(&net("192.168.1.1/24")).ok(),
            Some(second)
        );
        assert!(router_address_for(&net("192.168.1.1/32")).is_err());
    }
}
