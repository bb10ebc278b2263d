//! The fabric's own links, through rtnetlink: a port's veth pair, born in
//! the port's namespace with its host end moved into the fabric's, and the
//! removal of a link.

use std::fs::File;
use std::os::fd::AsRawFd;

use anyhow::{Context, Result};
use futures::TryStreamExt;
use rtnetlink::packet_route::link::LinkAttribute;
use rtnetlink::{LinkUnspec, LinkVeth};

use super::super::netlink::{link_index, with_connection};
use super::super::netns;

/// Adds a veth pair in the current thread's namespace: `name` stays here,
/// down; its peer moves into `peer_namespace` as `peer_name`, with the
/// link-layer address `peer_mac`, in the request that moves it. Returns the
/// index and the link-layer address of `name`.
pub fn add_veth_here(
    name: &str,
    peer_namespace: &str,
    peer_name: &str,
    peer_mac: [u8; 6],
) -> Result<(u32, [u8; 6])> {
    let born = format!("{peer_name}-peer");
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
        let request = LinkUnspec::new_with_index(peer)
            .address(peer_mac.to_vec())
            .setns_by_fd(target_fd)
            .name(peer_name.to_owned())
            .build();
        handle.link().set(request).execute().await?;
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
