//! Every example lab in `config/` runs, and proves at least one path it is
//! meant to show, with real traffic between its namespaces; then `vnetd
//! verify` finds every expectation of its file holding, live, and finds
//! what `vnetd check` finds offline (verdicts, paths, Deny places). Needs
//! root (see `common::require_root`).

use crate::common;

use common::bgp_agreement::assert_live_equals_offline;
use common::check_agreement::{assert_verify_agrees_with_check, firewall_log, verify_live};
use common::{
    in_netns, iperf3_server_on, iperf3_transfer_to, ping, tcp_echo, udp_echo, wait_for, Lab,
};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vnetd::daemon::options::FlowLogOptions;
use vnetd::daemon::RunOptions;
use vnetd::dataplane::DropReason;
use vnetd::host::netns;

fn example(name: &str) -> String {
    std::fs::read_to_string(format!("{}/config/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The topology the lab runs, as the file text it was given.
fn running_text(lab: &Lab) -> String {
    lab.daemon().snapshot().topology.text.to_string()
}

/// `vnetd check` of `text`, from a file: exit 0 when every expectation
/// holds on the compiled tables with what BGP learns.
fn check_offline(name: &str, text: &str) {
    let dir = std::env::temp_dir().join(format!("vnetd-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .arg("check")
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The AS paths of the routes to `prefix` that `gateway` learned in the
/// running lab, from its speakers.
fn learned_paths(lab: &Lab, gateway: &str, prefix: &str) -> Vec<Vec<u32>> {
    let snap = lab.daemon().snapshot();
    let mut paths: Vec<Vec<u32>> = (0..2)
        .flat_map(|i| snap.learned.of(gateway, i).to_vec())
        .filter(|r| r.prefix.to_string() == prefix)
        .map(|r| r.as_path)
        .collect();
    paths.sort();
    paths
}

#[test]
fn vnet2vnet_triangle_reaches_the_branch_over_bgp_and_after_losing_a_side() {
    let text = example("vnet2vnet-triangle.yaml");
    let mut lab = Lab::start("extri", &text);
    // BGP settles within seconds: the pings retry until it has.
    let start = Instant::now();
    while !ping(&lab.ns("spoke-vm"), "192.168.1.10") {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the spoke never reached the branch over BGP"
        );
    }
    verify_live(&mut lab);
    assert_live_equals_offline(&lab, &running_text(&lab));
    assert_eq!(
        learned_paths(&lab, "gw-a", "192.168.0.0/16"),
        [
            vec![65020, 65030, 65050],
            vec![65020, 65030, 65050],
            vec![65030, 65050]
        ]
    );

    // The failover: both connections between gw-a and gw-c go, live.
    let failover: String = running_text(&lab)
        .lines()
        .filter(|l| !l.contains("name: a-to-c") && !l.contains("name: c-to-a"))
        .map(|l| format!("{l}\n"))
        .collect();
    check_offline("vnet2vnet-triangle-failover.yaml", &failover);
    lab.daemon().apply("failover.yaml", &failover).unwrap();
    assert_live_equals_offline(&lab, &failover);
    // BGP transit: the branch only through gw-b's two instances.
    assert_eq!(
        learned_paths(&lab, "gw-a", "192.168.0.0/16"),
        [vec![65020, 65030, 65050], vec![65020, 65030, 65050]]
    );
    let start = Instant::now();
    while !ping(&lab.ns("spoke-vm"), "192.168.1.10") {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the spoke never reached the branch through gw-b"
        );
    }
    verify_live(&mut lab);
    // The running lab's trace names the third gateway, as the file's does.
    let socket = lab.serve_control();
    let live = common::vnetd_command(&socket)
        .args(["trace", "--from", "spoke-vm", "--to", "onprem-vm"])
        .output()
        .unwrap();
    let path = String::from_utf8_lossy(&live.stdout)
        .lines()
        .find(|l| l.starts_with("Path: "))
        .map(str::to_string);
    assert_eq!(
        path.as_deref(),
        Some("Path: spoke-vm > gw-a > gw-b > gw-c"),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
}

#[test]
fn every_example_is_covered_here() {
    let mut names: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "avs-expressroute.yaml",
            // Its test: e2e_dual_device.rs.
            "dual-device-vpn.yaml",
            "dual-stack.yaml",
            "expressroute.yaml",
            // Its test: e2e_application_rules.rs.
            "firewall-application-rules.yaml",
            "forced-tunnel.yaml",
            "ha-nva.yaml",
            "hub-spoke-firewall.yaml",
            "hub-spoke.yaml",
            "hybrid.yaml",
            // Its test: e2e_internet_edge.rs.
            "internet-edge.yaml",
            // Its test: e2e_network_manager.rs.
            "network-manager.yaml",
            // Its test: e2e_dns.rs.
            "private-endpoints.yaml",
            // Its test: e2e_public_lb.rs.
            "public-load-balancer.yaml",
            // Its test: e2e_route_server.rs.
            "route-server.yaml",
            // Its test: e2e_service_endpoints.rs.
            "service-endpoints.yaml",
            "three-region-mesh.yaml",
            "three-tier-nsg.yaml",
            // Their tests: e2e_virtual_wan.rs and e2e_virtual_wan_branch.rs.
            "virtual-wan-custom-isolation.yaml",
            "virtual-wan.yaml",
            "vnet2vnet-triangle.yaml"
        ],
        "a new example needs its end-to-end test in this file"
    );
}

#[test]
fn hub_spoke_chains_spoke_traffic_through_the_nva() {
    let mut lab = Lab::start("exhs", &example("hub-spoke.yaml"));
    assert!(ping(&lab.ns("vm1"), "10.2.1.4"));
    assert!(
        lab.stats("nva1").packets_sent >= 6,
        "the NVA carried the pings"
    );
    verify_live(&mut lab);
}

#[test]
fn hub_spoke_firewall_filters_spoke_to_spoke_traffic_by_its_policy() {
    let logs = tempfile::tempdir().unwrap();
    let options = RunOptions {
        flow_log: Some(FlowLogOptions {
            dir: logs.path().to_path_buf(),
            interval: Duration::from_millis(500),
        }),
        ..RunOptions::default()
    };
    // The firewall's namespace too is behind the lab's prefix.
    let text = common::with_netns_prefix(&example("hub-spoke-firewall.yaml"), "exfw");
    let mut lab = Lab::start_with("exfw", &text, options);
    let (vm1, vm2) = (lab.ns("vm1"), lab.ns("vm2"));
    assert!(ping(&vm1, "10.2.1.4"), "ping-between-spokes allows ICMP");
    let web = "10.2.1.4:80".parse().unwrap();
    assert!(tcp_echo(&vm1, &vm2, web), "spoke1-to-spoke2-web allows it");
    let denied_before = lab.stats("hub-fw").drops_for(DropReason::FirewallDenied);
    let ssh = "10.2.1.4:22".parse().unwrap();
    assert!(!tcp_echo(&vm1, &vm2, ssh), "no-ssh-into-spoke2 denies it");
    let back = "10.1.1.4:80".parse().unwrap();
    assert!(!tcp_echo(&vm2, &vm1, back), "the default action denies it");
    let denied = lab.stats("hub-fw").drops_for(DropReason::FirewallDenied) - denied_before;
    assert!(denied >= 2, "both attempts were dropped at the firewall");
    // The Basic tier forwards at most 250 Mbps; iperf3 through it never
    // measures more (its fill of the cap is a benchmark's business).
    let _server = iperf3_server_on(&vm2, "10.2.1.4", 443);
    let report = iperf3_transfer_to(&vm1, "10.2.1.4", 443, "8M");
    let mbps = report["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap()
        / 1e6;
    assert!(mbps <= 250.0 * 1.1, "{mbps} Mbps through a Basic firewall");
    // The network rule log names the rule of each decision, or the
    // default action.
    let wanted = [
        ("Allow", 80, "spoke1-to-spoke2-web", ""),
        ("Deny", 22, "no-ssh-into-spoke2", ""),
        ("Deny", 80, "", "Default Action"),
    ];
    let mut records = Vec::new();
    let logged = wait_for(Duration::from_secs(30), || {
        records = firewall_log(logs.path());
        wanted.iter().all(|(action, port, rule, reason)| {
            records.iter().any(|r| {
                let p = &r["properties"];
                p["Action"] == *action
                    && p["DestinationPort"] == *port
                    && p["Rule"] == *rule
                    && p["ActionReason"] == *reason
                    && p["Policy"] == "hub-fw-policy"
                    && p["Protocol"] == "TCP"
            })
        })
    });
    assert!(logged, "{records:#?}");
    assert!(
        records.iter().all(|r| r["category"] == "AZFWNetworkRule"),
        "{records:#?}"
    );
    verify_live(&mut lab);
}

#[test]
fn hybrid_branch_reaches_the_transit_spoke_over_bgp() {
    let mut lab = Lab::start("exhy", &example("hybrid.yaml"));
    // BGP comes up and the branch learns the VNets within seconds; the
    // pings retry until it has.
    let start = std::time::Instant::now();
    while !ping(&lab.ns("onprem-vm"), "10.1.1.4") {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the branch never reached vm1 over its BGP routes"
        );
    }
    assert!(ping(&lab.ns("vm1"), "192.168.1.10"));
    assert!(!ping(&lab.ns("vm2"), "192.168.1.10"));
    assert!(lab.stats("branch1-to-hub-vpngw-0").packets_received >= 6);
    verify_live(&mut lab);
    assert_live_equals_offline(&lab, &running_text(&lab));
}

#[test]
fn expressroute_datacenter_reaches_the_transit_spoke_over_its_circuit() {
    let mut lab = Lab::start("exer", &example("expressroute.yaml"));
    // Both links' sessions come up and the edge learns the VNets within
    // seconds; the pings retry until it has.
    let start = std::time::Instant::now();
    while !ping(&lab.ns("dc-host"), "10.1.1.4") {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the datacenter never reached vm1 over its circuit"
        );
    }
    assert!(ping(&lab.ns("vm1"), "172.20.1.10"));
    assert!(ping(&lab.ns("hub-vm"), "172.20.1.10"));
    let carried = lab.stats("dc1-to-hub-ergw-0").packets_received
        + lab.stats("dc1-to-hub-ergw-1").packets_received;
    assert!(
        carried >= 6,
        "the circuit's tunnels carried {carried} packets"
    );
    verify_live(&mut lab);
    assert_live_equals_offline(&lab, &running_text(&lab));
}

#[test]
fn avs_private_cloud_and_datacenter_reach_each_other_over_global_reach() {
    let mut lab = Lab::start("exavs", &example("avs-expressroute.yaml"));
    // Both circuits' sessions come up and the edges learn the hub within
    // seconds; the pings retry until they have.
    for (host, to) in [("dc-host", "10.0.1.4"), ("avs-vm", "10.0.1.4")] {
        let start = Instant::now();
        while !ping(&lab.ns(host), to) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{host} never reached the hub VM over its circuit"
            );
        }
    }
    assert!(
        ping(&lab.ns("hub-vm"), "172.20.1.10"),
        "VM to the datacenter"
    );
    assert!(
        ping(&lab.ns("hub-vm"), "10.110.1.10"),
        "VM to the private cloud"
    );
    assert!(
        ping(&lab.ns("dc-host"), "10.110.1.10"),
        "datacenter to the private cloud"
    );
    assert!(
        ping(&lab.ns("avs-vm"), "172.20.1.10"),
        "private cloud to the datacenter"
    );
    let carried = lab.stats("avs1-to-hub-ergw-0").packets_received
        + lab.stats("avs1-to-hub-ergw-1").packets_received;
    assert!(
        carried >= 6,
        "the private cloud's circuit carried {carried} packets"
    );
    // Each customer edge learns the other site over BGP, from ASN 12076, on
    // both links: the datacenter's BIRD, and the private cloud's Tier-0.
    let birdc = |router: &str, to: &str| {
        let router = lab.ns(router);
        let ctl = format!("/run/vnetd-bgp/{router}/bird.ctl");
        common::in_netns(
            &router,
            &["birdc", "-s", &ctl, "show", "route", "for", to, "all"],
        )
    };
    let dc1 = || birdc("dc1", "10.110.1.10");
    let avs1 = || birdc("avs1", "172.20.1.10");
    let learned = common::wait_for(Duration::from_secs(30), || {
        let (dc1, avs1) = (dc1(), avs1());
        dc1.contains("BGP.as_path: 12076")
            && dc1.contains("via 172.16.0.2 on msee0")
            && dc1.contains("via 172.16.0.6 on msee1")
            && avs1.contains("BGP.as_path: 12076")
            && avs1.contains("via 10.100.0.226 on msee0")
            && avs1.contains("via 10.100.0.230 on msee1")
    });
    assert!(learned, "{}\n{}", dc1(), avs1());
    verify_live(&mut lab);
    assert_live_equals_offline(&lab, &running_text(&lab));

    // Without Global Reach the datacenter's router has no route to the
    // private cloud (the hub's gateway passes nothing from one circuit to
    // the other): the probe never leaves the datacenter, and `check` says
    // so too, at the router, not at the gateway.
    let text = running_text(&lab);
    let (start, end) = (
        text.find("express_route_circuit_connections:").unwrap(),
        text.find("virtual_network_gateways:").unwrap(),
    );
    let without = format!("{}{}", &text[..start], &text[end..]);
    lab.daemon()
        .apply("avs-without-global-reach.yaml", &without)
        .unwrap_or_else(|e| panic!("apply: {e:?}"));
    let withdrawn = common::wait_for(Duration::from_secs(30), || {
        !common::in_netns(&lab.ns("dc1"), &["ip", "route"]).contains("10.110.1.0/24")
    });
    assert!(
        withdrawn,
        "{}",
        common::in_netns(&lab.ns("dc1"), &["ip", "route"])
    );
    let report = assert_verify_agrees_with_check(&mut lab, &without);
    let row = |name: &str| {
        let row = report["expectations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap()
            .clone();
        (
            row["observed"]["result"].clone(),
            row["observed"]["reason"].clone(),
            row["observed"]["at"].clone(),
        )
    };
    assert_eq!(
        row("datacenter-reaches-private-cloud"),
        ("Deny".into(), "route_none".into(), "site dc1".into())
    );
    assert_eq!(
        row("private-cloud-reaches-datacenter"),
        ("Deny".into(), "route_none".into(), "site avs1".into())
    );
    assert_eq!(row("vm-reaches-private-cloud").0, "Allow");
}

#[test]
fn three_region_mesh_reaches_every_region() {
    let text = example("three-region-mesh.yaml");
    // Flow-style NICs: give each its own namespace name here.
    let text = text
        .replace(
            "{ name: weu-vm, subnet",
            "{ name: weu-vm, netns: exmesh-weu-vm, subnet",
        )
        .replace(
            "{ name: eus-vm, subnet",
            "{ name: eus-vm, netns: exmesh-eus-vm, subnet",
        )
        .replace(
            "{ name: sea-vm, subnet",
            "{ name: sea-vm, netns: exmesh-sea-vm, subnet",
        );
    let mut lab = Lab::start_exact("exmesh", &text);
    assert!(
        ping(&lab.ns("weu-vm"), "10.20.1.4"),
        "West Europe -> East US"
    );
    assert!(
        ping(&lab.ns("weu-vm"), "10.30.1.4"),
        "West Europe -> Southeast Asia"
    );
    assert!(
        ping(&lab.ns("sea-vm"), "10.20.1.4"),
        "Southeast Asia -> East US"
    );
    verify_live(&mut lab);
}

#[test]
fn three_tier_nsgs_let_only_the_app_tier_reach_the_database() {
    let mut lab = Lab::start("ex3t", &example("three-tier-nsg.yaml"));
    let db = "10.50.3.4:5432".parse().unwrap();
    assert!(
        tcp_echo(&lab.ns("app1"), &lab.ns("db1"), db),
        "app tier -> db"
    );
    assert!(
        !tcp_echo(&lab.ns("web1"), &lab.ns("db1"), db),
        "web tier -> db is denied"
    );
    assert!(lab.stats("db1").drops_for(DropReason::NsgInbound) >= 1);
    let app = "10.50.2.4:8080".parse().unwrap();
    assert!(
        tcp_echo(&lab.ns("web2"), &lab.ns("app1"), app),
        "web tier -> app"
    );
    verify_live(&mut lab);
}

#[test]
fn dual_stack_peering_carries_both_families() {
    let mut lab = Lab::start("exds", &example("dual-stack.yaml"));
    assert!(ping(&lab.ns("left-vm"), "fd00:20:0:1::4"));
    assert!(ping(&lab.ns("left-vm"), "10.70.1.4"));
    verify_live(&mut lab);
}

#[test]
fn forced_tunnel_sends_the_spokes_internet_traffic_to_the_nva() {
    let mut lab = Lab::start("exft", &example("forced-tunnel.yaml"));
    // The hub is reached directly over the peering...
    assert!(ping(&lab.ns("spoke-vm"), "10.0.1.4"));
    let before = lab.stats("fw");
    // ...while Internet-bound and unused private space go to the NVA,
    // whose own subnet has no Internet to hand them to.
    assert!(!ping(&lab.ns("spoke-vm"), "203.0.113.10"));
    assert!(!ping(&lab.ns("spoke-vm"), "192.168.7.7"));
    let after = lab.stats("fw");
    assert!(
        after.packets_received >= before.packets_received + 6,
        "the NVA received them: {after:?}"
    );
    assert!(
        after.drops_for(DropReason::NextHopInternet) >= 3,
        "{after:?}"
    );
    assert!(after.drops_for(DropReason::RouteNone) >= 3, "{after:?}");
    assert_eq!(
        lab.stats("spoke-vm").drops_for(DropReason::NextHopInternet),
        0
    );
    verify_live(&mut lab);
}

/// A listener that completes TCP handshakes on `at` inside a namespace (what
/// an NVA's sshd is to its health probe), until stopped.
struct ProbeListener {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProbeListener {
    fn start(ns: &str, at: SocketAddr) -> ProbeListener {
        let listener = netns::run_in(ns, move || Ok(TcpListener::bind(at)?)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                // Accept and close: the handshake is the answer.
                let _ = listener.accept();
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        ProbeListener {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ProbeListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Counts the packets a namespace's kernel forwards, with nftables.
fn count_forwarded(ns: &str) {
    in_netns(ns, &["nft", "add table inet lab"]);
    in_netns(
        ns,
        &[
            "nft",
            "add chain inet lab forwarded { type filter hook forward priority 0; }",
        ],
    );
    in_netns(ns, &["nft", "add rule inet lab forwarded counter"]);
}

fn forwarded(ns: &str) -> u64 {
    let listing = in_netns(ns, &["nft", "list chain inet lab forwarded"]);
    let after = listing
        .split("counter packets ")
        .nth(1)
        .expect("the counter is listed");
    after.split_whitespace().next().unwrap().parse().unwrap()
}

/// Names of the backends the probes find down now.
fn down(lab: &Lab) -> Vec<String> {
    let plane = lab.daemon().plane();
    plane
        .snapshot
        .health
        .down()
        .map(|t| t.nic.clone())
        .collect()
}

fn wait_for_down(lab: &Lab, expected: &[&str]) {
    let start = Instant::now();
    while down(lab) != expected {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the backends down are {:?}, not {expected:?}",
            down(lab)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `flow` and says which NVAs' kernels forwarded its packets.
fn crossed(lab: &Lab, flow: impl FnOnce() -> bool) -> Vec<&'static str> {
    let before = [forwarded(&lab.ns("nva1")), forwarded(&lab.ns("nva2"))];
    assert!(flow(), "the flow got through");
    let after = [forwarded(&lab.ns("nva1")), forwarded(&lab.ns("nva2"))];
    ["nva1", "nva2"]
        .into_iter()
        .zip(before.iter().zip(after))
        .filter(|(_, (b, a))| a > *b)
        .map(|(nva, _)| nva)
        .collect()
}

#[test]
fn ha_nvas_behind_ha_ports_carry_each_flow_through_one_and_fail_over() {
    let mut lab = Lab::start("exha", &example("ha-nva.yaml"));
    let ssh: [(&str, SocketAddr); 2] = [
        ("nva1", "10.0.1.4:22".parse().unwrap()),
        ("nva2", "10.0.1.5:22".parse().unwrap()),
    ];
    let mut listeners: Vec<Option<ProbeListener>> = ssh
        .iter()
        .map(|(nva, at)| Some(ProbeListener::start(&lab.ns(nva), *at)))
        .collect();
    for (nva, _) in &ssh {
        count_forwarded(&lab.ns(nva));
    }
    // The NVAs answer their probes (the first ones may have come before
    // the listeners); nothing serves the web frontend in this test.
    let start = Instant::now();
    while !lab
        .daemon()
        .lb_backends()
        .iter()
        .any(|(t, s)| t.nic == "nva1" && s.consecutive_successes >= 1)
        || !lab
            .daemon()
            .lb_backends()
            .iter()
            .any(|(t, s)| t.nic == "nva2" && s.consecutive_successes >= 1)
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            lab.daemon().lb_backends()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for_down(&lab, &["web1", "web2"]);

    // Ping, TCP and UDP from spoke1 to spoke2 each cross exactly one NVA,
    // both ways (a flow and its reply hash alike).
    let (vm1, vm2) = (lab.ns("vm1"), lab.ns("vm2"));
    let server: SocketAddr = "10.2.1.4:7000".parse().unwrap();
    let mut used = Vec::new();
    for (what, path) in [
        ("ping", crossed(&lab, || ping(&vm1, "10.2.1.4"))),
        ("tcp", crossed(&lab, || tcp_echo(&vm1, &vm2, server))),
        ("udp", crossed(&lab, || udp_echo(&vm1, &vm2, server))),
    ] {
        assert_eq!(path.len(), 1, "{what} crossed {path:?}");
        used.push(path[0]);
    }

    // One NVA's probe listener stops: it is probed down, and new flows
    // keep flowing, through the other.
    let failed = used[0];
    let (index, survivor) = if failed == "nva1" {
        (0, "nva2")
    } else {
        (1, "nva1")
    };
    listeners[index] = None;
    wait_for_down(&lab, &[failed, "web1", "web2"]);
    for port in 7001..7004 {
        let server: SocketAddr = format!("10.2.1.4:{port}").parse().unwrap();
        assert_eq!(crossed(&lab, || ping(&vm1, "10.2.1.4")), [survivor]);
        assert_eq!(crossed(&lab, || tcp_echo(&vm1, &vm2, server)), [survivor]);
        assert_eq!(crossed(&lab, || udp_echo(&vm1, &vm2, server)), [survivor]);
    }

    // With web servers behind the web frontend (their HTTP probes up),
    // every expectation of the file holds live, through the surviving NVA.
    let _web: Vec<WebServer> = ["web1", "web2"]
        .iter()
        .map(|web| WebServer::start(&lab.ns(web)))
        .collect();
    wait_for_down(&lab, &[failed]);
    verify_live(&mut lab);
    drop(listeners);
}

/// python3's `http.server` handler on port 80 of a namespace, serving an
/// empty directory (an HTTP probe of `/` gets 200); stopped when dropped.
struct WebServer(std::process::Child);

impl WebServer {
    fn start(ns: &str) -> WebServer {
        // socketserver rather than `python3 -m http.server`, which looks
        // up its host name first (the lab has no DNS).
        const SERVE: &str = "import functools, http.server, socketserver, sys
socketserver.TCPServer.allow_reuse_address = True
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
socketserver.TCPServer(('0.0.0.0', 80), handler).serve_forever()
";
        let dir = std::env::temp_dir().join(format!("vnetd-{ns}-www"));
        std::fs::create_dir_all(&dir).unwrap();
        let child = std::process::Command::new("ip")
            .args(["netns", "exec", ns, "python3", "-c", SERVE])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs the web servers");
        WebServer(child)
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
