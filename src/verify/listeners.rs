//! The servers `vnetd verify` opens for its TCP and UDP probes, inside the
//! namespaces that own the destination, and the guard that closes them.
//!
//! A TCP listener accepts, reads one line and sends it back; a UDP socket
//! sends back every datagram. Each socket is created by a thread that has
//! entered the destination's namespace ([`crate::host::netns::run_in`]),
//! so it belongs to that namespace; a thread of this process then serves
//! it. When the port is already bound there (a server the user runs), no
//! socket is opened and that server answers the probe instead.
//!
//! [`Listeners`] owns every socket it opened: dropping it (at the end of a
//! run, on an error, or while a panic unwinds) stops the serving threads,
//! which close their sockets. Since the sockets are this process's, none
//! outlives `vnetd verify` either, however it ends.

use crate::host::netns;
use crate::topology::{ExpectedProtocol, LbProtocol, Topology};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often a serving thread looks whether it should stop.
const POLL: Duration = Duration::from_millis(25);

/// How long a TCP connection may take to send its line.
const LINE_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest line a TCP listener reads before answering.
const MAX_LINE: u64 = 512;

/// Where a probe's destination is served: a namespace and the address and
/// port a server binds there; `holder` names the NIC or host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListenAt {
    pub netns: String,
    pub bind: SocketAddr,
    pub holder: String,
}

/// Who answers at a [`ListenAt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// A listener of `vnetd verify`, which echoes what it receives.
    Ours,
    /// The port was bound already, by a server the user runs: it answers
    /// as it answers, and is left alone.
    Theirs,
}

/// Every place a packet for `to`, port `port` over `protocol`, is served
/// in the topology: the NIC of the file or the on-premises host that owns
/// the address, or, for a load balancer's frontend, each backend of each
/// rule that carries that protocol and port, at the rule's backend port
/// (bound to the unspecified address when the rule has floating IP, since
/// the backend then receives the frontend's address). Empty when nothing
/// in the topology holds `to`.
pub fn servers_of(
    topology: &Topology,
    to: IpAddr,
    protocol: ExpectedProtocol,
    port: u16,
) -> Vec<ListenAt> {
    let mut out = Vec::new();
    for nic in topology.nics.iter().filter(|n| n.owns(to)) {
        out.push(ListenAt {
            netns: nic.netns.clone(),
            bind: SocketAddr::new(to, port),
            holder: nic.name.clone(),
        });
    }
    for host in topology.sites.iter().flat_map(|s| &s.hosts) {
        if host.address == to {
            out.push(ListenAt {
                netns: host.netns.clone(),
                bind: SocketAddr::new(to, port),
                holder: host.name.clone(),
            });
        }
    }
    for lb in &topology.load_balancers {
        for rule in &lb.rules {
            if lb.frontends[rule.frontend].address != to {
                continue;
            }
            let carried = match (rule.settings.protocol, protocol) {
                (LbProtocol::All, _) => true,
                (LbProtocol::Tcp, ExpectedProtocol::Tcp) => rule.settings.frontend_port == port,
                (LbProtocol::Udp, ExpectedProtocol::Udp) => rule.settings.frontend_port == port,
                _ => false,
            };
            if !carried {
                continue;
            }
            let backend_port = if rule.ha_ports() {
                port
            } else {
                rule.settings.backend_port
            };
            for &nic in &lb.pools[rule.pool].nics {
                let nic = &topology.nics[nic];
                let Some(address) = nic
                    .ip_configurations
                    .iter()
                    .map(|c| c.address)
                    .find(|a| a.is_ipv4() == to.is_ipv4())
                else {
                    continue;
                };
                let bind = if rule.settings.floating_ip {
                    let any = if to.is_ipv4() {
                        IpAddr::from([0u8; 4])
                    } else {
                        IpAddr::from([0u16; 8])
                    };
                    SocketAddr::new(any, backend_port)
                } else {
                    SocketAddr::new(address, backend_port)
                };
                let at = ListenAt {
                    netns: nic.netns.clone(),
                    bind,
                    holder: nic.name.clone(),
                };
                if !out.contains(&at) {
                    out.push(at);
                }
            }
        }
    }
    out
}

/// The transports a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
}

/// The servers opened for one run of `vnetd verify`; dropping it closes
/// them all (see the module doc).
#[derive(Default)]
pub struct Listeners {
    stop: Arc<AtomicBool>,
    known: HashMap<(String, Transport, SocketAddr), Server>,
    threads: Vec<JoinHandle<()>>,
}

impl Listeners {
    /// Makes sure something answers at `at`: a listener opened now or
    /// earlier in this run, or a server that already held the port.
    pub fn ensure(&mut self, at: &ListenAt, transport: Transport) -> Result<Server, String> {
        let key = (at.netns.clone(), transport, at.bind);
        if let Some(server) = self.known.get(&key) {
            return Ok(*server);
        }
        let bind = at.bind;
        let opened = match transport {
            Transport::Tcp => {
                netns::run_in(&at.netns, move || Ok(TcpListener::bind(bind))).map(|r| {
                    r.map(|listener| {
                        let stop = self.stop.clone();
                        std::thread::spawn(move || serve_tcp(&listener, &stop))
                    })
                })
            }
            Transport::Udp => {
                netns::run_in(&at.netns, move || Ok(UdpSocket::bind(bind))).map(|r| {
                    r.map(|socket| {
                        let stop = self.stop.clone();
                        std::thread::spawn(move || serve_udp(&socket, &stop))
                    })
                })
            }
        };
        let server = match opened.map_err(|e| format!("{e:#}"))? {
            Ok(thread) => {
                self.threads.push(thread);
                Server::Ours
            }
            Err(e) if e.kind() == ErrorKind::AddrInUse => Server::Theirs,
            Err(e) => {
                return Err(format!(
                    "cannot listen at {} in namespace {} ({}): {e}",
                    at.bind, at.netns, at.holder
                ))
            }
        };
        self.known.insert(key, server);
        Ok(server)
    }

    /// The listeners opened so far, as (namespace, transport, address).
    pub fn opened(&self) -> Vec<(String, Transport, SocketAddr)> {
        let mut out: Vec<_> = self
            .known
            .iter()
            .filter(|(_, server)| **server == Server::Ours)
            .map(|(key, _)| key.clone())
            .collect();
        out.sort_by(|a, b| (&a.0, a.2).cmp(&(&b.0, b.2)));
        out
    }

    /// Stops every serving thread and waits for it: its socket is closed
    /// when it returns.
    pub fn close(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        self.known.clear();
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        self.close();
    }
}

fn serve_tcp(listener: &TcpListener, stop: &AtomicBool) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => echo_line(stream),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Reads one line (at most [`MAX_LINE`] bytes) and sends it back.
fn echo_line(stream: TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(LINE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(LINE_TIMEOUT));
    let Ok(reading) = stream.try_clone() else {
        return;
    };
    let mut line = Vec::new();
    let mut reader = BufReader::new(std::io::Read::take(reading, MAX_LINE));
    if reader.read_until(b'\n', &mut line).is_ok() && !line.is_empty() {
        let _ = (&stream).write_all(&line);
    }
}

fn serve_udp(socket: &UdpSocket, stop: &AtomicBool) {
    if socket.set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&buf[..n], from);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = "
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - {name: nva, address_prefixes: [10.0.1.0/24]}
network_interfaces:
  - {name: nva1, subnet: hub/nva, private_ip_address: 10.0.1.4, netns: ns-nva1}
  - {name: nva2, subnet: hub/nva, private_ip_address: 10.0.1.5}
load_balancers:
  - name: ilb
    frontend_ip_configurations:
      - {name: fe, subnet: hub/nva, private_ip_address: 10.0.1.100}
    backend_address_pools:
      - {name: nvas, network_interfaces: [nva1, nva2]}
    rules:
      - {name: web, frontend_ip_configuration: fe, backend_address_pool: nvas,
         protocol: Tcp, frontend_port: 80, backend_port: 8080}
";

    fn lab() -> Topology {
        crate::topology::parse_str("lab.yaml", LAB)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .topology
    }

    #[test]
    fn a_nic_address_is_served_in_the_nics_namespace() {
        let t = lab();
        let at = servers_of(&t, "10.0.1.4".parse().unwrap(), ExpectedProtocol::Tcp, 22);
        assert_eq!(
            at,
            [ListenAt {
                netns: "ns-nva1".into(),
                bind: "10.0.1.4:22".parse().unwrap(),
                holder: "nva1".into(),
            }]
        );
    }

    #[test]
    fn a_frontend_is_served_by_each_backend_at_the_rules_backend_port() {
        let t = lab();
        let at = servers_of(&t, "10.0.1.100".parse().unwrap(), ExpectedProtocol::Tcp, 80);
        let binds: Vec<(String, String)> = at
            .iter()
            .map(|a| (a.netns.clone(), a.bind.to_string()))
            .collect();
        assert_eq!(
            binds,
            [
                ("ns-nva1".to_string(), "10.0.1.4:8080".to_string()),
                ("nva2".to_string(), "10.0.1.5:8080".to_string()),
            ]
        );
        // No rule carries UDP or another port: nothing serves them.
        let frontend = "10.0.1.100".parse().unwrap();
        assert_eq!(
            servers_of(&t, frontend, ExpectedProtocol::Udp, 80),
            Vec::new()
        );
        assert_eq!(
            servers_of(&t, frontend, ExpectedProtocol::Tcp, 81),
            Vec::new()
        );
        // An address nothing holds is served nowhere.
        assert_eq!(
            servers_of(&t, "10.0.1.9".parse().unwrap(), ExpectedProtocol::Tcp, 80),
            Vec::new()
        );
    }
}
