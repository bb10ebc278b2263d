//! The routing daemons of a running lab as the supervisor and the
//! reports see them ([`Roster`]): each locked on its own while it is
//! looked after; what `bgp-peer-status` and the advertised routes read
//! from them; and the supervisor's thread.

use super::daemons::{lock, InstanceSpeaker, SiteRouter, SupervisedRouter};
use super::hub_speakers::HubAnnouncer;
use super::supervision::RoutingDaemon;
use super::watch::Nudge;
use crate::host::routing::gobgp::NeighborStatus;
use crate::host::routing::ProcessExit;
use crate::policy::gateways::PREFIX_LIMIT_RETRY;
use anyhow::Result;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

/// How often each speaker's sessions are looked at for the prefix limit.
const SESSION_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// The routing daemons of a lab, for the supervisor: each locked on its
/// own while it is looked after.
#[derive(Clone, Default)]
pub struct Roster {
    pub(super) speakers: Vec<Arc<Mutex<InstanceSpeaker>>>,
    pub(super) routers: Vec<Arc<Mutex<SupervisedRouter>>>,
    /// Keeps the virtual hubs' VPN gateways announcing what their hubs
    /// advertise to branches, as the learned routes change.
    pub(super) hubs: Option<Arc<HubAnnouncer>>,
}

/// One BGP session of a gateway instance as `bgp-peer-status` shows it.
#[derive(Debug, Clone)]
pub struct PeerSession {
    pub address: Ipv4Addr,
    pub asn: u32,
    /// What the speaker says of it; `None` when the speaker cannot be
    /// asked.
    pub status: Option<NeighborStatus>,
    /// Why it is down, when vnetd knows: `speaker not running`, `speaker
    /// not answering`, `prefix limit 4000 exceeded`.
    pub reason: Option<String>,
}

/// The words `bgp-peer-status` uses for a session `s` dropped for its
/// prefix limit ([`crate::policy::gateways::MAX_LEARNED_PREFIXES`] on a gateway, 1000 on a Route
/// Server).
pub(super) fn prefix_limit_reason(s: &InstanceSpeaker) -> String {
    format!("prefix limit {} exceeded", s.speaker.spec().max_prefixes)
}

impl Roster {
    /// Every routing daemon of the lab, for `vnetd stats`.
    pub fn routing_daemons(&self) -> Vec<RoutingDaemon> {
        let speakers = self.speakers.iter().flat_map(|s| {
            let s = lock(s);
            s.supervision.report(vec![s.speaker.status()])
        });
        let routers = self.routers.iter().flat_map(|r| {
            let r = lock(r);
            let processes = r.router.as_ref().map(SiteRouter::processes);
            r.supervision.report(processes.unwrap_or_default())
        });
        speakers.chain(routers).collect()
    }

    /// The BGP sessions of every instance of `gateway`, each instance on
    /// its own: one that cannot be asked lists its configured neighbours
    /// with the reason, and never hides the others.
    pub fn peer_status(&self, gateway: &str) -> Vec<(usize, Vec<PeerSession>)> {
        self.speakers
            .iter()
            .map(|s| lock(s))
            .filter(|s| s.gateway == gateway)
            .map(|s| (s.instance, sessions_of(&s)))
            .collect()
    }
}

impl Roster {
    /// What each instance of `gateway` whose speaker has `peer` as a
    /// neighbour advertises to it, read from gobgpd (its adj-RIB-out), by
    /// instance; an instance whose speaker does not answer says why.
    pub fn advertised(
        &self,
        gateway: &str,
        peer: Ipv4Addr,
    ) -> Vec<(
        usize,
        Result<Vec<crate::host::routing::gobgp::AdvertisedPath>>,
    )> {
        self.speakers
            .iter()
            .map(|s| lock(s))
            .filter(|s| {
                s.gateway == gateway && s.speaker.spec().neighbors.iter().any(|n| n.address == peer)
            })
            .map(|s| (s.instance, s.speaker.advertised(peer)))
            .collect()
    }
}

impl Roster {
    /// Looks after the routing daemons, once per supervisor round: reaps
    /// those that exited and says so (a speaker's watcher withdraws what it
    /// learned), starts them again when due, lets a session the prefix
    /// limit dropped up again after [`PREFIX_LIMIT_RETRY`] (as Azure
    /// re-establishes it), and brings the virtual hubs' gateways to what
    /// their hubs advertise now. Each daemon is locked on its own, so a restart
    /// holds up only who asks about that daemon.
    pub fn supervise(&self) {
        for s in &self.speakers {
            let mut s = lock(s);
            if s.retired {
                continue;
            }
            let span = s.supervision.span.clone();
            let _in_speaker = span.enter();
            let now = std::time::Instant::now();
            let exits: Vec<ProcessExit> = s.speaker.reap().into_iter().collect();
            if !exits.is_empty() {
                // A restarted gobgpd starts its sessions afresh.
                s.prefix_limited.clear();
                s.established.clear();
                s.sessions.set(&s.gateway, s.instance, Vec::new());
                let _ = s.watcher.send(Nudge::Down);
            }
            s.supervision.exited(&exits, now);
            if s.supervision.due(now) {
                let outcome = s.speaker.restart();
                let up = outcome.is_ok();
                let status = [s.speaker.status()];
                s.supervision.restarted(outcome, &status, now);
                if up {
                    let _ = s.watcher.send(Nudge::Up);
                }
            }
            if s.speaker.is_running() {
                check_sessions(&mut s, now);
            }
        }
        if let Some(hubs) = &self.hubs {
            hubs.refresh(&self.speakers);
        }
        for r in &self.routers {
            let mut r = lock(r);
            let r = &mut *r;
            let Some(router) = r.router.as_mut() else {
                continue;
            };
            let span = r.supervision.span.clone();
            let _in_speaker = span.enter();
            let now = std::time::Instant::now();
            let exits = router.router().reap();
            if !r.restarts {
                for exit in &exits {
                    tracing::warn!(
                        program = %exit.program,
                        pid = exit.pid,
                        "{} (pid {}) of {} in {} exited: {}; an appliance's daemon is not \
                         restarted",
                        exit.program,
                        exit.pid,
                        r.supervision.serves,
                        r.netns,
                        exit.how
                    );
                }
                continue;
            }
            r.supervision.exited(&exits, now);
            if r.supervision.due(now) {
                let outcome = router.router().restart();
                r.supervision.restarted(outcome, &router.processes(), now);
            }
        }
    }
}

/// The sessions of one instance's speaker, with the reason of those vnetd
/// knows to be down.
fn sessions_of(s: &InstanceSpeaker) -> Vec<PeerSession> {
    let unavailable = |reason: &str| {
        s.speaker
            .spec()
            .neighbors
            .iter()
            .map(|n| PeerSession {
                address: n.address,
                asn: n.asn,
                status: None,
                reason: Some(reason.to_owned()),
            })
            .collect()
    };
    if !s.speaker.is_running() {
        return unavailable("speaker not running");
    }
    match s.speaker.neighbors() {
        Ok(neighbors) => neighbors
            .into_iter()
            .map(|n| PeerSession {
                address: n.address,
                asn: n.asn,
                reason: (n.admin_state == "PrefixLimit"
                    || (s.prefix_limited.contains_key(&n.address) && n.state != "Established"))
                    .then(|| prefix_limit_reason(s)),
                status: Some(n),
            })
            .collect(),
        Err(_) => unavailable("speaker not answering"),
    }
}

/// Notices sessions gobgpd dropped for the prefix limit (it keeps them
/// down for good) and enables each again once [`PREFIX_LIMIT_RETRY`] has
/// passed; one still over the limit is dropped again, and waits again. A
/// change of the established sessions wakes the watcher: a session that
/// ended took its routes with it, best or not.
fn check_sessions(s: &mut InstanceSpeaker, now: std::time::Instant) {
    if s.sessions_checked
        .is_some_and(|at| now.duration_since(at) < SESSION_CHECK)
    {
        return;
    }
    s.sessions_checked = Some(now);
    let Ok(neighbors) = s.speaker.neighbors() else {
        return;
    };
    let established: Vec<Ipv4Addr> = neighbors
        .iter()
        .filter(|n| n.state == "Established")
        .map(|n| n.address)
        .collect();
    if established != s.established {
        for up in established.iter().filter(|a| !s.established.contains(a)) {
            tracing::info!(neighbor = %up, "the session with {up} is established");
        }
        for down in s.established.iter().filter(|a| !established.contains(a)) {
            tracing::info!(neighbor = %down, "the session with {down} is down");
        }
        s.sessions.set(&s.gateway, s.instance, established.clone());
        s.established = established;
        let _ = s.watcher.send(Nudge::Resync);
    }
    for n in neighbors {
        if n.admin_state == "PrefixLimit" {
            let reason = prefix_limit_reason(s);
            let retry_at = s.prefix_limited.entry(n.address).or_insert_with(|| {
                tracing::warn!(
                    neighbor = %n.address,
                    "{} dropped its session with {}: {reason}; letting it up again in {:?}",
                    s.supervision.serves,
                    n.address,
                    PREFIX_LIMIT_RETRY
                );
                now + PREFIX_LIMIT_RETRY
            });
            if now >= *retry_at {
                *retry_at = now + PREFIX_LIMIT_RETRY;
                if let Err(e) = s.speaker.enable_neighbor(n.address) {
                    tracing::warn!(
                        neighbor = %n.address,
                        "letting the session of {} with {} up again: {e:#}",
                        s.supervision.serves,
                        n.address
                    );
                }
            }
        } else if n.state == "Established" && s.prefix_limited.remove(&n.address).is_some() {
            tracing::info!(
                neighbor = %n.address,
                "the session of {} with {} is up again",
                s.supervision.serves,
                n.address
            );
        }
    }
}

/// How often the supervisor looks after the routing daemons.
const SUPERVISE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Looks after the routing daemons ([`Roster::supervise`]): reaps
/// and restarts them, and lets sessions the prefix limit dropped up again.
/// It reads which daemons the lab runs from what was published, so it
/// never waits for an `apply`; a daemon an `apply` stops meanwhile is
/// marked stopped for good under its own lock, and left alone.
pub(crate) fn supervise_routing(
    routing: &arc_swap::ArcSwapOption<Roster>,
    stop: &std::sync::atomic::AtomicBool,
    faults: &crate::daemon::threads::Faults,
) {
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(SUPERVISE_EVERY);
        faults.check(crate::daemon::threads::ThreadKind::BgpWatcher);
        let Some(roster) = routing.load_full() else {
            return;
        };
        roster.supervise();
    }
}
