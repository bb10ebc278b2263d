//! Every packet a sender puts on its `eth0` is delivered and counted, or
//! dropped and counted with its reason, in both modes (`.ci/run` runs
//! these again with `VNETD_NO_OFFLOAD=1`): a NIC whose `eth0` is deleted
//! or set down under an offloaded flow, and a packet generator's raw frames (`trafgen`,
//! from a ring of pages, as fast as it can), counted against the kernel's
//! own counters of the sending and the receiving `eth0`.

use crate::common::{self, Lab};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;
use vnetd::daemon::options::offload_off_by_environment;
use vnetd::daemon::reporting::report::{flows_of, stats_of};
use vnetd::dataplane::DropReason;
use vnetd::host::netns;

const HUB_SPOKE: &str = include_str!("../../../config/hub-spoke.yaml");

fn offloading() -> bool {
    !offload_off_by_environment()
}

fn assert_mode(lab: &Lab) {
    assert_eq!(
        lab.daemon().offload().is_some(),
        offloading(),
        "the lab's offload does not match VNETD_NO_OFFLOAD"
    );
}

/// Whether `nic`'s UDP flow from source port `source_port` to
/// `destination` is carried by the kernel.
fn offloaded(lab: &Lab, nic: &str, source_port: u16, destination: &str) -> bool {
    flows_of(lab.daemon(), Some(nic)).iter().any(|f| {
        f.protocol == "Udp"
            && f.destination == destination
            && f.source.ends_with(&format!(":{source_port}"))
            && f.offloaded
    })
}

/// A counter of device `device` in namespace `ns`, as the kernel keeps
/// it (`/sys/class/net/<device>/statistics/<counter>`).
fn link_counter(ns: &str, device: &str, counter: &str) -> u64 {
    common::in_netns(
        ns,
        &[
            "cat",
            &format!("/sys/class/net/{device}/statistics/{counter}"),
        ],
    )
    .trim()
    .parse()
    .unwrap_or_else(|e| panic!("{counter} of {device} in {ns}: {e}"))
}

/// A UDP flow from vm1 to shared1's `port`, with both its sockets.
struct UdpFlow {
    server: std::net::UdpSocket,
    client: std::net::UdpSocket,
    to: SocketAddr,
    source_port: u16,
}

impl UdpFlow {
    /// Sends until the datagrams arrive and, with offload, the kernel
    /// carries the flow; then empties the server's queue.
    fn settled(lab: &Lab, port: u16) -> UdpFlow {
        let to = SocketAddr::from(([10, 0, 2, 4], port));
        let server = netns::run_in(&lab.ns("shared1"), move || common::udp_bind_again(to)).unwrap();
        server
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let client = common::udp_client_for(&lab.ns("vm1"), to);
        let source_port = client.local_addr().unwrap().port();
        let flow = UdpFlow {
            server,
            client,
            to,
            source_port,
        };
        assert!(
            flow.arrives_and_is_carried(lab, b"before"),
            "the flow never settled"
        );
        let mut buf = [0u8; 64];
        while flow.server.recv_from(&mut buf).is_ok() {}
        flow
    }

    /// Whether `payload`, sent again until it does within 10 s, arrives
    /// and, with offload, the kernel carries the flow.
    fn arrives_and_is_carried(&self, lab: &Lab, payload: &[u8]) -> bool {
        let mut buf = [0u8; 64];
        let to = self.to.to_string();
        common::wait_for(Duration::from_secs(10), || {
            self.client.send_to(payload, self.to).unwrap();
            self.server.recv_from(&mut buf).is_ok()
                && (!offloading() || offloaded(lab, "vm1", self.source_port, &to))
        })
    }

    /// Sends `rounds` rounds of `per_round` datagrams, each round counted
    /// by `gone` before the next leaves, so that no queue between vm1 and
    /// the daemon overflows; `describe` says what was counted when a
    /// round is not.
    fn send_in_rounds(
        &self,
        (rounds, per_round): (u64, u64),
        gone: impl Fn() -> u64,
        describe: impl Fn() -> String,
    ) {
        for round in 1..=rounds {
            for _ in 0..per_round {
                self.client.send_to(&[7u8; 200], self.to).unwrap();
            }
            assert!(
                common::wait_for(Duration::from_secs(10), || gone() >= round * per_round),
                "round {round}: {}",
                describe()
            );
        }
    }
}

#[test]
fn a_nic_whose_eth0_is_deleted_under_an_offloaded_flow_counts_what_is_sent_to_it_as_gone() {
    let lab = Lab::start("cntgone", HUB_SPOKE);
    assert_mode(&lab);
    let flow = UdpFlow::settled(&lab, 7700);
    let report = || stats_of(lab.daemon()).offload;
    let installed_before = report().map(|o| o.installed);
    let host_end = lab.daemon().plane().ports
        [lab.daemon().snapshot().port_by_name("shared1").unwrap()]
    .fast
    .map(|f| f.host_end);
    assert_eq!(host_end.is_some(), offloading(), "shared1 on the fabric");
    let (vm1, shared1) = (lab.stats("vm1"), lab.stats("shared1"));

    common::in_netns(&lab.ns("shared1"), &["ip", "link", "delete", "eth0"]);

    // Sent in rounds, each counted before the next leaves, so that no
    // queue between vm1 and the daemon overflows: each datagram is
    // then counted as what became of it at shared1, exactly.
    const ROUNDS: u64 = 20;
    const PER_ROUND: u64 = 100;
    let sent = || {
        let s = lab.stats("vm1");
        (s.packets_sent - vm1.packets_sent)
            - (s.drops_for(DropReason::Unroutable) - vm1.drops_for(DropReason::Unroutable))
    };
    let gone = || {
        lab.stats("shared1").drops_for(DropReason::EgressGone)
            - shared1.drops_for(DropReason::EgressGone)
    };
    flow.send_in_rounds((ROUNDS, PER_ROUND), gone, || {
        format!(
            "{} sent, {} counted gone; vm1 {:?}, shared1 {:?}",
            sent(),
            gone(),
            lab.stats("vm1"),
            lab.stats("shared1")
        )
    });
    let all = ROUNDS * PER_ROUND;
    let now = lab.stats("shared1");
    assert_eq!(gone(), all, "each datagram counted gone once: {now:?}");
    assert_eq!(sent(), all, "{:?}", lab.stats("vm1"));
    assert_eq!(
        (now.packets_received, now.bytes_received),
        (shared1.packets_received, shared1.bytes_received),
        "nothing delivered to a NIC that is gone"
    );
    if let Some(host_end) = host_end {
        let offload = report().expect("an offload report");
        assert_eq!(
            Some(offload.installed),
            installed_before,
            "no entry installed since the deletion: {offload:?}"
        );
        assert!(offload.removed_egress_gone >= 1, "{offload:?}");
        let fabric = lab.daemon().offload().unwrap().fabric().clone();
        let toward_it: Vec<_> = (fabric.entries().into_iter())
            .filter(|(_, entry)| entry.egress == host_end)
            .collect();
        assert_eq!(toward_it, vec![], "entries toward the deleted NIC");
    }
}

#[test]
fn a_nic_whose_eth0_is_set_down_counts_what_is_sent_to_it_as_gone_until_it_is_up_again() {
    let lab = Lab::start("cntdown", HUB_SPOKE);
    assert_mode(&lab);
    let flow = UdpFlow::settled(&lab, 7800);
    let host_end = lab.daemon().plane().ports
        [lab.daemon().snapshot().port_by_name("shared1").unwrap()]
    .fast
    .map(|f| f.host_end);
    let (vm1, shared1) = (lab.stats("vm1"), lab.stats("shared1"));

    common::in_netns(&lab.ns("shared1"), &["ip", "link", "set", "eth0", "down"]);
    if let (Some(host_end), Some(offload)) = (host_end, lab.daemon().offload()) {
        // The daemon learns it from the kernel's link notices (within
        // half a second): from then on the fast path counts what it
        // would hand that eth0.
        let fabric = offload.fabric().clone();
        assert!(
            common::wait_for(Duration::from_secs(5), || !fabric.has_port(host_end)),
            "the fabric never saw shared1's eth0 go down"
        );
    }
    const ROUNDS: u64 = 10;
    const PER_ROUND: u64 = 100;
    let gone = || {
        lab.stats("shared1").drops_for(DropReason::EgressGone)
            - shared1.drops_for(DropReason::EgressGone)
    };
    flow.send_in_rounds((ROUNDS, PER_ROUND), gone, || {
        format!(
            "{} counted gone; vm1 {:?}, shared1 {:?}",
            gone(),
            lab.stats("vm1"),
            lab.stats("shared1")
        )
    });
    let all = ROUNDS * PER_ROUND;
    assert_eq!(gone(), all, "each datagram counted gone once");
    let now = lab.stats("shared1");
    assert_eq!(
        now.packets_received, shared1.packets_received,
        "nothing delivered to an eth0 that is down: {now:?}"
    );
    let vm1_now = lab.stats("vm1");
    let unroutable =
        |s: &vnetd::daemon::forwarding::stats::NicStats| s.drops_for(DropReason::Unroutable);
    assert_eq!(
        (vm1_now.packets_sent - vm1.packets_sent) - (unroutable(&vm1_now) - unroutable(&vm1)),
        all,
        "{vm1_now:?}"
    );

    // Up again: the datagrams arrive, and the kernel carries the flow
    // again (with offload).
    common::in_netns(&lab.ns("shared1"), &["ip", "link", "set", "eth0", "up"]);
    assert!(
        flow.arrives_and_is_carried(&lab, b"again"),
        "shared1 never took the flow again: {:?}",
        stats_of(lab.daemon()).offload
    );
}

/// The frames `trafgen` sends: a UDP datagram of 1000 bytes from
/// vm1 (10.1.1.4) port `source_port` to shared1 (10.0.2.4) port 9400,
/// behind an Ethernet header to the fabric's MAC from `eth0`'s `mac`
/// when `eth0` is a veth (a TUN `eth0` takes IP packets).
fn trafgen_config(mac: Option<&str>, source_port: u16) -> String {
    let ethernet = mac
        .map(|mac| format!("  eth(da=12:34:56:78:9a:bc, sa={mac}, type=0x0800),\n"))
        .unwrap_or_default();
    format!(
        "{{\n{ethernet}  ipv4(saddr=10.1.1.4, daddr=10.0.2.4, ttl=64, df),\n  \
         udp(sp={source_port}, dp=9400),\n  fill(0x61, 1000),\n}}\n"
    )
}

/// Runs `trafgen` in `ns` on `eth0`: `frames` frames of `config`, as
/// fast as it goes, from one CPU; returns what it says it sent.
fn trafgen(ns: &str, config: &str, frames: u64, gap: Option<&str>) -> u64 {
    let file = std::env::temp_dir().join(format!(
        "vnetd-trafgen-{}-{ns}-{frames}.cfg",
        std::process::id()
    ));
    std::fs::write(&file, config).unwrap();
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", ns, "trafgen", "--dev", "eth0", "--conf"])
        .arg(&file)
        .args(["--num", &frames.to_string(), "--cpus", "1", "--no-sock-mem"]);
    if let Some(gap) = gap {
        command.args(["--gap", gap]);
    }
    let out = command
        .output()
        .expect("trafgen is installed (netsniff-ng, which .ci/run installs)");
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "trafgen: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find(|l| l.contains("packets outgoing"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("trafgen said nothing of what it sent: {stdout}"))
}

/// What the kernel and vnetd counted of a run of frames from vm1 to
/// shared1.
#[derive(Debug)]
struct Counted {
    /// What vm1's `eth0` took (sent) and its queue dropped.
    eth0_sent: u64,
    /// What shared1's `eth0` received.
    eth0_received: u64,
    /// What vnetd delivered to shared1.
    delivered: u64,
    /// What vnetd counted dropped, at any NIC, by reason.
    drops: std::collections::BTreeMap<String, u64>,
    /// What the kernel fast path carried from vm1.
    carried: u64,
}

impl Counted {
    fn dropped(&self) -> u64 {
        self.drops.values().sum()
    }
}

/// The counters the runs are measured by, now.
fn counters(lab: &Lab) -> Counted {
    let (vm1, shared1) = (lab.ns("vm1"), lab.ns("shared1"));
    let mut drops = std::collections::BTreeMap::new();
    for nic in ["vm1", "shared1", "nva1", "vm2"] {
        for (reason, n) in lab.stats(nic).drops {
            *drops.entry(reason).or_default() += n;
        }
    }
    Counted {
        eth0_sent: link_counter(&vm1, "eth0", "tx_packets")
            + link_counter(&vm1, "eth0", "tx_dropped"),
        eth0_received: link_counter(&shared1, "eth0", "rx_packets"),
        delivered: lab.stats("shared1").packets_received,
        drops,
        carried: lab.stats("vm1").offloaded_packets_sent,
    }
}

/// What was counted between `before` and `after`.
fn between(before: &Counted, after: &Counted) -> Counted {
    Counted {
        eth0_sent: after.eth0_sent - before.eth0_sent,
        eth0_received: after.eth0_received - before.eth0_received,
        delivered: after.delivered - before.delivered,
        drops: (after.drops.iter())
            .map(|(r, n)| (r.clone(), n - before.drops.get(r).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect(),
        carried: after.carried - before.carried,
    }
}

/// Sends `frames` frames with trafgen and waits until the counts
/// agree within 1 % (or 30 s pass): what vm1's `eth0` put out against
/// what vnetd delivered and dropped, and what shared1's `eth0` took
/// against what vnetd delivered. Returns what was counted.
fn run_frames(lab: &Lab, config: &str, frames: u64) -> Counted {
    let before = counters(lab);
    let said = trafgen(&lab.ns("vm1"), config, frames, None);
    assert_eq!(said, frames, "trafgen's own count");
    let within = |a: u64, b: u64, of: u64| a.abs_diff(b) * 100 <= of;
    let agree = |c: &Counted| {
        within(c.eth0_sent, c.delivered + c.dropped(), c.eth0_sent)
            && within(c.eth0_received, c.delivered, c.eth0_sent)
    };
    let mut last = between(&before, &counters(lab));
    common::wait_for(Duration::from_secs(30), || {
        last = between(&before, &counters(lab));
        agree(&last)
    });
    assert!(
        last.eth0_sent >= frames,
        "vm1's eth0 put out fewer than trafgen sent: {last:?}"
    );
    assert!(
        within(
            last.eth0_sent,
            last.delivered + last.dropped(),
            last.eth0_sent
        ),
        "sent = delivered + counted drops, within 1 %: {last:?}"
    );
    assert!(
        within(last.eth0_received, last.delivered, last.eth0_sent),
        "shared1's eth0 received what vnetd delivered, within 1 %: {last:?}"
    );
    eprintln!("{frames} frames: {last:?}");
    last
}

#[test]
fn a_packet_generators_raw_frames_are_each_delivered_or_counted_dropped() {
    const FRAMES: u64 = 1_000_000;
    let lab = Lab::start("cnttgen", HUB_SPOKE);
    assert_mode(&lab);
    let (vm1, shared1) = (lab.ns("vm1"), lab.ns("shared1"));
    // A socket that takes the datagrams (and never reads them: what
    // its buffer cannot hold is shared1's own business, past its
    // eth0), so that shared1 sends nothing back.
    let to: SocketAddr = "10.0.2.4:9400".parse().unwrap();
    let _receiver = netns::run_in(&shared1, move || common::udp_bind_again(to)).unwrap();
    let mac = in_veth_mac(&vm1);
    assert!(common::wait_for(Duration::from_secs(10), || common::ping(
        &vm1, "10.0.2.4"
    )));

    // A flow the fast path carries from its first frames on (with
    // offload): a few frames, one every 20 ms, until it is installed;
    // then a million as fast as trafgen sends them.
    let carried_flow = trafgen_config(mac.as_deref(), 45001);
    let settled = common::wait_for(Duration::from_secs(20), || {
        trafgen(&vm1, &carried_flow, 5, Some("20ms"));
        !offloading() || offloaded(&lab, "vm1", 45001, &to.to_string())
    });
    assert!(settled, "trafgen's flow was never offloaded");
    let carried = run_frames(&lab, &carried_flow, FRAMES);
    if offloading() {
        // Frames in pages take the fast path like any other: all but
        // a handful (an ARP refresh, the kernel's own chatter).
        assert!(
            carried.carried * 100 >= carried.eth0_sent * 99,
            "the kernel carried the generator's flow: {carried:?}"
        );
    } else {
        assert_eq!(carried.carried, 0, "{carried:?}");
    }

    // A flow the daemon sees first: a flood of its first frames
    // reaches the queue toward the daemon faster than it reads them
    // (until the flow is installed, with offload); what the queue
    // drops is counted, with its reason.
    let new_flow = trafgen_config(mac.as_deref(), 45002);
    let flood = run_frames(&lab, &new_flow, FRAMES / 10);
    let unexplained: Vec<_> = (flood.drops.keys())
        .chain(carried.drops.keys())
        .filter(|r| {
            !matches!(
                r.as_str(),
                "ingress_queue_full" | "unroutable" | "malformed"
            )
        })
        .collect();
    assert_eq!(
        unexplained,
        Vec::<&String>::new(),
        "drops of other reasons: {carried:?} {flood:?}"
    );
}

/// The MAC address of `eth0` in `ns` when it is a veth (offload on),
/// `None` for a TUN `eth0`, which has none.
fn in_veth_mac(ns: &str) -> Option<String> {
    let mac = common::in_netns(ns, &["cat", "/sys/class/net/eth0/address"]);
    let mac = mac.trim();
    (!mac.is_empty() && offloading()).then(|| mac.to_owned())
}
