//! When a packet may go on: lost on a lossy link, queued behind the rate
//! caps of its path (a gateway's aggregate, a link's cap, a VM's egress
//! across its NICs), then delayed by the path's latency and jitter. Each
//! cap is a shared clock of when it is next free ([`Bucket`]); a packet
//! starts when every cap it crosses is free, and moves each on by its own
//! length at that cap's rate, so the caps shape (queue) rather than police.
//! A queue longer than [`MAX_QUEUE_NS`] drops the packet, as a gateway's
//! full buffer would. A flow keeps its order: its departure clock, shared
//! by every worker, holds the latest release any of them gave it, and no
//! later packet of the flow is released before it, whatever the jitter or
//! the worker. Lock-free: one compare-and-swap per cap, one atomic
//! maximum for the flow.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::snapshot::shaping::{Bucket, PathShaping};

/// The longest a packet waits for a cap: 50 ms of traffic, the queue a
/// token bucket of the same rate would keep.
pub const MAX_QUEUE_NS: u64 = 50_000_000;

/// A small, fast generator (xorshift64*) for loss and jitter: no
/// allocation, no syscall, one per worker.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) % n
    }
}

/// What becomes of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Send it now.
    Now,
    /// Hold it until this time (ns since the daemon's start).
    At(u64),
    /// Lost to the path's loss.
    Lost,
    /// A cap's queue is full.
    QueueFull,
}

/// Time `bytes` take at `mbps`, in nanoseconds.
fn cost_ns(bytes: u64, mbps: u32) -> u64 {
    bytes * 8_000 / u64::from(mbps.max(1))
}

/// Takes `bytes` through `bucket` starting no earlier than `start`: when
/// the packet starts, or `None` when it would wait too long.
fn take(bucket: &Bucket, start: u64, now: u64, bytes: u64) -> Option<u64> {
    let cost = cost_ns(bytes, bucket.mbps);
    let mut free = bucket.free_at_ns.load(Ordering::Relaxed);
    loop {
        let begin = free.max(start);
        if begin > now + MAX_QUEUE_NS {
            return None;
        }
        match bucket.free_at_ns.compare_exchange_weak(
            free,
            begin + cost,
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            Ok(_) => return Some(begin),
            Err(current) => free = current,
        }
    }
}

/// Paces one packet of `bytes` on the wire (`packets` segments) along a
/// path: `caps` are the buckets it crosses. `departure` is the flow's
/// clock, the latest release any worker gave it, which this packet never
/// goes before: a flow keeps its order.
pub fn pace<'b>(
    path: &PathShaping,
    caps: impl IntoIterator<Item = &'b Bucket>,
    now_ns: u64,
    bytes: u64,
    packets: u64,
    rng: &mut Rng,
    departure: &AtomicU64,
) -> Pace {
    // A super-packet is lost when any of its segments would be.
    if path.loss_ppm > 0 {
        let odds = (u64::from(path.loss_ppm) * packets.max(1)).min(1_000_000);
        if rng.below(1_000_000) < odds {
            return Pace::Lost;
        }
    }
    let mut start = now_ns;
    for bucket in caps {
        match take(bucket, start, now_ns, bytes) {
            Some(begin) => start = begin,
            None => return Pace::QueueFull,
        }
    }
    let mut release = start + u64::from(path.delay_us) * 1_000;
    if path.jitter_us > 0 {
        let spread = u64::from(path.jitter_us) * 1_000;
        release = release + rng.below(2 * spread + 1) - spread;
    }
    release = release.max(departure.fetch_max(release, Ordering::AcqRel));
    if release <= now_ns {
        Pace::Now
    } else {
        Pace::At(release)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn bucket(mbps: u32) -> Bucket {
        Bucket {
            mbps,
            what: String::new(),
            free_at_ns: AtomicU64::new(0),
        }
    }

    fn path(delay_us: u32, jitter_us: u32, loss_ppm: u32) -> PathShaping {
        PathShaping {
            delay_us,
            jitter_us,
            loss_ppm,
            ..PathShaping::plain(1500)
        }
    }

    #[test]
    fn a_free_path_sends_now_and_a_delayed_one_at_its_delay() {
        let mut rng = Rng::new(7);
        let last = AtomicU64::new(0);
        assert_eq!(
            pace(&path(0, 0, 0), [], 1_000, 1500, 1, &mut rng, &last),
            Pace::Now
        );
        assert_eq!(
            pace(&path(42_500, 0, 0), [], 1_000, 1500, 1, &mut rng, &last),
            Pace::At(1_000 + 42_500_000)
        );
    }

    #[test]
    fn a_cap_queues_packets_back_to_back_at_its_rate_then_drops() {
        // 1500 bytes at 100 Mbps: 120 microseconds each.
        let cap = bucket(100);
        let mut rng = Rng::new(7);
        let last = AtomicU64::new(0);
        let plain = path(0, 0, 0);
        assert_eq!(pace(&plain, [&cap], 0, 1500, 1, &mut rng, &last), Pace::Now);
        assert_eq!(
            pace(&plain, [&cap], 0, 1500, 1, &mut rng, &last),
            Pace::At(120_000)
        );
        assert_eq!(
            pace(&plain, [&cap], 0, 1500, 1, &mut rng, &last),
            Pace::At(240_000)
        );
        // 50 ms of queue is about 416 such packets; the rest are dropped.
        let mut queued = 3;
        while pace(&plain, [&cap], 0, 1500, 1, &mut rng, &last) != Pace::QueueFull {
            queued += 1;
        }
        assert_eq!(queued, (MAX_QUEUE_NS / 120_000 + 1) as usize);
    }

    #[test]
    fn every_cap_of_the_path_binds() {
        let (fast, slow) = (bucket(1_000), bucket(100));
        let mut rng = Rng::new(7);
        let last = AtomicU64::new(0);
        let plain = path(0, 0, 0);
        for _ in 0..10 {
            pace(&plain, [&fast, &slow], 0, 1500, 1, &mut rng, &last);
        }
        // Ten packets took 10 x 120 us at the slow cap.
        assert_eq!(slow.free_at_ns.load(Ordering::Relaxed), 1_200_000);
    }

    #[test]
    fn jitter_stays_within_its_spread_and_keeps_the_order() {
        let mut rng = Rng::new(11);
        let last = AtomicU64::new(0);
        let jittery = path(10_000, 2_000, 0);
        let mut releases = Vec::new();
        for i in 0..1_000u64 {
            let now = i * 100_000;
            let Pace::At(at) = pace(&jittery, [], now, 100, 1, &mut rng, &last) else {
                panic!("held");
            };
            assert!(at >= now + 8_000_000, "never before delay minus jitter");
            releases.push(at);
        }
        assert!(releases.windows(2).all(|w| w[0] <= w[1]));
        // Not all on the floor: the jitter spreads them.
        assert!(releases
            .iter()
            .enumerate()
            .any(|(i, at)| *at > i as u64 * 100_000 + 10_500_000));
    }

    #[test]
    fn two_workers_pacing_one_flow_never_release_a_later_packet_first() {
        // Each worker has its own generator; the flow's clock is shared.
        let (mut first, mut second) = (Rng::new(5), Rng::new(9));
        let flow = AtomicU64::new(0);
        let jittery = path(10_000, 5_000, 0);
        let mut releases = Vec::new();
        for i in 0..1_000u64 {
            let rng = if i % 3 == 0 { &mut first } else { &mut second };
            let Pace::At(at) = pace(&jittery, [], i * 10_000, 100, 1, rng, &flow) else {
                panic!("held");
            };
            releases.push(at);
        }
        assert!(releases.windows(2).all(|w| w[0] <= w[1]));
        // A flow of its own is not held back by this one.
        let other = AtomicU64::new(0);
        let Pace::At(at) = pace(&jittery, [], 0, 100, 1, &mut first, &other) else {
            panic!("held");
        };
        assert!(at <= 15_000_000, "{at}");
    }

    #[test]
    fn loss_takes_its_share() {
        let mut rng = Rng::new(3);
        let last = AtomicU64::new(0);
        let lossy = path(0, 0, 100_000);
        let lost = (0..100_000)
            .filter(|_| pace(&lossy, [], 0, 100, 1, &mut rng, &last) == Pace::Lost)
            .count();
        assert!((9_000..11_000).contains(&lost), "{lost} of 100000 at 10 %");
    }

    #[test]
    fn threads_sharing_a_cap_never_overlap_their_packets() {
        let cap = Arc::new(bucket(1_000));
        let handles: Vec<_> = (0..4)
            .map(|seed| {
                let cap = cap.clone();
                std::thread::spawn(move || {
                    let mut rng = Rng::new(seed);
                    let last = AtomicU64::new(0);
                    let mut starts = Vec::new();
                    for _ in 0..1_000 {
                        let start = match pace(&path(0, 0, 0), [&*cap], 0, 125, 1, &mut rng, &last)
                        {
                            Pace::Now => 0,
                            Pace::At(t) => t,
                            other => panic!("{other:?}"),
                        };
                        starts.push(start);
                    }
                    starts
                })
            })
            .collect();
        let mut starts: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        starts.sort_unstable();
        // 125 bytes at 1 Gbps is 1 us: 4000 packets, one per microsecond.
        let expected: Vec<u64> = (0..4_000).map(|i| i * 1_000).collect();
        assert_eq!(starts, expected);
    }

    /// Paces `count` packets of 1500 bytes from `ingress` to `egress` at
    /// `now` through `snapshot`'s tables, as a worker does: when each goes.
    fn stream(
        snapshot: &crate::snapshot::Snapshot,
        (ingress, egress): (crate::snapshot::PortIdx, crate::snapshot::PortIdx),
        now: u64,
        count: usize,
    ) -> Vec<Pace> {
        let tables = &snapshot.shaping;
        let index = tables.profile_index(ingress, egress);
        let profile = &tables.profiles[index];
        let mut rng = Rng::new(7);
        (0..count)
            .map(|_| {
                let caps = profile
                    .buckets
                    .iter()
                    .flatten()
                    .map(|b| &tables.buckets[usize::from(*b)]);
                let departure = tables.departure(index, 42);
                pace(&profile.shaping, caps, now, 1500, 1, &mut rng, departure)
            })
            .collect()
    }

    #[test]
    fn a_gateway_cap_keeps_its_rate_across_a_hundred_bgp_updates_and_an_apply() {
        use crate::snapshot::{BgpOrigin, LearnedRoute, LearnedRoutes, Snapshot};
        let loaded = crate::topology::parse_str(
            "hybrid.yaml",
            include_str!("../../../../config/hybrid.yaml"),
        )
        .unwrap();
        let topology = loaded.topology;
        let gateway = topology.gateways.iter().next().unwrap().name.clone();
        // The reference: one plane all along. The other: a new plane for
        // each route the gateway learns, and one `apply` half-way.
        let steady = Snapshot::compile(topology.clone(), 1);
        let mut published = Arc::new(Snapshot::compile(topology.clone(), 1));
        let ports: Vec<_> = steady.plan.ports.keys().collect();
        let capped = ports
            .iter()
            .flat_map(|&a| ports.iter().map(move |&b| (a, b)))
            .find(|&(a, b)| {
                let profile = steady.shaping.profile(a, b);
                profile.buckets.iter().flatten().any(|bucket| {
                    steady.shaping.buckets[usize::from(*bucket)]
                        .what
                        .contains(&gateway)
                })
            })
            .expect("a path through the gateway's cap");
        let mut learned = LearnedRoutes::default();
        for update in 0..100u64 {
            // 10 packets every 10 us: about 12 Gbit/s offered, far above
            // the SKU, so the cap queues them.
            let now = update * 10_000;
            assert_eq!(
                stream(&published, capped, now, 10),
                stream(&steady, capped, now, 10),
                "update {update}: the cap paced otherwise than without publishes"
            );
            let routes = learned.gateways.entry(gateway.clone()).or_default();
            routes.resize(1, Vec::new());
            routes[0].push(LearnedRoute {
                prefix: format!("192.168.{update}.0/24").parse().unwrap(),
                peer: "10.100.255.254".parse().unwrap(),
                next_hop: "10.100.255.254".parse().unwrap(),
                as_path: vec![65010],
                origin: BgpOrigin::Igp,
            });
            let generation = published.generation + 1;
            published = Arc::new(match update {
                50 => Snapshot::compile_after(topology.clone(), generation, &published),
                _ => Snapshot::relearned(&published, learned.clone(), generation),
            });
        }
    }
}
