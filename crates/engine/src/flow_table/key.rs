//! A flow's key: the identity of one flow as one NIC sees it in one
//! direction, the six words a slot stores it as, and the hash that picks
//! the key's probe window and fingerprint.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Who a flow belongs to in a flow table: a dense number below the table's
/// `max_nics`, which keys the owner's quota of flows. The table gives it no
/// other meaning; the packet pipeline numbers its owners (a NIC's port, a
/// load-balancer frontend's pins, see `dataplane::conntrack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowOwner(u32);

impl FlowOwner {
    pub const fn new(number: u32) -> FlowOwner {
        FlowOwner(number)
    }

    /// The owner's number.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The owner's number as an index of per-owner arrays.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// The identity of one flow as one NIC sees it in one direction.
///
/// IPv4 addresses are stored in the first four bytes of `src` and `dst`, the
/// other twelve zero, with `v6 == false`; IPv6 addresses use all sixteen
/// bytes with `v6 == true`. The flag keeps the two families apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// Whose flow it is: the table keeps a quota of flows per owner.
    pub owner: FlowOwner,
    /// Opaque to the table (e.g. ingress or egress of the owner's NIC).
    pub direction: u8,
    /// IP protocol number.
    pub proto: u8,
    /// Whether `src` and `dst` are IPv6 addresses.
    pub v6: bool,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub src_port: u16,
    pub dst_port: u16,
}

impl FlowKey {
    /// An IPv4 flow key.
    pub fn v4(
        owner: FlowOwner,
        direction: u8,
        proto: u8,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        src_port: u16,
        dst_port: u16,
    ) -> FlowKey {
        let mut s = [0u8; 16];
        let mut d = [0u8; 16];
        s[..4].copy_from_slice(&src.octets());
        d[..4].copy_from_slice(&dst.octets());
        FlowKey {
            owner,
            direction,
            proto,
            v6: false,
            src: s,
            dst: d,
            src_port,
            dst_port,
        }
    }

    /// An IPv6 flow key.
    pub fn v6(
        owner: FlowOwner,
        direction: u8,
        proto: u8,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        src_port: u16,
        dst_port: u16,
    ) -> FlowKey {
        FlowKey {
            owner,
            direction,
            proto,
            v6: true,
            src: src.octets(),
            dst: dst.octets(),
            src_port,
            dst_port,
        }
    }

    /// A flow key from addresses of either family; `None` if the two
    /// addresses are of different families (no packet has such a pair).
    pub fn from_ips(
        owner: FlowOwner,
        direction: u8,
        proto: u8,
        src: IpAddr,
        dst: IpAddr,
        src_port: u16,
        dst_port: u16,
    ) -> Option<FlowKey> {
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => Some(FlowKey::v4(
                owner, direction, proto, s, d, src_port, dst_port,
            )),
            (IpAddr::V6(s), IpAddr::V6(d)) => Some(FlowKey::v6(
                owner, direction, proto, s, d, src_port, dst_port,
            )),
            _ => None,
        }
    }

    /// The key of the reply direction: addresses and ports swapped, the
    /// owner and direction kept.
    pub fn reversed(&self) -> FlowKey {
        FlowKey {
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
            ..*self
        }
    }

    pub fn src_ip(&self) -> IpAddr {
        address(self.v6, &self.src)
    }

    pub fn dst_ip(&self) -> IpAddr {
        address(self.v6, &self.dst)
    }

    /// The key as the six words a slot stores.
    #[inline]
    pub(super) fn to_words(self) -> [u64; 6] {
        let (src, dst) = (halves(&self.src), halves(&self.dst));
        pack(&self, src, dst)
    }

    #[inline]
    pub(super) fn from_words(words: &[u64; 6]) -> FlowKey {
        let bytes = |lo: u64, hi: u64| {
            let mut out = [0u8; 16];
            out[..8].copy_from_slice(&lo.to_le_bytes());
            out[8..].copy_from_slice(&hi.to_le_bytes());
            out
        };
        FlowKey {
            owner: FlowOwner(words[0] as u32),
            direction: (words[0] >> 32) as u8,
            proto: (words[0] >> 40) as u8,
            v6: (words[0] >> 48) & 1 == 1,
            src: bytes(words[1], words[2]),
            dst: bytes(words[3], words[4]),
            src_port: words[5] as u16,
            dst_port: (words[5] >> 16) as u16,
        }
    }
}

/// A key as the six words a slot stores it as, built straight from a
/// packet's addresses for a lookup on the packet path
/// ([`FlowTable::lookup_words`](super::FlowTable::lookup_words)): the same
/// words as [`FlowKey`]'s, without its byte arrays in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyWords(pub(super) [u64; 6]);

impl KeyWords {
    /// The words of `key`.
    #[inline]
    pub fn of(key: &FlowKey) -> KeyWords {
        KeyWords(key.to_words())
    }

    /// The words of [`FlowKey::from_ips`]'s key; `None` for addresses of
    /// two families.
    #[inline]
    pub fn from_ips(
        owner: FlowOwner,
        direction: u8,
        proto: u8,
        src: &IpAddr,
        dst: &IpAddr,
        src_port: u16,
        dst_port: u16,
    ) -> Option<KeyWords> {
        let v4 = |a: &Ipv4Addr| (u64::from(u32::from_le_bytes(a.octets())), 0);
        let (v6, src, dst) = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => (false, v4(s), v4(d)),
            (IpAddr::V6(s), IpAddr::V6(d)) => (true, halves(&s.octets()), halves(&d.octets())),
            _ => return None,
        };
        let head = FlowKey {
            owner,
            direction,
            proto,
            v6,
            src: [0; 16],
            dst: [0; 16],
            src_port,
            dst_port,
        };
        Some(KeyWords(pack(&head, src, dst)))
    }

    /// The key these words are.
    pub fn key(&self) -> FlowKey {
        FlowKey::from_words(&self.0)
    }
}

/// An address's sixteen bytes as the two little-endian words a slot keeps.
#[inline]
fn halves(bytes: &[u8; 16]) -> (u64, u64) {
    let half = |at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    };
    (half(0), half(8))
}

/// The six words of a key: `key`'s NIC, direction, protocol, family and
/// ports around the address words given (its own byte arrays are not read).
#[inline]
fn pack(key: &FlowKey, src: (u64, u64), dst: (u64, u64)) -> [u64; 6] {
    [
        u64::from(key.owner.0)
            | u64::from(key.direction) << 32
            | u64::from(key.proto) << 40
            | u64::from(key.v6) << 48,
        src.0,
        src.1,
        dst.0,
        dst.1,
        u64::from(key.src_port) | u64::from(key.dst_port) << 16,
    ]
}

fn address(v6: bool, bytes: &[u8; 16]) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(*bytes))
    } else {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    }
}

/// Whether two keys' words are equal: every word compared, without a
/// branch per word or a call to `memcmp` (which an array `==` of this size
/// becomes), since a lookup compares a key for every fingerprint match.
#[inline]
pub(super) fn same_words(a: &[u64; 6], b: &[u64; 6]) -> bool {
    a.iter().zip(b).fold(0, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// A word-at-a-time multiplicative hash (the FxHash step, in two lanes) with a final
/// avalanche (MurmurHash3's fmix64), so that both the low bits (slot index)
/// and the high bits (fingerprint) depend on every key bit.
#[inline]
pub(super) fn hash_words(words: &[u64; 6]) -> u64 {
    const SEED: u64 = 0x517c_c1b7_2722_0a95;
    // Two lanes of three words each, so that the multiplications of one
    // lane overlap those of the other.
    let (mut a, mut b) = (0u64, 0x9e37_79b9_7f4a_7c15u64);
    for pair in words.as_chunks::<2>().0 {
        a = (a.rotate_left(5) ^ pair[0]).wrapping_mul(SEED);
        b = (b.rotate_left(5) ^ pair[1]).wrapping_mul(SEED);
    }
    let mut h = a ^ b.rotate_left(32);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}
