//! What the flow table's memos hold for the packet path
//! ([`crate::engine::flow_table::Memo`]): a flow's known hop with the
//! sender's entry ([`KnownHop`]), and a load balancer's pin with its two
//! entries ([`PinMemo`]), each written as words and read back typed. The
//! first word's low byte says which record a memo holds.

use super::decide::{KnownHop, Verdict};
use super::nat::Rewrite;
use crate::engine::flow_table::Memo;
use crate::snapshot::PortIdx;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which record a memo holds.
const MEMO_HOP: u64 = 1;
const MEMO_PIN: u64 = 2;
const MEMO_EDGE: u64 = 3;

/// A translation at the Internet edge, as its two entries keep it: the
/// private address and port, and the public ones.
///
/// - word 0: kind, IPv6 (bit 8), private port (bits 16-31), public port
///   (bits 32-47);
/// - words 1-2: the private address (IPv4 in word 1);
/// - words 3-4: the public address (IPv4 in word 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeMemo {
    pub private: (IpAddr, u16),
    pub public: (IpAddr, u16),
}

impl EdgeMemo {
    pub fn to_memo(self) -> Memo {
        let mut words = [0u64; 6];
        let v6 = self.private.0.is_ipv6();
        words[0] = MEMO_EDGE
            | u64::from(v6) << 8
            | u64::from(self.private.1) << 16
            | u64::from(self.public.1) << 32;
        let (w1, w2) = address_words(self.private.0);
        let (w3, w4) = address_words(self.public.0);
        words[1] = w1;
        words[2] = w2;
        words[3] = w3;
        words[4] = w4;
        Memo(words)
    }

    pub fn from_memo(memo: &Memo) -> Option<EdgeMemo> {
        let w = memo.0;
        if w[0] & 0xff != MEMO_EDGE {
            return None;
        }
        let v6 = w[0] & 1 << 8 != 0;
        Some(EdgeMemo {
            private: (address_of(v6, w[1], w[2]), (w[0] >> 16) as u16),
            public: (address_of(v6, w[3], w[4]), (w[0] >> 32) as u16),
        })
    }
}

fn address_words(a: IpAddr) -> (u64, u64) {
    match a {
        IpAddr::V4(a) => (u64::from(u32::from(a)), 0),
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            ((bits >> 64) as u64, bits as u64)
        }
    }
}

fn address_of(v6: bool, high: u64, low: u64) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(u128::from(high) << 64 | u128::from(low)))
    } else {
        IpAddr::V4(Ipv4Addr::from(high as u32))
    }
}

/// A load balancer's pin as its entries' memo records it: the backend (as
/// [`Conntrack::backend_id`](super::decide::Conntrack::backend_id) names it), the destination port the flow's
/// first packet was sent to, and whether the destination was translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinMemo {
    pub backend: u32,
    pub original_port: u16,
    pub translated: bool,
}

impl PinMemo {
    /// Word 0: kind, translated (bit 8), original port (bits 16-31),
    /// backend (bits 32-63).
    pub fn to_memo(self) -> Memo {
        let mut words = [0; 6];
        words[0] = MEMO_PIN
            | u64::from(self.translated) << 8
            | u64::from(self.original_port) << 16
            | u64::from(self.backend) << 32;
        Memo(words)
    }

    pub fn from_memo(memo: &Memo) -> Option<PinMemo> {
        let w = memo.0[0];
        (w & 0xff == MEMO_PIN).then_some(PinMemo {
            backend: (w >> 32) as u32,
            original_port: (w >> 16) as u16,
            translated: w & 1 << 8 != 0,
        })
    }
}

/// Bits of a hop memo's first word: the kind, the rewrite (none,
/// destination or source; an IPv6 address), the rewritten port, and the
/// NIC the packets go to.
const REWRITE_DESTINATION: u64 = 1 << 8;
const REWRITE_SOURCE: u64 = 2 << 8;
const REWRITE_MASK: u64 = 3 << 8;
const REWRITE_V6: u64 = 1 << 10;
/// A [`KnownHop`] as a sender's entry keeps it in its memo:
///
/// - word 0: kind, rewrite, port (bits 16-31), egress NIC (bits 32-63);
/// - words 1-2: the rewritten address (IPv4 in word 1);
/// - word 3: the snapshot generation;
/// - word 4: the receiver's entry
///   ([`FlowHandle::to_word`](crate::engine::flow_table::FlowHandle::to_word));
/// - word 5: the pin's entry, or 0.
///
/// `None` for a hop that cannot be written so (a table beyond 2^32 slots).
pub fn hop_memo(hop: &KnownHop) -> Option<Memo> {
    let (egress, rewrite) = match hop.verdict {
        Verdict::Deliver(nic) => (nic, None),
        Verdict::Translate { nic, rewrite } => (nic, Some(rewrite)),
        Verdict::Drop { .. } => return None,
    };
    let mut words = [0u64; 6];
    words[0] = MEMO_HOP | (egress.index() as u64) << 32;
    if let Some(rewrite) = rewrite {
        let (kind, address, port) = match rewrite {
            Rewrite::Destination { address, port } => (REWRITE_DESTINATION, address, port),
            Rewrite::Source { address, port } => (REWRITE_SOURCE, address, port),
        };
        words[0] |= kind | u64::from(port) << 16;
        match address {
            IpAddr::V4(a) => words[1] = u64::from(u32::from(a)),
            IpAddr::V6(a) => {
                let bits = u128::from(a);
                words[0] |= REWRITE_V6;
                words[1] = (bits >> 64) as u64;
                words[2] = bits as u64;
            }
        }
    }
    words[3] = hop.generation;
    words[4] = hop.receiver.to_word()?;
    words[5] = match hop.pin {
        Some(pin) => pin.to_word()?,
        None => 0,
    };
    Some(Memo(words))
}

/// Whether a memo holds a known hop (whether or not it still holds).
#[inline]
pub fn holds_hop(memo: &Memo) -> bool {
    memo.0[0] & 0xff == MEMO_HOP
}

/// A [`KnownHop`] as its memo holds it: the receiver's entry and the pin
/// as words ([`FlowHandle::to_word`](crate::engine::flow_table::FlowHandle::to_word),
/// 0 for no pin), which the packet path counts on without making handles
/// of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredHop {
    pub generation: u64,
    pub verdict: Verdict,
    pub receiver: u64,
    pub pin: u64,
}

/// The hop a memo written by [`hop_memo`] holds.
#[inline]
pub fn stored_hop(memo: &Memo) -> Option<StoredHop> {
    let w = memo.0;
    if !holds_hop(memo) {
        return None;
    }
    let egress = PortIdx::from((w[0] >> 32) as usize);
    let port = (w[0] >> 16) as u16;
    let address = || {
        if w[0] & REWRITE_V6 != 0 {
            IpAddr::from(Ipv6Addr::from(u128::from(w[1]) << 64 | u128::from(w[2])))
        } else {
            IpAddr::from(Ipv4Addr::from(w[1] as u32))
        }
    };
    let verdict = match w[0] & REWRITE_MASK {
        0 => Verdict::Deliver(egress),
        REWRITE_DESTINATION => Verdict::Translate {
            nic: egress,
            rewrite: Rewrite::Destination {
                address: address(),
                port,
            },
        },
        REWRITE_SOURCE => Verdict::Translate {
            nic: egress,
            rewrite: Rewrite::Source {
                address: address(),
                port,
            },
        },
        _ => return None,
    };
    Some(StoredHop {
        generation: w[3],
        verdict,
        receiver: w[4],
        pin: w[5],
    })
}
