//! The live page's feeds, filled by two threads of their own and read by
//! every viewer's event stream:
//!
//! - the sampler, once a second: the snapshot's generation (the page
//!   redraws when it changes), and only while someone watches, every
//!   NIC's rates from one reading of the counters (the kernel fast path's
//!   included, the Internet's port's among them), the links' rates from
//!   the flow table (and each NAT gateway's, from its way to the
//!   Internet), and every five seconds the BGP sessions and the load
//!   balancers' backends;
//! - the drop reader: the workers' drop events, named and throttled
//!   ([`super::drops`]), kept as the last few for a viewer who arrives.
//!
//! Nothing is read for a page nobody has open but the generation.

use super::drops::{self, DropRecord, Throttle};
use super::links::LinkMap;
use super::rates::{nic_rates, LinkMeter, LinkRate, NicRate};
use crate::api::NicStats;
use crate::daemon::forwarding::drop_feed::DropSource;
use crate::daemon::reporting::report::{flows_of, nic_counters};
use crate::daemon::Daemon;
use crate::graph::Picture;
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{broadcast, watch};

/// Drops a viewer who arrives is shown first.
const RECENT_DROPS: usize = 50;

/// How often the sessions and backends are read while someone watches.
const STATE_PERIOD: Duration = Duration::from_secs(5);

/// How long the page may have had no viewer for the next frame still to
/// follow on from the last reading (a viewer's event stream that
/// reconnects loses nothing); after longer, a fresh reading starts, and
/// the frame numbers skip one so that the page sees the gap.
const RESUME_WITHIN: Duration = Duration::from_secs(5);

/// The latest of each feed, as the JSON the page reads.
pub struct Live {
    pub graph: watch::Sender<Option<Arc<str>>>,
    pub rates: watch::Sender<Option<Arc<str>>>,
    pub state: watch::Sender<Option<Arc<str>>>,
    pub drops: broadcast::Sender<Arc<str>>,
    recent: Mutex<VecDeque<Arc<str>>>,
    /// Set when the server stops: the feeds' threads and the captures end.
    pub stop: Arc<AtomicBool>,
}

impl Live {
    /// The latest drops, oldest first.
    pub fn recent_drops(&self) -> Vec<Arc<str>> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.iter().cloned().collect()
    }

    fn watched(&self) -> bool {
        self.rates.receiver_count() > 0
    }

    fn publish_drop(&self, record: &DropRecord) {
        let Ok(text) = serde_json::to_string(record) else {
            return;
        };
        let text: Arc<str> = text.into();
        {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if recent.len() == RECENT_DROPS {
                recent.pop_front();
            }
            recent.push_back(text.clone());
        }
        // No viewer: nobody to tell.
        let _ = self.drops.send(text);
    }
}

/// The feeds and their threads; dropping them stops the threads.
pub struct LiveFeeds {
    live: Arc<Live>,
    threads: Vec<JoinHandle<()>>,
}

impl LiveFeeds {
    /// Starts the sampler, and the drop reader when the daemon reports
    /// drops (`drops` taken from [`Daemon::take_drop_events`]).
    pub fn start(daemon: Arc<Daemon>, drops: Option<DropSource>) -> anyhow::Result<LiveFeeds> {
        let live = Arc::new(Live {
            graph: watch::Sender::new(None),
            rates: watch::Sender::new(None),
            state: watch::Sender::new(None),
            drops: broadcast::Sender::new(256),
            recent: Mutex::new(VecDeque::with_capacity(RECENT_DROPS)),
            stop: Arc::new(AtomicBool::new(false)),
        });
        let mut threads = Vec::new();
        let (d, l) = (daemon.clone(), live.clone());
        threads.push(
            std::thread::Builder::new()
                .name("vnetd-web-rates".into())
                .spawn(move || Sampler::default().run(&d, &l))?,
        );
        if let Some(source) = drops {
            let l = live.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("vnetd-web-drops".into())
                    .spawn(move || read_drops(&daemon, &l, &source))?,
            );
        }
        Ok(LiveFeeds { live, threads })
    }

    pub fn live(&self) -> Arc<Live> {
        self.live.clone()
    }
}

impl Drop for LiveFeeds {
    fn drop(&mut self) {
        self.live.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Waits `period`, waking every 100 ms to see whether to stop; false
/// when asked to.
fn pause(live: &Live, period: Duration) -> bool {
    let until = Instant::now() + period;
    while Instant::now() < until {
        if live.stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(
            until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100)),
        );
    }
    !live.stop.load(Ordering::Relaxed)
}

#[derive(Default)]
struct Sampler {
    previous: Option<(Instant, BTreeMap<String, NicStats>)>,
    meter: LinkMeter,
    links: Option<(u64, LinkMap)>,
    seq: u64,
    state_read: Option<Instant>,
}

impl Sampler {
    fn run(&mut self, daemon: &Daemon, live: &Live) {
        loop {
            let generation = daemon.snapshot().generation;
            live.graph.send_if_modified(|g| {
                let text: Arc<str> = json!({ "generation": generation }).to_string().into();
                let changed = g.as_deref() != Some(&*text);
                *g = Some(text);
                changed
            });
            if live.watched() {
                self.sample(daemon, live);
                if self.state_read.is_none_or(|t| t.elapsed() >= STATE_PERIOD) {
                    self.state_read = Some(Instant::now());
                    live.state.send_if_modified(|s| {
                        let text: Arc<str> = state_of(daemon).to_string().into();
                        let changed = s.as_deref() != Some(&*text);
                        *s = Some(text);
                        changed
                    });
                }
            } else {
                // The state is read again as soon as a viewer is back; the
                // rates follow on from the last reading (see `sample`).
                self.state_read = None;
            }
            if !pause(live, Duration::from_secs(1)) {
                return;
            }
        }
    }

    /// One reading: every NIC's counters, and the flows when there are any.
    fn sample(&mut self, daemon: &Daemon, live: &Live) {
        // One reading of the fast path's counters: `flows_of` takes it
        // when there are flows to read.
        let flows = if daemon.flows().stats().occupied > 0 {
            flows_of(daemon, None)
        } else {
            daemon.sync_offload();
            Vec::new()
        };
        let plane = daemon.plane();
        let snapshot = &plane.snapshot;
        let now = Instant::now();
        let counters = by_resource(&plane, nic_counters(daemon, &plane));
        if self
            .links
            .as_ref()
            .is_none_or(|(g, _)| *g != snapshot.generation)
        {
            let map = LinkMap::of(snapshot, &Picture::of(snapshot));
            self.links = Some((snapshot.generation, map));
        }
        let map = &self.links.as_ref().expect("just set").1;
        let previous = self.previous.replace((now, counters));
        let after_gap = previous.is_some();
        let Some((then, before)) =
            previous.filter(|(then, _)| now.duration_since(*then) <= RESUME_WITHIN)
        else {
            // The first reading, or the first after a long time unwatched:
            // what the flows carried so far is the baseline, not this
            // second's traffic. After a gap, the skipped number shows it.
            if after_gap {
                self.seq += 1;
            }
            self.meter.measure(&flows, 1.0, |f| map.links_of(f));
            return;
        };
        let seconds = now.duration_since(then).as_secs_f64();
        let after = &self.previous.as_ref().expect("just set").1;
        let nics: BTreeMap<String, NicRate> = nic_rates(&before, after, seconds);
        let traffic = self.meter.measure(&flows, seconds, |f| map.links_of(f));
        let links: BTreeMap<&String, LinkRate> =
            traffic.iter().map(|(l, t)| (l, t.rate())).collect();
        // A NAT gateway has no port: what it carries is what crosses its
        // way to the Internet, sent (to the Internet) and received apart.
        let nat_gateways: BTreeMap<&String, NicRate> = (map.nat_gateways().iter())
            .filter_map(|(link, name)| traffic.get(link).map(|t| (name, t.port_rate())))
            .collect();
        self.seq += 1;
        let frame = json!({
            "seq": self.seq,
            "interval_ms": (seconds * 1000.0).round() as u64,
            "nics": nics,
            "links": links,
            "nat_gateways": nat_gateways,
        });
        live.rates.send_replace(Some(frame.to_string().into()));
    }
}

/// The counters of every local port under the name the page knows it by:
/// a NIC's own, a gateway's (its instances summed), the Internet's port's
/// (`internet`, a name no NIC may take).
fn by_resource(
    plane: &crate::daemon::forwarding::plane::Plane,
    counters: BTreeMap<String, NicStats>,
) -> BTreeMap<String, NicStats> {
    let snap = &plane.snapshot;
    let mut out: BTreeMap<String, NicStats> = BTreeMap::new();
    for port in &snap.plan.ports {
        let name = port.shown_as(&snap.topology);
        let (Some(name), Some(c)) = (name, counters.get(&port.name)) else {
            continue;
        };
        let total = out.entry(name).or_default();
        total.packets_sent += c.packets_sent;
        total.bytes_sent += c.bytes_sent;
        total.packets_received += c.packets_received;
        total.bytes_received += c.bytes_received;
        total.offloaded_packets_sent += c.offloaded_packets_sent;
        total.offloaded_packets_received += c.offloaded_packets_received;
    }
    out
}

#[derive(Serialize)]
struct SessionState {
    gateway: String,
    local: String,
    neighbor: String,
    state: String,
    prefixes: u64,
}

#[derive(Serialize)]
struct BackendState {
    load_balancer: String,
    nic: String,
    up: bool,
}

/// The BGP sessions of every gateway placed here and the backends'
/// health, as the page shows them.
fn state_of(daemon: &Daemon) -> serde_json::Value {
    let snapshot = daemon.snapshot();
    let mut sessions = Vec::new();
    for (g, gateway) in snapshot.topology.gateways.iter_enumerated() {
        if !snapshot.topology.gateway_is_local(g) {
            continue;
        }
        let Ok(status) = daemon.bgp_peer_status(&gateway.name) else {
            continue;
        };
        sessions.extend(status.value.into_iter().map(|s| SessionState {
            gateway: gateway.name.clone(),
            local: s.local_address,
            neighbor: s.neighbor,
            state: s.state,
            prefixes: s.routes_received,
        }));
    }
    let backends: Vec<BackendState> = daemon
        .lb_backends()
        .into_iter()
        .map(|(target, state)| BackendState {
            load_balancer: target.load_balancer,
            nic: target.nic,
            up: state.up,
        })
        .collect();
    json!({
        "converged": daemon.convergence().converged,
        "sessions": sessions,
        "backends": backends,
    })
}

/// Turns the workers' drop events into the page's drop records.
fn read_drops(daemon: &Daemon, live: &Live, source: &DropSource) {
    let mut throttle = Throttle::default();
    while !live.stop.load(Ordering::Relaxed) {
        for held in throttle.flush_before(daemon.now_ms() / 1000) {
            live.publish_drop(&held);
        }
        let Some(event) = source.next(Duration::from_millis(200)) else {
            continue;
        };
        let age = Duration::from_millis(daemon.now_ms().saturating_sub(event.time_ms));
        let when = SystemTime::now()
            .checked_sub(age)
            .unwrap_or_else(SystemTime::now);
        let plane = daemon.plane();
        if let Some(record) = drops::record(&plane, &event, rfc3339_millis(when)) {
            for r in throttle.admit(event.time_ms / 1000, record) {
                live.publish_drop(&r);
            }
        }
    }
}

/// `t` as RFC 3339 in UTC, to the millisecond.
fn rfc3339_millis(t: SystemTime) -> String {
    let seconds = crate::daemon::reporting::report::rfc3339(t);
    let millis = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_millis());
    format!("{}.{millis:03}Z", seconds.trim_end_matches('Z'))
}
