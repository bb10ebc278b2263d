//! Hybrid labs end to end, as root, with real daemons: a hub gateway whose
//! instances run gobgpd, a branch router running BIRD or FRR, real pings
//! and sockets between the branch's hosts and the VNets, and a Vnet2Vnet
//! design whose traffic crosses a firewall namespace counted by nft.
//!
//! Each lab names its namespaces (and its gateway, whose instances name
//! theirs) with its own prefix, so the labs run side by side.

use crate::common;

use common::hybrid::{hybrid_lab, BRANCH_HOST, HUB_VM, LAB_HOST, VM1};
use common::{in_netns, ping, udp_echo, wait_for, Killed, Lab};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vnetd::diagnostics::{self, gateway, trace};
use vnetd::host::netns;
use vnetd::snapshot::Snapshot;

/// The Active gateway rows of `nic`'s effective routes, as prefixes.
fn gateway_prefixes(snap: &Snapshot, nic: &str) -> Vec<String> {
    let idx = snap.port_by_name(nic).unwrap();
    diagnostics::routes(snap, idx)
        .value
        .into_iter()
        .filter(|r| r.source == "VirtualNetworkGateway" && r.state == "Active")
        .map(|r| r.address_prefix.join(","))
        .collect()
}

fn has_gateway_route(lab: &Lab, nic: &str, prefix: &str) -> bool {
    gateway_prefixes(&lab.daemon().snapshot(), nic).contains(&prefix.to_string())
}

/// The branch, its routes and sessions, seen through the lab's gateway
/// commands and real pings: acceptance of the BIRD and FRR labs alike.
fn branch_reaches_the_transit_spoke(lab: &Lab, prefix: &str) {
    let gw = format!("{prefix}-gw");
    assert!(
        wait_for(Duration::from_secs(60), || has_gateway_route(
            lab,
            "vm1",
            "192.168.0.0/16"
        )),
        "vm1 never learned the branch; its routes: {:?}",
        gateway_prefixes(&lab.daemon().snapshot(), "vm1")
    );
    assert!(gateway_prefixes(&lab.daemon().snapshot(), "vm2").is_empty());
    // The branch learns the hub and both spokes (the gateway advertises
    // the VNets using it), so its hosts reach the transit spoke and the hub.
    let router = format!("{prefix}-branch1");
    assert!(
        wait_for(Duration::from_secs(30), || {
            let routes = in_netns(&router, &["ip", "route"]);
            ["10.0.0.0/16", "10.1.0.0/16"]
                .iter()
                .all(|p| routes.contains(p))
        }),
        "the branch router never learned the VNets:\n{}",
        in_netns(&router, &["ip", "route"])
    );
    let onprem = format!("{prefix}-onprem");
    assert!(ping(&onprem, VM1), "branch host to the transit spoke");
    assert!(ping(&onprem, HUB_VM), "branch host to the hub");
    assert!(
        ping(&lab.ns("vm1"), BRANCH_HOST),
        "transit spoke to the branch"
    );
    // The spoke with propagation off has no route to the branch.
    assert!(!ping(&lab.ns("vm2"), BRANCH_HOST));
    // The gateway's own view: the branch's ASN in the AS path, the VNets
    // advertised, the session up.
    let snap = lab.daemon().snapshot();
    let g = gateway::find_gateway(&snap, &gw).unwrap();
    let learned = gateway::learned_routes(&snap, g);
    assert!(
        learned
            .value
            .iter()
            .any(|r| r.network == "192.168.0.0/16" && r.as_path == "65050" && r.origin == "EBgp"),
        "{learned:?}"
    );
    let advertised = gateway::advertised_routes(&snap, g, "192.168.255.1").unwrap();
    let networks: Vec<&str> = advertised
        .value
        .iter()
        .map(|r| r.network.as_str())
        .collect();
    assert_eq!(networks, ["10.0.0.0/16", "10.1.0.0/16", "10.2.0.0/16"]);
    let peers = lab.daemon().bgp_peer_status(&gw).unwrap();
    assert_eq!(peers.value.len(), 1);
    assert_eq!(peers.value[0].state, "Connected");
    assert_eq!(peers.value[0].neighbor, "192.168.255.1");
    assert_eq!(peers.value[0].asn, 65050);
    // The whole path, from the running lab's own tables: the route the
    // session learned leads through the gateway into the branch; spoke2,
    // with propagation off, has none.
    let traced = |from: &str| {
        let query = diagnostics::trace_query(&snap, from, BRANCH_HOST, Some("Tcp"), Some(22));
        trace::trace(&snap, &query.unwrap()).unwrap()
    };
    let found = traced("vm1");
    assert_eq!(found.verdict, "Allow", "{found:#?}");
    assert_eq!(found.delivered_to.as_deref(), Some("site branch1"));
    assert_eq!(found.path, std::slice::from_ref(&gw));
    let route = found.hops[0].route.as_ref().unwrap();
    assert_eq!(
        (route.source, route.address_prefix.as_str()),
        ("VirtualNetworkGateway", "192.168.0.0/16")
    );
    let found = traced("vm2");
    assert_eq!(found.reason.as_deref(), Some("route_none"), "{found:#?}");
}

#[test]
fn bird_branch_through_gateway_transit_and_a_withdrawal() {
    let prefix = "hyb";
    let lab = Lab::start_exact(prefix, &hybrid_lab(prefix, "bird", false));
    branch_reaches_the_transit_spoke(&lab, prefix);

    // A withdrawal: the branch stops announcing 172.20.0.0/16 while a ping
    // to another destination runs.
    assert!(wait_for(Duration::from_secs(20), || has_gateway_route(
        &lab,
        "vm1",
        "172.20.0.0/16"
    )));
    assert!(ping(&lab.ns("vm1"), LAB_HOST));
    let steady = Command::new("ip")
        .args(["netns", "exec", &format!("{prefix}-onprem")])
        .args([
            "ping", "-n", "-q", "-c", "120", "-i", "0.05", "-W", "1", HUB_VM,
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let run_dir = format!("/run/vnetd-bgp/{prefix}-branch1");
    let config_path = format!("{run_dir}/bird.conf");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let withdrawn = config.replace("  route 172.20.0.0/16 unreachable;\n", "");
    assert_ne!(
        config, withdrawn,
        "the BIRD configuration announces 172.20.0.0/16"
    );
    std::fs::write(&config_path, withdrawn).unwrap();
    let reply = Command::new("birdc")
        .args(["-s", &format!("{run_dir}/bird.ctl"), "configure"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&reply.stdout).contains("Reconfigured"));
    let gone = wait_for(Duration::from_secs(10), || {
        !has_gateway_route(&lab, "vm1", "172.20.0.0/16")
    });
    assert!(gone, "the withdrawn prefix stayed over 10 s");
    // Forwarding follows: 172.20.0.0/16 falls back to the system None
    // route of 172.16.0.0/12.
    assert!(!ping(&lab.ns("vm1"), LAB_HOST));
    let out = steady.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains(" 0% packet loss"),
        "the ping to the hub lost packets during the withdrawal:\n{summary}"
    );
}

#[test]
fn frr_branch_through_gateway_transit() {
    let prefix = "hyf";
    let lab = Lab::start_exact(prefix, &hybrid_lab(prefix, "frr", false));
    branch_reaches_the_transit_spoke(&lab, prefix);
}

#[test]
fn active_active_spreads_flows_and_survives_a_session_going_down() {
    let prefix = "hya";
    let lab = Lab::start_exact(prefix, &hybrid_lab(prefix, "bird", true));
    let gw = format!("{prefix}-gw");
    let both_up = wait_for(Duration::from_secs(60), || {
        lab.daemon()
            .bgp_peer_status(&gw)
            .is_ok_and(|p| p.value.len() == 2 && p.value.iter().all(|s| s.state == "Connected"))
    });
    assert!(both_up, "{:?}", lab.daemon().bgp_peer_status(&gw));
    let router = format!("{prefix}-branch1");
    // Both instances' routes merge into one ECMP route at the branch.
    assert!(
        wait_for(Duration::from_secs(30), || {
            in_netns(&router, &["ip", "route", "show", "10.1.0.0/16"])
                .matches("nexthop")
                .count()
                == 2
        }),
        "{}",
        in_netns(&router, &["ip", "route"])
    );
    // The spoke learned the branch from both instances.
    assert!(wait_for(Duration::from_secs(30), || {
        let snap = lab.daemon().snapshot();
        let idx = snap.port_by_name("vm1").unwrap();
        diagnostics::routes(&snap, idx)
            .value
            .iter()
            .any(|r| r.address_prefix == ["192.168.0.0/16"] && r.next_hop_ip_address.len() == 2)
    }));
    let onprem = format!("{prefix}-onprem");
    let tunnel = |i: usize| format!("branch1-to-{gw}-{i}");
    let before = [
        lab.stats(&tunnel(0)).packets_sent,
        lab.stats(&tunnel(1)).packets_sent,
    ];
    let server = format!("{VM1}:7000").parse().unwrap();
    for _ in 0..24 {
        assert!(udp_echo(&onprem, &lab.ns("vm1"), server));
    }
    let after = [
        lab.stats(&tunnel(0)).packets_sent,
        lab.stats(&tunnel(1)).packets_sent,
    ];
    assert!(
        after[0] > before[0] + 2 && after[1] > before[1] + 2,
        "24 flows from the branch did not use both tunnels: {before:?} -> {after:?}"
    );

    // The branch shuts its session with the first instance down.
    let reply = Command::new("birdc")
        .args([
            "-s",
            &format!("/run/vnetd-bgp/{router}/bird.ctl"),
            "disable",
            "peer_10_0_255_228",
        ])
        .output()
        .unwrap();
    assert!(reply.status.success());
    assert!(wait_for(Duration::from_secs(15), || {
        !in_netns(&router, &["ip", "route", "show", "10.1.0.0/16"]).contains("nexthop")
    }));
    let stopped = wait_for(Duration::from_secs(15), || {
        lab.daemon()
            .bgp_peer_status(&gw)
            .is_ok_and(|p| p.value.iter().filter(|s| s.state == "Connected").count() == 1)
    });
    assert!(stopped, "{:?}", lab.daemon().bgp_peer_status(&gw));
    for _ in 0..8 {
        assert!(udp_echo(&onprem, &lab.ns("vm1"), server));
    }
    assert!(ping(&onprem, VM1));
    assert!(ping(&lab.ns("vm1"), BRANCH_HOST));
}

#[test]
fn vnet2vnet_without_bgp_crosses_the_hub_firewall() {
    let p = "hyv";
    let text = format!(
        "
vnets:
  - name: hub
    address_space: [10.5.0.0/16]
    location: westeurope
    subnets:
      - {{name: fw, address_prefixes: [10.5.1.0/24]}}
      - {{name: GatewaySubnet, address_prefixes: [10.5.255.0/27], route_table: gw-rt}}
  - name: spoke
    address_space: [10.6.0.0/16]
    location: westeurope
    subnets:
      - {{name: app, address_prefixes: [10.6.1.0/24], route_table: spoke-rt}}
  - name: onprem
    address_space: [192.168.0.0/16]
    location: westeurope
    subnets:
      - {{name: servers, address_prefixes: [192.168.1.0/24]}}
      - {{name: GatewaySubnet, address_prefixes: [192.168.255.0/27]}}
peerings:
  - {{name: hub-to-spoke, virtual_network: hub, remote_virtual_network: spoke, allow_gateway_transit: true, allow_forwarded_traffic: true}}
  - {{name: spoke-to-hub, virtual_network: spoke, remote_virtual_network: hub, use_remote_gateways: true, allow_forwarded_traffic: true}}
network_interfaces:
  - {{name: fw1, subnet: hub/fw, private_ip_address: 10.5.1.4, ip_forwarding_enabled: true, netns: {p}-fw1}}
  - {{name: spoke-vm, subnet: spoke/app, private_ip_address: 10.6.1.4, netns: {p}-spoke-vm}}
  - {{name: onprem-vm, subnet: onprem/servers, private_ip_address: 192.168.1.4, netns: {p}-onprem-vm}}
route_tables:
  - name: gw-rt
    routes:
      - {{name: spoke-via-fw, address_prefix: 10.6.0.0/16, next_hop_type: VirtualAppliance, next_hop_in_ip_address: 10.5.1.4}}
  - name: spoke-rt
    bgp_route_propagation_enabled: false
    routes:
      - {{name: all-via-fw, address_prefix: 0.0.0.0/0, next_hop_type: VirtualAppliance, next_hop_in_ip_address: 10.5.1.4}}
virtual_network_gateways:
  - {{name: {p}-hub-gw, virtual_network: hub, type: Vpn, vpn_type: RouteBased}}
  - {{name: {p}-onprem-gw, virtual_network: onprem, type: Vpn, vpn_type: RouteBased}}
virtual_network_gateway_connections:
  - {{name: hub-to-onprem, type: Vnet2Vnet, virtual_network_gateway: {p}-hub-gw, peer_virtual_network_gateway: {p}-onprem-gw, shared_key: lab}}
  - {{name: onprem-to-hub, type: Vnet2Vnet, virtual_network_gateway: {p}-onprem-gw, peer_virtual_network_gateway: {p}-hub-gw, shared_key: lab}}
"
    );
    let lab = Lab::start_exact(p, &text);
    let fw = lab.ns("fw1");
    for rule in [
        "add table inet lab",
        "add chain inet lab forward { type filter hook forward priority 0; }",
        "add rule inet lab forward ip saddr 192.168.1.4 ip daddr 10.6.1.4 counter",
    ] {
        let args: Vec<&str> = std::iter::once("nft").chain(rule.split(' ')).collect();
        in_netns(&fw, &args);
    }
    assert!(
        ping(&lab.ns("onprem-vm"), "10.6.1.4"),
        "on-premises to the spoke"
    );
    assert!(
        ping(&lab.ns("spoke-vm"), "192.168.1.4"),
        "the spoke to on-premises"
    );
    let counters = in_netns(&fw, &["nft", "list", "table", "inet", "lab"]);
    let packets: u64 = counters
        .split_whitespace()
        .skip_while(|w| *w != "packets")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        packets >= 6,
        "the firewall counted {packets} packets from on-premises to the spoke:\n{counters}"
    );
}

#[test]
fn apply_rebuilds_the_hybrid_part_and_removes_a_connection() {
    let prefix = "hyp";
    let lab = Lab::start_exact(prefix, &hybrid_lab(prefix, "bird", false));
    let onprem = format!("{prefix}-onprem");
    let reaches_vm1 = || wait_for(Duration::from_secs(60), || ping(&onprem, VM1));
    assert!(reaches_vm1(), "BIRD branch to vm1");
    // The branch's router now runs FRR: sites and daemons are rebuilt,
    // the VNets' NICs keep their namespaces.
    let frr = hybrid_lab(prefix, "frr", false);
    let summary = lab.daemon().apply("frr.yaml", &frr).unwrap();
    assert!(!summary.replumbed.contains(&"vm1".to_string()));
    assert!(reaches_vm1(), "FRR branch to vm1 after apply");
    let frr_files: Vec<String> = std::fs::read_dir(format!("/run/vnetd-bgp/{prefix}-branch1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        frr_files.iter().any(|f| f.starts_with("bgpd")),
        "{frr_files:?}"
    );
    // Without the connection the branch is cut off, and the gateway routes
    // leave the spoke.
    let text = frr.replace(
        &format!(
            "  - {{name: hub-to-branch1, type: IPsec, virtual_network_gateway: {prefix}-gw, local_network_gateway: branch1-lng, bgp_enabled: true, shared_key: lab}}\n"
        ),
        "",
    );
    assert_ne!(text, frr);
    lab.daemon().apply("no-connection.yaml", &text).unwrap();
    assert!(gateway_prefixes(&lab.daemon().snapshot(), "vm1").is_empty());
    assert!(!ping(&onprem, VM1));
    assert!(ping(&lab.ns("vm1"), HUB_VM), "the VNets still work");
}

/// A namespace's identity: its inode (a namespace built again has
/// another).
fn netns_inode(name: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/run/netns/{name}"))
        .unwrap()
        .ino()
}

/// How long `gateway`'s session with `peer` has been up, in seconds, as
/// `bgp-peer-status` says; `None` while it is down.
fn session_uptime(lab: &Lab, gateway: &str, peer: &str) -> Option<u64> {
    let peers = lab.daemon().bgp_peer_status(gateway).ok()?;
    let session = peers
        .value
        .iter()
        .find(|p| p.neighbor == peer && p.state == "Connected")?;
    session
        .connected_duration
        .split(':')
        .map(|part| part.parse::<u64>().ok())
        .try_fold(0, |total, part| Some(total * 60 + part?))
}

/// `hybrid_lab` with a VNet in East US whose gateway has Vnet2Vnet
/// connections, with BGP, to and from the hub's.
fn with_east_us_gateway(base: &str, prefix: &str) -> String {
    let text = base
        .replacen(
            "peerings:\n",
            "  - name: eus
    address_space: [10.50.0.0/16]
    location: eastus
    subnets:
      - {name: default, address_prefixes: [10.50.1.0/24]}
      - {name: GatewaySubnet, address_prefixes: [10.50.255.0/27]}
peerings:\n",
            1,
        )
        .replacen(
            "route_tables:\n",
            "  - {name: eus-vm, subnet: eus/default, private_ip_address: 10.50.1.4, netns: PREFIX-eus-vm}
route_tables:\n",
            1,
        )
        .replacen(
            "local_network_gateways:\n",
            "  - {name: PREFIX-eusgw, virtual_network: eus, type: Vpn, vpn_type: RouteBased, sku: VpnGw1, bgp_enabled: true, bgp_settings: {asn: 65010}}
local_network_gateways:\n",
            1,
        )
        .replace("PREFIX", prefix);
    format!(
        "{text}  - {{name: hub-to-eus, type: Vnet2Vnet, virtual_network_gateway: {prefix}-gw, peer_virtual_network_gateway: {prefix}-eusgw, bgp_enabled: true, shared_key: lab}}
  - {{name: eus-to-hub, type: Vnet2Vnet, virtual_network_gateway: {prefix}-eusgw, peer_virtual_network_gateway: {prefix}-gw, bgp_enabled: true, shared_key: lab}}
"
    )
}

/// Sends `word` from `client` and reads it at `server`: the TCP session
/// still carries data.
fn carries(client: &mut TcpStream, server: &mut TcpStream, word: &[u8; 6]) -> bool {
    let mut got = [0u8; 6];
    client.write_all(word).is_ok() && server.read_exact(&mut got).is_ok() && &got == word
}

#[test]
fn apply_adds_a_gateway_and_slows_a_site_without_touching_the_branch() {
    let prefix = "hyk";
    let base = hybrid_lab(prefix, "bird", false);
    let lab = Lab::start_exact(prefix, &base);
    let gw = format!("{prefix}-gw");
    let (router, onprem) = (format!("{prefix}-branch1"), format!("{prefix}-onprem"));
    assert!(
        wait_for(Duration::from_secs(60), || ping(&onprem, VM1)),
        "the branch reaches vm1 over BGP"
    );
    let site_namespaces = [
        router.clone(),
        onprem.clone(),
        format!("{prefix}-onprem-lab"),
    ];
    let inodes: Vec<u64> = site_namespaces.iter().map(|n| netns_inode(n)).collect();
    // A TCP session from the branch to vm1, and a ping that runs
    // throughout (`-O` says each reply missing when the next request
    // leaves).
    let server: SocketAddr = format!("{VM1}:7001").parse().unwrap();
    let listener = netns::run_in(&lab.ns("vm1"), move || Ok(TcpListener::bind(server)?)).unwrap();
    let mut client = netns::run_in(&onprem, move || {
        Ok(TcpStream::connect_timeout(&server, Duration::from_secs(5))?)
    })
    .unwrap();
    let (mut accepted, _) = listener.accept().unwrap();
    accepted
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(carries(&mut client, &mut accepted, b"before"));
    let pinger = Command::new("ip")
        .args([
            "netns", "exec", &onprem, "ping", "-n", "-O", "-i", "0.2", VM1,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pinger = Killed(pinger);
    let uptime_before = session_uptime(&lab, &gw, "192.168.255.1").expect("the session is up");
    let started = Instant::now();

    // A new gateway in East US and Vnet2Vnet connections to and from the
    // gateway the branch uses: that gateway takes a new neighbour in
    // place, and nothing else is rebuilt.
    let with_eus = with_east_us_gateway(&base, prefix);
    let summary = lab.daemon().apply("eus.yaml", &with_eus).unwrap();
    assert_eq!(
        summary.file,
        [
            "+vnets[eus]",
            "+network_interfaces[eus-vm]",
            &format!("+virtual_network_gateways[{prefix}-eusgw]"),
            "+virtual_network_gateway_connections[hub-to-eus]",
            "+virtual_network_gateway_connections[eus-to-hub]",
        ],
        "{summary:#?}"
    );
    assert!(summary.rebuilt.is_empty(), "{summary:#?}");
    assert!(summary.replumbed.is_empty(), "{summary:#?}");
    assert!(
        summary
            .changed
            .iter()
            .any(|c| c.starts_with(&format!("gateway {gw} instance 0: BGP neighbours +"))),
        "{summary:#?}"
    );
    // The branch learns the East US VNet over its session, which stayed.
    assert!(
        wait_for(Duration::from_secs(60), || in_netns(
            &router,
            &["ip", "route"]
        )
        .contains("10.50.0.0/16")),
        "the branch never learned the East US VNet:\n{}",
        in_netns(&router, &["ip", "route"])
    );
    // The site's internet path gets slower: a figure of the daemon's
    // tables, nothing of the host's.
    let slower = with_eus.replacen(
        "bgp_speaker: bird}\n",
        "bgp_speaker: bird}\n    latency_ms: 5\n",
        1,
    );
    assert_ne!(slower, with_eus);
    let summary = lab.daemon().apply("slower.yaml", &slower).unwrap();
    assert_eq!(summary.file, ["~on_premises_sites[branch1]"]);
    assert!(
        summary.rebuilt.is_empty() && summary.changed.is_empty() && summary.replumbed.is_empty(),
        "{summary:#?}"
    );

    let after: Vec<u64> = site_namespaces.iter().map(|n| netns_inode(n)).collect();
    assert_eq!(after, inodes, "the branch's namespaces were built again");
    assert!(
        carries(&mut client, &mut accepted, b"after!"),
        "the TCP session from the branch did not survive"
    );
    let uptime = session_uptime(&lab, &gw, "192.168.255.1").expect("the session is up");
    assert!(
        uptime + 2 >= uptime_before + started.elapsed().as_secs(),
        "the branch's BGP session was reset: up {uptime} s, {uptime_before} s before and {} s since",
        started.elapsed().as_secs()
    );
    // The ping's own count.
    common::signal(&pinger.0, libc::SIGINT);
    let mut out = String::new();
    pinger
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let _ = pinger.0.wait();
    assert!(
        !out.contains("no answer yet"),
        "the branch's ping lost replies across the applies:\n{out}"
    );
    let summary_line = out
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("ping printed no summary:\n{out}"));
    let count = |word: &str| -> u64 {
        let before = summary_line.split(word).next().unwrap();
        before
            .split_whitespace()
            .last()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{summary_line}"))
    };
    let (sent, received) = (count(" packets transmitted"), count(" received"));
    // The request in flight when ping was stopped may go unanswered.
    assert!(
        sent >= 1 && received + 1 >= sent,
        "{sent} sent, {received} answered:\n{out}"
    );
}

/// Two local network gateways on a site's one router, the way a second
/// device was written before sites had `routers`: the router holds the
/// first one's BGP address, so the gateway's two sessions with the second
/// can never come up. `check` warns, and the lab counts the four sessions
/// the file configures: 2 of 4, never converged, as `vnetd wait` says.
#[test]
fn a_session_no_router_holds_is_counted_and_the_lab_never_converges() {
    let prefix = "hyw";
    let text = hybrid_lab(prefix, "bird", true).replace(
        "virtual_network_gateway_connections:\n",
        "  - {name: branch1-lng2, site: branch1, gateway_address: 203.0.113.11, bgp_settings: {asn: 65050, bgp_peering_address: 192.168.255.2}}\nvirtual_network_gateway_connections:\n",
    ) + &format!(
        "  - {{name: hub-to-branch1-2, type: IPsec, virtual_network_gateway: {prefix}-gw, local_network_gateway: branch1-lng2, bgp_enabled: true}}\n"
    );
    let loaded = vnetd::plan::parse_str("lab.yaml", &text).unwrap();
    assert!(
        loaded.warnings.iter().any(|w| w.key
            == "virtual_network_gateway_connections[hub-to-branch1-2].local_network_gateway"
            && w.message.contains("never come up")),
        "{:?}",
        loaded.warnings
    );
    let mut lab = Lab::start_exact(prefix, &text);
    let two_up = wait_for(Duration::from_secs(60), || {
        lab.daemon().convergence().sessions_established == 2
    });
    let state = lab.daemon().convergence();
    assert!(two_up, "{}", state.progress());
    assert!(!state.converged);
    assert!(
        state.progress().starts_with("BGP 2/4 sessions established"),
        "{}",
        state.progress()
    );
    assert_eq!(
        state.missing(),
        format!(
            "session {prefix}-gw/0 with 192.168.255.2 not established; session {prefix}-gw/1 \
             with 192.168.255.2 not established"
        )
    );
    // `vnetd wait` gives up at its deadline, naming what is missing.
    let socket = lab.serve_control();
    let waited = common::vnetd_command(&socket)
        .args(["wait", "--timeout", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&waited.stderr);
    assert_eq!(waited.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the lab did not converge within 2 s: BGP 2/4 sessions established")
            && stderr.contains("192.168.255.2 not established"),
        "{stderr}"
    );
}

/// The dual-device design imported from Terraform (one local network
/// gateway per device, both for the same address space, one ASN) runs as
/// one site with two routers: four sessions up, flows of different
/// 5-tuples from the hub spread over the four tunnels.
#[test]
fn the_dual_device_design_imported_from_terraform_runs_four_sessions() {
    let prefix = "hytf";
    let imported = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/import/terraform/dual-device-vpn/expected.yaml"
    ))
    .unwrap();
    let device = "      - {name: onprem-vpn2, asn: 65050, bgp_speaker: bird}\n";
    assert!(imported.contains(device), "{imported}");
    let text = format!(
        "netns_prefix: {prefix}-\n{}",
        imported.replace(
            device,
            &format!("{device}    hosts:\n      - {{name: onprem-host, private_ip_address: 10.51.1.10}}\n"),
        )
    );
    let lab = Lab::start_exact(prefix, &text);
    let converged = wait_for(Duration::from_secs(90), || {
        lab.daemon().convergence().converged
    });
    let state = lab.daemon().convergence();
    assert!(
        converged,
        "{}; missing: {}",
        state.progress(),
        state.missing()
    );
    assert_eq!(
        (state.sessions_established, state.sessions_expected),
        (4, 4)
    );
    let tunnels: Vec<String> = ["onprem-vpn1", "onprem-vpn2"]
        .iter()
        .flat_map(|d| (0..2).map(move |i| format!("onprem-vpn-{d}-to-hub-vpngw-{i}")))
        .collect();
    let received = |lab: &Lab| -> Vec<u64> {
        tunnels
            .iter()
            .map(|t| lab.stats(t).packets_received)
            .collect()
    };
    let before = received(&lab);
    let server: SocketAddr = "10.51.1.10:7000".parse().unwrap();
    for _ in 0..64 {
        assert!(udp_echo(&lab.ns("hub-vm"), &lab.ns("onprem-host"), server));
    }
    let after = received(&lab);
    assert!(
        before.iter().zip(&after).all(|(b, a)| a > b),
        "64 flows did not use all four tunnels {tunnels:?}: {before:?} -> {after:?}"
    );
}
