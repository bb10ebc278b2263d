//! A worker's delay line: packets held until their release time, then
//! handed back in release order (equal times in arrival order). This is
//! how a lab gets the round trip of two regions, a site's internet path, a
//! link's jitter and the queue behind a rate cap: the host's kernel has no
//! `netem`, so the daemon delays the packets itself.
//!
//! The packets' bytes live in one ring of memory allocated when the
//! worker starts delaying; entries are released out of order (different
//! paths have different delays), and their room comes back once every
//! older entry is released too. A full ring or a full queue refuses a
//! packet, which the caller counts as dropped: nothing on the per-packet
//! path allocates.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Bytes of an entry's header: length, egress, released flag, padding,
/// the caller's tag.
const HEADER: usize = 24;
/// An entry's length where the writer wrapped to the ring's start.
const WRAP: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    release_ns: u64,
    seq: u64,
    offset: u32,
}

pub struct DelayLine {
    ring: Box<[u8]>,
    /// Where the next entry is written.
    head: usize,
    /// The oldest entry not yet reclaimed.
    tail: usize,
    /// Entries written and not yet reclaimed (released or not).
    entries: usize,
    queue: BinaryHeap<Reverse<Held>>,
    capacity: usize,
    seq: u64,
}

fn padded(len: usize) -> usize {
    (HEADER + len).div_ceil(8) * 8
}

impl DelayLine {
    /// A line of `ring_bytes` of packet memory holding at most `packets`
    /// packets at once.
    pub fn new(ring_bytes: usize, packets: usize) -> DelayLine {
        DelayLine {
            ring: vec![0u8; ring_bytes.max(HEADER * 2)].into_boxed_slice(),
            head: 0,
            tail: 0,
            entries: 0,
            queue: BinaryHeap::with_capacity(packets),
            capacity: packets,
            seq: 0,
        }
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// When the next packet is due, if one is held.
    pub fn next_release(&self) -> Option<u64> {
        self.queue.peek().map(|Reverse(h)| h.release_ns)
    }

    /// Holds `packet` for `egress` until `release_ns`, with the caller's
    /// `tag` (what it counts the packet as); false when there is no room
    /// (the packet is the caller's to count as dropped).
    pub fn hold(&mut self, packet: &[u8], egress: u32, tag: u64, release_ns: u64) -> bool {
        if self.queue.len() == self.capacity || packet.len() >= WRAP as usize {
            return false;
        }
        let need = padded(packet.len());
        let cap = self.ring.len();
        let offset = if self.entries == 0 {
            self.head = 0;
            self.tail = 0;
            (need <= cap).then_some(0)
        } else if self.head >= self.tail {
            if cap - self.head >= need {
                Some(self.head)
            } else if self.tail > need {
                // Wrap: mark the rest of the ring unused when there is room
                // for a mark (a shorter rest is skipped by its size alone).
                if cap - self.head >= HEADER {
                    self.ring[self.head..self.head + 4].copy_from_slice(&WRAP.to_ne_bytes());
                }
                Some(0)
            } else {
                None
            }
        } else if self.tail - self.head > need {
            Some(self.head)
        } else {
            None
        };
        let Some(offset) = offset else {
            return false;
        };
        let entry = &mut self.ring[offset..offset + need];
        entry[0..4].copy_from_slice(&(packet.len() as u32).to_ne_bytes());
        entry[4..8].copy_from_slice(&egress.to_ne_bytes());
        entry[8] = 0;
        entry[16..24].copy_from_slice(&tag.to_ne_bytes());
        entry[HEADER..HEADER + packet.len()].copy_from_slice(packet);
        self.head = offset + need;
        self.entries += 1;
        self.seq += 1;
        self.queue.push(Reverse(Held {
            release_ns,
            seq: self.seq,
            offset: offset as u32,
        }));
        true
    }

    /// Hands every packet due at `now_ns` to `send` (its egress, tag and
    /// bytes), in release order.
    pub fn release_due(&mut self, now_ns: u64, mut send: impl FnMut(u32, u64, &[u8])) {
        while let Some(Reverse(held)) = self.queue.peek().copied() {
            if held.release_ns > now_ns {
                break;
            }
            self.queue.pop();
            let at = held.offset as usize;
            let len = u32::from_ne_bytes(self.ring[at..at + 4].try_into().unwrap()) as usize;
            let egress = u32::from_ne_bytes(self.ring[at + 4..at + 8].try_into().unwrap());
            let tag = u64::from_ne_bytes(self.ring[at + 16..at + 24].try_into().unwrap());
            send(egress, tag, &self.ring[at + HEADER..at + HEADER + len]);
            self.ring[at + 8] = 1;
            self.reclaim();
        }
    }

    /// Gives back the room of released entries from the oldest on.
    fn reclaim(&mut self) {
        let cap = self.ring.len();
        while self.entries > 0 {
            if cap - self.tail < HEADER {
                self.tail = 0;
                continue;
            }
            let len = u32::from_ne_bytes(self.ring[self.tail..self.tail + 4].try_into().unwrap());
            if len == WRAP {
                self.tail = 0;
                continue;
            }
            if self.ring[self.tail + 8] == 0 {
                break;
            }
            self.tail += padded(len as usize);
            self.entries -= 1;
        }
        if self.entries == 0 {
            self.head = 0;
            self.tail = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain(line: &mut DelayLine, now: u64) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        line.release_due(now, |egress, tag, bytes| {
            assert_eq!(tag, u64::from(egress) * 3, "the tag comes back");
            out.push((egress, bytes.to_vec()))
        });
        out
    }

    #[test]
    fn packets_come_out_by_release_time_then_arrival() {
        let mut line = DelayLine::new(4096, 16);
        assert!(line.hold(b"late", 1, 3, 300));
        assert!(line.hold(b"early", 2, 6, 100));
        assert!(line.hold(b"early-too", 3, 9, 100));
        assert_eq!(line.next_release(), Some(100));
        assert!(drain(&mut line, 99).is_empty());
        assert_eq!(
            drain(&mut line, 100),
            vec![(2, b"early".to_vec()), (3, b"early-too".to_vec())]
        );
        assert_eq!(drain(&mut line, 1_000), vec![(1, b"late".to_vec())]);
        assert!(line.is_empty());
        assert_eq!(line.next_release(), None);
    }

    #[test]
    fn a_full_queue_or_ring_refuses_and_room_comes_back() {
        let mut line = DelayLine::new(4096, 2);
        assert!(line.hold(&[1; 10], 0, 0, 5));
        assert!(line.hold(&[2; 10], 0, 0, 5));
        assert!(!line.hold(&[3; 10], 0, 0, 5), "the queue holds two");
        drain(&mut line, 5);
        let mut small = DelayLine::new(300, 64);
        assert!(small.hold(&[7; 200], 0, 0, 10));
        assert!(!small.hold(&[8; 200], 0, 0, 10), "the ring is full");
        assert_eq!(drain(&mut small, 10).len(), 1);
        assert!(small.hold(&[8; 200], 0, 0, 20), "released room is reused");
    }

    #[test]
    fn a_long_held_packet_pins_the_ring_behind_it_until_it_goes() {
        // Entries of 100 bytes take 120 of the ring: four fit in 512.
        let mut line = DelayLine::new(512, 64);
        assert!(line.hold(&[1; 100], 1, 3, 1_000));
        for t in 0..3u64 {
            assert!(line.hold(&[2; 100], 2, 6, t), "round {t}");
            assert_eq!(drain(&mut line, t), vec![(2, vec![2; 100])]);
        }
        // Released, but behind the held one: their room is not back yet.
        assert!(!line.hold(&[2; 100], 2, 6, 3));
        assert_eq!(drain(&mut line, 1_000), vec![(1, vec![1; 100])]);
        assert!(line.hold(&[2; 100], 2, 6, 1_001), "all the room is back");
    }

    proptest! {
        /// Against a plain sorted list: the same packets, in the same
        /// order, with the same bytes, whatever the sizes, times and
        /// releases in between.
        #[test]
        fn it_releases_what_a_sorted_list_would(
            ops in prop::collection::vec((0usize..300, 0u64..50, any::<bool>()), 1..200)
        ) {
            let mut line = DelayLine::new(2048, 32);
            let mut reference: Vec<(u64, u64, u32, Vec<u8>)> = Vec::new();
            let mut seq = 0u64;
            let mut now = 0u64;
            for (i, (len, delay, advance)) in ops.into_iter().enumerate() {
                let bytes: Vec<u8> = (0..len).map(|b| (b + i) as u8).collect();
                if line.hold(&bytes, i as u32, u64::from(i as u32) * 3, now + delay) {
                    seq += 1;
                    reference.push((now + delay, seq, i as u32, bytes));
                }
                if advance {
                    now += 7;
                    reference.sort();
                    let due: Vec<(u32, Vec<u8>)> = reference
                        .iter()
                        .filter(|r| r.0 <= now)
                        .map(|r| (r.2, r.3.clone()))
                        .collect();
                    reference.retain(|r| r.0 > now);
                    prop_assert_eq!(drain(&mut line, now), due);
                }
            }
            reference.sort();
            let rest: Vec<(u32, Vec<u8>)> = reference.iter().map(|r| (r.2, r.3.clone())).collect();
            prop_assert_eq!(drain(&mut line, u64::MAX), rest);
            prop_assert!(line.is_empty());
        }
    }
}
