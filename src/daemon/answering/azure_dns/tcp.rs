//! Azure DNS over TCP: an answer too long for UDP comes truncated, and the
//! asker asks again over TCP on the same address. Every answering address
//! (168.63.129.16 of each VNet, each inbound endpoint, each firewall's DNS
//! proxy) is served by one server of the shared listener
//! ([`crate::host::listener`]) on a thread of its own. Each connection is
//! given [`TCP_DEADLINE`] for its question, gets one answer, and is
//! closed.
//!
//! Connections are bounded twice, by the listener, and what each bound
//! refuses is closed at once and counted: at most [`MAX_TCP_PER_SOURCE`]
//! from one source address to one answering address (so that one VM
//! holding connections open leaves TCP DNS to the rest of its VNet;
//! [`DnsCounters::tcp_refused_per_source`]), and at most [`MAX_TCP`] in
//! all ([`DnsCounters::tcp_refused_at_capacity`]). A source over its share
//! is refused as such however many the others hold. Azure publishes
//! neither figure: they are vnetd's.
//!
//! A question a forwarding rule takes is forwarded over TCP, as Azure's
//! resolver does with a question that came over TCP: from the first of
//! the ruleset's outbound endpoints on this machine (a connection opened
//! in its namespace, from its address) to the rule's targets in turn, each
//! given [`FORWARD_TIMEOUT`] to answer (a target that refuses the
//! connection or closes it without an answer is given up at once). The
//! target's answer is relayed whole on the asker's connection, after the
//! CNAMEs followed before the rule; no answer from any target is SERVFAIL,
//! as over UDP. Each target asked counts in [`DnsCounters::forwarded`],
//! each that did not answer in [`DnsCounters::forward_timeouts`]. A
//! forwarding loop over TCP (a ruleset forwarding to its own resolver's
//! inbound endpoint) holds one connection per turn, each from the
//! outbound endpoint's address to the inbound endpoint: the per-source
//! bound refuses the turn past [`MAX_TCP_PER_SOURCE`], and SERVFAIL
//! unwinds the loop.

use super::counters::{count, DnsCounters};
use super::in_flight::FORWARD_TIMEOUT;
use crate::daemon::forwarding::plane::PublishedPlane;
use crate::daemon::threads::{ThreadKind, ThreadPanics};
use crate::host::listener::{self, Accepting, Client, Limits};
use crate::host::netns;
use crate::names::{forward_query, relay_tcp, Forwarded, Outcome};
use crate::topology::{ResolverIdx, VnetIdx};
use arc_swap::ArcSwap;
use std::any::Any;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// TCP connections one source address holds at once on one answering
/// address (168.63.129.16 of a VNet, or an inbound endpoint); one more is
/// closed at once and counted ([`DnsCounters::tcp_refused_per_source`]).
/// A resolver rarely holds more than a few: each connection carries one
/// question, answered at once.
pub const MAX_TCP_PER_SOURCE: usize = 16;

/// TCP connections served at once, all answering addresses together; one
/// more is closed at once and counted
/// ([`DnsCounters::tcp_refused_at_capacity`]). Sixteen sources' full
/// shares: with the control socket's and the HTTP server's 64 each, well
/// inside the 1,024 open files the daemon keeps beyond its TUN queues
/// (a forwarded question holds one more while its target is asked).
pub const MAX_TCP: usize = 16 * MAX_TCP_PER_SOURCE;

/// How long a TCP asker has to send its question, and a write of its
/// answer may wait on an asker that takes none of it.
pub const TCP_DEADLINE: Duration = Duration::from_secs(2);

const LIMITS: Limits = Limits {
    connections: MAX_TCP,
    per_caller: Some(MAX_TCP_PER_SOURCE),
    request: TCP_DEADLINE,
    write: TCP_DEADLINE,
    // Opening a connection in an outbound endpoint's namespace.
    work_threads: 2,
};

/// Where forwarded questions leave from: an outbound endpoint of this
/// machine, its namespace and address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Departure {
    pub(super) endpoint: (ResolverIdx, usize),
    pub(super) netns: Arc<str>,
    pub(super) address: IpAddr,
}

/// What every answering address's service shares.
struct Shared {
    plane: Arc<PublishedPlane>,
    counters: Arc<DnsCounters>,
    departures: ArcSwap<Vec<Departure>>,
}

/// The server that takes Azure DNS's TCP connections, on every answering
/// address.
pub(super) struct TcpServer {
    server: listener::Server,
    shared: Arc<Shared>,
}

impl TcpServer {
    /// Starts the server, with no address yet: it answers from `plane`,
    /// counts in `counters`, and a panic serving a connection is counted
    /// in `panics` (the connection closed).
    pub(super) fn start(
        plane: Arc<PublishedPlane>,
        counters: Arc<DnsCounters>,
        panics: Arc<ThreadPanics>,
    ) -> anyhow::Result<TcpServer> {
        let events = TcpEvents {
            counters: counters.clone(),
            panics,
        };
        Ok(TcpServer {
            server: listener::Server::idle("vnetd-azure-dns-tcp", LIMITS, events)?,
            shared: Arc::new(Shared {
                plane,
                counters,
                departures: ArcSwap::from_pointee(Vec::new()),
            }),
        })
    }

    /// Answers on `socket` (a non-blocking listening socket) as Azure DNS
    /// of `view`, until the [`Accepting`] returned is dropped.
    pub(super) fn listen(
        &self,
        view: VnetIdx,
        socket: std::net::TcpListener,
    ) -> anyhow::Result<Accepting> {
        let answering = Answering {
            view,
            shared: self.shared.clone(),
        };
        self.server
            .listen::<tokio::net::TcpListener, _, _>(socket, answering)
    }

    /// The outbound endpoints forwarded questions leave from now.
    pub(super) fn leave_from(&self, departures: Vec<Departure>) {
        if **self.shared.departures.load() != departures {
            self.shared.departures.store(Arc::new(departures));
        }
    }
}

/// One answering address's service: Azure DNS of `view`.
struct Answering {
    view: VnetIdx,
    shared: Arc<Shared>,
}

impl listener::Service<TcpStream> for Answering {
    async fn serve(&self, mut client: Client<TcpStream>) {
        let Some(query) = read_message(&mut client).await else {
            return;
        };
        client.arrival().mark();
        let counters = &self.shared.counters;
        count(&counters.queries);
        let mut out = Vec::new();
        let outcome =
            (self.shared.plane.load().snapshot.names).answer_tcp(self.view, &query, &mut out);
        match outcome {
            Outcome::Answered(_) => {}
            Outcome::Malformed => {
                count(&counters.malformed);
                return;
            }
            Outcome::Forward(forwarded) => {
                if !self.shared.forward(&query, &forwarded, &mut out).await {
                    return;
                }
            }
        }
        match write_message(&mut client, &out).await {
            Ok(()) => count(&counters.answers),
            Err(_) => count(&counters.send_failed),
        }
        let _ = client.shutdown().await;
    }

    /// A connection past a bound is closed at once (the listener counted
    /// it).
    async fn busy(&self, _: TcpStream) {}
}

impl Shared {
    /// Forwards `query` (the asker's, which `forwarded` says a rule takes)
    /// over TCP to the rule's targets in turn, and writes the answer to
    /// relay into `out`: the first target's that answers, or SERVFAIL.
    /// False when there is nothing to send.
    async fn forward(&self, query: &[u8], forwarded: &Forwarded, out: &mut Vec<u8>) -> bool {
        let departure = {
            let departures = self.departures.load();
            (forwarded.forward.outbound.iter())
                .find_map(|e| departures.iter().find(|d| d.endpoint == *e).cloned())
        };
        let mut upstream = None;
        let mut question = Vec::new();
        // The target is asked with the asker's id: the connection is the
        // question's alone.
        let id = query
            .get(..2)
            .map_or(0, |id| u16::from_be_bytes([id[0], id[1]]));
        if let Some(from) = departure.filter(|_| forward_query(forwarded, id, &mut question)) {
            for &target in &forwarded.forward.targets {
                count(&self.counters.forwarded);
                match tokio::time::timeout(FORWARD_TIMEOUT, ask(&from, target, &question)).await {
                    Ok(Ok(answer)) => {
                        upstream = Some(answer);
                        break;
                    }
                    _ => count(&self.counters.forward_timeouts),
                }
            }
        }
        matches!(
            relay_tcp(query, forwarded, upstream.as_deref(), out),
            Outcome::Answered(_)
        )
    }
}

/// Asks `target` the framed-to-be `question` over a TCP connection from
/// the outbound endpoint `from`; its answer (the message without its
/// length), which must carry the question's id.
async fn ask(from: &Departure, target: SocketAddr, question: &[u8]) -> anyhow::Result<Vec<u8>> {
    let (netns, source) = (from.netns.clone(), from.address);
    let socket = tokio::task::spawn_blocking(move || {
        netns::run_in(&netns, || {
            let domain = socket2::Domain::for_address(target);
            let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
            socket.set_nonblocking(true)?;
            if source.is_ipv4() == target.is_ipv4() {
                socket.bind(&SocketAddr::new(source, 0).into())?;
            }
            Ok(std::net::TcpStream::from(socket))
        })
    })
    .await??;
    let socket = tokio::net::TcpSocket::from_std_stream(socket);
    let mut stream = socket.connect(target).await?;
    write_message(&mut stream, question).await?;
    let answer = read_message(&mut stream)
        .await
        .ok_or_else(|| anyhow::anyhow!("{target} closed without an answer"))?;
    anyhow::ensure!(
        answer.get(..2) == question.get(..2),
        "{target} answered another question"
    );
    Ok(answer)
}

/// One DNS message over TCP: its two-byte length, then itself. `None`
/// when the connection ends (or its deadline passes) first.
async fn read_message(stream: &mut (impl AsyncRead + Unpin)) -> Option<Vec<u8>> {
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).await.ok()?;
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut message).await.ok()?;
    Some(message)
}

/// Writes `message` with its two-byte length, in one write.
async fn write_message(
    stream: &mut (impl AsyncWrite + Unpin),
    message: &[u8],
) -> std::io::Result<()> {
    let length = u16::try_from(message.len())
        .map_err(|_| std::io::Error::other("longer than a DNS message over TCP"))?;
    let mut framed = Vec::with_capacity(2 + message.len());
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(message);
    stream.write_all(&framed).await
}

/// What the listener tells of Azure DNS's connections.
struct TcpEvents {
    counters: Arc<DnsCounters>,
    panics: Arc<ThreadPanics>,
}

impl listener::Events for TcpEvents {
    fn accept_failed(&self, error: &std::io::Error) {
        tracing::warn!("Azure DNS's TCP accept failed: {error}");
    }

    fn refused_busy(&self) {
        count(&self.counters.tcp_refused_at_capacity);
    }

    fn refused_per_caller(&self) {
        count(&self.counters.tcp_refused_per_source);
    }

    // The write then fails, and is counted as an answer not sent.
    fn client_cut(&self) {}

    fn panicked(&self, payload: &(dyn Any + Send)) {
        self.panics
            .caught(ThreadKind::AzureDns, "an Azure DNS TCP connection", payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_goes_with_its_length_and_a_cut_one_is_none() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut framed = Vec::new();
            write_message(&mut framed, b"question").await.unwrap();
            assert_eq!(framed, b"\0\x08question");
            assert_eq!(
                read_message(&mut framed.as_slice()).await.as_deref(),
                Some(&b"question"[..])
            );
            assert_eq!(read_message(&mut &framed[..9]).await, None);
            assert_eq!(read_message(&mut &framed[..1]).await, None);
            let too_long = vec![0u8; 65_536];
            assert!(write_message(&mut Vec::new(), &too_long).await.is_err());
        });
    }
}
