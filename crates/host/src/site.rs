//! A small routed site as real Linux networking: one namespace per router
//! and one per host, each host joined to every router by a veth pair.
//!
//! A router forwards between its links and hashes ECMP flows on L4 ports
//! (`fib_multipath_hash_policy=1`), so that flows spread over equal routes
//! a routing daemon installs later. Every host reaches everything else
//! through its default route via the routers.
//!
//! Each router-side link carries the router's address as a `/32` and a
//! `/32` route to its host, with proxy ARP on: hosts may then share a
//! prefix (each on its own link) and still reach each other through the
//! router.
//!
//! A site with several routers (devices in front of the same network):
//! - host `h` reaches router `k` over its interface `eth<k>` (router side
//!   `h<h>`), the router taking the `k`-th address of the host's prefix
//!   that the host does not hold, with a `/32` route to it there; the host
//!   holds its address on each;
//! - the host's default route is one multipath route through every
//!   router, its flows hashed on L4 ports too, and a router whose link
//!   is down is skipped (`ignore_routes_with_linkdown`);
//! - every two routers are joined by a veth pair (`r<k>` in each, `k` the
//!   other router), up, without addresses: what runs on the routers
//!   addresses it;
//! - reverse-path filtering is off in the site's namespaces: a flow may
//!   come back through another router than the one it left by;
//! - each of the site's namespaces hashes flows with a seed of its own
//!   (`fib_multipath_hash_seed`, from its name, where the kernel has it:
//!   Linux 6.11 and later): with one seed everywhere, the flows a host
//!   hands one router would all hash to the same one of its next hops
//!   (ECMP polarization).
//!
//! Links, addresses and routes are made through rtnetlink
//! ([`super::netlink`]). Two routers are joined by a veth pair, or by a
//! pair of TUN devices whose packets the caller carries between them (to
//! delay them on the way, which the kernel cannot: it has no `netem`).

use std::net::{IpAddr, Ipv4Addr};

use anyhow::{bail, Context, Result};
use ipnet::IpNet;

use super::tun::{TunDevice, TunOptions, TunQueue};
use super::{netlink, netns};

/// A host of a site: a namespace with one interface per router, `eth0`,
/// `eth1`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteHostSpec {
    /// The host's namespace name.
    pub netns: String,
    /// The host's address on each of its interfaces, with its prefix
    /// length (e.g. `192.168.1.10/24`).
    pub address: IpNet,
    /// The host's `resolv.conf` (see [`netns::write_resolv_conf`]); `None`:
    /// none.
    pub resolv_conf: Option<String>,
}

/// A site: its routers' namespaces and its hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSpec {
    /// The routers' namespace names, never empty: the devices in front of
    /// the site's network. The first names the site.
    pub routers: Vec<String>,
    /// The hosts, joined to every router in order: the router side of the
    /// n-th host's link is `h<n>`.
    pub hosts: Vec<SiteHostSpec>,
}

impl SiteSpec {
    /// The site's first router's namespace, which names the site.
    pub fn router(&self) -> &str {
        &self.routers[0]
    }
}

/// The name of a router's side of the link to the `index`-th host.
pub fn router_link_name(index: usize) -> String {
    format!("h{index}")
}

/// The name of a host's side of its link to the `router`-th router.
pub fn host_link_name(router: usize) -> String {
    format!("eth{router}")
}

/// The name of a router's side of its link to the `other`-th router of
/// its site.
pub fn peer_link_name(other: usize) -> String {
    format!("r{other}")
}

/// The first router's address on a host's link: the first host address of
/// the host's prefix, or the next one when the host has the first.
pub fn router_address_for(host: &IpNet) -> Result<IpAddr> {
    router_address_at(host, 0)
}

/// Router `router`'s address on a host's link: the `router`-th host
/// address of the host's prefix that the host does not hold.
pub fn router_address_at(host: &IpNet, router: usize) -> Result<IpAddr> {
    host.hosts()
        .filter(|candidate| *candidate != host.addr())
        .nth(router)
        .with_context(|| format!("prefix {host} has no address left for router {router}"))
}

/// Writes `value` to the sysctl file `path` (under `/proc/sys`) inside the
/// namespace `namespace`.
fn set_sysctl(namespace: &str, path: &str, value: &str) -> Result<()> {
    netns::run_in(namespace, || {
        std::fs::write(path, value).with_context(|| format!("writing {value} to {path}"))
    })
    .with_context(|| format!("setting {path} in network namespace {namespace}"))
}

/// Gives `namespace` a multipath hash seed of its own, from its name,
/// where the kernel has the setting (Linux 6.11 and later; before, every
/// namespace shares the kernel's random one).
fn own_hash_seed(namespace: &str) -> Result<()> {
    use std::hash::{Hash, Hasher};
    const SEED: &str = "/proc/sys/net/ipv4/fib_multipath_hash_seed";
    if !std::path::Path::new(SEED).exists() {
        return Ok(());
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    namespace.hash(&mut hasher);
    // 0 would mean the kernel's shared seed.
    let seed = (hasher.finish() as u32).max(1);
    set_sysctl(namespace, SEED, &seed.to_string())
}

/// Turns reverse-path filtering off for every interface of `namespace`,
/// those made later included.
fn no_reverse_path_filter(namespace: &str) -> Result<()> {
    for conf in ["all", "default"] {
        set_sysctl(
            namespace,
            &format!("/proc/sys/net/ipv4/conf/{conf}/rp_filter"),
            "0",
        )?;
    }
    Ok(())
}

/// Builds the site: namespaces, veth pairs, addresses, routes and the
/// routers' forwarding settings. On failure, removes what it created.
pub fn build_site(spec: &SiteSpec) -> Result<()> {
    check_spec(spec)?;
    let built = build_all(spec);
    if built.is_err() {
        let _ = remove_site(spec);
    }
    built.with_context(|| format!("building the site of router {}", spec.router()))
}

fn check_spec(spec: &SiteSpec) -> Result<()> {
    if spec.routers.is_empty() {
        bail!("a site needs a router");
    }
    let mut names: Vec<&str> = Vec::new();
    for name in spec
        .routers
        .iter()
        .chain(spec.hosts.iter().map(|h| &h.netns))
    {
        if names.contains(&name.as_str()) {
            bail!("namespace {name} is listed twice in the site");
        }
        names.push(name);
    }
    for host in &spec.hosts {
        router_address_at(&host.address, spec.routers.len() - 1)?;
    }
    Ok(())
}

fn build_all(spec: &SiteSpec) -> Result<()> {
    let several = spec.routers.len() > 1;
    let any_ipv6 = spec.hosts.iter().any(|h| h.address.addr().is_ipv6());
    for router in &spec.routers {
        netns::create(router)?;
        netlink::set_link_up(router, "lo")?;
        set_sysctl(router, "/proc/sys/net/ipv4/ip_forward", "1")?;
        set_sysctl(router, "/proc/sys/net/ipv4/fib_multipath_hash_policy", "1")?;
        if any_ipv6 {
            set_sysctl(router, "/proc/sys/net/ipv6/conf/all/forwarding", "1")?;
        }
        if several {
            no_reverse_path_filter(router)?;
            own_hash_seed(router)?;
        }
    }
    for (a, first) in spec.routers.iter().enumerate() {
        for (b, second) in spec.routers.iter().enumerate().skip(a + 1) {
            let (here, there) = (peer_link_name(b), peer_link_name(a));
            netlink::add_veth_pair(first, &here, second, &there)
                .with_context(|| format!("joining router {first} to router {second}"))?;
            netlink::set_link_up(first, &here)?;
            netlink::set_link_up(second, &there)?;
        }
    }
    for (index, host) in spec.hosts.iter().enumerate() {
        join_host(&spec.routers, index, host)
            .with_context(|| format!("joining host {} to the routers", host.netns))?;
    }
    Ok(())
}

fn join_host(routers: &[String], index: usize, host: &SiteHostSpec) -> Result<()> {
    let name = host.netns.as_str();
    netns::create(name)?;
    netlink::set_link_up(name, "lo")?;
    let several = routers.len() > 1;
    if several {
        no_reverse_path_filter(name)?;
        own_hash_seed(name)?;
        set_sysctl(name, "/proc/sys/net/ipv4/fib_multipath_hash_policy", "1")?;
        for conf in ["all", "default"] {
            set_sysctl(
                name,
                &format!("/proc/sys/net/ipv4/conf/{conf}/ignore_routes_with_linkdown"),
                "1",
            )?;
        }
    }
    let link = router_link_name(index);
    let host_len = if host.address.addr().is_ipv4() {
        32
    } else {
        128
    };
    let mut hops: Vec<(String, Ipv4Addr)> = Vec::new();
    for (k, router) in routers.iter().enumerate() {
        let interface = host_link_name(k);
        netlink::add_veth_pair(router, &link, name, &interface)?;
        let router_address = router_address_at(&host.address, k)?;
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

        netlink::add_address(name, &interface, host.address)?;
        netlink::set_link_up(name, &interface)?;
        if several {
            // Each router's address through its own link (the prefix's
            // connected route leaves by the first).
            netlink::add_host_route(name, &interface, router_address, host.address.addr())?;
        }
        if let IpAddr::V4(via) = router_address {
            hops.push((interface, via));
        }
    }
    let first = router_address_at(&host.address, 0)?;
    if several && hops.len() == routers.len() {
        netlink::add_multipath_default_route(name, &hops)?;
    } else {
        // One router, or an IPv6 host: through the first router.
        netlink::add_default_route(name, &host_link_name(0), first)?;
    }
    if let Some(text) = &host.resolv_conf {
        netns::write_resolv_conf(name, text)?;
    }
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

/// Joins two routers' namespaces by a pair of TUN devices, one at each
/// end under the end's interface name, each with its address, both up:
/// a point-to-point link whose packets the caller carries from one
/// device's queue to the other's (and may hold on the way). A device of
/// the same name already there is replaced. The devices go when their
/// queues are dropped, or with their namespaces.
pub fn join_routers_through_tun(a: &LinkEnd, b: &LinkEnd) -> Result<[TunQueue; 2]> {
    let joined = (|| -> Result<[TunQueue; 2]> {
        let mut queues = Vec::with_capacity(2);
        for end in [a, b] {
            if netlink::link_names(&end.netns)?.contains(&end.interface) {
                netlink::delete_link(&end.netns, &end.interface)?;
            }
            let interface = end.interface.clone();
            let mut device = netns::run_in(&end.netns, move || {
                TunDevice::create_as(
                    &interface,
                    TunOptions {
                        queues: 1,
                        nonblocking: true,
                        persistent: false,
                    },
                )
            })?;
            netlink::add_address(&end.netns, &end.interface, end.address)?;
            netlink::set_link_up(&end.netns, &end.interface)?;
            queues.extend(device.take_queues());
        }
        let [first, second]: [TunQueue; 2] = queues
            .try_into()
            .map_err(|_| anyhow::anyhow!("a TUN device without its queue"))?;
        Ok([first, second])
    })();
    joined.with_context(|| {
        format!(
            "joining {}:{} ({}) to {}:{} ({}) through TUN devices",
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
        .chain(spec.routers.iter().map(String::as_str));
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
    use crate::test_support::ip_net as net;

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

    #[test]
    fn each_router_takes_the_next_address_the_host_does_not_have() {
        let at = |host: &str, k| router_address_at(&net(host), k).ok().map(|a| a.to_string());
        assert_eq!(at("10.52.1.10/24", 0).as_deref(), Some("10.52.1.1"));
        assert_eq!(at("10.52.1.10/24", 1).as_deref(), Some("10.52.1.2"));
        assert_eq!(at("10.52.1.2/24", 1).as_deref(), Some("10.52.1.3"));
        assert_eq!(at("10.52.1.1/30", 1), None);
    }
}
