//! What each gateway instance has learned, followed as gobgpd reports it.
//!
//! One watcher thread per instance runs `gobgp monitor global rib` (each
//! change of a prefix's best path, and every withdrawal, also when a
//! session drops) and `gobgp monitor adj-in` (each route a neighbour sends,
//! best or not) inside the instance's namespace. Each line they print
//! wakes the watcher, which takes every change waiting, reads the
//! instance's RIB once (the routes the import policy accepted, every path
//! of every prefix) and, when it differs from what the [`LearnedBook`]
//! holds, records it there and asks the daemon to publish
//! ([`Watch::publish`]). Nothing here takes the lock `apply` takes.
//!
//! The watcher of a circuit's edge router also installs the best path to
//! each learned prefix in the router's kernel table (`ip route replace
//! PREFIX via NEXT_HOP`), and removes what is no longer learned, or all of
//! it when the speaker goes down or is stopped: gobgpd programs no kernel,
//! and the edge router forwards by it.
//!
//! The supervisor tells a watcher what only it sees: the speaker exited
//! (`Nudge::Down`: the instance has learned nothing until it runs again,
//! as Azure withdraws the routes of a session that went down), it runs
//! again (`Nudge::Up`: the watcher follows it afresh), or a session
//! changed state (`Nudge::Resync`: a session that ended takes routes
//! with it that may not have been anyone's best). A monitor that ends
//! while the speaker runs is started again, after a pause that doubles
//! while it keeps ending.

use crate::host::netlink;
use crate::host::routing::gobgp::{GobgpApi, LearnedPath, MonitoredTable, Origin, RibMonitor};
use crate::policy::gateways::{BgpOrigin, LearnedRoute, LearnedRoutes};
use anyhow::{Context, Result};
use ipnet::{IpNet, Ipv4Net};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The first pause before a monitor that ended is started again.
const RESUBSCRIBE_FIRST: Duration = Duration::from_millis(250);
/// The longest pause between two starts of a monitor that keeps ending.
const RESUBSCRIBE_MAX: Duration = Duration::from_secs(5);

/// What every gateway instance has learned, as its watcher last read it.
#[derive(Debug, Default)]
pub struct LearnedBook {
    routes: Mutex<LearnedRoutes>,
}

impl LearnedBook {
    /// Everything the instances have learned now.
    pub fn current(&self) -> LearnedRoutes {
        self.routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records what instance `instance` of `gateway` has learned; false
    /// when the book already held exactly that.
    pub(crate) fn set(&self, gateway: &str, instance: usize, routes: Vec<LearnedRoute>) -> bool {
        let mut book = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let instances = book.gateways.entry(gateway.to_owned()).or_default();
        if instances.len() <= instance {
            instances.resize(instance + 1, Vec::new());
        } else if instances[instance] == routes {
            return false;
        }
        instances[instance] = routes;
        true
    }

    /// Forgets `gateway` (its speakers are gone).
    pub(super) fn forget(&self, gateway: &str) {
        let mut book = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        book.gateways.remove(gateway);
    }
}

/// Runs a thread's body, catching its panics and running it again until
/// it returns.
pub type Supervisor = Arc<dyn Fn(&mut dyn FnMut()) + Send + Sync>;

/// How a lab's watchers hand on what they read.
#[derive(Clone)]
pub struct Watch {
    /// Where they record it.
    pub book: Arc<LearnedBook>,
    /// Where the supervisor records which sessions are Established.
    pub sessions: Arc<super::SessionBook>,
    /// Publishes a plane with what the book holds (never under the lock
    /// `apply` takes, and never over a newer plane).
    pub publish: Arc<dyn Fn() + Send + Sync>,
    /// Runs a watcher's body, catching its panics and running it again
    /// until it returns.
    pub supervise: Supervisor,
    /// The lab's span in the log: each speaker's span is its child,
    /// whether the speaker started with the lab or in an apply.
    pub lab: tracing::Span,
}

/// What wakes a watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Nudge {
    /// A monitor of subscription `n` printed a change.
    Changed(u64),
    /// A monitor of subscription `n` ended.
    Ended(u64),
    /// The speaker exited.
    Down,
    /// The speaker runs again.
    Up,
    /// A session changed state: read the RIB again.
    Resync,
    /// The speaker is gone for good.
    Stop,
}

/// A running watcher: its mailbox and its thread.
pub(super) struct Watcher {
    mailbox: Sender<Nudge>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Starts following the instance behind `api`, recording what it
    /// learns under instance `instance` of `gateway`, and logging inside
    /// `span`, the speaker's.
    pub(super) fn start(
        api: GobgpApi,
        (gateway, instance): (String, usize),
        kernel: Option<String>,
        watch: Watch,
        span: tracing::Span,
    ) -> Result<Watcher> {
        watch.book.set(&gateway, instance, Vec::new());
        let (mailbox, inbox) = channel();
        let own = mailbox.clone();
        let thread = std::thread::Builder::new()
            .name(format!("vnetd-bgp-{instance}"))
            .spawn(move || {
                let _in_speaker = span.entered();
                let mut state = WatchState {
                    api,
                    gateway,
                    instance,
                    kernel: kernel.map(|netns| KernelTable {
                        netns,
                        installed: BTreeMap::new(),
                    }),
                    up: true,
                    monitors: Vec::new(),
                    serial: 0,
                    resubscribe_at: Some(Instant::now()),
                    pause: RESUBSCRIBE_FIRST,
                };
                let supervise = watch.supervise.clone();
                supervise(&mut || state.run(&inbox, &own, &watch));
            })
            .context("starting a BGP watcher")?;
        Ok(Watcher {
            mailbox,
            thread: Some(thread),
        })
    }

    /// A handle to wake it with.
    pub(super) fn mailbox(&self) -> Sender<Nudge> {
        self.mailbox.clone()
    }

    /// Stops it and waits for its thread.
    pub(super) fn stop(&mut self) {
        let _ = self.mailbox.send(Nudge::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A watcher's own state, kept across a panic of its body.
struct WatchState {
    api: GobgpApi,
    gateway: String,
    instance: usize,
    /// The kernel table it programs, for an edge router.
    kernel: Option<KernelTable>,
    /// Whether the speaker runs (as the supervisor last said).
    up: bool,
    monitors: Vec<RibMonitor>,
    /// The subscription the running monitors belong to.
    serial: u64,
    /// When to start the monitors again, while they are not running.
    resubscribe_at: Option<Instant>,
    pause: Duration,
}

impl WatchState {
    /// Follows the instance until told to stop.
    fn run(&mut self, inbox: &Receiver<Nudge>, own: &Sender<Nudge>, watch: &Watch) {
        loop {
            let now = Instant::now();
            if self.up
                && self.monitors.is_empty()
                && self.resubscribe_at.is_some_and(|at| now >= at)
            {
                self.subscribe(own);
            }
            let first = match self.resubscribe_at.filter(|_| self.up) {
                Some(at) => match inbox.recv_timeout(at.saturating_duration_since(now)) {
                    Ok(nudge) => nudge,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                },
                None => match inbox.recv() {
                    Ok(nudge) => nudge,
                    Err(_) => return,
                },
            };
            let mut read = false;
            for nudge in std::iter::once(first).chain(inbox.try_iter()) {
                match nudge {
                    Nudge::Stop => {
                        // What it installed goes with it.
                        if let Some(kernel) = &mut self.kernel {
                            kernel.install(&[]);
                        }
                        return;
                    }
                    Nudge::Changed(n) if n == self.serial && !self.monitors.is_empty() => {
                        read = true;
                        self.pause = RESUBSCRIBE_FIRST;
                    }
                    Nudge::Ended(n) if n == self.serial && !self.monitors.is_empty() => {
                        self.monitors.clear();
                        self.resubscribe_at = Some(Instant::now() + self.pause);
                        self.pause = (self.pause * 2).min(RESUBSCRIBE_MAX);
                        read = true;
                    }
                    Nudge::Changed(_) | Nudge::Ended(_) => {}
                    Nudge::Down => {
                        tracing::debug!("the speaker is down: what it learned is withdrawn");
                        self.up = false;
                        self.monitors.clear();
                        self.resubscribe_at = None;
                        read = false;
                        if let Some(kernel) = &mut self.kernel {
                            kernel.install(&[]);
                        }
                        if watch.book.set(&self.gateway, self.instance, Vec::new()) {
                            (watch.publish)();
                        }
                    }
                    Nudge::Up => {
                        tracing::debug!("the speaker runs again: following it afresh");
                        self.up = true;
                        self.monitors.clear();
                        self.resubscribe_at = Some(Instant::now());
                        self.pause = RESUBSCRIBE_FIRST;
                    }
                    Nudge::Resync => read = true,
                }
            }
            // A speaker that runs but does not answer keeps what it had.
            if read && self.up {
                if let Ok(paths) = self.api.learned() {
                    if let Some(kernel) = &mut self.kernel {
                        kernel.install(&paths);
                    }
                    let routes: Vec<LearnedRoute> = paths.into_iter().map(learned_route).collect();
                    let count = routes.len();
                    if watch.book.set(&self.gateway, self.instance, routes) {
                        tracing::debug!(routes = count, "what it learned changed: publishing");
                        (watch.publish)();
                    }
                }
            }
        }
    }

    /// Starts both monitors, each with a reader thread that wakes the
    /// watcher for each line. Each starts with the table as it is, so
    /// nothing that changed before it is missed.
    fn subscribe(&mut self, own: &Sender<Nudge>) {
        self.serial += 1;
        let serial = self.serial;
        let mut monitors = Vec::new();
        for table in [MonitoredTable::GlobalRib, MonitoredTable::AdjIn] {
            let started = self.api.monitor(table).and_then(|mut monitor| {
                let lines = monitor.take_lines().context("the monitor's lines")?;
                let mailbox = own.clone();
                std::thread::Builder::new()
                    .name("vnetd-bgp-monitor".into())
                    .spawn(move || {
                        for _ in lines {
                            if mailbox.send(Nudge::Changed(serial)).is_err() {
                                return;
                            }
                        }
                        let _ = mailbox.send(Nudge::Ended(serial));
                    })
                    .context("starting a monitor reader")?;
                Ok(monitor)
            });
            match started {
                Ok(monitor) => monitors.push(monitor),
                Err(e) => {
                    tracing::warn!(
                        "following the RIB of {}: {e:#}; trying again in {:?}",
                        self.api.netns(),
                        self.pause
                    );
                    self.resubscribe_at = Some(Instant::now() + self.pause);
                    self.pause = (self.pause * 2).min(RESUBSCRIBE_MAX);
                    return;
                }
            }
        }
        tracing::debug!("following the RIB of {}", self.api.netns());
        self.monitors = monitors;
        self.resubscribe_at = None;
    }
}

/// The routes a kernel table gets from `paths`: the best path of each
/// prefix, by its next hop. A host route to its own next hop (a neighbour
/// announcing its own address) cannot go through it, and the link's route
/// carries it already: it is left out. A wider prefix may hold its next
/// hop (a VNet holds its gateway's instances).
fn kernel_routes(paths: &[LearnedPath]) -> BTreeMap<Ipv4Net, Ipv4Addr> {
    paths
        .iter()
        .filter(|p| p.best && !(p.prefix.prefix_len() == 32 && p.prefix.addr() == p.next_hop))
        .map(|p| (p.prefix, p.next_hop))
        .collect()
}

/// A router's kernel table as its watcher programs it.
struct KernelTable {
    netns: String,
    /// What it installed: prefix and next hop.
    installed: BTreeMap<Ipv4Net, Ipv4Addr>,
}

impl KernelTable {
    /// Installs the best of `paths` for each prefix and removes the routes
    /// it installed before that are no longer best. A failure is said in
    /// the log and tried again at the next change.
    fn install(&mut self, paths: &[LearnedPath]) {
        let wanted = kernel_routes(paths);
        for (prefix, next_hop) in &wanted {
            if self.installed.get(prefix) == Some(next_hop) {
                continue;
            }
            match netlink::replace_gateway_route(&self.netns, *prefix, *next_hop) {
                Ok(()) => {
                    self.installed.insert(*prefix, *next_hop);
                }
                Err(e) => tracing::warn!("{e:#}"),
            }
        }
        let gone: Vec<Ipv4Net> = self
            .installed
            .keys()
            .filter(|p| !wanted.contains_key(p))
            .copied()
            .collect();
        for prefix in gone {
            match netlink::delete_route(&self.netns, prefix) {
                Ok(()) => {
                    self.installed.remove(&prefix);
                }
                Err(e) => tracing::warn!("{e:#}"),
            }
        }
    }
}

/// A path gobgpd accepted, as the policy layer names it.
fn learned_route(p: LearnedPath) -> LearnedRoute {
    LearnedRoute {
        prefix: IpNet::V4(p.prefix),
        peer: IpAddr::V4(p.neighbor),
        next_hop: IpAddr::V4(p.next_hop),
        as_path: p.as_path,
        origin: match p.origin {
            Origin::Igp => BgpOrigin::Igp,
            Origin::Egp => BgpOrigin::Egp,
            Origin::Incomplete => BgpOrigin::Incomplete,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(prefix: &str) -> LearnedRoute {
        LearnedRoute {
            prefix: prefix.parse().unwrap(),
            peer: "192.168.255.1".parse().unwrap(),
            next_hop: "192.168.255.1".parse().unwrap(),
            as_path: vec![65050],
            origin: BgpOrigin::Igp,
        }
    }

    #[test]
    fn a_kernel_table_takes_the_best_paths_and_never_a_host_route_through_itself() {
        use crate::host::routing::gobgp::Origin;
        let path = |prefix: &str, next_hop: [u8; 4], best: bool| LearnedPath {
            prefix: prefix.parse().unwrap(),
            neighbor: Ipv4Addr::from(next_hop),
            next_hop: Ipv4Addr::from(next_hop),
            as_path: vec![65515],
            origin: Origin::Igp,
            best,
        };
        let routes = kernel_routes(&[
            // A VNet holds the gateway instance it is learned from.
            path("10.0.0.0/16", [10, 0, 255, 228], true),
            path("10.0.0.0/16", [10, 0, 255, 229], false),
            // A customer edge announcing its own address.
            path("172.16.0.1/32", [172, 16, 0, 1], true),
            path("172.20.0.0/16", [172, 16, 0, 1], true),
        ]);
        let got: Vec<(String, String)> = routes
            .iter()
            .map(|(p, h)| (p.to_string(), h.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                ("10.0.0.0/16".to_string(), "10.0.255.228".to_string()),
                ("172.20.0.0/16".to_string(), "172.16.0.1".to_string()),
            ]
        );
    }

    #[test]
    fn the_book_keeps_each_instance_apart_and_says_when_it_changed() {
        let book = LearnedBook::default();
        assert!(book.set("gw", 1, vec![route("10.9.0.0/16")]));
        assert!(!book.set("gw", 1, vec![route("10.9.0.0/16")]));
        assert!(!book.set("gw", 0, Vec::new()), "instance 0 was known empty");
        let now = book.current();
        assert_eq!(now.of("gw", 0), &[] as &[LearnedRoute]);
        assert_eq!(now.of("gw", 1), &[route("10.9.0.0/16")]);
        assert!(book.set("gw", 1, Vec::new()));
        assert_eq!(book.current().gateways["gw"], vec![Vec::new(), Vec::new()]);
        book.forget("gw");
        assert_eq!(book.current(), LearnedRoutes::default());
    }
}
