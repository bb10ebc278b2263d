//! Which ports a fragmented datagram carries: only its first fragment holds
//! the transport header, so the later ones are matched to it by the
//! datagram's identity (ingress, source, destination, protocol and IP
//! identification) and judged with its ports.
//!
//! A small, fixed-size, lock-free map: one slot per hash, a newer datagram
//! overwrites an older one in the same slot, entries older than
//! [`FRAGMENT_TIMEOUT_MS`] are ignored. A lost entry costs the datagram's
//! later fragments, which are then dropped, as a real reassembly timeout
//! would lose them. Nothing here knows about Azure.
//!
//! Each slot is two words, a tag (the identity's 64-bit hash, never 0) and
//! a value (the ports and the time), written under a tiny sequence lock:
//! the writer stores tag 0, then the value, then the tag, with release
//! ordering; a reader acts on a value only if it read the same non-zero tag
//! before and after it (acquire), the seqlock of the flow table in
//! miniature.

use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{fence, AtomicU64, Ordering};

/// How long a first fragment's ports are remembered (Linux's default
/// reassembly timeout, `ipfrag_time`, is 30 s).
pub const FRAGMENT_TIMEOUT_MS: u64 = 30_000;

/// Slots of a [`FragmentMap`]: 64 KiB, for datagrams in flight at once.
pub const FRAGMENT_SLOTS: usize = 4096;

/// What identifies the fragments of one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DatagramId {
    pub ingress: u32,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub ident: u32,
}

impl DatagramId {
    fn tag(&self) -> u64 {
        let mut h = FxHasher::default();
        self.hash(&mut h);
        h.finish().max(1)
    }
}

pub struct FragmentMap {
    tags: Box<[AtomicU64]>,
    values: Box<[AtomicU64]>,
}

impl Default for FragmentMap {
    fn default() -> Self {
        FragmentMap {
            tags: (0..FRAGMENT_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            values: (0..FRAGMENT_SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl std::fmt::Debug for FragmentMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FragmentMap")
            .field("slots", &self.tags.len())
            .finish()
    }
}

/// The value word: ports in the top 32 bits, the time (ms, truncated to
/// 32 bits, about 49 days before it wraps) below.
fn pack(ports: (u16, u16), now_ms: u64) -> u64 {
    (u64::from(ports.0) << 48) | (u64::from(ports.1) << 32) | (now_ms & 0xffff_ffff)
}

impl FragmentMap {
    fn slot(tag: u64) -> usize {
        (tag >> 20) as usize % FRAGMENT_SLOTS
    }

    /// Remembers the ports of a datagram whose first fragment was let
    /// through.
    pub fn remember(&self, id: &DatagramId, ports: (u16, u16), now_ms: u64) {
        let tag = id.tag();
        let at = Self::slot(tag);
        self.tags[at].store(0, Ordering::Relaxed);
        fence(Ordering::Release);
        self.values[at].store(pack(ports, now_ms), Ordering::Relaxed);
        self.tags[at].store(tag, Ordering::Release);
    }

    /// The ports of the datagram's first fragment, if it was let through in
    /// the last [`FRAGMENT_TIMEOUT_MS`].
    pub fn ports(&self, id: &DatagramId, now_ms: u64) -> Option<(u16, u16)> {
        let tag = id.tag();
        let at = Self::slot(tag);
        if self.tags[at].load(Ordering::Acquire) != tag {
            return None;
        }
        let value = self.values[at].load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        if self.tags[at].load(Ordering::Relaxed) != tag {
            return None;
        }
        let age = (now_ms & 0xffff_ffff).wrapping_sub(value & 0xffff_ffff) & 0xffff_ffff;
        if age > FRAGMENT_TIMEOUT_MS {
            return None;
        }
        Some(((value >> 48) as u16, (value >> 32) as u16))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ident: u32) -> DatagramId {
        DatagramId {
            ingress: 1,
            src: "10.1.1.4".parse().unwrap(),
            dst: "10.2.1.4".parse().unwrap(),
            proto: 17,
            ident,
        }
    }

    #[test]
    fn remembers_ports_until_the_timeout() {
        let map = FragmentMap::default();
        assert_eq!(map.ports(&id(7), 1_000), None);
        map.remember(&id(7), (40000, 5201), 1_000);
        assert_eq!(map.ports(&id(7), 1_000), Some((40000, 5201)));
        assert_eq!(
            map.ports(&id(7), 1_000 + FRAGMENT_TIMEOUT_MS),
            Some((40000, 5201))
        );
        assert_eq!(map.ports(&id(7), 1_001 + FRAGMENT_TIMEOUT_MS), None);
        assert_eq!(map.ports(&id(8), 1_000), None);
        let mut other_nic = id(7);
        other_nic.ingress = 2;
        assert_eq!(map.ports(&other_nic, 1_000), None);
    }

    #[test]
    fn many_datagrams_never_return_wrong_ports() {
        // More datagrams than slots: some are forgotten, none is confused.
        let map = FragmentMap::default();
        for i in 0..(FRAGMENT_SLOTS as u32 * 3) {
            map.remember(&id(i), (i as u16, (i >> 16) as u16), 5);
        }
        let mut found = 0;
        for i in 0..(FRAGMENT_SLOTS as u32 * 3) {
            if let Some(p) = map.ports(&id(i), 5) {
                assert_eq!(p, (i as u16, (i >> 16) as u16));
                found += 1;
            }
        }
        assert!(found > FRAGMENT_SLOTS / 2, "{found}");
    }
}
