//! Azure Firewall's application rules, judged where Azure judges them: in
//! the firewall, on the name a request asks for. The firewall's namespace
//! hands its proxy every TCP connection its network rules do not forward
//! as it is and an application rule may take (see
//! [`crate::host::intercept`] and the network stage's
//! [`APPLICATION_RULES`](crate::policy::firewall::APPLICATION_RULES)
//! verdict); the proxy reads the first bytes the client sends (a TLS
//! ClientHello's SNI, an HTTP request's `Host`), judges them by the
//! policy's application rules in the lab's current snapshot, and then:
//!
//! - allowed: opens its own connection from the firewall's namespace to
//!   the address and port the client asked (so the firewall translates
//!   the source, as Azure's "application rules are always SNATed"), sends
//!   on what the client sent, and relays both ways until either side
//!   closes;
//! - denied, HTTP: answers `470` with Azure's text ("Action: Deny. Reason:
//!   No rule matched. Proceeding with default action.", or the rule that
//!   denied) and closes;
//! - denied, TLS (or bytes that name nothing): resets the connection, as a
//!   firewall without TLS inspection cannot answer inside TLS.
//!
//! Each judgement is logged as Azure Firewall's application rule log
//! (`AZFWApplicationRule`) and counted. Every caller is bounded: the
//! shared accept loop's connections and deadlines, a few connections per
//! client address, and a deadline for the onward connection.

use crate::daemon::forwarding::firewall_log::{self, FirewallLog};
use crate::daemon::forwarding::plane::Plane;
use crate::daemon::threads::{ThreadKind, ThreadPanics};
use crate::host::listener::{self, Client, Limits};
use crate::host::netns;
use crate::host::request_name::{self, Asked, MAX_START};
use crate::topology::{Access, ApplicationProtocol, FirewallIdx, Topology};
use std::any::Any;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMITS: Limits = Limits {
    connections: 512,
    per_caller: None,
    // The client's first bytes (its ClientHello or request head).
    request: Duration::from_secs(10),
    // A client that takes nothing of what the server sends for this long
    // is cut.
    write: Duration::from_secs(60),
    work_threads: 2,
};

/// Connections one client address may hold through the proxy at once.
const PER_CLIENT: usize = 64;

/// How long the onward connection may take to open.
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);

/// What the proxies did, for `stats` and the metrics.
#[derive(Debug, Default)]
pub struct ProxyCounters {
    /// Requests an application rule allowed, relayed onward.
    pub allowed: AtomicU64,
    /// Requests denied (a rule's Deny, or no rule: the default action).
    pub denied: AtomicU64,
    /// Allowed requests whose onward connection failed.
    pub unreachable: AtomicU64,
    /// Connections refused: every slot, or the client's share, taken.
    pub refused: AtomicU64,
    /// Proxies that could not start (logged).
    pub failed: AtomicU64,
}

/// One request as the application rules judged it: what the log records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub protocol: ApplicationProtocol,
    /// The name asked (SNI or Host); empty when none was.
    pub fqdn: String,
    pub action: Access,
    /// The policy, group, collection and rule; `None`: the default action.
    pub rule: Option<(String, String, String, String)>,
    /// The web category the match came through, if any.
    pub web_category: Option<String>,
}

impl Judged {
    /// Azure's words for a denial, as its `470` page and its log's
    /// `ActionReason` say them.
    pub fn deny_text(&self) -> String {
        match &self.rule {
            None => {
                "Action: Deny. Reason: No rule matched. Proceeding with default action.".to_string()
            }
            Some((policy, group, collection, rule)) => format!(
                "Action: Deny. Policy: {policy}. Rule Collection Group: {group}. Rule Collection: \
                 {collection}. Rule: {rule}"
            ),
        }
    }
}

/// How the application rules of `firewall` judge a request from `source`
/// to `destination` that asked for `asked`.
pub fn judge(
    topology: &Topology,
    firewall: FirewallIdx,
    source: SocketAddr,
    destination: SocketAddr,
    asked: &Asked,
) -> Judged {
    let fw = &topology.firewalls[firewall];
    let (protocol, name) = match asked {
        Asked::Tls(name) => (ApplicationProtocol::Https, name.clone()),
        Asked::Http(name) => (ApplicationProtocol::Http, name.clone()),
        Asked::Other => (protocol_by_port(destination.port()), None),
    };
    let fqdn = name.unwrap_or_default();
    let found = (!fqdn.is_empty())
        .then(|| {
            crate::policy::firewall::judge_application(
                topology,
                fw,
                source.ip(),
                protocol,
                destination.port(),
                &fqdn,
            )
        })
        .flatten();
    let policy = crate::policy::firewall::rules_owner(topology, fw).to_string();
    Judged {
        source,
        destination,
        protocol,
        action: found.map_or(Access::Deny, |r| r.action),
        rule: found.map(|r| {
            (
                policy,
                r.place.group.clone(),
                r.place.collection.clone(),
                r.name.clone(),
            )
        }),
        web_category: found.and_then(|r| web_category(topology, r, &fqdn)),
        fqdn,
    }
}

/// What a connection that named nothing is taken for: its port's usual
/// protocol.
fn protocol_by_port(port: u16) -> ApplicationProtocol {
    match port {
        80 => ApplicationProtocol::Http,
        1433 => ApplicationProtocol::Mssql,
        _ => ApplicationProtocol::Https,
    }
}

/// The web category of `rule` that `fqdn` falls in, if any.
fn web_category(
    topology: &Topology,
    rule: &crate::topology::ApplicationRule,
    fqdn: &str,
) -> Option<String> {
    (topology.web_categories.iter())
        .filter(|s| {
            rule.web_categories
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&s.name))
        })
        .find(|s| s.fqdns.iter().any(|f| f.matches(fqdn)))
        .map(|s| s.name.clone())
}

/// The lab's plane, whose current snapshot each connection is judged by:
/// the rules of a running lab changed by `apply` apply to the next one.
type Current = Arc<crate::daemon::forwarding::plane::PublishedPlane>;

struct Proxy {
    firewall: FirewallIdx,
    netns: Arc<str>,
    current: Current,
    log: FirewallLog,
    counters: Arc<ProxyCounters>,
    per_client: Mutex<HashMap<IpAddr, usize>>,
}

/// A client's share of the proxy, given back when dropped.
struct Share<'a> {
    proxy: &'a Proxy,
    client: IpAddr,
}

impl Drop for Share<'_> {
    fn drop(&mut self) {
        let mut held = self
            .proxy
            .per_client
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.client);
            }
        }
    }
}

impl Proxy {
    fn counters(&self) -> &ProxyCounters {
        &self.counters
    }

    fn share(&self, client: IpAddr) -> Option<Share<'_>> {
        let mut held = self.per_client.lock().unwrap_or_else(|e| e.into_inner());
        let n = held.entry(client).or_insert(0);
        if *n >= PER_CLIENT {
            return None;
        }
        *n += 1;
        Some(Share {
            proxy: self,
            client,
        })
    }

    /// Opens the onward connection to `destination` from the firewall's
    /// namespace, from `source` (its first instance address: "application
    /// rules are always SNATed", and towards the Internet the firewall's
    /// translation makes it its public address).
    async fn connect(&self, source: IpAddr, destination: SocketAddr) -> anyhow::Result<TcpStream> {
        let ns = self.netns.clone();
        let socket = tokio::task::spawn_blocking(move || {
            netns::run_in(&ns, || {
                let domain = socket2::Domain::for_address(destination);
                let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
                socket.set_nonblocking(true)?;
                if source.is_ipv4() == destination.is_ipv4() {
                    socket.bind(&SocketAddr::new(source, 0).into())?;
                }
                Ok(std::net::TcpStream::from(socket))
            })
        })
        .await??;
        let socket = tokio::net::TcpSocket::from_std_stream(socket);
        let stream = tokio::time::timeout(CONNECT_DEADLINE, socket.connect(destination)).await??;
        Ok(stream)
    }
}

impl listener::Service<TcpStream> for Proxy {
    async fn serve(&self, mut client: Client<TcpStream>) {
        // Accepted through `tproxy`: its local address is the one the
        // client asked for.
        let (destination, source) =
            match (client.get_ref().local_addr(), client.get_ref().peer_addr()) {
                (Ok(local), Ok(peer)) => (local, peer),
                _ => return,
            };
        let Some(_share) = self.share(source.ip()) else {
            self.counters().refused.fetch_add(1, Ordering::Relaxed);
            reset(&client);
            return;
        };
        let mut start = Vec::with_capacity(2048);
        let asked = loop {
            if let Some(asked) = request_name::read(&start) {
                break asked;
            }
            let mut chunk = [0u8; 2048];
            match client.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => start.extend_from_slice(&chunk[..n.min(MAX_START - start.len())]),
            }
        };
        client.arrival().mark();
        let snapshot = self.current.load_full().snapshot.clone();
        let judged = judge(
            &snapshot.topology,
            self.firewall,
            source,
            destination,
            &asked,
        );
        let path = match asked {
            Asked::Http(_) => request_name::http_path(&start),
            _ => None,
        };
        let row = log_row(&judged, path.as_deref());
        self.log
            .append(&snapshot.topology.firewalls[self.firewall].name, row);
        if judged.action == Access::Deny {
            self.counters().denied.fetch_add(1, Ordering::Relaxed);
            match asked {
                Asked::Http(_) => {
                    let body = judged.deny_text();
                    let answer = format!(
                        "HTTP/1.1 470 status code 470\r\nContent-Type: text/plain; charset=utf-8\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = client.write_all(answer.as_bytes()).await;
                    let _ = client.shutdown().await;
                }
                Asked::Tls(_) | Asked::Other => reset(&client),
            }
            return;
        }
        let source_address =
            crate::policy::firewall::dnat_source(&snapshot.topology.firewalls[self.firewall]);
        let mut onward = match self.connect(source_address, destination).await {
            Ok(stream) => stream,
            Err(error) => {
                self.counters().unreachable.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("the firewall's proxy cannot reach {destination}: {error:#}");
                reset(&client);
                return;
            }
        };
        self.counters().allowed.fetch_add(1, Ordering::Relaxed);
        if onward.write_all(&start).await.is_err() {
            return;
        }
        let _ = tokio::io::copy_bidirectional(&mut client, &mut onward).await;
    }

    async fn busy(&self, stream: TcpStream) {
        self.counters().refused.fetch_add(1, Ordering::Relaxed);
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    }
}

/// Ends `client`'s connection with a reset when it is dropped.
fn reset(client: &Client<TcpStream>) {
    let _ = socket2::SockRef::from(client.get_ref()).set_linger(Some(Duration::ZERO));
}

/// The judgement as a row of Azure's `AZFWApplicationRule`; `path`, an
/// HTTP request's target, makes its `TargetUrl` (HTTPS has none without
/// TLS inspection).
pub fn log_row(judged: &Judged, path: Option<&str>) -> firewall_log::ApplicationRule {
    let (policy, group, collection, rule) = judged.rule.clone().unwrap_or_default();
    firewall_log::ApplicationRule {
        protocol: judged.protocol.as_str().to_ascii_uppercase(),
        source_ip: judged.source.ip().to_string(),
        source_port: judged.source.port(),
        destination_port: judged.destination.port(),
        fqdn: judged.fqdn.clone(),
        target_url: path
            .filter(|_| !judged.fqdn.is_empty())
            .map(|p| format!("http://{}{p}", judged.fqdn))
            .unwrap_or_default(),
        action: judged.action.as_str(),
        policy,
        rule_collection_group: group,
        rule_collection: collection,
        rule,
        action_reason: if judged.rule.is_none() {
            "Default Action".to_string()
        } else {
            String::new()
        },
        is_tls_inspected: false,
        is_explicit_proxy_request: false,
        web_category: judged.web_category.clone().unwrap_or_default(),
    }
}

struct ProxyEvents {
    counters: Arc<ProxyCounters>,
    panics: Arc<ThreadPanics>,
}

impl listener::Events for ProxyEvents {
    fn accept_failed(&self, error: &std::io::Error) {
        tracing::warn!("a firewall proxy's accept failed: {error}");
    }

    fn refused_busy(&self) {}

    fn client_cut(&self) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
    }

    fn panicked(&self, payload: &(dyn Any + Send)) {
        self.panics.caught(
            ThreadKind::Services,
            "a firewall proxy's connection",
            payload,
        );
    }
}

/// The proxies running, one per firewall port of this machine whose policy
/// has application rules, by the port's serial.
pub struct FirewallProxies {
    running: HashMap<u32, listener::Server>,
    current: Current,
    log: FirewallLog,
    counters: Arc<ProxyCounters>,
    panics: Arc<ThreadPanics>,
}

impl FirewallProxies {
    pub fn new(
        plane: Arc<crate::daemon::forwarding::plane::PublishedPlane>,
        (counters, log): (Arc<ProxyCounters>, FirewallLog),
        panics: Arc<ThreadPanics>,
    ) -> Self {
        FirewallProxies {
            running: HashMap::new(),
            current: plane,
            log,
            counters,
            panics,
        }
    }

    /// Starts a proxy for every firewall port that wants one and has none,
    /// and stops those no longer wanted.
    pub fn follow(&mut self, plane: &Plane) {
        let snapshot = &plane.snapshot;
        let topology = &snapshot.topology;
        let mut wanted = Vec::new();
        for (p, port) in snapshot.plan.ports.iter_enumerated() {
            let Some(firewall) = port.kind.firewall() else {
                continue;
            };
            let Some(serial) = plane.ports.get(p).map(|s| s.serial) else {
                continue;
            };
            let fw = &topology.firewalls[firewall];
            if snapshot.plan.is_local(p)
                && crate::policy::firewall::has_application_rules(topology, fw)
            {
                wanted.push((serial, firewall, port.netns.as_str()));
            }
        }
        self.running
            .retain(|serial, _| wanted.iter().any(|w| w.0 == *serial));
        for &(_, firewall, ns) in &wanted {
            pass_fqdn_rules(snapshot, firewall, ns);
        }
        for (serial, firewall, ns) in wanted {
            if self.running.contains_key(&serial) {
                continue;
            }
            match self.start_one(firewall, ns) {
                Ok(server) => {
                    self.running.insert(serial, server);
                }
                Err(error) => {
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("the firewall's proxy in {ns} cannot start: {error:#}");
                }
            }
        }
    }

    fn start_one(&self, firewall: FirewallIdx, ns: &str) -> anyhow::Result<listener::Server> {
        let address: SocketAddr = (
            Ipv4Addr::LOCALHOST,
            crate::plan::ports::firewall::PROXY_LISTENER,
        )
            .into();
        let socket = netns::run_in(ns, || transparent_listener(address))?;
        socket.set_nonblocking(true)?;
        listener::Server::start::<tokio::net::TcpListener, _, _, _>(
            "vnetd-firewall-proxy",
            socket,
            LIMITS,
            Proxy {
                firewall,
                netns: ns.into(),
                current: self.current.clone(),
                log: self.log.clone(),
                counters: self.counters.clone(),
                per_client: Mutex::new(HashMap::new()),
            },
            ProxyEvents {
                counters: self.counters.clone(),
                panics: self.panics.clone(),
            },
        )
    }

    /// Stops every proxy.
    pub fn stop(&mut self) {
        self.running.clear();
    }
}

/// Gives the namespace of `firewall` (its name `ns`) the addresses its
/// network rules' FQDNs stand for in `snapshot` as pass rules, so that
/// what they forward is not taken by the proxy: the namespace was set up
/// from the file alone, and the answers change with their TTL. Only a
/// policy with both application rules and FQDNs in its network rules
/// needs it.
fn pass_fqdn_rules(snapshot: &crate::snapshot::Snapshot, firewall: FirewallIdx, ns: &str) {
    let topology = &snapshot.topology;
    let fw = &topology.firewalls[firewall];
    let has_fqdns = fw.policy.is_some_and(|p| {
        (topology.firewall_policies[p].rules.iter()).any(|r| !r.destination_fqdns.is_empty())
    });
    if !has_fqdns {
        return;
    }
    let fqdns = |fqdn: &str| {
        crate::snapshot::fqdns::fqdn_addresses(
            topology,
            &snapshot.names,
            &snapshot.fqdns,
            firewall,
            fqdn,
        )
    };
    let intercept = crate::daemon::forwarding::firewall_intercept::of(topology, fw, &fqdns);
    if let Some(intercept) = intercept {
        if let Err(error) = crate::host::intercept::install(ns, &intercept) {
            tracing::warn!("the firewall's pass rules in {ns}: {error:#}");
        }
    }
}

/// A listening socket at `address` that accepts connections to any
/// address `tproxy` hands it (`IP_TRANSPARENT`).
fn transparent_listener(address: SocketAddr) -> anyhow::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_ip_transparent_v4(true)?;
    socket.bind(&address.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}
