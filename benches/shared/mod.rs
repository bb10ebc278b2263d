//! What the decision's benchmarks share: their packets and the hybrid
//! lab with its VPN gateway's learned route.

use etherparse::PacketBuilder;
use vnetd::snapshot::Snapshot;

/// A TCP segment of 1,400 bytes from `src:40000` to `dst:dport`.
pub fn tcp(src: [u8; 4], dst: [u8; 4], dport: u16) -> Vec<u8> {
    tcp_ports(src, dst, 40000, dport)
}

/// A TCP segment of 1,400 bytes from `src:sport` to `dst:dport`.
pub fn tcp_ports(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .tcp(sport, dport, 1, 64000)
        .write(&mut out, &[0u8; 1400])
        .unwrap();
    out
}

/// `config/hybrid.yaml` compiled with the route its branch announces to
/// the hub's VPN gateway (192.168.0.0/16), as BGP would have learned it.
pub fn hybrid_snapshot() -> Snapshot {
    use vnetd::policy::gateways::{BgpOrigin, LearnedRoute, LearnedRoutes};
    let text = include_str!("../../config/hybrid.yaml");
    let topology = vnetd::topology::parse_str("hybrid.yaml", text)
        .unwrap()
        .topology;
    let peer = "192.168.255.1".parse().unwrap();
    let mut learned = LearnedRoutes::default();
    learned.gateways.insert(
        "hub-vpngw".into(),
        vec![vec![LearnedRoute {
            prefix: "192.168.0.0/16".parse().unwrap(),
            peer,
            next_hop: peer,
            as_path: vec![65050],
            origin: BgpOrigin::Igp,
        }]],
    );
    Snapshot::compile_learned(topology, learned, 1)
}
