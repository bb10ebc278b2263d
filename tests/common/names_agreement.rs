//! Live equals offline for names: from every NIC of a running lab, every
//! name the lab knows (each VM name of the NIC's VNet, every record set of
//! every Private DNS zone under its own type and A, each Private Link
//! resource's public and `privatelink` names, and a name nobody holds) is
//! asked for real from the NIC's namespace (`vnetd resolve` against the
//! lab), and the reply must be the answer `vnetd resolve --config` gives
//! from the same file: the same status and the same records, TTLs
//! included. Questions Azure DNS forwards, and NICs that ask custom
//! servers, have no offline answer and are left out.

use super::Lab;
use vnetd::daemon::answering::live::resolve_live;
use vnetd::diagnostics::names::{render_resolution, resolve};
use vnetd::names::QueryType;
use vnetd::snapshot::Snapshot;

/// Every (name, type) the lab's names hold, and one missing name.
fn questions(snap: &Snapshot) -> Vec<(String, QueryType)> {
    let t = &snap.topology;
    let mut out = Vec::new();
    for nic in t.nics.iter() {
        out.push((format!("{}.internal.cloudapp.net", nic.name), QueryType::A));
    }
    for vm in t.virtual_machines.iter() {
        out.push((format!("{}.internal.cloudapp.net", vm.name), QueryType::A));
    }
    for zone in t.private_dns_zones.iter() {
        for set in &zone.records {
            let name = match set.name.as_str() {
                "@" => zone.name.clone(),
                owner => format!("{owner}.{}", zone.name),
            };
            let own = vnetd::names::query_type(set.record_type);
            out.push((name.clone(), own));
            if own != QueryType::A {
                out.push((name, QueryType::A));
            }
        }
    }
    for pe in t.private_endpoints.iter() {
        out.push((pe.target.public_name(), QueryType::A));
        out.push((pe.target.privatelink_name(), QueryType::A));
    }
    out.push(("nobody-holds-this.example.com".to_string(), QueryType::A));
    out.sort();
    out.dedup();
    out
}

fn status_and_answers(json: &str) -> (serde_json::Value, serde_json::Value) {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    (v["status"].clone(), v["answers"].clone())
}

/// Asks every question from every local NIC, live and offline; returns
/// how many were compared (at least one, or the lab has no names).
pub fn assert_names_live_equal_offline(lab: &Lab) -> usize {
    let daemon = lab.daemon();
    let snap = daemon.snapshot();
    let questions = questions(&snap);
    let mut compared = 0;
    for (n, nic) in snap.topology.nics.iter_enumerated() {
        if !snap.plan.is_local(vnetd::plan::PortIdx::of_nic(n)) {
            continue;
        }
        for (name, query_type) in &questions {
            let offline = resolve(&snap, &nic.name, name, *query_type).unwrap();
            if !offline.decided() {
                continue;
            }
            let live = resolve_live(daemon, &nic.name, name, *query_type).unwrap();
            assert!(live.decided(), "{} asking {name}: {live:?}", nic.name);
            let offline = render_resolution(&offline, true).unwrap();
            let live = render_resolution(&live, true).unwrap();
            assert_eq!(
                status_and_answers(&live),
                status_and_answers(&offline),
                "{} asking {name} {query_type}: live\n{live}\noffline\n{offline}",
                nic.name
            );
            compared += 1;
        }
    }
    assert!(compared > 0, "no name was compared");
    compared
}
