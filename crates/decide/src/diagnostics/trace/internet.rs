//! The Internet edge and Azure Firewall's translations in a trace: what a
//! hop shows of the way out and of a public destination, and the
//! firewall's DNAT and SNAT, applied to the traced packet as the
//! firewall's kernel applies them.

use super::answer::TraceHop;
use crate::dataplane::nat::{translate, Rewrite};
use crate::dataplane::{PacketView, Verdict};
use crate::plan::PortIdx;
use crate::policy::firewall;
use crate::snapshot::edge::EgressHop;
use crate::snapshot::{FrontendIdx, Snapshot};
use crate::topology::AzureFirewall;
use std::net::IpAddr;

/// What a hop shows of the Internet edge: for a packet leaving for the
/// Internet, its way out and public address; for a packet from the
/// Internet, what its public destination stands for (the route of the
/// Internet's placeholder subnet means nothing there).
pub(super) fn edge_details(
    snap: &Snapshot,
    ingress: PortIdx,
    view: &PacketView,
    verdict: &Verdict,
    hop: &mut TraceHop,
) {
    use crate::snapshot::edge::PublicTarget;
    if snap.nics[ingress].kind.is_internet() {
        hop.subnet = "the Internet".to_string();
        hop.route = None;
        hop.public_address = Some(match snap.edge.public.get(&view.key.dst) {
            Some(PublicTarget::Nic { port, .. }) => {
                format!("public IP of {}", snap.plan.ports[*port].name)
            }
            Some(PublicTarget::NatGateway(g)) => {
                let gateway = snap.edge.nat_gateways[*g as usize].gateway;
                format!(
                    "NAT gateway {}",
                    snap.topology.edge.nat_gateways[gateway].name
                )
            }
            Some(PublicTarget::DefaultOutbound(port)) => format!(
                "default outbound address of {}",
                snap.plan.ports[*port].name
            ),
            Some(PublicTarget::Firewall(port)) => {
                format!("public IP of {}", snap.plan.ports[*port].name)
            }
            Some(PublicTarget::Frontend(f)) => {
                let (lb, frontend) = frontend_names(snap, *f);
                format!("frontend {frontend} of load balancer {lb}")
            }
            None => "no public address of the lab".to_string(),
        });
        return;
    }
    if let Verdict::Deliver(nic) = *verdict {
        if snap.nics[nic].kind.is_internet() && through_service_endpoint(hop) {
            hop.egress = Some(format!("service endpoint, as {}", view.key.src));
        }
        return;
    }
    let Verdict::Translate {
        nic,
        rewrite: Rewrite::Source { address, .. },
    } = *verdict
    else {
        return;
    };
    if !snap.nics[nic].kind.is_internet() {
        return;
    }
    // Named by the address the packet got, as the flow table gave it: a
    // reply leaves from the address its request came in by, whatever way
    // out the NIC's new flows take.
    let method = match snap.edge.public.get(&address) {
        // A backend's reply, translated back to its public frontend.
        Some(PublicTarget::Frontend(f)) => {
            let (lb, frontend) = frontend_names(snap, *f);
            format!("LoadBalancer {lb} (frontend {frontend})")
        }
        Some(PublicTarget::Nic { .. }) => EgressHop::PublicIp(address).describe(snap),
        _ => snap.nics[ingress].egress.describe(snap),
    };
    hop.egress = Some(format!("{method}, as {address}"));
}

/// The edge of a flow delivered untranslated to the Internet (`to`) by a
/// service endpoint's route: its reply is the flow's own, to the private
/// source.
pub(super) fn untranslated_edge(
    snap: &Snapshot,
    hop: &TraceHop,
    to: PortIdx,
    view: &PacketView,
) -> Option<(IpAddr, IpAddr)> {
    (snap.nics[to].kind.is_internet() && through_service_endpoint(hop))
        .then_some((view.key.src, view.key.src))
}

/// How the PaaS resource whose public face `packet` reached on the
/// Internet (`received`) judges it, from the source it arrives with: the
/// deciding rule, and the service's status when it refuses.
pub(super) fn service_rule(snap: &Snapshot, received: PortIdx, packet: &[u8]) -> Option<String> {
    use crate::policy::service_access::{judge, refusal, Arrival};
    if !snap.nics[received].kind.is_internet() {
        return None;
    }
    let key = PacketView::parse(packet).ok()?.key;
    let topo = &snap.topology;
    let (r, resource) = (topo.paas_resources.iter_enumerated())
        .find(|(_, r)| IpAddr::V4(r.public_address) == key.dst)?;
    let judged = judge(
        topo,
        resource.kind,
        Some(r),
        Arrival::PublicFace { source: key.src },
    );
    let rule = judged.rule.describe(topo);
    Some(match judged.allowed {
        true => format!("{} allows {}: {rule}", resource.name, key.src),
        false => {
            let (status, _) = refusal(resource.kind, &resource.name, key.src, &judged.rule);
            format!("{} refuses {} ({status}): {rule}", resource.name, key.src)
        }
    })
}

/// Whether the hop's deciding route, as the decision reported it, is a
/// service endpoint's row (so the packet leaves with its private source).
fn through_service_endpoint(hop: &TraceHop) -> bool {
    let endpoint = crate::topology::NextHopType::VirtualNetworkServiceEndpoint.as_str();
    hop.route
        .as_ref()
        .is_some_and(|r| r.next_hop_type == endpoint)
}

/// The names of frontend `f`'s load balancer and of the frontend.
fn frontend_names(snap: &Snapshot, f: FrontendIdx) -> (&str, &str) {
    let fe = snap.frontend(f);
    let lb = &snap.topology.load_balancers[fe.load_balancer];
    (&lb.name, &lb.frontends[fe.frontend].name)
}

/// Applies the DNAT rule of the Azure Firewall `port` stands for that
/// matches `packet` (its public address, protocol and port), as the
/// firewall's kernel does: the destination becomes the rule's translated
/// address and port, the source the firewall's first instance address
/// ([`firewall::dnat_source`]). The source and destination the packet
/// had.
pub(super) fn firewall_dnat(
    snap: &Snapshot,
    port: PortIdx,
    packet: &mut [u8],
) -> Option<(IpAddr, IpAddr)> {
    let f = snap.plan.ports[port].kind.firewall()?;
    let fw = &snap.topology.firewalls[f];
    let rules = snap.topology.edge.dnat_rules.get(&fw.policy?)?;
    let view = PacketView::parse(packet).ok()?;
    let key = view.key;
    let owned = snap.topology.edge.firewall_addresses(f);
    let rule = rules.iter().find(|r| {
        owned.contains(&r.destination)
            && r.destination == key.dst
            && key.dst_port == Some(r.destination_port)
            && r.protocols.iter().any(|p| p.matches(key.proto))
    })?;
    let to = Rewrite::Destination {
        address: rule.translated_address,
        port: rule.translated_port,
    };
    translate(packet, to, false).ok()?;
    let rewrite = Rewrite::Source {
        address: firewall::dnat_source(fw),
        port: key.src_port.unwrap_or(0),
    };
    translate(packet, rewrite, false).ok()?;
    Some((key.src, key.dst))
}

/// Translates `packet`'s source to the address of the Azure Firewall
/// `port` stands for, when the firewall translates towards its
/// destination (see [`crate::policy::firewall::translates_towards`], what
/// the firewall's kernel does); the source it had.
pub(super) fn firewall_translation(
    snap: &Snapshot,
    port: PortIdx,
    packet: &mut [u8],
) -> Option<IpAddr> {
    let fw = &snap.topology.firewalls[snap.plan.ports[port].kind.firewall()?];
    let key = PacketView::parse(packet).ok()?.key;
    if !firewall::translates_towards(&snap.topology, fw, key.dst) {
        return None;
    }
    from_firewall(fw, key.src_port, packet)?;
    Some(key.src)
}

/// Makes `packet`'s source the private address of the firewall `fw`, its
/// port (`src_port`) kept, as the firewall's kernel does.
fn from_firewall(fw: &AzureFirewall, src_port: Option<u16>, packet: &mut [u8]) -> Option<()> {
    let rewrite = Rewrite::Source {
        address: fw.private_ip,
        port: src_port.unwrap_or(0),
    };
    translate(packet, rewrite, false).ok()
}
