//! Azure DNS over TCP: an answer too long for UDP comes truncated, and the
//! asker asks again over TCP on the same address. Each connection is
//! given two seconds for its question, gets one answer, and is
//! closed.
//!
//! Connections are bounded twice, and what each bound refuses is closed
//! at once and counted: at most [`MAX_TCP_PER_SOURCE`] from one source
//! address to one answering address (so that one VM holding connections
//! open leaves TCP DNS to the rest of its VNet), and at most [`MAX_TCP`]
//! in all. Azure publishes neither figure: they are vnetd's.

use super::DnsCounters;
use crate::names::Outcome;
use crate::snapshot::Snapshot;
use crate::topology::VnetIdx;
use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// TCP connections one source address holds at once on one answering
/// address (168.63.129.16 of a VNet, or an inbound endpoint); one more is
/// closed at once and counted ([`DnsCounters::tcp_refused_per_source`]).
/// A resolver rarely holds more than a few: each connection carries one
/// question, answered at once.
pub const MAX_TCP_PER_SOURCE: usize = 16;

/// TCP connections served at once, all answering addresses together; one
/// more is closed at once and counted
/// ([`DnsCounters::tcp_refused_at_capacity`]). Sixteen sources' full
/// shares: with the control socket's and the HTTP server's 64 each, well
/// inside the 1,024 open files the daemon keeps beyond its TUN queues.
pub const MAX_TCP: usize = 16 * MAX_TCP_PER_SOURCE;

/// How long a TCP asker has to send its question.
const TCP_DEADLINE: Duration = Duration::from_secs(2);

/// The longest DNS message over TCP (its two-byte length).
const MAX_TCP_MESSAGE: usize = 65_535;

/// Which bound refuses a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Its source holds [`MAX_TCP_PER_SOURCE`] on that address already.
    PerSource,
    /// [`MAX_TCP`] are held already.
    AtCapacity,
}

/// One TCP asker: its question read so far, until its deadline.
struct TcpAsker {
    /// The answering socket's serial and the asker's address.
    from: (u32, IpAddr),
    view: VnetIdx,
    stream: TcpStream,
    read: Vec<u8>,
    deadline: Instant,
}

/// The TCP connections being served.
#[derive(Default)]
pub(super) struct TcpAskers {
    askers: Vec<TcpAsker>,
}

/// Whether a connection from `from` may be held beside those `held` hold:
/// the per-source bound first, so that a source over its share is counted
/// as such however busy the rest are.
fn admission(held: impl Iterator<Item = (u32, IpAddr)>, from: (u32, IpAddr)) -> Option<Refusal> {
    let (mut all, mut same) = (0, 0);
    for h in held {
        all += 1;
        same += usize::from(h == from);
    }
    if same >= MAX_TCP_PER_SOURCE {
        Some(Refusal::PerSource)
    } else if all >= MAX_TCP {
        Some(Refusal::AtCapacity)
    } else {
        None
    }
}

fn count(counter: &AtomicU64) {
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

impl TcpAskers {
    /// The connections' descriptors, in the order [`TcpAskers::read`]
    /// takes its `ready`.
    pub(super) fn fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.askers.iter().map(|a| a.stream.as_fd())
    }

    /// Takes the connections waiting on `listener` (the answering socket
    /// `serial`, answering as `view`) that the bounds let in; the others
    /// are closed and counted.
    pub(super) fn accept(
        &mut self,
        (serial, view): (u32, VnetIdx),
        listener: &TcpListener,
        counters: &DnsCounters,
    ) {
        while let Ok((stream, peer)) = listener.accept() {
            let from = (serial, peer.ip());
            match admission(self.askers.iter().map(|a| a.from), from) {
                Some(Refusal::PerSource) => count(&counters.tcp_refused_per_source),
                Some(Refusal::AtCapacity) => count(&counters.tcp_refused_at_capacity),
                None if stream.set_nonblocking(true).is_ok() => self.askers.push(TcpAsker {
                    from,
                    view,
                    stream,
                    read: Vec::new(),
                    deadline: Instant::now() + TCP_DEADLINE,
                }),
                None => {}
            }
        }
    }

    /// Reads the askers that are ready; a whole question is answered (one
    /// write, whatever fits: an asker that takes nothing loses its answer)
    /// and the connection closed, as is one past its deadline or longer
    /// than a DNS message.
    pub(super) fn read(
        &mut self,
        snapshot: &Snapshot,
        ready: &[bool],
        out: &mut Vec<u8>,
        counters: &DnsCounters,
    ) {
        let now = Instant::now();
        let mut chunk = [0u8; 4096];
        let mut done = vec![false; self.askers.len()];
        for (i, asker) in self.askers.iter_mut().enumerate() {
            if ready.get(i).copied().unwrap_or(false) {
                match asker.stream.read(&mut chunk) {
                    Ok(0) | Err(_) => done[i] = true,
                    Ok(n) => asker.read.extend_from_slice(&chunk[..n]),
                }
            }
            if asker.read.len() >= 2 {
                let length = usize::from(u16::from_be_bytes([asker.read[0], asker.read[1]]));
                if asker.read.len() >= 2 + length {
                    count(&counters.queries);
                    let message = &asker.read[2..2 + length];
                    match snapshot.names.answer_tcp(asker.view, message, out) {
                        Outcome::Answered(_) => {
                            let mut framed = (out.len() as u16).to_be_bytes().to_vec();
                            framed.extend_from_slice(out);
                            // One write: what the socket does not take now
                            // is not waited for.
                            match asker.stream.write(&framed) {
                                Ok(n) if n == framed.len() => count(&counters.answers),
                                _ => count(&counters.send_failed),
                            }
                        }
                        Outcome::Malformed => count(&counters.malformed),
                        // A question a rule forwards is asked over UDP.
                        Outcome::Forward(_) => count(&counters.send_failed),
                    }
                    done[i] = true;
                }
            }
            if asker.deadline <= now || asker.read.len() > MAX_TCP_MESSAGE + 2 {
                done[i] = true;
            }
        }
        let mut i = 0;
        self.askers.retain(|_| {
            i += 1;
            !done[i - 1]
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_holds_its_share_and_the_rest_stay_open_to_others() {
        let vm = |n: u8| IpAddr::from([10, 0, 0, n]);
        let mut held = Vec::new();
        let mut refused = Vec::new();
        // One VM asks for 64 connections to one address, then another VM
        // for one.
        for from in std::iter::repeat_n((1, vm(4)), 64).chain([(1, vm(5))]) {
            match admission(held.iter().copied(), from) {
                None => held.push(from),
                Some(r) => refused.push(r),
            }
        }
        assert_eq!(held.len(), MAX_TCP_PER_SOURCE + 1);
        assert_eq!(refused, vec![Refusal::PerSource; 64 - MAX_TCP_PER_SOURCE]);
        // The same address on another answering socket (another VNet's
        // Azure DNS) is another source.
        assert_eq!(admission(held.iter().copied(), (2, vm(4))), None);
        // Past the total, a source under its share is refused as such.
        let full: Vec<(u32, IpAddr)> = (0..MAX_TCP).map(|n| (3, vm(n as u8))).collect();
        assert_eq!(
            admission(full.iter().copied(), (1, vm(9))),
            Some(Refusal::AtCapacity)
        );
    }
}
