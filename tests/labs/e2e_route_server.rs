//! Azure Route Server end to end, as root, with real daemons: the example
//! `config/route-server.yaml` (two appliances, FRR and BIRD, announcing
//! one prefix to a Route Server whose instances run gobgpd). Flows from a
//! spoke spread over both appliances by hash, each flow on the one the
//! daemon's own decision names; when one appliance's daemon stops, the
//! Route Server withdraws its routes and every flow, old and new, takes
//! the other one. Live answers equal the BGP model's before the failure.
//! The lab counts the Route Server's sessions with the appliances: 4 of 4
//! once up, 2 of 4 once an appliance is gone.
//! A VPN site and an ExpressRoute site of one hub reach each other only
//! once the hub's Route Server allows branch-to-branch traffic.

use crate::common;

use common::bgp_agreement::assert_live_equals_offline;
use common::check_agreement::assert_verify_agrees_with_check;
use common::{in_netns, ping, wait_for, Lab};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use vnetd::dataplane::{route_step, DropReason, HopTo, Verdict};
use vnetd::diagnostics;
use vnetd::host::netns;
use vnetd::net::PacketKey;
use vnetd::policy::gateways::BGP_HOLD;

const PREFIX: &str = "exrs";
const VM1: &str = "10.1.1.4";
const BEHIND: &str = "10.100.0.1";
const PORT: u16 = 7100;
const FLOWS: u16 = 16;

fn example() -> String {
    let text = std::fs::read_to_string(format!(
        "{}/config/route-server.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    // The Route Server's namespaces are named behind the lab's prefix.
    format!("netns_prefix: {PREFIX}-\n{text}")
}

/// The next hops of vm1's Active route to the appliances' prefix.
fn next_hops(lab: &Lab) -> Vec<String> {
    let snap = lab.daemon().snapshot();
    let vm1 = snap.port_by_name("vm1").unwrap();
    diagnostics::routes(&snap, vm1)
        .value
        .into_iter()
        .find(|r| r.address_prefix == ["10.100.0.0/16"] && r.state == "Active")
        .map(|r| r.next_hop_ip_address)
        .unwrap_or_default()
}

/// The appliance the daemon's decision sends the flow from `port` to.
fn decided(lab: &Lab, port: u16) -> String {
    let snap = lab.daemon().snapshot();
    let vm1 = snap.port_by_name("vm1").unwrap();
    let key = PacketKey {
        proto: 17,
        src: VM1.parse().unwrap(),
        dst: BEHIND.parse().unwrap(),
        src_port: Some(port),
        dst_port: Some(PORT),
    };
    match route_step(&snap, vm1, &key).unwrap().to {
        HopTo::Nic(nic) => snap.plan.ports[nic].name.clone(),
        other => panic!("the flow from port {port} goes to {other:?}"),
    }
}

/// A UDP server in each appliance's namespace at the address behind it:
/// it answers every datagram with the appliance's name.
fn serve_names(lab: &Lab, stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    ["nva1", "nva2"]
        .into_iter()
        .map(|name| {
            let address: SocketAddr = format!("{BEHIND}:{PORT}").parse().unwrap();
            let socket =
                netns::run_in(&lab.ns(name), move || Ok(UdpSocket::bind(address)?)).unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((_, from)) = socket.recv_from(&mut buf) {
                        let _ = socket.send_to(name.as_bytes(), from);
                    }
                }
            })
        })
        .collect()
}

/// One client socket per flow, bound in vm1's namespace to its own port.
fn clients(lab: &Lab) -> Vec<(u16, UdpSocket)> {
    (0..FLOWS)
        .map(|i| {
            let port = 40000 + i;
            let local: SocketAddr = format!("{VM1}:{port}").parse().unwrap();
            let socket =
                netns::run_in(&lab.ns("vm1"), move || Ok(UdpSocket::bind(local)?)).unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            (port, socket)
        })
        .collect()
}

/// Which appliance answers the flow of `socket`: sends until an answer
/// comes (a datagram may meet a route being replaced), then asks twice
/// more and requires the same answer each time.
fn answered_by(socket: &UdpSocket) -> String {
    let server: SocketAddr = format!("{BEHIND}:{PORT}").parse().unwrap();
    let ask = || -> Option<String> {
        socket.send_to(b"who", server).ok()?;
        let mut buf = [0u8; 64];
        let (n, from) = socket.recv_from(&mut buf).ok()?;
        assert_eq!(from.ip(), BEHIND.parse::<IpAddr>().unwrap());
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    let first = (0..10)
        .find_map(|_| ask())
        .expect("no answer from the appliances");
    for _ in 0..2 {
        let again = (0..10)
            .find_map(|_| ask())
            .expect("no answer from the appliances");
        assert_eq!(again, first, "one flow met two appliances");
    }
    first
}

#[test]
fn route_server_spreads_flows_over_its_appliances_and_fails_over() {
    let text = example();
    let mut lab = Lab::start(PREFIX, &text);
    assert!(
        wait_for(Duration::from_secs(90), || next_hops(&lab)
            == ["10.0.2.4", "10.0.2.5"]),
        "vm1 never got the appliances' prefix over both: {:?}",
        next_hops(&lab)
    );
    // The lab counts the Route Server's four sessions (two instances, two
    // appliances) and converges once all are up.
    let converged = wait_for(Duration::from_secs(60), || {
        lab.daemon().convergence().converged
    });
    let state = lab.daemon().convergence();
    assert!(
        converged,
        "{}; missing: {}",
        state.progress(),
        state.missing()
    );
    assert!(
        state.summary().starts_with("BGP 4/4 sessions established"),
        "{}",
        state.summary()
    );
    assert_live_equals_offline(&lab, &text);
    let report = assert_verify_agrees_with_check(&mut lab, &text);
    assert_eq!(report["failed"], 0, "{report:#}");
    common::names_agreement::assert_names_live_equal_offline(&lab);

    // ECMP: every flow meets the appliance the decision names, and both
    // appliances take flows.
    // The servers stop when the test ends, passed or not.
    struct Stop(Arc<AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stop = Stop(Arc::new(AtomicBool::new(false)));
    let servers = serve_names(&lab, &stop.0);
    let flows = clients(&lab);
    let mut met = Vec::new();
    for (port, socket) in &flows {
        let answer = answered_by(socket);
        assert_eq!(answer, decided(&lab, *port), "the flow from port {port}");
        met.push(answer);
    }
    for nva in ["nva1", "nva2"] {
        assert!(
            met.iter().any(|m| m == nva),
            "no flow of {FLOWS} met {nva}: {met:?}"
        );
    }

    // nva2's BIRD stops (an appliance's daemon is not restarted): its
    // session ends and the Route Server withdraws its routes, at the
    // latest when the hold time runs out.
    let pid_file = format!("/run/vnetd-bgp/{}/bird.pid", lab.ns("nva2"));
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("{pid_file}: {e}"))
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        wait_for(BGP_HOLD + Duration::from_secs(30), || next_hops(&lab)
            == ["10.0.2.4"]),
        "the Route Server kept nva2's route: {:?}",
        next_hops(&lab)
    );
    // Its two sessions are counted down: the lab has not converged.
    assert!(
        wait_for(Duration::from_secs(10), || lab
            .daemon()
            .convergence()
            .progress()
            .starts_with("BGP 2/4 sessions established")),
        "{}",
        lab.daemon().convergence().progress()
    );
    assert!(!lab.daemon().convergence().converged);
    // Every flow, those that met nva2 included, now meets nva1.
    for (port, socket) in &flows {
        assert_eq!(decided(&lab, *port), "nva1");
        assert_eq!(answered_by(socket), "nva1", "the flow from port {port}");
    }
    drop(stop);
    drop(lab);
    for server in servers {
        server.join().unwrap();
    }
}

/// A hub with a VPN gateway to a branch (BIRD) and an ExpressRoute
/// gateway to a datacenter's circuit (BIRD at the customer edge), beside
/// a Route Server that has no appliance and `branch_to_branch_traffic`
/// as given.
fn branch_to_branch_lab(b2b: bool) -> String {
    format!(
        "
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - {{name: default, address_prefixes: [10.0.1.0/24]}}
      - {{name: RouteServerSubnet, address_prefixes: [10.0.2.0/26]}}
      - {{name: GatewaySubnet, address_prefixes: [10.0.255.224/27]}}
network_interfaces:
  - {{name: hub-vm, subnet: hub/default, private_ip_address: 10.0.1.4, netns: bb-hub-vm}}
on_premises_sites:
  - name: branch1
    address_space: [192.168.0.0/16]
    router: {{netns: bb-branch1, asn: 65050, bgp_speaker: bird}}
    hosts:
      - {{name: branch-host, private_ip_address: {BRANCH_HOST}, netns: bb-branch-host}}
  - name: dc1
    address_space: [172.20.0.0/16]
    router: {{netns: bb-dc1, asn: 65020, bgp_speaker: bird}}
    hosts:
      - {{name: dc-host, private_ip_address: {DC_HOST}, netns: bb-dc-host}}
express_route_circuits:
  - name: dc1-circuit
    site: dc1
    service_provider_name: Equinix
    peering_location: Amsterdam
    bandwidth_in_mbps: 1000
    private_peering: {{peer_asn: 65020, primary_peer_address_prefix: 172.16.0.0/30, secondary_peer_address_prefix: 172.16.0.4/30, vlan_id: 100}}
route_servers:
  - {{name: bb-rs, virtual_network: hub, branch_to_branch_traffic: {b2b}, bgp_connections: []}}
virtual_network_gateways:
  - {{name: bb-vpngw, virtual_network: hub, type: Vpn, vpn_type: RouteBased, sku: VpnGw1, active_active: true, bgp_enabled: true}}
  - {{name: bb-ergw, virtual_network: hub, type: ExpressRoute, sku: Standard}}
local_network_gateways:
  - {{name: branch1-lng, site: branch1, gateway_address: 203.0.113.10, bgp_settings: {{asn: 65050, bgp_peering_address: 192.168.255.1}}}}
virtual_network_gateway_connections:
  - {{name: hub-to-branch1, type: IPsec, virtual_network_gateway: bb-vpngw, local_network_gateway: branch1-lng, bgp_enabled: true, shared_key: lab}}
  - {{name: hub-to-dc1, type: ExpressRoute, virtual_network_gateway: bb-ergw, express_route_circuit: dc1-circuit}}
"
    )
}

const BRANCH_HOST: &str = "192.168.1.10";
const DC_HOST: &str = "172.20.1.10";

/// Whether `gateway` learned `prefix` in the running lab.
fn learned(lab: &Lab, gateway: &str, prefix: &str) -> bool {
    let snap = lab.daemon().snapshot();
    (0..2).any(|i| {
        snap.learned
            .of(gateway, i)
            .iter()
            .any(|r| r.prefix.to_string() == prefix)
    })
}

/// What the fabric does with a ping from the branch, through the VPN
/// gateway's first tunnel, to the datacenter.
fn branch_to_datacenter(lab: &Lab) -> Result<(), DropReason> {
    let snap = lab.daemon().snapshot();
    let tunnel = snap.port_by_name("branch1-to-bb-vpngw-0").unwrap();
    let key = PacketKey {
        proto: 1,
        src: BRANCH_HOST.parse().unwrap(),
        dst: DC_HOST.parse().unwrap(),
        src_port: None,
        dst_port: None,
    };
    match route_step(&snap, tunnel, &key) {
        Ok(_) => Ok(()),
        Err(Verdict::Drop { reason, .. }) => Err(reason),
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn vpn_and_expressroute_sites_reach_each_other_only_through_branch_to_branch() {
    let off = branch_to_branch_lab(false);
    let lab = Lab::start_exact("bb", &off);
    let settled = wait_for(Duration::from_secs(90), || {
        learned(&lab, "bb-vpngw", "192.168.0.0/16") && learned(&lab, "bb-ergw", "172.20.0.0/16")
    });
    assert!(settled, "the gateways never learned their sites");
    assert_live_equals_offline(&lab, &off);
    // Off: neither gateway learns the other's site, the branch has no
    // route to the datacenter, and the fabric refuses a packet that
    // tries.
    assert!(!learned(&lab, "bb-vpngw", "172.20.0.0/16"));
    assert!(!learned(&lab, "bb-ergw", "192.168.0.0/16"));
    assert!(!in_netns("bb-branch1", &["ip", "route"]).contains("172.20.0.0/16"));
    assert_eq!(branch_to_datacenter(&lab), Err(DropReason::BranchToBranch));
    assert!(!ping("bb-branch-host", DC_HOST));

    // On, live: the Route Server exchanges the gateways' routes, each
    // site learns the other over BGP, and they reach each other.
    let on = branch_to_branch_lab(true);
    lab.daemon().apply("on.yaml", &on).unwrap();
    // (The ExpressRoute gateway's speaker restarts with its new export
    // rules, and learns the datacenter again.)
    let reached = wait_for(Duration::from_secs(90), || {
        branch_to_datacenter(&lab).is_ok()
            && ping("bb-branch-host", DC_HOST)
            && ping("bb-dc-host", BRANCH_HOST)
    });
    assert!(
        reached,
        "the sites never reached each other; branch routes:\n{}\ndatacenter routes:\n{}",
        in_netns("bb-branch1", &["ip", "route"]),
        in_netns("bb-dc1", &["ip", "route"])
    );
    assert_live_equals_offline(&lab, &on);
}
