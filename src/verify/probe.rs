//! The probes of `vnetd verify`: real packets sent from inside the source's
//! namespace, and whether they were answered.
//!
//! - ICMP: the `ping` tool, one echo request from the source's address,
//!   waited for [`PING_WAIT_SECS`] seconds, tried [`PING_TRIES`] times; an
//!   ICMP error it prints (a router without a route) is kept.
//! - TCP: a connection from the source's address, given
//!   [`CONNECT_TIMEOUT`] to complete its handshake (a denied SYN vanishes
//!   in the fabric, so a Deny is a timeout); when the destination's server
//!   is one of verify's own listeners, one line must also come back.
//! - UDP: a datagram, tried [`UDP_TRIES`] times, each waiting
//!   [`UDP_WAIT`] for the echo.
//!
//! - DNS: the real `dig`, asking the servers the namespace's
//!   `resolv.conf` names (as the guest's own resolver does), waiting
//!   [`DIG_WAIT_SECS`] seconds, tried [`DIG_TRIES`] times: the answer's
//!   status and addresses.
//!
//! Every probe binds its socket before sending, so its source port is
//! known even when nothing answers: the fabric's flow records are found by
//! it. What came back ([`Seen`]: the answer, a reset, nothing, an error)
//! is the first half of a failure's reason line.

use crate::host::netns;
use crate::topology::ExpectedProtocol;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    /// The destination answered.
    pub answered: bool,
    /// The source port the probe's packets carried (TCP and UDP).
    pub source_port: Option<u16>,
    /// What came back, in more detail.
    pub seen: Seen,
}

/// What came back to a probe, for a failure's reason line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The answer asked for: an echo reply, the line back over TCP, a
    /// datagram back; or the completed handshake of a server of the
    /// user's.
    Answered,
    /// A TCP reset: the port is closed, and the path carried the SYN and
    /// its answer.
    Reset,
    /// A TCP reset from the fabric itself, which dropped the SYN (a NAT
    /// gateway resets connections it does not know).
    ResetByFabric,
    /// Nothing within the probe's wait.
    Nothing,
    /// An error came back instead (`Destination Net Unreachable from
    /// 172.20.0.1`), or the source's own kernel refused to send.
    Unreachable(String),
    /// The TCP connection opened, but the line sent did not come back.
    NoEcho,
    /// The TCP connection opened, and the request that named the
    /// destination (a TLS ClientHello's SNI, an HTTP Host) was refused:
    /// reset or closed unanswered, or answered `470` (Azure Firewall's
    /// application rules).
    RefusedByName(String),
}

impl Seen {
    /// What a probe of `protocol` to `to` saw, in words.
    pub fn describe(&self, protocol: ExpectedProtocol, to: SocketAddr) -> String {
        let target = match protocol {
            ExpectedProtocol::Icmp => to.ip().to_string(),
            _ => to.to_string(),
        };
        match (self, protocol) {
            (Seen::Answered, ExpectedProtocol::Icmp) => format!("an echo reply from {target}"),
            (Seen::Answered, ExpectedProtocol::Tcp) => {
                format!("the TCP connection to {target} opened and answered")
            }
            (Seen::Answered, ExpectedProtocol::Udp) => format!("an answer from {target}"),
            (Seen::ResetByFabric, _) => format!(
                "a TCP reset for {target} from the fabric, which dropped the SYN (a NAT \
                 gateway resets connections it does not know)"
            ),
            (Seen::Reset, _) => format!(
                "a TCP reset from {target} (no server on the port; the path carried the SYN and \
                 its answer)"
            ),
            (Seen::Nothing, ExpectedProtocol::Icmp) => format!(
                "no echo reply from {target} to {PING_TRIES} echo requests ({PING_WAIT_SECS} s each)"
            ),
            (Seen::Nothing, ExpectedProtocol::Tcp) => format!(
                "no answer to the TCP SYN to {target} within {} s (neither SYN-ACK nor reset)",
                CONNECT_TIMEOUT.as_secs()
            ),
            (Seen::Nothing, ExpectedProtocol::Udp) => format!(
                "no answer from {target} to {UDP_TRIES} datagrams ({} ms each)",
                UDP_WAIT.as_millis()
            ),
            (Seen::Unreachable(what), _) => format!("{what} (sending to {target})"),
            (Seen::RefusedByName(what), _) => format!(
                "the TCP connection to {target} opened, and the request for its name was {what}"
            ),
            (Seen::NoEcho, _) => format!(
                "the TCP connection to {target} opened, but the line sent did not come back \
                 within {} s",
                CONNECT_TIMEOUT.as_secs()
            ),
        }
    }
}

/// The ICMP errors `ping` printed (`From 172.20.0.1 icmp_seq=1
/// Destination Net Unreachable`), as `Destination Net Unreachable from
/// 172.20.0.1`.
fn ping_errors(stdout: &str) -> Option<String> {
    stdout.lines().find_map(|line| {
        let rest = line.strip_prefix("From ")?;
        let (from, rest) = rest.split_once(' ')?;
        let (_, what) = rest.split_once(' ')?;
        let what = what.trim();
        (!what.is_empty() && !what.starts_with("bytes")).then(|| format!("{what} from {from}"))
    })
}

/// One echo request at a time with the real `ping`, run in the source's
/// namespace, until one is answered.
pub fn ping(source: &Source, to: IpAddr) -> Result<Probed, String> {
    let mut seen = Seen::Nothing;
    for _ in 0..PING_TRIES {
        let out = Command::new("ip")
            .args(["netns", "exec", &source.netns, "ping", "-n", "-c", "1"])
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
                    seen: Seen::Answered,
                })
            }
            // 1: no answer (or an ICMP error, which ping prints); 2: the
            // kernel refused to send (no route from the namespace).
            Some(1) => {
                if let Some(error) = ping_errors(&String::from_utf8_lossy(&out.stdout)) {
                    seen = Seen::Unreachable(error);
                }
            }
            Some(2) => {
                let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
                seen = Seen::Unreachable(format!("the source's kernel refused to send: {why}"));
            }
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
        seen,
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
    let probed = |answered: bool, seen: Seen| Probed {
        answered,
        source_port: Some(port),
        seen,
    };
    if let Err((answered, seen)) = connect(&socket, to) {
        return Ok(probed(answered, seen));
    }
    if !expect_echo {
        return Ok(probed(true, Seen::Answered));
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
    Ok(match answered {
        true => probed(true, Seen::Answered),
        false => probed(false, Seen::NoEcho),
    })
}

/// Opens `socket`'s TCP connection to `to`; what the probe saw when it
/// did not open (a reset answers too).
fn connect(socket: &Socket, to: SocketAddr) -> Result<(), (bool, Seen)> {
    match socket.connect_timeout(&to.into(), CONNECT_TIMEOUT) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Err((true, Seen::Reset)),
        Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            Err((false, Seen::Nothing))
        }
        Err(e) => Err((false, Seen::Unreachable(e.to_string()))),
    }
}

/// A TCP connection from the source to `to` that asks for `name` as a
/// client of the port's usual protocol does: an HTTP request with `name`
/// as its Host on port 80, a TLS ClientHello with `name` as its SNI on
/// any other. Answered when the server answers (any HTTP status but 470,
/// any TLS record); refused when the connection is reset or closed
/// before an answer, or answered 470.
pub fn tcp_named(source: &Source, to: SocketAddr, name: &str) -> Result<Probed, String> {
    let (socket, port) = bound_socket(source, to, Type::STREAM)?;
    let probed = |answered: bool, seen: Seen| Probed {
        answered,
        source_port: Some(port),
        seen,
    };
    if let Err((answered, seen)) = connect(&socket, to) {
        return Ok(probed(answered, seen));
    }
    let http = to.port() == 80;
    let request = match http {
        true => format!(
            "GET / HTTP/1.1\r\nHost: {name}\r\nUser-Agent: vnetd-verify\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
        false => crate::host::request_name::client_hello(name)
            .ok_or_else(|| format!("`{name}` is not a name TLS can ask for"))?,
    };
    let mut stream: TcpStream = socket.into();
    let _ = stream.set_read_timeout(Some(CONNECT_TIMEOUT));
    let _ = stream.set_write_timeout(Some(CONNECT_TIMEOUT));
    if stream.write_all(&request).is_err() {
        return Ok(probed(false, Seen::RefusedByName("reset".into())));
    }
    let mut answer = [0u8; 64];
    let read = loop {
        match stream.read(&mut answer) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    Ok(match read {
        Ok(0) => probed(false, Seen::RefusedByName("closed unanswered".into())),
        Ok(n) if http && answer[..n].starts_with(b"HTTP/1.1 470") => {
            probed(false, Seen::RefusedByName("answered 470".into()))
        }
        Ok(_) => probed(true, Seen::Answered),
        Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            probed(false, Seen::NoEcho)
        }
        Err(_) => probed(false, Seen::RefusedByName("reset".into())),
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
                    seen: Seen::Answered,
                });
            }
        }
    }
    Ok(Probed {
        answered: false,
        source_port: Some(port),
        seen: Seen::Nothing,
    })
}

/// Seconds `dig` waits for each answer.
pub const DIG_WAIT_SECS: u32 = 2;
/// Times `dig` asks before it gives up.
pub const DIG_TRIES: u32 = 2;

/// What a DNS question got: its status as `dig` prints it (`NOERROR`,
/// `NXDOMAIN`, ...) and the addresses of its A and AAAA records, in the
/// answer's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigAnswer {
    pub status: String,
    pub addresses: Vec<IpAddr>,
}

/// Asks for `name`'s records of `query_type` (`A`, `AAAA`) with the real
/// `dig`, run in `netns`: of the servers its `resolv.conf` names, through
/// the fabric as the guest's own questions go.
pub fn dig(netns: &str, name: &str, query_type: &str) -> Result<DigAnswer, String> {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            netns,
            "dig",
            "+noall",
            "+comments",
            "+answer",
        ])
        .arg(format!("+time={DIG_WAIT_SECS}"))
        .arg(format!("+tries={DIG_TRIES}"))
        // `-q`: the name is the name, even one `dig` would read as an
        // option.
        .args(["-q", name, "-t", query_type])
        .output()
        .map_err(|e| format!("cannot run `ip netns exec ... dig`: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match (out.status.code(), read_dig(&stdout)) {
        (Some(0), Some(answer)) => Ok(answer),
        // 9: no server answered.
        (Some(9), _) => Err(format!(
            "no DNS server answered `dig {name} {query_type}` in namespace {netns} ({DIG_TRIES} \
             tries of {DIG_WAIT_SECS} s)"
        )),
        _ => Err(format!(
            "`dig {name} {query_type}` in namespace {netns} failed: {}{}",
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// The status and addresses of `dig +noall +comments +answer`'s output:
/// the header comment (`;; ->>HEADER<<- opcode: QUERY, status: NOERROR,
/// id: 4242`) and the answer's records (`name. 10 IN A 10.0.3.4`).
fn read_dig(stdout: &str) -> Option<DigAnswer> {
    let status = stdout.lines().find_map(|line| {
        let (_, rest) = line.split_once("status: ")?;
        Some(rest.split(',').next()?.trim().to_string())
    })?;
    let addresses = stdout
        .lines()
        .filter(|line| !line.starts_with(';'))
        .filter_map(
            |line| match line.split_whitespace().collect::<Vec<_>>()[..] {
                [_, _, "IN", "A" | "AAAA", data] => data.parse().ok(),
                _ => None,
            },
        )
        .collect();
    Some(DigAnswer { status, addresses })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digs_status_and_addresses_are_read_in_the_answers_order() {
        let out = ";; Got answer:\n\
                   ;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 4242\n\
                   ;; flags: qr rd ra; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 1\n\n\
                   ;; ANSWER SECTION:\n\
                   stcontoso.blob.core.windows.net. 300 IN CNAME stcontoso.privatelink.blob.core.windows.net.\n\
                   stcontoso.privatelink.blob.core.windows.net. 10 IN A 10.0.3.4\n\
                   stcontoso.privatelink.blob.core.windows.net. 10 IN A 10.0.3.5\n";
        assert_eq!(
            read_dig(out),
            Some(DigAnswer {
                status: "NOERROR".into(),
                addresses: vec!["10.0.3.4".parse().unwrap(), "10.0.3.5".parse().unwrap()],
            })
        );
        let missing = ";; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 7\n";
        assert_eq!(
            read_dig(missing),
            Some(DigAnswer {
                status: "NXDOMAIN".into(),
                addresses: Vec::new(),
            })
        );
        assert_eq!(read_dig(";; no servers could be reached\n"), None);
    }

    #[test]
    fn an_icmp_error_ping_printed_is_kept_with_its_sender() {
        let out = "PING 10.55.0.1 (10.55.0.1) 56(84) bytes of data.\n\
                   From 10.99.0.1 icmp_seq=1 Destination Net Unreachable\n\n\
                   --- 10.55.0.1 ping statistics ---\n";
        assert_eq!(
            ping_errors(out).as_deref(),
            Some("Destination Net Unreachable from 10.99.0.1")
        );
        let answered = "64 bytes from 10.2.1.4: icmp_seq=1 ttl=64 time=0.1 ms\n";
        assert_eq!(ping_errors(answered), None);
    }

    #[test]
    fn what_came_back_is_said_with_the_probes_wait() {
        let to: SocketAddr = "10.0.2.100:80".parse().unwrap();
        assert_eq!(
            Seen::Nothing.describe(ExpectedProtocol::Tcp, to),
            "no answer to the TCP SYN to 10.0.2.100:80 within 2 s (neither SYN-ACK nor reset)"
        );
        assert_eq!(
            Seen::Nothing.describe(ExpectedProtocol::Icmp, to),
            "no echo reply from 10.0.2.100 to 2 echo requests (2 s each)"
        );
        assert_eq!(
            Seen::Nothing.describe(ExpectedProtocol::Udp, to),
            "no answer from 10.0.2.100:80 to 3 datagrams (700 ms each)"
        );
        assert!(Seen::Reset
            .describe(ExpectedProtocol::Tcp, to)
            .starts_with("a TCP reset from 10.0.2.100:80"));
    }
}
