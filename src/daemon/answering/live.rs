//! `vnetd resolve` against a running lab: a real question, sent from the
//! NIC's own namespace to the first server its `resolv.conf` names (Azure
//! DNS at 168.63.129.16, or its custom servers), crossing the fabric as
//! the VM's own queries do; beside the reply, how Azure DNS's tables find
//! the name, when Azure DNS is asked.

use crate::daemon::Daemon;
use crate::diagnostics::names::{self, LiveAnswer, NameAnswer};
use crate::diagnostics::QueryError;
use crate::host::netns;
use crate::names::{question, read_reply, QueryType};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// How long the server has to answer, each of [`TRIES`] times.
const WAIT: Duration = Duration::from_secs(2);
const TRIES: usize = 2;

/// What the NIC named `nic` is answered when it asks for `name`, asked for
/// real.
pub fn resolve_live(
    daemon: &Daemon,
    nic: &str,
    name: &str,
    query_type: QueryType,
) -> Result<NameAnswer, QueryError> {
    let snap = daemon.snapshot();
    let mut answer = names::resolve(&snap, nic, name, query_type)?;
    let Some(server) = answer.servers.addresses().first().copied() else {
        return Ok(answer);
    };
    let netns = match snap.topology.site_host(nic) {
        // An on-premises host asks from its own namespace.
        Some((site, host)) if snap.topology.endpoint_nic(nic).is_none() => {
            snap.topology.sites[site].hosts[host].netns.clone()
        }
        _ => {
            // A VM's name stands for its primary NIC (resolve found it).
            let port = (snap.topology.endpoint_nic(nic))
                .map(|n| &snap.topology.nics[n].name)
                .and_then(|name| snap.plan.port_by_name(name))
                .ok_or_else(|| QueryError::usage(format!("no NIC named {nic}")))?;
            if !snap.plan.is_local(port) {
                return Err(QueryError::usage(format!(
                    "NIC {nic} runs on another machine of the lab: ask that machine's vnetd"
                )));
            }
            snap.plan.ports[port].netns.clone()
        }
    };
    let id = (std::process::id() as u16) ^ 0x5a5a;
    let reply = match question(name, query_type, id) {
        None => Err(format!("`{name}` is not a DNS name")),
        Some(bytes) => ask(&netns, SocketAddr::new(server, 53), &bytes, id),
    };
    answer.live = Some(LiveAnswer { server, reply });
    Ok(answer)
}

/// Sends `query` to `server` from inside `netns` and reads the reply
/// with id `id`.
pub(super) fn ask(
    netns: &str,
    server: SocketAddr,
    query: &[u8],
    id: u16,
) -> Result<crate::names::Reply, String> {
    let received = netns::run_in(netns, || {
        let socket = UdpSocket::bind((std::net::Ipv4Addr::UNSPECIFIED, 0))?;
        socket.set_read_timeout(Some(WAIT))?;
        let mut buffer = [0u8; 4096];
        for _ in 0..TRIES {
            socket.send_to(query, server)?;
            loop {
                match socket.recv_from(&mut buffer) {
                    Ok((n, from))
                        if from == server && n >= 2 && buffer[..2] == id.to_be_bytes() =>
                    {
                        return Ok(Some(buffer[..n].to_vec()));
                    }
                    Ok(_) => continue,
                    Err(_) => break,
                }
            }
        }
        Ok(None)
    })
    .map_err(|e| format!("{e:#}"))?;
    match received {
        None => Err(format!("no reply from {server} within {TRIES} × {WAIT:?}")),
        Some(bytes) => read_reply(&bytes).ok_or_else(|| format!("{server} sent no DNS reply")),
    }
}
