//! What devices' queues dropped, as the kernel counts it in their link
//! statistics (`rx_dropped`, `tx_dropped`), for devices in any named
//! namespace, read over one netlink socket of the caller's namespace.
//!
//! A device of another namespace is asked for by that namespace's id in
//! the caller's (`IFLA_TARGET_NETNSID`), which is assigned on first use as
//! `ip netns set NAME auto` assigns it; the id is kept for as long as the
//! namespace is the same one (a namespace removed and made again under its
//! name gets an id of its own). A device named by its index is read by its
//! statistics instead (`RTM_GETSTATS`), over a socket opened in its own
//! namespace: a link message of a veth whose peer is in another namespace
//! costs the kernel a walk of every namespace id it knows there, thousands
//! on a fabric of thousands of ports, where statistics cost no such walk.
//! Requests go out in batches, one system call each way per batch, so that
//! hundreds of devices cost a few calls. Nothing here runs per packet.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::sys::socket::{
    bind, recv, send, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};

use super::netns;
use super::nlmsg::{attributes, message, push_attribute, IFINFO_LEN, IFLA_IFNAME, RTM_NEWLINK};

/// A device: by its index, or by its name, in its namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Device {
    Index(u32),
    Name(String),
}

/// A device of a named namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkId {
    pub namespace: String,
    pub device: Device,
}

/// What a device's queues dropped since it was made: packets it received
/// and could not pass on (`rx_dropped`), and packets handed to it to send
/// that it dropped (`tx_dropped`), such as a TUN device's queue when its
/// reader falls behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkDrops {
    pub rx_dropped: u64,
    pub tx_dropped: u64,
}

const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const RTM_GETLINK: u16 = 18;
const RTM_NEWNSID: u16 = 88;
const RTM_GETNSID: u16 = 90;
const RTM_NEWSTATS: u16 = 92;
const RTM_GETSTATS: u16 = 94;
/// `struct if_stats_msg`: family, padding, ifindex, filter mask.
const IF_STATS_MSG_LEN: usize = 12;
/// `IFLA_STATS_LINK_64`: a `struct rtnl_link_stats64`, as the filter's
/// bit and as the answer's attribute.
const IFLA_STATS_LINK_64: u16 = 1;
const RTGENMSG_LEN: usize = 4;
const IFLA_STATS64: u16 = 23;
const IFLA_TARGET_NETNSID: u16 = 46;
const NETNSA_NSID: u16 = 1;
const NETNSA_FD: u16 = 3;
/// Offsets of `rx_dropped` and `tx_dropped` in `struct rtnl_link_stats64`.
const STATS64_RX_DROPPED: usize = 48;
const STATS64_TX_DROPPED: usize = 56;
/// Requests sent at once: their answers (a link message each, about 1.5
/// KiB) fit the socket's receive buffer.
const BATCH: usize = 32;
/// How long an answer may take before the batch is given up.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// A netlink socket of the caller's namespace, and the ids it knows other
/// namespaces by.
#[derive(Debug)]
pub struct LinkDropReader {
    socket: OwnedFd,
    /// Each namespace's id here, with the identity (inode) of the
    /// namespace it was given for.
    ids: HashMap<String, (u64, i32)>,
    /// A socket opened in each namespace whose devices are read by index,
    /// with the identity (inode) of the namespace it was opened in.
    inside: HashMap<String, (u64, OwnedFd)>,
    sequence: u32,
}

impl LinkDropReader {
    /// A reader in the calling thread's namespace.
    pub fn open() -> Result<LinkDropReader> {
        Ok(LinkDropReader {
            socket: open_socket()?,
            ids: HashMap::new(),
            inside: HashMap::new(),
            sequence: 0,
        })
    }

    /// What each of `links` dropped, in order; `None` for a device (or a
    /// namespace) that is not there, or could not be read.
    pub fn read(&mut self, links: &[LinkId]) -> Vec<Option<LinkDrops>> {
        let mut out = vec![None; links.len()];
        let mut by_index: HashMap<&str, Vec<(usize, u32)>> = HashMap::new();
        let mut by_name = Vec::new();
        for (place, link) in links.iter().enumerate() {
            match link.device {
                Device::Index(index) => {
                    (by_index.entry(link.namespace.as_str()).or_default()).push((place, index))
                }
                Device::Name(_) => by_name.push(place),
            }
        }
        for batch in by_name.chunks(BATCH) {
            let requests: Vec<Option<Vec<u8>>> = (batch.iter())
                .map(|&place| {
                    let link = &links[place];
                    let id = self.namespace_id(&link.namespace).ok()?;
                    Some(link_request(&link.device, id))
                })
                .collect();
            let answers = ask(&self.socket, &mut self.sequence, &requests).unwrap_or_default();
            for (i, &place) in batch.iter().enumerate() {
                out[place] = answers.get(&i).copied().flatten();
            }
        }
        for (namespace, devices) in by_index {
            if self.open_inside(namespace).is_err() {
                continue;
            }
            let socket = &self.inside[namespace].1;
            for batch in devices.chunks(BATCH) {
                let requests: Vec<Option<Vec<u8>>> = (batch.iter())
                    .map(|&(_, index)| Some(stats_request(index)))
                    .collect();
                let answers = ask(socket, &mut self.sequence, &requests).unwrap_or_default();
                for (i, &(place, _)) in batch.iter().enumerate() {
                    out[place] = answers.get(&i).copied().flatten();
                }
            }
        }
        out
    }

    /// Opens a socket in namespace `name` on first use, and again for a
    /// namespace made anew under its name.
    fn open_inside(&mut self, name: &str) -> Result<()> {
        let path = netns::path_of(name);
        let identity = std::fs::metadata(&path)
            .with_context(|| format!("namespace {}", path.display()))?
            .ino();
        if !matches!(self.inside.get(name), Some((known, _)) if *known == identity) {
            let socket = netns::run_in(name, open_socket)?;
            self.inside.insert(name.to_owned(), (identity, socket));
        }
        Ok(())
    }

    /// The id of namespace `name` here, assigned if it has none.
    fn namespace_id(&mut self, name: &str) -> Result<i32> {
        let path = netns::path_of(name);
        let file = std::fs::File::open(&path)
            .with_context(|| format!("opening namespace {}", path.display()))?;
        let identity = file.metadata()?.ino();
        if let Some((known, id)) = self.ids.get(name) {
            if *known == identity {
                return Ok(*id);
            }
        }
        let id = match self.ask_id(&file)? {
            Some(id) => id,
            None => {
                self.assign_id(&file)?;
                self.ask_id(&file)?
                    .with_context(|| format!("namespace {name} was given no id"))?
            }
        };
        self.ids.insert(name.to_owned(), (identity, id));
        Ok(id)
    }

    /// The id the namespace open as `file` has here, if it has one.
    fn ask_id(&mut self, file: &std::fs::File) -> Result<Option<i32>> {
        let fd = file.as_fd().as_raw_fd() as u32;
        let answer = self.exchange(RTM_GETNSID, NLM_F_REQUEST, &[(NETNSA_FD, fd.to_ne_bytes())])?;
        let id = attributes(&answer[RTGENMSG_LEN.min(answer.len())..])
            .find(|(kind, _)| *kind == NETNSA_NSID)
            .and_then(|(_, value)| Some(i32::from_ne_bytes(value.get(..4)?.try_into().ok()?)))
            .context("the kernel's answer has no namespace id")?;
        Ok((id >= 0).then_some(id))
    }

    /// Gives the namespace open as `file` an id here, of the kernel's
    /// choosing; one it already has is kept.
    fn assign_id(&mut self, file: &std::fs::File) -> Result<()> {
        let fd = file.as_fd().as_raw_fd() as u32;
        let attributes = [
            (NETNSA_NSID, (-1i32).to_ne_bytes()),
            (NETNSA_FD, fd.to_ne_bytes()),
        ];
        match self.exchange(RTM_NEWNSID, NLM_F_REQUEST | NLM_F_ACK, &attributes) {
            Ok(_) => Ok(()),
            Err(err) if err.downcast_ref::<Errno>() == Some(&Errno::EEXIST) => Ok(()),
            Err(err) => Err(err).context("giving a namespace an id"),
        }
    }

    /// Sends one request of `kind` for a namespace id and returns the body
    /// of its answer (empty for an acknowledgement).
    fn exchange(&mut self, kind: u16, flags: u16, attrs: &[(u16, [u8; 4])]) -> Result<Vec<u8>> {
        let mut body = vec![0u8; RTGENMSG_LEN];
        for (attribute, value) in attrs {
            push_attribute(&mut body, *attribute, value);
        }
        let sequence = self.sequence;
        self.sequence = self.sequence.wrapping_add(1);
        let message = message(kind, flags, sequence, &body);
        send(self.socket.as_raw_fd(), &message, MsgFlags::empty())
            .context("asking for a namespace id")?;
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let read = match recv(self.socket.as_raw_fd(), &mut buffer, MsgFlags::empty()) {
                Ok(read) => read,
                Err(Errno::EINTR) => continue,
                Err(err) => return Err(err).context("reading a namespace id"),
            };
            for (answered, answer) in messages(&buffer[..read]) {
                if answered != sequence {
                    continue;
                }
                return match answer {
                    Answer::Error(0) => Ok(Vec::new()),
                    Answer::Error(code) => Err(Errno::from_raw(code).into()),
                    Answer::Message(_, body) => Ok(body.to_vec()),
                };
            }
        }
    }
}

/// A netlink socket of the calling thread's namespace, with a deadline on
/// every answer.
fn open_socket() -> Result<OwnedFd> {
    let socket = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .context("opening a netlink socket for link statistics")?;
    bind(socket.as_raw_fd(), &NetlinkAddr::new(0, 0))
        .context("binding a netlink socket for link statistics")?;
    let timeout = nix::sys::time::TimeVal::new(ANSWER_WITHIN.as_secs() as i64, 0);
    setsockopt(&socket, sockopt::ReceiveTimeout, &timeout)
        .context("setting the netlink socket's receive timeout")?;
    Ok(socket)
}

/// Sends each request of `requests` there is (numbered by its place) in
/// one datagram on `socket`, numbered from `sequence` on, and reads their
/// answers: each place's drops, or `None` for a refused request.
fn ask(
    socket: &OwnedFd,
    sequence: &mut u32,
    requests: &[Option<Vec<u8>>],
) -> Result<HashMap<usize, Option<LinkDrops>>> {
    let first = *sequence;
    let mut datagram = Vec::new();
    let mut waiting = 0;
    for (place, request) in requests.iter().enumerate() {
        if let Some(request) = request {
            let mut message = request.clone();
            let numbered = first.wrapping_add(place as u32);
            message[8..12].copy_from_slice(&numbered.to_ne_bytes());
            datagram.extend(message);
            waiting += 1;
        }
    }
    *sequence = first.wrapping_add(requests.len() as u32);
    let mut answers = HashMap::new();
    if waiting == 0 {
        return Ok(answers);
    }
    send(socket.as_raw_fd(), &datagram, MsgFlags::empty()).context("asking for link statistics")?;
    let mut buffer = vec![0u8; 64 * 1024];
    while answers.len() < waiting {
        let read = match recv(socket.as_raw_fd(), &mut buffer, MsgFlags::empty()) {
            Ok(read) => read,
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("reading link statistics"),
        };
        for (numbered, answer) in messages(&buffer[..read]) {
            let place = numbered.wrapping_sub(first) as usize;
            if place < requests.len() {
                answers.insert(place, link_drops(answer));
            }
        }
    }
    Ok(answers)
}

/// The request for the statistics of device `index` of the socket's
/// namespace (its sequence number written in later).
fn stats_request(index: u32) -> Vec<u8> {
    let mut body = vec![0u8; IF_STATS_MSG_LEN];
    body[4..8].copy_from_slice(&index.to_ne_bytes());
    let filter = 1u32 << (IFLA_STATS_LINK_64 - 1);
    body[8..12].copy_from_slice(&filter.to_ne_bytes());
    message(RTM_GETSTATS, NLM_F_REQUEST, 0, &body)
}

/// The request for device `device` of the namespace whose id is
/// `namespace_id` (its sequence number written in later).
fn link_request(device: &Device, namespace_id: i32) -> Vec<u8> {
    let mut body = vec![0u8; IFINFO_LEN];
    match device {
        Device::Index(index) => body[4..8].copy_from_slice(&index.to_ne_bytes()),
        Device::Name(name) => {
            let mut value = name.as_bytes().to_vec();
            value.push(0);
            push_attribute(&mut body, IFLA_IFNAME, &value);
        }
    }
    push_attribute(&mut body, IFLA_TARGET_NETNSID, &namespace_id.to_ne_bytes());
    message(RTM_GETLINK, NLM_F_REQUEST, 0, &body)
}

/// What the kernel answered one request with.
enum Answer<'a> {
    /// An error (0: an acknowledgement), as a positive errno.
    Error(i32),
    /// A message of a kind, with its body.
    Message(u16, &'a [u8]),
}

/// Each message of `datagram`, with its sequence number; anything
/// malformed ends the walk.
fn messages(datagram: &[u8]) -> impl Iterator<Item = (u32, Answer<'_>)> {
    let mut walk = super::nlmsg::messages(datagram);
    std::iter::from_fn(move || {
        let (kind, sequence, body) = walk.next()?;
        let answer = match kind {
            NLMSG_ERROR => {
                let code = i32::from_ne_bytes(body.get(..4)?.try_into().ok()?);
                Answer::Error(-code)
            }
            other => Answer::Message(other, body),
        };
        Some((sequence, answer))
    })
}

/// The drops a link message or a statistics message reports; `None` for
/// an error or a message without statistics.
fn link_drops(answer: Answer<'_>) -> Option<LinkDrops> {
    let (attributes_at, wanted) = match answer {
        Answer::Message(RTM_NEWLINK, _) => (IFINFO_LEN, IFLA_STATS64),
        Answer::Message(RTM_NEWSTATS, _) => (IF_STATS_MSG_LEN, IFLA_STATS_LINK_64),
        _ => return None,
    };
    let Answer::Message(_, body) = answer else {
        return None;
    };
    let (_, stats) = attributes(body.get(attributes_at..)?).find(|(k, _)| *k == wanted)?;
    let word = |at: usize| Some(u64::from_ne_bytes(stats.get(at..at + 8)?.try_into().ok()?));
    Some(LinkDrops {
        rx_dropped: word(STATS64_RX_DROPPED)?,
        tx_dropped: word(STATS64_TX_DROPPED)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nlmsg::NLMSG_HEADER_LEN;

    #[test]
    fn a_link_message_gives_its_drops_and_an_error_none() {
        let mut body = vec![0u8; IFINFO_LEN];
        push_attribute(&mut body, IFLA_IFNAME, b"vt3\0");
        let mut stats = vec![0u8; 24 * 8];
        stats[STATS64_RX_DROPPED..STATS64_RX_DROPPED + 8].copy_from_slice(&7u64.to_ne_bytes());
        stats[STATS64_TX_DROPPED..STATS64_TX_DROPPED + 8].copy_from_slice(&9u64.to_ne_bytes());
        push_attribute(&mut body, IFLA_STATS64, &stats);
        let mut datagram = message(RTM_NEWLINK, 0, 5, &body);
        let mut error = vec![0u8; 4];
        error[..4].copy_from_slice(&(-19i32).to_ne_bytes());
        error.extend(message(RTM_GETLINK, 0, 6, &[]));
        datagram.extend(message(NLMSG_ERROR, 0, 6, &error));
        let read: Vec<(u32, Option<LinkDrops>)> = messages(&datagram)
            .map(|(sequence, answer)| (sequence, link_drops(answer)))
            .collect();
        assert_eq!(
            read,
            vec![
                (
                    5,
                    Some(LinkDrops {
                        rx_dropped: 7,
                        tx_dropped: 9
                    })
                ),
                (6, None)
            ]
        );
        // A message cut short ends the walk.
        assert_eq!(messages(&datagram[..20]).count(), 0);
    }

    #[test]
    fn a_statistics_message_gives_its_drops_and_its_request_names_the_device() {
        let mut body = vec![0u8; IF_STATS_MSG_LEN];
        body[4..8].copy_from_slice(&12u32.to_ne_bytes());
        let mut stats = vec![0u8; 24 * 8];
        stats[STATS64_RX_DROPPED..STATS64_RX_DROPPED + 8].copy_from_slice(&3u64.to_ne_bytes());
        stats[STATS64_TX_DROPPED..STATS64_TX_DROPPED + 8].copy_from_slice(&4u64.to_ne_bytes());
        push_attribute(&mut body, IFLA_STATS_LINK_64, &stats);
        let datagram = message(RTM_NEWSTATS, 0, 9, &body);
        let read: Vec<(u32, Option<LinkDrops>)> = messages(&datagram)
            .map(|(sequence, answer)| (sequence, link_drops(answer)))
            .collect();
        let drops = LinkDrops {
            rx_dropped: 3,
            tx_dropped: 4,
        };
        assert_eq!(read, vec![(9, Some(drops))]);
        // Attribute 1 of a link message is another one (its address).
        let mut link = vec![0u8; IFINFO_LEN];
        push_attribute(&mut link, IFLA_STATS_LINK_64, &stats);
        let datagram = message(RTM_NEWLINK, 0, 10, &link);
        let (_, answer) = messages(&datagram).next().expect("a message");
        assert_eq!(link_drops(answer), None);

        let request = stats_request(12);
        assert_eq!(u16::from_ne_bytes([request[4], request[5]]), RTM_GETSTATS);
        let body = &request[NLMSG_HEADER_LEN..];
        assert_eq!(body.len(), IF_STATS_MSG_LEN);
        assert_eq!(&body[4..8], &12u32.to_ne_bytes());
        assert_eq!(&body[8..12], &1u32.to_ne_bytes());
    }

    #[test]
    fn a_request_names_its_device_and_its_namespace() {
        let request = link_request(&Device::Name("eth0".into()), 7);
        let kinds: Vec<(u16, Vec<u8>)> = attributes(&request[NLMSG_HEADER_LEN + IFINFO_LEN..])
            .map(|(k, v)| (k, v.to_vec()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (IFLA_IFNAME, b"eth0\0".to_vec()),
                (IFLA_TARGET_NETNSID, 7i32.to_ne_bytes().to_vec())
            ]
        );
        let by_index = link_request(&Device::Index(12), 0);
        assert_eq!(
            &by_index[NLMSG_HEADER_LEN + 4..NLMSG_HEADER_LEN + 8],
            &12u32.to_ne_bytes()
        );
    }
}
