//! A generic longest-prefix-match table for IPv4 and IPv6.
//!
//! Nothing here knows about Azure: [`Lpm`] maps prefixes to values of any
//! type, and a lookup returns the value of the longest prefix that contains
//! an address. The policy layer compiles effective routes into one of these
//! per subnet; the packet path only ever reads it.
//!
//! A table is built once from a list of `(prefix, value)` pairs and is
//! immutable afterwards. Lookups do not allocate, lock or make system calls.
//!
//! # Structure
//!
//! Each address family is a multibit trie with a wide first stride and
//! compressed 6-bit nodes, in the style of poptrie (Asai and Ohara,
//! SIGCOMM 2015):
//!
//! - the first bits of the address index a flat array of slots; a slot
//!   holds either a final answer or the index of a node. Tables with 1,024
//!   or more prefixes in a family use 18 bits for IPv4 and 16 for IPv6
//!   (1 MiB and 256 KiB); smaller ones, such as the route table of one
//!   subnet, use 8 bits (1 KiB), since they stay in cache anyway;
//! - each node covers the next 6 bits (64 positions) with two 64-bit
//!   bitmaps: `children` marks the positions that continue into a child
//!   node, `leaf_starts` marks where a run of equal answers begins among the
//!   other positions. The children of a node are stored contiguously, as
//!   are its leaves, so the next index is a base plus a population count;
//! - prefixes are expanded into the stride they end in, so the answer for a
//!   position already is the longest prefix seen on the way down (no
//!   backtracking).
//!
//! In a large IPv4 table a lookup reads the first-stride array and at most
//! three nodes (a /24 ends in the first node); IPv6 lookups read as many
//! nodes as the matching prefixes are deep (one per 6 bits past the first
//! stride). Nodes are 24 bytes, so 100,000 random IPv4 prefixes take a few
//! megabytes. Large, deep IPv6 tables would profit from path compression
//! (skipping chains of single-child nodes), which this structure does not
//! do yet; per-subnet route tables are small and stay in cache.
//!
//! The `ip_network_table` crate (a tree bitmap with 4-bit strides and
//! per-node allocations) was the starting point. With 100,000 random IPv4
//! prefixes (/8–/32) it took about 59 ns per lookup for uniform random
//! addresses and 96 ns for addresses inside the prefixes on the target
//! machine, over the 30 ns budget: its 4-bit strides mean more dependent
//! memory reads per lookup. This structure takes about 12 ns and 24 ns on the same
//! sets. With 100,000 random IPv6 prefixes (/16–/64 in 2000::/3) it takes
//! 33 ns for random addresses (tree bitmap: 74 ns), but about 350 ns for
//! addresses inside the prefixes, the same as the tree bitmap: each of
//! the up to eight levels is a cache miss. `benches/route_lookup.rs`
//! measures all of these.
//!
//! # Duplicates
//!
//! Prefixes are normalised (host bits cleared: `10.1.2.3/8` is
//! `10.0.0.0/8`). When the same prefix is given more than once, the last
//! value wins and the earlier entries are dropped, as with a map insert.

use ipnet::IpNet;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Bits resolved by the flat first-stride array of a small table: 256
/// slots, so that the many small per-subnet tables stay small.
const SMALL_ROOT_BITS: u32 = 8;
/// Tables with at least this many prefixes in a family use the family's
/// wide first stride ([`Key::WIDE_ROOT_BITS`]).
const WIDE_ROOT_MIN_PREFIXES: usize = 1024;
/// Bits resolved by each node below it.
const STRIDE: u32 = 6;
/// In a first-stride slot: the rest of the slot is a node index.
const NODE_TAG: u32 = 1 << 31;
/// "No prefix matches" as an answer.
const NO_MATCH: u32 = NODE_TAG - 1;
/// The most entries one family can index (answers are 31-bit).
const MAX_ENTRIES: usize = NO_MATCH as usize;

/// An immutable longest-prefix-match table.
#[derive(Debug, Clone)]
pub struct Lpm<T> {
    entries: Vec<(IpNet, T)>,
    v4: Trie<u32>,
    v6: Trie<u128>,
}

impl<T> Default for Lpm<T> {
    fn default() -> Self {
        Lpm::new(Vec::new())
    }
}

impl<T> FromIterator<(IpNet, T)> for Lpm<T> {
    fn from_iter<I: IntoIterator<Item = (IpNet, T)>>(iter: I) -> Self {
        Lpm::new(iter.into_iter().collect())
    }
}

impl<T> Lpm<T> {
    /// Builds the table. Host bits of each prefix are cleared; of several
    /// equal prefixes the last one is kept. A family holds at most
    /// 2^31 − 1 prefixes (far more than fits in memory as input); any
    /// beyond that are left out.
    pub fn new(entries: Vec<(IpNet, T)>) -> Self {
        let mut last_index: HashMap<IpNet, usize> = HashMap::with_capacity(entries.len());
        let normalised: Vec<(IpNet, T)> = entries
            .into_iter()
            .map(|(net, value)| (net.trunc(), value))
            .collect();
        for (i, (net, _)) in normalised.iter().enumerate() {
            last_index.insert(*net, i);
        }
        let mut kept: Vec<(IpNet, T)> = normalised
            .into_iter()
            .enumerate()
            .filter(|(i, (net, _))| last_index.get(net) == Some(i))
            .map(|(_, entry)| entry)
            .collect();

        let mut v4_items = Vec::new();
        let mut v6_items = Vec::new();
        for (i, (net, _)) in kept.iter().enumerate() {
            let Ok(index) = u32::try_from(i) else { break };
            match net {
                IpNet::V4(n) if v4_items.len() < MAX_ENTRIES => v4_items.push(Item {
                    key: u32::from(n.network()),
                    len: u32::from(n.prefix_len()),
                    value: index,
                }),
                IpNet::V6(n) if v6_items.len() < MAX_ENTRIES => v6_items.push(Item {
                    key: u128::from(n.network()),
                    len: u32::from(n.prefix_len()),
                    value: index,
                }),
                _ => {}
            }
        }
        // Entries that could not be indexed are not in the table either.
        let indexed = v4_items.len() + v6_items.len();
        kept.truncate(indexed);

        Lpm {
            entries: kept,
            v4: Trie::build(v4_items),
            v6: Trie::build(v6_items),
        }
    }

    /// The longest prefix containing `addr`, with its value.
    #[inline]
    pub fn lookup(&self, addr: IpAddr) -> Option<(IpNet, &T)> {
        match addr {
            IpAddr::V4(a) => self.lookup_v4(a),
            IpAddr::V6(a) => self.lookup_v6(a),
        }
    }

    /// The longest IPv4 prefix containing `addr`, with its value.
    #[inline]
    pub fn lookup_v4(&self, addr: Ipv4Addr) -> Option<(IpNet, &T)> {
        self.answer(self.v4.lookup(u32::from(addr)))
    }

    /// The longest IPv6 prefix containing `addr`, with its value.
    #[inline]
    pub fn lookup_v6(&self, addr: Ipv6Addr) -> Option<(IpNet, &T)> {
        self.answer(self.v6.lookup(u128::from(addr)))
    }

    #[inline]
    fn answer(&self, index: u32) -> Option<(IpNet, &T)> {
        self.entries
            .get(index as usize)
            .map(|(net, value)| (*net, value))
    }

    /// Number of prefixes in the table (both families).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, normalised and without overridden duplicates, in input
    /// order.
    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &T)> + '_ {
        self.entries.iter().map(|(net, value)| (*net, value))
    }

    /// The value stored for exactly `prefix` (host bits are ignored).
    pub fn get_exact(&self, prefix: IpNet) -> Option<&T> {
        let prefix = prefix.trunc();
        self.entries
            .iter()
            .find(|(net, _)| *net == prefix)
            .map(|(_, value)| value)
    }
}

/// An address as an unsigned integer, most significant bit first.
trait Key: Copy + Ord + std::fmt::Debug {
    const WIDTH: u32;
    /// First-stride width of a large table.
    const WIDE_ROOT_BITS: u32;
    /// The first `bits` bits (1..=24).
    fn root_index(self, bits: u32) -> usize;
    /// The [`STRIDE`] bits after the first `consumed` bits; bits past the
    /// end of the address read as zero. `consumed` is below `WIDTH`.
    fn chunk(self, consumed: u32) -> u32;
}

impl Key for u32 {
    const WIDTH: u32 = 32;
    const WIDE_ROOT_BITS: u32 = 18;
    #[inline(always)]
    fn root_index(self, bits: u32) -> usize {
        (self >> (Self::WIDTH - bits)) as usize
    }
    #[inline(always)]
    fn chunk(self, consumed: u32) -> u32 {
        self.wrapping_shl(consumed) >> (Self::WIDTH - STRIDE)
    }
}

impl Key for u128 {
    const WIDTH: u32 = 128;
    const WIDE_ROOT_BITS: u32 = 16;
    #[inline(always)]
    fn root_index(self, bits: u32) -> usize {
        (self >> (Self::WIDTH - bits)) as usize
    }
    #[inline(always)]
    fn chunk(self, consumed: u32) -> u32 {
        (self.wrapping_shl(consumed) >> (Self::WIDTH - STRIDE)) as u32
    }
}

/// A prefix while building: network bits, length, answer.
#[derive(Debug, Clone, Copy)]
struct Item<K> {
    key: K,
    len: u32,
    value: u32,
}

#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct Node {
    /// Positions that continue into a child node.
    children: u64,
    /// Among the other positions, where a run of equal answers starts.
    leaf_starts: u64,
    /// Index in [`Trie::nodes`] of the first child.
    child_base: u32,
    /// Index in [`Trie::leaves`] of the first run's answer.
    leaf_base: u32,
}

/// One address family.
#[derive(Debug, Clone)]
struct Trie<K> {
    /// First stride: an answer, or `NODE_TAG | node index`. Empty when the
    /// family has no prefixes.
    root: Vec<u32>,
    /// Address bits resolved by `root`.
    root_bits: u32,
    nodes: Vec<Node>,
    leaves: Vec<u32>,
    _key: std::marker::PhantomData<K>,
}

/// Mask of the positions at or below `bit` (a single set bit).
#[inline(always)]
fn up_to(bit: u64) -> u64 {
    bit | (bit - 1)
}

impl<K: Key> Trie<K> {
    fn build(mut items: Vec<Item<K>>) -> Self {
        let mut trie = Trie {
            root: Vec::new(),
            root_bits: SMALL_ROOT_BITS,
            nodes: Vec::new(),
            leaves: Vec::new(),
            _key: std::marker::PhantomData,
        };
        if items.is_empty() {
            return trie;
        }
        // In (key, len) order a prefix comes before every prefix it
        // contains, so expanding in this order lets longer prefixes
        // overwrite shorter ones; and the prefixes below one slot or one
        // node position are contiguous.
        items.sort_unstable_by_key(|i| (i.key, i.len));

        let root_bits = if items.len() >= WIDE_ROOT_MIN_PREFIXES {
            K::WIDE_ROOT_BITS
        } else {
            SMALL_ROOT_BITS
        };
        trie.root_bits = root_bits;
        let mut root = vec![NO_MATCH; 1 << root_bits];
        let mut deeper: Vec<Item<K>> = Vec::new();
        for item in &items {
            if item.len <= root_bits {
                let span = 1usize << (root_bits - item.len);
                let start = item.key.root_index(root_bits) & !(span - 1);
                root[start..start + span].fill(item.value);
            } else {
                deeper.push(*item);
            }
        }
        // Each run of deeper prefixes under one slot becomes a node whose
        // default answer is what the shorter prefixes left in that slot.
        let mut start = 0;
        while start < deeper.len() {
            let slot = deeper[start].key.root_index(root_bits);
            let end = start
                + deeper[start..]
                    .iter()
                    .take_while(|i| i.key.root_index(root_bits) == slot)
                    .count();
            let at = trie.nodes.len();
            trie.nodes.push(Node::default());
            trie.fill_node(at, &deeper[start..end], root[slot], root_bits);
            // Node counts stay far below 2^31 (a node needs a prefix).
            root[slot] = NODE_TAG | (at as u32 & NO_MATCH);
            start = end;
        }
        trie.root = root;
        trie
    }

    /// Fills the node at `at` with `items` (sorted, all longer than
    /// `consumed` and sharing its first `consumed` bits). Positions no item
    /// covers answer `inherited`.
    fn fill_node(&mut self, at: usize, items: &[Item<K>], inherited: u32, consumed: u32) {
        let mut answers = [inherited; 64];
        let mut deeper: Vec<Item<K>> = Vec::new();
        let node_end = consumed + STRIDE;
        for item in items {
            if item.len <= node_end {
                let span = 1usize << (node_end - item.len);
                let start = item.key.chunk(consumed) as usize & !(span - 1);
                answers[start..start + span].fill(item.value);
            } else {
                deeper.push(*item);
            }
        }

        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut children = 0u64;
        let mut start = 0;
        while start < deeper.len() {
            let position = deeper[start].key.chunk(consumed) as usize;
            let end = start
                + deeper[start..]
                    .iter()
                    .take_while(|i| i.key.chunk(consumed) as usize == position)
                    .count();
            children |= 1 << position;
            runs.push((start, end));
            start = end;
        }

        let leaf_base = self.leaves.len();
        let mut leaf_starts = 0u64;
        let mut previous: Option<u32> = None;
        for (position, &answer) in answers.iter().enumerate() {
            if children & (1 << position) != 0 {
                continue;
            }
            if previous != Some(answer) {
                leaf_starts |= 1 << position;
                self.leaves.push(answer);
                previous = Some(answer);
            }
        }

        let child_base = self.nodes.len();
        self.nodes.resize(child_base + runs.len(), Node::default());
        if let Some(node) = self.nodes.get_mut(at) {
            *node = Node {
                children,
                leaf_starts,
                child_base: child_base as u32,
                leaf_base: leaf_base as u32,
            };
        }
        for (k, &(s, e)) in runs.iter().enumerate() {
            let position = deeper[s].key.chunk(consumed) as usize;
            self.fill_node(child_base + k, &deeper[s..e], answers[position], node_end);
        }
    }

    /// The answer for `key`: an entry index or [`NO_MATCH`].
    #[inline(always)]
    fn lookup(&self, key: K) -> u32 {
        let Some(&slot) = self.root.get(key.root_index(self.root_bits)) else {
            return NO_MATCH;
        };
        if slot & NODE_TAG == 0 {
            return slot;
        }
        let mut node_index = (slot & NO_MATCH) as usize;
        let mut consumed = self.root_bits;
        loop {
            let Some(node) = self.nodes.get(node_index) else {
                return NO_MATCH;
            };
            let bit = 1u64 << key.chunk(consumed);
            if node.children & bit != 0 {
                let rank = (node.children & up_to(bit)).count_ones() as usize;
                node_index = node.child_base as usize + rank - 1;
                consumed += STRIDE;
            } else {
                // The first non-child position always starts a run, so the
                // count is at least one.
                let rank = (node.leaf_starts & up_to(bit)).count_ones() as usize;
                let leaf = (node.leaf_base as usize + rank).wrapping_sub(1);
                return self.leaves.get(leaf).copied().unwrap_or(NO_MATCH);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipnet::{Ipv4Net, Ipv6Net};

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn table(prefixes: &[&str]) -> Lpm<usize> {
        Lpm::new(
            prefixes
                .iter()
                .enumerate()
                .map(|(i, p)| (net(p), i))
                .collect(),
        )
    }

    fn hit(t: &Lpm<usize>, addr: &str) -> Option<(String, usize)> {
        t.lookup(ip(addr)).map(|(n, v)| (n.to_string(), *v))
    }

    #[test]
    fn empty_table_matches_nothing() {
        let t: Lpm<usize> = Lpm::new(Vec::new());
        assert!(t.is_empty());
        assert_eq!(t.len(), 0);
        assert_eq!(hit(&t, "10.0.0.1"), None);
        assert_eq!(hit(&t, "::1"), None);
        assert_eq!(t.iter().count(), 0);
    }

    #[test]
    fn default_routes_match_everything_in_their_family_only() {
        let t = table(&["0.0.0.0/0"]);
        assert_eq!(hit(&t, "1.2.3.4"), Some(("0.0.0.0/0".into(), 0)));
        assert_eq!(hit(&t, "255.255.255.255"), Some(("0.0.0.0/0".into(), 0)));
        assert_eq!(hit(&t, "::"), None);
        let t = table(&["::/0"]);
        assert_eq!(hit(&t, "2001:db8::1"), Some(("::/0".into(), 0)));
        assert_eq!(hit(&t, "0.0.0.0"), None);
    }

    #[test]
    fn host_routes() {
        let t = table(&["10.0.0.5/32", "2001:db8::5/128", "0.0.0.0/0"]);
        assert_eq!(hit(&t, "10.0.0.5"), Some(("10.0.0.5/32".into(), 0)));
        assert_eq!(hit(&t, "10.0.0.4"), Some(("0.0.0.0/0".into(), 2)));
        assert_eq!(hit(&t, "10.0.0.6"), Some(("0.0.0.0/0".into(), 2)));
        assert_eq!(hit(&t, "2001:db8::5"), Some(("2001:db8::5/128".into(), 1)));
        assert_eq!(hit(&t, "2001:db8::4"), None);
        assert_eq!(hit(&t, "2001:db8::6"), None);
    }

    #[test]
    fn nested_prefixes_pick_the_longest() {
        let t = table(&[
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.2.0/24",
            "10.1.2.128/25",
            "10.1.2.192/26",
            "10.1.2.193/32",
        ]);
        assert_eq!(hit(&t, "10.9.9.9").unwrap().0, "10.0.0.0/8");
        assert_eq!(hit(&t, "10.1.9.9").unwrap().0, "10.1.0.0/16");
        assert_eq!(hit(&t, "10.1.2.1").unwrap().0, "10.1.2.0/24");
        assert_eq!(hit(&t, "10.1.2.129").unwrap().0, "10.1.2.128/25");
        assert_eq!(hit(&t, "10.1.2.200").unwrap().0, "10.1.2.192/26");
        assert_eq!(hit(&t, "10.1.2.193").unwrap().0, "10.1.2.193/32");
        assert_eq!(hit(&t, "11.0.0.0"), None);
    }

    #[test]
    fn order_of_input_does_not_matter() {
        let a = table(&["10.1.2.0/24", "10.0.0.0/8", "10.1.0.0/16"]);
        assert_eq!(hit(&a, "10.1.2.3").unwrap().0, "10.1.2.0/24");
        assert_eq!(hit(&a, "10.1.3.3").unwrap().0, "10.1.0.0/16");
        assert_eq!(hit(&a, "10.2.3.3").unwrap().0, "10.0.0.0/8");
    }

    #[test]
    fn every_ipv4_length_at_stride_boundaries() {
        // One chain of nested prefixes of every length 0..=32 along one
        // address: each length must answer for the addresses it alone
        // covers.
        let base = u32::from(Ipv4Addr::new(0xAB, 0xCD, 0xEF, 0x97));
        let entries: Vec<(IpNet, u32)> = (0..=32u8)
            .map(|len| {
                let n = Ipv4Net::new(Ipv4Addr::from(base), len).unwrap().trunc();
                (IpNet::V4(n), u32::from(len))
            })
            .collect();
        let t = Lpm::new(entries);
        assert_eq!(t.len(), 33);
        for len in 0..=32u32 {
            // Flip the bit just after the prefix: only shorter ones match.
            let probe = if len == 32 {
                base
            } else {
                base ^ (1 << (31 - len))
            };
            let (n, v) = t.lookup_v4(Ipv4Addr::from(probe)).unwrap();
            assert_eq!(*v, len, "probe after /{len}");
            assert_eq!(u32::from(n.prefix_len()), len);
        }
    }

    #[test]
    fn every_ipv6_length() {
        let base: u128 = 0x2001_0db8_1234_5678_9abc_def0_1357_9bdf;
        let entries: Vec<(IpNet, u32)> = (0..=128u8)
            .map(|len| {
                let n = Ipv6Net::new(Ipv6Addr::from(base), len).unwrap().trunc();
                (IpNet::V6(n), u32::from(len))
            })
            .collect();
        let t = Lpm::new(entries);
        for len in 0..=128u32 {
            let probe = if len == 128 {
                base
            } else {
                base ^ (1 << (127 - len))
            };
            let (_, v) = t.lookup_v6(Ipv6Addr::from(probe)).unwrap();
            assert_eq!(*v, len, "probe after /{len}");
        }
    }

    #[test]
    fn families_are_separate() {
        // ::/96 and 0.0.0.0/0 must not see each other's addresses, even
        // where the integer values coincide.
        let t = table(&["0.0.0.0/8", "::/96", "::ffff:0:0/96"]);
        assert_eq!(hit(&t, "0.1.2.3").unwrap().0, "0.0.0.0/8");
        assert_eq!(hit(&t, "::1.2.3.4").unwrap().0, "::/96");
        assert_eq!(hit(&t, "::ffff:1.2.3.4").unwrap().0, "::ffff:0.0.0.0/96");
        assert_eq!(hit(&t, "1.2.3.4"), None);
    }

    #[test]
    fn duplicates_keep_the_last_value_and_host_bits_are_cleared() {
        let t = table(&["10.0.0.0/8", "10.9.9.9/8", "192.168.1.77/24"]);
        assert_eq!(t.len(), 2);
        assert_eq!(hit(&t, "10.1.1.1"), Some(("10.0.0.0/8".into(), 1)));
        assert_eq!(hit(&t, "192.168.1.1"), Some(("192.168.1.0/24".into(), 2)));
        let listed: Vec<String> = t.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(listed, ["10.0.0.0/8", "192.168.1.0/24"]);
        assert_eq!(t.get_exact(net("10.0.0.0/8")), Some(&1));
        assert_eq!(t.get_exact(net("10.0.0.0/9")), None);
    }

    #[test]
    fn wide_first_stride_agrees_with_a_linear_scan() {
        // Enough prefixes to switch both families to the wide first stride.
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut entries = Vec::new();
        for i in 0..3000u32 {
            let r = next();
            // A small pool of high bits so that prefixes nest.
            let v4 = (r as u32 & 0x0303_ffff) | 0x0a00_0000;
            let v4_len = (r >> 32) as u8 % 33;
            entries.push((
                IpNet::V4(Ipv4Net::new(Ipv4Addr::from(v4), v4_len).unwrap()),
                i,
            ));
            let v6 = (u128::from(r) << 64 | u128::from(next())) & !(0xfffcu128 << 112);
            let v6_len = (r >> 40) as u8 % 129;
            entries.push((
                IpNet::V6(Ipv6Net::new(Ipv6Addr::from(v6), v6_len).unwrap()),
                i,
            ));
        }
        let t = Lpm::new(entries.clone());
        let linear = |addr: IpAddr| {
            let mut best: Option<(IpNet, u32)> = None;
            for (n, v) in &entries {
                let n = n.trunc();
                if n.contains(&addr) && best.is_none_or(|(b, _)| n.prefix_len() >= b.prefix_len()) {
                    best = Some((n, *v));
                }
            }
            best
        };
        for (n, _) in entries.iter().take(2000) {
            for addr in [n.network(), n.broadcast()] {
                assert_eq!(t.lookup(addr).map(|(n, v)| (n, *v)), linear(addr), "{addr}");
            }
        }
    }

    #[test]
    fn runs_and_children_share_a_node() {
        // Under 10.1.0.0/16: a /18 (leaf run), a child below another
        // position, and a gap that falls back to the /8.
        let t = table(&["10.0.0.0/8", "10.1.64.0/18", "10.1.4.0/24", "10.1.4.7/32"]);
        assert_eq!(hit(&t, "10.1.0.1").unwrap().0, "10.0.0.0/8");
        assert_eq!(hit(&t, "10.1.4.1").unwrap().0, "10.1.4.0/24");
        assert_eq!(hit(&t, "10.1.4.7").unwrap().0, "10.1.4.7/32");
        assert_eq!(hit(&t, "10.1.5.1").unwrap().0, "10.0.0.0/8");
        assert_eq!(hit(&t, "10.1.100.1").unwrap().0, "10.1.64.0/18");
        assert_eq!(hit(&t, "10.1.200.1").unwrap().0, "10.0.0.0/8");
    }
}
