//! The fabric's own link work, shaped by what costs the kernel time.
//!
//! - A port's veth pair is made in one request with its peer born in the
//!   fabric namespace: moving a device between namespaces would unregister
//!   and register it again, with RCU grace periods in between.
//! - The programs are attached once, to two shared tc blocks; a port's
//!   devices only join them, before they are up (a qdisc added to a device
//!   that is up waits for the device to be deactivated).
//! - Links deleted in the fabric namespace, and host ends whose carrier
//!   comes and goes (their `eth0` set down and up), are learned from the
//!   kernel's link notifications (`RTMGRP_LINK`), read without waiting: an
//!   idle lab costs nothing, where listing every link would cost a dump of
//!   thousands of devices each time.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{Context, Result};
use futures::TryStreamExt;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::{LinkMessageBuilder, LinkUnspec, LinkVeth};

use super::super::bpf::tc::{self, create, Hook, Program};
use super::super::netlink::{bring_up, link_index_and_mac, with_connection};
use super::super::nlmsg::{self, IFINFO_LEN, IFLA_IFNAME, RTM_NEWLINK};

/// Adds, in the current thread's namespace, the veth `name` (down, MTU
/// `mtu`) whose peer `peer_name` is born in the namespace open as
/// `peer_namespace`, down, with MTU `peer_mtu` and the link-layer address
/// `peer_mac`. Returns the index and link-layer address of `name`. The
/// peer is born with its final MTU: each change of a device in a
/// namespace that holds thousands of veth peers is a notification that
/// makes the kernel walk the ids of all those namespaces.
pub fn add_veth_across(
    name: &str,
    (mtu, peer_mtu): (u32, u32),
    peer_namespace: &File,
    peer_name: &str,
    peer_mac: [u8; 6],
) -> Result<(u32, [u8; 6])> {
    let target_fd = peer_namespace.as_raw_fd();
    with_connection(|handle| async move {
        let peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name(peer_name.to_owned())
            .address(peer_mac.to_vec())
            .mtu(peer_mtu)
            .setns_by_fd(target_fd)
            .build();
        let request = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(name.to_owned())
            .mtu(mtu)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
            .build();
        handle.link().add(request).execute().await?;
        link_index_and_mac(&handle, name).await
    })
    .with_context(|| format!("adding veth {name} with its peer {peer_name} in the fabric"))
}

/// The fabric's shared tc blocks: the ingress of every host end runs the
/// filters of [`HOST_ENDS_BLOCK`], that of every TUN device those of
/// [`TUNS_BLOCK`]. Binding a device to a block is one `ingress` qdisc; the
/// programs are attached once, to the blocks. (A filter per device would
/// be two more requests per port, and the kernel keeps a list of the
/// blocks of devices without offload that it searches on every new
/// block: thousands of blocks would make each new one slower.)
pub const HOST_ENDS_BLOCK: u32 = 1;
pub const TUNS_BLOCK: u32 = 2;

/// In the current thread's namespace (the fabric's): binds its `lo` (down,
/// carrying nothing) to both blocks, so that they live as long as the
/// namespace whatever ports come and go, and attaches `from_port` to
/// [`HOST_ENDS_BLOCK`] and `from_daemon` to [`TUNS_BLOCK`], as `cls_bpf`
/// filters in direct-action mode.
pub fn set_up_blocks_here(from_port: Program<'_>, from_daemon: Program<'_>) -> Result<()> {
    with_connection(|mut handle| async move {
        create(
            &mut handle,
            tc::clsact_on_blocks(1, HOST_ENDS_BLOCK, TUNS_BLOCK),
        )
        .await
        .context("binding the fabric's lo to its tc blocks")?;
        for (block, program) in [(HOST_ENDS_BLOCK, from_port), (TUNS_BLOCK, from_daemon)] {
            create(&mut handle, tc::filter(Hook::Block(block), &program, 1))
                .await
                .with_context(|| format!("attaching {} to tc block {block}", program.name))?;
        }
        Ok(())
    })
}

/// Gives the TUN device `index` of the current thread's namespace, still
/// down, `noqueue` as its root qdisc. A multi-queue TUN device has 256
/// transmit queues, and bringing it up with none would give each a
/// `pfifo_fast` of its own, with rings sized for its queue length: about
/// 3 MiB of kernel memory a device, which ten thousand NICs do not have.
/// A TUN device never refuses a packet (a full queue drops it), so a queue
/// in front of it held nothing anyway.
pub fn noqueue_here(index: u32) -> Result<()> {
    with_connection(|mut handle| async move {
        create(&mut handle, tc::noqueue(index)).await?;
        Ok(())
    })
    .with_context(|| format!("giving TUN device #{index} the noqueue qdisc"))
}

/// A port's devices in the fabric namespace, as created (down).
pub struct PortDevices<'a> {
    pub host_end: u32,
    pub host_name: &'a str,
    pub tun: u32,
    pub tun_name: &'a str,
    /// The MTU of the TUN device (the port's `eth0`'s).
    pub mtu: u32,
    /// The MTU of the host end: larger than any a guest may give its
    /// `eth0`, so that every packet reaches the program.
    pub host_end_mtu: u32,
}

/// In the current thread's namespace (the fabric's), over one connection:
/// binds the host end's ingress to [`HOST_ENDS_BLOCK`] and the TUN
/// device's to [`TUNS_BLOCK`], gives the TUN device `noqueue` as its root
/// qdisc (see [`noqueue_here`]), then names each device, sets
/// its MTU and brings it up. Everything before the devices are up: a qdisc
/// added to a device that is up waits for the device to be deactivated.
pub fn plumb_here(port: &PortDevices<'_>) -> Result<()> {
    with_connection(|mut handle| async move {
        create(&mut handle, tc::noqueue(port.tun))
            .await
            .with_context(|| format!("giving {} the noqueue qdisc", port.tun_name))?;
        for (index, name, block) in [
            (port.host_end, port.host_name, HOST_ENDS_BLOCK),
            (port.tun, port.tun_name, TUNS_BLOCK),
        ] {
            create(&mut handle, tc::ingress_on_block(index, block))
                .await
                .with_context(|| format!("binding {name} to tc block {block}"))?;
        }
        for (index, name, mtu) in [
            (port.tun, port.tun_name, port.mtu),
            (port.host_end, port.host_name, port.host_end_mtu),
        ] {
            let link = LinkUnspec::new_with_index(index)
                .name(name.to_owned())
                .mtu(mtu);
            bring_up(&handle, link, index, name).await?;
        }
        Ok(())
    })
}

/// Deletes the links among `names` that exist in the current thread's
/// namespace; returns those it deleted.
pub fn delete_present_here(names: &[String]) -> Result<Vec<String>> {
    with_connection(|handle| async move {
        let mut deleted = Vec::new();
        for name in names {
            let found = handle
                .link()
                .get()
                .match_name(name.clone())
                .execute()
                .try_next()
                .await;
            // Gone already (ENODEV): nothing to do.
            let Ok(Some(link)) = found else { continue };
            handle
                .link()
                .del(link.header.index)
                .execute()
                .await
                .with_context(|| format!("deleting link {name}"))?;
            deleted.push(name.clone());
        }
        Ok(deleted)
    })
}

/// `RTMGRP_LINK`: the multicast group of link notifications.
const RTMGRP_LINK: u32 = 1;
/// `RTM_DELLINK`.
const RTM_DELLINK: u16 = 17;
/// `IFF_LOWER_UP`: the device has a carrier (a veth: its peer is up).
const IFF_LOWER_UP: u32 = 1 << 16;
/// What the kernel may queue for the watch before it drops notifications
/// (a lab that adds thousands of ports at once overflows it; the watcher
/// then lists the links once).
const WATCH_BUFFER: usize = 4 << 20;

/// A netlink socket subscribed to the link notifications of the namespace
/// it was opened in.
#[derive(Debug)]
pub struct LinkWatch {
    socket: OwnedFd,
}

/// What a [`LinkWatch`] read.
#[derive(Debug, PartialEq, Eq)]
pub enum Deleted {
    /// The links deleted since the last read, by name, and the links whose
    /// state was told since, each by name with whether it has a carrier
    /// (the last word for each, in order).
    Links {
        deleted: Vec<String>,
        carrier: Vec<(String, bool)>,
    },
    /// The kernel dropped notifications: what changed is unknown.
    Lost,
}

impl LinkWatch {
    /// Subscribes to the link notifications of the current thread's
    /// namespace.
    pub fn open_here() -> Result<LinkWatch> {
        use nix::sys::socket::{
            bind, setsockopt, socket, sockopt, AddressFamily, NetlinkAddr, SockFlag, SockProtocol,
            SockType,
        };
        let socket = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .context("opening a netlink socket for link notifications")?;
        bind(socket.as_raw_fd(), &NetlinkAddr::new(0, RTMGRP_LINK))
            .context("subscribing to link notifications")?;
        // Best effort: without it the default buffer only overflows
        // sooner, and an overflow is handled.
        let _ = setsockopt(&socket, sockopt::RcvBufForce, &WATCH_BUFFER);
        Ok(LinkWatch { socket })
    }

    /// The links deleted, and the carriers told, since the last read,
    /// without waiting.
    pub fn deleted(&self) -> Result<Deleted> {
        use nix::errno::Errno;
        use nix::sys::socket::{recv, MsgFlags};
        let (mut deleted, mut carrier) = (Vec::new(), Vec::new());
        let mut lost = false;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match recv(self.socket.as_raw_fd(), &mut buffer, MsgFlags::MSG_DONTWAIT) {
                Ok(read) => changes(&buffer[..read], &mut deleted, &mut carrier),
                Err(Errno::EAGAIN) => break,
                Err(Errno::EINTR) => continue,
                // The queue overflowed; reading goes on after it.
                Err(Errno::ENOBUFS) => lost = true,
                Err(err) => return Err(err).context("reading link notifications"),
            }
        }
        Ok(if lost {
            Deleted::Lost
        } else {
            Deleted::Links { deleted, carrier }
        })
    }
}

/// Adds to `deleted` the name of each link an `RTM_DELLINK` message of
/// `datagram` removes, and to `carrier` each link an `RTM_NEWLINK` message
/// tells of, with whether it has a carrier; anything malformed is skipped.
fn changes(datagram: &[u8], deleted: &mut Vec<String>, carrier: &mut Vec<(String, bool)>) {
    for (kind, _, message) in nlmsg::messages(datagram) {
        if let (RTM_DELLINK, Some(name)) = (kind, link_name(message)) {
            deleted.push(name);
        } else if let (RTM_NEWLINK, Some(name), Some(flags)) =
            (kind, link_name(message), message.get(8..12))
        {
            let flags = u32::from_ne_bytes(flags.try_into().expect("4 bytes"));
            carrier.push((name, flags & IFF_LOWER_UP != 0));
        }
    }
}

/// The `IFLA_IFNAME` of an `ifinfomsg` with its attributes.
fn link_name(message: &[u8]) -> Option<String> {
    let (_, value) =
        nlmsg::attributes(message.get(IFINFO_LEN..)?).find(|(kind, _)| *kind == IFLA_IFNAME)?;
    let end = value.iter().position(|b| *b == 0).unwrap_or(value.len());
    String::from_utf8(value[..end].to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nlmsg::push_attribute;

    fn message(kind: u16, name: &str) -> Vec<u8> {
        message_with_flags(kind, name, 0)
    }

    fn message_with_flags(kind: u16, name: &str, flags: u32) -> Vec<u8> {
        let mut body = vec![0u8; IFINFO_LEN];
        body[8..12].copy_from_slice(&flags.to_ne_bytes());
        push_attribute(&mut body, IFLA_IFNAME, format!("{name}\0").as_bytes());
        nlmsg::message(kind, 0, 0, &body)
    }

    #[test]
    fn deleted_links_and_carriers_are_named_and_truncated_messages_end_the_read() {
        let mut datagram = message(RTM_DELLINK, "vh12");
        datagram.extend(message_with_flags(RTM_NEWLINK, "vh13", IFF_LOWER_UP | 1));
        datagram.extend(message(RTM_DELLINK, "vt7"));
        datagram.extend(message_with_flags(RTM_NEWLINK, "vh14", 1));
        datagram.extend(message(18, "vh15"));
        let (mut deleted, mut carrier) = (Vec::new(), Vec::new());
        changes(&datagram, &mut deleted, &mut carrier);
        assert_eq!(deleted, ["vh12", "vt7"]);
        assert_eq!(
            carrier,
            [("vh13".to_string(), true), ("vh14".to_string(), false)]
        );
        let whole = message(RTM_DELLINK, "vh99");
        let (mut deleted, mut carrier) = (Vec::new(), Vec::new());
        changes(&whole[..whole.len() - 3], &mut deleted, &mut carrier);
        assert!(deleted.is_empty() && carrier.is_empty());
    }
}
