//! The page's capture download: `GET /capture/NIC.pcapng?seconds=N&filter=EXPR&count=C`
//! streams what `vnetd capture NIC` would write, for N seconds (10 by
//! default, at most 300) or until C packets. A thread captures into a
//! bounded channel whose other end is the response body.
//!
//! Each capture is bounded whatever its reader does: at most
//! [`MAX_CAPTURES`] run at once (one more is answered 503), and the thread
//! waits at most until [`GRACE`] after the capture's end for a reader that
//! does not take what it captured, then ends the capture and counts it
//! cut; a reader that goes away (or is cut by the server's write
//! deadline) drops the body, the channel closes and the capture ends as a
//! closed pipe ends `vnetd capture`. The filter's compiler is called off
//! when the request goes away (its client closed the connection) before
//! the capture starts.

use super::counters::{HttpCounters, Refusal};
use super::live::Live;
use crate::daemon::Daemon;
use crate::host::capture::{CaptureLimit, CaptureSocket, FilterError, MAX_FILTER_LEN, SNAPLEN};
use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const DEFAULT_SECONDS: u64 = 10;
pub const MAX_SECONDS: u64 = 300;

/// Captures the page runs at once; each holds a thread and a packet
/// socket's buffer (8 MiB of kernel memory at most).
pub const MAX_CAPTURES: usize = 4;

/// How long after its end a capture may wait for its reader to take what
/// it captured.
pub const GRACE: Duration = Duration::from_secs(2);

/// Chunks (about one packet each) a capture holds for its reader.
const CHANNEL_CHUNKS: usize = 4;

/// The receive buffers of the captures, one per capture that may run at
/// once, made when first needed and kept: what a capture holds comes back
/// to the next, not to the allocator of a thread that is gone.
#[derive(Default)]
pub struct Buffers(Mutex<Vec<Vec<u8>>>);

impl Buffers {
    fn take(&self) -> Vec<u8> {
        let kept = self.0.lock().unwrap_or_else(|p| p.into_inner()).pop();
        kept.unwrap_or_else(|| vec![0u8; SNAPLEN])
    }

    fn give_back(&self, buffer: Vec<u8>) {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() < MAX_CAPTURES {
            kept.push(buffer);
        }
    }
}

/// What a capture download asked for.
pub struct Asked {
    /// `NIC.pcapng`.
    pub file: String,
    pub seconds: Option<u64>,
    pub count: Option<u64>,
    pub filter: Option<String>,
}

/// A `Write` whose bytes become chunks of a response body; a chunk the
/// reader has not made room for by `deadline` fails the write.
struct ChannelWriter {
    sender: flume::Sender<std::io::Result<Bytes>>,
    deadline: Instant,
    /// Set when the deadline passed with the reader still there.
    cut: bool,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let chunk = Ok(Bytes::copy_from_slice(buf));
        match self.sender.send_deadline(chunk, self.deadline) {
            Ok(()) => Ok(buf.len()),
            Err(flume::SendTimeoutError::Timeout(_)) => {
                self.cut = true;
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            Err(flume::SendTimeoutError::Disconnected(_)) => {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn refused(status: StatusCode, message: String) -> Response {
    (status, format!("{message}\n")).into_response()
}

/// Calls the filter's compiler off when dropped: the request went away.
struct CallOff(Arc<AtomicBool>);

impl Drop for CallOff {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A capture slot, given back when the capture's thread ends (or it never
/// started).
struct CapturePlace(Arc<HttpCounters>);

impl Drop for CapturePlace {
    fn drop(&mut self) {
        self.0.end_capture();
    }
}

/// Starts the capture asked for and answers with its stream, or says why
/// not.
pub async fn capture(
    daemon: Arc<Daemon>,
    live: Arc<Live>,
    counters: Arc<HttpCounters>,
    buffers: Arc<Buffers>,
    asked: Asked,
) -> Response {
    let Some(nic) = asked.file.strip_suffix(".pcapng").map(str::to_string) else {
        return refused(
            StatusCode::NOT_FOUND,
            "captures are at /capture/NIC.pcapng".into(),
        );
    };
    let seconds = asked
        .seconds
        .unwrap_or(DEFAULT_SECONDS)
        .clamp(1, MAX_SECONDS);
    // Refused before it takes a capture's place.
    if let Some(filter) = asked.filter.as_deref().filter(|f| f.len() > MAX_FILTER_LEN) {
        return refused(
            StatusCode::BAD_REQUEST,
            FilterError::TooLong(filter.len()).to_string(),
        );
    }
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
    if !counters.start_capture(MAX_CAPTURES) {
        counters.refused(Refusal::Captures);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            format!("{MAX_CAPTURES} captures are running on this lab already: try again when one has ended\n"),
        )
            .into_response();
    }
    let place = CapturePlace(counters.clone());
    let description = port.capture_description(&snapshot.topology);
    let (netns, interface) = (port.netns.clone(), port.interface.clone());
    // The request dropped (its client closed the connection, or the
    // server stops) calls the filter's compiler off.
    let called_off = Arc::new(AtomicBool::new(false));
    let _call_off = CallOff(called_off.clone());
    let filter = asked.filter;
    let opened = tokio::task::spawn_blocking(move || {
        CaptureSocket::open(&netns, &interface, filter.as_deref(), &called_off)
    })
    .await;
    let socket = match opened {
        Ok(Ok(socket)) => socket,
        Ok(Err(e)) => return filter_refused(&counters, &e),
        Err(_) => return refused(StatusCode::INTERNAL_SERVER_ERROR, "capture failed".into()),
    };
    let (sender, receiver) = flume::bounded::<std::io::Result<Bytes>>(CHANNEL_CHUNKS);
    let duration = Duration::from_secs(seconds);
    let limit = CaptureLimit {
        packets: asked.count,
        duration: Some(duration),
    };
    let interface = port.interface.clone();
    let deadline = Instant::now() + duration + GRACE;
    let started = std::thread::Builder::new()
        .name("vnetd-web-capture".into())
        .spawn(move || {
            let mut writer = ChannelWriter {
                sender,
                deadline,
                cut: false,
            };
            let mut buffer = buffers.take();
            let _ = socket.write_pcapng(
                &mut buffer,
                std::io::BufWriter::new(&mut writer),
                &interface,
                &description,
                limit,
                &live.stop,
            );
            buffers.give_back(buffer);
            if writer.cut {
                place.0.capture_cut();
            }
            drop(socket);
            drop(place);
        });
    if started.is_err() {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "no thread for a capture".into(),
        );
    }
    let body = receiver.into_stream();
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

/// Why a capture could not be opened, as an answer: the filter's fault
/// (400), no compiler free (503), or the capture's (500).
fn filter_refused(counters: &HttpCounters, error: &anyhow::Error) -> Response {
    let status = match error.downcast_ref::<FilterError>() {
        Some(FilterError::Busy) => {
            counters.refused(Refusal::Filters);
            StatusCode::SERVICE_UNAVAILABLE
        }
        Some(FilterError::Failed(_)) => StatusCode::INTERNAL_SERVER_ERROR,
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::BAD_REQUEST,
    };
    refused(status, format!("{error:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that takes nothing holds the writer until the deadline,
    /// not longer; one that went away fails it at once.
    #[test]
    fn a_capture_waits_for_its_reader_until_the_deadline_only() {
        let (sender, receiver) = flume::bounded(1);
        let wait = Duration::from_millis(300);
        let mut writer = ChannelWriter {
            sender,
            deadline: Instant::now() + wait,
            cut: false,
        };
        writer.write_all(b"first").unwrap();
        let started = Instant::now();
        let full = writer.write_all(b"second").unwrap_err();
        assert_eq!(full.kind(), std::io::ErrorKind::BrokenPipe);
        assert!(writer.cut);
        let waited = started.elapsed();
        // The deadline, give or take the scheduler.
        let slack = Duration::from_millis(150);
        assert!(
            waited + slack >= wait && waited <= wait + slack,
            "{waited:?}"
        );
        assert_eq!(
            receiver.try_recv().unwrap().unwrap(),
            Bytes::from_static(b"first")
        );
        drop(receiver);
        let mut writer = ChannelWriter {
            cut: false,
            ..writer
        };
        let started = Instant::now();
        let gone = writer.write_all(b"third").unwrap_err();
        assert_eq!(gone.kind(), std::io::ErrorKind::BrokenPipe);
        assert!(!writer.cut, "a reader gone is not a capture cut");
        assert!(started.elapsed() < Duration::from_millis(100));
    }
}
