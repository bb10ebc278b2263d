//! Azure Firewall's instance addresses offline: `config/internet-edge.yaml`'s
//! firewall has two instances behind its front address (10.0.1.4), at
//! 10.0.1.5 and 10.0.1.6; its port owns all three, so the fabric delivers
//! to it what is sent to any; and a connection its DNAT rule translates
//! reaches the backend from the first instance's address, in `trace` as
//! in the namespace's own translation, with the reply sent back to it.

use std::net::IpAddr;
use std::path::PathBuf;
use vnetd::diagnostics::trace::{trace, TraceQuery};
use vnetd::snapshot::Snapshot;
use vnetd::topology::{Endpoint, ExpectedProtocol};

fn internet_edge() -> Snapshot {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/internet-edge.yaml"
    ));
    let text = std::fs::read_to_string(&path).unwrap();
    let loaded = vnetd::plan::parse_str(&path.display().to_string(), &text).unwrap();
    Snapshot::compile(loaded.topology, 1)
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn the_firewall_port_owns_its_front_and_instance_addresses() {
    let snap = internet_edge();
    let fw = &snap.topology.firewalls[vnetd::topology::FirewallIdx::new(0)];
    assert_eq!(
        vnetd::policy::firewall::instance_addresses(fw),
        [ip("10.0.1.5"), ip("10.0.1.6")]
    );
    assert_eq!(vnetd::policy::firewall::dnat_source(fw), ip("10.0.1.5"));
    let port = snap.port_by_name("hub-fw").unwrap();
    let addresses: Vec<IpAddr> = snap.plan.ports[port]
        .ip_configurations
        .iter()
        .map(|c| c.address)
        .collect();
    assert_eq!(addresses, [ip("10.0.1.4"), ip("10.0.1.5"), ip("10.0.1.6")]);
    for address in ["10.0.1.4", "10.0.1.5", "10.0.1.6"] {
        assert!(snap.nics[port].owns(ip(address)), "{address}");
    }
    assert!(!snap.nics[port].owns(ip("10.0.1.7")));
}

#[test]
fn trace_shows_a_dnat_connection_arriving_from_the_first_instance() {
    let snap = internet_edge();
    let query = TraceQuery {
        from: Endpoint::Internet(Some(0)),
        to: ip("198.51.100.20"),
        protocol: ExpectedProtocol::Tcp,
        port: Some(443),
    };
    let answer = trace(&snap, &query).unwrap();
    assert_eq!(answer.delivered_to.as_deref(), Some("vm2"), "{answer:#?}");
    let from_firewall = answer
        .hops
        .iter()
        .find(|h| h.nic == "hub-fw")
        .expect("a hop from the firewall");
    assert_eq!(
        (
            from_firewall.source.as_str(),
            from_firewall.destination.as_str()
        ),
        ("10.0.1.5", "10.2.1.4"),
        "{answer:#?}"
    );
    // vm2's reply goes back to the instance address, which the fabric
    // delivers to the firewall, which sends it on to the Internet.
    let reply = answer.reply.as_ref().expect("a reply");
    assert_eq!(reply.hops[0].nic, "vm2", "{reply:#?}");
    assert_eq!(reply.hops[0].destination, "10.0.1.5", "{reply:#?}");
    assert_eq!(reply.verdict, "Allow", "{reply:#?}");
}
