//! Azure DNS at 168.63.129.16, and the DNS Private Resolvers' endpoints,
//! all served by one thread:
//!
//! - a UDP socket on 168.63.129.16:53 in the namespace of each VNet's
//!   Azure DNS port on this machine: the fabric brings a VM's query there
//!   (see the decision's Azure DNS step), and the answer is the snapshot's
//!   for that VNet, written back from the same socket;
//! - a UDP socket on each inbound endpoint's address, port 53, answering
//!   as Azure DNS of the resolver's VNet (on-premises servers forward
//!   there over the VPN or ExpressRoute);
//! - a UDP socket on each outbound endpoint's address: a question a
//!   forwarding rule takes is sent from there to the rule's targets (the
//!   first, then the next after [`FORWARD_TIMEOUT`]), and their answer is
//!   relayed to the asker after the CNAMEs followed before the rule; no
//!   answer from any target is SERVFAIL.
//!
//! Each answering address takes TCP too (an answer too long for UDP comes
//! truncated, and the asker asks again over TCP): at most [`MAX_TCP`]
//! connections at once, each given two seconds for its question, one
//! answer, then closed.
//!
//! A datagram that is not a DNS query is dropped and counted
//! ([`DnsCounters::malformed`]); nothing a query asks reaches past the
//! lab, and at most [`MAX_PENDING`] forwarded questions wait at once.

use crate::daemon::forwarding::plane::{Plane, PublishedPlane};
use crate::daemon::threads::{self, Faults, ThreadKind, ThreadPanics};
use crate::host::netns;
use crate::names::{forward_query, relay, Forwarded, Outcome};
use crate::plan::PortKind;
use crate::snapshot::Snapshot;
use crate::topology::{ResolverIdx, VnetIdx, AZURE_DNS};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::collections::HashMap;
use std::io::ErrorKind;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// How long a rule's target has to answer before the next is asked.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(2);

/// Forwarded questions waiting at once; one more is answered SERVFAIL.
pub const MAX_PENDING: usize = 1024;

/// TCP connections served at once, all sockets together; one more is
/// closed at once.
pub const MAX_TCP: usize = 64;

/// How long a TCP asker has to send its question.
const TCP_DEADLINE: Duration = Duration::from_secs(2);

/// What each UDP socket may hold for the thread.
const RECEIVE_BUFFER: usize = 4 << 20;

/// The longest DNS message over TCP (its two-byte length).
const MAX_TCP_MESSAGE: usize = 65_535;

/// What Azure DNS was asked and what became of it, for `stats` and the
/// metrics.
#[derive(Debug, Default)]
pub struct DnsCounters {
    /// Datagrams read from the answering sockets.
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

fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A socket that answers: Azure DNS's of a VNet, or an inbound endpoint's
/// (answering as Azure DNS of its resolver's VNet).
struct Served {
    /// The port's serial: unique for the lab's life, so a port rebuilt by
    /// an `apply` (a new namespace) gets a new socket.
    serial: u32,
    view: VnetIdx,
    socket: UdpSocket,
    /// The same address's TCP listener, for answers too long for UDP.
    listener: TcpListener,
}

/// One TCP asker: its question read so far, until its deadline.
struct TcpAsker {
    view: VnetIdx,
    stream: TcpStream,
    read: Vec<u8>,
    deadline: Instant,
}

/// An outbound endpoint's socket.
struct Outbound {
    serial: u32,
    endpoint: (ResolverIdx, usize),
    socket: UdpSocket,
}

/// A forwarded question waiting for a target's answer.
struct Pending {
    /// The answering socket the question came to, and who asked.
    asker: (u32, SocketAddr),
    query: Vec<u8>,
    forwarded: Box<Forwarded>,
    /// The target asked now, by its index in the rule's targets.
    target: usize,
    deadline: Instant,
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
    pending: HashMap<(u32, u16), Pending>,
    tcp: Vec<TcpAsker>,
    next_id: u16,
    /// Ports whose socket could not be opened, by serial, and when to try
    /// again.
    failed: Vec<(u32, Instant)>,
    generation: Option<u64>,
    counters: Arc<DnsCounters>,
}

/// The sockets this machine's ports want.
fn wanted(plane: &Plane) -> Vec<Wanted<'_>> {
    let snapshot = &plane.snapshot;
    let topology = &snapshot.topology;
    (snapshot.plan.ports.iter_enumerated())
        .filter(|(p, _)| snapshot.plan.is_local(*p))
        .filter_map(|(p, port)| {
            let address = port.ip_configurations.first()?.address;
            let role = match port.kind {
                PortKind::AzureDns { vnet } => Role::Answer {
                    view: vnet,
                    address: IpAddr::V4(AZURE_DNS),
                },
                PortKind::ResolverInbound { resolver, .. } => Role::Answer {
                    view: topology.dns_resolvers[resolver].vnet,
                    address,
                },
                PortKind::ResolverOutbound { resolver, endpoint } => Role::Send {
                    endpoint: (resolver, endpoint),
                    address,
                },
                _ => return None,
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
            let (address, port) = match w.role {
                Role::Answer { address, .. } => (address, DNS_PORT),
                Role::Send { address, .. } => (address, 0),
            };
            let listening = match w.role {
                Role::Answer { .. } => Some(SocketAddr::new(address, port)),
                Role::Send { .. } => None,
            };
            match bind_in(w.netns, SocketAddr::new(address, port), listening) {
                Ok((socket, listener)) => match (w.role, listener) {
                    (Role::Answer { view, .. }, Some(listener)) => self.served.push(Served {
                        serial: w.serial,
                        view,
                        socket,
                        listener,
                    }),
                    (Role::Send { endpoint, .. }, _) => self.outbound.push(Outbound {
                        serial: w.serial,
                        endpoint,
                        socket,
                    }),
                    (Role::Answer { .. }, None) => {}
                },
                Err(error) => {
                    tracing::warn!("Azure DNS cannot open {address} in {}: {error:#}", w.netns);
                    self.failed.push((w.serial, now + RETRY));
                }
            }
        }
    }

    /// Reads and answers what waits on the sockets, for at most one tick.
    fn serve(&mut self, snapshot: &Snapshot, datagram: &mut [u8], out: &mut Vec<u8>) {
        if self.served.is_empty() && self.outbound.is_empty() {
            std::thread::sleep(TICK);
            return;
        }
        let mut fds: Vec<PollFd> = (self.served.iter().map(|s| s.socket.as_fd()))
            .chain(self.outbound.iter().map(|o| o.socket.as_fd()))
            .chain(self.served.iter().map(|s| s.listener.as_fd()))
            .chain(self.tcp.iter().map(|t| t.stream.as_fd()))
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
        let datagrams = answering + self.outbound.len();
        let (ready, streams) = ready.split_at(datagrams);
        let (listeners, askers) = streams.split_at(answering);
        for (at, ready) in listeners.iter().enumerate() {
            if *ready {
                self.accept(at);
            }
        }
        let askers: Vec<bool> = askers.to_vec();
        self.read_tcp(snapshot, &askers, out);
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

    /// Takes the TCP connections waiting on listener `at`, as many as
    /// there is room for; the others are closed.
    fn accept(&mut self, at: usize) {
        let served = &self.served[at];
        while let Ok((stream, _)) = served.listener.accept() {
            if self.tcp.len() >= MAX_TCP || stream.set_nonblocking(true).is_err() {
                continue;
            }
            self.tcp.push(TcpAsker {
                view: served.view,
                stream,
                read: Vec::new(),
                deadline: Instant::now() + TCP_DEADLINE,
            });
        }
    }

    /// Reads the TCP askers that are ready; a whole question is answered
    /// (one write, whatever fits: an asker that takes nothing loses its
    /// answer) and the connection closed, as is one past its deadline or
    /// longer than a DNS message.
    fn read_tcp(&mut self, snapshot: &Snapshot, ready: &[bool], out: &mut Vec<u8>) {
        let now = Instant::now();
        let mut chunk = [0u8; 4096];
        let mut done = vec![false; self.tcp.len()];
        for (i, asker) in self.tcp.iter_mut().enumerate() {
            if ready.get(i).copied().unwrap_or(false) {
                match asker.stream.read(&mut chunk) {
                    Ok(0) | Err(_) => done[i] = true,
                    Ok(n) => asker.read.extend_from_slice(&chunk[..n]),
                }
            }
            if asker.read.len() >= 2 {
                let length = usize::from(u16::from_be_bytes([asker.read[0], asker.read[1]]));
                if asker.read.len() >= 2 + length {
                    count(&self.counters.queries);
                    let message = &asker.read[2..2 + length];
                    match snapshot.names.answer_tcp(asker.view, message, out) {
                        Outcome::Answered(_) => {
                            let mut framed = (out.len() as u16).to_be_bytes().to_vec();
                            framed.extend_from_slice(out);
                            // One write: what the socket does not take now
                            // is not waited for.
                            match asker.stream.write(&framed) {
                                Ok(n) if n == framed.len() => count(&self.counters.answers),
                                _ => count(&self.counters.send_failed),
                            }
                        }
                        Outcome::Malformed => count(&self.counters.malformed),
                        // A question a rule forwards is asked over UDP.
                        Outcome::Forward(_) => count(&self.counters.send_failed),
                    }
                    done[i] = true;
                }
            }
            if asker.deadline <= now || asker.read.len() > MAX_TCP_MESSAGE + 2 {
                done[i] = true;
            }
        }
        let mut i = 0;
        self.tcp.retain(|_| {
            i += 1;
            !done[i - 1]
        });
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
        let served = &self.served[at];
        match snapshot.names.answer(served.view, query, out) {
            Outcome::Answered(_) => send(&served.socket, out, from, &self.counters),
            Outcome::Malformed => count(&self.counters.malformed),
            Outcome::Forward(forwarded) => {
                let asker = (served.serial, from);
                self.forward(asker, query, forwarded, 0, out);
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
        let outbound = (forwarded.forward.outbound.iter())
            .find_map(|e| self.outbound.iter().position(|o| o.endpoint == *e));
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
            if !self.pending.contains_key(&(serial, self.next_id)) {
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
        let Some(pending) = self.pending.remove(&(self.outbound[at].serial, id)) else {
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
        let now = Instant::now();
        let overdue: Vec<(u32, u16)> = (self.pending.iter())
            .filter(|(_, p)| p.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in overdue {
            if let Some(p) = self.pending.remove(&key) {
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
            }
            self.serve(&current.snapshot, &mut datagram, &mut out);
            self.expire(&mut out);
            // TCP askers past their deadline go, whatever came.
            self.read_tcp(&current.snapshot, &[], &mut out);
        }
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
    counters: Arc<DnsCounters>,
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
                counters: counters.clone(),
                ..AzureDns::default()
            };
            dns.run(&plane, &stop, &faults)
        },
    )
}
