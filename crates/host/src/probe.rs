//! Health checks opened from inside a named network namespace, so that
//! their source is the namespace's own address: a TCP handshake, an HTTP
//! GET that must answer 200, or the same over TLS.
//!
//! Each check runs on a thread that has entered the namespace (see
//! [`netns::run_in`]): a socket belongs to the namespace it was created in,
//! and a process started from that thread is born in it. A check never
//! takes longer than its timeout (plus the cost of starting a thread or a
//! process), and every failure comes back as [`ProbeOutcome::Down`] with a
//! short reason, never as an error: a namespace that cannot be entered is
//! a failed check like any other.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::netns;

/// What a check asks of its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeKind {
    /// Healthy when the TCP handshake completes.
    Tcp,
    /// Healthy when `GET path` answers status 200.
    Http { path: String },
    /// As `Http`, over TLS; the certificate is not checked.
    Https { path: String },
}

/// One check: from inside `namespace`, against `target`, within `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthProbe {
    pub namespace: String,
    pub target: SocketAddr,
    pub kind: ProbeKind,
    pub timeout: Duration,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    Up,
    /// Why not, in a few words ("connection refused", "timed out",
    /// "HTTP 404").
    Down(String),
}

impl ProbeOutcome {
    pub fn is_up(&self) -> bool {
        matches!(self, ProbeOutcome::Up)
    }

    fn down(reason: impl Into<String>) -> ProbeOutcome {
        ProbeOutcome::Down(reason.into())
    }
}

/// What an HTTP(S) check sends as `User-Agent`.
pub const USER_AGENT: &str = "Load Balancer Agent";

/// The longest response head read while looking for the status line.
const MAX_STATUS_LINE: usize = 8 * 1024;

impl HealthProbe {
    /// Runs the check (blocking the caller for at most about `timeout`).
    pub fn run(&self) -> ProbeOutcome {
        let deadline = Instant::now() + self.timeout;
        let outcome = netns::run_in(&self.namespace, || {
            Ok(match &self.kind {
                ProbeKind::Tcp => connect(self.target, deadline).map(|_| ProbeOutcome::Up),
                ProbeKind::Http { path } => http_get(self.target, path, deadline),
                ProbeKind::Https { path } => Ok(https_get(self.target, path, self.timeout)),
            })
        });
        match outcome {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(reason)) => ProbeOutcome::Down(reason),
            Err(e) => ProbeOutcome::down(format!("{e:#}")),
        }
    }
}

/// The time left until `deadline`, or a timeout.
fn left(deadline: Instant) -> Result<Duration, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err("timed out".to_string())
    } else {
        Ok(left)
    }
}

/// A socket error in a few words.
fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::ConnectionReset => "connection reset".into(),
        ErrorKind::ConnectionAborted => "connection aborted".into(),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => "timed out".into(),
        ErrorKind::HostUnreachable => "host unreachable".into(),
        ErrorKind::NetworkUnreachable => "network unreachable".into(),
        ErrorKind::UnexpectedEof => "connection closed without an answer".into(),
        _ => e.to_string(),
    }
}

fn connect(target: SocketAddr, deadline: Instant) -> Result<TcpStream, String> {
    TcpStream::connect_timeout(&target, left(deadline)?).map_err(|e| reason(&e))
}

/// What goes in the `Host` header: the address, with the port unless it
/// is the scheme's default.
fn host_header(target: SocketAddr, default_port: u16) -> String {
    if target.port() == default_port {
        match target {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        }
    } else {
        target.to_string()
    }
}

/// `GET path` over plain HTTP/1.1 with `Connection: close`; up on status
/// 200 only.
fn http_get(target: SocketAddr, path: &str, deadline: Instant) -> Result<ProbeOutcome, String> {
    let mut stream = connect(target, deadline)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\nConnection: close\r\n\r\n",
        host_header(target, 80)
    );
    stream
        .set_write_timeout(Some(left(deadline)?))
        .map_err(|e| reason(&e))?;
    stream
        .write_all(request.as_bytes())
        .map_err(|e| reason(&e))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let line = loop {
        if let Some(end) = head.iter().position(|&b| b == b'\n') {
            break String::from_utf8_lossy(&head[..end]).trim_end().to_string();
        }
        if head.len() > MAX_STATUS_LINE {
            return Err("no HTTP status line".into());
        }
        stream
            .set_read_timeout(Some(left(deadline)?))
            .map_err(|e| reason(&e))?;
        match stream.read(&mut buf) {
            Ok(0) if head.is_empty() => return Err("connection closed without an answer".into()),
            Ok(0) => break String::from_utf8_lossy(&head).trim_end().to_string(),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(reason(&e)),
        }
    };
    Ok(status_outcome(&line))
}

/// Up for `HTTP/1.x 200 ...`; else down with the status, or with what was
/// wrong with the line.
fn status_outcome(status_line: &str) -> ProbeOutcome {
    let mut parts = status_line.split_whitespace();
    let version = parts.next().unwrap_or_default();
    let code = parts.next().and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(200) if version.starts_with("HTTP/") => ProbeOutcome::Up,
        Some(code) if version.starts_with("HTTP/") => ProbeOutcome::down(format!("HTTP {code}")),
        _ => ProbeOutcome::down("not an HTTP answer"),
    }
}

/// Exit codes of curl that name a reason (curl(1), "EXIT CODES").
fn curl_reason(code: i32) -> String {
    match code {
        6 => "could not resolve host".into(),
        // Refused or unreachable: curl does not always say which.
        7 => "could not connect".into(),
        28 => "timed out".into(),
        35 => "TLS handshake failed".into(),
        52 => "connection closed without an answer".into(),
        56 => "connection reset".into(),
        other => format!("curl failed (exit code {other})"),
    }
}

/// `GET path` over TLS, by curl started inside the namespace.
///
/// A real TLS exchange needs a TLS library; the crate links none, and
/// curl (installed wherever vnetd runs its tests) already speaks TLS the
/// way clients do. Started from a thread that has entered the namespace,
/// curl is born in it, so its connection leaves from the namespace's
/// address. The certificate is not checked (`--insecure`), as a load
/// balancer's HTTPS probe does not check it; proxies from the environment
/// are ignored (`--noproxy '*'`): the probe must reach the target itself.
fn https_get(target: SocketAddr, path: &str, timeout: Duration) -> ProbeOutcome {
    let url = format!("https://{target}{path}");
    let max_time = format!("{:.3}", timeout.as_secs_f64());
    let child = Command::new("curl")
        .args([
            "--insecure",
            "--silent",
            "--show-error",
            "--noproxy",
            "*",
            "--http1.1",
            "--user-agent",
            USER_AGENT,
            "--output",
            "/dev/null",
            "--write-out",
            "%{http_code}",
            "--max-time",
            &max_time,
            &url,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => return ProbeOutcome::down(format!("cannot run curl: {e}")),
    };
    // curl keeps to --max-time; a curl that does not is stopped a second
    // later.
    let deadline = Instant::now() + timeout + Duration::from_secs(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return ProbeOutcome::down("timed out");
            }
            Err(e) => return ProbeOutcome::down(format!("waiting for curl: {e}")),
        }
    };
    let (mut written, mut errors) = (String::new(), String::new());
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut written);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut errors);
    }
    match status.code() {
        // "Failed to connect": some builds of curl give the socket's own
        // words, others only "Couldn't connect to server".
        Some(7) if errors.contains("Connection refused") => {
            ProbeOutcome::down("connection refused")
        }
        Some(0) => match written.trim().parse::<u16>() {
            Ok(200) => ProbeOutcome::Up,
            Ok(code) => ProbeOutcome::down(format!("HTTP {code}")),
            Err(_) => ProbeOutcome::down("not an HTTP answer"),
        },
        Some(code) => ProbeOutcome::Down(curl_reason(code)),
        None => ProbeOutcome::down("curl was killed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_status_200_is_up() {
        let down = |why: &str| ProbeOutcome::Down(why.into());
        let cases = [
            ("HTTP/1.1 200 OK", ProbeOutcome::Up),
            ("HTTP/1.0 200", ProbeOutcome::Up),
            ("HTTP/1.1 404 Not Found", down("HTTP 404")),
            ("HTTP/1.1 204 No Content", down("HTTP 204")),
            ("SSH-2.0-OpenSSH_9.2", down("not an HTTP answer")),
            ("", down("not an HTTP answer")),
        ];
        for (status_line, outcome) in cases {
            assert_eq!(status_outcome(status_line), outcome, "{status_line:?}");
        }
    }

    #[test]
    fn the_host_header_drops_the_default_port() {
        let v4: SocketAddr = "10.0.1.4:80".parse().unwrap();
        assert_eq!(host_header(v4, 80), "10.0.1.4");
        let v4: SocketAddr = "10.0.1.4:8080".parse().unwrap();
        assert_eq!(host_header(v4, 80), "10.0.1.4:8080");
        let v6: SocketAddr = "[fd00::4]:443".parse().unwrap();
        assert_eq!(host_header(v6, 443), "[fd00::4]");
    }

    #[test]
    fn curl_exit_codes_read_as_reasons() {
        assert_eq!(curl_reason(7), "could not connect");
        assert_eq!(curl_reason(28), "timed out");
        assert_eq!(curl_reason(35), "TLS handshake failed");
        assert_eq!(curl_reason(99), "curl failed (exit code 99)");
    }

    #[test]
    fn a_namespace_that_does_not_exist_is_a_failed_check() {
        let probe = HealthProbe {
            namespace: "vnetd-no-such-namespace-for-probes".into(),
            target: "127.0.0.1:9".parse().unwrap(),
            kind: ProbeKind::Tcp,
            timeout: Duration::from_millis(200),
        };
        match probe.run() {
            ProbeOutcome::Down(reason) => assert!(reason.contains("opening network namespace")),
            ProbeOutcome::Up => panic!("a check in a missing namespace came up"),
        }
    }
}
