//! What Azure DNS counts: what it was asked and what became of it, for
//! `stats` and the metrics.

use std::sync::atomic::{AtomicU64, Ordering};

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
    /// Queries a forwarding rule sent on from an outbound endpoint (each
    /// target asked counts once), over UDP or TCP as they came.
    pub forwarded: AtomicU64,
    /// Forwarded queries a target did not answer in time (over TCP: or
    /// refused, or closed without an answer).
    pub forward_timeouts: AtomicU64,
    /// Questions answered SERVFAIL without being forwarded: more than
    /// [`super::in_flight::MAX_IDENTICAL_IN_FLIGHT`] of them would have waited at
    /// once, a forwarding loop going round.
    pub forward_loops_cut: AtomicU64,
    /// TCP connections closed at once: their source address held
    /// [`super::tcp::MAX_TCP_PER_SOURCE`] on that address already.
    pub tcp_refused_per_source: AtomicU64,
    /// TCP connections closed at once: [`super::tcp::MAX_TCP`] were held already.
    pub tcp_refused_at_capacity: AtomicU64,
    /// The plane generation whose sockets Azure DNS has opened (one that
    /// could not open is logged and retried): a question sent before that
    /// would meet no socket.
    pub serving_generation: AtomicU64,
}

/// Counts one.
pub(super) fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
