//! The health prober of the running lab's internal load balancers, as
//! Azure runs it:
//!
//! - Probes come from 168.63.129.16: each runs inside the prober namespace
//!   of the load balancer's VNet (the prober port of the lab plan), which owns
//!   that address, so a backend's NSG sees them as Azure's
//!   (`AzureLoadBalancer`).
//! - Every backend NIC of every rule's pool is probed by the rule's probe,
//!   every `interval_secs`, the first time as soon as it appears; a probe
//!   gives up after the interval (at most 30 s), less a margin. Each probe
//!   runs on a thread of its own, so a probe that times out delays no
//!   other.
//! - A backend starts up. `threshold` consecutive failures mark it down,
//!   and as many consecutive successes bring it back.
//! - A down backend gets no new flows: when the set of down backends
//!   changes, a snapshot with the new [`BackendHealth`] is published (same
//!   ports; without waiting for an `apply` in progress, and never over the
//!   plane it publishes, see [`super::publish`]), and the packet path
//!   places new flows on the healthy backends only. Flows already placed
//!   keep their backend.
//!
//! An `apply` carries the health forward; backends it removed are
//! forgotten here, and new ones are probed at once.
//!
//! It also answers `vnetd lb show`: each backend's state, since when, why
//! it is down, and how many tracked flows the load balancer placed on it.
//! A prober that panics runs again with the same book and the same channel
//! of answers, so probes in flight are taken in and no backend is left
//! waiting for an answer that never comes.
//!
//! It may use the daemon, its plane, the threads' supervision and the
//! reports' calendar.

mod status;
mod targets;

use targets::primary_ipv4;
pub use targets::{health_for, probe_targets, probe_timeout, TargetSpec, MAX_PROBE_TIMEOUT};

use crate::daemon::forwarding::plane::PublishedPlane;
use crate::daemon::forwarding::port_id::PortId;
use crate::daemon::threads::{self, Faults, ThreadKind, ThreadPanics};
use crate::dataplane::conntrack::{is_pin, FlowOwners, PinMemo};
use crate::diagnostics::load_balancer::{
    find_load_balancer, BackendStatus, LoadBalancerStatus, ProbeRef,
};
use crate::diagnostics::QueryError;
use crate::engine::flow_table::FlowOwner;
use crate::host::probe::{HealthProbe, ProbeKind, ProbeOutcome};
use crate::policy::load_balancers::{BackendHealth, ProbeTarget};
use crate::snapshot::load_balancers::backend_address;
use crate::snapshot::Snapshot;
use crate::topology::{LoadBalancer, Nic, NicIdx, ProbeProtocol};
use crossbeam_channel::{Receiver, Sender};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How often the prober looks at the plane, takes in finished probes and
/// starts the ones due.
pub const TICK: Duration = Duration::from_millis(200);

/// What the probes found about one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendState {
    pub up: bool,
    /// When the backend last changed state, or when probing it began.
    pub since: SystemTime,
    pub consecutive_successes: u32,
    pub consecutive_failures: u32,
    /// Why the last failed probe failed (kept once the backend is back).
    pub last_reason: Option<String>,
    /// When the last probe's answer came in.
    pub last_probe: Option<SystemTime>,
}

impl BackendState {
    /// A backend first seen at `now`: up until probes say otherwise.
    pub fn new(now: SystemTime) -> BackendState {
        BackendState {
            up: true,
            since: now,
            consecutive_successes: 0,
            consecutive_failures: 0,
            last_reason: None,
            last_probe: None,
        }
    }

    /// Takes in one probe's outcome; true when the backend changed state.
    pub fn record(&mut self, outcome: &ProbeOutcome, threshold: u32, now: SystemTime) -> bool {
        let threshold = threshold.max(1);
        self.last_probe = Some(now);
        let changed = match outcome {
            ProbeOutcome::Up => {
                self.consecutive_successes = self.consecutive_successes.saturating_add(1);
                self.consecutive_failures = 0;
                !self.up && self.consecutive_successes >= threshold
            }
            ProbeOutcome::Down(reason) => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                self.consecutive_successes = 0;
                self.last_reason = Some(reason.clone());
                self.up && self.consecutive_failures >= threshold
            }
        };
        if changed {
            self.up = !self.up;
            self.since = now;
        }
        changed
    }
}

/// A target as the prober schedules it.
#[derive(Debug)]
struct Tracked {
    spec: TargetSpec,
    state: BackendState,
    next_due: Instant,
    in_flight: bool,
    /// Tells this target's probes from those of an earlier target of the
    /// same name (gone and back between two answers).
    serial: u64,
}

#[derive(Debug, Default)]
struct Book {
    targets: BTreeMap<ProbeTarget, Tracked>,
    next_serial: u64,
}

impl Book {
    fn health(&self) -> BackendHealth {
        let mut health = BackendHealth::default();
        for (target, tracked) in &self.targets {
            if !tracked.state.up {
                health.set(target.clone(), false);
            }
        }
        health
    }
}

/// The probes' state of every backend, shared between the prober and the
/// readers (`lb show`, `stats`, metrics).
#[derive(Debug, Default)]
pub struct ProbeBook {
    book: Mutex<Book>,
}

impl ProbeBook {
    /// Every backend probed now, with its state, by target.
    pub fn states(&self) -> Vec<(ProbeTarget, BackendState)> {
        self.lock()
            .targets
            .iter()
            .map(|(t, k)| (t.clone(), k.state.clone()))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs one probe; the prober's is [`run_probe`], tests give their own.
pub type ProbeRunner = Arc<dyn Fn(&TargetSpec) -> ProbeOutcome + Send + Sync>;

/// Runs the target's probe for real, from the prober's namespace.
pub fn run_probe(spec: &TargetSpec) -> ProbeOutcome {
    spec.health_probe().run()
}

/// A finished probe: which target (and which life of it), and the outcome.
type Answer = (ProbeTarget, u64, ProbeOutcome);

/// Schedules the probes and keeps the [`ProbeBook`].
pub struct Prober {
    book: Arc<ProbeBook>,
    runner: ProbeRunner,
    answers: (Sender<Answer>, Receiver<Answer>),
}

impl Prober {
    pub fn new(book: Arc<ProbeBook>, runner: ProbeRunner) -> Prober {
        Prober {
            book,
            runner,
            answers: crossbeam_channel::unbounded(),
        }
    }

    /// One round: the targets of `snapshot` replace the book's (gone ones
    /// forgotten, new ones up and due at once), finished probes are taken
    /// in, and the probes due at `now` start. Returns the down backends.
    pub fn tick(&self, snapshot: &Snapshot, now: Instant, wall: SystemTime) -> BackendHealth {
        let specs = probe_targets(snapshot);
        let mut book = self.book.lock();
        let wanted: BTreeSet<&ProbeTarget> = specs.iter().map(|s| &s.target).collect();
        book.targets.retain(|t, _| wanted.contains(t));
        for spec in specs {
            match book.targets.get_mut(&spec.target) {
                Some(tracked) => {
                    if tracked.spec.interval != spec.interval {
                        tracked.next_due = tracked.next_due.min(now + spec.interval);
                    }
                    tracked.spec = spec;
                }
                None => {
                    book.next_serial += 1;
                    let serial = book.next_serial;
                    book.targets.insert(
                        spec.target.clone(),
                        Tracked {
                            spec,
                            state: BackendState::new(wall),
                            next_due: now,
                            in_flight: false,
                            serial,
                        },
                    );
                }
            }
        }
        while let Ok((target, serial, outcome)) = self.answers.1.try_recv() {
            if let Some(tracked) = book.targets.get_mut(&target) {
                if tracked.serial == serial {
                    tracked.in_flight = false;
                    let threshold = tracked.spec.threshold;
                    tracked.state.record(&outcome, threshold, wall);
                }
            }
        }
        for tracked in book.targets.values_mut() {
            if tracked.in_flight || now < tracked.next_due {
                continue;
            }
            tracked.next_due = now + tracked.spec.interval;
            let (spec, serial) = (tracked.spec.clone(), tracked.serial);
            let (runner, answers) = (self.runner.clone(), self.answers.0.clone());
            let started = std::thread::Builder::new()
                .name("vnetd-probe".into())
                .spawn(move || {
                    let outcome = runner(&spec);
                    let _ = answers.send((spec.target, serial, outcome));
                });
            match started {
                Ok(_) => tracked.in_flight = true,
                Err(e) => tracing::warn!(
                    "starting the probe of {} in {}: {e}",
                    tracked.spec.target.nic,
                    tracked.spec.target.load_balancer
                ),
            }
        }
        book.health()
    }

    /// Ticks every [`TICK`] until `stop`, calling `publish` whenever the
    /// down backends differ from those of the plane's snapshot.
    pub fn run(
        &self,
        plane: &PublishedPlane,
        publish: impl Fn(&BackendHealth),
        stop: &AtomicBool,
        faults: &Faults,
    ) {
        while !stop.load(Ordering::Relaxed) {
            faults.check(ThreadKind::Prober);
            faults.stall_point(ThreadKind::Prober, stop);
            let current = plane.load_full();
            let health = self.tick(&current.snapshot, Instant::now(), SystemTime::now());
            if health != current.snapshot.health {
                publish(&health);
            }
            std::thread::sleep(TICK);
        }
    }
}

/// Starts the prober thread of a daemon: it reads `plane` and calls
/// `publish` with the down backends whenever they change. A panic is
/// caught and counted in `panics`, and the same prober runs again.
pub(in crate::daemon) fn start_prober(
    plane: Arc<PublishedPlane>,
    book: Arc<ProbeBook>,
    publish: impl Fn(&BackendHealth) + Send + 'static,
    stop: Arc<AtomicBool>,
    (faults, panics): (Arc<Faults>, Arc<ThreadPanics>),
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let prober = Prober::new(book, Arc::new(run_probe));
    threads::spawn_supervised(
        "vnetd-prober",
        ThreadKind::Prober,
        "the health prober",
        (panics, stop.clone()),
        move || prober.run(&plane, &publish, &stop, &faults),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::forwarding::plane::Plane;
    use crate::topology::{
        BackendPool, Frontend, LbProtocol, LbRule, LbRuleSettings, Probe, SubnetIdx, SubnetRef,
        Topology, VnetIdx,
    };
    use std::collections::HashMap;

    /// VNet `app` (10.0.0.0/16, subnet web 10.0.1.0/24) with NICs web1..webN
    /// at 10.0.1.4.. and load balancer `ilb` with one probe
    /// `health` (TCP 80) used by rules `http` and `again` over pool `web`
    /// and by no one else, and rule `bare` without a probe.
    fn topology(backends: usize, interval_secs: u32, threshold: u32) -> Topology {
        let mut yaml = String::from(
            "vnets:\n  - name: app\n    address_space: [10.0.0.0/16]\n    location: westeurope\n    \
             subnets:\n      - name: web\n        address_prefixes: [10.0.1.0/24]\nnetwork_interfaces:\n",
        );
        for i in 1..=backends {
            yaml.push_str(&format!(
                "  - name: web{i}\n    subnet: app/web\n    private_ip_address: 10.0.1.{}\n",
                3 + i
            ));
        }
        let mut topology = crate::topology::parse_str("lb.yaml", &yaml)
            .expect("a valid topology")
            .topology;
        let vnet = VnetIdx::new(0);
        let subnet = SubnetRef {
            vnet,
            subnet: SubnetIdx::new(0),
        };
        let rule = |name: &str, probe: Option<usize>| LbRule {
            name: name.into(),
            frontend: 0,
            pool: 0,
            probe,
            settings: LbRuleSettings::new(LbProtocol::Tcp, 80, 80),
            line: 0,
        };
        topology.load_balancers.push(LoadBalancer {
            name: "ilb".into(),
            vnet,
            frontends: vec![Frontend {
                name: "fe".into(),
                subnet: Some(subnet),
                public_ip: None,
                address: "10.0.1.100".parse().unwrap(),
                line: 0,
            }],
            pools: vec![BackendPool {
                name: "web".into(),
                nics: (0..backends).map(NicIdx::new).collect(),
                line: 0,
            }],
            probes: vec![Probe {
                name: "health".into(),
                protocol: ProbeProtocol::Tcp,
                port: 80,
                request_path: None,
                interval_secs,
                threshold,
                line: 0,
            }],
            rules: vec![
                rule("http", Some(0)),
                rule("again", Some(0)),
                rule("bare", None),
            ],
            outbound_rules: Vec::new(),
            line: 0,
        });
        topology
    }

    fn target(nic: &str) -> ProbeTarget {
        ProbeTarget {
            load_balancer: "ilb".into(),
            probe: "health".into(),
            nic: nic.into(),
        }
    }

    #[test]
    fn every_probed_backend_is_a_target_once() {
        let snapshot = Snapshot::compile(topology(2, 5, 2), 1);
        let targets = probe_targets(&snapshot);
        assert_eq!(
            targets,
            vec![
                TargetSpec {
                    target: target("web1"),
                    namespace: "probe-app".into(),
                    address: "10.0.1.4:80".parse().unwrap(),
                    kind: ProbeKind::Tcp,
                    interval: Duration::from_secs(5),
                    threshold: 2,
                },
                TargetSpec {
                    target: target("web2"),
                    namespace: "probe-app".into(),
                    address: "10.0.1.5:80".parse().unwrap(),
                    kind: ProbeKind::Tcp,
                    interval: Duration::from_secs(5),
                    threshold: 2,
                },
            ]
        );
        let mut http = topology(1, 5, 2);
        http.load_balancers[crate::topology::LoadBalancerIdx::new(0)].probes[0].protocol =
            ProbeProtocol::Http;
        let targets = probe_targets(&Snapshot::compile(http, 1));
        assert_eq!(targets[0].kind, ProbeKind::Http { path: "/".into() });
    }

    #[test]
    fn a_vnet_without_a_prober_is_not_probed() {
        let mut snap = Snapshot::compile(topology(2, 5, 2), 1);
        snap.probers = snap.probers.iter().map(|_| None).collect();
        assert!(probe_targets(&snap).is_empty());
    }

    #[test]
    fn a_probe_gives_up_before_the_next_is_due_and_within_30_seconds() {
        assert_eq!(
            probe_timeout(Duration::from_secs(5)),
            Duration::from_millis(4750)
        );
        assert_eq!(
            probe_timeout(Duration::from_secs(60)),
            Duration::from_millis(29_750)
        );
        assert_eq!(
            probe_timeout(Duration::from_secs(1)),
            Duration::from_millis(750)
        );
    }

    #[test]
    fn threshold_failures_mark_down_and_as_many_successes_bring_back() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |s: u64| t0 + Duration::from_secs(s);
        let down = ProbeOutcome::Down("connection refused".into());
        let mut state = BackendState::new(t0);
        assert!(state.up);
        assert!(!state.record(&down, 3, at(5)));
        assert!(!state.record(&down, 3, at(10)));
        // A success in between starts the count again.
        assert!(!state.record(&ProbeOutcome::Up, 3, at(15)));
        assert!(!state.record(&down, 3, at(20)));
        assert!(!state.record(&down, 3, at(25)));
        assert!(state.up && state.since == t0);
        assert!(state.record(&down, 3, at(30)));
        assert!(!state.up);
        assert_eq!(state.since, at(30));
        assert_eq!(state.consecutive_failures, 3);
        assert_eq!(state.last_reason.as_deref(), Some("connection refused"));
        assert!(!state.record(&down, 3, at(35)));
        assert_eq!(state.since, at(30));
        assert!(!state.record(&ProbeOutcome::Up, 3, at(40)));
        assert!(!state.record(&ProbeOutcome::Up, 3, at(45)));
        assert!(state.record(&ProbeOutcome::Up, 3, at(50)));
        assert!(state.up);
        assert_eq!((state.since, state.consecutive_successes), (at(50), 3));
        // A threshold of 1: one failure is enough.
        let mut state = BackendState::new(t0);
        assert!(state.record(&down, 1, at(5)));
    }

    /// Answers per NIC, a count of probes run per NIC, and NICs whose
    /// probe hangs for a while.
    #[derive(Default)]
    struct Scripted {
        answers: Mutex<HashMap<String, ProbeOutcome>>,
        runs: Mutex<HashMap<String, u32>>,
        slow: Mutex<Vec<String>>,
    }

    impl Scripted {
        fn answer(&self, nic: &str, outcome: ProbeOutcome) {
            self.answers.lock().unwrap().insert(nic.into(), outcome);
        }

        fn runs(&self, nic: &str) -> u32 {
            self.runs.lock().unwrap().get(nic).copied().unwrap_or(0)
        }

        fn runner(self: &Arc<Self>) -> ProbeRunner {
            let me = self.clone();
            Arc::new(move |spec: &TargetSpec| {
                let nic = spec.target.nic.clone();
                *me.runs.lock().unwrap().entry(nic.clone()).or_default() += 1;
                if me.slow.lock().unwrap().contains(&nic) {
                    std::thread::sleep(Duration::from_secs(3));
                }
                me.answers
                    .lock()
                    .unwrap()
                    .get(&nic)
                    .cloned()
                    .unwrap_or(ProbeOutcome::Up)
            })
        }
    }

    /// Ticks at `now` until `done` holds of the book, for at most 2 s.
    fn settle(
        prober: &Prober,
        snapshot: &Snapshot,
        now: Instant,
        done: impl Fn(&BackendHealth, &ProbeBook) -> bool,
    ) -> BackendHealth {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let health = prober.tick(snapshot, now, SystemTime::now());
            if done(&health, &prober.book) || Instant::now() > deadline {
                return health;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A prober with a fresh book whose scripted runner finds web2 down for `why`.
    fn prober_finding_web2_down(why: &str) -> (Arc<Scripted>, Prober) {
        let script = Arc::new(Scripted::default());
        script.answer("web2", ProbeOutcome::Down(why.into()));
        let prober = Prober::new(Arc::new(ProbeBook::default()), script.runner());
        (script, prober)
    }

    fn runs_of(book: &ProbeBook, nic: &str) -> (u32, u32) {
        let states = book.states();
        let state = &states.iter().find(|(t, _)| t.nic == nic).unwrap().1;
        (state.consecutive_successes, state.consecutive_failures)
    }

    #[test]
    fn the_prober_probes_at_once_then_every_interval_and_applies_the_threshold() {
        let (script, prober) = prober_finding_web2_down("HTTP 404");
        let snapshot = Snapshot::compile(topology(2, 5, 2), 1);
        let t0 = Instant::now();
        // First probes at once; one failure is not enough to go down.
        let health = settle(&prober, &snapshot, t0, |_, book| {
            runs_of(book, "web1") == (1, 0) && runs_of(book, "web2") == (0, 1)
        });
        assert_eq!(health, BackendHealth::default());
        assert_eq!((script.runs("web1"), script.runs("web2")), (1, 1));
        // Not due again before the interval.
        prober.tick(&snapshot, t0 + Duration::from_secs(4), SystemTime::now());
        assert_eq!((script.runs("web1"), script.runs("web2")), (1, 1));
        // The second failure in a row marks web2 down.
        let health = settle(&prober, &snapshot, t0 + Duration::from_secs(5), |h, _| {
            !h.is_up(&target("web2"))
        });
        assert!(!health.is_up(&target("web2")));
        assert!(health.is_up(&target("web1")));
        assert_eq!((script.runs("web1"), script.runs("web2")), (2, 2));
        let states: BTreeMap<_, _> = prober.book.states().into_iter().collect();
        assert_eq!(
            states[&target("web2")].last_reason.as_deref(),
            Some("HTTP 404")
        );
        // It comes back after two successes in a row.
        script.answer("web2", ProbeOutcome::Up);
        let t10 = t0 + Duration::from_secs(10);
        let health = settle(&prober, &snapshot, t10, |_, book| {
            runs_of(book, "web2") == (1, 0)
        });
        assert!(!health.is_up(&target("web2")), "one success is not enough");
        let health = settle(&prober, &snapshot, t0 + Duration::from_secs(15), |h, _| {
            h.is_up(&target("web2"))
        });
        assert_eq!(health, BackendHealth::default());
    }

    #[test]
    fn a_hanging_probe_delays_no_other() {
        let (script, prober) = prober_finding_web2_down("timed out");
        script.slow.lock().unwrap().push("web1".into());
        let snapshot = Snapshot::compile(topology(2, 1, 1), 1);
        let t0 = Instant::now();
        let started = Instant::now();
        let health = settle(&prober, &snapshot, t0, |h, _| !h.is_up(&target("web2")));
        assert!(!health.is_up(&target("web2")));
        assert!(started.elapsed() < Duration::from_secs(1));
        // web2 is probed again on time; web1's probe still runs, and is
        // not started twice.
        settle(&prober, &snapshot, t0 + Duration::from_secs(1), |_, _| {
            script.runs("web2") == 2
        });
        assert_eq!(script.runs("web2"), 2);
        assert_eq!(script.runs("web1"), 1);
    }

    #[test]
    fn a_prober_that_panicked_takes_in_the_probe_it_had_in_flight() {
        // web1's probe waits for the gate; meanwhile the prober panics and
        // runs again, as the daemon runs it.
        let (open, gate) = crossbeam_channel::bounded::<()>(1);
        let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let runner: ProbeRunner = {
            let runs = runs.clone();
            Arc::new(move |_: &TargetSpec| {
                runs.fetch_add(1, Ordering::SeqCst);
                let _ = gate.recv_timeout(Duration::from_secs(10));
                ProbeOutcome::Down("connection refused".into())
            })
        };
        let book = Arc::new(ProbeBook::default());
        let plane = Arc::new(PublishedPlane::new(
            Plane::new(
                Arc::new(Snapshot::compile(topology(1, 5, 1), 1)),
                crate::topology::TiVec::new(),
            ),
            None,
        ));
        let (faults, panics) = (
            Arc::new(Faults::default()),
            Arc::new(ThreadPanics::default()),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (book, plane, faults, panics, stop) = (
                book.clone(),
                plane.clone(),
                faults.clone(),
                panics.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                let prober = Prober::new(book, runner);
                threads::supervise(ThreadKind::Prober, "the prober", &panics, &stop, || {
                    prober.run(&plane, |_| {}, &stop, &faults)
                });
            })
        };
        let wait = |what: &str, done: &dyn Fn() -> bool| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !done() {
                assert!(Instant::now() < deadline, "{what}");
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        wait("web1's probe started", &|| runs.load(Ordering::SeqCst) == 1);
        faults.arm_panic(ThreadKind::Prober);
        wait("the panic caught", &|| {
            panics.count(ThreadKind::Prober) == 1
        });
        open.send(()).unwrap();
        // The restarted prober takes the answer in: web1 is not left
        // waiting for it forever.
        wait("the answer taken in", &|| runs_of(&book, "web1") == (0, 1));
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(panics.count(ThreadKind::Prober), 1);
    }

    #[test]
    fn targets_that_vanish_are_forgotten_and_their_health_with_them() {
        let (script, prober) = prober_finding_web2_down("connection refused");
        let two = Snapshot::compile(topology(2, 5, 1), 1);
        let t0 = Instant::now();
        let health = settle(&prober, &two, t0, |h, _| !h.is_up(&target("web2")));
        assert_eq!(health.down().count(), 1);
        // The health is a snapshot input that an apply carries over.
        let rehealthed = Snapshot::rehealthed(&two, health.clone(), 2);
        let one = Snapshot::compile_after(topology(1, 5, 1), 3, &rehealthed);
        assert_eq!(one.health, health, "apply keeps the health");
        // web2 left: the prober forgets it, and the health that a snapshot
        // of the new topology may carry has no trace of it.
        let health = prober.tick(&one, t0, SystemTime::now());
        assert_eq!(health, BackendHealth::default());
        assert_eq!(prober.book.states().len(), 1);
        assert_eq!(health_for(&one, &one.health), BackendHealth::default());
        // Back again: up, and probed at once.
        let health = settle(&prober, &two, t0, |h, _| !h.is_up(&target("web2")));
        assert!(!health.is_up(&target("web2")));
        assert_eq!(script.runs("web2"), 2);
    }
}
