//! Links, addresses and routes through rtnetlink (the slow path only).
//!
//! A netlink socket talks to the network namespace its creating thread was
//! in. Each operation here therefore opens its own connection on a
//! short-lived thread (the caller's namespace, one entered through
//! [`netns::run_in`], or the thread that has just created the namespace,
//! see [`super::interface::configure_link_here`]) and drives it with a single-threaded tokio
//! runtime that ends with the operation. Nothing here runs per packet.

use std::fs::File;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

use anyhow::{anyhow, bail, Context, Result};
use futures::TryStreamExt;
use ipnet::{IpNet, Ipv4Net};
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{LinkAttribute, LinkMessage};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteNextHop, RouteNextHopFlags, RouteScope,
    RouteType,
};
use rtnetlink::{Handle, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder};

use super::netns;

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

/// Runs `operation` with a fresh rtnetlink connection in the named
/// namespace `namespace`.
fn with_connection_in<T, F, Fut>(namespace: &str, operation: F) -> Result<T>
where
    F: FnOnce(Handle) -> Fut + Send,
    Fut: Future<Output = Result<T>>,
    T: Send,
{
    netns::run_in(namespace, || with_connection(operation))
}

/// Runs `operation` on link `interface` of the named namespace
/// `namespace`, with a fresh connection there and the link's index.
fn on_link_in<T, F, Fut>(namespace: &str, interface: &str, operation: F) -> Result<T>
where
    F: FnOnce(Handle, u32) -> Fut + Send,
    Fut: Future<Output = Result<T>>,
    T: Send,
{
    with_connection_in(namespace, |handle| async move {
        let index = link_index(&handle, interface).await?;
        operation(handle, index).await
    })
}

/// Link `name` of the current thread's namespace.
async fn find_link(handle: &Handle, name: &str) -> Result<LinkMessage> {
    handle
        .link()
        .get()
        .match_name(name.to_owned())
        .execute()
        .try_next()
        .await
        .with_context(|| format!("looking up link {name}"))?
        .with_context(|| format!("link {name} not found"))
}

/// The index and the Ethernet address of link `name`.
pub(super) async fn link_index_and_mac(handle: &Handle, name: &str) -> Result<(u32, [u8; 6])> {
    let link = find_link(handle, name).await?;
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

/// Sets link `index` (named `name`, for the message) up over `handle`,
/// with whatever else `link` already asks of it (an MTU, a name).
pub(super) async fn bring_up(
    handle: &Handle,
    link: LinkMessageBuilder<LinkUnspec>,
    index: u32,
    name: &str,
) -> Result<()> {
    handle
        .link()
        .set(link.up().build())
        .execute()
        .await
        .with_context(|| format!("bringing up {name} (#{index})"))
}

/// The index of link `name` in the current thread's namespace.
pub(super) async fn link_index(handle: &Handle, name: &str) -> Result<u32> {
    Ok(find_link(handle, name).await?.header.index)
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
    with_connection_in(namespace, |handle| async move {
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
    .with_context(|| format!("listing links of network namespace {namespace}"))
}

/// Each link of the named namespace `namespace`, by name, with whether it
/// has a carrier (`IFF_LOWER_UP`: for a veth, its peer is up).
pub fn link_carriers(namespace: &str) -> Result<Vec<(String, bool)>> {
    use rtnetlink::packet_route::link::LinkFlags;
    with_connection_in(namespace, |handle| async move {
        let mut links = handle.link().get().execute();
        let mut out = Vec::new();
        while let Some(link) = links.try_next().await? {
            let up = link.header.flags.contains(LinkFlags::LowerUp);
            for attribute in link.attributes {
                if let LinkAttribute::IfName(name) = attribute {
                    out.push((name, up));
                }
            }
        }
        Ok(out)
    })
    .with_context(|| format!("listing links of network namespace {namespace}"))
}

/// The interface through which `namespace`'s kernel sends a packet to
/// `destination` now (`ip route get DESTINATION`), by name; `None` when it
/// has no route to it.
pub fn route_interface(namespace: &str, destination: Ipv4Addr) -> Result<Option<String>> {
    with_connection_in(namespace, |handle| async move {
        let query = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(destination, 32)
            .build();
        let mut answers = handle.route().get(query).execute();
        let index = match answers.try_next().await {
            Ok(Some(route)) => route.attributes.iter().find_map(|a| match a {
                RouteAttribute::Oif(index) => Some(*index),
                _ => None,
            }),
            Ok(None) => None,
            // ENETUNREACH: no route.
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENETUNREACH => None,
            Err(e) => return Err(e.into()),
        };
        let Some(index) = index else {
            return Ok(None);
        };
        let mut links = handle.link().get().match_index(index).execute();
        let name = links.try_next().await?.and_then(|link| {
            link.attributes.into_iter().find_map(|a| match a {
                LinkAttribute::IfName(name) => Some(name),
                _ => None,
            })
        });
        Ok(name)
    })
    .with_context(|| format!("asking network namespace {namespace} its route to {destination}"))
}

/// Sets link `interface` of `namespace` up.
pub fn set_link_up(namespace: &str, interface: &str) -> Result<()> {
    on_link_in(namespace, interface, |handle, index| async move {
        handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await?;
        Ok(())
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
    on_link_in(namespace, name, |handle, index| async move {
        handle.link().del(index).execute().await?;
        Ok(())
    })
    .with_context(|| format!("deleting link {name} of network namespace {namespace}"))
}

/// Adds `address` (with its prefix length) to `interface` of
/// `namespace`; an IPv6 one without duplicate address detection, usable
/// at once.
pub fn add_address(namespace: &str, interface: &str, address: IpNet) -> Result<()> {
    on_link_in(namespace, interface, |handle, index| async move {
        add_address_to(&handle, index, address).await
    })
    .with_context(|| format!("adding {address} to {interface} in network namespace {namespace}"))
}

/// Adds `address` to link `index` over `handle`; an IPv6 one `nodad`.
pub(super) async fn add_address_to(handle: &Handle, index: u32, address: IpNet) -> Result<()> {
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
    on_link_in(namespace, interface, |handle, index| async move {
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
    .with_context(|| {
        format!("routing {destination} from {source} out of {interface} in network namespace {namespace}")
    })
}

/// A default route of `namespace` through `gateway` out of `interface`,
/// `onlink` (the gateway is taken as on the link whatever the
/// interface's addresses).
pub fn add_default_route(namespace: &str, interface: &str, gateway: IpAddr) -> Result<()> {
    on_link_in(namespace, interface, |handle, index| async move {
        handle
            .route()
            .add(default_route(index, gateway))
            .execute()
            .await?;
        Ok(())
    })
    .with_context(|| {
        format!(
            "adding a default route via {gateway} dev {interface} in network namespace {namespace}"
        )
    })
}

/// A default route of `namespace` through several neighbours at once
/// (`ip route add default nexthop via A dev X onlink nexthop via B dev Y
/// onlink`): flows spread over them by the namespace's multipath hash.
pub fn add_multipath_default_route(namespace: &str, hops: &[(String, Ipv4Addr)]) -> Result<()> {
    let names: Vec<String> = hops
        .iter()
        .map(|(dev, via)| format!("{via} dev {dev}"))
        .collect();
    with_connection_in(namespace, |handle| async move {
        let mut next_hops = Vec::new();
        for (interface, via) in hops {
            let mut hop = RouteNextHop::default();
            hop.interface_index = link_index(&handle, interface).await?;
            hop.flags = RouteNextHopFlags::Onlink;
            hop.attributes
                .push(RouteAttribute::Gateway(RouteAddress::Inet(*via)));
            next_hops.push(hop);
        }
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .multipath(next_hops)
            .build();
        handle.route().add(route).execute().await?;
        Ok(())
    })
    .with_context(|| {
        format!(
            "adding a default route via {} in network namespace {namespace}",
            names.join(", ")
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
    on_link_in(namespace, interface, |handle, index| async move {
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
    with_connection_in(namespace, |handle| async move {
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
    .with_context(|| format!("routing {prefix} through {names} in network namespace {namespace}"))
}

/// Routes `prefix` in `namespace` through the neighbour `via`, replacing a
/// route to it there (`ip route replace PREFIX via VIA`): the kernel finds
/// the interface that reaches `via`.
pub fn replace_gateway_route(namespace: &str, prefix: Ipv4Net, via: Ipv4Addr) -> Result<()> {
    with_connection_in(namespace, |handle| async move {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(prefix.network(), prefix.prefix_len())
            .gateway(via)
            .build();
        handle.route().add(route).replace().execute().await?;
        Ok(())
    })
    .with_context(|| format!("routing {prefix} via {via} in network namespace {namespace}"))
}

/// `lo`'s index: the first device of every network namespace.
const LOOPBACK_INDEX: u32 = 1;

/// Makes every address of `prefix` the namespace's own (an AnyIP route:
/// `ip route add local PREFIX dev lo` in the main table, so more specific
/// routes there still win).
pub fn add_local_route(namespace: &str, prefix: IpNet) -> Result<()> {
    with_connection_in(namespace, |handle| async move {
        let route = match prefix {
            IpNet::V4(p) => RouteMessageBuilder::<Ipv4Addr>::new()
                .destination_prefix(p.network(), p.prefix_len())
                .output_interface(LOOPBACK_INDEX)
                .kind(RouteType::Local)
                .scope(RouteScope::Host)
                .build(),
            IpNet::V6(p) => RouteMessageBuilder::<Ipv6Addr>::new()
                .destination_prefix(p.network(), p.prefix_len())
                .output_interface(LOOPBACK_INDEX)
                .kind(RouteType::Local)
                .scope(RouteScope::Host)
                .build(),
        };
        handle.route().add(route).replace().execute().await?;
        Ok(())
    })
    .with_context(|| format!("holding every address of {prefix} in network namespace {namespace}"))
}

/// Delivers every IPv4 packet marked `mark` in `namespace` to the
/// namespace itself: a table `table` that holds every address as local
/// (`ip route add local 0.0.0.0/0 dev lo table T`) and the rule that
/// sends marked packets to it (`ip rule add fwmark M lookup T`), as a
/// transparent proxy needs. Done twice, it changes nothing.
pub fn route_marked_locally(namespace: &str, mark: u32, table: u32) -> Result<()> {
    with_connection_in(namespace, |handle| async move {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(Ipv4Addr::UNSPECIFIED, 0)
            .output_interface(LOOPBACK_INDEX)
            .kind(RouteType::Local)
            .scope(RouteScope::Host)
            .table_id(table)
            .build();
        handle.route().add(route).replace().execute().await?;
        let mut existing = handle.rule().get(rtnetlink::IpVersion::V4).execute();
        while let Some(rule) = existing.try_next().await? {
            let marked = rule.attributes.iter().any(|a| {
                matches!(a, rtnetlink::packet_route::rule::RuleAttribute::FwMark(m) if *m == mark)
            });
            if marked {
                return Ok(());
            }
        }
        handle
            .rule()
            .add()
            .v4()
            .fw_mark(mark)
            .table_id(table)
            .action(rtnetlink::packet_route::rule::RuleAction::ToTable)
            .execute()
            .await?;
        Ok(())
    })
    .with_context(|| format!("routing marked packets locally in network namespace {namespace}"))
}

/// Routes `prefix` out of `interface` of `namespace` with no gateway
/// (`ip route replace PREFIX dev IFACE`), either family.
pub fn replace_interface_route(namespace: &str, interface: &str, prefix: IpNet) -> Result<()> {
    on_link_in(namespace, interface, |handle, index| async move {
        handle
            .route()
            .add(device_route(index, prefix))
            .replace()
            .execute()
            .await?;
        Ok(())
    })
    .with_context(|| {
        format!("routing {prefix} out of {interface} in network namespace {namespace}")
    })
}

/// Removes the main table's route to `prefix` out of `interface` in
/// `namespace`, either family; one that is not there is not an error.
pub fn delete_interface_route(namespace: &str, interface: &str, prefix: IpNet) -> Result<()> {
    on_link_in(namespace, interface, |handle, index| async move {
        match handle
            .route()
            .del(device_route(index, prefix))
            .execute()
            .await
        {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ESRCH => Ok(()),
            Err(e) => Err(e.into()),
        }
    })
    .with_context(|| {
        format!(
            "removing the route to {prefix} out of {interface} in network namespace {namespace}"
        )
    })
}

/// Removes the main table's route to `prefix` in `namespace` (`ip route
/// del PREFIX`); one that is not there is not an error.
pub fn delete_route(namespace: &str, prefix: Ipv4Net) -> Result<()> {
    with_connection_in(namespace, |handle| async move {
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
    .with_context(|| format!("removing the route to {prefix} in network namespace {namespace}"))
}

/// A default route out of link `index` through `gateway`, `onlink` (the
/// gateway is taken as on the link whatever the link's addresses).
pub(super) fn default_route(index: u32, gateway: IpAddr) -> RouteMessage {
    match gateway {
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
    }
}

/// A route to `prefix` out of interface `index` with no gateway. An IPv4
/// one has link scope, as `ip route add PREFIX dev IFACE` makes it: the
/// destination is taken as directly reachable on the link.
pub(super) fn device_route(index: u32, prefix: IpNet) -> RouteMessage {
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
