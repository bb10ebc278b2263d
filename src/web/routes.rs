//! What the server answers, path by path: the Prometheus metrics, and with
//! the live page its assets, the picture, the flows, a trace, the event
//! stream and capture downloads. The answers come from the daemon's
//! published snapshot and reports, the ones `vnetd` prints.
//!
//! Every path is behind [`access::only_the_lab`], and all but the page's
//! files behind [`access::with_token`]. What takes work (the picture, the
//! flows, a trace, a scrape) is done off the server's thread, at most
//! [`MAX_HEAVY`] at once, and each answer is bounded: the picture is made
//! once per generation and shared by every viewer, the flows answer
//! holds at most [`MAX_FLOWS`] flows, at most [`MAX_VIEWERS`] event streams
//! run at once.

use super::access::{self, Gate};
use super::assets;
use super::counters::{HttpCounters, Refusal};
use super::download;
use super::live::Live;
use crate::daemon::reporting::metrics::{render, CONTENT_TYPE};
use crate::daemon::reporting::report::{flows_of, stats_of};
use crate::daemon::threads::ThreadKind;
use crate::daemon::Daemon;
use crate::graph::{cytoscape, Picture};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch, Semaphore};

/// What a scrape of `/metrics` returns; it runs on a blocking thread.
pub type Exposition = Arc<dyn Fn() -> String + Send + Sync>;

/// Answers that take work, computed at once; more wait their turn.
pub const MAX_HEAVY: usize = 2;

/// Flows one `/api/flows` answer holds at most: the most recently active.
pub const MAX_FLOWS: usize = 1000;

/// Event streams (pages open) served at once; one more is answered 503.
pub const MAX_VIEWERS: usize = 16;

/// The daemon's metrics, as `vnetd stats` counts them, and the HTTP
/// listeners' own counters.
pub fn daemon_exposition(daemon: Arc<Daemon>, counters: Arc<HttpCounters>) -> Exposition {
    Arc::new(move || {
        daemon.faults().check(ThreadKind::Metrics);
        let mut text = render(&stats_of(&daemon));
        counters.render(&mut text);
        text
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

/// `/metrics` alone (`vnetd run --metrics`), for whom shows the token.
pub fn metrics_router(exposition: Exposition, gate: Gate) -> Router {
    metrics_only(exposition, gate.clone())
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "not found; the metrics are at /metrics\n",
            )
        })
        .layer(from_fn_with_state(gate, access::only_the_lab))
}

fn metrics_only(exposition: Exposition, gate: Gate) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route_layer(from_fn_with_state(gate, access::with_token))
        .with_state(exposition)
}

#[derive(Clone)]
struct Page {
    daemon: Arc<Daemon>,
    live: Arc<Live>,
    counters: Arc<HttpCounters>,
    heavy: Arc<Semaphore>,
    viewers: Arc<Semaphore>,
    /// The picture's answer for the generation it was made for.
    picture: Arc<Mutex<Option<(u64, Bytes)>>>,
    capture_buffers: Arc<download::Buffers>,
}

/// The live page and everything it reads, and `/metrics`
/// (`vnetd run --ui`).
pub fn page_router(daemon: Arc<Daemon>, live: Arc<Live>, gate: Gate) -> Router {
    let page = Page {
        daemon: daemon.clone(),
        live,
        counters: gate.counters.clone(),
        heavy: Arc::new(Semaphore::new(MAX_HEAVY)),
        viewers: Arc::new(Semaphore::new(MAX_VIEWERS)),
        picture: Arc::default(),
        capture_buffers: Arc::default(),
    };
    let api = Router::new()
        .route("/api/graph", get(graph))
        .route("/api/flows", get(flows))
        .route("/api/trace", get(trace))
        .route("/events", get(events))
        .route("/capture/{file}", get(capture))
        .route_layer(from_fn_with_state(gate.clone(), access::with_token))
        .with_state(page);
    let exposition = daemon_exposition(daemon, gate.counters.clone());
    assets::router()
        .merge(api)
        .merge(metrics_only(exposition, gate.clone()))
        .layer(from_fn_with_state(gate, access::only_the_lab))
}

/// Runs `work` on a blocking thread, at most [`MAX_HEAVY`] at once; a
/// panic closes the connection unanswered (and is counted there).
async fn off_thread<F>(page: &Page, work: F) -> Response
where
    F: FnOnce() -> Response + Send + 'static,
{
    let Ok(_turn) = page.heavy.clone().acquire_owned().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(response) => response,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

fn json_bytes(bytes: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// The picture, made once per generation and shared by every viewer.
async fn graph(State(page): State<Page>) -> Response {
    let (daemon, cache) = (page.daemon.clone(), page.picture.clone());
    off_thread(&page, move || {
        let snapshot = daemon.snapshot();
        let cached = cache.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some((_, bytes)) = cached.filter(|(g, _)| *g == snapshot.generation) {
            return json_bytes(bytes);
        }
        let answer = json!({
            "generation": snapshot.generation,
            "host": snapshot.topology.placement.local_name(),
            "elements": cytoscape::elements(&Picture::of(&snapshot)),
        });
        let Ok(text) = serde_json::to_vec(&answer) else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let bytes = Bytes::from(text);
        *cache.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((snapshot.generation, bytes.clone()));
        json_bytes(bytes)
    })
    .await
}

#[derive(Deserialize)]
struct FlowsQuery {
    nic: Option<String>,
}

/// The flows of a NIC (or all), the [`MAX_FLOWS`] most recently active;
/// `X-Total-Count` says how many there are.
async fn flows(State(page): State<Page>, Query(q): Query<FlowsQuery>) -> Response {
    let daemon = page.daemon.clone();
    off_thread(&page, move || {
        let mut flows = flows_of(&daemon, q.nic.as_deref());
        let total = flows.len();
        if total > MAX_FLOWS {
            flows.sort_by_key(|f| f.idle_ms);
            flows.truncate(MAX_FLOWS);
        }
        let mut response = Json(flows).into_response();
        response
            .headers_mut()
            .insert("x-total-count", HeaderValue::from(total));
        response
    })
    .await
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
    let daemon = page.daemon.clone();
    off_thread(&page, move || {
        let snapshot = daemon.snapshot();
        let protocol = q.protocol.filter(|p| !p.is_empty());
        let answer =
            crate::diagnostics::trace_words(&snapshot, &q.from, &q.to, protocol.as_deref(), q.port);
        match answer {
            Ok(trace) => Json(trace).into_response(),
            Err(e) => (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": e.message() })),
            )
                .into_response(),
        }
    })
    .await
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
    let asked = download::Asked {
        file,
        seconds: q.seconds,
        count: q.count,
        filter,
    };
    download::capture(
        page.daemon,
        page.live,
        page.counters,
        page.capture_buffers,
        asked,
    )
    .await
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

/// The feeds, to at most [`MAX_VIEWERS`] at once.
async fn events(State(page): State<Page>) -> Response {
    let Ok(viewer) = page.viewers.clone().try_acquire_owned() else {
        page.counters.refused(Refusal::Viewers);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            format!("{MAX_VIEWERS} pages are open on this lab already\n"),
        )
            .into_response();
    };
    let live = &page.live;
    let all = stream::select_all([
        watched(&live.graph, "graph"),
        watched(&live.state, "state"),
        watched(&live.rates, "rates"),
        dropped(live),
    ]);
    // The viewer's place is held as long as its stream.
    let held = all.map(move |event| {
        let _ = &viewer;
        event
    });
    let held: Events = held.boxed();
    Sse::new(held)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
