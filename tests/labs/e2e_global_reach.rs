//! Global Reach at Microsoft's edge, end to end, as root: two datacenters
//! on circuits of their own, joined by Global Reach, and no VNet gateway
//! anywhere in the file. dc1's customer edge is the BIRD vnetd writes; dc2's
//! is the user's own BIRD (`bgp_speaker: none`), configured as for a real
//! circuit: a session to Microsoft's address of each /30, remote AS 12076.
//! Each learns the other's range over BGP from ASN 12076, pings cross
//! customer edge, edge router, edge router, customer edge, and an apply
//! without the link cuts the datacenters apart.

use crate::common;

use common::{in_netns, ping, wait_for, Lab};
use std::process::Command;
use std::time::Duration;
use vnetd::diagnostics;

const DC1_HOST: &str = "172.20.1.10";
const DC2_HOST: &str = "172.21.1.10";

fn two_datacenters(prefix: &str, reach: bool) -> String {
    let link = if reach {
        "express_route_circuit_connections:\n  - {name: dc1-dc2, circuit: dc1-circuit, peer_circuit: dc2-circuit, address_prefix_ipv4: 192.168.8.0/29}\n"
    } else {
        ""
    };
    format!(
        "
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - {{name: default, address_prefixes: [10.0.1.0/24]}}
network_interfaces:
  - {{name: vm, subnet: hub/default, private_ip_address: 10.0.1.4, netns: {prefix}-vm}}
on_premises_sites:
  - name: dc1
    address_space: [172.20.0.0/16]
    router: {{netns: {prefix}-dc1, asn: 65020, bgp_speaker: bird}}
    hosts:
      - {{name: dc1-host, private_ip_address: {DC1_HOST}, netns: {prefix}-dc1-host}}
  - name: dc2
    address_space: [172.21.0.0/16]
    router: {{netns: {prefix}-dc2, asn: 65030, bgp_speaker: none}}
    hosts:
      - {{name: dc2-host, private_ip_address: {DC2_HOST}, netns: {prefix}-dc2-host}}
express_route_circuits:
  - name: dc1-circuit
    site: dc1
    peering_location: Amsterdam
    bandwidth_in_mbps: 1000
    private_peering: {{peer_asn: 65020, primary_peer_address_prefix: 172.16.0.0/30, secondary_peer_address_prefix: 172.16.0.4/30}}
  - name: dc2-circuit
    site: dc2
    peering_location: London
    bandwidth_in_mbps: 500
    private_peering: {{peer_asn: 65030, primary_peer_address_prefix: 172.16.1.0/30, secondary_peer_address_prefix: 172.16.1.4/30}}
{link}"
    )
}

/// dc2's own router: the user's BIRD, written as for a real circuit, not
/// by vnetd. It stops when dropped.
struct UsersBird {
    netns: String,
    dir: tempfile::TempDir,
}

impl UsersBird {
    fn start(netns: &str) -> UsersBird {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("bird.conf");
        std::fs::write(
            &conf,
            "router id 172.16.1.1;
protocol device {}
protocol direct { ipv4; interface \"msee*\"; }
protocol kernel { ipv4 { export where source = RTS_BGP; }; merge paths on; }
protocol static datacenter { ipv4; route 172.21.0.0/16 unreachable; }
protocol bgp link_primary {
  local 172.16.1.1 as 65030;
  neighbor 172.16.1.2 as 12076;
  ipv4 { import all; export where proto = \"datacenter\"; };
}
protocol bgp link_secondary {
  local 172.16.1.5 as 65030;
  neighbor 172.16.1.6 as 12076;
  ipv4 { import all; export where proto = \"datacenter\"; };
}
",
        )
        .unwrap();
        let bird = UsersBird {
            netns: netns.to_string(),
            dir,
        };
        let status = Command::new("ip")
            .args(["netns", "exec", netns, "bird", "-c"])
            .arg(&conf)
            .arg("-s")
            .arg(bird.socket())
            .arg("-P")
            .arg(bird.dir.path().join("bird.pid"))
            .status()
            .unwrap();
        assert!(status.success(), "starting the user's BIRD in {netns}");
        bird
    }

    fn socket(&self) -> std::path::PathBuf {
        self.dir.path().join("bird.ctl")
    }

    fn birdc(&self, args: &[&str]) -> String {
        let socket = self.socket();
        let mut all = vec!["birdc", "-s", socket.to_str().unwrap()];
        all.extend_from_slice(args);
        in_netns(&self.netns, &all)
    }
}

impl Drop for UsersBird {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(self.dir.path().join("bird.pid")).unwrap_or_default();
        if let Ok(pid) = pid.trim().parse::<i32>() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// The lab's trace from `from` to `to`, as `vnetd trace` answers it.
fn trace(lab: &Lab, from: &str, to: &str) -> diagnostics::trace::Trace {
    let snap = lab.daemon().snapshot();
    let query = diagnostics::trace_query(&snap, from, to, None, None).unwrap();
    diagnostics::trace::trace(&snap, &query).unwrap()
}

#[test]
fn global_reach_joins_two_circuits_without_any_vnet_gateway() {
    let prefix = "grx";
    let lab = Lab::start_exact(prefix, &two_datacenters(prefix, true));
    let users = UsersBird::start(&format!("{prefix}-dc2"));
    let (dc1_host, dc2_host) = (format!("{prefix}-dc1-host"), format!("{prefix}-dc2-host"));
    assert!(
        wait_for(Duration::from_secs(60), || ping(&dc1_host, DC2_HOST)),
        "dc1 never reached dc2 over Global Reach: {}",
        users.birdc(&["show", "protocols"])
    );
    assert!(ping(&dc2_host, DC1_HOST), "dc2 to dc1");

    // The user's router, configured as for a real circuit, has both
    // sessions up and learns dc1's range from ASN 12076 on each link (the
    // second session may come up a moment after the first carried a ping).
    let both_links = |routes: &str, first: &str, second: &str| {
        routes.contains("BGP.as_path: 12076")
            && routes.contains(&format!("via {first} on msee0"))
            && routes.contains(&format!("via {second} on msee1"))
    };
    let learned = wait_for(Duration::from_secs(30), || {
        let routes = users.birdc(&["show", "route", "for", DC1_HOST, "all"]);
        both_links(&routes, "172.16.1.2", "172.16.1.6")
    });
    assert!(
        learned,
        "{}\n{}",
        users.birdc(&["show", "protocols"]),
        users.birdc(&["show", "route", "for", DC1_HOST, "all"])
    );
    let protocols = users.birdc(&["show", "protocols"]);
    assert_eq!(protocols.matches("Established").count(), 2, "{protocols}");
    // vnetd's BIRD on dc1 learns dc2's the same way.
    let dc1 = format!("{prefix}-dc1");
    let ctl = format!("/run/vnetd-bgp/{dc1}/bird.ctl");
    let dc1_routes = || {
        in_netns(
            &dc1,
            &["birdc", "-s", &ctl, "show", "route", "for", DC2_HOST, "all"],
        )
    };
    let learned = wait_for(Duration::from_secs(30), || {
        both_links(&dc1_routes(), "172.16.0.2", "172.16.0.6")
    });
    assert!(learned, "{}", dc1_routes());

    // `trace` says the same: customer edge, dc1's edge router, dc2's,
    // customer edge, bounded by the slower circuit.
    let found = trace(&lab, "dc1-host", "dc2-host");
    assert_eq!(found.verdict, "Allow", "{found:#?}");
    assert_eq!(found.path, ["dc1-circuit", "dc2-circuit"]);
    let bottleneck = found.bottleneck.expect("the circuits' bandwidth");
    assert_eq!(
        (bottleneck.mbps, bottleneck.what.as_str()),
        (500, "500 Mbps: circuit dc2-circuit")
    );

    // Without the link the datacenters are apart: the routes go from both
    // routers and the pings find nothing.
    lab.daemon()
        .apply("no-global-reach.yaml", &two_datacenters(prefix, false))
        .unwrap_or_else(|e| panic!("apply: {e:?}"));
    let withdrawn = wait_for(Duration::from_secs(30), || {
        !in_netns(&dc1, &["ip", "route"]).contains("172.21.0.0/16")
            && !in_netns(&format!("{prefix}-dc2"), &["ip", "route"]).contains("172.20.0.0/16")
    });
    assert!(withdrawn, "{}", in_netns(&dc1, &["ip", "route"]));
    assert!(!ping(&dc1_host, DC2_HOST), "dc1 still reaches dc2");
    assert!(!ping(&dc2_host, DC1_HOST), "dc2 still reaches dc1");
    let found = trace(&lab, "dc1-host", "dc2-host");
    assert_eq!(found.verdict, "Deny", "{found:#?}");
    drop(users);
}
