//! What the running lab reports about itself: per-NIC counters, the flow
//! table's occupancy, the load balancers' backends as their probes see
//! them, the routing daemons as their supervisor sees them, and the
//! tracked flows with the rule that admitted each. The daemon fills them
//! in; the control socket carries them, the command line prints them and
//! `vnetd verify` reads them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `vnetd stats --json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatsReport {
    /// The generation of the tables the lab forwards with: 1 at start, one
    /// more per publication (an accepted apply, a change of the routes
    /// learned over BGP, a change of a backend's probe health).
    pub generation: u64,
    /// The machine this daemon runs as, in a lab spread over several
    /// (`vnetd run --host`); its `nics` are the ones placed on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub nics: BTreeMap<String, NicStats>,
    pub flow_table: FlowTableReport,
    /// Deny events that could not reach the flow logs (0 without them).
    #[serde(default)]
    pub flow_log_events_lost: u64,
    /// Times a forwarding worker failed (an error or a panic) and was
    /// started again.
    #[serde(default)]
    pub worker_restarts: u64,
    /// Panics caught in the daemon's threads, by kind of thread (`worker`,
    /// `bgp-watcher`, `prober`, `housekeeping`, `flow-log`, `offload`,
    /// `global-reach`, `control`, `metrics`), every kind present, 0 included: each such thread was
    /// started again, each such connection closed (empty from a daemon
    /// that did not report them).
    #[serde(default)]
    pub thread_panics: BTreeMap<String, u64>,
    /// What the load balancers' health probes found, per probed backend
    /// (empty without load balancers, or from a daemon that had none).
    #[serde(default)]
    pub load_balancer_backends: Vec<BackendReport>,
    /// The gateways' and sites' routing daemons: state, pid, restarts and
    /// how each last ended (empty without BGP).
    #[serde(default)]
    pub routing_daemons: Vec<RoutingDaemonReport>,
    /// The kernel fast path: null when every packet takes the userspace
    /// path (`--no-offload`, or a build or kernel without it).
    #[serde(default)]
    pub offload: Option<OffloadReport>,
    /// Azure's delays and rates: null from a daemon that did not report
    /// them.
    #[serde(default)]
    pub shaping: Option<Box<ShapingReport>>,
    /// The VXLAN underlay to the other machines of a spread lab: null on
    /// one machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub underlay: Option<Box<UnderlayReport>>,
    /// The Global Reach links between edge routers of this machine: what
    /// each adds and carried (empty without Global Reach).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub global_reach: Vec<GlobalReachReport>,
    /// What Azure DNS (and the resolvers' inbound endpoints) answered and
    /// the PaaS responders served: null from a daemon that did not report
    /// them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Box<NamesReport>>,
    /// What could not be read for this report (the kernel fast path's
    /// counters, say), each also in the daemon's log: its counts leave
    /// that out until a later reading. Absent when everything was read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Azure DNS's and the PaaS responders' counters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NamesReport {
    /// Datagrams that reached Azure DNS (168.63.129.16 or an inbound
    /// endpoint).
    pub dns_queries: u64,
    /// Answers sent, NXDOMAIN and SERVFAIL among them.
    pub dns_answers: u64,
    /// Datagrams that were not a DNS query: dropped.
    pub dns_malformed: u64,
    /// Answers the socket would not send.
    pub dns_send_failed: u64,
    /// Queries a forwarding rule sent on from an outbound endpoint.
    #[serde(default)]
    pub dns_forwarded: u64,
    /// Forwarded queries no target answered in time: SERVFAIL.
    #[serde(default)]
    pub dns_forward_timeouts: u64,
    /// Questions answered SERVFAIL unforwarded, a forwarding loop cut:
    /// more identical ones would have waited at once than Azure DNS
    /// lets wait.
    #[serde(default)]
    pub dns_forward_loops_cut: u64,
    /// TCP connections closed at once because their source address held
    /// its share of that address's connections already.
    #[serde(default)]
    pub dns_tcp_refused_per_source: u64,
    /// TCP connections closed at once because every one was held.
    #[serde(default)]
    pub dns_tcp_refused_at_capacity: u64,
    /// Requests the PaaS responders answered.
    pub paas_requests: u64,
    /// Connections they refused (all slots taken) or cut.
    pub paas_refused: u64,
    /// Requests Azure Firewalls' application rules allowed, relayed on by
    /// their proxies.
    #[serde(default)]
    pub application_allowed: u64,
    /// Requests they denied (answered 470, or reset).
    #[serde(default)]
    pub application_denied: u64,
    /// Allowed requests whose onward connection failed.
    #[serde(default)]
    pub application_unreachable: u64,
    /// Connections the proxies refused: every slot, or the client's
    /// share, taken.
    #[serde(default)]
    pub application_refused: u64,
    /// The file's `dns_server` keys' servers that answer now.
    #[serde(default)]
    pub dns_servers_ready: u64,
    /// Those neither answering nor failed yet since they were wanted.
    #[serde(default)]
    pub dns_servers_starting: u64,
    /// Their starts that failed (the server ended or did not answer in
    /// time), each tried again after a back-off.
    #[serde(default)]
    pub dns_servers_failed_starts: u64,
}

/// One Global Reach link between two edge routers, as the daemon carries
/// it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct GlobalReachReport {
    /// The link and the peerings' link it joins: `dc1-dc2 primary`.
    pub name: String,
    /// What it adds one way, in microseconds (0 with `--no-shaping`).
    pub delay_us: u64,
    /// Packets carried, both ways (each segment of a super-packet).
    pub packets: u64,
    /// Packets dropped: no room to hold them, or the far end refused.
    pub dropped: u64,
}

/// What a running lab delays and limits.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShapingReport {
    /// False with `--no-shaping`: nothing below applies.
    pub on: bool,
    /// Every rate limit: rate and what imposes it.
    pub limits: Vec<String>,
    /// Pairs of port kinds whose path adds a delay.
    pub delayed_paths: u64,
    /// Those delays, one way: `VNet weu -> VNet eus: +42.5 ms`.
    #[serde(default)]
    pub delays: Vec<String>,
}

/// What crossed the underlay of a spread lab's machine, as packets.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnderlayReport {
    /// The MTU packets between machines have.
    pub inner_mtu: u16,
    /// Sent to other machines.
    pub sent: u64,
    /// Received from other machines and handed to the daemon.
    pub received: u64,
    /// Received and dropped: their source is no trusted host (no host of
    /// the file, or one not trusted now).
    pub untrusted: u64,
    /// Not sent: for a port on a host not trusted now.
    #[serde(default)]
    pub not_trusted: u64,
    /// Not sent: for a port no machine was known to hold.
    pub no_destination: u64,
    /// Received and dropped: their VNI is not their port's VNet's.
    #[serde(default)]
    pub wrong_vni: u64,
    /// Received and dropped: their MAC names no port of this machine.
    #[serde(default)]
    pub unknown_port: u64,
    /// Received and dropped: too short to be a frame.
    #[serde(default)]
    pub malformed: u64,
    /// Dropped for another reason (no tunnel key, a kernel helper failed).
    pub failed: u64,
    /// Each other machine: whether it is trusted, and what was refused
    /// from it and not sent to it.
    #[serde(default)]
    pub hosts: Vec<UnderlayHostReport>,
}

/// One other machine of a spread lab, as this one's underlay sees it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnderlayHostReport {
    pub host: String,
    pub address: String,
    /// `trusted`, `unheard`, `no_digest` or `other_numbering`.
    pub trust: String,
    /// Why it is not trusted, in words (empty when it is).
    pub why: String,
    /// Its packets dropped because it was not trusted.
    pub refused: u64,
    /// Packets for its ports dropped because it was not trusted.
    pub not_sent: u64,
}

/// Two other machines as the tests of the reports see them: `h1`
/// trusted, `h3` not, with what was refused from it and not sent to it.
#[cfg(test)]
pub(crate) fn sample_underlay_hosts() -> Vec<UnderlayHostReport> {
    vec![
        UnderlayHostReport {
            host: "h1".into(),
            address: "192.0.2.1".into(),
            trust: "trusted".into(),
            ..Default::default()
        },
        UnderlayHostReport {
            host: "h3".into(),
            address: "192.0.2.3".into(),
            trust: "no_digest".into(),
            why: "it announces no digest of the lab's numbering".into(),
            refused: 4,
            not_sent: 3,
        },
    ]
}

/// The kernel fast path of a running lab.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OffloadReport {
    /// Flow directions installed now, and the most there may be.
    pub entries: u64,
    pub capacity: u64,
    /// Directions installed and removed since the start.
    pub installed: u64,
    pub removed: u64,
    /// Admitted flows left in userspace because the cap was reached.
    pub refused_full: u64,
    /// The most directions one NIC may send on (its share of the cap), and
    /// the admitted flows left in userspace because their NIC held it, in
    /// all and per NIC.
    #[serde(default)]
    pub share_per_nic: u64,
    #[serde(default)]
    pub refused_share: u64,
    #[serde(default)]
    pub nics_at_share: BTreeMap<String, u64>,
    /// Entries removed because a newer plane was published after they were
    /// installed (their flows' next packets were decided again), and
    /// because their egress port left the fabric.
    #[serde(default)]
    pub removed_stale: u64,
    #[serde(default)]
    pub removed_egress_gone: u64,
    /// Admitted flows not installed because their egress port had left
    /// the fabric (its `eth0` deleted): the workers count their packets as
    /// drops.
    #[serde(default)]
    pub refused_egress_gone: u64,
}

/// Totals of one NIC across workers, named from the NIC's side as Azure's
/// VM metrics are ("Packets Sent", "Bytes Received", ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NicStats {
    /// What the NIC sent: what the daemon read from the NIC's TUN device
    /// or the kernel fast path took from it, and the packets a queue on the
    /// way to the daemon dropped (`ingress_queue_full`, counted in packets
    /// only: the kernel counts no bytes for them).
    pub packets_sent: u64,
    pub bytes_sent: u64,
    /// What the NIC received: what the daemon wrote to the NIC's TUN device
    /// or the fast path handed to its `eth0`, less what could not reach an
    /// `eth0` that was gone (an `egress_gone` drop instead).
    pub packets_received: u64,
    pub bytes_received: u64,
    /// Of `packets_sent` and `packets_received`, the packets the kernel
    /// fast path carried (the rest took the userspace path).
    #[serde(default)]
    pub offloaded_packets_sent: u64,
    #[serde(default)]
    pub offloaded_packets_received: u64,
    /// Drops by reason (only reasons with a count above zero).
    pub drops: BTreeMap<String, u64>,
}

/// One backend as one load balancer's probe sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackendReport {
    pub load_balancer: String,
    pub probe: String,
    pub nic: String,
    pub up: bool,
    /// When it last changed state, or when probing began (RFC 3339, UTC).
    pub since: String,
    pub consecutive_successes: u32,
    pub consecutive_failures: u32,
    /// Why the last failed probe failed; null while up.
    pub reason: Option<String>,
    /// Flows the load balancer placed on this backend that are tracked
    /// now (0 from a daemon that did not report it).
    #[serde(default)]
    pub flows: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FlowTableReport {
    pub capacity: usize,
    /// Bytes the table was allocated with (0 from a daemon that did not
    /// report it).
    #[serde(default)]
    pub memory_bytes: usize,
    pub flows: usize,
    pub inserted: u64,
    pub evicted: u64,
    pub failed_inserts: u64,
}

/// One routing daemon process (gobgpd, BIRD, FRR) as its supervisor in the
/// lab sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingDaemonReport {
    /// `gobgpd`, `bird`, `zebra` or `bgpd`.
    pub program: String,
    pub netns: String,
    /// What it serves: `gateway G instance I` or `site S`.
    pub serves: String,
    /// `running`, or `down` (exited; a restart is scheduled).
    pub state: String,
    pub pid: Option<u32>,
    /// Times vnetd started it again.
    pub restarts: u64,
    /// How it last ended (`killed by signal 9 (SIGKILL)`, `exit status 1`).
    pub last_exit: Option<String>,
    /// Why the last attempt to start it again failed, until one succeeds.
    pub restart_error: Option<String>,
}

/// The tracked flows, as `vnetd flows --json` prints them, and what could
/// not be read for them (the kernel fast path's counters, say, each also
/// in the daemon's log: their counts leave that out until a later
/// reading).
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq, Clone)]
pub struct FlowsReport {
    pub flows: Vec<FlowReport>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One tracked flow, as `vnetd flows --json` prints it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, Clone)]
pub struct FlowReport {
    /// The machine that tracks it, in a lab spread over several (each
    /// tracks its own NICs' flows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub nic: String,
    pub direction: String,
    pub protocol: String,
    pub source: String,
    pub destination: String,
    /// The NSG rule that allowed the flow's first packet at this NIC
    /// (`securityRules/...`, `defaultSecurityRules/...`), or null when no
    /// NSG applies.
    pub rule: Option<String>,
    /// The route the flow's packets take now from this NIC (outbound only).
    pub next_hop_type: Option<String>,
    pub next_hop_ip_address: Option<String>,
    /// The virtual network gateways that route leads the packets through
    /// (outbound only), in order: the one it leads to, then each Vnet2Vnet
    /// peer it hands them on to. They have no port of their own on such a
    /// path, so no record of theirs shows them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    /// The virtual hub and route table whose route that is (outbound
    /// only, from a VNet connected to a hub): `hub/table`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub: Option<String>,
    pub packets_forward: u64,
    pub bytes_forward: u64,
    pub packets_reverse: u64,
    pub bytes_reverse: u64,
    pub age_ms: u64,
    pub idle_ms: u64,
    /// The kernel fast path carries this leg of the flow now (its packets
    /// in either direction between this NIC and the next hop of the leg).
    #[serde(default)]
    pub offloaded: bool,
    /// The Internet edge's translation of the flow: the public address
    /// and port its private side leaves as (on the private side's
    /// records), or the private address and port behind the public one
    /// (on the Internet's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translated: Option<String>,
    /// Why the flow, sent from this NIC, stays in userspace: as judged,
    /// `load_balanced`, `backend_down`, `unpinned`, `shaped`,
    /// `service_endpoint`, `application_rule` or `translated`; as refused,
    /// `offload_full`, `nic_share` or `egress_down`; never asked,
    /// `offload_off`, `off_fabric` or `protocol`. None for a flow not
    /// judged yet or whose entry went with its end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_offloaded_because: Option<String>,
}

/// A TCP flow of `nic` from `source` to `destination` as the tests of
/// the reports start it: outbound, allowed by no NSG, no route named, no
/// packet counted, not offloaded, not translated; a test sets what it is
/// about.
#[cfg(test)]
pub(crate) fn sample_flow(nic: &str, source: &str, destination: &str) -> FlowReport {
    FlowReport {
        host: None,
        nic: nic.into(),
        direction: "Outbound".into(),
        protocol: "Tcp".into(),
        source: source.into(),
        destination: destination.into(),
        rule: None,
        next_hop_type: None,
        next_hop_ip_address: None,
        gateways: Vec::new(),
        hub: None,
        packets_forward: 0,
        bytes_forward: 0,
        packets_reverse: 0,
        bytes_reverse: 0,
        age_ms: 0,
        idle_ms: 0,
        offloaded: false,
        not_offloaded_because: None,
        translated: None,
    }
}
