//! A generic first-match packet classifier over five fields: IP protocol,
//! source and destination address, source and destination port.
//!
//! Nothing here knows about Azure. The policy layer turns NSG rules into an
//! ordered list of [`RuleMatch`]es (position = priority order) and asks which
//! rule a packet hits first.
//!
//! The lookup is the bit-vector scheme of Lakshman and Stiliadis ("High-speed
//! policy-based packet forwarding using efficient multi-dimensional range
//! matching", SIGCOMM 1998). For each field the value space is cut into
//! elementary intervals, the maximal runs of values that every rule treats
//! alike; each interval carries a bitset of the rules matching it (bit `i` =
//! rule `i`). A lookup finds the interval of each field, ANDs the five
//! bitsets word by word and returns the lowest set bit, stopping at the first
//! non-zero word. Field lookups are:
//!
//! - protocol: a 256-entry table;
//! - ports: a 65,537-entry table, entry 65,536 standing for "the packet has
//!   no port" (ICMP, ESP, AH...);
//! - addresses: a sorted array of interval starts per family (`u32` for IPv4,
//!   `u128` for IPv6) searched by bisection. Families never mix: an IPv6
//!   prefix matches no IPv4 address and vice versa.
//!
//! Identical bitsets are stored once, so memory is bounded by the number of
//! distinct match sets rather than by the number of intervals.
//! [`Classifier::classify`] does not allocate, lock or make system calls.

pub use crate::net::{PacketKey, PortRange, PortSpec};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;

/// A set of IP protocol numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProtocolSet([u64; 4]);

impl ProtocolSet {
    /// Every protocol number.
    pub const ANY: ProtocolSet = ProtocolSet([u64::MAX; 4]);
    /// No protocol at all.
    pub const NONE: ProtocolSet = ProtocolSet([0; 4]);

    /// The protocols listed.
    pub fn of(protocols: &[u8]) -> ProtocolSet {
        let mut set = ProtocolSet::NONE;
        for &p in protocols {
            set.insert(p);
        }
        set
    }

    /// The protocols for which `pred` holds.
    pub fn from_fn(pred: impl Fn(u8) -> bool) -> ProtocolSet {
        let mut set = ProtocolSet::NONE;
        for p in 0..=u8::MAX {
            if pred(p) {
                set.insert(p);
            }
        }
        set
    }

    pub fn insert(&mut self, proto: u8) {
        self.0[usize::from(proto >> 6)] |= 1 << (proto & 63);
    }

    pub fn contains(&self, proto: u8) -> bool {
        self.0[usize::from(proto >> 6)] & (1 << (proto & 63)) != 0
    }
}

/// What one rule matches. A packet matches when every field does:
///
/// - `protocols` contains the packet's protocol;
/// - some prefix of `src` contains the source address (an empty list
///   matches nothing; "any address" is `[0.0.0.0/0, ::/0]`), likewise `dst`;
/// - `src_ports` / `dst_ports` match the ports as [`PortSpec::matches`]
///   defines: `Any` matches every packet, port or not; ranges match only
///   packets that carry a port inside one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMatch {
    pub protocols: ProtocolSet,
    pub src: Vec<IpNet>,
    pub dst: Vec<IpNet>,
    pub src_ports: PortSpec,
    pub dst_ports: PortSpec,
}

impl RuleMatch {
    /// Whether `key` matches this rule, field by field (the slow, obvious
    /// definition that the classifier must agree with).
    pub fn matches(&self, key: &PacketKey) -> bool {
        self.protocols.contains(key.proto)
            && self.src.iter().any(|n| n.contains(&key.src))
            && self.dst.iter().any(|n| n.contains(&key.dst))
            && self.src_ports.matches(key.src_port)
            && self.dst_ports.matches(key.dst_port)
    }
}

/// Index of a bitset in [`Classifier::bitsets`].
type BitsetId = u32;

/// Port table slot for packets without a port.
const NO_PORT: usize = 65_536;
const PORT_SLOTS: usize = 65_537;

/// Elementary intervals of one address family: `starts[i]` is the first
/// value of interval `i`, which runs up to `starts[i + 1] - 1` (or to the end
/// of the space). `starts[0]` is always 0.
#[derive(Debug, Clone)]
struct IntervalMap<T> {
    starts: Vec<T>,
    ids: Vec<BitsetId>,
}

impl<T: Copy + Ord> IntervalMap<T> {
    #[inline]
    fn lookup(&self, value: T) -> BitsetId {
        // Number of starts <= value, at least 1 because starts[0] is 0.
        let n = self.starts.partition_point(|&s| s <= value);
        self.ids.get(n.wrapping_sub(1)).copied().unwrap_or(0)
    }
}

/// First-match classifier compiled from an ordered list of [`RuleMatch`].
#[derive(Debug, Clone)]
pub struct Classifier {
    rules: usize,
    /// 64-bit words per bitset.
    words: usize,
    /// All distinct bitsets, `words` words each, back to back. Bitset 0 is
    /// the empty set.
    bitsets: Vec<u64>,
    proto: Box<[BitsetId; 256]>,
    src_port: Box<[BitsetId]>,
    dst_port: Box<[BitsetId]>,
    src_v4: IntervalMap<u32>,
    dst_v4: IntervalMap<u32>,
    src_v6: IntervalMap<u128>,
    dst_v6: IntervalMap<u128>,
}

impl Classifier {
    /// Compiles `rules`; the first matching rule of this order wins.
    pub fn new(rules: &[RuleMatch]) -> Classifier {
        let mut interner = Interner::new(rules.len());

        let proto_map = interner.sweep(
            rules.iter().enumerate().flat_map(|(i, r)| {
                (0..=u8::MAX)
                    .filter(|&p| r.protocols.contains(p))
                    .map(move |p| (i, u128::from(p), u128::from(p)))
            }),
            rules.len(),
        );
        let mut proto = Box::new([0; 256]);
        proto_map.fill(&mut proto[..]);

        let src_port = port_table(&mut interner, rules, |r| &r.src_ports);
        let dst_port = port_table(&mut interner, rules, |r| &r.dst_ports);

        let src_v4 = v4_map(&mut interner, rules, |r| &r.src);
        let dst_v4 = v4_map(&mut interner, rules, |r| &r.dst);
        let src_v6 = v6_map(&mut interner, rules, |r| &r.src);
        let dst_v6 = v6_map(&mut interner, rules, |r| &r.dst);

        Classifier {
            rules: rules.len(),
            words: interner.words,
            bitsets: interner.arena,
            proto,
            src_port,
            dst_port,
            src_v4,
            dst_v4,
            src_v6,
            dst_v6,
        }
    }

    /// Number of rules compiled in.
    pub fn len(&self) -> usize {
        self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules == 0
    }

    /// Number of distinct match sets stored (a measure of memory use).
    pub fn distinct_bitsets(&self) -> usize {
        self.bitsets.len().checked_div(self.words).unwrap_or(0)
    }

    /// Index of the first rule that `key` matches, if any.
    #[inline]
    pub fn classify(&self, key: &PacketKey) -> Option<usize> {
        let proto = self.proto[usize::from(key.proto)];
        let sport = self.port_id(&self.src_port, key.src_port);
        let dport = self.port_id(&self.dst_port, key.dst_port);
        let src = match key.src {
            IpAddr::V4(a) => self.src_v4.lookup(u32::from(a)),
            IpAddr::V6(a) => self.src_v6.lookup(u128::from(a)),
        };
        let dst = match key.dst {
            IpAddr::V4(a) => self.dst_v4.lookup(u32::from(a)),
            IpAddr::V6(a) => self.dst_v6.lookup(u128::from(a)),
        };
        let (proto, sport, dport, src, dst) = (
            self.bitset(proto)?,
            self.bitset(sport)?,
            self.bitset(dport)?,
            self.bitset(src)?,
            self.bitset(dst)?,
        );
        let words = proto.iter().zip(sport).zip(dport).zip(src).zip(dst);
        for (w, ((((p, sp), dp), s), d)) in words.enumerate() {
            let hits = p & sp & dp & s & d;
            if hits != 0 {
                return Some(w * 64 + hits.trailing_zeros() as usize);
            }
        }
        None
    }

    #[inline]
    fn port_id(&self, table: &[BitsetId], port: Option<u16>) -> BitsetId {
        let slot = port.map_or(NO_PORT, usize::from);
        table.get(slot).copied().unwrap_or(0)
    }

    #[inline]
    fn bitset(&self, id: BitsetId) -> Option<&[u64]> {
        let start = id as usize * self.words;
        self.bitsets.get(start..start + self.words)
    }
}

/// Builds and deduplicates bitsets.
struct Interner {
    words: usize,
    arena: Vec<u64>,
    ids: HashMap<Vec<u64>, BitsetId>,
}

impl Interner {
    fn new(rules: usize) -> Interner {
        let words = rules.div_ceil(64);
        let mut interner = Interner {
            words,
            arena: Vec::new(),
            ids: HashMap::new(),
        };
        // Id 0 is the empty set: the answer for any value no rule covers.
        interner.intern(&vec![0; words]);
        interner
    }

    fn intern(&mut self, bits: &[u64]) -> BitsetId {
        if let Some(&id) = self.ids.get(bits) {
            return id;
        }
        let id = BitsetId::try_from(self.ids.len()).unwrap_or(BitsetId::MAX);
        self.arena.extend_from_slice(bits);
        self.ids.insert(bits.to_vec(), id);
        id
    }

    /// Cuts a value space starting at 0 into elementary intervals from
    /// `(rule, lo, hi)` inclusive ranges and interns each interval's bitset.
    /// Adjacent intervals with the same bitset are merged.
    fn sweep(
        &mut self,
        ranges: impl Iterator<Item = (usize, u128, u128)>,
        rules: usize,
    ) -> Intervals {
        // +1 at lo, -1 past hi; a rule's ranges may overlap, hence counts.
        let mut events: Vec<(u128, usize, bool)> = Vec::new();
        for (rule, lo, hi) in ranges {
            if lo > hi || rule >= rules {
                continue;
            }
            events.push((lo, rule, true));
            if let Some(end) = hi.checked_add(1) {
                events.push((end, rule, false));
            }
        }
        events.sort_unstable_by_key(|e| e.0);

        let mut counts = vec![0u32; rules];
        let mut bits = vec![0u64; self.words];
        let mut starts = vec![0u128];
        let mut ids = vec![0];
        let mut i = 0;
        while i < events.len() {
            let point = events[i].0;
            while i < events.len() && events[i].0 == point {
                let (_, rule, open) = events[i];
                if open {
                    counts[rule] += 1;
                } else {
                    counts[rule] -= 1;
                }
                let bit = 1u64 << (rule % 64);
                if counts[rule] > 0 {
                    bits[rule / 64] |= bit;
                } else {
                    bits[rule / 64] &= !bit;
                }
                i += 1;
            }
            let id = self.intern(&bits);
            if ids.last() == Some(&id) {
                continue;
            }
            if point == 0 {
                // Rules covering 0 replace the initial empty interval.
                ids[0] = id;
            } else {
                starts.push(point);
                ids.push(id);
            }
        }
        Intervals { starts, ids }
    }
}

/// Elementary intervals over a generic `u128` value space.
struct Intervals {
    starts: Vec<u128>,
    ids: Vec<BitsetId>,
}

impl Intervals {
    /// Writes the bitset id of every value `0..table.len()` into `table`.
    fn fill(&self, table: &mut [BitsetId]) {
        for (i, (&start, &id)) in self.starts.iter().zip(&self.ids).enumerate() {
            let end = self
                .starts
                .get(i + 1)
                .map_or(table.len(), |&e| usize::try_from(e).unwrap_or(usize::MAX));
            let start = usize::try_from(start).unwrap_or(usize::MAX);
            if let Some(slots) = table.get_mut(start..end.min(table.len())) {
                slots.fill(id);
            }
        }
    }

    /// Converts to a narrower value type, dropping the interval that starts
    /// just past the end of the narrower space (from a range reaching its
    /// last value).
    fn narrow<T: TryFrom<u128>>(self) -> IntervalMap<T> {
        let (starts, ids) = self
            .starts
            .into_iter()
            .zip(self.ids)
            .filter_map(|(s, id)| T::try_from(s).ok().map(|s| (s, id)))
            .unzip();
        IntervalMap { starts, ids }
    }
}

fn port_table(
    interner: &mut Interner,
    rules: &[RuleMatch],
    field: impl Fn(&RuleMatch) -> &PortSpec,
) -> Box<[BitsetId]> {
    let ranges = rules.iter().enumerate().flat_map(|(i, r)| {
        let ranges: Vec<(usize, u128, u128)> = match field(r) {
            // `Any` covers packets without ports too.
            PortSpec::Any => vec![(i, 0, NO_PORT as u128)],
            PortSpec::Ranges(list) => list
                .iter()
                .map(|&PortRange { lo, hi }| (i, u128::from(lo), u128::from(hi)))
                .collect(),
        };
        ranges
    });
    let intervals = interner.sweep(ranges, rules.len());
    let mut table = vec![0; PORT_SLOTS].into_boxed_slice();
    intervals.fill(&mut table);
    table
}

fn v4_map(
    interner: &mut Interner,
    rules: &[RuleMatch],
    field: impl Fn(&RuleMatch) -> &Vec<IpNet>,
) -> IntervalMap<u32> {
    let ranges = rules.iter().enumerate().flat_map(|(i, r)| {
        field(r).iter().filter_map(move |net| match net {
            IpNet::V4(n) => Some((
                i,
                u128::from(u32::from(n.network())),
                u128::from(u32::from(n.broadcast())),
            )),
            IpNet::V6(_) => None,
        })
    });
    interner.sweep(ranges, rules.len()).narrow()
}

fn v6_map(
    interner: &mut Interner,
    rules: &[RuleMatch],
    field: impl Fn(&RuleMatch) -> &Vec<IpNet>,
) -> IntervalMap<u128> {
    let ranges = rules.iter().enumerate().flat_map(|(i, r)| {
        field(r).iter().filter_map(move |net| match net {
            IpNet::V6(n) => Some((i, u128::from(n.network()), u128::from(n.broadcast()))),
            IpNet::V4(_) => None,
        })
    });
    interner.sweep(ranges, rules.len()).narrow()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: u8 = 6;
    const UDP: u8 = 17;
    const ICMP: u8 = 1;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ports(list: &[(u16, u16)]) -> PortSpec {
        PortSpec::Ranges(list.iter().map(|&(lo, hi)| PortRange { lo, hi }).collect())
    }

    fn rule(protocols: ProtocolSet, src: &[&str], dst: &[&str]) -> RuleMatch {
        RuleMatch {
            protocols,
            src: src.iter().map(|s| net(s)).collect(),
            dst: dst.iter().map(|s| net(s)).collect(),
            src_ports: PortSpec::Any,
            dst_ports: PortSpec::Any,
        }
    }

    fn key(proto: u8, src: &str, dst: &str, sport: Option<u16>, dport: Option<u16>) -> PacketKey {
        PacketKey {
            proto,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            src_port: sport,
            dst_port: dport,
        }
    }

    /// Classifies with both the compiled classifier and a linear scan and
    /// insists they agree.
    fn check(rules: &[RuleMatch], k: PacketKey) -> Option<usize> {
        let expected = rules.iter().position(|r| r.matches(&k));
        assert_eq!(Classifier::new(rules).classify(&k), expected, "{k:?}");
        expected
    }

    /// [`check`]s each packet and insists on the rule given with it.
    fn check_each(
        rules: &[RuleMatch],
        cases: impl IntoIterator<Item = (PacketKey, Option<usize>)>,
    ) {
        for (k, expected) in cases {
            assert_eq!(check(rules, k), expected, "{k:?}");
        }
    }

    #[test]
    fn empty_classifier_matches_nothing() {
        let c = Classifier::new(&[]);
        assert_eq!(c.len(), 0);
        assert!(c.is_empty());
        assert_eq!(
            c.classify(&key(TCP, "1.2.3.4", "5.6.7.8", Some(1), Some(2))),
            None
        );
    }

    #[test]
    fn first_match_wins_over_later_rules() {
        let rules = vec![
            rule(ProtocolSet::of(&[TCP]), &["10.0.0.0/8"], &["0.0.0.0/0"]),
            rule(ProtocolSet::ANY, &["0.0.0.0/0"], &["0.0.0.0/0"]),
        ];
        let k = |proto, src| key(proto, src, "8.8.8.8", Some(1), Some(80));
        check_each(
            &rules,
            [
                (k(TCP, "10.1.2.3"), Some(0)),
                (k(UDP, "10.1.2.3"), Some(1)),
                (k(TCP, "11.1.2.3"), Some(1)),
            ],
        );
    }

    #[test]
    fn port_edges_0_and_65535() {
        let mut r0 = rule(ProtocolSet::ANY, &["0.0.0.0/0"], &["0.0.0.0/0"]);
        r0.dst_ports = ports(&[(0, 0)]);
        let mut r1 = r0.clone();
        r1.dst_ports = ports(&[(65535, 65535)]);
        let mut r2 = r0.clone();
        r2.dst_ports = ports(&[(1, 65534)]);
        let rules = vec![r0, r1, r2];
        let k = |p| key(TCP, "1.1.1.1", "2.2.2.2", Some(9), p);
        check_each(
            &rules,
            [
                (k(Some(0)), Some(0)),
                (k(Some(65535)), Some(1)),
                (k(Some(1)), Some(2)),
                (k(Some(65534)), Some(2)),
                (k(None), None),
            ],
        );
    }

    #[test]
    fn portless_packets_match_only_any_ports() {
        let mut ranged = rule(ProtocolSet::ANY, &["0.0.0.0/0"], &["0.0.0.0/0"]);
        ranged.src_ports = ports(&[(0, 65535)]);
        let any = rule(ProtocolSet::ANY, &["0.0.0.0/0"], &["0.0.0.0/0"]);
        let rules = vec![ranged, any];
        check_each(
            &rules,
            [
                (key(ICMP, "1.1.1.1", "2.2.2.2", None, None), Some(1)),
                (key(UDP, "1.1.1.1", "2.2.2.2", Some(0), Some(0)), Some(0)),
            ],
        );
    }

    #[test]
    fn port_lists_and_overlapping_ranges() {
        let mut r = rule(ProtocolSet::ANY, &["0.0.0.0/0"], &["0.0.0.0/0"]);
        r.dst_ports = ports(&[(80, 80), (443, 443), (1000, 2000), (1500, 3000)]);
        let rules = vec![r];
        let k = |p| key(TCP, "1.1.1.1", "2.2.2.2", Some(9), Some(p));
        for (p, hit) in [
            (79, false),
            (80, true),
            (81, false),
            (443, true),
            (999, false),
            (1000, true),
            (2000, true),
            (2001, true),
            (3000, true),
            (3001, false),
        ] {
            assert_eq!(check(&rules, k(p)).is_some(), hit, "port {p}");
        }
    }

    #[test]
    fn prefix_edges_v4() {
        let rules = vec![
            rule(ProtocolSet::ANY, &["10.0.0.5/32"], &["0.0.0.0/0"]),
            rule(ProtocolSet::ANY, &["10.0.0.0/24"], &["0.0.0.0/0"]),
            rule(ProtocolSet::ANY, &["0.0.0.0/0"], &["255.255.255.255/32"]),
        ];
        let k = |s, d| key(TCP, s, d, Some(1), Some(1));
        check_each(
            &rules,
            [
                (k("10.0.0.5", "1.1.1.1"), Some(0)),
                (k("10.0.0.4", "1.1.1.1"), Some(1)),
                (k("10.0.0.6", "1.1.1.1"), Some(1)),
                (k("10.0.0.0", "1.1.1.1"), Some(1)),
                (k("10.0.0.255", "1.1.1.1"), Some(1)),
                (k("10.0.1.0", "1.1.1.1"), None),
                (k("9.255.255.255", "1.1.1.1"), None),
                (k("0.0.0.0", "255.255.255.255"), Some(2)),
                (k("0.0.0.0", "255.255.255.254"), None),
            ],
        );
    }

    #[test]
    fn prefix_edges_v6() {
        let rules = vec![
            rule(ProtocolSet::ANY, &["2001:db8::1/128"], &["::/0"]),
            rule(ProtocolSet::ANY, &["2001:db8::/64"], &["::/0"]),
            rule(
                ProtocolSet::ANY,
                &["::/0"],
                &["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"],
            ),
        ];
        let k = |s, d| key(UDP, s, d, Some(1), Some(1));
        check_each(
            &rules,
            [
                (k("2001:db8::1", "::1"), Some(0)),
                (k("2001:db8::2", "::1"), Some(1)),
                (k("2001:db8::", "::1"), Some(1)),
            ],
        );
        assert_eq!(
            check(&rules, k("2001:db8:0:1::", "::1")),
            None,
            "just past the /64"
        );
        check_each(
            &rules,
            [
                (k("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Some(2)),
                (k("::", "::"), None),
            ],
        );
    }

    #[test]
    fn families_never_mix() {
        let rules = vec![
            rule(ProtocolSet::ANY, &["::/0"], &["::/0"]),
            rule(ProtocolSet::ANY, &["0.0.0.0/0"], &["0.0.0.0/0"]),
        ];
        check_each(
            &rules,
            [
                (key(TCP, "1.2.3.4", "5.6.7.8", Some(1), Some(1)), Some(1)),
                (key(TCP, "::ffff:1.2.3.4", "::1", Some(1), Some(1)), Some(0)),
            ],
        );
        let v6_only = vec![rule(ProtocolSet::ANY, &["::/96"], &["::/96"])];
        // 1.2.3.4 is numerically inside ::/96 but is an IPv4 address.
        assert_eq!(
            check(&v6_only, key(TCP, "1.2.3.4", "1.2.3.4", Some(1), Some(1))),
            None
        );
    }

    #[test]
    fn empty_address_list_matches_nothing() {
        let rules = vec![
            rule(ProtocolSet::ANY, &[], &["0.0.0.0/0"]),
            rule(ProtocolSet::ANY, &["0.0.0.0/0"], &["0.0.0.0/0"]),
        ];
        assert_eq!(
            check(&rules, key(TCP, "1.2.3.4", "5.6.7.8", Some(1), Some(1))),
            Some(1)
        );
    }

    #[test]
    fn protocol_table() {
        let rules = vec![
            rule(ProtocolSet::of(&[ICMP, 58]), &["0.0.0.0/0"], &["0.0.0.0/0"]),
            rule(ProtocolSet::of(&[255]), &["0.0.0.0/0"], &["0.0.0.0/0"]),
            rule(ProtocolSet::NONE, &["0.0.0.0/0"], &["0.0.0.0/0"]),
        ];
        let k = |p| key(p, "1.1.1.1", "2.2.2.2", None, None);
        check_each(
            &rules,
            [
                (k(ICMP), Some(0)),
                (k(58), Some(0)),
                (k(255), Some(1)),
                (k(0), None),
                (k(TCP), None),
            ],
        );
    }

    #[test]
    fn bitsets_cross_word_boundaries() {
        // 130 rules: only the last one matches, so the scan crosses words.
        let mut rules: Vec<RuleMatch> = (0..129)
            .map(|i| {
                rule(
                    ProtocolSet::of(&[TCP]),
                    &[&format!("10.0.{i}.0/24")],
                    &["0.0.0.0/0"],
                )
            })
            .collect();
        rules.push(rule(ProtocolSet::ANY, &["0.0.0.0/0"], &["0.0.0.0/0"]));
        let c = Classifier::new(&rules);
        assert_eq!(c.len(), 130);
        let k = key(UDP, "10.0.3.1", "2.2.2.2", Some(1), Some(1));
        assert_eq!(c.classify(&k), Some(129));
        let k = key(TCP, "10.0.128.1", "2.2.2.2", Some(1), Some(1));
        assert_eq!(c.classify(&k), Some(128));
        let k = key(TCP, "10.0.64.1", "2.2.2.2", Some(1), Some(1));
        assert_eq!(c.classify(&k), Some(64));
    }

    #[test]
    fn identical_match_sets_are_stored_once() {
        let rules: Vec<RuleMatch> = (0..50)
            .map(|_| rule(ProtocolSet::ANY, &["10.0.0.0/8"], &["10.0.0.0/8"]))
            .collect();
        let c = Classifier::new(&rules);
        // The empty set and the all-rules set.
        assert_eq!(c.distinct_bitsets(), 2);
    }

    #[test]
    fn inverted_port_range_is_ignored_without_panic() {
        let mut r = rule(ProtocolSet::ANY, &["0.0.0.0/0"], &["0.0.0.0/0"]);
        r.dst_ports = ports(&[(10, 5)]);
        let rules = vec![r];
        assert_eq!(
            check(&rules, key(TCP, "1.1.1.1", "2.2.2.2", Some(1), Some(7))),
            None
        );
    }

    #[test]
    fn overlapping_prefixes_within_one_rule() {
        let rules = vec![rule(
            ProtocolSet::ANY,
            &["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24"],
            &["0.0.0.0/0"],
        )];
        for s in ["10.0.0.0", "10.1.2.3", "10.1.3.0", "10.255.255.255"] {
            assert_eq!(
                check(&rules, key(TCP, s, "1.1.1.1", None, None)),
                Some(0),
                "{s}"
            );
        }
        assert_eq!(
            check(&rules, key(TCP, "11.0.0.0", "1.1.1.1", None, None)),
            None
        );
    }
}
