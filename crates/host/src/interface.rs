//! An interface's setup inside its namespace: `lo` up, the settings that
//! keep a lab's links quiet (no IPv6 autoconfiguration, no redirects,
//! forwarding as the NIC asks), MTU, addresses, default gateways and the
//! routes through the device, through rtnetlink and, where netlink cannot
//! say it, the namespace's `/proc/sys/net` files.
//!
//! A NIC that neither forwards nor has an IPv6 address (most of a lab) is
//! set up through netlink alone: see [`InterfaceConfig`] and the comment
//! on why the files are avoided where they can be.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::packet_core::{DefaultNla, NLA_F_NESTED};
use rtnetlink::packet_route::link::{
    AfSpecInet, AfSpecInet6, AfSpecUnspec, In6AddrGenMode, LinkAttribute,
};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteType};
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};

use super::netlink::{add_address_to, default_route, device_route, link_index, with_connection};
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
    if wanted.is_empty() {
        return Ok(());
    }
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
/// answer, and the addresses must be usable at once); without IPv6
/// addresses, no IPv6 on it at all (`disable_ipv6`), so that a forwarding
/// namespace's kernel never reports its IPv6 multicast groups (MLD) where
/// the fabric has nowhere to send them.
fn quiet_ipv6_autoconf(interface: &str, ipv6: bool) -> Result<()> {
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
    ]
    .into_iter()
    .chain((!ipv6).then_some(("disable_ipv6", "1")))
    {
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

/// `lo`'s index: the first device of every network namespace.
const LOOPBACK_INDEX: u32 = 1;

/// `IPV4_DEVCONF_*` numbers (`linux/ip.h`) of the per-device IPv4 settings
/// a NIC that does not forward is given through netlink.
const IPV4_DEVCONF_FORWARDING: u16 = 1;
const IPV4_DEVCONF_ACCEPT_REDIRECTS: u16 = 4;
const IPV4_DEVCONF_SEND_REDIRECTS: u16 = 6;

/// `IFLA_INET_CONF`, nested: a list of (setting, value) attributes.
const IFLA_INET_CONF_NESTED: u16 = 1 | NLA_F_NESTED;

/// Whether this kernel has IPv6 (not booted with `ipv6.disable=1`); the
/// same for every namespace, so read once.
fn kernel_has_ipv6() -> bool {
    static HAS_IPV6: OnceLock<bool> = OnceLock::new();
    *HAS_IPV6.get_or_init(|| std::path::Path::new("/proc/net/if_inet6").exists())
}

/// For an interface that neither forwards nor has an IPv6 address (most
/// NICs of a lab), the settings [`quiet_ipv6_autoconf`] and
/// [`set_forwarding`] would write under `/proc/sys`, as one netlink
/// attribute of the request that sets its MTU: IPv4 forwarding and
/// redirects off on the device itself, and no IPv6 link-local address
/// (`addr_gen_mode` none), so no IPv6 packet ever leaves it: no router
/// solicitation, no duplicate address detection, no MLD report.
///
/// Why not the files: every namespace has its own copy of each file under
/// `/proc/sys/net` in one shared directory tree, and looking one up
/// compares its name with every namespace's copy, so eleven writes per NIC
/// made a lab's bring-up quadratic in its size (`benchmarks/scale.md`).
///
/// The namespace-wide values (`all`) are left as the namespace was born
/// with them: a device that does not forward takes only its own
/// `forwarding`, and nothing in a lab sends it a redirect (every
/// forwarding namespace has `send_redirects` off). An interface that
/// forwards, or has IPv6 addresses, is set up through the files.
fn link_settings_without_sysctl(config: &InterfaceConfig) -> Option<LinkAttribute> {
    if config.forwarding || config.addresses.iter().any(|a| a.addr().is_ipv6()) {
        return None;
    }
    let mut ipv4 = Vec::new();
    for setting in [
        IPV4_DEVCONF_FORWARDING,
        IPV4_DEVCONF_ACCEPT_REDIRECTS,
        IPV4_DEVCONF_SEND_REDIRECTS,
    ] {
        // One attribute: length 8, the setting's number, the value 0.
        ipv4.extend_from_slice(&8u16.to_ne_bytes());
        ipv4.extend_from_slice(&setting.to_ne_bytes());
        ipv4.extend_from_slice(&0u32.to_ne_bytes());
    }
    let mut families = vec![AfSpecUnspec::Inet(vec![AfSpecInet::Other(
        DefaultNla::new(IFLA_INET_CONF_NESTED, ipv4),
    )])];
    if kernel_has_ipv6() {
        families.push(AfSpecUnspec::Inet6(vec![AfSpecInet6::AddrGenMode(
            In6AddrGenMode::None,
        )]));
    }
    Some(LinkAttribute::AfSpecUnspec(families))
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
    let mut link = LinkUnspec::new_with_index(index).mtu(config.mtu);
    if let Some(settings) = link_settings_without_sysctl(config) {
        link = link.append_extra_attribute(settings);
    } else {
        let ipv6 = config.addresses.iter().any(|a| a.addr().is_ipv6());
        quiet_ipv6_autoconf(interface, ipv6)?;
        set_forwarding(interface, config.forwarding)?;
    }
    handle
        .link()
        .set(LinkUnspec::new_with_index(LOOPBACK_INDEX).up().build())
        .execute()
        .await
        .context("setting lo up")?;

    handle
        .link()
        .set(link.build())
        .execute()
        .await
        .with_context(|| format!("setting MTU {} on {interface}", config.mtu))?;

    for address in &config.addresses {
        add_address_to(handle, index, *address)
            .await
            .with_context(|| format!("adding address {address} to {interface}"))?;
    }

    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .with_context(|| format!("setting {interface} up"))?;

    let default_routes = config.gateways.iter().map(|gateway| {
        let doing = format!("adding default route via {gateway} dev {interface}");
        (default_route(index, *gateway), doing)
    });
    let device_routes = config.device_routes.iter().map(|prefix| {
        let doing = format!("adding route {prefix} dev {interface}");
        (device_route(index, *prefix), doing)
    });
    for (route, doing) in default_routes.chain(device_routes) {
        handle.route().add(route).execute().await.context(doing)?;
    }
    wait_for_ipv6_addresses(handle, interface, &config.addresses).await
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
