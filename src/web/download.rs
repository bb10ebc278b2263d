//! The page's capture download: `GET /capture/NIC.pcapng?seconds=N&filter=EXPR&count=C`
//! streams what `vnetd capture NIC` would write, for N seconds (10 by
//! default, at most 300) or until C packets. A thread captures into a bounded channel whose
//! other end is the response body; when the browser goes away, the body
//! is dropped, the channel closes and the capture ends as a closed pipe
//! ends `vnetd capture`.

use super::live::Live;
use crate::daemon::Daemon;
use crate::host::capture::{CaptureLimit, CaptureSocket};
use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub const DEFAULT_SECONDS: u64 = 10;
pub const MAX_SECONDS: u64 = 300;

/// A `Write` whose bytes become chunks of a response body.
struct ChannelWriter(mpsc::Sender<std::io::Result<Bytes>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn refused(status: StatusCode, message: String) -> Response {
    (status, format!("{message}\n")).into_response()
}

/// Starts the capture of `file` (`NIC.pcapng`) and answers with its
/// stream, or says why not.
pub async fn capture(
    daemon: Arc<Daemon>,
    live: Arc<Live>,
    file: String,
    seconds: Option<u64>,
    count: Option<u64>,
    filter: Option<String>,
) -> Response {
    let Some(nic) = file.strip_suffix(".pcapng").map(str::to_string) else {
        return refused(
            StatusCode::NOT_FOUND,
            "captures are at /capture/NIC.pcapng".into(),
        );
    };
    let seconds = seconds.unwrap_or(DEFAULT_SECONDS).clamp(1, MAX_SECONDS);
    let snapshot = daemon.snapshot();
    let plan = &snapshot.plan;
    let Some(port) = plan.port_by_name(&nic).map(|i| plan.ports[i].clone()) else {
        return refused(
            StatusCode::NOT_FOUND,
            format!("no NIC named `{nic}` in the lab"),
        );
    };
    if !crate::host::netns::exists(&port.netns) {
        return refused(
            StatusCode::NOT_FOUND,
            format!("{nic} is placed on another host of the lab: capture it there"),
        );
    }
    let description = port.capture_description(&snapshot.topology);
    let (netns, interface) = (port.netns.clone(), port.interface.clone());
    let opened = tokio::task::spawn_blocking(move || {
        CaptureSocket::open(
            &netns,
            &interface,
            filter.as_deref(),
            &std::sync::atomic::AtomicBool::new(false),
        )
    })
    .await;
    let socket = match opened {
        Ok(Ok(socket)) => socket,
        Ok(Err(e)) => return refused(StatusCode::BAD_REQUEST, format!("{e:#}")),
        Err(_) => return refused(StatusCode::INTERNAL_SERVER_ERROR, "capture failed".into()),
    };
    let (sender, mut receiver) = mpsc::channel::<std::io::Result<Bytes>>(64);
    let limit = CaptureLimit {
        packets: count,
        duration: Some(Duration::from_secs(seconds)),
    };
    let interface = port.interface.clone();
    let started = std::thread::Builder::new()
        .name("vnetd-web-capture".into())
        .spawn(move || {
            let writer = std::io::BufWriter::new(ChannelWriter(sender));
            let _ = socket.write_pcapng(writer, &interface, &description, limit, &live.stop);
        });
    if started.is_err() {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "no thread for a capture".into(),
        );
    }
    let body = futures::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    (
        [
            (header::CONTENT_TYPE, "application/x-pcapng".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{nic}.pcapng\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}
