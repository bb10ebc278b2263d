//! The lab's HTTP server: the Prometheus metrics (`vnetd run --metrics`)
//! and the live page (`vnetd run --ui`), which shows the running lab as
//! `vnetd graph` draws it with what moves on it: each NIC's and link's
//! rates (packets the kernel fast path carries included), drops as they
//! happen with the rule or route behind them, the flow table, a trace
//! drawn on the picture, and captures to download.
//!
//! It reads the daemon's published snapshot, reports and counters, the same
//! ones the control socket answers from, so the page and `vnetd flows`,
//! `stats` and `trace` cannot disagree; the packet path knows nothing of
//! it but a drop event when the page asked for them. Every listener
//! answers only whom it must ([`access`]: the run's token, a `Host` and
//! `Origin` allow-list) and bounds what each client may hold
//! ([`server`]). The rooms: [`server`] (the router on the accept loop
//! every listener shares), [`access`] (who is answered), `counters` (what
//! was refused and cut), `routes` (what each path answers), `live` (the
//! feeds and their threads), `rates`, `links` and `drops` (what the feeds
//! compute), `download` (captures) and `assets` (the page's files).

pub mod access;
mod assets;
mod counters;
mod download;
pub mod drops;
mod links;
mod live;
mod rates;
mod routes;
pub mod server;

pub use access::{Access, Token};
pub use counters::{HttpCounters, Refusal};
pub use download::MAX_CAPTURES;
pub use live::LiveFeeds;
pub use routes::{
    daemon_exposition, metrics_router, page_router, Exposition, MAX_FLOWS, MAX_VIEWERS,
};
pub use server::HttpServer;

use crate::daemon::Daemon;
use access::Gate;
use std::net::SocketAddr;
use std::sync::Arc;

/// A run's HTTP listeners: who they answer and what they counted, shared
/// by the metrics endpoint and the live page.
#[derive(Debug, Clone)]
pub struct Listeners {
    gate: Gate,
}

impl Listeners {
    pub fn new(access: Access) -> Listeners {
        Listeners {
            gate: Gate {
                access: Arc::new(access),
                counters: Arc::default(),
            },
        }
    }

    pub fn access(&self) -> &Access {
        &self.gate.access
    }

    pub fn counters(&self) -> &HttpCounters {
        &self.gate.counters
    }

    /// The metrics endpoint alone.
    pub fn serve_metrics(
        &self,
        addr: SocketAddr,
        daemon: Arc<Daemon>,
    ) -> anyhow::Result<HttpServer> {
        let panics = daemon.thread_panics().clone();
        let exposition = daemon_exposition(daemon, self.gate.counters.clone());
        HttpServer::start(
            "vnetd-metrics",
            addr,
            metrics_router(exposition, self.gate.clone()),
            panics,
            self.gate.counters.clone(),
        )
    }

    /// The live page (and the metrics beside it), with its feeds; both
    /// stop when dropped, the server first. The daemon must have been
    /// started with drop events on
    /// ([`crate::daemon::RunOptions::drop_events`]) for drops to appear.
    pub fn serve_page(&self, addr: SocketAddr, daemon: Arc<Daemon>) -> anyhow::Result<LivePage> {
        let feeds = LiveFeeds::start(daemon.clone(), daemon.take_drop_events())?;
        let router = page_router(daemon.clone(), feeds.live(), self.gate.clone());
        let server = HttpServer::start(
            "vnetd-web",
            addr,
            router,
            daemon.thread_panics().clone(),
            self.gate.counters.clone(),
        )?;
        Ok(LivePage {
            server,
            _feeds: feeds,
        })
    }
}

/// The live page and its feeds.
pub struct LivePage {
    pub server: HttpServer,
    _feeds: LiveFeeds,
}

#[cfg(test)]
mod tests;
