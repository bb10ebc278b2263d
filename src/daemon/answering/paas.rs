//! The PaaS resources behind Private Endpoints: in the namespace of each
//! endpoint's port on this machine, an HTTP server on port 80 that answers
//! every request with who it is and how it was reached (the resource, its
//! sub-resource, the endpoint, the address and port asked, and the
//! client's address), as `ifconfig.me`-style services do, so that `curl
//! http://stcontoso.blob.core.windows.net/` shows which way a name went.
//!
//! The emulated Internet's servers answer the same way, on each of their
//! ports in the Internet's namespace: their name, the address and port
//! asked, and the client's address as the server saw it (after the lab's
//! translations), the answer an `ifconfig.me` gives. So do the public
//! faces of the PaaS resources there, on port 80 of their public
//! addresses, after judging each request by the resource's network rules
//! as its service does (a refusal is the service's 403). Every other address the Internet holds answers HTTP on 80
//! the same way, from one default responder the namespace hands those
//! connections to (see [`crate::host::every_address`]), unless a server
//! of the user's own is bound to that address and port there.
//!
//! The PaaS resources answer HTTPS on 443 as well, with the same answer,
//! as Azure's services do: the certificate names the resource's public
//! name and its domain's wildcards, issued by the lab's CA (see
//! [`super::tls`]), so a VM's `curl https://acct.blob.core.windows.net/`
//! verifies and a wrong name does not. An Internet server listed on 443
//! answers TLS there, with its name and address on its certificate.
//!
//! Each server runs on the shared accept loop of
//! [`crate::host::listener`], with its bounds: a few connections at once, a
//! deadline for the request (the TLS handshake included) and for each
//! write, one request per connection.

use crate::daemon::forwarding::plane::Plane;
use crate::daemon::threads::{ThreadKind, ThreadPanics};
use crate::host::listener::{self, Arrival, Client, Limits};
use crate::host::netns;
use crate::host::tls::TlsAcceptor;
use crate::plan::ports::Servers;
use crate::topology::Topology;
use std::any::Any;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The port the responders listen on.
pub const HTTP_PORT: u16 = 80;

/// The port the responders answer HTTPS on.
pub const HTTPS_PORT: u16 = 443;

/// What a responder reads of a request at most: its head.
const MAX_REQUEST: usize = 8 << 10;

const LIMITS: Limits = Limits {
    connections: 16,
    per_caller: None,
    request: Duration::from_secs(2),
    write: Duration::from_secs(2),
    work_threads: 1,
};

/// What the responders met, for `stats` and the metrics.
#[derive(Debug, Default)]
pub struct PaasCounters {
    /// Requests answered.
    pub requests: AtomicU64,
    /// Connections refused (every slot taken) or cut (a client that took
    /// nothing of its answer).
    pub refused: AtomicU64,
    /// Endpoints whose server could not start (logged).
    pub failed: AtomicU64,
    /// The plane generation whose servers run: the responders were started
    /// (or found running) for it, and the DNS servers' counters are its.
    pub serving_generation: AtomicU64,
    /// How the DNS servers of the file's `dns_server` keys stand (the same
    /// thread runs them).
    pub dns_servers: super::dns_servers::DnsServerCounters,
    /// What the firewalls' proxies did with what their application rules
    /// judge (the same thread runs them).
    pub application_rules: Arc<super::firewall_proxy::ProxyCounters>,
}

/// What one responder says of itself: a PaaS resource behind a Private
/// Endpoint, or a server of the Internet.
#[derive(Debug, Clone)]
enum Identity {
    Paas {
        resource: String,
        sub_resource: &'static str,
        kind: &'static str,
        endpoint: String,
        public_name: String,
    },
    Internet {
        server: String,
    },
    /// A PaaS resource's public face, on the Internet: it judges each
    /// request by the resource's network rules in the lab's current
    /// snapshot.
    PaasPublic {
        public_name: String,
        current: Current,
    },
    /// Any other address of the Internet.
    InternetDefault,
}

impl Identity {
    fn of(topology: &Topology, endpoint: crate::topology::PrivateEndpointIdx) -> Identity {
        let pe = &topology.private_endpoints[endpoint];
        Identity::Paas {
            resource: pe.target.resource.clone(),
            sub_resource: pe.target.sub_resource.name,
            kind: pe.target.sub_resource.kind.as_str(),
            endpoint: pe.name.clone(),
            public_name: pe.target.public_name(),
        }
    }

    /// What the responder presents on HTTPS, reached at `address`: a
    /// PaaS resource's certificate, or an Internet server's.
    fn acceptor(
        &self,
        tls: &super::tls::LabTls,
        address: SocketAddr,
    ) -> anyhow::Result<TlsAcceptor> {
        match self {
            Identity::Paas { public_name, .. } | Identity::PaasPublic { public_name, .. } => {
                tls.paas_acceptor(public_name)
            }
            Identity::Internet { server } => tls.server_acceptor(server, address.ip()),
            // Every address, every name: a certificate for the name the
            // client asks, or for the address it reached without one.
            Identity::InternetDefault => tls.any_name_acceptor(),
        }
    }

    /// The name the responder's thread goes by.
    fn name(&self) -> &str {
        match self {
            Identity::Paas { endpoint, .. } => endpoint,
            Identity::Internet { server } => server,
            Identity::PaasPublic { public_name, .. } => public_name,
            Identity::InternetDefault => "internet",
        }
    }

    /// The answer's status and body for a client at `peer` that reached
    /// `local`: a public face judges the request as its service does
    /// ([`crate::policy::service_access`]).
    fn answer(&self, local: std::net::SocketAddr, peer: std::net::SocketAddr) -> (u16, String) {
        if let Identity::PaasPublic {
            public_name,
            current,
        } = self
        {
            if let Some(snapshot) = current.load_full() {
                return public_face_answer(&snapshot.topology, public_name, local, peer);
            }
        }
        (200, self.body(local, peer))
    }

    /// The answer's body for a client at `peer` that reached `local`.
    fn body(&self, local: std::net::SocketAddr, peer: std::net::SocketAddr) -> String {
        match self {
            Identity::Paas {
                resource,
                sub_resource,
                kind,
                endpoint,
                public_name,
            } => format!(
                "{resource} {sub_resource} ({kind}) through private endpoint {endpoint}\n\
                 reached at {local} from {peer}\n\
                 public name {public_name}\n"
            ),
            Identity::Internet { server } => format!(
                "{ip}\nInternet server {server} reached at {local} from {peer}\n",
                ip = peer.ip()
            ),
            Identity::PaasPublic { public_name, .. } => format!(
                "{public_name} through its public endpoint\n\
                 reached at {local} from {peer}\n"
            ),
            Identity::InternetDefault => format!(
                "{ip}\nthe Internet reached at {local} from {peer}\n",
                ip = peer.ip()
            ),
        }
    }
}

/// A public face's answer: the resource named `public_name` judges the
/// request from `peer` by its rules.
fn public_face_answer(
    topology: &Topology,
    public_name: &str,
    local: std::net::SocketAddr,
    peer: std::net::SocketAddr,
) -> (u16, String) {
    use crate::policy::service_access::{judge, refusal, Arrival};
    let resource =
        (topology.paas_resources.iter_enumerated()).find(|(_, r)| r.public_name() == public_name);
    let kind = resource.map(|(_, r)| r.kind).or_else(|| {
        (topology.private_endpoints.iter())
            .find(|pe| pe.target.public_name() == public_name)
            .map(|pe| pe.target.sub_resource.kind)
    });
    let Some(kind) = kind else {
        return (
            200,
            format!("{public_name} through its public endpoint\nreached at {local} from {peer}\n"),
        );
    };
    let arrival = Arrival::PublicFace { source: peer.ip() };
    let judged = judge(topology, kind, resource.map(|(i, _)| i), arrival);
    if !judged.allowed {
        return refusal(kind, public_name, peer.ip(), &judged.rule);
    }
    (
        200,
        format!(
            "{public_name} through its public endpoint\nreached at {local} from {peer}\n\
             allowed by {}\n",
            judged.rule.describe(topology)
        ),
    )
}

struct Responder {
    identity: Arc<Identity>,
    counters: Arc<PaasCounters>,
    /// HTTPS: the handshake first, with these certificates.
    tls: Option<TlsAcceptor>,
}

impl listener::Service<TcpStream> for Responder {
    async fn serve(&self, client: Client<TcpStream>) {
        let arrival = client.arrival();
        let (local, peer) = match (client.get_ref().local_addr(), client.get_ref().peer_addr()) {
            (Ok(local), Ok(peer)) => (local, peer),
            _ => return,
        };
        match &self.tls {
            None => self.answer(client, &arrival, local, peer).await,
            // A client that refuses the certificate (a wrong name) ends
            // here: the handshake failed.
            Some(acceptor) => {
                if let Ok(stream) = acceptor.accept(client, local.ip()).await {
                    self.answer(stream, &arrival, local, peer).await;
                }
            }
        }
    }

    async fn busy(&self, mut stream: TcpStream) {
        // An HTTPS client would read this as a broken handshake: closing is
        // all it can be told.
        if self.tls.is_none() {
            let _ = stream
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    }
}

impl Responder {
    /// Reads a request's head on `client` (plain or TLS) and answers it.
    async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut client: S,
        arrival: &Arrival,
        local: SocketAddr,
        peer: SocketAddr,
    ) {
        // The head: up to its blank line, or the limit.
        let mut head = Vec::with_capacity(1024);
        let mut chunk = [0u8; 1024];
        while head.len() < MAX_REQUEST && !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match client.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&chunk[..n]),
            }
        }
        arrival.mark();
        let (status, body) = self.identity.answer(local, peer);
        let reason = if status == 200 { "OK" } else { "Forbidden" };
        let answer = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\nServer: vnetd-paas\r\n\r\n{body}",
            body.len()
        );
        if client.write_all(answer.as_bytes()).await.is_ok() {
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
        }
        let _ = client.shutdown().await;
    }
}

struct ResponderEvents {
    counters: Arc<PaasCounters>,
    panics: Arc<ThreadPanics>,
}

impl listener::Events for ResponderEvents {
    fn accept_failed(&self, error: &std::io::Error) {
        tracing::warn!("a PaaS responder's accept failed: {error}");
    }

    fn refused_busy(&self) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
    }

    fn client_cut(&self) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
    }

    fn panicked(&self, payload: &(dyn Any + Send)) {
        self.panics.caught(
            ThreadKind::Services,
            "a PaaS responder's connection",
            payload,
        );
    }
}

/// A responder: its port's serial (unique for the lab's life: a port
/// rebuilt gets a new responder), its server (0 for a Private Endpoint,
/// the Internet server's position plus one, then the PaaS public faces
/// after the servers) and its TCP port.
type Key = (u32, u32, u16);

/// The lab's current snapshot, as the public faces judge by it: the rules
/// of a running lab changed by `apply` apply to the next request.
type Current = Arc<arc_swap::ArcSwapOption<crate::snapshot::Snapshot>>;

/// The responders running.
pub struct Responders {
    running: HashMap<Key, listener::Server>,
    /// Set by [`Responders::follow`] before any responder starts.
    current: Current,
    counters: Arc<PaasCounters>,
    panics: Arc<ThreadPanics>,
    tls: Arc<super::tls::LabTls>,
}

/// A responder the plane wants: where it listens and what it says.
struct Wanted<'a> {
    key: Key,
    netns: &'a str,
    address: SocketAddr,
    identity: Identity,
    /// HTTPS: a TLS handshake before the request.
    https: bool,
}

impl Responders {
    pub fn new(
        counters: Arc<PaasCounters>,
        panics: Arc<ThreadPanics>,
        tls: Arc<super::tls::LabTls>,
    ) -> Responders {
        Responders {
            running: HashMap::new(),
            current: Arc::new(arc_swap::ArcSwapOption::empty()),
            counters,
            panics,
            tls,
        }
    }

    /// Starts a responder for every Private Endpoint and Internet server
    /// port of this machine that has none, and stops those gone.
    pub fn follow(&mut self, plane: &Plane) {
        let snapshot = &plane.snapshot;
        self.current.store(Some(snapshot.clone()));
        let mut wanted: Vec<Wanted<'_>> = Vec::new();
        for (p, port) in snapshot.plan.ports.iter_enumerated() {
            let Some(serial) = plane.ports.get(p).map(|s| s.serial) else {
                continue;
            };
            if !snapshot.plan.is_local(p) {
                continue;
            }
            let netns = port.netns.as_str();
            match port.kind.servers() {
                Servers::PaasFace(endpoint) => {
                    for listen in [HTTP_PORT, HTTPS_PORT] {
                        wanted.push(Wanted {
                            key: (serial, 0, listen),
                            netns,
                            address: (Ipv4Addr::UNSPECIFIED, listen).into(),
                            identity: Identity::of(&snapshot.topology, endpoint),
                            https: listen == HTTPS_PORT,
                        });
                    }
                }
                Servers::Internet => {
                    let faces = crate::plan::ports::internet::paas_public_faces(&snapshot.topology);
                    let servers = snapshot.topology.edge.servers();
                    for (i, (address, public_name)) in faces.into_iter().enumerate() {
                        if servers.iter().any(|s| s.address == address) {
                            continue;
                        }
                        for listen in [HTTP_PORT, HTTPS_PORT] {
                            wanted.push(Wanted {
                                key: (serial, (servers.len() + 1 + i) as u32, listen),
                                netns,
                                address: (address, listen).into(),
                                identity: Identity::PaasPublic {
                                    public_name: public_name.clone(),
                                    current: self.current.clone(),
                                },
                                https: listen == HTTPS_PORT,
                            });
                        }
                    }
                    // The default answers, one listener per port and
                    // family the namespace hands them to.
                    let v6 = port.ip_configurations.iter().any(|c| c.address.is_ipv6());
                    let loopbacks = std::iter::once(IpAddr::from(Ipv4Addr::LOCALHOST))
                        .chain(v6.then_some(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)));
                    for (family, loopback) in loopbacks.enumerate() {
                        let defaults = crate::plan::ports::internet::DEFAULT_ANSWERS;
                        for (asked, listen) in defaults {
                            wanted.push(Wanted {
                                key: (serial, u32::MAX - family as u32, listen),
                                netns,
                                address: (loopback, listen).into(),
                                identity: Identity::InternetDefault,
                                https: asked == HTTPS_PORT,
                            });
                        }
                    }
                    for (i, server) in servers.iter().enumerate() {
                        for &listen in &server.ports {
                            wanted.push(Wanted {
                                key: (serial, i as u32 + 1, listen),
                                netns,
                                address: (server.address, listen).into(),
                                identity: Identity::Internet {
                                    server: server.name.clone(),
                                },
                                https: listen == HTTPS_PORT,
                            });
                        }
                    }
                }
                Servers::None => {}
            }
        }
        self.running
            .retain(|key, _| wanted.iter().any(|w| w.key == *key));
        for want in wanted {
            if self.running.contains_key(&want.key) {
                continue;
            }
            let (key, netns, address) = (want.key, want.netns, want.address);
            match self.start_one(want) {
                Ok(server) => {
                    self.running.insert(key, server);
                }
                Err(error) => {
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("the responder at {address} in {netns} cannot start: {error:#}");
                }
            }
        }
    }

    fn start_one(&self, want: Wanted<'_>) -> anyhow::Result<listener::Server> {
        let tls = match want.https {
            true => Some(want.identity.acceptor(&self.tls, want.address)?),
            false => None,
        };
        // The default responder takes connections to addresses other than
        // its own: it is transparent (`IP_TRANSPARENT`), as `tproxy` needs.
        let transparent = matches!(want.identity, Identity::InternetDefault);
        let socket = netns::run_in(want.netns, || bind(want.address, transparent))?;
        socket.set_nonblocking(true)?;
        listener::Server::start::<tokio::net::TcpListener, _, _, _>(
            &format!("vnetd-paas-{}", want.identity.name()),
            socket,
            LIMITS,
            Responder {
                identity: Arc::new(want.identity),
                counters: self.counters.clone(),
                tls,
            },
            ResponderEvents {
                counters: self.counters.clone(),
                panics: self.panics.clone(),
            },
        )
    }

    /// Stops every responder.
    pub fn stop(&mut self) {
        self.running.clear();
    }
}

/// A listening socket at `address`; `transparent`: one that accepts
/// connections to any address handed to it (`IP_TRANSPARENT`).
fn bind(address: SocketAddr, transparent: bool) -> anyhow::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if transparent {
        if address.is_ipv4() {
            socket.set_ip_transparent_v4(true)?;
        } else {
            socket.set_ip_transparent_v6(true)?;
        }
    }
    socket.bind(&address.into())?;
    socket.listen(128)?;
    Ok(socket.into())
}
