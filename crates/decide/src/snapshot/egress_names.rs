//! How `next-hop` and `trace` name a port's way out to the Internet: the
//! method with the NAT gateway or load balancer it goes through, read from
//! a snapshot's edge tables and topology. Kept out of [`super::edge`]: the
//! snapshot holds the edge's tables, so the edge's file does not read the
//! snapshot.

use super::edge::EgressHop;
use super::tables::Snapshot;
use crate::topology::LbOutbound;

impl EgressHop {
    /// The method with what it goes through, as `trace` and `next-hop`
    /// name it: `NatGateway hub-nat`, `LoadBalancer web-lb (outbound rule
    /// web-out)`, `PublicIp`.
    pub fn describe(self, snap: &Snapshot) -> String {
        let topo = &snap.topology;
        match self {
            EgressHop::NatGateway(g) => {
                let gateway = snap.edge.nat_gateways[g as usize].gateway;
                format!("NatGateway {}", topo.edge.nat_gateways[gateway].name)
            }
            EgressHop::LoadBalancer { outbound, .. } => {
                let way = &snap.edge.outbound[outbound as usize];
                let lb = &topo.load_balancers[way.load_balancer];
                let kind = match way.way {
                    LbOutbound::Rule(_) => "outbound rule",
                    LbOutbound::Implicit(_) => "load-balancing rule",
                };
                let name = lb.outbound_way(way.way).name;
                format!("LoadBalancer {} ({kind} {name})", lb.name)
            }
            other => other.method().to_string(),
        }
    }
}
