//! Azure DNS at 168.63.129.16: one UDP socket bound to 168.63.129.16:53 in
//! the namespace of each VNet's Azure DNS port on this machine, all served
//! by one thread. The fabric brings a VM's query to its VNet's port (see
//! the decision's Azure DNS step); the answer is the snapshot's, for that
//! VNet, written back from the same socket, so it crosses the fabric to the
//! asker as Azure's host answers it.
//!
//! A datagram that is not a DNS query is dropped and counted
//! ([`DnsCounters::malformed`]); nothing a query asks reaches past the lab.

use crate::daemon::forwarding::plane::{Plane, PublishedPlane};
use crate::daemon::threads::{self, Faults, ThreadKind, ThreadPanics};
use crate::host::netns;
use crate::plan::PortKind;
use crate::snapshot::Snapshot;
use crate::topology::{VnetIdx, AZURE_DNS};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The port Azure DNS answers on.
pub const DNS_PORT: u16 = 53;

/// How long the thread waits for a query before it looks at the plane
/// again (and at `stop`).
const TICK: Duration = Duration::from_millis(100);

/// How often a socket that could not be opened is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// Datagrams read from one socket in a row before the others get a turn.
const BURST: usize = 64;

/// The largest query read: EDNS's common buffer size.
const MAX_QUERY: usize = 4096;

/// What Azure DNS was asked and what became of it, for `stats` and the
/// metrics.
#[derive(Debug, Default)]
pub struct DnsCounters {
    /// Datagrams read from the sockets.
    pub queries: AtomicU64,
    /// Answers sent (NXDOMAIN and SERVFAIL among them).
    pub answers: AtomicU64,
    /// Datagrams that were not a DNS query: dropped.
    pub malformed: AtomicU64,
    /// Answers the socket would not send.
    pub send_failed: AtomicU64,
    /// Queries a forwarding rule sent on from an outbound endpoint.
    pub forwarded: AtomicU64,
    /// Forwarded queries no target answered in time.
    pub forward_timeouts: AtomicU64,
}

impl DnsCounters {
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// One VNet's socket.
struct Served {
    /// The port's serial: unique for the lab's life, so a port rebuilt by
    /// an `apply` (a new namespace) gets a new socket.
    serial: u32,
    vnet: VnetIdx,
    socket: UdpSocket,
}

/// What answers the queries: the snapshot's view of names from `vnet`.
/// `None`: the bytes are not a query, and nothing is sent.
pub type Answerer = fn(&Snapshot, VnetIdx, &[u8], &mut Vec<u8>) -> Option<()>;

/// The Azure DNS thread's state.
struct AzureDns {
    served: Vec<Served>,
    /// Ports whose socket could not be opened, by serial, and when to try
    /// again.
    failed: Vec<(u32, Instant)>,
    generation: Option<u64>,
    counters: Arc<DnsCounters>,
    answer: Answerer,
}

impl AzureDns {
    /// Opens a socket for every Azure DNS port of this machine that has
    /// none, and closes those of ports gone.
    fn follow(&mut self, plane: &Plane) {
        let now = Instant::now();
        let wanted: Vec<(u32, VnetIdx, &str)> = plane
            .snapshot
            .plan
            .ports
            .iter_enumerated()
            .filter(|(p, _)| plane.snapshot.plan.is_local(*p))
            .filter_map(|(p, port)| match port.kind {
                PortKind::AzureDns { vnet } => {
                    let live = plane.ports.get(p)?;
                    Some((live.serial, vnet, port.netns.as_str()))
                }
                _ => None,
            })
            .collect();
        self.served
            .retain(|s| wanted.iter().any(|(serial, _, _)| *serial == s.serial));
        self.failed.retain(|(serial, at)| {
            *at > now && wanted.iter().any(|(wanted, _, _)| wanted == serial)
        });
        for (serial, vnet, netns) in wanted {
            let open = self.served.iter().any(|s| s.serial == serial)
                || self.failed.iter().any(|(s, _)| *s == serial);
            if open {
                continue;
            }
            match bind_in(netns) {
                Ok(socket) => self.served.push(Served {
                    serial,
                    vnet,
                    socket,
                }),
                Err(error) => {
                    tracing::warn!("Azure DNS cannot listen in {netns}: {error:#}");
                    self.failed.push((serial, now + RETRY));
                }
            }
        }
    }

    /// Reads and answers what waits on the sockets, for at most one tick.
    fn serve(&mut self, snapshot: &Snapshot, query: &mut [u8], answer: &mut Vec<u8>) {
        let mut fds: Vec<PollFd> = (self.served.iter())
            .map(|s| PollFd::new(s.socket.as_fd(), PollFlags::POLLIN))
            .collect();
        let timeout = PollTimeout::try_from(TICK).unwrap_or(PollTimeout::NONE);
        if fds.is_empty() {
            std::thread::sleep(TICK);
            return;
        }
        let ready = match poll(&mut fds, timeout) {
            Ok(n) if n > 0 => fds
                .iter()
                .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
                .collect::<Vec<bool>>(),
            _ => return,
        };
        for (served, ready) in self.served.iter().zip(ready) {
            if !ready {
                continue;
            }
            for _ in 0..BURST {
                let (n, from) = match served.socket.recv_from(query) {
                    Ok(got) => got,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break,
                };
                DnsCounters::count(&self.counters.queries);
                self.answer_one(snapshot, served, &query[..n], from, answer);
            }
        }
    }

    fn answer_one(
        &self,
        snapshot: &Snapshot,
        served: &Served,
        query: &[u8],
        from: SocketAddr,
        answer: &mut Vec<u8>,
    ) {
        answer.clear();
        if (self.answer)(snapshot, served.vnet, query, answer).is_none() {
            DnsCounters::count(&self.counters.malformed);
            return;
        }
        match served.socket.send_to(answer, from) {
            Ok(_) => DnsCounters::count(&self.counters.answers),
            Err(_) => DnsCounters::count(&self.counters.send_failed),
        }
    }

    fn run(&mut self, plane: &PublishedPlane, stop: &AtomicBool, faults: &Faults) {
        let mut query = vec![0u8; MAX_QUERY];
        let mut answer = Vec::with_capacity(MAX_QUERY);
        while !stop.load(Ordering::Relaxed) {
            faults.check(ThreadKind::AzureDns);
            faults.stall_point(ThreadKind::AzureDns, stop);
            let current = plane.load_full();
            let generation = current.snapshot.generation;
            if self.generation != Some(generation) || !self.failed.is_empty() {
                self.follow(&current);
                self.generation = Some(generation);
            }
            self.serve(&current.snapshot, &mut query, &mut answer);
        }
    }
}

/// A non-blocking UDP socket on 168.63.129.16:53 in the namespace `netns`.
fn bind_in(netns: &str) -> anyhow::Result<UdpSocket> {
    let socket = netns::run_in(netns, || Ok(UdpSocket::bind((AZURE_DNS, DNS_PORT))?))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Starts the Azure DNS thread of a daemon: it follows `plane` and answers
/// with `answer`. A panic is caught and counted in `panics`, and the thread
/// runs again (its sockets are opened again).
pub(in crate::daemon) fn start(
    plane: Arc<PublishedPlane>,
    counters: Arc<DnsCounters>,
    answer: Answerer,
    stop: Arc<AtomicBool>,
    (faults, panics): (Arc<Faults>, Arc<ThreadPanics>),
) -> std::io::Result<std::thread::JoinHandle<()>> {
    threads::spawn_supervised(
        "vnetd-azure-dns",
        ThreadKind::AzureDns,
        "Azure DNS",
        (panics, stop.clone()),
        move || {
            let mut dns = AzureDns {
                served: Vec::new(),
                failed: Vec::new(),
                generation: None,
                counters: counters.clone(),
                answer,
            };
            dns.run(&plane, &stop, &faults)
        },
    )
}

/// Azure DNS's answer to a datagram from `vnet`: the snapshot's names, on
/// the wire (`None`: not a DNS query, nothing to send).
pub fn answer_datagram(
    snapshot: &Snapshot,
    vnet: VnetIdx,
    query: &[u8],
    out: &mut Vec<u8>,
) -> Option<()> {
    match snapshot.names.answer(vnet, query, out) {
        crate::names::Outcome::Answered(_) => Some(()),
        crate::names::Outcome::Malformed => None,
    }
}
