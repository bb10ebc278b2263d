//! Whom the hosts of a spread lab trust, on three hosts (namespaces on an
//! underlay bridge, each with its own `vnetd run --host`):
//!
//! - a change of policy applied host by host loses no packet between
//!   hosts; a change of the lab's numbering (a NIC added) makes the hosts
//!   refuse each other, and say so in `vnetd wait`, until every host runs
//!   it; a change of `hosts` is refused;
//! - no local user can put a route into a host's mesh speaker, a route for
//!   a gateway is taken only from the gateway's host, and a host that
//!   announces no digest of the lab's numbering gets no traffic and has no
//!   route used;
//! - frames the underlay discards are counted by reason.

use crate::common;

use common::hosts::Cluster;
use common::placement::{hub_spoke_three_hosts, hybrid_three_hosts, THREE_HOSTS};
use std::io::BufRead;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vnetd::host::routing::gobgp::vpn::{VpnRoute, VpnSpeaker, VpnSpeakerSpec};
use vnetd::host::routing::gobgp::Origin;

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The cluster's file, as every host reads it.
fn file_of(cluster: &Cluster) -> String {
    std::fs::read_to_string(cluster.file()).unwrap()
}

/// `vnetd apply FILE ARGS` on `host`.
fn apply(cluster: &Cluster, host: &str, args: &[&str]) -> Output {
    let file = cluster.file().to_str().unwrap().to_string();
    let mut all = vec!["apply", file.as_str()];
    all.extend_from_slice(args);
    cluster.ask(host, &all)
}

/// `vnetd stats --json` on `host`.
fn stats(cluster: &Cluster, host: &str) -> serde_json::Value {
    let out = cluster.ask(host, &["stats", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

/// What `host`'s underlay says of `other`: its trust and its counters.
fn underlay_host(cluster: &Cluster, host: &str, other: &str) -> serde_json::Value {
    let stats = stats(cluster, host);
    (stats["underlay"]["hosts"].as_array().into_iter().flatten())
        .find(|h| h["host"] == other)
        .cloned()
        .unwrap_or_else(|| panic!("{host} says nothing of {other}: {stats}"))
}

/// Whether `host` says `other` is trusted as `trust` says.
fn trusts_as(cluster: &Cluster, host: &str, other: &str, trust: &str) -> bool {
    underlay_host(cluster, host, other)["trust"] == trust
}

/// `vnetd wait --timeout 1` on `host`: it must not converge, and name
/// `other` as not trusted for `why`.
fn wait_names(cluster: &Cluster, host: &str, other: &str, why: &str) {
    let out = cluster.ask(host, &["wait", "--timeout", "1"]);
    let said = text(&out);
    assert!(!out.status.success(), "{host} converged: {said}");
    let address = THREE_HOSTS.iter().find(|(h, _)| *h == other).unwrap().1;
    let named = format!("host {other} ({address}) not trusted: {why}");
    assert!(
        said.contains(&named),
        "{host} does not say {named:?}: {said}"
    );
}

/// A ping from `ns` to `dst` every 20 ms, its replies' sequence numbers
/// read as they come, until dropped.
struct PingSeries {
    ping: common::Killed,
    replies: Arc<Mutex<Vec<u64>>>,
}

impl PingSeries {
    fn start(ns: &str, dst: &str) -> PingSeries {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "ping", "-n", "-i", "0.02", dst])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let replies: Arc<Mutex<Vec<u64>>> = Arc::default();
        let seen = replies.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let seq = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("icmp_seq="))
                    .and_then(|n| n.parse().ok());
                if let (true, Some(seq)) = (line.contains("bytes from"), seq) {
                    seen.lock().unwrap().push(seq);
                }
            }
        });
        PingSeries {
            ping: common::Killed(child),
            replies,
        }
    }

    /// The replies so far.
    fn replies(&self) -> Vec<u64> {
        self.replies.lock().unwrap().clone()
    }

    /// Waits (30 s at most) until `more` replies beyond `after` came.
    fn wait_replies(&self, after: usize, more: usize) {
        let enough = common::wait_for(Duration::from_secs(30), || {
            self.replies().len() >= after + more
        });
        assert!(enough, "only {} replies", self.replies().len());
    }

    /// Stops the series; returns the sequence numbers sent before the last
    /// reply that got none (every one up to the last reply was answered:
    /// nothing in flight is counted lost).
    fn lost(self) -> Vec<u64> {
        let replies = self.replies();
        drop(self.ping);
        let last = replies.iter().copied().max().unwrap_or(0);
        (1..=last).filter(|seq| !replies.contains(seq)).collect()
    }
}

/// `file` with an NSG no subnet or NIC uses: policy only.
fn with_unused_nsg(file: &str) -> String {
    let changed = file.replace(
        "network_security_groups:\n",
        "network_security_groups:\n  - name: unused-nsg\n    security_rules:\n      - {name: deny-ssh, priority: 200, direction: Inbound, access: Deny, protocol: Tcp, source_port_range: \"*\", destination_port_range: \"22\", source_address_prefix: \"*\", destination_address_prefix: \"*\"}\n",
    );
    assert_ne!(changed, file);
    changed
}

/// `file` with a NIC more in spoke2 (on h3): the plan's ports numbered
/// anew.
fn with_vm3(file: &str) -> String {
    let changed = file.replace(
        "    private_ip_address: 10.2.1.4\n",
        "    private_ip_address: 10.2.1.4\n  - name: vm3\n    subnet: spoke2/app\n    private_ip_address: 10.2.1.5\n",
    );
    assert_ne!(changed, file);
    changed
}

fn a_rolling_apply_keeps_the_hosts_together(tag: &str, offload: bool) {
    let cluster = Cluster::start(tag, &hub_spoke_three_hosts(), &THREE_HOSTS, offload);
    let all: Vec<&str> = THREE_HOSTS.iter().map(|(h, _)| *h).collect();
    let original = file_of(&cluster);

    // A policy change, host by host, under a ping from vm1 (h2) to vm2
    // (h3) through nva1 (h1): every echo crosses all three hosts, both
    // ways, and none is lost.
    let series = PingSeries::start(&cluster.ns("vm1"), "10.2.1.4");
    series.wait_replies(0, 10);
    std::fs::write(cluster.file(), with_unused_nsg(&original)).unwrap();
    for host in &all {
        let out = apply(&cluster, host, &[]);
        let said = text(&out);
        assert!(out.status.success(), "apply on {host}: {said}");
        assert!(
            said.contains("nothing else was rebuilt") && said.contains("converged"),
            "apply on {host}: {said}"
        );
        for other in &all {
            assert!(
                cluster.trust_on(other).iter().all(|(_, t)| t == "trusted"),
                "{other} distrusts a host after the apply on {host}: {:?}",
                cluster.trust_on(other)
            );
        }
    }
    let applied = series.replies().len();
    series.wait_replies(applied, 20);
    let lost = series.lost();
    assert_eq!(lost, Vec::<u64>::new(), "echoes lost during the applies");

    // The hosts cannot change while the lab runs.
    let generation = stats(&cluster, "h1")["generation"].clone();
    let moved = original.replace("192.0.2.3}", "192.0.2.9}");
    assert_ne!(moved, original);
    std::fs::write(cluster.file(), &moved).unwrap();
    let out = apply(&cluster, "h1", &["--no-wait"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("the lab's hosts cannot change while it runs")
            && said.contains("192.0.2.9")
            && said.contains("restart of every host"),
        "{said}"
    );
    assert_eq!(stats(&cluster, "h1")["generation"], generation);

    // A NIC added renumbers the lab's ports: once h1 runs it, h1 and the
    // others refuse each other, and say so, until every host runs it.
    std::fs::write(cluster.file(), with_vm3(&original)).unwrap();
    let out = apply(&cluster, "h1", &["--no-wait"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("rebuilt: the lab's numbering between hosts"),
        "{said}"
    );
    let otherwise = "it numbers the lab otherwise";
    wait_names(&cluster, "h1", "h2", otherwise);
    wait_names(&cluster, "h1", "h3", otherwise);
    assert!(common::wait_for(Duration::from_secs(15), || trusts_as(
        &cluster,
        "h2",
        "h1",
        "other_numbering"
    )));
    wait_names(&cluster, "h2", "h1", otherwise);
    // h2 sends h1 nothing now: vm1's echoes through nva1 are dropped at
    // h2's underlay, counted against h1.
    let not_sent = underlay_host(&cluster, "h2", "h1")["not_sent"]
        .as_u64()
        .unwrap();
    assert!(!common::ping(&cluster.ns("vm1"), "10.2.1.4"));
    let now = underlay_host(&cluster, "h2", "h1")["not_sent"]
        .as_u64()
        .unwrap();
    assert!(now >= not_sent + 3, "{not_sent} -> {now}");
    assert!(
        cluster
            .stderr_of("h2")
            .contains("host h1 (192.0.2.1) is not trusted: it numbers the lab otherwise"),
        "{}",
        cluster.stderr_of("h2")
    );
    // h2 and h3 follow: the hosts trust each other again, converge, and
    // carry vm1's echoes.
    for host in ["h2", "h3"] {
        let out = apply(&cluster, host, &["--no-wait"]);
        assert!(out.status.success(), "apply on {host}: {}", text(&out));
    }
    cluster.wait_trusted(&all);
    for host in &all {
        let out = cluster.ask(host, &["wait", "--timeout", "30"]);
        assert!(out.status.success(), "{host}: {}", text(&out));
    }
    assert!(common::wait_for(Duration::from_secs(10), || common::ping(
        &cluster.ns("vm1"),
        "10.2.1.4"
    )));
    assert!(
        cluster
            .stderr_of("h2")
            .contains("host h1 (192.0.2.1) is trusted again"),
        "{}",
        cluster.stderr_of("h2")
    );
}

#[test]
fn a_rolling_apply_keeps_the_hosts_together_with_offload() {
    a_rolling_apply_keeps_the_hosts_together("sh3r", true);
}

#[test]
fn a_rolling_apply_keeps_the_hosts_together_without_offload() {
    a_rolling_apply_keeps_the_hosts_together("sh3rn", false);
}

/// The API socket of host `host`'s mesh speaker.
fn mesh_socket(tag: &str, host: &str) -> String {
    format!("/run/vnetd-bgp/{tag}-mesh-{host}/gobgpd-vpn.sock")
}

/// `gobgp global rib -a vpnv4 add` of `prefix`, learned by the hub's
/// gateway (gateway 0, instance 0) from the branch, as the mesh carries
/// it.
fn learned_route_args(prefix: &str) -> Vec<String> {
    [
        "global",
        "rib",
        "-a",
        "vpnv4",
        "add",
        prefix,
        "label",
        "0",
        "rd",
        "192.168.255.1:0",
        "nexthop",
        "192.168.255.1",
        "origin",
        "igp",
        "aspath",
        "65050",
        "large-community",
        "4200000001:0:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Adds `prefix` to the mesh speaker at `socket`, as root.
fn inject(socket: &str, prefix: &str) {
    let out = Command::new("gobgp")
        .arg(format!("--target=unix://{socket}"))
        .args(learned_route_args(prefix))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// Whether the mesh speaker at `socket` holds a route for `prefix`.
fn speaker_holds(socket: &str, prefix: &str) -> bool {
    let out = Command::new("gobgp")
        .arg(format!("--target=unix://{socket}"))
        .args(["-j", "global", "rib", "-a", "vpnv4"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains(&format!("\"{prefix}\""))
}

/// Whether `host` forwards vm1's packets for `prefix` to the hub's gateway.
fn vm1_routes_to_gateway(cluster: &Cluster, host: &str, prefix: &str) -> bool {
    let out = cluster.ask(host, &["routes", "--nic", "vm1"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.contains(prefix) && l.contains("VirtualNetworkGateway"))
}

/// Puts `prefix` into h3's speaker (`from`, which h2 hears but must not
/// take it from), waits until h2's speaker holds it, then puts a control
/// prefix into h1's (the gateway's host) and waits until h2 forwards by
/// it: by then h2 has weighed both, and must not forward by `prefix`.
fn h2_ignores(cluster: &Cluster, tag: &str, prefix: &str, control: &str) {
    let h2 = mesh_socket(tag, "h2");
    assert!(
        common::wait_for(Duration::from_secs(15), || speaker_holds(&h2, prefix)),
        "h2's speaker never received {prefix}"
    );
    inject(&mesh_socket(tag, "h1"), control);
    assert!(
        common::wait_for(Duration::from_secs(15), || vm1_routes_to_gateway(
            cluster, "h2", control
        )),
        "h2 never took {control} from the gateway's host"
    );
    assert!(
        !vm1_routes_to_gateway(cluster, "h2", prefix),
        "h2 took {prefix}"
    );
}

/// A VXLAN frame sent from `src` (an address of namespace `ns`) to
/// 192.0.2.2 (h2) with VNI `vni`, for the port whose MAC ends in `port`,
/// carrying a bare IPv4 header.
fn send_vxlan(ns: &str, src: &str, vni: u32, port: u8) {
    let script = "import socket, sys\n\
        src, vni, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n\
        vxlan = bytes([8, 0, 0, 0]) + vni.to_bytes(3, 'big') + bytes([0])\n\
        eth = bytes([2, 0x56, 0x58, 0, 0, port, 2, 0, 0, 0, 0, 0x99, 8, 0])\n\
        ip = bytes.fromhex('4500001400004000401100000a0101090a010104')\n\
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
        s.bind((src, 0))\n\
        s.sendto(vxlan + eth + ip, ('192.0.2.2', 4789))\n";
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", script, src])
        .arg(vni.to_string())
        .arg(port.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// h2's underlay counters: `(wrong_vni, unknown_port, untrusted, refused
/// from h3)`.
fn discards_on_h2(cluster: &Cluster) -> (u64, u64, u64, u64) {
    let stats = stats(cluster, "h2");
    let u = &stats["underlay"];
    let field = |k: &str| u[k].as_u64().unwrap_or_else(|| panic!("{k}: {u}"));
    let h3 = (u["hosts"].as_array().into_iter().flatten())
        .find(|h| h["host"] == "h3")
        .map_or(0, |h| h["refused"].as_u64().unwrap());
    (
        field("wrong_vni"),
        field("unknown_port"),
        field("untrusted"),
        h3,
    )
}

/// Waits until h2's discards are `before` plus `more`, then checks they
/// are exactly that.
fn discarded(cluster: &Cluster, before: (u64, u64, u64, u64), more: (u64, u64, u64, u64)) {
    let wanted = (
        before.0 + more.0,
        before.1 + more.1,
        before.2 + more.2,
        before.3 + more.3,
    );
    common::wait_for(Duration::from_secs(10), || {
        discards_on_h2(cluster) == wanted
    });
    assert_eq!(discards_on_h2(cluster), wanted, "from {before:?}");
}

/// A directory removed when dropped.
struct RemovedDir(std::path::PathBuf);

impl Drop for RemovedDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn only_the_lab_speaks_for_its_hosts(tag: &str, offload: bool) {
    let mut cluster = Cluster::start(tag, &hybrid_three_hosts(), &THREE_HOSTS, offload);

    // No local user reaches h2's mesh speaker: not through its socket
    // (root's alone), not over TCP (it listens on none).
    let h2 = mesh_socket(tag, "h2");
    {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let socket = std::fs::metadata(&h2).unwrap();
        assert!(socket.file_type().is_socket());
        assert_eq!(socket.permissions().mode() & 0o777, 0o600);
        let dir = std::fs::metadata(std::path::Path::new(&h2).parent().unwrap()).unwrap();
        assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    }
    let add_as = |user: &str, target: &[&str], prefix: &str| {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", cluster.host_ns("h2")))
            .arg("setpriv")
            .args([format!("--reuid={user}"), format!("--regid={user}")])
            .arg("--clear-groups")
            .arg("gobgp")
            .args(target)
            .args(learned_route_args(prefix))
            .output()
            .unwrap()
    };
    let unix = format!("--target=unix://{h2}");
    for target in [vec![unix.as_str()], vec!["-u", "127.0.0.1", "-p", "50151"]] {
        let out = add_as("65534", &target, "172.31.2.0/24");
        assert!(!out.status.success(), "{target:?}: {}", text(&out));
    }
    assert!(!speaker_holds(&h2, "172.31.2.0/24"));
    // The same command as root reaches it: only the user made the
    // difference.
    let out = add_as("0", &[unix.as_str()], "172.31.6.0/24");
    assert!(out.status.success(), "{}", text(&out));
    assert!(speaker_holds(&h2, "172.31.6.0/24"));

    // A route for the hub's gateway (on h1) that h3 announces is not
    // taken: only h1 speaks for its gateway.
    inject(&mesh_socket(tag, "h3"), "172.31.3.0/24");
    h2_ignores(&cluster, tag, "172.31.3.0/24", "172.31.1.0/24");
    assert!(!vm1_routes_to_gateway(&cluster, "h2", "172.31.2.0/24"));

    // Frames h2's workers cannot deliver, counted by reason: a VNI that is
    // not vm1's VNet's (2), and a MAC that names a port of h1 (hub-vm, 0).
    let before = discards_on_h2(&cluster);
    let h1_ns = cluster.host_ns("h1");
    send_vxlan(&h1_ns, "192.0.2.1", 99, 1);
    discarded(&cluster, before, (1, 0, 0, 0));
    send_vxlan(&h1_ns, "192.0.2.1", 1, 0);
    discarded(&cluster, before, (1, 1, 0, 0));

    // A speaker of h3's own, in the mesh's AS on its port, announcing a
    // route for the hub's gateway but no digest of the lab's numbering.
    cluster.kill9("h3");
    let down = cluster.down("h3");
    assert!(down.status.success(), "{}", text(&down));
    let run_dir =
        RemovedDir(std::env::temp_dir().join(format!("vnetd-{tag}-rogue-{}", std::process::id())));
    let rogue = VpnSpeaker::start(VpnSpeakerSpec {
        netns: cluster.host_ns("h3"),
        asn: 4_200_000_000,
        address: "192.0.2.3".parse().unwrap(),
        port: 1790,
        neighbors: vec!["192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap()],
        keepalive_secs: 1,
        hold_secs: 3,
        run_dir: run_dir.0.clone(),
    })
    .unwrap();
    rogue
        .api()
        .add(&VpnRoute {
            distinguisher: ("192.168.255.1".parse().unwrap(), 0),
            prefix: "172.31.4.0/24".parse().unwrap(),
            next_hop: "192.168.255.1".parse().unwrap(),
            as_path: vec![65050],
            origin: Origin::Igp,
            large_communities: vec![(4_200_000_001, 0, 0)],
            from: None,
        })
        .unwrap();
    // Heard, and not trusted, by both others, which say so.
    for host in ["h1", "h2"] {
        assert!(
            common::wait_for(Duration::from_secs(20), || trusts_as(
                &cluster,
                host,
                "h3",
                "no_digest"
            )),
            "{host}: {}",
            underlay_host(&cluster, host, "h3")
        );
        wait_names(
            &cluster,
            host,
            "h3",
            "it announces no digest of the lab's numbering",
        );
        let said = cluster.stderr_of(host);
        assert!(
            said.contains(
                "host h3 (192.0.2.3) is not trusted: it announces no digest of the lab's numbering"
            ),
            "{host}: {said}"
        );
    }
    // Its route is not used.
    h2_ignores(&cluster, tag, "172.31.4.0/24", "172.31.5.0/24");
    // It gets no traffic: hub-vm's echoes to vm2 (placed on h3) are
    // dropped at h1's underlay, counted against h3.
    let not_sent = underlay_host(&cluster, "h1", "h3")["not_sent"]
        .as_u64()
        .unwrap();
    assert!(!common::ping(&cluster.ns("hub-vm"), "10.2.1.4"));
    let now = underlay_host(&cluster, "h1", "h3")["not_sent"]
        .as_u64()
        .unwrap();
    assert!(now >= not_sent + 3, "{not_sent} -> {now}");
    // Its frames are refused, counted against it; a source that is no
    // host of the lab's, only as untrusted.
    let before = discards_on_h2(&cluster);
    let h3_ns = cluster.host_ns("h3");
    send_vxlan(&h3_ns, "192.0.2.3", 2, 1);
    discarded(&cluster, before, (0, 0, 1, 1));
    let add = Command::new("ip")
        .args(["-n", &h3_ns, "addr", "add", "192.0.2.9/24", "dev", "eth0"])
        .output()
        .unwrap();
    assert!(add.status.success(), "{}", text(&add));
    send_vxlan(&h3_ns, "192.0.2.9", 2, 1);
    discarded(&cluster, before, (0, 0, 2, 1));
    rogue.stop();
}

#[test]
fn only_the_lab_speaks_for_its_hosts_with_offload() {
    only_the_lab_speaks_for_its_hosts("sh3x", true);
}

#[test]
fn only_the_lab_speaks_for_its_hosts_without_offload() {
    only_the_lab_speaks_for_its_hosts("sh3xn", false);
}
