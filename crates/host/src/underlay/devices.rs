//! The underlay's devices and their tc attachments, through rtnetlink.
//!
//! Everything here works in the namespace of the thread that calls it
//! (`*_here`), on a connection of its own: [`here`] runs work on a new
//! thread of the caller's namespace, [`run_in`] on one that entered the
//! namespace open as a file. The devices' namespace is held open as a file
//! rather than found again by name, so that they are removed from where
//! they were made, whichever thread or namespace removes them.

use std::fs::File;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::RawFd;

use anyhow::{anyhow, Context, Result};
use futures::TryStreamExt;
use nix::sched::{setns, CloneFlags};
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::LinkAttribute;
use rtnetlink::{LinkMessageBuilder, LinkUnspec, LinkVxlan};

use super::super::bpf::tc::{self, create, Hook, Program};
use super::super::netlink::{bring_up, link_index, with_connection};

/// The UDP port of the underlay's VXLAN device, IANA's for VXLAN: where
/// it listens, and where it sends to on the other hosts.
pub const VXLAN_PORT: u16 = 4789;

/// Runs `work` on a new thread, which is in the caller's namespace (a
/// thread starts in its creator's), and away from any async runtime the
/// caller may be in.
pub fn here<R, F>(work: F) -> Result<R>
where
    F: FnOnce() -> Result<R> + Send,
    R: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(work)
            .join()
            .unwrap_or_else(|_| Err(anyhow!("the underlay's netlink thread panicked")))
    })
}

/// Runs `work` on a new thread that has entered the network namespace open
/// as `namespace`.
pub fn run_in<R, F>(namespace: &File, work: F) -> Result<R>
where
    F: FnOnce() -> Result<R> + Send,
    R: Send,
{
    here(|| {
        setns(namespace, CloneFlags::CLONE_NEWNET)
            .context("entering the namespace of the underlay's devices")?;
        work()
    })
}

/// The name and the MTU of the interface of the current thread's namespace
/// that holds `local`.
pub fn mtu_of_address_here(local: Ipv4Addr) -> Result<(String, u32)> {
    with_connection(|handle| async move {
        let mut index = None;
        // Read to the end: a dump left half-read would answer the next
        // request.
        let mut addresses = handle.address().get().execute();
        while let Some(message) = addresses.try_next().await? {
            // IFA_LOCAL is the interface's own address; IFA_ADDRESS is
            // the peer's on a point-to-point link, and the same otherwise.
            let own = message
                .attributes
                .iter()
                .find_map(|a| match a {
                    AddressAttribute::Local(address) => Some(*address),
                    _ => None,
                })
                .or_else(|| {
                    message.attributes.iter().find_map(|a| match a {
                        AddressAttribute::Address(address) => Some(*address),
                        _ => None,
                    })
                });
            if own == Some(IpAddr::V4(local)) && index.is_none() {
                index = Some(message.header.index);
            }
        }
        let index = index.with_context(|| {
            format!("no interface of this namespace has the underlay address {local}")
        })?;
        let link = handle
            .link()
            .get()
            .match_index(index)
            .execute()
            .try_next()
            .await?
            .with_context(|| format!("link #{index}, which holds {local}, vanished"))?;
        let mut name = format!("#{index}");
        let mut mtu = None;
        for attribute in link.attributes {
            match attribute {
                LinkAttribute::IfName(n) => name = n,
                LinkAttribute::Mtu(m) => mtu = Some(m),
                _ => {}
            }
        }
        let mtu = mtu.with_context(|| format!("link {name} has no MTU"))?;
        Ok((name, mtu))
    })
    .with_context(|| format!("finding the MTU of the interface that holds {local}"))
}

/// Adds, from the current thread's namespace, the VXLAN device `name` in
/// external mode on [`VXLAN_PORT`], leaving from `local`, with MTU `mtu`,
/// down. With `target` (a namespace's file descriptor) it is born there,
/// while its UDP socket is opened in the current thread's namespace when
/// it goes up: the kernel keeps a VXLAN device's socket, routes and
/// addresses in the namespace that made it.
pub fn add_vxlan_here(name: &str, local: Ipv4Addr, mtu: u32, target: Option<RawFd>) -> Result<()> {
    with_connection(|handle| async move {
        let mut request = LinkMessageBuilder::<LinkVxlan>::new(name)
            .collect_metadata(true)
            .learning(false)
            .port(VXLAN_PORT)
            .local(local)
            .mtu(mtu);
        if let Some(fd) = target {
            request = request.setns_by_fd(fd);
        }
        handle.link().add(request.build()).execute().await?;
        Ok(())
    })
    .with_context(|| {
        format!("adding the VXLAN device {name} (external, dstport {VXLAN_PORT}, local {local})")
    })
}

/// The indexes of links `names` in the current thread's namespace.
pub fn indexes_here<const N: usize>(names: [&str; N]) -> Result<[u32; N]> {
    with_connection(|handle| async move {
        let mut indexes = [0; N];
        for (index, name) in indexes.iter_mut().zip(names) {
            *index = link_index(&handle, name).await?;
        }
        Ok(indexes)
    })
}

/// A device of the current thread's namespace and the program to run at
/// its ingress.
pub struct Attachment<'a> {
    pub index: u32,
    pub name: &'a str,
    pub program: Program<'a>,
}

/// The priority of the underlay's own filters: one program that runs
/// before them ([`attach_first_here`]) has priority 1.
const OWN_PRIORITY: u32 = 2;
const FIRST_PRIORITY: u32 = 1;

/// Turns IPv6 off on `interface` of the current thread's namespace (if
/// the kernel has it): the underlay's devices carry frames only, and an
/// IPv6 stack of their own would send router solicitations and MLD
/// reports, to the daemon through the TAP.
fn disable_ipv6_here(interface: &str) -> Result<()> {
    let file = format!("/proc/sys/net/ipv6/conf/{interface}/disable_ipv6");
    match std::fs::write(&file, "1") {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err).with_context(|| format!("writing 1 to {file}")),
    }
}

/// In the current thread's namespace, each device of `attachments`, still
/// down: IPv6 off, a `clsact` qdisc with the program at its ingress, the
/// MTU `mtu`, then up. The TAP (`tap`, one of them) also gets `noqueue`
/// as its root qdisc: what the kernel hands it goes straight to the
/// reader's ring (a multi-queue device would otherwise get a `pfifo_fast`
/// per queue, holding nothing a full ring would not drop anyway).
/// Everything before the devices are up: a qdisc added to a device that
/// is up waits for the device to be deactivated.
pub fn plumb_here(attachments: &[Attachment<'_>], tap: u32, mtu: u32) -> Result<()> {
    for attachment in attachments {
        disable_ipv6_here(attachment.name)?;
    }
    with_connection(|mut handle| async move {
        create(&mut handle, tc::noqueue(tap))
            .await
            .context("giving the TAP device the noqueue qdisc")?;
        for attachment in attachments {
            let name = attachment.name;
            create(&mut handle, tc::clsact(attachment.index))
                .await
                .with_context(|| format!("adding a clsact qdisc to {name}"))?;
            create(
                &mut handle,
                tc::filter(
                    Hook::Ingress(attachment.index),
                    &attachment.program,
                    OWN_PRIORITY,
                ),
            )
            .await
            .with_context(|| format!("attaching {} to {name}", attachment.program.name))?;
        }
        for attachment in attachments {
            let link = LinkUnspec::new_with_index(attachment.index).mtu(mtu);
            bring_up(&handle, link, attachment.index, attachment.name).await?;
        }
        Ok(())
    })
}

/// Attaches `program`, in the current thread's namespace, at the ingress of
/// device `index` (which [`plumb_here`] gave its program) before that
/// program: a frame it leaves (`TC_ACT_UNSPEC`) goes on to the device's own
/// program.
pub fn attach_first_here(index: u32, program: &Program<'_>) -> Result<()> {
    with_connection(|mut handle| async move {
        create(
            &mut handle,
            tc::filter(Hook::Ingress(index), program, FIRST_PRIORITY),
        )
        .await
    })
}

/// Deletes link `index` of the current thread's namespace if it is still
/// there under the name `name`; returns whether it was.
pub fn delete_here(index: u32, name: &str) -> Result<bool> {
    with_connection(|handle| async move {
        let found = handle
            .link()
            .get()
            .match_index(index)
            .execute()
            .try_next()
            .await;
        // Gone already (ENODEV): nothing to do.
        let Ok(Some(link)) = found else {
            return Ok(false);
        };
        let named = link
            .attributes
            .iter()
            .any(|a| matches!(a, LinkAttribute::IfName(n) if n == name));
        if !named {
            return Ok(false);
        }
        handle
            .link()
            .del(index)
            .execute()
            .await
            .with_context(|| format!("deleting link {name} (#{index})"))?;
        Ok(true)
    })
}

/// Deletes link `name` of the current thread's namespace, if it is there.
pub fn delete_named_here(name: &str) -> Result<()> {
    let Ok(index) = nix::net::if_::if_nametoindex(name) else {
        return Ok(());
    };
    delete_here(index, name).map(|_| ())
}
