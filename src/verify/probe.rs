//! The probes of `vnetd verify`: real packets sent from inside the source's
//! namespace, and whether they were answered.
//!
//! - ICMP: the `ping` tool, one echo request from the source's address,
//!   waited for [`PING_WAIT_SECS`] seconds, tried [`PING_TRIES`] times.
//! - TCP: a connection from the source's address, given
//!   [`CONNECT_TIMEOUT`] to complete its handshake (a denied SYN vanishes
//!   in the fabric, so a Deny is a timeout); when the destination's server
//!   is one of verify's own listeners, one line must also come back.
//! - UDP: a datagram, tried [`UDP_TRIES`] times, each waiting
//!   [`UDP_WAIT`] for the echo.
//!
//! Every probe binds its socket before sending, so its source port is
//! known even when nothing answers: the fabric's flow records are found by
//! it.

use crate::host::netns;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

/// How long a TCP handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Seconds `ping` waits for each answer.
pub const PING_WAIT_SECS: u32 = 2;
/// Echo requests sent before ICMP counts as denied.
pub const PING_TRIES: usize = 2;
/// Datagrams sent before UDP counts as denied.
pub const UDP_TRIES: usize = 3;
/// How long each datagram waits for its echo.
pub const UDP_WAIT: Duration = Duration::from_millis(700);

/// Where a probe starts: a namespace and the address its packets carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub netns: String,
    pub address: IpAddr,
}

/// What a probe found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probed {
    /// The destination answered.
    pub answered: bool,
    /// The source port the probe's packets carried (TCP and UDP).
    pub source_port: Option<u16>,
}

/// One echo request at a time with the real `ping`, run in the source's
/// namespace, until one is answered.
pub fn ping(source: &Source, to: IpAddr) -> Result<Probed, String> {
    for _ in 0..PING_TRIES {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &source.netns,
                "ping",
                "-n",
                "-q",
                "-c",
                "1",
            ])
            .arg("-W")
            .arg(PING_WAIT_SECS.to_string())
            .arg("-I")
            .arg(source.address.to_string())
            .arg(to.to_string())
            .output()
            .map_err(|e| format!("cannot run `ip netns exec ... ping`: {e}"))?;
        match out.status.code() {
            Some(0) => {
                return Ok(Probed {
                    answered: true,
                    source_port: None,
                })
            }
            // 1: no answer; 2: the kernel refused to send (no route from
            // the namespace); anything else: ping could not run.
            Some(1 | 2) => {}
            _ => {
                return Err(format!(
                    "ping in namespace {} failed: {}",
                    source.netns,
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        }
    }
    Ok(Probed {
        answered: false,
        source_port: None,
    })
}

/// A socket of `kind` bound to the source's address inside its namespace,
/// with the port the kernel chose.
fn bound_socket(source: &Source, to: SocketAddr, kind: Type) -> Result<(Socket, u16), String> {
    let address = source.address;
    let protocol = if kind == Type::STREAM {
        Protocol::TCP
    } else {
        Protocol::UDP
    };
    netns::run_in(&source.netns, move || {
        let socket = Socket::new(Domain::for_address(to), kind, Some(protocol))?;
        socket.bind(&SocketAddr::new(address, 0).into())?;
        let port = socket
            .local_addr()?
            .as_socket()
            .map(|a| a.port())
            .ok_or_else(|| anyhow::anyhow!("the socket has no IP address"))?;
        Ok((socket, port))
    })
    .map_err(|e| {
        format!(
            "cannot open a socket at {} in namespace {}: {e:#}",
            source.address, source.netns
        )
    })
}

/// The line a TCP probe sends and expects back from verify's listener.
const LINE: &[u8] = b"vnetd verify\n";

/// A TCP connection from the source to `to`. Answered when the handshake
/// completes and, if `expect_echo` (verify's own listener serves `to`),
/// the line comes back; a refused connection (a reset: the fabric carried
/// the SYN and its answer) counts as answered too.
pub fn tcp(source: &Source, to: SocketAddr, expect_echo: bool) -> Result<Probed, String> {
    let (socket, port) = bound_socket(source, to, Type::STREAM)?;
    let source_port = Some(port);
    match socket.connect_timeout(&to.into(), CONNECT_TIMEOUT) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            return Ok(Probed {
                answered: true,
                source_port,
            })
        }
        Err(_) => {
            return Ok(Probed {
                answered: false,
                source_port,
            })
        }
    }
    if !expect_echo {
        return Ok(Probed {
            answered: true,
            source_port,
        });
    }
    let stream: TcpStream = socket.into();
    let _ = stream.set_read_timeout(Some(CONNECT_TIMEOUT));
    let _ = stream.set_write_timeout(Some(CONNECT_TIMEOUT));
    let mut echoed = Vec::new();
    let answered = (&stream).write_all(LINE).is_ok()
        && BufReader::new(&stream)
            .read_until(b'\n', &mut echoed)
            .is_ok()
        && echoed == LINE;
    Ok(Probed {
        answered,
        source_port,
    })
}

/// Datagrams from the source to `to` until one is answered: by its echo
/// when `expect_echo` (verify's own listener), else by any datagram back.
pub fn udp(source: &Source, to: SocketAddr, expect_echo: bool) -> Result<Probed, String> {
    let (socket, port) = bound_socket(source, to, Type::DGRAM)?;
    let socket: UdpSocket = socket.into();
    socket
        .connect(to)
        .and_then(|()| socket.set_read_timeout(Some(UDP_WAIT)))
        .map_err(|e| format!("cannot aim a UDP socket at {to}: {e}"))?;
    let mut buf = [0u8; 2048];
    for attempt in 0..UDP_TRIES {
        let payload = format!("vnetd verify {attempt}");
        if socket.send(payload.as_bytes()).is_err() {
            continue;
        }
        // Read until the wait is over: an echo of an earlier datagram
        // that arrives late still proves the path.
        while let Ok(n) = socket.recv(&mut buf) {
            if !expect_echo || buf[..n].starts_with(b"vnetd verify ") {
                return Ok(Probed {
                    answered: true,
                    source_port: Some(port),
                });
            }
        }
    }
    Ok(Probed {
        answered: false,
        source_port: Some(port),
    })
}
