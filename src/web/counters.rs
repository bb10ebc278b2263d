//! What the HTTP listeners refused and cut, counted for `/metrics`: the
//! requests turned away (a foreign `Host`, a cross-site `Origin`, no
//! token, no room), the clients cut for not reading, the captures ended
//! early for the same reason, and `accept` failing. One set for every
//! listener of a run, shared by them.

use crate::daemon::reporting::metrics::{family_header, MetricType};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use strum::{EnumCount, IntoEnumIterator};

/// Why a request was turned away.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::EnumCount, strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
pub enum Refusal {
    /// A `Host` that is neither an IP address, `localhost`, nor a name
    /// given with `--allow-host`.
    Host,
    /// An `Origin` other than the page's own, or a cross-site fetch.
    Origin,
    /// No token, or the wrong one.
    Token,
    /// Every connection slot taken.
    Connections,
    /// Every capture slot taken.
    Captures,
    /// Every event-stream slot taken.
    Viewers,
    /// Every filter compiler busy.
    Filters,
}

#[derive(Debug, Default)]
pub struct HttpCounters {
    refused: [AtomicU64; Refusal::COUNT],
    clients_cut: AtomicU64,
    captures_cut: AtomicU64,
    captures_running: AtomicUsize,
    accept_errors: AtomicU64,
}

impl HttpCounters {
    pub fn refused(&self, why: Refusal) {
        self.refused[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn refusals(&self, why: Refusal) -> u64 {
        self.refused[why as usize].load(Ordering::Relaxed)
    }

    /// A connection cut because its client stopped reading.
    pub fn client_cut(&self) {
        self.clients_cut.fetch_add(1, Ordering::Relaxed);
    }

    pub fn clients_cut(&self) -> u64 {
        self.clients_cut.load(Ordering::Relaxed)
    }

    /// A capture ended before its time because its reader did not keep up.
    pub fn capture_cut(&self) {
        self.captures_cut.fetch_add(1, Ordering::Relaxed);
    }

    pub fn captures_cut(&self) -> u64 {
        self.captures_cut.load(Ordering::Relaxed)
    }

    /// Takes one of `cap` capture slots; false when all are taken.
    pub fn start_capture(&self, cap: usize) -> bool {
        crate::host::cap::take_below(&self.captures_running, cap)
    }

    pub fn end_capture(&self) {
        self.captures_running.fetch_sub(1, Ordering::AcqRel);
    }

    /// Captures whose thread still runs (its packet socket open).
    pub fn captures_running(&self) -> usize {
        self.captures_running.load(Ordering::Acquire)
    }

    pub fn accept_failed(&self) {
        self.accept_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn accept_errors(&self) -> u64 {
        self.accept_errors.load(Ordering::Relaxed)
    }

    /// The counters in the Prometheus text format, after the daemon's.
    pub fn render(&self, out: &mut String) {
        family_header(
            out,
            "vnetd_http_refused_total",
            MetricType::Counter,
            "Requests the HTTP listeners turned away, by reason: a foreign Host, a cross-site \
             Origin, no or a wrong token, or no room (connections, captures, viewers, filters).",
        );
        for why in Refusal::iter() {
            let reason: &str = why.into();
            let _ = writeln!(
                out,
                "vnetd_http_refused_total{{reason=\"{reason}\"}} {}",
                self.refusals(why)
            );
        }
        let families = [
            (
                "vnetd_http_clients_cut_total",
                MetricType::Counter,
                "HTTP connections cut because the client stopped reading the answer.",
                self.clients_cut(),
            ),
            (
                "vnetd_http_captures_cut_total",
                MetricType::Counter,
                "Captures of the live page ended before their time because the reader did not keep up.",
                self.captures_cut(),
            ),
            (
                "vnetd_http_captures_running",
                MetricType::Gauge,
                "Captures of the live page running now.",
                self.captures_running() as u64,
            ),
            (
                "vnetd_http_accept_errors_total",
                MetricType::Counter,
                "Times accepting an HTTP connection failed (out of file descriptors or memory); the \
                 listener waits before it tries again.",
                self.accept_errors(),
            ),
        ];
        for (name, kind, help, value) in families {
            family_header(out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
    }
}
