//! What the server answers, path by path: the Prometheus metrics, and with
//! the live page its assets, the picture, the flows, a trace, the event
//! stream and capture downloads. The answers come from the daemon's
//! published snapshot and reports, the ones `vnetd` prints.

use super::assets;
use super::download;
use super::live::Live;
use crate::daemon::metrics::{render, CONTENT_TYPE};
use crate::daemon::report::{flows_of, stats_of};
use crate::daemon::threads::ThreadKind;
use crate::daemon::Daemon;
use crate::graph::{cytoscape, Picture};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// What a scrape of `/metrics` returns; it runs on a blocking thread.
pub type Exposition = Arc<dyn Fn() -> String + Send + Sync>;

/// The daemon's metrics, as `vnetd stats` counts them.
pub fn daemon_exposition(daemon: Arc<Daemon>) -> Exposition {
    Arc::new(move || {
        daemon.faults().check(ThreadKind::Metrics);
        render(&stats_of(&daemon))
    })
}

async fn metrics(State(exposition): State<Exposition>) -> Response {
    match tokio::task::spawn_blocking(move || exposition()).await {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        // A panic closes the connection unanswered, and is counted there.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// `/metrics` alone (`vnetd run --metrics`).
pub fn metrics_router(exposition: Exposition) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "not found; the metrics are at /metrics\n",
            )
        })
        .with_state(exposition)
}

#[derive(Clone)]
struct Page {
    daemon: Arc<Daemon>,
    live: Arc<Live>,
}

/// The live page and everything it reads, and `/metrics`
/// (`vnetd run --ui`).
pub fn page_router(daemon: Arc<Daemon>, live: Arc<Live>) -> Router {
    let page = Page {
        daemon: daemon.clone(),
        live,
    };
    let api = Router::new()
        .route("/api/graph", get(graph))
        .route("/api/flows", get(flows))
        .route("/api/trace", get(trace))
        .route("/events", get(events))
        .route("/capture/{file}", get(capture))
        .with_state(page);
    assets::router()
        .merge(api)
        .merge(metrics_router(daemon_exposition(daemon)))
}

async fn graph(State(page): State<Page>) -> Response {
    let snapshot = page.daemon.snapshot();
    Json(json!({
        "generation": snapshot.generation,
        "host": snapshot.topology.placement.local_name(),
        "elements": cytoscape::elements(&Picture::of(&snapshot)),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct FlowsQuery {
    nic: Option<String>,
}

async fn flows(State(page): State<Page>, Query(q): Query<FlowsQuery>) -> Response {
    let daemon = page.daemon.clone();
    match tokio::task::spawn_blocking(move || flows_of(&daemon, q.nic.as_deref())).await {
        Ok(flows) => Json(flows).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[derive(Deserialize)]
struct TraceQuery {
    from: String,
    to: String,
    protocol: Option<String>,
    port: Option<u16>,
}

/// The same engine as `vnetd trace`, on the snapshot the lab forwards with.
async fn trace(State(page): State<Page>, Query(q): Query<TraceQuery>) -> Response {
    let snapshot = page.daemon.snapshot();
    let protocol = q.protocol.filter(|p| !p.is_empty());
    let answer =
        crate::diagnostics::trace_query(&snapshot, &q.from, &q.to, protocol.as_deref(), q.port)
            .and_then(|query| crate::diagnostics::trace::trace(&snapshot, &query));
    match answer {
        Ok(trace) => Json(trace).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": e.message() })),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct CaptureQuery {
    seconds: Option<u64>,
    count: Option<u64>,
    filter: Option<String>,
}

async fn capture(
    State(page): State<Page>,
    Path(file): Path<String>,
    Query(q): Query<CaptureQuery>,
) -> Response {
    let filter = q.filter.filter(|f| !f.trim().is_empty());
    download::capture(page.daemon, page.live, file, q.seconds, q.count, filter).await
}

type Events = std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>>;

/// Each new value of a feed, the current one first.
fn watched(feed: &watch::Sender<Option<Arc<str>>>, name: &'static str) -> Events {
    let mut receiver = feed.subscribe();
    receiver.mark_changed();
    stream::unfold(receiver, |mut receiver| async move {
        receiver.changed().await.ok()?;
        let value = receiver.borrow_and_update().clone();
        Some((value, receiver))
    })
    .filter_map(move |value| async move {
        value.map(|text| Ok(Event::default().event(name).data(&*text)))
    })
    .boxed()
}

/// The drops as they come; a viewer too slow for them skips some.
fn dropped(live: &Live) -> Events {
    let recent: Vec<Arc<str>> = live.recent_drops();
    let receiver = live.drops.subscribe();
    let new = stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(text) => return Some((text, receiver)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    stream::iter(recent)
        .chain(new)
        .map(|text| Ok(Event::default().event("drop").data(&*text)))
        .boxed()
}

async fn events(State(page): State<Page>) -> impl IntoResponse {
    let live = &page.live;
    let all = stream::select_all([
        watched(&live.graph, "graph"),
        watched(&live.state, "state"),
        watched(&live.rates, "rates"),
        dropped(live),
    ])
    .boxed();
    Sse::new(all).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
