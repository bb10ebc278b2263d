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
//! it but a drop event when the page asked for them. The rooms:
//! [`server`] (the accept loop), `routes` (what each path answers),
//! `live` (the feeds and their threads), `rates`, `links` and `drops`
//! (what the feeds compute), `download` (captures) and `assets` (the
//! page's files).

mod assets;
mod download;
mod drops;
mod links;
mod live;
mod rates;
mod routes;
pub mod server;

pub use live::LiveFeeds;
pub use routes::{daemon_exposition, metrics_router, page_router, Exposition};
pub use server::HttpServer;

use crate::daemon::Daemon;
use std::net::SocketAddr;
use std::sync::Arc;

/// The metrics endpoint alone.
pub fn serve_metrics(addr: SocketAddr, daemon: Arc<Daemon>) -> anyhow::Result<HttpServer> {
    let panics = daemon.thread_panics().clone();
    HttpServer::start(
        "vnetd-metrics",
        addr,
        metrics_router(daemon_exposition(daemon)),
        panics,
    )
}

/// The live page (and the metrics beside it), with its feeds; both stop
/// when dropped, the server first.
pub struct LivePage {
    pub server: HttpServer,
    _feeds: LiveFeeds,
}

impl LivePage {
    /// Serves the page at `addr`. The daemon must have been started with
    /// drop events on ([`crate::daemon::RunOptions::drop_events`]) for
    /// drops to appear.
    pub fn start(addr: SocketAddr, daemon: Arc<Daemon>) -> anyhow::Result<LivePage> {
        let feeds = LiveFeeds::start(daemon.clone(), daemon.take_drop_events())?;
        let router = page_router(daemon.clone(), feeds.live());
        let server = HttpServer::start("vnetd-web", addr, router, daemon.thread_panics().clone())?;
        Ok(LivePage {
            server,
            _feeds: feeds,
        })
    }
}

#[cfg(test)]
mod tests;
