//! tc through rtnetlink, as much of it as attaching the object's programs
//! takes: the qdiscs a device needs (`clsact`, `ingress`, `noqueue`), the
//! shared blocks a qdisc may bind a device to, and `cls_bpf` filters in
//! direct-action mode, on one device's ingress or on a shared block. The
//! requests are built here and sent by the caller, on a connection of the
//! namespace the devices are in, so that one connection carries every
//! request of a device's setup.

use std::os::fd::RawFd;

use anyhow::Result;
use futures::StreamExt;
use rtnetlink::packet_core::{
    DefaultNla, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
};
use rtnetlink::packet_route::tc::{TcAttribute, TcHandle, TcHeader, TcMessage, TcOption};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::Handle;

/// A loaded tc program to attach: its descriptor and its name.
#[derive(Debug, Clone, Copy)]
pub struct Program<'a> {
    pub fd: RawFd,
    pub name: &'a str,
}

/// Where a filter runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// The ingress of device `index`'s `clsact` qdisc ([`clsact`]).
    Ingress(u32),
    /// The shared tc block of this number: the ingress or egress of every
    /// device a qdisc bound to it ([`clsact_on_blocks`],
    /// [`ingress_on_block`]).
    Block(u32),
}

/// `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)`: a `clsact`'s ingress hook.
const CLSACT_INGRESS: u32 = 0xffff_fff2;
/// The handle of a `clsact` or `ingress` qdisc (`ffff:`).
const INGRESS_QDISC: u32 = 0xffff_0000;
const TCA_INGRESS_BLOCK: u16 = 13;
const TCA_EGRESS_BLOCK: u16 = 14;
const TCA_BPF_FD: u16 = 6;
const TCA_BPF_NAME: u16 = 7;
const TCA_BPF_FLAGS: u16 = 8;
const TCA_BPF_FLAG_ACT_DIRECT: u32 = 1;
const ETH_P_ALL: u16 = 0x0003;

fn u32_attribute(kind: u16, value: u32) -> DefaultNla {
    DefaultNla::new(kind, value.to_ne_bytes().to_vec())
}

/// Sends a request that creates a tc object and waits for its
/// acknowledgement.
pub async fn create(handle: &mut Handle, message: RouteNetlinkMessage) -> Result<()> {
    let mut request = NetlinkMessage::from(message);
    request.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    let mut responses = handle.request(request)?;
    while let Some(response) = responses.next().await {
        if let NetlinkPayload::Error(error) = response.payload {
            if let Some(code) = error.code {
                return Err(std::io::Error::from_raw_os_error(-code.get()).into());
            }
        }
    }
    Ok(())
}

/// A qdisc of kind `kind` on device `index`, at `parent` with handle
/// `handle`, with the attributes `more`.
fn qdisc(
    kind: &str,
    index: u32,
    parent: TcHandle,
    handle: u32,
    more: impl IntoIterator<Item = TcAttribute>,
) -> RouteNetlinkMessage {
    let mut message = TcMessage::with_index(index as i32);
    message.header.parent = parent;
    message.header.handle = TcHandle::from(handle);
    message.attributes.push(TcAttribute::Kind(kind.to_owned()));
    message.attributes.extend(more);
    RouteNetlinkMessage::NewQueueDiscipline(message)
}

/// A `clsact` qdisc on device `index`: an ingress and an egress hook of its
/// own, for filters of [`Hook::Ingress`].
pub fn clsact(index: u32) -> RouteNetlinkMessage {
    qdisc("clsact", index, TcHandle::INGRESS, INGRESS_QDISC, [])
}

/// A `clsact` qdisc on device `index` whose ingress is the shared block
/// `ingress_block` and whose egress is the shared block `egress_block`.
pub fn clsact_on_blocks(index: u32, ingress_block: u32, egress_block: u32) -> RouteNetlinkMessage {
    let blocks = [
        (TCA_INGRESS_BLOCK, ingress_block),
        (TCA_EGRESS_BLOCK, egress_block),
    ];
    let attributes = blocks.map(|(kind, block)| TcAttribute::Other(u32_attribute(kind, block)));
    qdisc(
        "clsact",
        index,
        TcHandle::INGRESS,
        INGRESS_QDISC,
        attributes,
    )
}

/// An `ingress` qdisc on device `index` whose ingress is the shared block
/// `block`: an ingress hook and no egress hook. A `clsact` would also give
/// the device an egress block of its own, and every new block of a device
/// without hardware offload is searched for in a list of all of them
/// (`flow_indr_dev_setup_offload`): thousands of private egress blocks
/// make each new one slower than the last (BENCHMARKS.md).
pub fn ingress_on_block(index: u32, block: u32) -> RouteNetlinkMessage {
    let attribute = TcAttribute::Other(u32_attribute(TCA_INGRESS_BLOCK, block));
    qdisc(
        "ingress",
        index,
        TcHandle::INGRESS,
        INGRESS_QDISC,
        [attribute],
    )
}

/// `noqueue` as the root qdisc of device `index`: what the kernel hands
/// the device goes straight to it, with no queue in front (a device that
/// never refuses a packet, such as a TUN or TAP device, whose full ring
/// drops it, gains nothing from one).
pub fn noqueue(index: u32) -> RouteNetlinkMessage {
    qdisc("noqueue", index, TcHandle::ROOT, 0, [])
}

/// `program` as a `cls_bpf` filter in direct-action mode at `hook`, for
/// every protocol, with priority `priority` (the lower runs first; a frame
/// a program leaves, `TC_ACT_UNSPEC`, goes on to the next).
pub fn filter(hook: Hook, program: &Program<'_>, priority: u32) -> RouteNetlinkMessage {
    let mut message = match hook {
        Hook::Ingress(index) => {
            let mut message = TcMessage::with_index(index as i32);
            message.header.parent = TcHandle::from(CLSACT_INGRESS);
            message
        }
        Hook::Block(block) => {
            let mut message = TcMessage::with_index(TcHeader::TCM_IFINDEX_MAGIC_BLOCK as i32);
            message.header.parent = TcHandle::from(block);
            message
        }
    };
    message.header.info = (priority << 16) | u32::from(ETH_P_ALL.to_be());
    message.attributes.push(TcAttribute::Kind("bpf".to_owned()));
    let mut name = program.name.as_bytes().to_vec();
    name.push(0);
    message.attributes.push(TcAttribute::Options(vec![
        TcOption::Other(u32_attribute(TCA_BPF_FD, program.fd as u32)),
        TcOption::Other(DefaultNla::new(TCA_BPF_NAME, name)),
        TcOption::Other(u32_attribute(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT)),
    ]));
    RouteNetlinkMessage::NewTrafficFilter(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tc_message(message: &RouteNetlinkMessage) -> &TcMessage {
        match message {
            RouteNetlinkMessage::NewQueueDiscipline(m)
            | RouteNetlinkMessage::NewTrafficFilter(m) => m,
            other => panic!("not a tc message: {other:?}"),
        }
    }

    #[test]
    fn a_filter_on_a_block_and_one_on_a_device_differ_only_in_where_they_run() {
        let program = Program {
            fd: 7,
            name: "from_port",
        };
        let on_block = filter(Hook::Block(2), &program, 1);
        let on_device = filter(Hook::Ingress(9), &program, 1);
        let (block, device) = (tc_message(&on_block), tc_message(&on_device));
        assert_eq!(block.header.index, TcHeader::TCM_IFINDEX_MAGIC_BLOCK as i32);
        assert_eq!(block.header.parent, TcHandle::from(2));
        assert_eq!(device.header.index, 9);
        assert_eq!(device.header.parent, TcHandle::from(CLSACT_INGRESS));
        assert_eq!(block.header.info, device.header.info);
        assert_eq!(block.attributes, device.attributes);
        // The priority in the upper half of `info`.
        let second = filter(Hook::Ingress(9), &program, 2);
        assert_eq!(tc_message(&second).header.info >> 16, 2);
        assert_eq!(block.header.info >> 16, 1);
    }
}
