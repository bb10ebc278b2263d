//! Links, addresses and routes through rtnetlink (the slow path only).
//!
//! A netlink socket talks to the network namespace its creating thread was
//! in. Each operation here therefore opens its own connection on a
//! short-lived thread (the caller's namespace, one entered through
//! [`netns::run_in`], or the thread that has just created the namespace,
//! see [`configure_link_here`]) and drives it with a single-threaded tokio
//! runtime that ends with the operation. Nothing here runs per packet.

use std::fs::File;
use std::future::Future;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use futures::TryStreamExt;
use ipnet::{IpNet, Ipv4Net};
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::LinkAttribute;
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteNextHop, RouteScope, RouteType,
};
use rtnetlink::{Handle, LinkUnspec, LinkVeth, RouteMessageBuilder};

use super::netns;

/// How to set up an interface inside a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceConfig {
    /// Link MTU in bytes.
    pub mtu: u32,
    /// Addresses with their prefix lengths. IPv6 ones are added with
    /// `nodad`, so they are usable at once.
    pub addresses: Vec<IpNet>,
    /// Default gateways, at most one per address family, each of a family
    /// the interface has an address of. The default routes are `onlink`: a
    /// TUN device has no link layer, so the gateway is never resolved.
    pub gateways: Vec<IpAddr>,
    /// Prefixes routed out of the interface itself, with no gateway, each
    /// of a family the interface has an address of (the packets' source).
    /// On a TUN the device is the whole link, so no neighbour is resolved.
    pub device_routes: Vec<IpNet>,
    /// The namespace routes packets between its interfaces' neighbours
    /// (IPv4 and IPv6 forwarding on, ICMP redirects off).
    pub forwarding: bool,
}

/// Runs `operation` with a fresh rtnetlink connection, on the current thread,
/// so in the current thread's network namespace.
pub(super) fn with_connection<T, F, Fut>(operation: F) -> Result<T>
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("starting the netlink runtime")?;
    runtime.block_on(async move {
        let (connection, handle, _) =
            rtnetlink::new_connection().context("opening a netlink socket")?;
        let driver = tokio::spawn(connection);
        let result = operation(handle).await;
        driver.abort();
        result
    })
}

/// Runs `operation` with a fresh rtnetlink connection in the caller's
/// namespace, on a thread of its own (so it works from inside an async
/// runtime too).
fn in_current_namespace<T, F, Fut>(operation: F) -> Result<T>
where
    F: FnOnce(Handle) -> Fut + Send,
    Fut: Future<Output = Result<T>>,
    T: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| with_connection(operation))
            .join()
            .unwrap_or_else(|_| Err(anyhow!("netlink thread panicked")))
    })
}

/// The index and the Ethernet address of link `name`.
pub(super) async fn link_index_and_mac(handle: &Handle, name: &str) -> Result<(u32, [u8; 6])> {
    let link = handle
        .link()
        .get()
        .match_name(name.to_owned())
        .execute()
        .try_next()
        .await?
        .with_context(|| format!("link {name} not found"))?;
    let mac = link
        .attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::Address(bytes) => <[u8; 6]>::try_from(bytes.as_slice()).ok(),
            _ => None,
        })
        .with_context(|| format!("link {name} has no Ethernet address"))?;
    Ok((link.header.index, mac))
}

/// The index of link `name` in the current thread's namespace.
async fn link_index(handle: &Handle, name: &str) -> Result<u32> {
    let link = handle
        .link()
        .get()
        .match_name(name.to_owned())
        .execute()
        .try_next()
        .await
        .with_context(|| format!("looking up link {name}"))?;
    match link {
        Some(link) => Ok(link.header.index),
        None => bail!("link {name} not found"),
    }
}

/// How long an IPv6 address may take to get its local route.
const IPV6_ADDRESS_READY_TIMEOUT: Duration = Duration::from_secs(5);

/// The IPv6 addresses that have a local route, i.e. that accept packets.
async fn ipv6_local_addresses(handle: &Handle) -> Result<Vec<Ipv6Addr>> {
    let mut routes = handle
        .route()
        .get(RouteMessageBuilder::<Ipv6Addr>::new().build())
        .execute();
    let mut local = Vec::new();
    while let Some(route) = routes.try_next().await.context("listing IPv6 routes")? {
        if route.header.kind != RouteType::Local {
            continue;
        }
        for attribute in route.attributes {
            if let RouteAttribute::Destination(RouteAddress::Inet6(address)) = attribute {
                local.push(address);
            }
        }
    }
    Ok(local)
}

/// Waits until every IPv6 address in `addresses` accepts packets.
///
/// A `nodad` address can be bound at once, but the kernel installs its
/// local route from a work queue a moment later; a packet arriving in
/// between is dropped as not addressed to this host.
async fn wait_for_ipv6_addresses(
    handle: &Handle,
    interface: &str,
    addresses: &[IpNet],
) -> Result<()> {
    let wanted: Vec<Ipv6Addr> = addresses
        .iter()
        .filter_map(|a| match a.addr() {
            IpAddr::V6(address) => Some(address),
            IpAddr::V4(_) => None,
        })
        .collect();
    let deadline = Instant::now() + IPV6_ADDRESS_READY_TIMEOUT;
    loop {
        let local = ipv6_local_addresses(handle).await?;
        let missing: Vec<&Ipv6Addr> = wanted.iter().filter(|a| !local.contains(a)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "IPv6 addresses {missing:?} of {interface} got no local route within {:?}",
                IPV6_ADDRESS_READY_TIMEOUT
            );
        }
        // Nothing else runs on this runtime between requests.
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Moves the link with index `index` (in the caller's namespace) into the
/// named namespace `namespace` and renames it `new_name` there, in one
/// request, so the new name never has to be free in the caller's namespace.
pub fn move_link_into_namespace(index: u32, namespace: &str, new_name: &str) -> Result<()> {
    let path = netns::path_of(namespace);
    let target = File::open(&path)
        .with_context(|| format!("opening network namespace {namespace} ({})", path.display()))?;
    let target_fd = target.as_raw_fd();
    in_current_namespace(|handle| async move {
        let request = LinkUnspec::new_with_index(index)
            .setns_by_fd(target_fd)
            .name(new_name.to_owned())
            .build();
        handle.link().set(request).execute().await?;
        Ok(())
    })
    .with_context(|| {
        format!("moving link #{index} into network namespace {namespace} as {new_name}")
    })
}

/// The names of all links in the named namespace `namespace`.
pub fn link_names(namespace: &str) -> Result<Vec<String>> {
    netns::run_in(namespace, || {
        with_connection(|handle| async move {
            let mut links = handle.link().get().execute();
            let mut names = Vec::new();
            while let Some(link) = links.try_next().await? {
                for attribute in link.attributes {
                    if let LinkAttribute::IfName(name) = attribute {
                        names.push(name);
                    }
                }
            }
            Ok(names)
        })
    })
    .with_context(|| format!("listing links of network namespace {namespace}"))
}

fn check_config(interface: &str, config: &InterfaceConfig) -> Result<()> {
    if config.mtu < 68 {
        bail!(
            "MTU {} of {interface} is below the IPv4 minimum of 68",
            config.mtu
        );
    }
    if config.mtu < 1280 && config.addresses.iter().any(|a| a.addr().is_ipv6()) {
        bail!(
            "MTU {} of {interface} is below the IPv6 minimum of 1280",
            config.mtu
        );
    }
    let v4_gateways = config.gateways.iter().filter(|g| g.is_ipv4()).count();
    let v6_gateways = config.gateways.len() - v4_gateways;
    if v4_gateways > 1 || v6_gateways > 1 {
        bail!("{interface} has more than one default gateway of one address family");
    }
    for gateway in &config.gateways {
        let same_family = config
            .addresses
            .iter()
            .any(|a| a.addr().is_ipv4() == gateway.is_ipv4());
        if !same_family {
            bail!("gateway {gateway} of {interface} has no address of its family on the link");
        }
    }
    for route in &config.device_routes {
        let same_family = config
            .addresses
            .iter()
            .any(|a| a.addr().is_ipv4() == route.addr().is_ipv4());
        if !same_family {
            bail!("route {route} dev {interface} has no address of its family on the link");
        }
        let default = route.prefix_len() == 0;
        if default
            && config
                .gateways
                .iter()
                .any(|g| g.is_ipv4() == route.addr().is_ipv4())
        {
            bail!("{interface} has both a default gateway and a default route {route} through the device");
        }
    }
    Ok(())
}

/// Quiets IPv6 autoconfiguration on `interface` in the current thread's
/// namespace: no router solicitations, no router advertisements accepted,
/// no duplicate address detection (nothing on the far side of a TUN would
/// answer, and the addresses must be usable at once).
fn quiet_ipv6_autoconf(interface: &str) -> Result<()> {
    let directory = format!("/proc/sys/net/ipv6/conf/{interface}");
    if !std::path::Path::new(&directory).exists() {
        // IPv6 is disabled in this kernel: nothing to quiet.
        return Ok(());
    }
    for (setting, value) in [
        ("accept_ra", "0"),
        ("router_solicitations", "0"),
        ("accept_dad", "0"),
        ("dad_transmits", "0"),
    ] {
        let file = format!("{directory}/{setting}");
        match std::fs::write(&file, value) {
            Ok(()) => {}
            // Some of these settings do not exist on older kernels.
            Err(err) if err.kind() == ErrorKind::NotFound => {}
            Err(err) => return Err(err).with_context(|| format!("writing {value} to {file}")),
        }
    }
    Ok(())
}

/// Writes the namespace's forwarding settings. Redirects are never sent or
/// accepted: every neighbour is reached through one point-to-point link, so
/// a redirect could only point back at the same link.
fn set_forwarding(interface: &str, forwarding: bool) -> Result<()> {
    let on = if forwarding { "1" } else { "0" };
    let mut settings = vec![
        ("/proc/sys/net/ipv4/ip_forward".to_string(), on),
        (
            "/proc/sys/net/ipv4/conf/all/send_redirects".to_string(),
            "0",
        ),
        (
            format!("/proc/sys/net/ipv4/conf/{interface}/send_redirects"),
            "0",
        ),
        (
            "/proc/sys/net/ipv4/conf/all/accept_redirects".to_string(),
            "0",
        ),
        (
            format!("/proc/sys/net/ipv4/conf/{interface}/accept_redirects"),
            "0",
        ),
    ];
    if std::path::Path::new("/proc/sys/net/ipv6").exists() {
        settings.push(("/proc/sys/net/ipv6/conf/all/forwarding".to_string(), on));
        settings.push((
            format!("/proc/sys/net/ipv6/conf/{interface}/accept_redirects"),
            "0",
        ));
    }
    for (file, value) in settings {
        std::fs::write(&file, value).with_context(|| format!("writing {value} to {file}"))?;
    }
    Ok(())
}

/// Turns forwarding on or off in a namespace (see [`InterfaceConfig::forwarding`]).
pub fn set_namespace_forwarding(namespace: &str, interface: &str, forwarding: bool) -> Result<()> {
    netns::run_in(namespace, || set_forwarding(interface, forwarding))
}

/// Sets up the link `interface` inside the named namespace `namespace`:
/// `lo` up; IPv6 autoconfiguration quieted; MTU; addresses; link up; one
/// default route per gateway; the routes through the device. Returns once
/// every address accepts packets.
pub fn configure_interface(
    namespace: &str,
    interface: &str,
    config: &InterfaceConfig,
) -> Result<()> {
    check_config(interface, config)?;
    netns::run_in(namespace, || {
        with_connection(|handle| async move {
            let index = link_index(&handle, interface).await?;
            set_up_link(&handle, index, interface, config).await
        })
    })
    .with_context(|| format!("configuring {interface} in network namespace {namespace}"))
}

/// Names the link with index `index` `interface` and sets it up as
/// [`configure_interface`] does, in the current thread's namespace, over
/// one netlink connection. The link must be down (a new TUN device is).
pub fn configure_link_here(index: u32, interface: &str, config: &InterfaceConfig) -> Result<()> {
    check_config(interface, config)?;
    with_connection(|handle| async move {
        handle
            .link()
            .set(
                LinkUnspec::new_with_index(index)
                    .name(interface.to_owned())
                    .build(),
            )
            .execute()
            .await
            .with_context(|| format!("naming link #{index} {interface}"))?;
        set_up_link(&handle, index, interface, config).await
    })
}

/// The common part of [`configure_interface`] and [`configure_link_here`]:
/// the link `index` already carries its final name `interface`.
async fn set_up_link(
    handle: &Handle,
    index: u32,
    interface: &str,
    config: &InterfaceConfig,
) -> Result<()> {
    // Before the link goes up: no router solicitation or DAD ever starts.
    quiet_ipv6_autoconf(interface)?;
    set_forwarding(interface, config.forwarding)?;
    let loopback = link_index(handle, "lo").await?;
    handle
        .link()
        .set(LinkUnspec::new_with_index(loopback).up().build())
        .execute()
        .await
        .context("setting lo up")?;

    handle
        .link()
        .set(LinkUnspec::new_with_index(index).mtu(config.mtu).build())
        .execute()
        .await
        .with_context(|| format!("setting MTU {} on {interface}", config.mtu))?;

    for address in &config.addresses {
        let mut request = handle
            .address()
            .add(index, address.addr(), address.prefix_len());
        if address.addr().is_ipv6() {
            request
                .message_mut()
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        request
            .execute()
            .await
            .with_context(|| format!("adding address {address} to {interface}"))?;
    }

    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .with_context(|| format!("setting {interface} up"))?;

    for gateway in &config.gateways {
        let route = match *gateway {
            IpAddr::V4(gateway) => RouteMessageBuilder::<Ipv4Addr>::new()
                .output_interface(index)
                .gateway(gateway)
                .onlink()
                .build(),
            IpAddr::V6(gateway) => RouteMessageBuilder::<Ipv6Addr>::new()
                .output_interface(index)
                .gateway(gateway)
                .onlink()
                .build(),
        };
        handle
            .route()
            .add(route)
            .execute()
            .await
            .with_context(|| format!("adding default route via {gateway} dev {interface}"))?;
    }
    for prefix in &config.device_routes {
        handle
            .route()
            .add(device_route(index, *prefix))
            .execute()
            .await
            .with_context(|| format!("adding route {prefix} dev {interface}"))?;
    }
    wait_for_ipv6_addresses(handle, interface, &config.addresses).await
}

/// Sets link `interface` of `namespace` up.
pub fn set_link_up(namespace: &str, interface: &str) -> Result<()> {
    netns::run_in(namespace, || {
        with_connection(|handle| async move {
            let index = link_index(&handle, interface).await?;
            handle
                .link()
                .set(LinkUnspec::new_with_index(index).up().build())
                .execute()
                .await?;
            Ok(())
        })
    })
    .with_context(|| format!("setting {interface} up in network namespace {namespace}"))
}

/// Adds a veth pair: `name` in `namespace`, its peer in `peer_namespace`
/// as `peer_name` (see [`add_veth_here`]).
pub fn add_veth_pair(
    namespace: &str,
    name: &str,
    peer_namespace: &str,
    peer_name: &str,
) -> Result<()> {
    netns::run_in(namespace, || {
        add_veth_here(name, peer_namespace, peer_name, None).map(|_| ())
    })
    .with_context(|| format!("in network namespace {namespace}"))
}

/// Adds a veth pair in the current thread's namespace: `name` stays here,
/// down; its peer moves into `peer_namespace` as `peer_name` (with the
/// link-layer address `peer_mac`, if given) in the request that moves it,
/// so `peer_name` need only be free where it ends up. Returns the index and
/// the link-layer address of `name`.
pub fn add_veth_here(
    name: &str,
    peer_namespace: &str,
    peer_name: &str,
    peer_mac: Option<[u8; 6]>,
) -> Result<(u32, [u8; 6])> {
    let born = format!("{name}-peer");
    let path = netns::path_of(peer_namespace);
    let target = File::open(&path).with_context(|| {
        format!(
            "opening network namespace {peer_namespace} ({})",
            path.display()
        )
    })?;
    let target_fd = target.as_raw_fd();
    with_connection(|handle| async move {
        handle
            .link()
            .add(LinkVeth::new(name, &born).build())
            .execute()
            .await?;
        let peer = link_index(&handle, &born).await?;
        let mut request = LinkUnspec::new_with_index(peer);
        if let Some(mac) = peer_mac {
            request = request.address(mac.to_vec());
        }
        let request = request
            .setns_by_fd(target_fd)
            .name(peer_name.to_owned())
            .build();
        handle.link().set(request).execute().await?;
        link_index_and_mac(&handle, name).await
    })
    .with_context(|| format!("adding veth {name} to {peer_name} in {peer_namespace}"))
}

/// Deletes link `name` of the named namespace `namespace`.
pub fn delete_link(namespace: &str, name: &str) -> Result<()> {
    netns::run_in(namespace, || {
        with_connection(|handle| async move {
            let index = link_index(&handle, name).await?;
            handle.link().del(index).execute().await?;
            Ok(())
        })
    })
    .with_context(|| format!("deleting link {name} of network namespace {namespace}"))
}

/// Adds `address` (with its prefix length) to `interface` of
/// `namespace`; an IPv6 one without duplicate address detection, usable
/// at once.
pub fn add_address(namespace: &str, interface: &str, address: IpNet) -> Result<()> {
    netns::run_in(namespace, || {
        with_connection(|handle| async move {
            let index = link_index(&handle, interface).await?;
            let mut request = handle
                .address()
                .add(index, address.addr(), address.prefix_len());
            if address.addr().is_ipv6() {
                request
                    .message_mut()
                    .attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
            request.execute().await?;
            Ok(())
        })
    })
    .with_context(|| format!("adding {address} to {interface} in network namespace {namespace}"))
}

/// Routes the single address `destination` out of `interface` of
/// `namespace`, packets to it leaving from `source` (`ip route add DEST
/// dev IFACE src SOURCE`).
pub fn add_host_route(
    namespace: &str,
    interface: &str,
    destination: IpAddr,
    source: IpAddr,
) -> Result<()> {
    netns::run_in(namespace, || {
        with_connection(|handle| async move {
            let index = link_index(&handle, interface).await?;
            let route = match (destination, source) {
                (IpAddr::V4(d), IpAddr::V4(s)) => RouteMessageBuilder::<Ipv4Addr>::new()
                    .destination_prefix(d, 32)
                    .output_interface(index)
                    .scope(RouteScope::Link)
                    .pref_source(s)
                    .build(),
                (IpAddr::V6(d), IpAddr::V6(s)) => RouteMessageBuilder::<Ipv6Addr>::new()
                    .destination_prefix(d, 128)
                    .output_interface(index)
                    .pref_source(s)
                    .build(),
                _ => bail!("{destination} and {source} are of different families"),
            };
            handle.route().add(route).execute().await?;
            Ok(())
        })
    })
    .with_context(|| {
        format!("routing {destination} from {source} out of {interface} in network namespace {namespace}")
    })
}

/// A default route of `namespace` through `gateway` out of `interface`,
/// `onlink` (the gateway is taken as on the link whatever the
/// interface's addresses).
pub fn add_default_route(namespace: &str, interface: &str, gateway: IpAddr) -> Result<()> {
    netns::run_in(namespace, || {
        with_connection(|handle| async move {
            let index = link_index(&handle, interface).await?;
            let route = match gateway {
                IpAddr::V4(gateway) => RouteMessageBuilder::<Ipv4Addr>::new()
                    .output_interface(index)
                    .gateway(gateway)
                    .onlink()
                    .build(),
                IpAddr::V6(gateway) => RouteMessageBuilder::<Ipv6Addr>::new()
                    .output_interface(index)
                    .gateway(gateway)
                    .onlink()
                    .build(),
            };
            handle.route().add(route).execute().await?;
            Ok(())
        })
    })
    .with_context(|| {
        format!(
            "adding a default route via {gateway} dev {interface} in network namespace {namespace}"
        )
    })
}

/// Gives `interface` of `namespace` the address `local` with `peer` at the
/// far end of the point-to-point link (`ip address add LOCAL/32 peer
/// PEER/32 dev IFACE`): the peer is reachable through the interface as a
/// connected neighbour.
pub fn add_peer_address(
    namespace: &str,
    interface: &str,
    local: Ipv4Addr,
    peer: Ipv4Addr,
) -> Result<()> {
    netns::run_in(namespace, || {
        with_connection(|handle| async move {
            let index = link_index(&handle, interface).await?;
            // Replaced, so that plumbing a tunnel again changes nothing.
            let mut request = handle.address().add(index, IpAddr::V4(local), 32).replace();
            for attribute in &mut request.message_mut().attributes {
                if let AddressAttribute::Address(address) = attribute {
                    *address = IpAddr::V4(peer);
                }
            }
            request.execute().await?;
            Ok(())
        })
    })
    .with_context(|| {
        format!("adding {local}/32 peer {peer}/32 to {interface} in network namespace {namespace}")
    })
}

/// Routes `prefix` out of `interfaces` of `namespace` with no gateway,
/// replacing a route to it there: through one interface as
/// `device_route` does, through several as one multipath route whose
/// next hops are the interfaces (`ip route replace PREFIX nexthop dev A
/// nexthop dev B`), the flows spread by the namespace's multipath hash.
pub fn replace_device_route(namespace: &str, prefix: Ipv4Net, interfaces: &[String]) -> Result<()> {
    let names = interfaces.join(", ");
    netns::run_in(namespace, || {
        with_connection(|handle| async move {
            let mut indexes = Vec::new();
            for interface in interfaces {
                indexes.push(link_index(&handle, interface).await?);
            }
            let route = match indexes.as_slice() {
                [] => bail!("no interface to route {prefix} through"),
                [index] => device_route(*index, IpNet::V4(prefix)),
                _ => RouteMessageBuilder::<Ipv4Addr>::new()
                    .destination_prefix(prefix.network(), prefix.prefix_len())
                    .multipath(
                        indexes
                            .iter()
                            .map(|&index| {
                                let mut hop = RouteNextHop::default();
                                hop.interface_index = index;
                                hop
                            })
                            .collect(),
                    )
                    .build(),
            };
            handle.route().add(route).replace().execute().await?;
            Ok(())
        })
    })
    .with_context(|| format!("routing {prefix} through {names} in network namespace {namespace}"))
}

/// Removes the main table's route to `prefix` in `namespace` (`ip route
/// del PREFIX`); one that is not there is not an error.
pub fn delete_route(namespace: &str, prefix: Ipv4Net) -> Result<()> {
    netns::run_in(namespace, || {
        with_connection(|handle| async move {
            let route = RouteMessageBuilder::<Ipv4Addr>::new()
                .destination_prefix(prefix.network(), prefix.prefix_len())
                .build();
            match handle.route().del(route).execute().await {
                Ok(()) => Ok(()),
                // ESRCH: no such route.
                Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ESRCH => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
    })
    .with_context(|| format!("removing the route to {prefix} in network namespace {namespace}"))
}

/// A route to `prefix` out of interface `index` with no gateway. An IPv4
/// one has link scope, as `ip route add PREFIX dev IFACE` makes it: the
/// destination is taken as directly reachable on the link.
fn device_route(index: u32, prefix: IpNet) -> rtnetlink::packet_route::route::RouteMessage {
    match prefix {
        IpNet::V4(p) => RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(p.network(), p.prefix_len())
            .output_interface(index)
            .scope(RouteScope::Link)
            .build(),
        IpNet::V6(p) => RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix(p.network(), p.prefix_len())
            .output_interface(index)
            .build(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(addresses: &[&str], gateways: &[&str], mtu: u32) -> InterfaceConfig {
        InterfaceConfig {
            mtu,
            forwarding: false,
            addresses: addresses
                .iter()
                .map(|a| a.parse().expect("literal"))
                .collect(),
            gateways: gateways
                .iter()
                .map(|g| g.parse().expect("literal"))
                .collect(),
            device_routes: Vec::new(),
        }
    }

    #[test]
    fn a_dual_stack_config_is_accepted() {
        let good = config(
            &["10.0.0.4/24", "fd00::4/64"],
            &["10.0.0.1", "fd00::1"],
            1500,
        );
        assert!(check_config("eth0", &good).is_ok());
    }

    #[test]
    fn gateways_need_an_address_of_their_family() {
        let err = check_config("eth0", &config(&["10.0.0.4/24"], &["fd00::1"], 1500))
            .expect_err("IPv6 gateway without IPv6 address");
        assert!(err.to_string().contains("no address of its family"));
    }

    #[test]
    fn one_gateway_per_family() {
        let err = check_config(
            "eth0",
            &config(&["10.0.0.4/24"], &["10.0.0.1", "10.0.0.2"], 1500),
        )
        .expect_err("two IPv4 gateways");
        assert!(err.to_string().contains("more than one"));
    }

    #[test]
    fn device_routes_need_an_address_of_their_family_and_no_rival_default() {
        let mut prober = config(&["168.63.129.16/32"], &[], 1500);
        prober.device_routes = vec!["0.0.0.0/0".parse().expect("literal")];
        assert!(check_config("eth0", &prober).is_ok());
        prober.device_routes = vec!["::/0".parse().expect("literal")];
        let err = check_config("eth0", &prober).expect_err("IPv6 route, IPv4 address only");
        assert!(
            err.to_string().contains("no address of its family"),
            "{err}"
        );
        let mut both = config(&["10.0.0.4/24"], &["10.0.0.1"], 1500);
        both.device_routes = vec!["0.0.0.0/0".parse().expect("literal")];
        let err = check_config("eth0", &both).expect_err("two default routes");
        assert!(err.to_string().contains("both a default gateway"), "{err}");
        both.device_routes = vec!["192.0.2.0/24".parse().expect("literal")];
        assert!(check_config("eth0", &both).is_ok());
    }

    #[test]
    fn mtu_limits_follow_the_address_families() {
        assert!(check_config("eth0", &config(&["10.0.0.4/24"], &[], 576)).is_ok());
        assert!(check_config("eth0", &config(&["10.0.0.4/24"], &[], 67)).is_err());
        assert!(check_config("eth0", &config(&["fd00::4/64"], &[], 1279)).is_err());
    }
}
