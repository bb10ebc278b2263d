//! Nothing dies silently: what happens when one of the daemon's threads
//! panics. A panic in a forwarding worker, the BGP watcher, the health
//! prober, housekeeping or the flow-log thread is caught, said in the
//! daemon's log (an error, with the kind of thread and the panic's
//! message, inside the span the thread was started in), counted per kind
//! ([`ThreadPanics`], shown by `stats` and the metrics), and the thread is
//! started again ([`supervise`]), after a pause that grows while it keeps
//! panicking at once. A connection of the control socket or the metrics
//! endpoint whose handler panics is closed, its slot freed, and counted
//! the same way.
//!
//! [`Faults`] is each daemon's own fault injection, for the tests of all
//! this: a one-shot panic armed for a kind of thread, which the next thread
//! of that kind to pass its check point obeys, a stall that holds every
//! thread of a kind reaching its stall point until released, a stall that
//! holds an `apply` half-way (its lock held, the new namespaces built, the
//! new plane not yet published), and a one-shot error for a worker
//! picking up a new plane. A check point costs one relaxed load
//! while nothing is armed, and a worker passes its own once per wake-up,
//! never per packet. Being the daemon's, a fault armed in one lab never
//! fires in another lab of the same process.
//!
//! It uses no other room of the daemon.

use std::any::Any;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The kinds of the daemon's threads whose panics are caught and counted.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumCount, strum::VariantArray,
)]
#[strum(serialize_all = "kebab-case")]
#[repr(u8)]
pub enum ThreadKind {
    /// A forwarding worker.
    Worker,
    /// The thread that publishes what the gateways learned over BGP.
    BgpWatcher,
    /// The load balancers' health prober.
    Prober,
    /// The thread that frees the flow table's idle flows.
    Housekeeping,
    /// The NSG flow-log writer.
    FlowLog,
    /// The thread that installs offloaded flows and reads their counters.
    Offload,
    /// The thread that carries the Global Reach links, delayed.
    GlobalReach,
    /// A connection of the control socket.
    Control,
    /// A connection of the metrics endpoint.
    Metrics,
    /// Azure DNS at 168.63.129.16.
    AzureDns,
    /// The lab's services: the PaaS responders behind Private Endpoints
    /// and the DNS servers vnetd runs.
    Services,
}

impl ThreadKind {
    pub const COUNT: usize = <Self as strum::EnumCount>::COUNT;

    /// Every kind, in discriminant order.
    pub const ALL: &'static [ThreadKind] = <Self as strum::VariantArray>::VARIANTS;

    /// The name `stats`, the metrics and the log use: `worker`,
    /// `bgp-watcher`, `prober`, `housekeeping`, `flow-log`, `offload`,
    /// `global-reach`, `control`, `metrics`, `azure-dns`, `services`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// What follows a caught panic, as the log says it.
    fn after_panic(self) -> &'static str {
        match self {
            ThreadKind::Control | ThreadKind::Metrics => "the connection is closed",
            _ => "restarting it",
        }
    }
}

/// A daemon's fault injection: one one-shot panic per kind of thread, a
/// stall per kind and one for `apply`, and a one-shot failure of a
/// worker's re-registration.
#[derive(Debug, Default)]
pub struct Faults {
    panics: [AtomicBool; ThreadKind::COUNT],
    stalls: [Stall; ThreadKind::COUNT],
    apply_stall: Stall,
    fail_next_register: AtomicBool,
}

/// A stall: armed or not, and how many are held at its point now.
#[derive(Debug, Default)]
struct Stall {
    armed: AtomicBool,
    held: AtomicU64,
}

impl Stall {
    /// Waits while armed (or until `stop` is set). One relaxed load
    /// otherwise.
    fn point(&self, stop: &AtomicBool) {
        if !self.armed.load(Ordering::Relaxed) {
            return;
        }
        self.held.fetch_add(1, Ordering::AcqRel);
        while self.armed.load(Ordering::Acquire) && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(STALL_POLL);
        }
        self.held.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Faults {
    /// Makes the next thread of `kind` that passes its check point panic,
    /// once.
    pub fn arm_panic(&self, kind: ThreadKind) {
        self.panics[kind as usize].store(true, Ordering::Release);
    }

    /// Whether the panic armed for `kind` is still waiting for a thread.
    pub fn panic_armed(&self, kind: ThreadKind) -> bool {
        self.panics[kind as usize].load(Ordering::Acquire)
    }

    /// A check point of a thread of `kind`: panics when a panic is armed
    /// for that kind (and disarms it). One relaxed load otherwise.
    #[inline]
    pub fn check(&self, kind: ThreadKind) {
        if self.panics[kind as usize].load(Ordering::Relaxed) {
            self.fire(kind);
        }
    }

    #[cold]
    #[inline(never)]
    fn fire(&self, kind: ThreadKind) {
        // Two threads of a kind may see the flag at once: one panics.
        if self.panics[kind as usize].swap(false, Ordering::AcqRel) {
            panic!("injected panic in a {} thread", kind.as_str());
        }
    }

    /// Holds every thread of `kind` that reaches its stall point there,
    /// until [`Faults::release_stall`].
    pub fn arm_stall(&self, kind: ThreadKind) {
        self.stalls[kind as usize]
            .armed
            .store(true, Ordering::Release);
    }

    /// Lets the threads held at their stall point go on.
    pub fn release_stall(&self, kind: ThreadKind) {
        self.stalls[kind as usize]
            .armed
            .store(false, Ordering::Release);
    }

    /// How many threads of `kind` are held at their stall point now.
    pub fn stalled(&self, kind: ThreadKind) -> u64 {
        self.stalls[kind as usize].held.load(Ordering::Acquire)
    }

    /// A stall point of a thread of `kind`: waits while a stall is armed
    /// for that kind (or until `stop` is set). One relaxed load otherwise.
    pub fn stall_point(&self, kind: ThreadKind, stop: &AtomicBool) {
        self.stalls[kind as usize].point(stop);
    }

    /// Holds every `apply` that reaches its stall point there (with its
    /// lock held, before it publishes), until
    /// [`Faults::release_apply_stall`].
    pub fn arm_apply_stall(&self) {
        self.apply_stall.armed.store(true, Ordering::Release);
    }

    /// Lets the applies held at their stall point go on.
    pub fn release_apply_stall(&self) {
        self.apply_stall.armed.store(false, Ordering::Release);
    }

    /// How many applies are held at their stall point now.
    pub fn applies_stalled(&self) -> u64 {
        self.apply_stall.held.load(Ordering::Acquire)
    }

    /// The stall point of `apply`: waits while an apply stall is armed
    /// (or until `stop` is set).
    pub fn apply_stall_point(&self, stop: &AtomicBool) {
        self.apply_stall.point(stop);
    }

    /// Makes the next worker that re-registers its queues for a new plane
    /// fail with an error (not a panic), a failure otherwise hard to bring
    /// about on purpose.
    pub fn fail_next_register(&self) {
        self.fail_next_register.store(true, Ordering::Release);
    }

    /// Whether this re-registration is to fail (see
    /// [`Faults::fail_next_register`]); the failure is taken.
    pub fn take_register_failure(&self) -> bool {
        self.fail_next_register.load(Ordering::Relaxed)
            && self.fail_next_register.swap(false, Ordering::AcqRel)
    }
}

/// Panics caught in a daemon's threads, counted per kind.
#[derive(Debug, Default)]
pub struct ThreadPanics {
    counts: [AtomicU64; ThreadKind::COUNT],
}

impl ThreadPanics {
    /// Panics caught so far in threads of `kind`.
    pub fn count(&self, kind: ThreadKind) -> u64 {
        self.counts[kind as usize].load(Ordering::Relaxed)
    }

    /// Every kind by name with its count, zeros included, so that readers
    /// always find every key.
    pub fn by_kind(&self) -> BTreeMap<String, u64> {
        ThreadKind::ALL
            .iter()
            .map(|&kind| (kind.as_str().to_string(), self.count(kind)))
            .collect()
    }

    /// Takes in a panic caught in `who`, a thread of `kind`: counted, then
    /// said in the log (an error whose fields are the kind and its count).
    pub fn caught(&self, kind: ThreadKind, who: &str, payload: &(dyn Any + Send)) {
        let count = self.counts[kind as usize].fetch_add(1, Ordering::Relaxed) + 1;
        tracing::error!(
            kind = kind.as_str(),
            panics = count,
            "{}",
            panic_report(kind, who, panic_message(payload), count)
        );
    }

    /// Runs `body`, catching a panic: `None` when it panicked (counted and
    /// said in the log, see [`ThreadPanics::caught`]).
    pub fn catch<T>(&self, kind: ThreadKind, who: &str, body: impl FnOnce() -> T) -> Option<T> {
        // What these threads share is atomics, the plane behind arc-swap
        // and mutexes whose users take a poisoned lock as it is; what a
        // body holds of its own is built again when it runs again.
        match catch_unwind(AssertUnwindSafe(body)) {
            Ok(value) => Some(value),
            Err(payload) => {
                self.caught(kind, who, &*payload);
                None
            }
        }
    }
}

/// The message a panic was raised with (`panic!` gives a `&str` or a
/// `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)")
}

/// The log's words for a caught panic: who, the kind (as `stats` names
/// it), the message, what happens next and the kind's count so far.
pub fn panic_report(kind: ThreadKind, who: &str, message: &str, count: u64) -> String {
    format!(
        "{who} panicked: {message}; {} ({} panics so far: {count})",
        kind.after_panic(),
        kind.as_str()
    )
}

/// The first pause before a failed thread runs again.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// The longest pause: a thread that panics at once every time says so in
/// the log about once a second, not in a tight loop.
const MAX_PAUSE: Duration = Duration::from_secs(1);
/// A run that lasted this long was healthy: the next pause is the first.
const HEALTHY_RUN: Duration = Duration::from_secs(1);
/// How often a pause looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(50);
/// How often a stall looks whether it was released.
const STALL_POLL: Duration = Duration::from_millis(5);

/// The pauses between the runs of a thread that keeps failing.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST_PAUSE }
    }
}

impl Backoff {
    /// How long the next pause lasts, given how long the failed run lasted:
    /// the first pause after a healthy run, twice the previous (at most
    /// one second) after a run that failed at once.
    pub fn next_pause(&mut self, ran: Duration) -> Duration {
        if ran >= HEALTHY_RUN {
            self.next = FIRST_PAUSE;
        }
        let pause = self.next;
        self.next = (self.next * 2).min(MAX_PAUSE);
        pause
    }

    /// Waits before the next run; false when `stop` was set (no next run).
    pub fn pause(&mut self, ran: Duration, stop: &AtomicBool) -> bool {
        let until = Instant::now() + self.next_pause(ran);
        while !stop.load(Ordering::Relaxed) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(STOP_POLL));
        }
        false
    }
}

/// Runs `body` until it returns, on the calling thread: a panic is caught
/// (see [`ThreadPanics::catch`]) and `body` runs again after a pause,
/// unless `stop` is set.
pub fn supervise(
    kind: ThreadKind,
    who: &str,
    panics: &ThreadPanics,
    stop: &AtomicBool,
    mut body: impl FnMut(),
) {
    let mut backoff = Backoff::default();
    loop {
        let started = Instant::now();
        if panics.catch(kind, who, &mut body).is_some() {
            return;
        }
        if !backoff.pause(started.elapsed(), stop) {
            return;
        }
    }
}

/// Starts the thread `name` running `body` under [`supervise`]: every
/// thread kind of the daemon but the workers (whose runs return errors
/// too) is started this way. `who` names it in messages ("the offload
/// thread"); it logs inside the span it was started in (the lab's).
pub fn spawn_supervised(
    name: &str,
    kind: ThreadKind,
    who: &'static str,
    (panics, stop): (Arc<ThreadPanics>, Arc<AtomicBool>),
    mut body: impl FnMut() + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    let span = tracing::Span::current();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let _in_span = span.entered();
            supervise(kind, who, &panics, &stop, &mut body)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_the_names_stats_use() {
        let names: Vec<&str> = ThreadKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "worker",
                "bgp-watcher",
                "prober",
                "housekeeping",
                "flow-log",
                "offload",
                "global-reach",
                "control",
                "metrics",
                "azure-dns",
                "services"
            ]
        );
    }

    #[test]
    fn an_armed_panic_fires_once_at_the_next_check() {
        let faults = Faults::default();
        faults.check(ThreadKind::Prober);
        faults.arm_panic(ThreadKind::Prober);
        assert!(faults.panic_armed(ThreadKind::Prober));
        // Another kind's check point does not take it.
        faults.check(ThreadKind::Worker);
        let payload = catch_unwind(|| faults.check(ThreadKind::Prober)).unwrap_err();
        assert_eq!(
            panic_message(&*payload),
            "injected panic in a prober thread"
        );
        assert!(!faults.panic_armed(ThreadKind::Prober));
        faults.check(ThreadKind::Prober);
    }

    #[test]
    fn a_stall_holds_threads_of_its_kind_until_released() {
        let faults = std::sync::Arc::new(Faults::default());
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        // Nothing armed: the stall point lets it through.
        faults.stall_point(ThreadKind::BgpWatcher, &stop);
        faults.arm_stall(ThreadKind::BgpWatcher);
        // Another kind's stall point does not stop.
        faults.stall_point(ThreadKind::Prober, &stop);
        let passed = std::sync::Arc::new(AtomicBool::new(false));
        let thread = {
            let (faults, stop, passed) = (faults.clone(), stop.clone(), passed.clone());
            std::thread::spawn(move || {
                faults.stall_point(ThreadKind::BgpWatcher, &stop);
                passed.store(true, Ordering::Release);
            })
        };
        while faults.stalled(ThreadKind::BgpWatcher) == 0 {
            std::thread::yield_now();
        }
        assert!(!passed.load(Ordering::Acquire));
        faults.release_stall(ThreadKind::BgpWatcher);
        thread.join().unwrap();
        assert!(passed.load(Ordering::Acquire));
        assert_eq!(faults.stalled(ThreadKind::BgpWatcher), 0);
    }

    #[test]
    fn an_apply_stall_holds_applies_only_until_released_or_stopped() {
        let faults = std::sync::Arc::new(Faults::default());
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        faults.apply_stall_point(&stop);
        // A thread kind's stall does not hold an apply, nor the reverse.
        faults.arm_stall(ThreadKind::Worker);
        faults.apply_stall_point(&stop);
        faults.release_stall(ThreadKind::Worker);
        faults.arm_apply_stall();
        faults.stall_point(ThreadKind::Worker, &stop);
        let held = |faults: std::sync::Arc<Faults>, stop: std::sync::Arc<AtomicBool>| {
            let passed = std::sync::Arc::new(AtomicBool::new(false));
            let thread = {
                let passed = passed.clone();
                std::thread::spawn(move || {
                    faults.apply_stall_point(&stop);
                    passed.store(true, Ordering::Release);
                })
            };
            (thread, passed)
        };
        let (thread, passed) = held(faults.clone(), stop.clone());
        while faults.applies_stalled() == 0 {
            std::thread::yield_now();
        }
        assert!(!passed.load(Ordering::Acquire));
        faults.release_apply_stall();
        thread.join().unwrap();
        assert!(passed.load(Ordering::Acquire));
        assert_eq!(faults.applies_stalled(), 0);
        // A daemon stopping lets a held apply go, armed or not.
        faults.arm_apply_stall();
        let (thread, passed) = held(faults.clone(), stop.clone());
        while faults.applies_stalled() == 0 {
            std::thread::yield_now();
        }
        stop.store(true, Ordering::Release);
        thread.join().unwrap();
        assert!(passed.load(Ordering::Acquire));
        assert_eq!(faults.applies_stalled(), 0);
    }

    #[test]
    fn a_register_failure_is_taken_once() {
        let faults = Faults::default();
        assert!(!faults.take_register_failure());
        faults.fail_next_register();
        assert!(faults.take_register_failure());
        assert!(!faults.take_register_failure());
    }

    #[test]
    fn a_caught_panic_is_counted_under_its_kind_and_its_message_read() {
        let panics = ThreadPanics::default();
        let who = String::from("worker 1");
        assert_eq!(
            panics.catch(ThreadKind::Worker, &who, || panic!("lost {}", 3)),
            None::<()>
        );
        assert_eq!(panics.catch(ThreadKind::Worker, &who, || 7), Some(7));
        assert_eq!(panics.count(ThreadKind::Worker), 1);
        let counts = panics.by_kind();
        assert_eq!(counts.len(), ThreadKind::COUNT);
        assert_eq!(counts["worker"], 1);
        assert!(counts
            .iter()
            .all(|(kind, &n)| n == u64::from(kind == "worker")));
        let text = Box::new(String::from("formatted")) as Box<dyn Any + Send>;
        assert_eq!(panic_message(&*text), "formatted");
        let other = Box::new(42u8) as Box<dyn Any + Send>;
        assert_eq!(panic_message(&*other), "(a panic without a message)");
    }

    #[test]
    fn the_log_line_names_the_thread_its_kind_and_the_message() {
        assert_eq!(
            panic_report(ThreadKind::BgpWatcher, "the BGP watcher", "boom", 2),
            "the BGP watcher panicked: boom; restarting it (bgp-watcher panics so far: 2)"
        );
        assert_eq!(
            panic_report(ThreadKind::Control, "a control connection", "boom", 1),
            "a control connection panicked: boom; the connection is closed \
             (control panics so far: 1)"
        );
    }

    #[test]
    fn pauses_double_while_runs_fail_at_once_and_start_over_after_a_healthy_run() {
        let mut backoff = Backoff::default();
        let quick = Duration::from_millis(1);
        let pauses: Vec<u128> = (0..9)
            .map(|_| backoff.next_pause(quick).as_millis())
            .collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(backoff.next_pause(HEALTHY_RUN), FIRST_PAUSE);
        assert_eq!(backoff.next_pause(quick), FIRST_PAUSE * 2);
    }

    /// Supervises `body` (given its run's number) as a thread of `kind`, the
    /// daemon stopping or not; how often it ran, and the panics counted.
    fn runs_supervised(
        kind: ThreadKind,
        who: &str,
        stopping: bool,
        mut body: impl FnMut(u32),
    ) -> (u32, ThreadPanics) {
        let panics = ThreadPanics::default();
        let stop = AtomicBool::new(stopping);
        let mut runs = 0;
        supervise(kind, who, &panics, &stop, || {
            runs += 1;
            body(runs);
        });
        (runs, panics)
    }

    #[test]
    fn a_supervised_body_runs_again_after_a_panic_until_it_returns() {
        let (runs, panics) =
            runs_supervised(ThreadKind::Housekeeping, "housekeeping", false, |run| {
                if run < 3 {
                    panic!("run {run}");
                }
            });
        assert_eq!(runs, 3);
        assert_eq!(panics.count(ThreadKind::Housekeeping), 2);
    }

    #[test]
    fn a_stopped_daemon_does_not_restart_a_thread_that_panicked() {
        let (runs, panics) =
            runs_supervised(ThreadKind::FlowLog, "the flow-log thread", true, |_| {
                panic!("while stopping");
            });
        assert_eq!(runs, 1);
        assert_eq!(panics.count(ThreadKind::FlowLog), 1);
    }
}
