//! Azure DNS at 168.63.129.16, and the DNS Private Resolvers' endpoints,
//! all served over UDP by one thread:
//!
//! - a UDP socket on 168.63.129.16:53 in the namespace of each VNet's
//!   Azure DNS port on this machine: the fabric brings a VM's query there
//!   (see the decision's Azure DNS step), and the answer is the snapshot's
//!   for that VNet, written back from the same socket;
//! - a UDP socket on each inbound endpoint's address, port 53, answering
//!   as Azure DNS of the resolver's VNet (on-premises servers forward
//!   there over the VPN or ExpressRoute);
//! - a UDP socket on the private address of each Azure Firewall whose
//!   policy's DNS proxy is on and asks Azure DNS (no custom servers),
//!   answering as Azure DNS of the firewall's VNet: the proxy relays
//!   Azure DNS's answer;
//! - a UDP socket on each outbound endpoint's address: a question a
//!   forwarding rule takes is sent from there to the rule's targets (the
//!   first, then the next after [`FORWARD_TIMEOUT`]), and their answer is
//!   relayed to the asker after the CNAMEs followed before the rule; no
//!   answer from any target is SERVFAIL.
//!
//! Each answering address takes TCP too (an answer too long for UDP comes
//! truncated, and the asker asks again over TCP), through the shared
//! listener on a thread of its own: at most [`tcp::MAX_TCP_PER_SOURCE`]
//! connections from one source address and [`tcp::MAX_TCP`] in all, each
//! given two seconds for its question, one answer, then closed; a question
//! a forwarding rule takes is forwarded over TCP from the outbound
//! endpoint, and the target's answer relayed whole ([`tcp`]).
//!
//! A datagram that is not a DNS query is dropped and counted
//! ([`DnsCounters::malformed`]); nothing a query asks reaches past the
//! lab, at most [`MAX_PENDING`] forwarded questions wait at once, and at
//! most [`in_flight::MAX_IDENTICAL_IN_FLIGHT`] identical ones: a loop
//! through servers outside vnetd's sight is cut ([`in_flight`]).
//!
//! What is where: this module holds the thread, its UDP sockets and the
//! forwarding of questions that came over UDP; [`in_flight`] the
//! forwarded UDP questions waiting and the loop bound; [`tcp`] all of TCP
//! (its server on the shared listener, its bounds, its forwarding over
//! TCP); [`proxy_log`] the rows of the firewalls' DNS proxy log.

pub mod counters;
pub mod in_flight;
pub mod proxy_log;
pub mod tcp;

pub use counters::DnsCounters;
pub use in_flight::FORWARD_TIMEOUT;

use crate::daemon::forwarding::plane::{Plane, PublishedPlane};
use crate::daemon::threads::{self, Faults, ThreadKind, ThreadPanics};
use crate::host::listener::Accepting;
use crate::host::netns;
use crate::names::{forward_query, relay, Forwarded, Outcome};
use crate::plan::ports::DnsRole;
use crate::snapshot::Snapshot;
use crate::topology::{ResolverIdx, VnetIdx};
use counters::count;
use in_flight::{InFlight, Pending};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The port Azure DNS answers on.
pub const DNS_PORT: u16 = 53;

/// How long the thread waits for a datagram before it looks at the plane
/// again (and at `stop`, and at forwarded questions overdue).
const TICK: Duration = Duration::from_millis(100);

/// How often a socket that could not be opened is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// Datagrams read from one socket in a row before the others get a turn.
const BURST: usize = 64;

/// The largest datagram read.
const MAX_DATAGRAM: usize = 4096;

/// Forwarded questions waiting at once; one more is answered SERVFAIL.
pub const MAX_PENDING: usize = 1024;

/// What each UDP socket may hold for the thread.
const RECEIVE_BUFFER: usize = 4 << 20;

/// A socket that answers: Azure DNS's of a VNet, or an inbound endpoint's
/// (answering as Azure DNS of its resolver's VNet).
struct Served {
    /// The port's serial: unique for the lab's life, so a port rebuilt by
    /// an `apply` (a new namespace) gets a new socket.
    serial: u32,
    view: VnetIdx,
    socket: UdpSocket,
    /// The same address taking TCP connections, for answers too long for
    /// UDP, until dropped (none when the TCP server could not start).
    _accepting: Option<Accepting>,
    /// The firewall whose DNS proxy this socket is, which logs its
    /// queries.
    proxy: Option<String>,
}

/// An outbound endpoint's socket.
struct Outbound {
    serial: u32,
    socket: UdpSocket,
    /// Where questions forwarded over TCP leave from too.
    departure: tcp::Departure,
}

/// A socket a port of this machine wants, by the port's serial.
struct Wanted<'a> {
    serial: u32,
    netns: &'a str,
    role: Role,
}

enum Role {
    Answer {
        view: VnetIdx,
        address: IpAddr,
        proxy: Option<String>,
    },
    Send {
        endpoint: (ResolverIdx, usize),
        address: IpAddr,
    },
}

/// The thread's state.
#[derive(Default)]
struct AzureDns {
    served: Vec<Served>,
    outbound: Vec<Outbound>,
    /// By outbound endpoint's serial and the id sent.
    pending: InFlight,
    /// The server of the answering addresses' TCP connections (none when
    /// it could not start: UDP is answered still).
    tcp: Option<tcp::TcpServer>,
    next_id: u16,
    /// Ports whose socket could not be opened, by serial, and when to try
    /// again.
    failed: Vec<(u32, Instant)>,
    generation: Option<u64>,
    counters: Arc<DnsCounters>,
    /// Where the firewalls' DNS proxies log their queries (the firewalls'
    /// log, which writes nothing without flow logs).
    query_log: Option<crate::daemon::forwarding::firewall_log::FirewallLog>,
}

/// The sockets this machine's ports want.
fn wanted(plane: &Plane) -> Vec<Wanted<'_>> {
    let snapshot = &plane.snapshot;
    let topology = &snapshot.topology;
    (snapshot.plan.ports.iter_enumerated())
        .filter(|(p, _)| snapshot.plan.is_local(*p))
        .filter_map(|(p, port)| {
            let address = port.ip_configurations.first()?.address;
            let role = match port.kind.dns_role(topology, address)? {
                DnsRole::Answers {
                    view,
                    address,
                    proxy,
                } => Role::Answer {
                    view,
                    address,
                    proxy: proxy.map(|f| topology.firewalls[f].name.clone()),
                },
                DnsRole::Sends {
                    resolver,
                    endpoint,
                    address,
                } => Role::Send {
                    endpoint: (resolver, endpoint),
                    address,
                },
            };
            Some(Wanted {
                serial: plane.ports.get(p)?.serial,
                netns: port.netns.as_str(),
                role,
            })
        })
        .collect()
}

impl AzureDns {
    /// Opens a socket for every port of this machine that wants one and
    /// has none, and closes those of ports gone.
    fn follow(&mut self, plane: &Plane) {
        let now = Instant::now();
        let wanted = wanted(plane);
        let kept = |serial: u32| wanted.iter().any(|w| w.serial == serial);
        self.served.retain(|s| kept(s.serial));
        self.outbound.retain(|o| kept(o.serial));
        self.pending
            .retain(|(serial, _), p| kept(*serial) && kept(p.asker.0));
        self.failed
            .retain(|(serial, at)| *at > now && kept(*serial));
        for w in wanted {
            let open = self.served.iter().any(|s| s.serial == w.serial)
                || self.outbound.iter().any(|o| o.serial == w.serial)
                || self.failed.iter().any(|(s, _)| *s == w.serial);
            if open {
                continue;
            }
            let (address, port) = match &w.role {
                Role::Answer { address, .. } => (*address, DNS_PORT),
                Role::Send { address, .. } => (*address, 0),
            };
            let listening = match &w.role {
                Role::Answer { .. } => Some(SocketAddr::new(address, port)),
                Role::Send { .. } => None,
            };
            let opened = bind_in(w.netns, SocketAddr::new(address, port), listening)
                .and_then(|(socket, listener)| self.open(&w, socket, listener));
            if let Err(error) = opened {
                tracing::warn!("Azure DNS cannot open {address} in {}: {error:#}", w.netns);
                self.failed.push((w.serial, now + RETRY));
            }
        }
        if let Some(tcp) = &self.tcp {
            tcp.leave_from(self.outbound.iter().map(|o| o.departure.clone()).collect());
        }
    }

    /// Keeps the sockets opened for `w`: an answering address's, its TCP
    /// listener given to the TCP server, or an outbound endpoint's.
    fn open(
        &mut self,
        w: &Wanted<'_>,
        socket: UdpSocket,
        listener: Option<TcpListener>,
    ) -> anyhow::Result<()> {
        match (&w.role, listener) {
            (Role::Answer { view, proxy, .. }, Some(listener)) => {
                let accepting = match &self.tcp {
                    Some(tcp) => Some(tcp.listen(*view, listener)?),
                    None => None,
                };
                self.served.push(Served {
                    serial: w.serial,
                    view: *view,
                    socket,
                    _accepting: accepting,
                    proxy: proxy.clone(),
                });
            }
            (Role::Send { endpoint, address }, _) => self.outbound.push(Outbound {
                serial: w.serial,
                socket,
                departure: tcp::Departure {
                    endpoint: *endpoint,
                    netns: w.netns.into(),
                    address: *address,
                },
            }),
            (Role::Answer { .. }, None) => {}
        }
        Ok(())
    }

    /// Reads and answers what waits on the sockets, for at most one tick.
    fn serve(&mut self, snapshot: &Snapshot, datagram: &mut [u8], out: &mut Vec<u8>) {
        if self.served.is_empty() && self.outbound.is_empty() {
            std::thread::sleep(TICK);
            return;
        }
        let mut fds: Vec<PollFd> = (self.served.iter().map(|s| s.socket.as_fd()))
            .chain(self.outbound.iter().map(|o| o.socket.as_fd()))
            .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
            .collect();
        let timeout = PollTimeout::try_from(TICK).unwrap_or(PollTimeout::NONE);
        let ready: Vec<bool> = match poll(&mut fds, timeout) {
            Ok(n) if n > 0 => (fds.iter())
                .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
                .collect(),
            _ => return,
        };
        let answering = self.served.len();
        for (i, &ready) in ready.iter().enumerate() {
            if !ready {
                continue;
            }
            for _ in 0..BURST {
                let socket = match i.checked_sub(answering) {
                    None => &self.served[i].socket,
                    Some(o) => &self.outbound[o].socket,
                };
                let (n, from) = match socket.recv_from(datagram) {
                    Ok(got) => got,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break,
                };
                match i.checked_sub(answering) {
                    None => self.ask(snapshot, i, &datagram[..n], from, out),
                    Some(o) => self.answered(o, &datagram[..n], out),
                }
            }
        }
    }

    /// A question that reached answering socket `at`.
    fn ask(
        &mut self,
        snapshot: &Snapshot,
        at: usize,
        query: &[u8],
        from: SocketAddr,
        out: &mut Vec<u8>,
    ) {
        count(&self.counters.queries);
        let arrived = Instant::now();
        let served = &self.served[at];
        match snapshot.names.answer(served.view, query, out) {
            Outcome::Answered(_) => {
                send(&served.socket, out, from, &self.counters);
                if let (Some(firewall), Some(log)) = (&served.proxy, &self.query_log) {
                    log_query(log, firewall, (query, out), from, arrived);
                }
            }
            Outcome::Malformed => count(&self.counters.malformed),
            Outcome::Forward(forwarded) => {
                let asker = (served.serial, from);
                if self.pending.would_loop(from, &forwarded) {
                    count(&self.counters.forward_loops_cut);
                    self.give_up(asker, query, &forwarded, out);
                } else {
                    self.forward(asker, query, forwarded, 0, out);
                }
            }
        }
    }

    /// Sends a forwarded question to target `target` of its rule, from the
    /// first of the ruleset's outbound endpoints on this machine; with no
    /// target left (or no endpoint, or no room), answers SERVFAIL.
    fn forward(
        &mut self,
        asker: (u32, SocketAddr),
        query: &[u8],
        forwarded: Box<Forwarded>,
        target: usize,
        out: &mut Vec<u8>,
    ) {
        let outbound = (forwarded.forward.outbound.iter()).find_map(|e| {
            self.outbound
                .iter()
                .position(|o| o.departure.endpoint == *e)
        });
        let destination = forwarded.forward.targets.get(target).copied();
        let (Some(o), Some(destination), true) =
            (outbound, destination, self.pending.len() < MAX_PENDING)
        else {
            self.give_up(asker, query, &forwarded, out);
            return;
        };
        let serial = self.outbound[o].serial;
        let id = self.fresh_id(serial);
        if !forward_query(&forwarded, id, out) {
            self.give_up(asker, query, &forwarded, out);
            return;
        }
        if self.outbound[o].socket.send_to(out, destination).is_err() {
            self.give_up(asker, query, &forwarded, out);
            return;
        }
        count(&self.counters.forwarded);
        self.pending.insert(
            (serial, id),
            Pending {
                asker,
                query: query.to_vec(),
                forwarded,
                target,
                deadline: Instant::now() + FORWARD_TIMEOUT,
            },
        );
    }

    /// An id not waiting on the outbound endpoint `serial`.
    fn fresh_id(&mut self, serial: u32) -> u16 {
        loop {
            self.next_id = self.next_id.wrapping_add(1);
            if !self.pending.contains((serial, self.next_id)) {
                return self.next_id;
            }
        }
    }

    /// A datagram to outbound endpoint `at`: a target's answer, relayed to
    /// whoever asked.
    fn answered(&mut self, at: usize, datagram: &[u8], out: &mut Vec<u8>) {
        if datagram.len() < 2 {
            return;
        }
        let id = u16::from_be_bytes([datagram[0], datagram[1]]);
        let Some(pending) = self.pending.remove((self.outbound[at].serial, id)) else {
            return;
        };
        if let Outcome::Answered(_) = relay(&pending.query, &pending.forwarded, Some(datagram), out)
        {
            self.reply(pending.asker, out);
        }
    }

    /// Questions whose target did not answer in time: the next target, or
    /// SERVFAIL.
    fn expire(&mut self, out: &mut Vec<u8>) {
        for key in self.pending.overdue(Instant::now()) {
            if let Some(p) = self.pending.remove(key) {
                count(&self.counters.forward_timeouts);
                self.forward(p.asker, &p.query, p.forwarded, p.target + 1, out);
            }
        }
    }

    fn give_up(
        &mut self,
        asker: (u32, SocketAddr),
        query: &[u8],
        forwarded: &Forwarded,
        out: &mut Vec<u8>,
    ) {
        if let Outcome::Answered(_) = relay(query, forwarded, None, out) {
            self.reply(asker, out);
        }
    }

    /// Sends `answer` from the answering socket `asker.0` to `asker.1`.
    fn reply(&self, (serial, to): (u32, SocketAddr), answer: &[u8]) {
        if let Some(served) = self.served.iter().find(|s| s.serial == serial) {
            send(&served.socket, answer, to, &self.counters);
        }
    }

    fn run(&mut self, plane: &PublishedPlane, stop: &AtomicBool, faults: &Faults) {
        let mut datagram = vec![0u8; MAX_DATAGRAM];
        let mut out = Vec::with_capacity(MAX_DATAGRAM);
        while !stop.load(Ordering::Relaxed) {
            faults.check(ThreadKind::AzureDns);
            faults.stall_point(ThreadKind::AzureDns, stop);
            let current = plane.load_full();
            let generation = current.snapshot.generation;
            if self.generation != Some(generation) || !self.failed.is_empty() {
                self.follow(&current);
                self.generation = Some(generation);
                (self.counters.serving_generation).store(generation, Ordering::Release);
            }
            self.serve(&current.snapshot, &mut datagram, &mut out);
            self.expire(&mut out);
        }
    }
}

/// Logs a query a firewall's proxy answered over UDP (`AZFWDnsQuery`),
/// through the firewalls' log.
fn log_query(
    log: &crate::daemon::forwarding::firewall_log::FirewallLog,
    firewall: &str,
    (query, answer): (&[u8], &[u8]),
    from: SocketAddr,
    arrived: Instant,
) {
    let secs = arrived.elapsed().as_secs_f64();
    if let Some(entry) = crate::names::query_log::dns_query_entry(query, answer, from, "UDP", secs)
    {
        log.append(firewall, proxy_log::row(entry));
    }
}

fn send(socket: &UdpSocket, answer: &[u8], to: SocketAddr, counters: &DnsCounters) {
    match socket.send_to(answer, to) {
        Ok(_) => count(&counters.answers),
        Err(_) => count(&counters.send_failed),
    }
}

/// A non-blocking UDP socket bound to `address` in the namespace `netns`,
/// and a TCP listener on `listening` there, when asked.
fn bind_in(
    netns: &str,
    address: SocketAddr,
    listening: Option<SocketAddr>,
) -> anyhow::Result<(UdpSocket, Option<TcpListener>)> {
    let (socket, listener) = netns::run_in(netns, || {
        let socket = UdpSocket::bind(address)?;
        // Room for a burst while the thread answers another socket (the
        // kernel caps it at net.core.rmem_max).
        let _ = nix::sys::socket::setsockopt(
            &socket,
            nix::sys::socket::sockopt::RcvBuf,
            &RECEIVE_BUFFER,
        );
        let listener = listening.map(TcpListener::bind).transpose()?;
        Ok((socket, listener))
    })?;
    socket.set_nonblocking(true)?;
    if let Some(l) = &listener {
        l.set_nonblocking(true)?;
    }
    Ok((socket, listener))
}

/// Starts the Azure DNS thread of a daemon: it follows `plane` and answers
/// from its snapshot. A panic is caught and counted in `panics`, and the
/// thread runs again (its sockets are opened again).
pub(in crate::daemon) fn start(
    plane: Arc<PublishedPlane>,
    (counters, query_log): (
        Arc<DnsCounters>,
        crate::daemon::forwarding::firewall_log::FirewallLog,
    ),
    stop: Arc<AtomicBool>,
    (faults, panics): (Arc<Faults>, Arc<ThreadPanics>),
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let connection_panics = panics.clone();
    threads::spawn_supervised(
        "vnetd-azure-dns",
        ThreadKind::AzureDns,
        "Azure DNS",
        (panics, stop.clone()),
        move || {
            let tcp =
                tcp::TcpServer::start(plane.clone(), counters.clone(), connection_panics.clone());
            let tcp = (tcp.map_err(|error| {
                tracing::warn!("Azure DNS answers no TCP: {error:#}");
            }))
            .ok();
            let mut dns = AzureDns {
                counters: counters.clone(),
                query_log: Some(query_log.clone()),
                tcp,
                ..AzureDns::default()
            };
            dns.run(&plane, &stop, &faults)
        },
    )
}
